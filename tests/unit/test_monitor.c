/* Check tests for the monitor core (modules/monitor): the measure table and
 * thresholds, PSI and total variation against hand-computed values (zero
 * counts, binning, disjoint supports, empty sides), window comparisons on a
 * small log worked out by hand (names matched across dictionaries), list
 * comparisons (coverage, Gini, Jaccard, RBO, score PSI), bad input, and
 * allocation failures. */
#include <math.h>

#include "monitor.h"
#include "rptest.h"

#define NEAR(x, want) \
  ck_assert_msg(fabs((x) - (want)) < 1e-9, "%s = %.12g, want %.12g", #x, x, want)

/* ---- measures and thresholds ---------------------------------------------------- */
START_TEST(measure_table) {
  for (int i = 0; i < RP_MON_N; i++) {
    const rp_mon_measure_info *m = rp_mon_measure(i);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(rp_mon_measure_id(m->name), i);
    ck_assert(m->lo <= m->hi);
    ck_assert(isnan(m->def) || (m->def >= m->lo && m->def <= m->hi));
    ck_assert(strlen(m->what) > 10);
  }
  ck_assert_ptr_null(rp_mon_measure(RP_MON_N));
  ck_assert_ptr_null(rp_mon_measure(-1));
  ck_assert_int_eq(rp_mon_measure_id("item_psi"), RP_MON_ITEM_PSI);
  ck_assert_int_eq(rp_mon_measure_id("nope"), -1);
  ck_assert_str_eq(rp_mon_direction_name(RP_MON_BELOW), "below");
}
END_TEST

START_TEST(thresholds_and_alerts) {
  rp_mon_thresholds t;
  rp_mon_thresholds_init(&t);
  ck_assert(t.t[RP_MON_ITEM_PSI] == rp_mon_measure(RP_MON_ITEM_PSI)->def);
  ck_assert(isnan(t.t[RP_MON_CTR])); /* off by default */
  rp_err err;
  ck_assert_int_eq(rp_mon_threshold_set(&t, "item_tv", 0.3, &err), RP_OK);
  ck_assert(t.t[RP_MON_ITEM_TV] == 0.3);
  ck_assert_int_eq(rp_mon_threshold_set(&t, "itme_tv", 0.3, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "unknown measure 'itme_tv' (known: volume, item_psi, item_tv,"),
                "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "hit_rate_drop)"), "%s", err.msg);
  ck_assert_int_eq(rp_mon_threshold_set(&t, "item_tv", 1.5, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "the threshold of 'item_tv' must be in [0, 1], got 1.5"), "%s",
                err.msg);
  ck_assert_int_eq(rp_mon_threshold_set(&t, "jaccard", -0.1, &err), RP_EINVAL);
  ck_assert_int_eq(rp_mon_threshold_set(&t, "ctr", 0.02, &err), RP_OK);
  ck_assert_int_eq(rp_mon_threshold_set(&t, "volume", (double)NAN, &err), RP_OK); /* off */
  rp_mon_value v[] = {
      {RP_MON_ITEM_TV, -1, 0.31},         /* above 0.3: alert */
      {RP_MON_ITEM_TV, -1, 0.3},          /* equal: no alert */
      {RP_MON_CTR, -1, 0.01},             /* below 0.02: alert */
      {RP_MON_CTR, -1, 0.03},             /* no */
      {RP_MON_ACTIVITY_MEAN, -1, -0.4},   /* |-0.4| > 0.25: alert */
      {RP_MON_ACTIVITY_MEAN, -1, 0.2},    /* no */
      {RP_MON_CONTEXT_PSI, 2, 0.5},       /* alert, column kept */
      {RP_MON_ITEM_PSI, -1, (double)NAN}, /* not measured: never */
      {RP_MON_VOLUME, -1, -1.0},          /* threshold off: never */
      {RP_MON_N, -1, 5.0},                /* unknown id: ignored */
  };
  rp_mon_alert out[10];
  int n = rp_mon_alerts(v, 10, &t, out);
  ck_assert_int_eq(n, 4);
  ck_assert_int_eq(out[0].measure, RP_MON_ITEM_TV);
  ck_assert(out[0].value == 0.31 && out[0].threshold == 0.3);
  ck_assert_int_eq(out[1].measure, RP_MON_CTR);
  ck_assert_int_eq(out[2].measure, RP_MON_ACTIVITY_MEAN);
  ck_assert_int_eq(out[3].measure, RP_MON_CONTEXT_PSI);
  ck_assert_int_eq(out[3].column, 2);
}
END_TEST

/* ---- PSI and total variation ------------------------------------------------------ */
START_TEST(distance_by_hand) {
  rp_mon_dist d;
  rp_err err;
  /* p = (.5, .3, .2), q = (.3, .3, .4):
   * PSI = -.2 ln(.6) + .2 ln 2 = 0.240794560865; TV = (.2 + .2) / 2 */
  int64_t a[] = {50, 30, 20}, b[] = {30, 30, 40};
  ck_assert_int_eq(rp_mon_distance(a, b, 3, 0, 1e-4, &d, &err), RP_OK);
  NEAR(d.psi, 0.2407945608651872);
  NEAR(d.tv, 0.2);
  ck_assert_int_eq(d.bins, 3);
  ck_assert_int_eq(d.na, 100);
  ck_assert_int_eq(d.nb, 100);
  /* symmetric */
  rp_mon_dist e;
  rp_mon_distance(b, a, 3, 0, 1e-4, &e, &err);
  NEAR(e.psi, d.psi);
  /* identical shares, different totals: 0 */
  int64_t a2[] = {5, 3, 2}, b2[] = {50, 30, 20};
  rp_mon_distance(a2, b2, 3, 0, 1e-4, &d, &err);
  NEAR(d.psi, 0.0);
  NEAR(d.tv, 0.0);
  /* a zero count: the share is floored at epsilon,
   * (.5 - 1) ln .5 + (.5 - 1e-4) ln(.5 / 1e-4) */
  int64_t a3[] = {10, 0}, b3[] = {5, 5};
  rp_mon_distance(a3, b3, 2, 0, 1e-4, &d, &err);
  NEAR(d.psi, 4.60431846666895);
  NEAR(d.tv, 0.5);
  /* disjoint supports: TV 1, PSI 2 (1 - 1e-4) ln(1e4) */
  int64_t a4[] = {5, 0}, b4[] = {0, 5};
  rp_mon_distance(a4, b4, 2, 0, 1e-4, &d, &err);
  NEAR(d.psi, 18.41883867587797);
  NEAR(d.tv, 1.0);
  /* categories nobody has do not count as bins */
  int64_t a5[] = {0, 5, 0, 5}, b5[] = {0, 5, 0, 5};
  rp_mon_distance(a5, b5, 4, 0, 1e-4, &d, &err);
  ck_assert_int_eq(d.bins, 2);
  /* an empty side: not measurable */
  int64_t z[] = {0, 0};
  rp_mon_distance(z, b3, 2, 0, 1e-4, &d, &err);
  ck_assert(isnan(d.psi) && isnan(d.tv));
  ck_assert_int_eq(d.na, 0);
  rp_mon_distance(z, z, 2, 0, 1e-4, &d, &err);
  ck_assert(isnan(d.psi));
  rp_mon_distance(z, z, 0, 0, 1e-4, &d, &err); /* no categories at all */
  ck_assert(isnan(d.psi));
  /* one category: 0 */
  int64_t one_a[] = {7}, one_b[] = {2};
  rp_mon_distance(one_a, one_b, 1, 0, 1e-4, &d, &err);
  NEAR(d.psi, 0.0);
  NEAR(d.tv, 0.0);
}
END_TEST

START_TEST(distance_binned) {
  /* bins = 3: the two largest a + b (18: index 0, 11: index 1) keep their
   * bins; indices 2, 3, 4 (sums 1, 3, 3) share one: a (10, 5, 2) of 17,
   * b (8, 6, 5) of 19 */
  int64_t a[] = {10, 5, 1, 1, 0}, b[] = {8, 6, 0, 2, 3};
  rp_mon_dist d;
  rp_err err;
  ck_assert_int_eq(rp_mon_distance(a, b, 5, 3, 1e-4, &d, &err), RP_OK);
  ck_assert_int_eq(d.bins, 3);
  NEAR(d.psi, 0.17458720454058918);
  NEAR(d.tv, 0.16718266253869968);
  /* ties go to the lower index: with bins = 4, index 3 (sum 3) gets a bin
   * before index 4 (sum 3); the rest is indices 2 and 4 */
  rp_mon_dist e;
  rp_mon_distance(a, b, 5, 4, 1e-4, &e, &err);
  ck_assert_int_eq(e.bins, 4);
  double p[] = {10 / 17.0, 5 / 17.0, 1 / 17.0, 1 / 17.0},
         q[] = {8 / 19.0, 6 / 19.0, 2 / 19.0, 3 / 19.0};
  double psi = 0, tv = 0;
  for (int i = 0; i < 4; i++) psi += (q[i] - p[i]) * log(q[i] / p[i]), tv += fabs(q[i] - p[i]) / 2;
  NEAR(e.psi, psi);
  NEAR(e.tv, tv);
  /* as many bins as categories: no "other" */
  rp_mon_distance(a, b, 5, 5, 1e-4, &e, &err);
  ck_assert_int_eq(e.bins, 5);
  rp_mon_distance(a, b, 5, 0, 1e-4, &d, &err);
  NEAR(e.psi, d.psi);
}
END_TEST

/* ---- two windows ---------------------------------------------------------------------- */
typedef struct row {
  int u, i;
  const char *ev, *dev;
} row;

static rp_idmap *dict(const char *const *names, int n) {
  rp_idmap *m = rp_idmap_new(NULL);
  for (int k = 0; k < n; k++) {
    int32_t j;
    ck_assert_int_eq(rp_idmap_intern(m, names[k], strlen(names[k]), &j, NULL), 0);
  }
  return m;
}

/* Events on the given maps with event names and a "device" column from
 * the given dictionaries (rows name them; names missing are added). */
static rp_events *window(rp_idmap *users, rp_idmap *items, rp_idmap *evn, rp_idmap *dev,
                         const row *r, int n) {
  rp_err err;
  const char *cn[] = {"device"};
  rp_events *ev = rp_events_new(users, items, 0, evn, dev ? 1 : 0, cn, &dev, &err);
  ck_assert_msg(ev != NULL, "%s", err.msg);
  ck_assert_int_eq(rp_events_reserve(ev, n + 1, &err), 0);
  for (int k = 0; k < n; k++) {
    int32_t e, d;
    ev->user[k] = r[k].u, ev->item[k] = r[k].i, ev->value[k] = 1;
    if (evn) {
      ck_assert_int_eq(rp_idmap_intern(ev->event_names, r[k].ev, strlen(r[k].ev), &e, &err), 0);
      ev->event[k] = (int16_t)e;
    }
    if (dev) {
      ck_assert_int_eq(rp_idmap_intern(ev->context_dicts[0], r[k].dev, strlen(r[k].dev), &d, &err),
                       0);
      ev->context[0][k] = d;
    }
  }
  ev->n = n;
  return ev;
}

static double value_of(const rp_mon_windows *w, int measure) {
  for (int k = 0; k < w->nvalues; k++)
    if (w->values[k].measure == measure) return w->values[k].value;
  return -12345;
}

/* a: u0 views i0, i1 on mobile; u1 buys i0 and views it on desktop.
 * b: u1 views i0 (mobile); u2 views and buys i2 (mobile); u3 views i1 and
 * i0 twice (desktop, tablet).  b's dictionaries list names in another order
 * and have a device a never saw. */
static void two_windows(rp_events **pa, rp_events **pb) {
  rp_idmap *users = rp_test_numbered("u", 4), *items = rp_test_numbered("i", 3);
  const char *ea[] = {"view", "buy"}, *eb[] = {"buy", "view"}, *da[] = {"mobile", "desktop"},
             *db[] = {"desktop", "tablet", "mobile"};
  rp_idmap *evna = dict(ea, 2), *evnb = dict(eb, 2), *deva = dict(da, 2), *devb = dict(db, 3);
  row ra[] = {{0, 0, "view", "mobile"},
              {0, 1, "view", "mobile"},
              {1, 0, "buy", "desktop"},
              {1, 0, "view", "desktop"}};
  row rb[] = {{1, 0, "view", "mobile"},  {2, 2, "view", "mobile"},  {2, 2, "buy", "mobile"},
              {3, 1, "view", "desktop"}, {3, 0, "view", "desktop"}, {3, 0, "view", "tablet"}};
  *pa = window(users, items, evna, deva, ra, 4);
  *pb = window(users, items, evnb, devb, rb, 6);
  rp_idmap_release(users);
  rp_idmap_release(items);
  rp_idmap_release(evna);
  rp_idmap_release(evnb);
  rp_idmap_release(deva);
  rp_idmap_release(devb);
}

START_TEST(windows_by_hand) {
  rp_events *a, *b;
  two_windows(&a, &b);
  rp_mon_window_opts o;
  rp_mon_window_opts_init(&o);
  rp_mon_windows w;
  rp_err err;
  ck_assert_int_eq(rp_mon_compare_windows(a, b, &o, &w, &err), RP_OK);
  ck_assert_int_eq(w.side[0].events, 4);
  ck_assert_int_eq(w.side[0].users, 2);
  ck_assert_int_eq(w.side[0].items, 2);
  ck_assert_int_eq(w.side[1].events, 6);
  ck_assert_int_eq(w.side[1].users, 3);
  ck_assert_int_eq(w.side[1].items, 3);
  NEAR(value_of(&w, RP_MON_VOLUME), 0.5); /* 6 / 4 - 1 */
  /* items: p = (3/4, 1/4, 0), q = (1/2, 1/6, 1/3) */
  NEAR(w.item.psi, 2.8382532243304146);
  NEAR(w.item.tv, 1.0 / 3);
  NEAR(value_of(&w, RP_MON_ITEM_PSI), w.item.psi);
  /* event types by name: view 3/4 -> 5/6, buy 1/4 -> 1/6 */
  ck_assert(w.has_event);
  NEAR(w.event.psi, 0.04256880198049924);
  NEAR(w.event.tv, 1.0 / 12);
  /* device: mobile 1/2 -> 1/2, desktop 1/2 -> 1/3, tablet 0 -> 1/6 */
  ck_assert_int_eq(w.ncontext, 1);
  ck_assert_int_eq(w.context_col[0], 0);
  NEAR(w.context[0].psi, 1.3032658103857737);
  NEAR(w.context[0].tv, 1.0 / 6);
  /* new: u2, u3 of u1..u3; their 5 of 6 events; i2 of i0..i2, 2 events */
  NEAR(w.new_users, 2.0 / 3);
  NEAR(w.new_user_events, 5.0 / 6);
  NEAR(w.new_items, 1.0 / 3);
  NEAR(w.new_item_events, 2.0 / 6);
  /* activity: a (2, 2): mean 2, median 2, all in bin [2, 4);
   * b (1, 2, 3): mean 2, median 2, bins [1] 1/3 and [2, 4) 2/3 */
  NEAR(w.side[0].activity_mean, 2.0);
  NEAR(w.side[1].activity_median, 2.0);
  NEAR(w.activity.psi, 2.8382532243304146);
  NEAR(w.activity.tv, 1.0 / 3);
  NEAR(value_of(&w, RP_MON_ACTIVITY_MEAN), 0.0);
  NEAR(value_of(&w, RP_MON_ACTIVITY_MEDIAN), 0.0);
  /* every measure of the family is there once per column */
  ck_assert_int_eq(w.nvalues, 12);
  /* the other way round: b is the reference */
  rp_mon_windows r;
  ck_assert_int_eq(rp_mon_compare_windows(b, a, &o, &r, &err), RP_OK);
  NEAR(r.item.psi, w.item.psi);
  NEAR(r.new_users, 0.5); /* u0 of u0, u1 */
  NEAR(value_of(&r, RP_MON_VOLUME), 4.0 / 6 - 1);
  /* item bins = 2: i0 (6) keeps a bin, i1 and i2 share one:
   * p = (3/4, 1/4), q = (1/2, 1/2) */
  o.item_bins = 2;
  rp_mon_compare_windows(a, b, &o, &w, &err);
  ck_assert_int_eq(w.item.bins, 2);
  NEAR(w.item.psi, (0.5 - 0.75) * log(0.5 / 0.75) + (0.5 - 0.25) * log(0.5 / 0.25));
  NEAR(w.item.tv, 0.25);
  rp_events_free(a);
  rp_events_free(b);
}
END_TEST

START_TEST(windows_edges) {
  rp_events *a, *b;
  two_windows(&a, &b);
  rp_mon_window_opts o;
  rp_mon_window_opts_init(&o);
  rp_mon_windows w;
  rp_err err;
  /* a window against itself: nothing moved, nobody new */
  ck_assert_int_eq(rp_mon_compare_windows(a, a, &o, &w, &err), RP_OK);
  for (int k = 0; k < w.nvalues; k++) NEAR(w.values[k].value, 0.0);
  /* an empty current window: volume -1, the rest not measurable */
  uint8_t none[6] = {0};
  rp_events *empty = rp_events_select(b, none, &err);
  ck_assert_int_eq(rp_mon_compare_windows(a, empty, &o, &w, &err), RP_OK);
  NEAR(value_of(&w, RP_MON_VOLUME), -1.0);
  ck_assert(isnan(value_of(&w, RP_MON_ITEM_PSI)) && isnan(value_of(&w, RP_MON_NEW_USERS)));
  ck_assert(isnan(value_of(&w, RP_MON_ACTIVITY_MEAN)) && isnan(w.side[1].activity_median));
  ck_assert_int_eq(w.side[1].users, 0);
  rp_mon_thresholds t;
  rp_mon_thresholds_init(&t);
  rp_mon_alert al[RP_MON_MAXVALUES];
  ck_assert_int_eq(rp_mon_alerts(w.values, w.nvalues, &t, al), 1); /* volume only */
  ck_assert_int_eq(al[0].measure, RP_MON_VOLUME);
  /* an empty reference: volume not measurable, everyone new */
  ck_assert_int_eq(rp_mon_compare_windows(empty, b, &o, &w, &err), RP_OK);
  ck_assert(isnan(value_of(&w, RP_MON_VOLUME)));
  NEAR(w.new_users, 1.0);
  rp_events_free(empty);
  /* one item only, on both sides */
  uint8_t only_i0_a[4] = {1, 0, 1, 1}, only_i0_b[6] = {1, 0, 0, 0, 1, 1};
  rp_events *a0 = rp_events_select(a, only_i0_a, &err), *b0 = rp_events_select(b, only_i0_b, &err);
  ck_assert_int_eq(rp_mon_compare_windows(a0, b0, &o, &w, &err), RP_OK);
  NEAR(w.item.psi, 0.0);
  NEAR(w.item.tv, 0.0);
  ck_assert_int_eq(w.item.bins, 1);
  NEAR(w.new_items, 0.0);
  rp_events_free(a0);
  rp_events_free(b0);
  /* disjoint item supports */
  uint8_t ka[4] = {1, 0, 1, 1}, kb[6] = {0, 1, 1, 0, 0, 0}; /* a: i0 only; b: i2 only */
  a0 = rp_events_select(a, ka, &err), b0 = rp_events_select(b, kb, &err);
  rp_mon_compare_windows(a0, b0, &o, &w, &err);
  NEAR(w.item.tv, 1.0);
  NEAR(w.item.psi, 18.41883867587797);
  NEAR(w.new_items, 1.0);
  rp_events_free(a0);
  rp_events_free(b0);
  /* no event or context column on one side: those measures are skipped */
  rp_events *plain = rp_events_new(a->users, a->items, 0, NULL, 0, NULL, NULL, &err);
  rp_events_reserve(plain, 2, &err);
  plain->user[0] = 0, plain->item[0] = 0, plain->value[0] = 1, plain->n = 1;
  ck_assert_int_eq(rp_mon_compare_windows(a, plain, &o, &w, &err), RP_OK);
  ck_assert(!w.has_event);
  ck_assert_int_eq(w.ncontext, 0);
  ck_assert(isnan(value_of(&w, RP_MON_EVENT_PSI)));
  ck_assert_int_eq(w.nvalues, 10);
  /* other maps: refused */
  rp_events *other = rp_test_events(1, (int[]){0}, (int[]){0}, NULL, NULL);
  ck_assert_int_eq(rp_mon_compare_windows(a, other, &o, &w, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "must share their user and item maps"), "%s", err.msg);
  /* options */
  o.item_bins = 1;
  ck_assert_int_eq(rp_mon_compare_windows(a, b, &o, &w, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'item_bins' must be in 2..100000000, got 1"), "%s", err.msg);
  rp_mon_window_opts_init(&o);
  o.epsilon = 0;
  ck_assert_int_eq(rp_mon_compare_windows(a, b, &o, &w, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'epsilon' must be in (0, 0.1], got 0"), "%s", err.msg);
  o.epsilon = 1e-4, o.context_bins = 0;
  ck_assert_int_eq(rp_mon_compare_windows(a, b, &o, &w, &err), RP_EINVAL);
  rp_events_free(other);
  rp_events_free(plain);
  rp_events_free(a);
  rp_events_free(b);
}
END_TEST

/* the activity median against a sort, on many sizes and ties */
START_TEST(windows_median) {
  rp_rng r;
  rp_rng_seed(&r, 7, 0);
  for (int trial = 0; trial < 200; trial++) {
    int nu = 1 + (int)rp_rng_below(&r, 40), n = 1 + (int)rp_rng_below(&r, 300);
    rp_idmap *users = rp_test_numbered("u", nu), *items = rp_test_numbered("i", 2);
    rp_events *ev = rp_events_new(users, items, 0, NULL, 0, NULL, NULL, NULL);
    rp_events_reserve(ev, n, NULL);
    int64_t *cnt = calloc((size_t)nu, 8);
    int spread = 1 + (7 * trial) % nu; /* sometimes few users: many ties */
    for (int k = 0; k < n; k++) {
      int u = (int)rp_rng_below(&r, (uint64_t)spread);
      ev->user[k] = u, ev->item[k] = 0, ev->value[k] = 1;
      cnt[u]++;
    }
    ev->n = n;
    int64_t act[64];
    int m = 0;
    for (int u = 0; u < nu; u++)
      if (cnt[u]) act[m++] = cnt[u];
    qsort(act, (size_t)m, 8, rp_cmp_i64);
    double want = m % 2 ? (double)act[m / 2] : 0.5 * (double)(act[m / 2 - 1] + act[m / 2]);
    rp_mon_window_opts o;
    rp_mon_window_opts_init(&o);
    rp_mon_windows w;
    ck_assert_int_eq(rp_mon_compare_windows(ev, ev, &o, &w, NULL), RP_OK);
    ck_assert_msg(w.side[0].activity_median == want, "trial %d: %g vs %g", trial,
                  w.side[0].activity_median, want);
    NEAR(w.side[0].activity_mean, (double)n / m);
    free(cnt);
    rp_events_free(ev);
    rp_idmap_release(users);
    rp_idmap_release(items);
  }
}
END_TEST

/* ---- two sets of answers ---------------------------------------------------------------- */
/* a: user 0 [0 1 2] (3 2 1), user 1 [3 4] (5 4), user 2 no list;
 * b: user 0 [1 0 5] (3.5 2.5 0.5), user 1 an empty list, user 2 [2] (9) */
static int32_t ia[9] = {0, 1, 2, 3, 4, 0, 0, 0, 0}, ib[9] = {1, 0, 5, 0, 0, 0, 2, 0, 0};
static float sa[9] = {3, 2, 1, 5, 4, 0, 0, 0, 0}, sb[9] = {3.5f, 2.5f, 0.5f, 0, 0, 0, 9, 0, 0};
static int32_t la[3] = {3, 2, -1}, lb[3] = {3, 0, 1};

START_TEST(lists_by_hand) {
  rp_mon_lists a = {.n = 3, .k = 3, .items = ia, .scores = sa, .len = la},
               b = {.n = 3, .k = 3, .items = ib, .scores = sb, .len = lb};
  rp_mon_lists_opts o;
  rp_mon_lists_opts_init(&o);
  o.score_bins = 2;
  rp_mon_lists_result r;
  rp_err err;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &b, 6, &o, &r, &err), RP_OK);
  ck_assert_int_eq(r.users[0], 2);
  ck_assert_int_eq(r.users[1], 3);
  NEAR(r.coverage[0], 5.0 / 6);
  NEAR(r.coverage[1], 4.0 / 6);
  /* a's counts sorted (0 1 1 1 1 1): (-3 -1 + 1 + 3 + 5) / (6 * 5) = 1/6;
   * b's (0 0 1 1 1 1): (-1 + 1 + 3 + 5) / (6 * 4) = 1/3 */
  NEAR(r.gini[0], 1.0 / 6);
  NEAR(r.gini[1], 1.0 / 3);
  /* user 0: Jaccard 2/4; RBO with p = 0.9, X = (0, 2, 2):
   * 2/3 .729 + (.1/.9)(2/2 .81 + 2/3 .729) = 0.486 + 0.144 = 0.63;
   * user 1 (two items against none): 0 and 0; user 2: not on both sides */
  ck_assert_int_eq(r.common, 2);
  NEAR(r.jaccard, 0.25);
  NEAR(r.rbo, 0.315);
  /* scores: a's median (rank ceil(5/2) = 3 of 1..5) is 3; a has 3 at or
   * below, 2 above; b has 2 and 2 */
  NEAR(r.score_psi, 0.04054651081081643);
  NEAR(r.score_mean[0], 3.0);
  NEAR(r.score_mean[1], 3.875);
  ck_assert_int_eq(r.nvalues, 5);
  NEAR(r.values[0].value, (4.0 / 6) / (5.0 / 6) - 1);
  NEAR(r.values[1].value, 1.0 / 6);
  /* identical lists: RBO and Jaccard 1, no score shift */
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 6, &o, &r, &err), RP_OK);
  NEAR(r.jaccard, 1.0);
  NEAR(r.rbo, 1.0);
  NEAR(r.score_psi, 0.0);
  NEAR(r.values[0].value, 0.0);
  /* without scores: no score PSI */
  b.scores = NULL;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &b, 6, &o, &r, &err), RP_OK);
  ck_assert(isnan(r.score_psi) && isnan(r.score_mean[1]));
}
END_TEST

