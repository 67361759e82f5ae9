/*
 * dashboard.c -- the registry as one self-contained HTML page: inline CSS
 * and SVG, no script, nothing fetched, so it opens from a file, a mail or
 * the server's /dashboard alike.
 *
 * Sections (each a <section id=...> whose elements carry data-* attributes
 * with the registry's values, which is what the Chromium test reads):
 *   summary     runs by status, models, live versions, alerts
 *   live        the live version of each model name and its metrics
 *   versions    per model name, the gate metric of every version over time
 *               with its interval; live, promoted and refused versions
 *   promotions  every promotion, refusal and rollback with its reason
 *   measures    each measure over time against its threshold
 *   serving     measures about a model version or a reason (click-through,
 *               conversion): the latest value per version and reason
 *   alerts      recent alerts;  failed  recent failed runs;  runs  recent runs
 * Every table and chart is capped (max_rows rows, 400 points a chart), so a
 * registry of 10,000 runs renders as fast as one of ten.
 */
#include "reg_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "iotext.h"

/* appends a string literal */
#define LIT(b, s) rp_buf_add((b), (s), sizeof(s) - 1)

#define MAX_POINTS 400
#define W 760
#define H 230
#define ML 64
#define MR 16
#define MT 14
#define MB 34

void rp_dashboard_opts_init(rp_dashboard_opts *o) {
  memset(o, 0, sizeof *o);
  o->title = "recpipe registry";
  o->max_rows = 50;
  o->now = RP_NAN_;
}

/* ---- text ----------------------------------------------------------------------- */
static void esc(rp_buf *b, const char *s) {
  if (!s) return;
  for (const char *p = s; *p; p++) {
    switch (*p) {
      case '&':
        LIT(b, "&amp;");
        break;
      case '<':
        LIT(b, "&lt;");
        break;
      case '>':
        LIT(b, "&gt;");
        break;
      case '"':
        LIT(b, "&quot;");
        break;
      case '\'':
        LIT(b, "&#39;");
        break;
      default:
        rp_buf_add(b, p, 1);
    }
  }
}

/* at most n bytes of s, escaped, with an ellipsis when cut (UTF-8 safe) */
static void esc_cut(rp_buf *b, const char *s, size_t n) {
  if (!s) return;
  size_t len = strlen(s);
  if (len <= n) return esc(b, s);
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  char tmp[1024];
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  esc(b, tmp);
  rp_buf_add(b, "…", strlen("…"));
}

static void fmt_time(double t, char *buf, size_t n, int date_only) {
  if (isnan(t)) {
    snprintf(buf, n, "–");
    return;
  }
  char iso[40];
  rp_format_iso8601((int64_t)floor(t), iso, sizeof iso);
  if (date_only)
    snprintf(buf, n, "%.10s", iso);
  else
    snprintf(buf, n, "%.10s %.5s", iso, iso + 11);
}

static void fmt_num(double v, char *buf, size_t n) {
  if (isnan(v))
    snprintf(buf, n, "–");
  else if (v == floor(v) && fabs(v) < 1e12)
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%.4g", v);
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return s ? s : "";
}

/* ---- charts ------------------------------------------------------------------------ */
typedef struct pt {
  double x, y, lo, hi;
  int cls; /* index into the class names of the chart */
  char tip[400];
  char data[160]; /* extra data-* attributes */
} pt;

static void nice_range(double *lo, double *hi) {
  if (*lo == *hi) {
    double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
    *lo -= d, *hi += d;
  }
  double pad = (*hi - *lo) * 0.08;
  *lo -= pad, *hi += pad;
}

static double tick_step(double span, int want) {
  double raw = span / want, mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* A chart of points p[0..n) over time with optional interval bars, a
 * threshold line and a connecting line; classes name each point's CSS
 * class.  id is the chart's data-chart attribute. */
static void chart(rp_buf *b, const char *id, const char *ylabel, const pt *p, int n,
                  double threshold, int line, const char *const *classes, int skip) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int i = 0; i < n; i++) {
    x0 = fmin(x0, p[i].x), x1 = fmax(x1, p[i].x);
    y0 = fmin(y0, isnan(p[i].lo) ? p[i].y : p[i].lo);
    y1 = fmax(y1, isnan(p[i].hi) ? p[i].y : p[i].hi);
  }
  if (!isnan(threshold)) y0 = fmin(y0, threshold), y1 = fmax(y1, threshold);
  if (n == 0) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x0 == x1) x0 -= 43200, x1 += 43200;
  nice_range(&y0, &y1);
  double sx = (W - ML - MR) / (x1 - x0), sy = (H - MT - MB) / (y1 - y0);
