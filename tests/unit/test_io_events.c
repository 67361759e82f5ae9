/* Check tests for Events operations (modules/io/events.c, evops.c): select,
 * where, stats against a naive computation, event type weights by hand and
 * against read_events' weights, time decay by hand, to_csr
 * aggregations, CSV write/read round trips (plain and gzip, awkward ids),
 * and allocation failure. */
#include <math.h>

#include "csr.h"
#include "reader.h"
#include "rptest.h"

/* a small log: users u0..u3, items i0..i2, times, events, one context */
static rp_events *sample(void) {
  const char *path = rp_test_tmp("sample.csv");
  rp_test_write(path,
                "user,item,value,time,type,device\n"
                "u0,i0,1,1000,view,mobile\n"
                "u0,i1,2,2000,buy,desktop\n"
                "u1,i0,3,3000,view,mobile\n"
                "u0,i0,4,4000,cart,mobile\n"
                "u2,i2,5,5000,view,tablet\n"
                "u1,i0,6,6000,buy,desktop\n"
                "u3,i1,7,7000,view,mobile\n");
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.value.name = "value";
  o.time.name = "time";
  o.event.name = "type";
  o.context[0].name = "device";
  o.ncontext = 1;
  rp_events *ev;
  rp_err err;
  ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_OK);
  return ev;
}

START_TEST(where_filters) {
  rp_events *ev = sample();
  rp_err err;
  rp_events_filter w;
  memset(&w, 0, sizeof w);
  w.has_from = 1, w.from = 2000;
  w.has_to = 1, w.to = 6000; /* [2000, 6000) */
  rp_events *r = rp_events_where(ev, &w, &err);
  ck_assert_int_eq(r->n, 4);
  ck_assert_int_eq(r->time[0], 2000);
  ck_assert_int_eq(r->time[3], 5000);
  ck_assert_ptr_eq(r->users, ev->users); /* same maps */
  ck_assert_ptr_eq(r->event_names, ev->event_names);
  rp_events_free(r);
  uint8_t evmask[3] = {0, 1, 0};  /* view, buy, cart: buy */
  uint8_t devmask[3] = {1, 0, 0}; /* mobile */
  memset(&w, 0, sizeof w);
  w.event_mask = evmask;
  r = rp_events_where(ev, &w, &err);
  ck_assert_int_eq(r->n, 2);
  ck_assert(r->value[0] == 2.0f && r->value[1] == 6.0f);
  rp_events_free(r);
  memset(&w, 0, sizeof w);
  w.ctx_mask[0] = devmask;
  uint8_t umask[4] = {1, 0, 0, 1};
  w.user_mask = umask;
  r = rp_events_where(ev, &w, &err);
  ck_assert_int_eq(r->n, 3); /* u0 mobile x2, u3 mobile */
  ck_assert(r->value[2] == 7.0f);
  rp_events_free(r);
  /* filtering on a column the log lacks */
  rp_events *bare = rp_events_new(NULL, NULL, 0, NULL, 0, NULL, NULL, &err);
  memset(&w, 0, sizeof w);
  w.has_from = 1;
  ck_assert_ptr_null(rp_events_where(bare, &w, &err));
  ck_assert_str_eq(err.msg, "the log has no time column to filter on");
  rp_events_free(bare);
  rp_events_free(ev);
}
END_TEST