START_TEST(lists_rbo_reference) {
  /* RBO against its definition on random lists: the prefix overlaps X_j
   * by brute force, then Webber et al.'s eq. 32, which lies between the
   * agreement of the seen prefix (RBO_min, eq. 11) and RBO_min + p^d */
  rp_rng r;
  rp_rng_seed(&r, 3, 0);
  double p = 0.9;
  for (int trial = 0; trial < 100; trial++) {
    int32_t d = 1 + (int32_t)rp_rng_below(&r, 10), x[10], y[10], pool[30];
    for (int i = 0; i < 30; i++) pool[i] = i;
    for (int i = 29; i > 0; i--) {
      int j = (int)rp_rng_below(&r, (uint64_t)i + 1), t = pool[i];
      pool[i] = pool[j], pool[j] = t;
    }
    for (int i = 0; i < d; i++) x[i] = pool[i];
    for (int i = 0; i < d; i++) y[i] = rp_rng_below(&r, 2) ? pool[i] : pool[10 + i];
    for (int i = d - 1; i > 0; i--) {
      int j = (int)rp_rng_below(&r, (uint64_t)i + 1), t = y[i];
      y[i] = y[j], y[j] = t;
    }
    /* reference: X_j by brute force */
    double sum = 0, xd = 0;
    for (int j = 1; j <= d; j++) {
      int X = 0;
      for (int s = 0; s < j; s++)
        for (int t = 0; t < j; t++) X += x[s] == y[t];
      sum += (double)X / j * pow(p, j);
      xd = X;
    }
    double rbo_min = (1 - p) / p * sum; /* the agreement of the seen prefix only */
    double want = xd / d * pow(p, d) + rbo_min;
    int32_t len1[1] = {d}, len2[1] = {d};
    rp_mon_lists a = {.n = 1, .k = 10, .items = x, .scores = NULL, .len = len1},
                 b = {.n = 1, .k = 10, .items = y, .scores = NULL, .len = len2};
    rp_mon_lists_opts o;
    rp_mon_lists_opts_init(&o);
    rp_mon_lists_result res;
    ck_assert_int_eq(rp_mon_compare_lists(&a, &b, 30, &o, &res, NULL), RP_OK);
    NEAR(res.rbo, want);
    ck_assert(res.rbo >= rbo_min - 1e-12 && res.rbo <= rbo_min + pow(p, d) + 1e-12);
    int inter = 0;
    for (int s = 0; s < d; s++)
      for (int t = 0; t < d; t++) inter += x[s] == y[t];
    NEAR(res.jaccard, (double)inter / (2 * d - inter));
  }
}
END_TEST