#define PX(x) (ML + ((x)-x0) * sx)
#define PY(y) (H - MB - ((y)-y0) * sy)
  rp_buf_printf(b,
                "<svg class=\"chart\" data-chart=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                "height=\"%d\" role=\"img\">",
                id, W, H, W, H);
  /* axes and ticks */
  rp_buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", ML, H - MB,
                W - MR, H - MB);
  rp_buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", ML, MT, ML,
                H - MB);
  double ys = tick_step(y1 - y0, 5);
  for (double y = ceil(y0 / ys) * ys; y <= y1 + 1e-12; y += ys) {
    char t[32];
    fmt_num(fabs(y) < ys * 1e-6 ? 0 : y, t, sizeof t);
    rp_buf_printf(b,
                  "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/><text "
                  "class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                  ML, PY(y), W - MR, PY(y), ML - 4, PY(y) + 4, t);
  }
  double xs = tick_step((x1 - x0) / 86400, 6) * 86400;
  if (xs < 86400) xs = 86400;
  for (double x = ceil(x0 / xs) * xs; x <= x1; x += xs) {
    char t[32];
    fmt_time(x, t, sizeof t, 1);
    rp_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                  PX(x), H - MB + 16, t);
  }
  rp_buf_printf(b,
                "<text class=\"label\" x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
                "text-anchor=\"middle\">",
                (H - MB + MT) / 2, (H - MB + MT) / 2);
  esc(b, ylabel);
  LIT(b, "</text>");
  if (!isnan(threshold)) {
    char t[32];
    fmt_num(threshold, t, sizeof t);
    rp_buf_printf(b,
                  "<line class=\"threshold\" data-threshold=\"%.17g\" x1=\"%d\" y1=\"%.1f\" "
                  "x2=\"%d\" y2=\"%.1f\"/><text class=\"tick threshold-label\" x=\"%d\" "
                  "y=\"%.1f\" text-anchor=\"end\">threshold %s</text>",
                  threshold, ML, PY(threshold), W - MR, PY(threshold), W - MR, PY(threshold) - 4,
                  t);
  }
  if (line && n > 1) {
    LIT(b, "<polyline class=\"series\" points=\"");
    for (int i = 0; i < n; i++)
      if (p[i].cls != skip) rp_buf_printf(b, "%.1f,%.1f ", PX(p[i].x), PY(p[i].y));
    LIT(b, "\"/>");
  }
  for (int i = 0; i < n; i++) {
    if (!isnan(p[i].lo) && !isnan(p[i].hi))
      rp_buf_printf(b, "<line class=\"interval\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                    PX(p[i].x), PY(p[i].lo), PX(p[i].x), PY(p[i].hi));
    rp_buf_printf(b,
                  "<circle class=\"point %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" data-value=\"%.17g\" "
                  "data-t=\"%.0f\"%s%s><title>",
                  classes[p[i].cls], PX(p[i].x), PY(p[i].y), p[i].y, p[i].x,
                  p[i].data[0] ? " " : "", p[i].data);
    esc(b, p[i].tip);
    LIT(b, "</title></circle>");
  }
  LIT(b, "</svg>\n");
#undef PX
#undef PY
}

