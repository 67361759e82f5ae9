/*
 * evops.c -- what one does with a log once it is read: fast row filters,
 * summary statistics, event type weights, time decay, the user x item
 * matrix, writing it back as CSV.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "events.h"
#include "iotext.h"
#include "rio.h"

/* ---- where ----------------------------------------------------------------- */
rp_events *rp_events_where(const rp_events *ev, const rp_events_filter *w, rp_err *err) {
  if ((w->has_from || w->has_to) && !ev->time)
    return rp_errf(err, RP_EINVAL, "the log has no time column to filter on"), NULL;
  if (w->event_mask && !ev->event)
    return rp_errf(err, RP_EINVAL, "the log has no event column to filter on"), NULL;
  uint8_t *keep = rp_malloc((size_t)(ev->n ? ev->n : 1));
  if (!keep) return rp_enomem(err, "where"), NULL;
  for (int64_t i = 0; i < ev->n; i++) {
    int k = 1;
    if (w->has_from) k &= ev->time[i] >= w->from;
    if (w->has_to) k &= ev->time[i] < w->to;
    if (w->event_mask) k &= w->event_mask[ev->event[i]];
    if (w->user_mask) k &= w->user_mask[ev->user[i]];
    if (w->item_mask) k &= w->item_mask[ev->item[i]];
    for (int c = 0; c < ev->ncontext; c++)
      if (w->ctx_mask[c]) k &= w->ctx_mask[c][ev->context[c][i]];
    keep[i] = (uint8_t)k;
  }
  rp_events *r = rp_events_select(ev, keep, err);
  rp_free(keep);
  return r;
}

/* ---- event type weights ------------------------------------------------------- */
int rp_typeweights_init(rp_typeweights *w, int n, const char *const *names, const float *values,
                        rp_err *err) {
  w->names = NULL;
  w->values = NULL;
  if (n < 1) return rp_errf(err, RP_EINVAL, "weights: no event type listed");
  if (!(w->names = rp_idmap_new(err))) return RP_ENOMEM;
  if (!(w->values = rp_malloc(sizeof *w->values * (size_t)n))) return rp_enomem(err, "weights");
  for (int k = 0; k < n; k++) {
    if (!isfinite(values[k]))
      return rp_errf(err, RP_EINVAL, "weights: the weight of '%.80s' is not a finite number",
                     names[k]);
    int32_t idx;
    if (rp_idmap_intern(w->names, names[k], strlen(names[k]), &idx, err)) return err->status;
    if (idx != k) return rp_errf(err, RP_EINVAL, "weights: '%.80s' is listed twice", names[k]);
    w->values[k] = values[k];
  }
  return RP_OK;
}

void rp_typeweights_free(rp_typeweights *w) {
  rp_idmap_release(w->names);
  rp_free(w->values);
  w->names = NULL;
  w->values = NULL;
}

void rp_typeweights_warn(const char *where, int64_t dropped, const char *example) {
  if (dropped > 0)
    rp_log(RP_LOG_WARN, "%s: dropped %lld row%s whose event type has no weight (e.g. '%s')", where,
           (long long)dropped, dropped == 1 ? "" : "s", example);
}

