/*
 * serving.c -- rp_mon_serving_compute: click-through, conversion and the
 * hit rate of served lists from the serving logs, overall, by model
 * version and by chain reason, with Wilson intervals (see monitor.h).
 *
 * The impression lines are grouped into requests (one served list each),
 * the requests sorted by (user, time); every feedback event then looks at
 * its user's requests in the horizon before it (or at the one request it
 * names) and marks those whose list holds its item.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

static const char *const default_click[] = {"click"};
static const char *const default_conversion[] = {"purchase"};

void rp_mon_serving_opts_init(rp_mon_serving_opts *o) {
  memset(o, 0, sizeof *o);
  o->horizon = 86400;
  o->hit_horizon = 7 * 86400;
  o->level = 0.95;
  o->click_types = default_click;
  o->nclick = 1;
  o->conversion_types = default_conversion;
  o->nconversion = 1;
  o->request_column = "request_id";
  o->version_column = "model_version";
  o->reason_column = "reason";
}

int rp_mon_serving_opts_check(const rp_mon_serving_opts *o, rp_err *err) {
  if (o->horizon < 0 || o->horizon > 366LL * 86400)
    return rp_errf(err, RP_EINVAL, "monitor: 'horizon' must be 0..366 days in seconds, got %lld",
                   (long long)o->horizon);
  if (o->hit_horizon < 0 || o->hit_horizon > 366LL * 86400)
    return rp_errf(err, RP_EINVAL,
                   "monitor: 'hit_horizon' must be 0..366 days in seconds, got %lld",
                   (long long)o->hit_horizon);
  if (!(o->level > 0 && o->level < 1))
    return rp_errf(err, RP_EINVAL, "monitor: 'level' must be in (0, 1), got %g", o->level);
  if (o->nclick < 0 || o->nconversion < 0 || (o->nclick && !o->click_types) ||
      (o->nconversion && !o->conversion_types))
    return rp_errf(err, RP_EINVAL, "monitor: bad event type lists");
  return RP_OK;
}

/* ---- Wilson intervals --------------------------------------------------------------- */
double rp_mon_z(double level) {
  /* P(|Z| <= z) = erf(z / sqrt 2): bisection, monotone in z */
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (erf(mid / sqrt(2.0)) < level)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

void rp_mon_wilson(int64_t x, int64_t n, double z, rp_mon_rate *out) {
  out->n = n, out->x = x;
  if (n <= 0) {
    out->rate = out->lo = out->hi = (double)NAN;
    return;
  }
  double dn = (double)n, p = (double)x / dn, z2 = z * z, den = 1 + z2 / dn;
  double center = (p + z2 / (2 * dn)) / den;
  double half = z * sqrt(p * (1 - p) / dn + z2 / (4 * dn * dn)) / den;
  out->rate = p;
  out->lo = center - half < 0 ? 0 : center - half;
  out->hi = center + half > 1 ? 1 : center + half;
}

/* ---- requests ----------------------------------------------------------------------------- */
enum { F_CLICK = 1, F_CONV = 2, F_HIT = 4 };

typedef struct request {
  int64_t time;
  int32_t user, n;         /* n: impression lines */
  int32_t version, reason; /* codes, -1 when the column is absent */
  uint8_t flags;
} request;

/* One served item: the request it belongs to, at the request's time. */
typedef struct line {
  int64_t time;
  int32_t item;
  int32_t req;
} line;

/* The lines grouped by user (by_user: nusers + 1 offsets) and, within a
 * user, sorted by (item, time, request): an event of user u on item x at
 * time t reaches exactly the lines (u, x, t - horizon .. t), found by one
 * binary search, whatever the number of the user's requests. */
typedef struct reqset {
  request *r;
  int64_t nr;
  line *lines;
  int64_t *by_user;
  int32_t *of_code; /* request-id code -> request, -1 (NULL without the column) */
} reqset;

static void reqset_free(reqset *s) {
  rp_free(s->r);
  rp_free(s->lines);
  rp_free(s->by_user);
  rp_free(s->of_code);
  memset(s, 0, sizeof *s);
}

static int by_item_time(const void *x, const void *y) {
  const line *a = x, *b = y;
  if (a->item != b->item) return a->item < b->item ? -1 : 1;
  if (a->time != b->time) return a->time < b->time ? -1 : 1;
  return (a->req > b->req) - (a->req < b->req);
}

/* Groups the impression lines into requests and indexes them. */
static int build_requests(const rp_events *imp, int rcol, int vcol, int scol, reqset *s,
                          rp_err *err) {
  int64_t n = imp->n;
  if (n >= INT32_MAX) return rp_errf(err, RP_EINVAL, "monitor: more than 2^31 impression lines");
  int32_t nu = imp->users->n;
  int32_t *req_of_line = rp_malloc(((size_t)n + 1) * sizeof *req_of_line);
  int32_t ncode = rcol >= 0 ? imp->context_dicts[rcol]->n : 0;
  s->of_code = rcol >= 0 ? rp_malloc(((size_t)ncode + 1) * sizeof *s->of_code) : NULL;
  s->r = rp_malloc(((size_t)n + 1) * sizeof *s->r);
  s->lines = rp_malloc(((size_t)n + 1) * sizeof *s->lines);
  s->by_user = rp_calloc((size_t)nu + 2, sizeof *s->by_user);
  if (!req_of_line || !s->r || !s->lines || !s->by_user || (rcol >= 0 && !s->of_code)) {
    rp_free(req_of_line);
    reqset_free(s);
    return rp_enomem(err, "monitor requests");
  }
  for (int32_t c = 0; c < ncode; c++) s->of_code[c] = -1;
  int32_t nr = 0;
  for (int64_t i = 0; i < n; i++) {
    int32_t q;
    if (rcol >= 0) {
      int32_t c = imp->context[rcol][i];
      if (s->of_code[c] < 0) s->of_code[c] = nr++, s->r[s->of_code[c]].n = 0;
      q = s->of_code[c];
    } else if (i > 0 && imp->user[i] == imp->user[i - 1] && imp->time[i] == imp->time[i - 1]) {
      q = nr - 1;
    } else {
      q = nr++;
      s->r[q].n = 0;
    }
    request *r = &s->r[q];
    if (r->n == 0) {
      r->time = imp->time[i], r->user = imp->user[i], r->flags = 0;
      r->version = vcol >= 0 ? imp->context[vcol][i] : -1;
      r->reason = scol >= 0 ? imp->context[scol][i] : -1;
    }
    r->n++;
    req_of_line[i] = q;
  }
  s->nr = nr;
  /* lines per user (a request's lines are its first line's user's) */
  for (int64_t i = 0; i < n; i++) s->by_user[s->r[req_of_line[i]].user + 1]++;
  for (int32_t u = 0; u < nu; u++) s->by_user[u + 1] += s->by_user[u];
  int64_t *cur = rp_malloc(((size_t)nu + 1) * sizeof *cur);
  if (!cur) {
    rp_free(req_of_line);
    reqset_free(s);
    return rp_enomem(err, "monitor requests");
  }
  memcpy(cur, s->by_user, (size_t)nu * sizeof *cur);
  for (int64_t i = 0; i < n; i++) {
    const request *r = &s->r[req_of_line[i]];
    s->lines[cur[r->user]++] = (line){r->time, imp->item[i], req_of_line[i]};
  }
  for (int32_t u = 0; u < nu; u++) {
    int64_t a = s->by_user[u], b = s->by_user[u + 1];
    if (b - a > 1) qsort(s->lines + a, (size_t)(b - a), sizeof *s->lines, by_item_time);
  }
  rp_free(cur);
  rp_free(req_of_line);
  return RP_OK;
}

/* Marks flag on the requests event e of log ev reaches: the user's lines of
 * the event's item from horizon seconds before it up to it; only request
 * q when q >= 0 (the request the event names). */
static void attribute(reqset *s, const rp_events *ev, int64_t e, int64_t horizon, uint8_t flag,
                      int64_t q) {
  int32_t u = ev->user[e], item = ev->item[e];
  int64_t t = ev->time[e], from = t - horizon;
  int64_t lo = s->by_user[u], hi = s->by_user[u + 1], end = hi;
  while (lo < hi) { /* the first line >= (item, from) */
    int64_t mid = lo + (hi - lo) / 2;
    const line *l = &s->lines[mid];
    if (l->item < item || (l->item == item && l->time < from))
      lo = mid + 1;
    else
      hi = mid;
  }
  for (int64_t k = lo; k < end; k++) {
    const line *l = &s->lines[k];
    if (l->item != item || l->time > t) break;
    if (q < 0 || l->req == q) s->r[l->req].flags |= flag;
  }
}

/* Event type codes of ev's dictionary among names[0..n): a mask; *any
 * says whether one exists. */
static uint8_t *type_mask(const rp_events *ev, const char *const *names, int n, int *any) {
  int32_t nt = ev->event_names ? ev->event_names->n : 0;
  uint8_t *m = rp_calloc((size_t)nt + 1, 1);
  *any = 0;
  if (!m) return NULL;
  for (int k = 0; k < n; k++) {
    int32_t c = ev->event_names ? rp_idmap_find(ev->event_names, names[k], strlen(names[k])) : -1;
    if (c >= 0) m[c] = 1, *any = 1;
  }
  return m;
}

/* The request each event of ev names through its request id column
 * (-1: none, empty, or not an impression's), as an array over ev's codes. */
static int64_t *named_requests(const rp_events *ev, int col, const rp_events *imp, int icol,
                               const reqset *s, rp_err *err) {
  const rp_idmap *d = ev->context_dicts[col];
  int64_t *m = rp_malloc(((size_t)d->n + 1) * sizeof *m);
  if (!m) {
    rp_enomem(err, "monitor requests");
    return NULL;
  }
  for (int32_t c = 0; c < d->n; c++) {
    size_t len;
    const char *id = rp_idmap_id(d, c, &len);
    int32_t ic = len && icol >= 0 ? rp_idmap_find(imp->context_dicts[icol], id, len) : -1;
    m[c] = ic >= 0 ? s->of_code[ic] : -1;
  }
  return m;
}

static int mark(reqset *s, const rp_events *ev, const rp_events *imp, int icol,
                const rp_mon_serving_opts *o, const uint8_t *click, const uint8_t *conv,
                int hits_too, rp_err *err) {
  int rcol = rp_events_context_index(ev, o->request_column);
  int64_t *named = NULL;
  if (rcol >= 0 && !(named = named_requests(ev, rcol, imp, icol, s, err))) return err->status;
  for (int64_t e = 0; e < ev->n; e++) {
    int64_t q = named ? named[ev->context[rcol][e]] : -1;
    int16_t ty = ev->event ? ev->event[e] : -1;
    if (click && ty >= 0 && click[ty]) attribute(s, ev, e, o->horizon, F_CLICK, q);
    if (conv && ty >= 0 && conv[ty]) attribute(s, ev, e, o->horizon, F_CONV, q);
    if (hits_too) attribute(s, ev, e, o->hit_horizon, F_HIT, -1);
  }
  rp_free(named);
  return RP_OK;
}

/* ---- tallies ---------------------------------------------------------------------------- */
typedef struct tally {
  int64_t n, click, conv, hit;
} tally;

static void rates(const tally *t, double z, rp_mon_rate *ctr, rp_mon_rate *conv, rp_mon_rate *hit) {
  rp_mon_wilson(t->click, t->n, z, ctr);
  rp_mon_wilson(t->conv, t->n, z, conv);
  rp_mon_wilson(t->hit, t->n, z, hit);
}

static void count(tally *t, const request *r) {
  t->n++;
  t->click += (r->flags & F_CLICK) != 0;
  t->conv += (r->flags & F_CONV) != 0;
  t->hit += (r->flags & F_HIT) != 0;
}

/* Groups of the current window by code (ncode codes); keeps those seen. */
static int groups(const reqset *s, const rp_mon_serving_opts *o, int by_version, int32_t ncode,
                  double z, rp_mon_group **out, int32_t *nout, rp_err *err) {
  tally *t = rp_calloc((size_t)ncode + 1, sizeof *t);
  if (!t) return rp_enomem(err, "monitor groups");
  int all = o->to <= o->from;
  for (int64_t q = 0; q < s->nr; q++) {
    const request *r = &s->r[q];
    int32_t c = by_version ? r->version : r->reason;
    if (c >= 0 && (all || (r->time >= o->from && r->time < o->to))) count(&t[c], r);
  }
  int32_t m = 0;
  for (int32_t c = 0; c < ncode; c++) m += t[c].n > 0;
  *out = rp_calloc((size_t)m + 1, sizeof **out);
  if (!*out) {
    rp_free(t);
    return rp_enomem(err, "monitor groups");
  }
  m = 0;
  for (int32_t c = 0; c < ncode; c++) {
    if (!t[c].n) continue;
    (*out)[m].code = c;
    rates(&t[c], z, &(*out)[m].ctr, &(*out)[m].conversion, &(*out)[m].hit);
    m++;
  }
  *nout = m;
  rp_free(t);
  return RP_OK;
}

void rp_mon_serving_free(rp_mon_serving *s) {
  if (!s) return;
  rp_free(s->by_version);
  rp_free(s->by_reason);
  s->by_version = s->by_reason = NULL;
}

static double drop(const rp_mon_rate *a, const rp_mon_rate *b, int has) {
  return has && a->rate > 0 && !isnan(b->rate) ? 1 - b->rate / a->rate : (double)NAN;
}

static void put(rp_mon_serving *s, int measure, double v) {
  s->values[s->nvalues++] = (rp_mon_value){measure, -1, v};
}

int rp_mon_serving_compute(const rp_events *imp, const rp_events *fb, const rp_events *hits,
                           const rp_mon_serving_opts *o, rp_mon_serving *out, rp_err *err) {
  memset(out, 0, sizeof *out);
  int rc = rp_mon_serving_opts_check(o, err);
  if (rc) return rc;
  if (!hits) hits = fb;
  const rp_events *logs[3] = {imp, fb, hits};
  static const char *const what[3] = {"impressions", "feedback events", "hits log"};
  for (int k = 0; k < 3; k++) {
    if (!logs[k]->time)
      return rp_errf(err, RP_EINVAL, "monitor: the %s have no time column", what[k]);
    if (logs[k]->users != imp->users || logs[k]->items != imp->items)
      return rp_errf(err, RP_EINVAL,
                     "monitor: the %s must be on the impressions' user and item maps (read them "
                     "with users = imp.users, items = imp.items)",
                     what[k]);
  }
  int rcol = rp_events_context_index(imp, o->request_column);
  out->version_col = rp_events_context_index(imp, o->version_column);
  out->reason_col = rp_events_context_index(imp, o->reason_column);
  reqset s;
  memset(&s, 0, sizeof s);
  if ((rc = build_requests(imp, rcol, out->version_col, out->reason_col, &s, err))) return rc;
  uint8_t *click = type_mask(fb, o->click_types, o->nclick, &out->has_clicks);
  uint8_t *conv = type_mask(fb, o->conversion_types, o->nconversion, &out->has_conversions);
  if (!click || !conv) {
    rc = rp_enomem(err, "monitor");
  } else {
    rc = mark(&s, fb, imp, rcol, o, click, conv, hits == fb, err);
    if (!rc && hits != fb) rc = mark(&s, hits, imp, rcol, o, NULL, NULL, 1, err);
  }
  rp_free(click);
  rp_free(conv);
  double z = rp_mon_z(o->level);
  if (!rc) {
    tally t[2];
    memset(t, 0, sizeof t);
    int all = o->to <= o->from;
    for (int64_t q = 0; q < s.nr; q++) {
      const request *r = &s.r[q];
      if (all || (r->time >= o->from && r->time < o->to)) count(&t[1], r), out->lines[1] += r->n;
      if (o->has_reference && r->time >= o->ref_from && r->time < o->ref_to)
        count(&t[0], r), out->lines[0] += r->n;
    }
    for (int k = 0; k < 2; k++) {
      out->requests[k] = t[k].n;
      rates(&t[k], z, &out->ctr[k], &out->conversion[k], &out->hit[k]);
    }
    if (out->version_col >= 0)
      rc = groups(&s, o, 1, imp->context_dicts[out->version_col]->n, z, &out->by_version,
                  &out->nversion, err);
    if (!rc && out->reason_col >= 0)
      rc = groups(&s, o, 0, imp->context_dicts[out->reason_col]->n, z, &out->by_reason,
                  &out->nreason, err);
  }
  reqset_free(&s);
  if (rc) {
    rp_mon_serving_free(out);
    return rc;
  }
  double nan = (double)NAN;
  int ref = o->has_reference;
  put(out, RP_MON_CTR, out->has_clicks ? out->ctr[1].rate : nan);
  put(out, RP_MON_CONVERSION, out->has_conversions ? out->conversion[1].rate : nan);
  put(out, RP_MON_HIT_RATE, out->hit[1].rate);
  put(out, RP_MON_CTR_DROP, drop(&out->ctr[0], &out->ctr[1], ref && out->has_clicks));
  put(out, RP_MON_CONVERSION_DROP,
      drop(&out->conversion[0], &out->conversion[1], ref && out->has_conversions));
  put(out, RP_MON_HIT_RATE_DROP, drop(&out->hit[0], &out->hit[1], ref));
  return RP_OK;
}