/* ---- sections ----------------------------------------------------------------------- */
static const char *CSS =
    "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;"
    "max-width:1100px;color:#222;padding:0 16px}h1{font-size:22px;margin:0 0 4px}"
    "h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "h3{font-size:14px;margin:14px 0 4px}.muted{color:#777}"
    "table{border-collapse:collapse;margin:6px 0;font-size:13px}"
    "th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;"
    "padding:8px 14px;min-width:120px}.card b{font-size:20px;display:block}"
    "svg.chart{display:block;margin:4px 0 10px;max-width:100%;height:auto}"
    ".axis{stroke:#888}.grid{stroke:#eee}.tick{font-size:11px;fill:#666}.label{font-size:11px;"
    "fill:#444}.series{fill:none;stroke:#1f77b4;stroke-width:1.5}.interval{stroke:#555;"
    "stroke-width:1.2}.threshold{stroke:#d62728;stroke-dasharray:5 4}.threshold-label{fill:"
    "#d62728}.point{fill:#1f77b4}.point.live{fill:#2ca02c;stroke:#000}.point.promoted{fill:"
    "#2ca02c}.point.refused{fill:#d62728}.point.registered{fill:#aaa}.point.crossed{fill:"
    "#d62728}.point.ok{fill:#1f77b4}.bad{color:#b00}.good{color:#070}"
    ".legend span{margin-right:14px;font-size:12px}.dot{display:inline-block;width:9px;"
    "height:9px;border-radius:50%;margin-right:4px}pre{white-space:pre-wrap;margin:0;"
    "font-size:12px;max-width:640px}.grid{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(500px,1fr));gap:0 18px}";

static int summary(rp_registry *r, rp_buf *b, rp_err *err) {
  int64_t ok = 0, failed = 0, running = 0, models = 0, names = 0, alerts = 0, measures = 0;
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT status, count(*) FROM runs GROUP BY status", NULL);
  if (!st) return err->status;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *s = col_text(st, 0);
    int64_t c = sqlite3_column_int64(st, 1);
    if (strcmp(s, "ok") == 0) ok = c;
    if (strcmp(s, "failed") == 0) failed = c;
    if (strcmp(s, "running") == 0) running = c;
  }
  sqlite3_finalize(st);
  st = rp_reg_prep(r, err,
                   "SELECT (SELECT count(*) FROM models), (SELECT count(DISTINCT name) FROM "
                   "models), (SELECT count(*) FROM alerts), (SELECT count(*) FROM measures)",
                   NULL);
  if (!st) return err->status;
  if (sqlite3_step(st) == SQLITE_ROW) {
    models = sqlite3_column_int64(st, 0);
    names = sqlite3_column_int64(st, 1);
    alerts = sqlite3_column_int64(st, 2);
    measures = sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  rp_buf_printf(b,
                "<section id=\"summary\" data-runs-ok=\"%lld\" data-runs-failed=\"%lld\" "
                "data-runs-running=\"%lld\" data-models=\"%lld\" data-alerts=\"%lld\" "
                "data-measures=\"%lld\"><div class=\"cards\">"
                "<div class=\"card\"><b>%lld</b>runs ok</div>"
                "<div class=\"card\"><b class=\"%s\">%lld</b>runs failed</div>"
                "<div class=\"card\"><b>%lld</b>running</div>"
                "<div class=\"card\"><b>%lld</b>model versions (%lld names)</div>"
                "<div class=\"card\"><b class=\"%s\">%lld</b>alerts</div>"
                "<div class=\"card\"><b>%lld</b>measures</div></div></section>\n",
                (long long)ok, (long long)failed, (long long)running, (long long)models,
                (long long)alerts, (long long)measures, (long long)ok, failed ? "bad" : "",
                (long long)failed, (long long)running, (long long)models, (long long)names,
                alerts ? "bad" : "", (long long)alerts, (long long)measures);
  return RP_OK;
}

/* the metrics recorded for one model version, as "ndcg 0.2477 [0.24, 0.25]; ..." */
static void version_metrics(rp_registry *r, int64_t model, rp_buf *b) {
  sqlite3_stmt *st = rp_reg_prep(
      r, NULL, "SELECT metric, value, lo, hi FROM model_metrics WHERE model = ?1 ORDER BY metric",
      "i", model);
  if (!st) return;
  int first = 1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char v[32], lo[32], hi[32];
    fmt_num(rp_reg_col_double(st, 1), v, sizeof v);
    rp_buf_printf(b, "%s", first ? "" : "; ");
    esc(b, col_text(st, 0));
    rp_buf_printf(b, " %s", v);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
      fmt_num(rp_reg_col_double(st, 2), lo, sizeof lo);
      fmt_num(rp_reg_col_double(st, 3), hi, sizeof hi);
      rp_buf_printf(b, " [%s, %s]", lo, hi);
    }
    first = 0;
  }
  sqlite3_finalize(st);
}