rp_events *rp_events_weight(const rp_events *ev, const rp_typeweights *w, int multiply,
                            int64_t *dropped, rp_err *err) {
  if (dropped) *dropped = 0;
  if (!ev->event)
    return rp_errf(err, RP_EINVAL,
                   "weight: the log has no event column (read it with the "
                   "'event' option)"),
           NULL;
  /* resolve each event type once, then the rows by their code */
  int32_t nt = ev->event_names->n;
  float *wt = rp_malloc(sizeof *wt * (size_t)(nt ? nt : 1));
  uint8_t *has = rp_malloc((size_t)(nt ? nt : 1));
  uint8_t *keep = rp_malloc((size_t)(ev->n ? ev->n : 1));
  rp_events *r = NULL;
  if (!wt || !has || !keep) {
    rp_enomem(err, "weight");
    goto done;
  }
  for (int32_t t = 0; t < nt; t++) {
    size_t len;
    const char *s = rp_idmap_id(ev->event_names, t, &len);
    has[t] = (uint8_t)rp_typeweights_get(w, s, len, &wt[t]);
  }
  int64_t nd = 0, first = -1;
  for (int64_t i = 0; i < ev->n; i++) {
    keep[i] = has[ev->event[i]];
    if (!keep[i] && !nd++) first = i;
  }
  if (!(r = rp_events_select(ev, keep, err))) goto done;
  for (int64_t i = 0; i < r->n; i++)
    r->value[i] = multiply ? r->value[i] * wt[r->event[i]] : wt[r->event[i]];
  if (dropped) *dropped = nd;
  if (nd) {
    char ex[64]; /* shown as read_events shows it: control bytes as '?', cut */
    size_t len, k = 0;
    const char *s = rp_idmap_id(ev->event_names, ev->event[first], &len);
    for (; k < len && k < sizeof ex - 4; k++) ex[k] = (unsigned char)s[k] < 32 ? '?' : s[k];
    if (len > k) ex[k++] = '.', ex[k++] = '.', ex[k++] = '.';
    ex[k] = 0;
    rp_typeweights_warn("weight", nd, ex);
  }
done:
  rp_free(wt);
  rp_free(has);
  rp_free(keep);
  return r;
}

/* ---- stats ------------------------------------------------------------------ */
/* quantiles of the non-zero counts among cnt[0..n) (linear interpolation
 * between order statistics, numpy's default); returns how many were
 * non-zero.  cnt is reordered. */
static int64_t quantiles(int64_t *cnt, int64_t n, double q[RP_NQUANT], double *mean) {
  static const double ps[RP_NQUANT] = {0, 0.25, 0.5, 0.75, 0.9, 0.99, 1};
  int64_t m = 0;
  double sum = 0;
  for (int64_t i = 0; i < n; i++)
    if (cnt[i] > 0) sum += (double)(cnt[m++] = cnt[i]);
  for (int k = 0; k < RP_NQUANT; k++) q[k] = 0;
  *mean = m ? sum / (double)m : 0;
  if (!m) return 0;
  qsort(cnt, (size_t)m, sizeof *cnt, rp_cmp_i64);
  for (int k = 0; k < RP_NQUANT; k++) {
    double h = (double)(m - 1) * ps[k];
    int64_t lo = (int64_t)floor(h);
    int64_t hi = lo + 1 < m ? lo + 1 : lo;
    q[k] = (double)cnt[lo] + (h - (double)lo) * (double)(cnt[hi] - cnt[lo]);
  }
  return m;
}

static int64_t *counts(const int32_t *col, int64_t n, int32_t k, rp_err *err) {
  int64_t *c = rp_calloc((size_t)(k ? k : 1), sizeof *c);
  if (!c) return rp_enomem(err, "stats"), NULL;
  for (int64_t i = 0; i < n; i++) c[col[i]]++;
  return c;
}

int rp_events_stats(const rp_events *ev, rp_events_summary *st, rp_err *err) {
  memset(st, 0, sizeof *st);
  st->events = ev->n;
  st->has_time = rp_events_time_range(ev, &st->tmin, &st->tmax);
  for (int64_t i = 0; i < ev->n; i++) st->value_sum += (double)ev->value[i];
  int64_t *cu = counts(ev->user, ev->n, ev->users->n, err);
  if (!cu) goto fail;
  st->users = quantiles(cu, ev->users->n, st->per_user, &st->per_user_mean);
  rp_free(cu);
  int64_t *ci = counts(ev->item, ev->n, ev->items->n, err);
  if (!ci) goto fail;
  st->items = quantiles(ci, ev->items->n, st->per_item, &st->per_item_mean);
  rp_free(ci);
  if (ev->event) {
    st->nevent = ev->event_names->n;
    st->event_counts = rp_calloc((size_t)(st->nevent ? st->nevent : 1), sizeof(int64_t));
    if (!st->event_counts) goto nomem;
    for (int64_t i = 0; i < ev->n; i++) st->event_counts[ev->event[i]]++;
  }
  for (int c = 0; c < ev->ncontext; c++) {
    st->nctx[c] = ev->context_dicts[c]->n;
    st->ctx_counts[c] = rp_calloc((size_t)(st->nctx[c] ? st->nctx[c] : 1), sizeof(int64_t));
    if (!st->ctx_counts[c]) goto nomem;
    for (int64_t i = 0; i < ev->n; i++) st->ctx_counts[c][ev->context[c][i]]++;
  }
  return RP_OK;
nomem:
  rp_enomem(err, "stats");
fail:
  rp_events_summary_free(st);
  return RP_ENOMEM;
}