START_TEST(lists_bad_input) {
  rp_mon_lists_opts o;
  rp_mon_lists_opts_init(&o);
  rp_mon_lists_result r;
  rp_err err;
  int32_t items[4] = {0, 1, 7, 7}, len[2] = {2, 2}, len2[1] = {2};
  rp_mon_lists a = {.n = 2, .k = 2, .items = items, .scores = NULL, .len = len},
               b = {.n = 1, .k = 2, .items = items, .scores = NULL, .len = len2};
  ck_assert_int_eq(rp_mon_compare_lists(&a, &b, 8, &o, &r, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "must list the same users (2 vs 1)"), "%s", err.msg);
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 8, &o, &r, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "list 2 of side a repeats item index 7"), "%s", err.msg);
  items[3] = 3;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 5, &o, &r, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "list 2 of side a holds item index 7, outside the catalogue of 5"),
                "%s", err.msg);
  len[1] = 3;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 8, &o, &r, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "list 2 of side a has length 3 (k is 2)"), "%s", err.msg);
  len[1] = 2;
  o.rbo_p = 1;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 8, &o, &r, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'rbo_p' must be in (0, 1), got 1"), "%s", err.msg);
  rp_mon_lists_opts_init(&o);
  o.score_bins = 1;
  ck_assert_int_eq(rp_mon_compare_lists(&a, &a, 8, &o, &r, &err), RP_EINVAL);
  /* no users, an empty catalogue: nothing to measure, no error */
  rp_mon_lists_opts_init(&o);
  rp_mon_lists z = {.n = 0, .k = 0, .items = NULL, .scores = NULL, .len = NULL};
  ck_assert_int_eq(rp_mon_compare_lists(&z, &z, 0, &o, &r, &err), RP_OK);
  ck_assert(isnan(r.coverage[0]) && isnan(r.jaccard) && isnan(r.values[0].value));
}
END_TEST