static int live_section(rp_registry *r, rp_buf *b, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err,
                                 "SELECT l.name, l.version, l.since, m.id, m.file, m.created FROM "
                                 "live l JOIN models m ON m.name = l.name AND m.version = "
                                 "l.version ORDER BY l.name",
                                 NULL);
  if (!st) return err->status;
  LIT(b, "<section id=\"live\"><h2>Live models</h2>");
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!n++)
      rp_buf_printf(b,
                    "<table><thead><tr><th>model</th><th>live version</th><th>since</th>"
                    "<th>registered</th><th>metrics</th><th>file</th></tr></thead><tbody>");
    char since[40], created[40];
    fmt_time(rp_reg_col_double(st, 2), since, sizeof since, 0);
    fmt_time(rp_reg_col_double(st, 5), created, sizeof created, 0);
    LIT(b, "<tr class=\"live\" data-name=\"");
    esc(b, col_text(st, 0));
    rp_buf_printf(b, "\" data-version=\"%lld\"><td>", (long long)sqlite3_column_int64(st, 1));
    esc(b, col_text(st, 0));
    rp_buf_printf(b, "</td><td class=\"num\">%lld</td><td>%s</td><td>%s</td><td>",
                  (long long)sqlite3_column_int64(st, 1), since, created);
    version_metrics(r, sqlite3_column_int64(st, 3), b);
    LIT(b, "</td><td>");
    esc(b, col_text(st, 4));
    LIT(b, "</td></tr>");
  }
  sqlite3_finalize(st);
  rp_buf_printf(b, "%s</section>\n",
                n ? "</tbody></table>" : "<p class=\"muted\">No model is live yet.</p>");
  return RP_OK;
}

/* the metric a model name is charted by: the gate's (from the newest
 * decision), else ndcg, else the first recorded */
static void chart_metric(rp_registry *r, const char *name, char *out, size_t n) {
  out[0] = 0;
  sqlite3_stmt *st = rp_reg_prep(r, NULL,
                                 "SELECT metric FROM promotions WHERE name = ?1 AND metric IS NOT "
                                 "NULL ORDER BY id DESC LIMIT 1",
                                 "t", name);
  if (st && sqlite3_step(st) == SQLITE_ROW) snprintf(out, n, "%s", col_text(st, 0));
  if (st) sqlite3_finalize(st);
  char *at = strchr(out, '@');
  if (at) *at = 0;
  st = rp_reg_prep(r, NULL,
                   "SELECT x.metric FROM model_metrics x JOIN models m ON m.id = x.model WHERE "
                   "m.name = ?1 GROUP BY x.metric ORDER BY (x.metric = ?2) DESC, (x.metric = "
                   "'ndcg') DESC, x.metric LIMIT 1",
                   "tt", name, out);
  if (st && sqlite3_step(st) == SQLITE_ROW) snprintf(out, n, "%s", col_text(st, 0));
  if (st) sqlite3_finalize(st);
}

