/*
 * measures.c -- measures with thresholds, alerts, and reading any table of
 * the registry back row by row.
 */
#include "reg_impl.h"

#include <stdio.h>
#include <string.h>

void rp_measure_init(rp_measure *m) {
  memset(m, 0, sizeof *m);
  m->lo = m->hi = m->from = m->to = RP_NAN_;
  m->threshold = RP_NAN_;
  m->direction = RP_ABOVE;
}

static int run_exists(rp_registry *r, int64_t run, rp_err *err) {
  if (run <= 0) return RP_OK;
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT 1 FROM runs WHERE id = ?1", "i", run);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW
             ? RP_OK
             : rp_errf(err, RP_EINVAL, "registry %s: no run %lld", r->path, (long long)run);
}

int rp_registry_measure(rp_registry *r, int64_t run, const rp_measure *m, int *crossed,
                        rp_err *err) {
  if (crossed) *crossed = 0;
  if (rp_reg_writable(r, "record a measure", err)) return err->status;
  if (!m || !m->name || !*m->name) return rp_errf(err, RP_EINVAL, "a measure needs a name");
  if (isnan(m->value) || isinf(m->value))
    return rp_errf(err, RP_EINVAL, "measure '%s': value must be a finite number", m->name);
  if (m->has_threshold && isnan(m->threshold))
    return rp_errf(err, RP_EINVAL, "measure '%s': threshold must be a number", m->name);
  if (m->direction != RP_ABOVE && m->direction != RP_BELOW)
    return rp_errf(err, RP_EINVAL, "measure '%s': direction must be above or below", m->name);
  if (run_exists(r, run, err)) return err->status;
  int c = m->has_threshold &&
          (m->direction == RP_ABOVE ? m->value > m->threshold : m->value < m->threshold);
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  char types[] = "itddtiddddtittd";
  if (run <= 0) types[0] = 'n';
  if (m->version <= 0) types[11] = 'n';
  int rc = rp_reg_run(
      r,
      rp_reg_prep(r, err,
                  "INSERT INTO measures(run, name, value, threshold, direction, crossed, lo, hi, "
                  "window_from, window_to, model, version, label, info, t) VALUES(?1, ?2, ?3, ?4, "
                  "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                  types, run, m->name, m->value, m->has_threshold ? m->threshold : RP_NAN_,
                  m->direction == RP_ABOVE ? "above" : "below", (int64_t)c, m->lo, m->hi, m->from,
                  m->to, m->model, m->version, m->label, m->info, now),
      err);
  if (!rc && crossed) *crossed = c;
  return rc;
}

int rp_registry_alert(rp_registry *r, int64_t run, const char *name, const char *message,
                      double value, double threshold, rp_err *err) {
  if (rp_reg_writable(r, "record an alert", err)) return err->status;
  if (!name || !*name) return rp_errf(err, RP_EINVAL, "an alert needs a name");
  if (run_exists(r, run, err)) return err->status;
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  return rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "INSERT INTO alerts(run, name, message, value, threshold, t) "
                                "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                run > 0 ? "ittddd" : "nttddd", run, name, message ? message : name,
                                value, threshold, now),
                    err);
}

/* ---- reading -------------------------------------------------------------------------- */
void rp_list_filter_init(rp_list_filter *f) {
  memset(f, 0, sizeof *f);
  f->since = RP_NAN_;
}

typedef struct {
  const char *what;
  const char *sql; /* ?1 name, ?2 job, ?3 status, ?4 run, ?5 since, ?6 limit */
} listing;