/* ---- serving logs ------------------------------------------------------------------------ */
/* Events on users/items with a time column, an event column when evn is
 * given, and context columns ctx[0..nc) whose values are given per row as
 * strings (vals[row * nc + c]). */
static rp_events *logrows(rp_idmap *users, rp_idmap *items, int with_events, int nc,
                          const char *const *ctx, int n, const int *u, const int *it,
                          const int64_t *t, const char *const *ev, const char *const *vals) {
  rp_err err;
  rp_idmap *evn = with_events ? rp_idmap_new(&err) : NULL;
  rp_events *e = rp_events_new(users, items, 1, evn, nc, ctx, NULL, &err);
  ck_assert_msg(e != NULL, "%s", err.msg);
  rp_idmap_release(evn);
  ck_assert_int_eq(rp_events_reserve(e, n + 1, &err), 0);
  for (int k = 0; k < n; k++) {
    e->user[k] = u[k], e->item[k] = it[k], e->value[k] = 1, e->time[k] = t[k];
    int32_t c;
    if (with_events) {
      ck_assert_int_eq(rp_idmap_intern(e->event_names, ev[k], strlen(ev[k]), &c, &err), 0);
      e->event[k] = (int16_t)c;
    }
    for (int j = 0; j < nc; j++) {
      const char *v = vals[k * nc + j];
      ck_assert_int_eq(rp_idmap_intern(e->context_dicts[j], v, strlen(v), &c, &err), 0);
      e->context[j][k] = c;
    }
  }
  e->n = n;
  return e;
}