void rp_events_summary_free(rp_events_summary *st) {
  rp_free(st->event_counts);
  for (int c = 0; c < RP_MAX_CONTEXT; c++) rp_free(st->ctx_counts[c]);
  memset(st, 0, sizeof *st);
}

/* ---- decay and the matrix ----------------------------------------------------------
 * Exponential time decay with half-life D days: an event of age a = now - t
 * seconds weighs 0.5^(a / (D * 86400)) = exp2(-a / (D * 86400)) times its
 * value, so an event one half-life old counts half.  Events after `now`
 * weigh more than 1 (the formula is not clamped: choose `now` at or after
 * the last event, which is the default). */
int rp_events_decay(const rp_events *ev, double half_life_days, int64_t now, float *out,
                    rp_err *err) {
  if (!ev->time) return rp_errf(err, RP_EINVAL, "time decay needs a time column");
  if (!(half_life_days > 0) || !isfinite(half_life_days))
    return rp_errf(err, RP_EINVAL, "half-life must be a positive number of days, got %g",
                   half_life_days);
  double scale = 1.0 / (half_life_days * 86400.0);
  /* element-wise: the same result whatever the threads */
#pragma omp parallel for schedule(static) if (ev->n > 200000)
  for (int64_t i = 0; i < ev->n; i++) {
    double age = (double)(now - ev->time[i]);
    out[i] = (float)((double)ev->value[i] * exp2(-age * scale));
  }
  return RP_OK;
}

#define O rp_events_matrix_opts
const rp_optdesc rp_events_matrix_optdesc[] = {
    RP_OPT_E(O, aggregate, "aggregate", RP_AGG_SUM, rp_agg_names),
    {"half_life_days", RP_OPT_NUM, RP_OPTF_(O, half_life_days), 0, NULL, 0, HUGE_VAL,
     RP_OPT_LO_OPEN | RP_OPT_NODEFAULT, NULL, NULL},
    RP_OPT_X("now",
             "a time (Unix seconds or ISO 8601; default: the log's latest; needs "
             "half_life_days)"),
    RP_OPT_END};
#undef O

rp_csr *rp_events_to_csr(const rp_events *ev, int agg, double half_life_days, const int64_t *now,
                         rp_err *err) {
  if (agg < RP_AGG_SUM || agg > RP_AGG_LAST)
    return rp_errf(err, RP_EINVAL, "unknown aggregation %d", agg), NULL;
  const float *v = ev->value;
  float *dv = NULL;
  if (half_life_days > 0) {
    if (!ev->time)
      return rp_errf(err, RP_EINVAL, "half_life_days needs a time column in the log"), NULL;
    int64_t tmin = 0, tmax = 0;
    rp_events_time_range(ev, &tmin, &tmax);
    dv = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *dv);
    if (!dv) return rp_enomem(err, "decayed values"), NULL;
    if (rp_events_decay(ev, half_life_days, now ? *now : tmax, dv, err)) {
      rp_free(dv);
      return NULL;
    }
    v = dv;
  }
  rp_csr *m = rp_csr_build(ev->users->n, ev->items->n, ev->user, ev->item, v, ev->time, ev->n, agg,
                           ev->users, ev->items, err);
  rp_free(dv);
  return m;
}

/* ---- write ----------------------------------------------------------------------- */
typedef struct wbuf {
  rp_writer *w;
  char *b;
  size_t n, cap;
} wbuf;

static int wflush(wbuf *o, rp_err *err) {
  int rc = o->n ? rp_writer_write(o->w, o->b, o->n, err) : RP_OK;
  o->n = 0;
  return rc;
}