static int versions_section(rp_registry *r, rp_buf *b, pt *pts, rp_err *err) {
  static const char *const cls[] = {"registered", "promoted", "refused", "live"};
  LIT(b, "<section id=\"versions\"><h2>Model versions</h2>");
  rp_buf_printf(b,
                "<p class=\"legend\"><span><i class=\"dot\" style=\"background:#2ca02c;"
                "outline:1px solid #000\"></i>live</span><span><i class=\"dot\" "
                "style=\"background:#2ca02c\"></i>was promoted</span><span><i class=\"dot\" "
                "style=\"background:#d62728\"></i>refused by the gate</span><span><i "
                "class=\"dot\" style=\"background:#aaa\"></i>registered</span> (bars: "
                "intervals)</p>");
  sqlite3_stmt *names = rp_reg_prep(r, err, "SELECT DISTINCT name FROM models ORDER BY name", NULL);
  if (!names) return err->status;
  int any = 0;
  while (sqlite3_step(names) == SQLITE_ROW) {
    any = 1;
    const char *name = col_text(names, 0);
    char metric[64];
    chart_metric(r, name, metric, sizeof metric);
    sqlite3_stmt *st = rp_reg_prep(
        r, err,
        "SELECT * FROM (SELECT m.version, m.created, x.value, x.lo, x.hi, (SELECT action FROM "
        "promotions p WHERE p.name = m.name AND p.version = m.version AND p.action <> "
        "'rollback' ORDER BY p.id DESC LIMIT 1), (l.version = m.version) FROM models m LEFT "
        "JOIN model_metrics x ON x.model = m.id AND x.metric = ?2 LEFT JOIN live l ON l.name = "
        "m.name WHERE m.name = ?1 ORDER BY m.version DESC LIMIT ?3) ORDER BY version",
        "tti", name, metric, (int64_t)MAX_POINTS);
    if (!st) {
      sqlite3_finalize(names);
      return err->status;
    }
    int n = 0, nv = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      nv++;
      if (sqlite3_column_type(st, 2) == SQLITE_NULL) continue;
      pt *p = &pts[n++];
      int64_t v = sqlite3_column_int64(st, 0);
      const char *action = col_text(st, 5);
      int live = sqlite3_column_int(st, 6);
      p->x = rp_reg_col_double(st, 1);
      p->y = rp_reg_col_double(st, 2);
      p->lo = rp_reg_col_double(st, 3);
      p->hi = rp_reg_col_double(st, 4);
      p->cls = live                                                                 ? 3
               : strcmp(action, "refuse") == 0                                      ? 2
               : (strcmp(action, "promote") == 0 || strcmp(action, "initial") == 0) ? 1
                                                                                    : 0;
      char t[40];
      fmt_time(p->x, t, sizeof t, 0);
      snprintf(p->tip, sizeof p->tip, "%.64s v%lld %s: %.32s %.4f [%.4f, %.4f] (%s)", name,
               (long long)v, t, metric, p->y, p->lo, p->hi, cls[p->cls]);
      snprintf(p->data, sizeof p->data, "data-version=\"%lld\" data-status=\"%s\"", (long long)v,
               cls[p->cls]);
    }
    sqlite3_finalize(st);
    LIT(b, "<h3>");
    esc(b, name);
    rp_buf_printf(b, " <span class=\"muted\">%d versions, %s</span></h3>", nv,
                  metric[0] ? metric : "no metrics recorded");
    LIT(b, "<div class=\"model\" data-name=\"");
    esc(b, name);
    rp_buf_printf(b, "\" data-metric=\"%s\">", metric);
    if (n) chart(b, "versions", metric, pts, n, RP_NAN_, 1, cls, 2); /* the line skips refusals */
    LIT(b, "</div>");
  }
  sqlite3_finalize(names);
  rp_buf_printf(b, "%s</section>\n", any ? "" : "<p class=\"muted\">No model registered.</p>");
  return RP_OK;
}

static int promotions_section(rp_registry *r, rp_buf *b, int rows, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err,
                                 "SELECT name, action, version, previous, reason, metric, diff, "
                                 "lo, hi, t, run FROM promotions ORDER BY id DESC LIMIT ?1",
                                 "i", (int64_t)rows);
  if (!st) return err->status;
  LIT(b, "<section id=\"promotions\"><h2>Promotions and refusals</h2>");
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!n++)
      rp_buf_printf(b,
                    "<table><thead><tr><th>when</th><th>model</th><th>decision</th>"
                    "<th>version</th><th>was live</th><th>candidate − live</th><th>reason</th>"
                    "</tr></thead><tbody>");
    const char *action = col_text(st, 1);
    char t[40], d[32], lo[32], hi[32];
    fmt_time(rp_reg_col_double(st, 9), t, sizeof t, 0);
    rp_buf_printf(
        b, "<tr class=\"promotion\" data-action=\"%s\" data-version=\"%lld\"><td>%s</td><td>",
        action, (long long)sqlite3_column_int64(st, 2), t);
    esc(b, col_text(st, 0));
    rp_buf_printf(b, "</td><td class=\"%s\">%s</td><td class=\"num\">%lld</td><td class=\"num\">",
                  strcmp(action, "refuse") == 0 ? "bad" : "good", action,
                  (long long)sqlite3_column_int64(st, 2));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
      rp_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, 3));
    LIT(b, "</td><td>");
    if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
      fmt_num(rp_reg_col_double(st, 6), d, sizeof d);
      fmt_num(rp_reg_col_double(st, 7), lo, sizeof lo);
      fmt_num(rp_reg_col_double(st, 8), hi, sizeof hi);
      esc(b, col_text(st, 5));
      rp_buf_printf(b, " %s [%s, %s]", d, lo, hi);
    }
    LIT(b, "</td><td>");
    esc_cut(b, col_text(st, 4), 300);
    LIT(b, "</td></tr>");
  }
  sqlite3_finalize(st);
  rp_buf_printf(b, "%s</section>\n",
                n ? "</tbody></table>" : "<p class=\"muted\">No decisions recorded.</p>");
  return RP_OK;
}