/* Impressions: r1 (t 100, u0: i0 i1, v1, cf), r2 (200, u1: i2 i3, v1,
 * popularity), r3 (300, u0: i2 i4, v2, cf), r4 (5000, u2: i0, v2, cf).
 * Feedback: u0 clicks i1 at 150 naming r1 (r1 clicked); u0 clicks i2 at
 * 350 naming nothing (r3, the request of u0 in the horizon holding i2);
 * u1 buys i3 at 250 naming r2 (r2 converted); u0 clicks i4 at 400 naming
 * r1, which does not hold i4 (nothing, though r3 holds it); u1 views i2 at
 * 100000 (too late for a click, a hit within 7 days of r2); u2 clicks i0
 * at 4000, before r4 (nothing).  Hits: r1 (i1), r2 (i3, i2), r3 (i2, i4). */
static void serving_logs(int with_rid, rp_events **imp, rp_events **fb) {
  rp_idmap *users = rp_test_numbered("u", 3), *items = rp_test_numbered("i", 5);
  const char *icol[] = {"request_id", "model_version", "reason"};
  int iu[] = {0, 0, 1, 1, 0, 0, 2}, ii[] = {0, 1, 2, 3, 2, 4, 0};
  int64_t it[] = {100, 100, 200, 200, 300, 300, 5000};
  const char *iv[] = {"r1", "v1",         "cf", "r1", "v1",         "cf", "r2",
                      "v1", "popularity", "r2", "v1", "popularity", "r3", "v2",
                      "cf", "r3",         "v2", "cf", "r4",         "v2", "cf"};
  *imp = with_rid ? logrows(users, items, 0, 3, icol, 7, iu, ii, it, NULL, iv)
                  : logrows(users, items, 0, 2, icol + 1, 7, iu, ii, it, NULL,
                            (const char *[]){"v1", "cf", "v1", "cf", "v1", "popularity", "v1",
                                             "popularity", "v2", "cf", "v2", "cf", "v2", "cf"});
  const char *fcol[] = {"request_id"};
  int fu[] = {0, 0, 1, 0, 1, 2}, fi[] = {1, 2, 3, 4, 2, 0};
  int64_t ft[] = {150, 350, 250, 400, 100000, 4000};
  const char *fe[] = {"click", "click", "purchase", "click", "view", "click"};
  const char *fv[] = {"r1", "", "r2", "r1", "", ""};
  *fb = logrows(users, items, 1, 1, fcol, 6, fu, fi, ft, fe, fv);
  rp_idmap_release(users);
  rp_idmap_release(items);
}