/* appends s[0..len) as one CSV field, quoted when it must be */
static int wfield(wbuf *o, const char *s, size_t len, int sep_before, rp_err *err) {
  if (o->n + 2 * len + 8 > o->cap) {
    if (wflush(o, err)) return RP_EIO;
    if (2 * len + 8 > o->cap) {
      char *x = rp_realloc(o->b, 2 * len + 8);
      if (!x) return rp_enomem(err, "write buffer");
      o->b = x;
      o->cap = 2 * len + 8;
    }
  }
  char *p = o->b + o->n;
  if (sep_before) *p++ = ',';
  int quote = 0;
  for (size_t i = 0; i < len && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  /* a first field that would read as a byte order mark or a blank line */
  if (!quote && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) quote = 1;
  if (quote) {
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
      if (s[i] == '"') *p++ = '"';
      *p++ = s[i];
    }
    *p++ = '"';
  } else {
    memcpy(p, s, len);
    p += len;
  }
  o->n = (size_t)(p - o->b);
  return RP_OK;
}

static int wnewline(wbuf *o, rp_err *err) {
  if (o->n + 1 > o->cap && wflush(o, err)) return RP_EIO;
  o->b[o->n++] = '\n';
  return RP_OK;
}

static size_t fmt_i64(int64_t x, char *buf);

/* the shortest decimal that reads back (strtof) as exactly v */
static size_t fmt_float(float v, char *buf) {
  if (v == 0) return (size_t)sprintf(buf, signbit(v) ? "-0" : "0");
  if (fabsf(v) < 16777216.0f && v == (float)(int32_t)v) return fmt_i64((int32_t)v, buf);
  for (int prec = 6; prec < 9; prec++) {
    int k = sprintf(buf, "%.*g", prec, (double)v);
    if (strtof(buf, NULL) == v) return (size_t)k;
  }
  return (size_t)sprintf(buf, "%.9g", (double)v);
}

static size_t fmt_i64(int64_t x, char *buf) {
  char t[24];
  int k = 0;
  uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
  do t[k++] = (char)('0' + u % 10);
  while (u /= 10);
  size_t n = 0;
  if (x < 0) buf[n++] = '-';
  while (k) buf[n++] = t[--k];
  buf[n] = 0;
  return n;
}

int rp_events_write(const rp_events *ev, const char *path, rp_err *err) {
  wbuf o = {0};
  o.cap = 1 << 16;
  o.b = rp_malloc(o.cap);
  if (!o.b) return rp_enomem(err, "write buffer");
  o.w = rp_writer_open(path, err);
  if (!o.w) {
    rp_free(o.b);
    return err && err->status ? err->status : RP_EIO;
  }
  int rc = wfield(&o, "user", 4, 0, err);
  if (!rc) rc = wfield(&o, "item", 4, 1, err);
  if (!rc) rc = wfield(&o, "value", 5, 1, err);
  if (!rc && ev->time) rc = wfield(&o, "time", 4, 1, err);
  if (!rc && ev->event) rc = wfield(&o, "event", 5, 1, err);
  for (int c = 0; c < ev->ncontext && !rc; c++)
    rc = wfield(&o, ev->context_names[c], strlen(ev->context_names[c]), 1, err);
  if (!rc) rc = wnewline(&o, err);
  char num[40];
  for (int64_t i = 0; i < ev->n && !rc; i++) {
    size_t len;
    const char *s = rp_idmap_id(ev->users, ev->user[i], &len);
    rc = wfield(&o, s, len, 0, err);
    s = rp_idmap_id(ev->items, ev->item[i], &len);
    if (!rc) rc = wfield(&o, s, len, 1, err);
    if (!rc) rc = wfield(&o, num, fmt_float(ev->value[i], num), 1, err);
    if (!rc && ev->time) rc = wfield(&o, num, fmt_i64(ev->time[i], num), 1, err);
    if (!rc && ev->event) {
      s = rp_idmap_id(ev->event_names, ev->event[i], &len);
      rc = wfield(&o, s, len, 1, err);
    }
    for (int c = 0; c < ev->ncontext && !rc; c++) {
      s = rp_idmap_id(ev->context_dicts[c], ev->context[c][i], &len);
      rc = wfield(&o, s, len, 1, err);
    }
    if (!rc) rc = wnewline(&o, err);
  }
  if (!rc) rc = wflush(&o, err);
  if (!rc)
    rc = rp_writer_commit(o.w, err);
  else
    rp_writer_abort(o.w);
  rp_free(o.b);
  return rc;
}