static int measures_section(rp_registry *r, rp_buf *b, pt *pts, rp_err *err) {
  static const char *const cls[] = {"ok", "crossed"};
  LIT(b,
      "<section id=\"measures\"><h2>Measures</h2><p class=\"muted\">Those that crossed "
      "their threshold first; points over it in red.</p>");
  /* measures not about a model version or label: one chart per name */
  sqlite3_stmt *names = rp_reg_prep(r, err,
                                    "SELECT name, count(*), sum(crossed) FROM measures WHERE "
                                    "version IS NULL AND label IS NULL GROUP BY name ORDER BY "
                                    "sum(crossed) > 0 DESC, name",
                                    NULL);
  if (!names) return err->status;
  int any = 0;
  while (sqlite3_step(names) == SQLITE_ROW) {
    if (!any) LIT(b, "<div class=\"grid\">");
    any = 1;
    const char *name = col_text(names, 0);
    sqlite3_stmt *st = rp_reg_prep(
        r, err,
        "SELECT * FROM (SELECT t, value, lo, hi, threshold, crossed, window_from, window_to, id "
        "FROM measures WHERE name = ?1 AND version IS NULL AND label IS NULL ORDER BY t DESC, id "
        "DESC LIMIT ?2) ORDER BY t, id",
        "ti", name, (int64_t)MAX_POINTS);
    if (!st) {
      sqlite3_finalize(names);
      return err->status;
    }
    int n = 0;
    double threshold = RP_NAN_;
    while (sqlite3_step(st) == SQLITE_ROW) {
      pt *p = &pts[n++];
      p->x = rp_reg_col_double(st, 0);
      p->y = rp_reg_col_double(st, 1);
      p->lo = rp_reg_col_double(st, 2);
      p->hi = rp_reg_col_double(st, 3);
      double th = rp_reg_col_double(st, 4);
      if (!isnan(th)) threshold = th;
      p->cls = sqlite3_column_int(st, 5) ? 1 : 0;
      char t[40], f[40], to[40];
      fmt_time(p->x, t, sizeof t, 0);
      fmt_time(rp_reg_col_double(st, 6), f, sizeof f, 1);
      fmt_time(rp_reg_col_double(st, 7), to, sizeof to, 1);
      snprintf(p->tip, sizeof p->tip, "%.64s = %.4g at %s (window %s .. %s)%s", name, p->y, t, f,
               to, p->cls ? ": crossed the threshold" : "");
      snprintf(p->data, sizeof p->data, "data-crossed=\"%d\"", p->cls);
    }
    sqlite3_finalize(st);
    LIT(b, "<div class=\"measure\" data-name=\"");
    esc(b, name);
    rp_buf_printf(b, "\" data-count=\"%lld\" data-crossed=\"%lld\"><h3>",
                  (long long)sqlite3_column_int64(names, 1),
                  (long long)sqlite3_column_int64(names, 2));
    esc(b, name);
    rp_buf_printf(b, " <span class=\"muted\">%lld values, %lld over the threshold</span></h3>",
                  (long long)sqlite3_column_int64(names, 1),
                  (long long)sqlite3_column_int64(names, 2));
    chart(b, "measure", name, pts, n, threshold, 1, cls, -1);
    LIT(b, "</div>");
  }
  sqlite3_finalize(names);
  rp_buf_printf(b, "%s</section>\n",
                any ? "</div>" : "<p class=\"muted\">No measures recorded.</p>");
  return RP_OK;
}