static void rate_is(const rp_mon_rate *r, int64_t x, int64_t n) {
  ck_assert_int_eq(r->x, x);
  ck_assert_int_eq(r->n, n);
  NEAR(r->rate, (double)x / n);
}

START_TEST(serving_by_hand) {
  NEAR(rp_mon_z(0.95), 1.959963984540054);
  rp_mon_rate w;
  rp_mon_wilson(2, 4, rp_mon_z(0.95), &w);
  NEAR(w.lo, 0.15003898915214947);
  NEAR(w.hi, 0.8499610108478506);
  rp_mon_wilson(0, 3, rp_mon_z(0.95), &w);
  NEAR(w.lo, 0.0);
  NEAR(w.hi, 0.5614970317550454);
  rp_mon_wilson(0, 0, 1.96, &w);
  ck_assert(isnan(w.rate) && isnan(w.lo));
  for (int with_rid = 1; with_rid >= 0; with_rid--) {
    rp_events *imp, *fb;
    serving_logs(with_rid, &imp, &fb);
    rp_mon_serving_opts o;
    rp_mon_serving_opts_init(&o);
    rp_mon_serving s;
    rp_err err;
    ck_assert_int_eq(rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err), RP_OK);
    ck_assert_int_eq(s.requests[1], 4);
    ck_assert_int_eq(s.lines[1], 7);
    /* without request ids the click on i4 at 400 falls to r3, already
     * clicked: the same counts */
    rate_is(&s.ctr[1], 2, 4);
    NEAR(s.ctr[1].lo, 0.15003898915214947);
    rate_is(&s.conversion[1], 1, 4);
    NEAR(s.conversion[1].hi, 0.6993581574175981);
    rate_is(&s.hit[1], 3, 4);
    ck_assert(s.has_clicks && s.has_conversions);
    /* by version: v1 = r1, r2; v2 = r3, r4 */
    ck_assert_int_eq(s.nversion, 2);
    rate_is(&s.by_version[0].ctr, 1, 2);
    rate_is(&s.by_version[0].conversion, 1, 2);
    rate_is(&s.by_version[0].hit, 2, 2);
    rate_is(&s.by_version[1].ctr, 1, 2);
    rate_is(&s.by_version[1].conversion, 0, 2);
    rate_is(&s.by_version[1].hit, 1, 2);
    /* by reason: cf = r1, r3, r4; popularity = r2 */
    ck_assert_int_eq(s.nreason, 2);
    rate_is(&s.by_reason[0].ctr, 2, 3);
    rate_is(&s.by_reason[0].hit, 2, 3);
    rate_is(&s.by_reason[1].conversion, 1, 1);
    ck_assert_int_eq(s.nvalues, 6);
    NEAR(s.values[0].value, 0.5);
    ck_assert(isnan(s.values[3].value)); /* no reference: no drops */
    rp_mon_serving_free(&s);
    /* windows: current [1000, 10000) = r4, reference [0, 1000) = r1..r3 */
    o.from = 1000, o.to = 10000, o.has_reference = 1, o.ref_from = 0, o.ref_to = 1000;
    ck_assert_int_eq(rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err), RP_OK);
    rate_is(&s.ctr[0], 2, 3);
    rate_is(&s.hit[0], 3, 3);
    rate_is(&s.ctr[1], 0, 1);
    ck_assert_int_eq(s.nversion, 1); /* only v2 served in the current window */
    NEAR(s.values[3].value, 1.0);    /* ctr_drop: 1 - 0 / (2/3) */
    NEAR(s.values[4].value, 1.0);
    NEAR(s.values[5].value, 1.0);
    rp_mon_serving_free(&s);
    /* a shorter horizon: the hit 99,800 s after r2 no longer counts, the
     * clicks (50 and 50 s after) still do */
    rp_mon_serving_opts_init(&o);
    o.hit_horizon = 3600;
    rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err);
    rate_is(&s.hit[1], 3, 4); /* r2 still hit by the purchase of i3 at 250 */
    o.horizon = 10;           /* clicks 50 s after: none */
    rp_mon_serving_free(&s);
    rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err);
    rate_is(&s.ctr[1], 0, 4);
    rp_mon_serving_free(&s);
    /* click types the log lacks: ctr not measured */
    rp_mon_serving_opts_init(&o);
    const char *tap[] = {"tap"};
    o.click_types = tap;
    rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err);
    ck_assert(!s.has_clicks);
    ck_assert(isnan(s.values[0].value));
    rp_mon_serving_free(&s);
    /* a separate hits log: only u1's view of i2 -> r2 hit */
    uint8_t keep[6] = {0, 0, 0, 0, 1, 0};
    rp_events *h = rp_events_select(fb, keep, &err);
    rp_mon_serving_opts_init(&o);
    rp_mon_serving_compute(imp, fb, h, &o, &s, &err);
    rate_is(&s.hit[1], 1, 4);
    rate_is(&s.ctr[1], 2, 4);
    rp_mon_serving_free(&s);
    rp_events_free(h);
    rp_events_free(imp);
    rp_events_free(fb);
  }
}
END_TEST