static const listing LISTS[] = {
    {"runs",
     "SELECT id, pipeline, job, status, message, started, ended, duration, seed, config, host, "
     "pid, slot FROM runs WHERE (?1 IS NULL OR pipeline = ?1) AND (?2 IS NULL OR job = ?2) AND "
     "(?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id = ?4) AND (?5 IS NULL OR started >= ?5) "
     "ORDER BY id DESC LIMIT ?6"},
    {"inputs",
     "SELECT rowid AS id, run, path, size, fingerprint FROM inputs WHERE (?4 IS NULL OR run = ?4) "
     "ORDER BY rowid DESC LIMIT ?6"},
    {"metrics",
     "SELECT id, run, name, value, lo, hi, model, version, t FROM metrics WHERE (?1 IS NULL OR "
     "name = ?1) AND (?4 IS NULL OR run = ?4) AND (?5 IS NULL OR t >= ?5) ORDER BY id DESC "
     "LIMIT ?6"},
    {"logs",
     "SELECT id, run, t, level, message FROM logs WHERE (?4 IS NULL OR run = ?4) AND (?5 IS NULL "
     "OR t >= ?5) ORDER BY id DESC LIMIT ?6"},
    {"models",
     "SELECT m.id, m.name, m.version, m.file, m.size, m.fingerprint, m.created, m.run, m.training, "
     "m.report, m.options, (l.version = m.version) AS live FROM models m LEFT JOIN live l ON "
     "l.name = m.name WHERE (?1 IS NULL OR m.name = ?1) AND (?4 IS NULL OR m.run = ?4) AND (?5 IS "
     "NULL OR m.created >= ?5) ORDER BY m.id DESC LIMIT ?6"},
    {"model_metrics",
     "SELECT m.name, m.version, x.metric, x.value, x.lo, x.hi FROM model_metrics x JOIN models m "
     "ON m.id = x.model WHERE (?1 IS NULL OR m.name = ?1) ORDER BY m.id DESC, x.metric LIMIT ?6"},
    {"live",
     "SELECT name, version, since, promotion FROM live WHERE (?1 IS NULL OR name = ?1) ORDER BY "
     "name LIMIT ?6"},
    {"promotions",
     "SELECT id, name, action, version, previous, reason, metric, diff, lo, hi, candidate_report, "
     "live_report, run, t FROM promotions WHERE (?1 IS NULL OR name = ?1) AND (?4 IS NULL OR run "
     "= ?4) AND (?5 IS NULL OR t >= ?5) ORDER BY id DESC LIMIT ?6"},
    {"measures",
     "SELECT id, run, name, value, threshold, direction, crossed, lo, hi, window_from, window_to, "
     "model, version, label, info, t FROM measures WHERE (?1 IS NULL OR name = ?1) AND (?4 IS "
     "NULL OR run = ?4) AND (?5 IS NULL OR t >= ?5) ORDER BY id DESC LIMIT ?6"},
    {"alerts",
     "SELECT id, run, name, message, value, threshold, t FROM alerts WHERE (?1 IS NULL OR name = "
     "?1) AND (?4 IS NULL OR run = ?4) AND (?5 IS NULL OR t >= ?5) ORDER BY id DESC LIMIT ?6"},
    {"jobs",
     "SELECT name, slot, done, attempts, retry_at, last_run FROM jobs WHERE (?1 IS NULL OR name = "
     "?1) ORDER BY name LIMIT ?6"},
    {NULL, NULL}};

int rp_registry_list(rp_registry *r, const char *what, const rp_list_filter *f, rp_row_fn fn,
                     void *ud, rp_err *err) {
  rp_list_filter none;
  if (!f) rp_list_filter_init(&none), f = &none;
  const listing *l = LISTS;
  while (l->what && (!what || strcmp(l->what, what) != 0)) l++;
  if (!l->what) {
    char known[256] = "";
    for (const listing *k = LISTS; k->what; k++)
      snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k == LISTS ? "" : ", ",
               k->what);
    return rp_errf(err, RP_EINVAL, "registry: no table '%s' (known: %s)", what ? what : "", known);
  }
  if (f->limit < 0)
    return rp_errf(err, RP_EINVAL, "limit must be >= 0, got %lld", (long long)f->limit);
  sqlite3_stmt *st = rp_reg_prep(r, err, l->sql, "tttidi", f->name, f->job, f->status, f->run,
                                 f->since, f->limit > 0 ? f->limit : (int64_t)-1);
  if (!st) return err->status;
  if (f->run <= 0) sqlite3_bind_null(st, 4);
  int ncol = sqlite3_column_count(st);
  const char *names[32];
  rp_value vals[32];
  if (ncol > 32) ncol = 32;
  for (int i = 0; i < ncol; i++) names[i] = sqlite3_column_name(st, i);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < ncol; i++) {
      rp_value *v = &vals[i];
      memset(v, 0, sizeof *v);
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
          v->type = RP_VINT, v->i = sqlite3_column_int64(st, i);
          break;
        case SQLITE_FLOAT:
          v->type = RP_VREAL, v->d = sqlite3_column_double(st, i);
          break;
        case SQLITE_NULL:
          v->type = RP_VNULL;
          break;
        default:
          v->type = RP_VTEXT, v->s = (const char *)sqlite3_column_text(st, i);
          if (!v->s) v->type = RP_VNULL;
      }
    }
    if (fn(ud, ncol, names, vals)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  int out = rc == SQLITE_DONE ? RP_OK : rp_reg_error(r, err, "reading");
  sqlite3_finalize(st);
  return out;
}