/* measures about a model version or a label: the latest value of each */
static int serving_section(rp_registry *r, rp_buf *b, int rows, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(
      r, err,
      "SELECT m.name, m.model, m.version, m.label, m.value, m.lo, m.hi, m.t, m.window_from, "
      "m.window_to FROM measures m JOIN (SELECT max(id) AS id FROM measures WHERE version IS NOT "
      "NULL OR label IS NOT NULL GROUP BY name, model, version, label) k ON k.id = m.id ORDER BY "
      "m.name, m.model, m.version, m.label LIMIT ?1",
      "i", (int64_t)rows * 4);
  if (!st) return err->status;
  LIT(b, "<section id=\"serving\"><h2>By model version and reason</h2>");
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!n++)
      rp_buf_printf(b,
                    "<p class=\"muted\">The latest value of each measure recorded per model "
                    "version and reason (click-through, conversion from the serving logs)."
                    "</p><table><thead><tr><th>measure</th><th>model</th><th>version</th>"
                    "<th>reason</th><th>value</th><th>interval</th><th>window</th></tr>"
                    "</thead><tbody>");
    char v[32], lo[32], hi[32], f[40], to[40];
    fmt_num(rp_reg_col_double(st, 4), v, sizeof v);
    fmt_num(rp_reg_col_double(st, 5), lo, sizeof lo);
    fmt_num(rp_reg_col_double(st, 6), hi, sizeof hi);
    fmt_time(rp_reg_col_double(st, 8), f, sizeof f, 1);
    fmt_time(rp_reg_col_double(st, 9), to, sizeof to, 1);
    LIT(b, "<tr class=\"serving\" data-name=\"");
    esc(b, col_text(st, 0));
    rp_buf_printf(b, "\" data-version=\"%lld\" data-label=\"",
                  (long long)sqlite3_column_int64(st, 2));
    esc(b, col_text(st, 3));
    rp_buf_printf(b, "\" data-value=\"%.17g\"><td>", rp_reg_col_double(st, 4));
    esc(b, col_text(st, 0));
    LIT(b, "</td><td>");
    esc(b, col_text(st, 1));
    LIT(b, "</td><td class=\"num\">");
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
      rp_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, 2));
    LIT(b, "</td><td>");
    esc(b, col_text(st, 3));
    rp_buf_printf(b, "</td><td class=\"num\">%s</td><td>", v);
    if (sqlite3_column_type(st, 5) != SQLITE_NULL) rp_buf_printf(b, "[%s, %s]", lo, hi);
    rp_buf_printf(b, "</td><td>%s .. %s</td></tr>", f, to);
  }
  sqlite3_finalize(st);
  rp_buf_printf(b, "%s</section>\n",
                n ? "</tbody></table>"
                  : "<p class=\"muted\">No measures per model version or reason (no serving "
                    "logs analysed).</p>");
  return RP_OK;
}

static int alerts_section(rp_registry *r, rp_buf *b, int rows, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(
      r, err,
      "SELECT t, name, message, value, threshold, run FROM alerts ORDER BY id DESC LIMIT ?1", "i",
      (int64_t)rows);
  if (!st) return err->status;
  LIT(b, "<section id=\"alerts\"><h2>Recent alerts</h2>");
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!n++)
      rp_buf_printf(b,
                    "<table><thead><tr><th>when</th><th>alert</th><th>value</th>"
                    "<th>threshold</th><th>run</th><th>message</th></tr></thead><tbody>");
    char t[40], v[32], th[32];
    fmt_time(rp_reg_col_double(st, 0), t, sizeof t, 0);
    fmt_num(rp_reg_col_double(st, 3), v, sizeof v);
    fmt_num(rp_reg_col_double(st, 4), th, sizeof th);
    LIT(b, "<tr class=\"alert\" data-name=\"");
    esc(b, col_text(st, 1));
    rp_buf_printf(b, "\"><td>%s</td><td class=\"bad\">", t);
    esc(b, col_text(st, 1));
    rp_buf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">", v,
                  th);
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
      rp_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, 5));
    LIT(b, "</td><td>");
    esc_cut(b, col_text(st, 2), 300);
    LIT(b, "</td></tr>");
  }
  sqlite3_finalize(st);
  rp_buf_printf(b, "%s</section>\n", n ? "</tbody></table>" : "<p class=\"muted\">No alerts.</p>");
  return RP_OK;
}