START_TEST(serving_bad_input) {
  rp_events *imp, *fb;
  serving_logs(1, &imp, &fb);
  rp_mon_serving_opts o;
  rp_mon_serving_opts_init(&o);
  rp_mon_serving s;
  rp_err err;
  o.level = 1;
  ck_assert_int_eq(rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'level' must be in (0, 1), got 1"), "%s", err.msg);
  rp_mon_serving_opts_init(&o);
  o.horizon = -1;
  ck_assert_int_eq(rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'horizon'"), "%s", err.msg);
  rp_mon_serving_opts_init(&o);
  rp_events *other = rp_test_events(1, (int[]){0}, (int[]){0}, NULL, (int64_t[]){5});
  ck_assert_int_eq(rp_mon_serving_compute(imp, other, NULL, &o, &s, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "the feedback events must be on the impressions' user and item"),
                "%s", err.msg);
  rp_events *untimed = rp_events_new(imp->users, imp->items, 0, NULL, 0, NULL, NULL, &err);
  ck_assert_int_eq(rp_mon_serving_compute(untimed, fb, NULL, &o, &s, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "the impressions have no time column"), "%s", err.msg);
  /* empty logs: nothing measured, no error */
  uint8_t none[7] = {0};
  rp_events *e1 = rp_events_select(imp, none, &err), *e2 = rp_events_select(fb, none, &err);
  ck_assert_int_eq(rp_mon_serving_compute(e1, e2, NULL, &o, &s, &err), RP_OK);
  ck_assert_int_eq(s.requests[1], 0);
  ck_assert(isnan(s.values[2].value));
  rp_mon_serving_free(&s);
  rp_events_free(e1);
  rp_events_free(e2);
  rp_events_free(untimed);
  rp_events_free(other);
  rp_events_free(imp);
  rp_events_free(fb);
}
END_TEST

static int serving_once(const rp_events *imp, const rp_events *fb) {
  rp_mon_serving_opts o;
  rp_mon_serving_opts_init(&o);
  rp_mon_serving s;
  rp_err err;
  int rc = rp_mon_serving_compute(imp, fb, NULL, &o, &s, &err);
  rp_mon_serving_free(&s);
  return rc;
}

/* ---- allocation failures ---------------------------------------------------------------- */
static int windows_once(const rp_events *a, const rp_events *b) {
  rp_mon_window_opts o;
  rp_mon_window_opts_init(&o);
  o.item_bins = 2; /* the binning allocation too */
  rp_mon_windows w;
  rp_err err;
  return rp_mon_compare_windows(a, b, &o, &w, &err);
}

static int lists_once(void) {
  rp_mon_lists a = {.n = 3, .k = 3, .items = ia, .scores = sa, .len = la},
               b = {.n = 3, .k = 3, .items = ib, .scores = sb, .len = lb};
  rp_mon_lists_opts o;
  rp_mon_lists_opts_init(&o);
  rp_mon_lists_result r;
  rp_err err;
  return rp_mon_compare_lists(&a, &b, 6, &o, &r, &err);
}

START_TEST(fault_loops) {
  rp_events *a, *b;
  two_windows(&a, &b);
  RP_FAULT_LOOP(windows_once(a, b));
  RP_FAULT_LOOP(lists_once());
  rp_events_free(a);
  rp_events_free(b);
  rp_events *imp, *fb;
  serving_logs(1, &imp, &fb);
  RP_FAULT_LOOP(serving_once(imp, fb));
  rp_events_free(imp);
  rp_events_free(fb);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("monitor");
  TCase *tc = tcase_create("monitor");
  tcase_add_test(tc, measure_table);
  tcase_add_test(tc, thresholds_and_alerts);
  tcase_add_test(tc, distance_by_hand);
  tcase_add_test(tc, distance_binned);
  tcase_add_test(tc, windows_by_hand);
  tcase_add_test(tc, windows_edges);
  tcase_add_test(tc, windows_median);
  tcase_add_test(tc, lists_by_hand);
  tcase_add_test(tc, lists_rbo_reference);
  tcase_add_test(tc, lists_bad_input);
  tcase_add_test(tc, serving_by_hand);
  tcase_add_test(tc, serving_bad_input);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