/* naive quantile: sort, linear interpolation at (m - 1) * p */
static double naive_q(const int64_t *sorted, int64_t m, double p) {
  double h = (double)(m - 1) * p;
  int64_t lo = (int64_t)h;
  double frac = h - (double)lo;
  return lo + 1 < m ? (double)sorted[lo] * (1 - frac) + (double)sorted[lo + 1] * frac
                    : (double)sorted[lo];
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

START_TEST(stats_against_naive) {
  rp_events *ev = sample();
  rp_events_summary st;
  rp_err err;
  ck_assert_int_eq(rp_events_stats(ev, &st, &err), RP_OK);
  ck_assert_int_eq(st.events, 7);
  ck_assert_int_eq(st.users, 4);
  ck_assert_int_eq(st.items, 3);
  ck_assert(st.value_sum == 28.0);
  ck_assert_int_eq(st.tmin, 1000);
  ck_assert_int_eq(st.tmax, 7000);
  /* per user: u0 3, u1 2, u2 1, u3 1 -> sorted 1 1 2 3 */
  ck_assert(st.per_user[0] == 1 && st.per_user[6] == 3);
  ck_assert(fabs(st.per_user[2] - 1.5) < 1e-12);  /* median at h = 1.5 */
  ck_assert(fabs(st.per_user[1] - 1.0) < 1e-12);  /* p25 at h = 0.75 */
  ck_assert(fabs(st.per_user[3] - 2.25) < 1e-12); /* p75 at h = 2.25 */
  ck_assert(fabs(st.per_user[4] - 2.7) < 1e-12);  /* p90 at h = 2.7 */
  ck_assert(fabs(st.per_user_mean - 1.75) < 1e-12);
  ck_assert_int_eq(st.nevent, 3);
  ck_assert_int_eq(st.event_counts[0], 4);  /* view */
  ck_assert_int_eq(st.event_counts[1], 2);  /* buy */
  ck_assert_int_eq(st.ctx_counts[0][0], 4); /* mobile */
  rp_events_summary_free(&st);
  rp_events_free(ev);
  /* random logs: quantiles against the naive sort */
  rp_rng r;
  rp_rng_seed(&r, 9, 0);
  for (int trial = 0; trial < 20; trial++) {
    rp_events *x = rp_events_new(NULL, NULL, 0, NULL, 0, NULL, NULL, &err);
    int nu = 1 + (int)rp_rng_below(&r, 50), ni = 1 + (int)rp_rng_below(&r, 30);
    char buf[16];
    int32_t idx;
    for (int k = 0; k < nu; k++)
      rp_idmap_intern(x->users, buf, (size_t)snprintf(buf, sizeof buf, "u%d", k), &idx, &err);
    for (int k = 0; k < ni; k++)
      rp_idmap_intern(x->items, buf, (size_t)snprintf(buf, sizeof buf, "i%d", k), &idx, &err);
    int n = (int)rp_rng_below(&r, 400);
    rp_events_reserve(x, n + 1, &err);
    int64_t cu[64] = {0};
    for (int k = 0; k < n; k++) {
      /* skewed: some users never appear */
      x->user[k] = (int32_t)(rp_rng_below(&r, (uint64_t)nu) * rp_rng_below(&r, 2));
      x->item[k] = (int32_t)rp_rng_below(&r, (uint64_t)ni);
      x->value[k] = 1;
      cu[x->user[k]]++;
    }
    x->n = n;
    ck_assert_int_eq(rp_events_stats(x, &st, &err), RP_OK);
    int64_t sorted[64], m = 0;
    for (int k = 0; k < nu; k++)
      if (cu[k]) sorted[m++] = cu[k];
    qsort(sorted, (size_t)m, sizeof *sorted, cmp64);
    ck_assert_int_eq(st.users, m);
    static const double ps[] = {0, 0.25, 0.5, 0.75, 0.9, 0.99, 1};
    for (int q = 0; q < 7 && m; q++)
      ck_assert_msg(fabs(st.per_user[q] - naive_q(sorted, m, ps[q])) < 1e-9, "q %d: %g vs %g", q,
                    st.per_user[q], naive_q(sorted, m, ps[q]));
    rp_events_summary_free(&st);
    rp_events_free(x);
  }
}
END_TEST

START_TEST(decay_and_matrix) {
  rp_events *ev = sample();
  rp_err err;
  float out[7];
  /* half-life of 1000 s: events at 7000 (age 0) keep their value, at 6000
   * half, at 5000 a quarter, ... */
  double D = 1000.0 / 86400.0;
  ck_assert_int_eq(rp_events_decay(ev, D, 7000, out, &err), RP_OK);
  ck_assert(fabsf(out[6] - 7.0f) < 1e-6f);
  ck_assert(fabsf(out[5] - 3.0f) < 1e-6f);
  ck_assert(fabsf(out[4] - 1.25f) < 1e-6f);
  ck_assert(fabsf(out[0] - 1.0f / 64) < 1e-7f);
  ck_assert_int_eq(rp_events_decay(ev, 0, 7000, out, &err), RP_EINVAL);
  /* sum of (u0, i0): 1 + 4; (u1, i0): 3 + 6 */
  rp_csr *m = rp_events_to_csr(ev, RP_AGG_SUM, 0, NULL, &err);
  ck_assert_int_eq(m->nrows, 4);
  ck_assert_int_eq(m->ncols, 3);
  ck_assert_int_eq(m->nnz, 5);
  ck_assert_int_eq(m->indices[0], 0);
  ck_assert(m->data[0] == 5.0f && m->data[1] == 2.0f && m->data[2] == 9.0f);
  ck_assert_ptr_eq(m->rowmap, ev->users);
  rp_csr_free(m);
  m = rp_events_to_csr(ev, RP_AGG_COUNT, 0, NULL, &err);
  ck_assert(m->data[0] == 2.0f && m->data[2] == 2.0f);
  rp_csr_free(m);
  m = rp_events_to_csr(ev, RP_AGG_MAX, 0, NULL, &err);
  ck_assert(m->data[0] == 4.0f && m->data[2] == 6.0f);
  rp_csr_free(m);
  m = rp_events_to_csr(ev, RP_AGG_LAST, 0, NULL, &err);
  ck_assert(m->data[0] == 4.0f && m->data[2] == 6.0f);
  rp_csr_free(m);
  /* decay then sum; now defaults to the latest time (7000) */
  m = rp_events_to_csr(ev, RP_AGG_SUM, D, NULL, &err);
  ck_assert(fabsf(m->data[0] - (1.0f / 64 + 4.0f / 8)) < 1e-6f);
  ck_assert(fabsf(m->data[2] - (3.0f / 16 + 3.0f)) < 1e-6f);
  rp_csr_free(m);
  int64_t now = 8000;
  m = rp_events_to_csr(ev, RP_AGG_SUM, D, &now, &err);
  ck_assert(fabsf(m->data[4] - 3.5f) < 1e-6f); /* (u3, i1) = 7, one half-life old */
  rp_csr_free(m);
  rp_events *bare = rp_events_new(NULL, NULL, 0, NULL, 0, NULL, NULL, &err);
  ck_assert_ptr_null(rp_events_to_csr(bare, RP_AGG_SUM, 30, NULL, &err));
  ck_assert_str_eq(err.msg, "half_life_days needs a time column in the log");
  rp_events_free(bare);
  rp_events_free(ev);
}
END_TEST

static rp_events *read_back(const char *path, int ncontext, const char *const *ctx) {
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.value.name = "value";
  o.time.name = "time";
  o.event.name = "event";
  for (int c = 0; c < ncontext; c++) o.context[c].name = ctx[c];
  o.ncontext = ncontext;
  rp_events *ev;
  rp_err err;
  ck_assert_msg(rp_io_read_events(path, &o, &ev, NULL, &err) == RP_OK, "%s", err.msg);
  return ev;
}

static void same_content(const rp_events *a, const rp_events *b) {
  ck_assert_int_eq(a->n, b->n);
  for (int64_t i = 0; i < a->n; i++) {
    size_t la, lb;
    const char *x = rp_idmap_id(a->users, a->user[i], &la),
               *y = rp_idmap_id(b->users, b->user[i], &lb);
    ck_assert(la == lb && memcmp(x, y, la) == 0);
    x = rp_idmap_id(a->items, a->item[i], &la), y = rp_idmap_id(b->items, b->item[i], &lb);
    ck_assert(la == lb && memcmp(x, y, la) == 0);
    ck_assert_msg(memcmp(&a->value[i], &b->value[i], 4) == 0, "row %lld value %.9g vs %.9g",
                  (long long)i, (double)a->value[i], (double)b->value[i]);
    ck_assert_int_eq(a->time[i], b->time[i]);
    x = rp_idmap_id(a->event_names, a->event[i], &la);
    y = rp_idmap_id(b->event_names, b->event[i], &lb);
    ck_assert(la == lb && memcmp(x, y, la) == 0);
    for (int c = 0; c < a->ncontext; c++) {
      x = rp_idmap_id(a->context_dicts[c], a->context[c][i], &la);
      y = rp_idmap_id(b->context_dicts[c], b->context[c][i], &lb);
      ck_assert(la == lb && memcmp(x, y, la) == 0);
    }
  }
}

START_TEST(write_round_trip) {
  rp_events *ev = sample();
  const char *ctx[] = {"device"};
  const char *out = rp_test_tmp("out.csv");
  rp_err err;
  ck_assert_int_eq(rp_events_write(ev, out, &err), RP_OK);
  rp_events *back = read_back(out, 1, ctx);
  same_content(ev, back);
  rp_events_free(back);
  rp_events_free(ev);
  /* awkward ids and values, many rows, gzip */
  rp_rng r;
  rp_rng_seed(&r, 21, 0);
  rp_idmap *evn = rp_idmap_new(&err);
  const char *names[] = {"my dev,ice"};
  rp_events *x = rp_events_new(NULL, NULL, 1, evn, 1, names, NULL, &err);
  rp_idmap_release(evn);
  static const char *const bits[] = {"a", ",", "\"", "\n", "\r\n", " ", "\xEF\xBB\xBF", "7", "\t"};
  int n = 3000;
  rp_events_reserve(x, n, &err);
  for (int k = 0; k < n; k++) {
    char id[64] = "";
    int len = 1 + (int)rp_rng_below(&r, 6);
    for (int q = 0; q < len; q++) strcat(id, bits[rp_rng_below(&r, 9)]);
    int32_t u, i, e, c;
    rp_idmap_intern(x->users, id, strlen(id), &u, &err);
    rp_idmap_intern(x->items, id + len / 2, strlen(id + len / 2) ? strlen(id + len / 2) : 1, &i,
                    &err);
    const char *en = k % 2 ? "view" : "a,\"b\"";
    rp_idmap_intern(x->event_names, en, strlen(en), &e, &err);
    rp_idmap_intern(x->context_dicts[0], k % 5 ? id : "", k % 5 ? strlen(id) : 0, &c, &err);
    x->user[k] = u;
    x->item[k] = i;
    x->event[k] = (int16_t)e;
    x->context[0][k] = c;
    uint32_t bits32 = (uint32_t)rp_rng_next(&r);
    float v;
    memcpy(&v, &bits32, 4);
    if (!isfinite(v)) v = (float)k / 7.0f;
    if (k % 3 == 0) v = (float)(k % 100);
    x->value[k] = v;
    x->time[k] = (int64_t)rp_rng_next(&r) / 4;
    x->n = k + 1;
  }
  const char *ctx2[] = {"my dev,ice"};
  const char *gz = rp_test_tmp("out.csv.gz");
  ck_assert_int_eq(rp_events_write(x, gz, &err), RP_OK);
  FILE *f = fopen(gz, "rb");
  ck_assert(fgetc(f) == 0x1f && fgetc(f) == 0x8b);
  fclose(f);
  back = read_back(gz, 1, ctx2);
  same_content(x, back);
  rp_events_free(back);
  /* a failed write leaves nothing behind */
  ck_assert_int_eq(rp_events_write(x, "/nonexistent-dir/x.csv", &err), RP_EIO);
  ck_assert_msg(strstr(err.msg, "cannot write '/nonexistent-dir/x.csv'"), "%s", err.msg);
  rp_events_free(x);
}
END_TEST

static int ops_scenario(void) {
  rp_err err;
  const char *path = rp_test_tmp("sample.csv");
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.value.name = "value";
  o.time.name = "time";
  o.event.name = "type";
  o.context[0].name = "device";
  o.ncontext = 1;
  rp_events *ev = NULL;
  int rc = rp_io_read_events(path, &o, &ev, NULL, &err);
  if (rc) return rc;
  rp_events_filter w;
  memset(&w, 0, sizeof w);
  w.has_from = 1, w.from = 2000;
  rp_events *r = rp_events_where(ev, &w, &err);
  rp_events_summary st;
  if (!r) rc = RP_ENOMEM;
  if (!rc) rc = rp_events_stats(r, &st, &err);
  if (!rc) rp_events_summary_free(&st);
  rp_csr *m = rc ? NULL : rp_events_to_csr(r, RP_AGG_SUM, 30, NULL, &err);
  if (!rc && !m) rc = err.status;
  if (!rc) rc = rp_events_write(r, rp_test_tmp("fault-out.csv.gz"), &err);
  rp_csr_free(m);
  rp_events_free(r);
  rp_events_free(ev);
  return rc;
}

START_TEST(fault_loop) {
  rp_events_free(sample()); /* writes sample.csv */
  RP_FAULT_LOOP(ops_scenario());
}
END_TEST

static char logged[4][512];
static int nlogged;
static void capture(int level, const char *m, void *ud) {
  (void)ud;
  if (level == RP_LOG_WARN && nlogged < 4) snprintf(logged[nlogged++], sizeof logged[0], "%s", m);
}

/* rp_events_weight by hand on the sample (types view, buy, cart), against
 * read_events' weights on the same file, and its errors */
START_TEST(weight_by_type) {
  rp_events *ev = sample();
  rp_err err;
  rp_typeweights w;
  const char *names[] = {"buy", "view", "click"}; /* click: not in the log */
  float vals[] = {5, 1, 9};
  ck_assert_int_eq(rp_typeweights_init(&w, 3, names, vals, &err), RP_OK);
  float x = 0;
  ck_assert(rp_typeweights_get(&w, "buy", 3, &x) && x == 5.0f);
  ck_assert(!rp_typeweights_get(&w, "cart", 4, &x));
  nlogged = 0;
  rp_log_set(capture, NULL, RP_LOG_WARN);
  int64_t dropped = -1;
  rp_events *r = rp_events_weight(ev, &w, 0, &dropped, &err);
  rp_log_set(NULL, NULL, RP_LOG_WARN);
  ck_assert_ptr_nonnull(r);
  /* row 4 (cart) dropped; the others valued at their type's weight */
  ck_assert_int_eq(dropped, 1);
  ck_assert_int_eq(nlogged, 1);
  ck_assert_str_eq(logged[0], "weight: dropped 1 row whose event type has no weight (e.g. 'cart')");
  ck_assert_int_eq(r->n, 6);
  const float want[6] = {1, 5, 1, 1, 5, 1};
  const int64_t times[6] = {1000, 2000, 3000, 5000, 6000, 7000};
  for (int i = 0; i < 6; i++) {
    ck_assert(r->value[i] == want[i]);
    ck_assert_int_eq(r->time[i], times[i]);
  }
  ck_assert_ptr_eq(r->users, ev->users); /* same maps and dictionaries */
  ck_assert_ptr_eq(r->items, ev->items);
  ck_assert_ptr_eq(r->event_names, ev->event_names);
  ck_assert_ptr_eq(r->context_dicts[0], ev->context_dicts[0]);
  ck_assert_int_eq(r->ncontext, 1);
  /* multiply: the value times the weight, as read_events does with a
   * value column; the same rows and values as the weighted read */
  rp_events *rm = rp_events_weight(ev, &w, 1, &dropped, &err);
  const float wantm[6] = {1, 10, 3, 5, 30, 7};
  for (int i = 0; i < 6; i++) ck_assert(rm->value[i] == wantm[i]);
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.value.name = "value";
  o.time.name = "time";
  o.event.name = "type";
  o.nweights = 3;
  for (int k = 0; k < 3; k++) o.weight_names[k] = names[k], o.weight_values[k] = vals[k];
  rp_events *rd = NULL;
  rp_io_read_report rep;
  ck_assert_int_eq(rp_io_read_events(rp_test_tmp("sample.csv"), &o, &rd, &rep, &err), RP_OK);
  ck_assert_int_eq(rep.dropped_type, dropped);
  ck_assert_int_eq(rd->n, rm->n);
  for (int64_t i = 0; i < rd->n; i++) {
    size_t la, lb;
    const char *a = rp_idmap_id(rd->users, rd->user[i], &la);
    const char *b = rp_idmap_id(rm->users, rm->user[i], &lb);
    ck_assert(la == lb && memcmp(a, b, la) == 0);
    a = rp_idmap_id(rd->items, rd->item[i], &la);
    b = rp_idmap_id(rm->items, rm->item[i], &lb);
    ck_assert(la == lb && memcmp(a, b, la) == 0);
    ck_assert(rd->value[i] == rm->value[i]);
    ck_assert_int_eq(rd->time[i], rm->time[i]);
  }
  rp_events_free(rd);
  rp_events_free(rm);
  rp_events_free(r);
  rp_typeweights_free(&w);
  /* negative and zero weights are weights; nothing dropped, nothing logged */
  const char *n2[] = {"view", "buy", "cart"};
  float v2[] = {-1, 0, 2.5f};
  ck_assert_int_eq(rp_typeweights_init(&w, 3, n2, v2, &err), RP_OK);
  nlogged = 0;
  rp_log_set(capture, NULL, RP_LOG_WARN);
  r = rp_events_weight(ev, &w, 0, &dropped, &err);
  rp_log_set(NULL, NULL, RP_LOG_WARN);
  ck_assert_int_eq(dropped, 0);
  ck_assert_int_eq(nlogged, 0);
  const float want2[7] = {-1, 0, -1, 2.5f, -1, 0, -1};
  ck_assert_int_eq(r->n, 7);
  for (int i = 0; i < 7; i++) ck_assert(r->value[i] == want2[i]);
  rp_events_free(r);
  /* a log without an event column */
  rp_events *bare = rp_events_new(NULL, NULL, 0, NULL, 0, NULL, NULL, &err);
  ck_assert_ptr_null(rp_events_weight(bare, &w, 0, &dropped, &err));
  ck_assert_str_eq(err.msg,
                   "weight: the log has no event column (read it with the 'event' option)");
  rp_events_free(bare);
  rp_typeweights_free(&w);
  rp_typeweights_free(&w); /* harmless on an empty one */
  /* bad weight lists */
  const char *dup[] = {"view", "buy", "view"};
  ck_assert_int_eq(rp_typeweights_init(&w, 3, dup, v2, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "weights: 'view' is listed twice");
  rp_typeweights_free(&w);
  float bad[] = {1, NAN, 1};
  ck_assert_int_eq(rp_typeweights_init(&w, 3, n2, bad, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "weights: the weight of 'buy' is not a finite number");
  rp_typeweights_free(&w);
  ck_assert_int_eq(rp_typeweights_init(&w, 0, n2, v2, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "weights: no event type listed");
  rp_typeweights_free(&w);
  rp_events_free(ev);
}
END_TEST

static int weight_scenario(void) {
  rp_err err;
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.event.name = "type";
  rp_events *ev = NULL, *r = NULL;
  int rc = rp_io_read_events(rp_test_tmp("sample.csv"), &o, &ev, NULL, &err);
  if (rc) return rc;
  rp_typeweights w;
  const char *names[] = {"buy", "view"};
  float vals[] = {5, 1};
  rc = rp_typeweights_init(&w, 2, names, vals, &err);
  if (!rc && !(r = rp_events_weight(ev, &w, 0, NULL, &err))) rc = err.status;
  if (!rc && r->n != 6) rc = RP_EINVAL;
  rp_typeweights_free(&w);
  rp_events_free(r);
  rp_events_free(ev);
  return rc;
}

START_TEST(weight_fault_loop) {
  rp_events_free(sample()); /* writes sample.csv */
  rp_log_set(capture, NULL, RP_LOG_WARN);
  RP_FAULT_LOOP(weight_scenario());
  rp_log_set(NULL, NULL, RP_LOG_WARN);
}
END_TEST

/* b: two rows on a's maps with dictionaries of its own ("buy" first, a
 * device a never had) */
static rp_events *other_part(const rp_events *a) {
  rp_err err;
  rp_idmap *evn = rp_idmap_new(&err);
  if (!evn) return NULL;
  const char *cn[] = {"device"};
  rp_events *b = rp_events_new(a->users, a->items, 1, evn, 1, cn, NULL, &err);
  rp_idmap_release(evn);
  if (!b || rp_events_reserve(b, 2, &err)) return rp_events_free(b), NULL;
  const char *ev[] = {"buy", "zoom"}, *dev[] = {"watch", "mobile"};
  for (int k = 0; k < 2; k++) {
    int32_t c, d;
    if (rp_idmap_intern(b->event_names, ev[k], strlen(ev[k]), &c, &err) ||
        rp_idmap_intern(b->context_dicts[0], dev[k], strlen(dev[k]), &d, &err))
      return rp_events_free(b), NULL;
    b->user[k] = k, b->item[k] = 2 - k, b->value[k] = 10.0f + (float)k, b->time[k] = 9000 + k;
    b->event[k] = (int16_t)c, b->context[0][k] = d;
  }
  b->n = 2;
  return b;
}

static int concat_scenario(const rp_events *a) {
  rp_err err;
  rp_events *b = other_part(a);
  if (!b) return RP_ENOMEM;
  rp_events *parts[2] = {(rp_events *)a, b};
  rp_events *c = rp_events_concat(parts, 2, &err);
  int rc = c ? RP_OK : err.status;
  rp_events_free(c);
  rp_events_free(b);
  return rc;
}

START_TEST(concat_parts) {
  rp_events *a = sample(), *b = other_part(a);
  rp_events *parts[3] = {a, b, a};
  rp_err err;
  rp_events *c = rp_events_concat(parts, 3, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  ck_assert_int_eq(c->n, 16);
  ck_assert_ptr_eq(c->users, a->users);
  ck_assert_int_eq(c->ncontext, 1);
  ck_assert_int_eq(c->event_names->n, 4);      /* view, buy, cart, zoom */
  ck_assert_int_eq(c->context_dicts[0]->n, 4); /* mobile, desktop, tablet, watch */
  for (int64_t r = 0; r < c->n; r++) {
    const rp_events *p = r < 7 ? a : r < 9 ? b : a;
    int64_t i = r < 7 ? r : r < 9 ? r - 7 : r - 9;
    size_t l1, l2;
    ck_assert_int_eq(c->user[r], p->user[i]);
    ck_assert_int_eq(c->item[r], p->item[i]);
    ck_assert(c->value[r] == p->value[i]);
    ck_assert_int_eq(c->time[r], p->time[i]);
    const char *x = rp_idmap_id(c->event_names, c->event[r], &l1),
               *y = rp_idmap_id(p->event_names, p->event[i], &l2);
    ck_assert(l1 == l2 && memcmp(x, y, l1) == 0);
    x = rp_idmap_id(c->context_dicts[0], c->context[0][r], &l1);
    y = rp_idmap_id(p->context_dicts[0], p->context[0][i], &l2);
    ck_assert(l1 == l2 && memcmp(x, y, l1) == 0);
  }
  rp_events_free(c);
  /* a part without the column or the time: they go */
  rp_events *plain = rp_events_new(a->users, a->items, 0, NULL, 0, NULL, NULL, &err);
  parts[1] = plain;
  c = rp_events_concat(parts, 2, &err);
  ck_assert_ptr_nonnull(c);
  ck_assert(c->time == NULL && c->event == NULL && c->ncontext == 0);
  ck_assert_int_eq(c->n, 7);
  rp_events_free(c);
  /* other maps, nothing given */
  rp_events *stranger = rp_test_events(1, (int[]){0}, (int[]){0}, NULL, NULL);
  parts[1] = stranger;
  ck_assert_ptr_null(rp_events_concat(parts, 2, &err));
  ck_assert_msg(strstr(err.msg, "concat: log 2 is not on the first log's user and item maps"), "%s",
                err.msg);
  ck_assert_ptr_null(rp_events_concat(parts, 0, &err));
  RP_FAULT_LOOP(concat_scenario(a));
  rp_events_free(stranger);
  rp_events_free(plain);
  rp_events_free(b);
  rp_events_free(a);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("io_events");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, where_filters);
  tcase_add_test(tc, stats_against_naive);
  tcase_add_test(tc, decay_and_matrix);
  tcase_add_test(tc, write_round_trip);
  tcase_add_test(tc, fault_loop);
  tcase_add_test(tc, weight_by_type);
  tcase_add_test(tc, weight_fault_loop);
  tcase_add_test(tc, concat_parts);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