static int runs_section(rp_registry *r, rp_buf *b, int rows, int failed_only, rp_err *err) {
  sqlite3_stmt *st =
      rp_reg_prep(r, err,
                  failed_only ? "SELECT id, pipeline, job, status, started, duration, "
                                "message FROM runs WHERE status = 'failed' ORDER BY id "
                                "DESC LIMIT ?1"
                              : "SELECT id, pipeline, job, status, started, duration, "
                                "message FROM runs ORDER BY id DESC LIMIT ?1",
                  "i", (int64_t)rows);
  if (!st) return err->status;
  if (failed_only)
    LIT(b, "<section id=\"failed\"><h2>Failed runs</h2>");
  else
    LIT(b, "<section id=\"runs\"><h2>Recent runs</h2>");
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!n++)
      rp_buf_printf(b,
                    "<table><thead><tr><th>run</th><th>pipeline</th><th>job</th>"
                    "<th>status</th><th>started</th><th>seconds</th><th>message</th></tr>"
                    "</thead><tbody>");
    const char *status = col_text(st, 3);
    char t[40], d[32];
    fmt_time(rp_reg_col_double(st, 4), t, sizeof t, 0);
    fmt_num(rp_reg_col_double(st, 5), d, sizeof d);
    rp_buf_printf(
        b, "<tr class=\"run\" data-run=\"%lld\" data-status=\"%s\"><td class=\"num\">%lld</td><td>",
        (long long)sqlite3_column_int64(st, 0), status, (long long)sqlite3_column_int64(st, 0));
    esc(b, col_text(st, 1));
    LIT(b, "</td><td>");
    esc(b, col_text(st, 2));
    rp_buf_printf(b, "</td><td class=\"%s\">%s</td><td>%s</td><td class=\"num\">%s</td><td><pre>",
                  strcmp(status, "failed") == 0 ? "bad" : "", status, t, d);
    esc_cut(b, col_text(st, 6), failed_only ? 600 : 160);
    LIT(b, "</pre></td></tr>");
  }
  sqlite3_finalize(st);
  rp_buf_printf(b, "%s</section>\n",
                n ? "</tbody></table>"
                  : (failed_only ? "<p class=\"muted\">No failed runs.</p>"
                                 : "<p class=\"muted\">No runs recorded.</p>"));
  return RP_OK;
}

int rp_dashboard_render(rp_registry *r, const rp_dashboard_opts *o, rp_buf *out, rp_err *err) {
  rp_dashboard_opts def;
  if (!o) rp_dashboard_opts_init(&def), o = &def;
  if (o->max_rows < 1)
    return rp_errf(err, RP_EINVAL, "dashboard: max_rows must be >= 1, got %d", o->max_rows);
  double now = o->now;
  if (isnan(now) && rp_registry_now(&now, err)) return err->status;
  pt *pts = rp_calloc(MAX_POINTS, sizeof *pts);
  if (!pts) return rp_enomem(err, "dashboard");
  /* one read transaction: every section sees the same registry */
  if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    rp_free(pts);
    return rp_reg_error(r, err, "reading");
  }
  char t[40];
  fmt_time(now, t, sizeof t, 0);
  LIT(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  rp_buf_printf(out,
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>");
  esc(out, o->title);
  rp_buf_printf(out, "</title><style>%s</style></head><body><h1>", CSS);
  esc(out, o->title);
  LIT(out, "</h1><p class=\"muted\">");
  esc(out, r->path);
  rp_buf_printf(out, " · generated %s UTC · schema %d</p>\n", t, RP_REGISTRY_SCHEMA);
  int rc = summary(r, out, err);
  if (!rc) rc = live_section(r, out, err);
  if (!rc) rc = versions_section(r, out, pts, err);
  if (!rc) rc = promotions_section(r, out, o->max_rows, err);
  if (!rc) rc = measures_section(r, out, pts, err);
  if (!rc) rc = serving_section(r, out, o->max_rows, err);
  if (!rc) rc = alerts_section(r, out, o->max_rows, err);
  if (!rc) rc = runs_section(r, out, o->max_rows, 1, err);
  if (!rc) rc = runs_section(r, out, o->max_rows, 0, err);
  LIT(out, "</body></html>\n");
  sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
  rp_free(pts);
  if (!rc && out->failed) rc = rp_enomem(err, "dashboard page");
  return rc;
}
