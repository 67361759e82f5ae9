/* Check tests for the split core: invariants (disjoint, union = input,
 * time order, determinism per seed), hand-computed small cases, drop
 * counts, bad arguments and allocation-failure loops. */
#include <math.h>

#include "rptest.h"
#include "split.h"

/* Events from (user, item, time) triples; value = row number, so every
 * row can be traced through a split. */
static rp_events *mk(int n, const int *u, const int *it, const int64_t *t) {
  rp_events *ev = rp_test_events(n, u, it, NULL, t);
  for (int i = 0; i < n; i++) ev->value[i] = (float)i;
  return ev;
}

/* A random log: n events over nu users and ni items, times in [0, 1e6). */
static rp_events *mk_random(int n, int nu, int ni, uint64_t seed) {
  int *u = malloc(sizeof(int) * (size_t)n), *it = malloc(sizeof(int) * (size_t)n);
  int64_t *t = malloc(sizeof(int64_t) * (size_t)n);
  rp_rng r;
  rp_rng_seed(&r, seed, 0);
  for (int i = 0; i < n; i++) {
    u[i] = (int)rp_rng_below(&r, (uint64_t)nu);
    it[i] = (int)rp_rng_below(&r, (uint64_t)ni);
    t[i] = (int64_t)rp_rng_below(&r, 1000000);
  }
  rp_events *ev = mk(n, u, it, t);
  free(u);
  free(it);
  free(t);
  return ev;
}

/* Every input row is in exactly one of train/test/dropped, each part in
 * input order; returns a label per row (1 train, 2 test, 0 dropped). */
static uint8_t *partition(const rp_events *ev, const rp_events *tr, const rp_events *te) {
  uint8_t *lab = calloc((size_t)ev->n + 1, 1);
  const rp_events *parts[2] = {tr, te};
  for (int p = 0; p < 2; p++) {
    float last = -1;
    ck_assert_ptr_eq(parts[p]->users, ev->users); /* maps shared */
    ck_assert_ptr_eq(parts[p]->items, ev->items);
    for (int64_t j = 0; j < parts[p]->n; j++) {
      int64_t i = (int64_t)parts[p]->value[j];
      ck_assert(parts[p]->value[j] > last);
      last = parts[p]->value[j];
      ck_assert_int_eq(lab[i], 0);
      lab[i] = (uint8_t)(p + 1);
      ck_assert_int_eq(parts[p]->user[j], ev->user[i]);
      ck_assert_int_eq(parts[p]->item[j], ev->item[i]);
      if (ev->time) ck_assert_int_eq(parts[p]->time[j], ev->time[i]);
    }
  }
  return lab;
}

static int same_events(const rp_events *a, const rp_events *b) {
  if (a->n != b->n) return 0;
  for (int64_t i = 0; i < a->n; i++)
    if (a->value[i] != b->value[i]) return 0;
  return 1;
}

START_TEST(random_invariants) {
  rp_events *ev = mk_random(20000, 300, 200, 1);
  rp_events *tr, *te, *tr2, *te2;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_random(ev, 0.2, 7, RP_SPLIT_BY_EVENT, &tr, &te, &rep, &err), 0);
  uint8_t *lab = partition(ev, tr, te);
  for (int64_t i = 0; i < ev->n; i++) ck_assert_int_ne(lab[i], 0); /* union = input */
  ck_assert_int_eq(rep.train + rep.test, ev->n);
  ck_assert_int_eq(rep.train, tr->n);
  ck_assert_int_eq(rep.dropped, 0);
  double f = (double)te->n / (double)ev->n;
  ck_assert(f > 0.18 && f < 0.22);
  /* same seed, same split; another seed, another split */
  ck_assert_int_eq(rp_split_random(ev, 0.2, 7, RP_SPLIT_BY_EVENT, &tr2, &te2, &rep, &err), 0);
  ck_assert(same_events(te, te2));
  rp_events_free(tr2);
  rp_events_free(te2);
  ck_assert_int_eq(rp_split_random(ev, 0.2, 8, RP_SPLIT_BY_EVENT, &tr2, &te2, &rep, &err), 0);
  ck_assert(!same_events(te, te2));
  rp_events_free(tr2);
  rp_events_free(te2);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

START_TEST(random_by_pair_keeps_pairs_together) {
  /* 50 users x 20 items, each pair 3 times */
  int n = 3000, u[3000], it[3000];
  for (int i = 0; i < n; i++) u[i] = (i / 3) % 50, it[i] = (i / 3) / 50;
  rp_events *ev = mk(n, u, it, NULL);
  rp_events *tr, *te;
  rp_split_report rep;
  ck_assert_int_eq(rp_split_random(ev, 0.3, 11, RP_SPLIT_BY_PAIR, &tr, &te, &rep, NULL), 0);
  uint8_t *lab = partition(ev, tr, te);
  for (int i = 0; i < n; i += 3) {
    ck_assert_int_eq(lab[i], lab[i + 1]);
    ck_assert_int_eq(lab[i], lab[i + 2]);
  }
  ck_assert(te->n > 600 && te->n < 1200);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

START_TEST(kfold_partitions) {
  rp_events *ev = mk_random(5000, 100, 80, 2);
  uint8_t *seen = calloc((size_t)ev->n, 1);
  for (int32_t f = 0; f < 4; f++) {
    rp_events *tr, *te;
    rp_split_report rep;
    rp_err err;
    ck_assert_int_eq(rp_split_kfold(ev, 4, f, 3, RP_SPLIT_BY_PAIR, &tr, &te, &rep, &err), 0);
    uint8_t *lab = partition(ev, tr, te);
    for (int64_t i = 0; i < ev->n; i++) {
      ck_assert_int_ne(lab[i], 0);
      if (lab[i] == 2) seen[i]++;
    }
    double frac = (double)te->n / (double)ev->n;
    ck_assert(frac > 0.2 && frac < 0.3);
    if (f == 0) { /* fold 1 of k is random(1/k) with the same seed */
      rp_events *tr2, *te2;
      ck_assert_int_eq(rp_split_random(ev, 0.25, 3, RP_SPLIT_BY_PAIR, &tr2, &te2, &rep, &err), 0);
      ck_assert(same_events(te, te2));
      rp_events_free(tr2);
      rp_events_free(te2);
    }
    free(lab);
    rp_events_free(tr);
    rp_events_free(te);
  }
  for (int64_t i = 0; i < ev->n; i++) ck_assert_int_eq(seen[i], 1); /* each row tested once */
  free(seen);
  rp_events *tr, *te;
  rp_err err;
  ck_assert_int_eq(rp_split_kfold(ev, 1, 0, 3, 0, &tr, &te, NULL, &err), RP_EINVAL);
  ck_assert_int_eq(rp_split_kfold(ev, 4, 4, 3, 0, &tr, &te, NULL, &err), RP_EINVAL);
  ck_assert_ptr_null(tr);
  rp_events_free(ev);
}
END_TEST

START_TEST(by_time_cutoff_and_unknown) {
  /* u0: i0@1 i1@2 i2@8; u1: i0@3 i3@9; u2: i1@9 (new user); i4@10 by u0 (new item) */
  int u[] = {0, 0, 0, 1, 1, 2, 0};
  int it[] = {0, 1, 2, 0, 3, 1, 4};
  int64_t t[] = {1, 2, 8, 3, 9, 9, 10};
  rp_events *ev = mk(7, u, it, t);
  rp_events *tr, *te;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_by_time(ev, 0, 8, 1, 0, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(tr->n, 3); /* times 1, 2, 3: rows 0, 1, 3 */
  uint8_t *lab = partition(ev, tr, te);
  const uint8_t want8[] = {1, 1, 0, 1, 0, 0, 0};
  ck_assert(memcmp(lab, want8, 7) == 0);
  free(lab);
  /* test candidates: i2@8 (u0 known, i2 unknown), i3@9 (i3 unknown), u2 i1@9
   * (u2 unknown), i4@10 (unknown item) */
  ck_assert_int_eq(te->n, 0);
  ck_assert_int_eq(rep.dropped, 4);
  ck_assert_int_eq(rep.dropped_user_events, 1);
  ck_assert_int_eq(rep.dropped_item_events, 3);
  ck_assert_int_eq(rep.unknown_users, 1);
  ck_assert_int_eq(rep.unknown_items, 3);
  ck_assert_int_eq(rep.cutoff, 8);
  rp_events_free(tr);
  rp_events_free(te);
  /* keep_unknown keeps them, counts stay */
  ck_assert_int_eq(rp_split_by_time(ev, 0, 8, 1, 1, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(te->n, 4);
  lab = partition(ev, tr, te);
  const uint8_t want8k[] = {1, 1, 2, 1, 2, 2, 2};
  ck_assert(memcmp(lab, want8k, 7) == 0);
  free(lab);
  ck_assert_int_eq(rep.dropped, 0);
  ck_assert_int_eq(rep.unknown_users, 1);
  ck_assert_int_eq(rep.test_users, 3);
  rp_events_free(tr);
  rp_events_free(te);
  /* cutoff 9 keeps i2@8 in train: then u0's i1@9 ... u2 still unknown */
  ck_assert_int_eq(rp_split_by_time(ev, 0, 9, 1, 0, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(tr->n, 4);
  ck_assert_int_eq(te->n, 0); /* i3 unknown, u2 unknown, i4 unknown */
  ck_assert_int_eq(rep.dropped, 3);
  lab = partition(ev, tr, te);
  const uint8_t want9[] = {1, 1, 1, 1, 0, 0, 0};
  ck_assert(memcmp(lab, want9, 7) == 0);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

START_TEST(by_time_fraction) {
  rp_events *ev = mk_random(10000, 50, 40, 4);
  rp_events *tr, *te;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_by_time(ev, 0.25, 0, 0, 1, &tr, &te, &rep, &err), 0);
  int64_t tmax_train = INT64_MIN, tmin_test = INT64_MAX;
  for (int64_t i = 0; i < tr->n; i++)
    if (tr->time[i] > tmax_train) tmax_train = tr->time[i];
  for (int64_t i = 0; i < te->n; i++)
    if (te->time[i] < tmin_test) tmin_test = te->time[i];
  ck_assert(tmax_train < rep.cutoff);
  ck_assert_int_eq(tmin_test, rep.cutoff);
  /* exactly 7500 events lie before the cutoff unless ties sit at it */
  int64_t before = 0;
  for (int64_t i = 0; i < ev->n; i++) before += ev->time[i] < rep.cutoff;
  ck_assert_int_eq(tr->n, before);
  ck_assert(before <= 7500 && before > 7490);
  uint8_t *lab = partition(ev, tr, te);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  /* without time column: a clear error */
  int u[] = {0}, it[] = {0};
  rp_events *nt = mk(1, u, it, NULL);
  ck_assert_int_eq(rp_split_by_time(nt, 0.2, 0, 0, 0, &tr, &te, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "time column"));
  ck_assert_int_eq(rp_split_by_time(ev, 1.0, 0, 0, 0, &tr, &te, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "test_fraction"));
  rp_events_free(nt);
  rp_events_free(ev);
}
END_TEST

START_TEST(leave_last_hand) {
  /* u0 has 4 events with a tie at time 5 (input order breaks it), u1 has 1,
   * u2 has 2 out of time order */
  int u[] = {0, 0, 1, 0, 2, 0, 2};
  int it[] = {0, 1, 0, 2, 3, 4, 5};
  int64_t t[] = {1, 5, 3, 5, 9, 2, 4};
  rp_events *ev = mk(7, u, it, t);
  rp_events *tr, *te;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_leave_last(ev, 1, 2, &tr, &te, &rep, &err), 0);
  /* u0 order by time: row0@1, row5@2, row1@5, row3@5 -> last is row 3;
   * u1: 1 event < min_history -> train; u2: row6@4, row4@9 -> row 4 */
  ck_assert_int_eq(te->n, 2);
  ck_assert_int_eq((int)te->value[0], 3);
  ck_assert_int_eq((int)te->value[1], 4);
  uint8_t *lab1 = partition(ev, tr, te);
  const uint8_t want1[] = {1, 1, 1, 2, 2, 1, 1};
  ck_assert(memcmp(lab1, want1, 7) == 0);
  free(lab1);
  ck_assert_int_eq(rep.short_users, 1);
  ck_assert_int_eq(rep.test_users, 2);
  rp_events_free(tr);
  rp_events_free(te);
  /* k = 2: u0 rows 1 and 3; u2 keeps one in train -> row 4 only */
  ck_assert_int_eq(rp_split_leave_last(ev, 2, 2, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(te->n, 3);
  ck_assert_int_eq((int)te->value[0], 1);
  ck_assert_int_eq((int)te->value[1], 3);
  ck_assert_int_eq((int)te->value[2], 4);
  uint8_t *lab = partition(ev, tr, te);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  /* min_history 4: only u0 qualifies */
  ck_assert_int_eq(rp_split_leave_last(ev, 1, 4, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(te->n, 1);
  ck_assert_int_eq((int)te->value[0], 3);
  ck_assert_int_eq(tr->n, 6);
  ck_assert_int_eq(rep.short_users, 2);
  rp_events_free(tr);
  rp_events_free(te);
  ck_assert_int_eq(rp_split_leave_last(ev, 0, 2, &tr, &te, &rep, &err), RP_EINVAL);
  rp_events_free(ev);
  /* no time column: input order is the chronology */
  int u2[] = {0, 0, 0}, it2[] = {5, 6, 7};
  ev = mk(3, u2, it2, NULL);
  ck_assert_int_eq(rp_split_leave_last(ev, 1, 2, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(te->n, 1);
  ck_assert_int_eq((int)te->value[0], 2);
  ck_assert_int_eq(tr->n, 2);
  ck_assert_int_eq((int)tr->value[0], 0);
  ck_assert_int_eq((int)tr->value[1], 1);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

START_TEST(per_user_time_hand) {
  /* u0: 10 events at times 10..1 (reverse input order), u1: 5 events, u2: 4 */
  int u[19], it[19];
  int64_t t[19];
  for (int i = 0; i < 10; i++) u[i] = 0, it[i] = i, t[i] = 10 - i;
  for (int i = 10; i < 15; i++) u[i] = 1, it[i] = i, t[i] = i;
  for (int i = 15; i < 19; i++) u[i] = 2, it[i] = i, t[i] = i;
  rp_events *ev = mk(19, u, it, t);
  rp_events *tr, *te;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_per_user_time(ev, 0.1, 2, &tr, &te, &rep, &err), 0);
  /* u0: round(1.0) = 1 -> row 0 (time 10); u1: round(0.5) = 1 -> row 14;
   * u2: round(0.4) = 0 */
  ck_assert_int_eq(te->n, 2);
  ck_assert_int_eq((int)te->value[0], 0);
  ck_assert_int_eq((int)te->value[1], 14);
  rp_events_free(tr);
  rp_events_free(te);
  ck_assert_int_eq(rp_split_per_user_time(ev, 0.3, 2, &tr, &te, &rep, &err), 0);
  /* u0: 3 newest rows 0,1,2; u1: round(1.5) = 2 -> 13,14; u2: round(1.2) = 1 */
  ck_assert_int_eq(te->n, 6);
  int want[] = {0, 1, 2, 13, 14, 18};
  for (int i = 0; i < 6; i++) ck_assert_int_eq((int)te->value[i], want[i]);
  uint8_t *lab = partition(ev, tr, te);
  free(lab);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

START_TEST(window_and_range) {
  rp_events *ev = mk_random(3000, 30, 30, 5);
  rp_events *tr, *te, *r;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_window(ev, 100000, 400000, 500000, 1, &tr, &te, &rep, &err), 0);
  for (int64_t i = 0; i < tr->n; i++) ck_assert(tr->time[i] >= 100000 && tr->time[i] < 400000);
  for (int64_t i = 0; i < te->n; i++) ck_assert(te->time[i] >= 400000 && te->time[i] < 500000);
  int64_t in = 0;
  for (int64_t i = 0; i < ev->n; i++) in += ev->time[i] >= 100000 && ev->time[i] < 500000;
  ck_assert_int_eq(tr->n + te->n, in);
  ck_assert_int_eq(rep.outside, ev->n - in);
  rp_events_free(tr);
  rp_events_free(te);
  ck_assert_int_eq(rp_split_window(ev, 5, 4, 6, 1, &tr, &te, &rep, &err), RP_EINVAL);
  ck_assert_int_eq(rp_split_time_range(ev, 200000, 300000, &r, &rep, &err), 0);
  for (int64_t i = 0; i < r->n; i++) ck_assert(r->time[i] >= 200000 && r->time[i] < 300000);
  ck_assert_int_eq(r->n + rep.outside, ev->n);
  rp_events_free(r);
  rp_events_free(ev);
}
END_TEST

START_TEST(empty_input) {
  rp_events *ev = mk(0, NULL, NULL, (int64_t[]){0});
  rp_events *tr, *te;
  rp_split_report rep;
  rp_err err;
  ck_assert_int_eq(rp_split_random(ev, 0.2, 1, 0, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(tr->n + te->n, 0);
  rp_events_free(tr);
  rp_events_free(te);
  ck_assert_int_eq(rp_split_by_time(ev, 0.2, 0, 0, 0, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(tr->n + te->n, 0);
  ck_assert_int_eq(rep.dropped, 0);
  ck_assert_ptr_eq(tr->users, ev->users);
  rp_events_free(tr);
  rp_events_free(te);
  ck_assert_int_eq(rp_split_leave_last(ev, 1, 2, &tr, &te, &rep, &err), 0);
  ck_assert_int_eq(tr->n + te->n, 0);
  ck_assert_int_eq(rep.test_users, 0);
  ck_assert_ptr_eq(te->items, ev->items);
  rp_events_free(tr);
  rp_events_free(te);
  rp_events_free(ev);
}
END_TEST

/* fault loops: every allocation of each split may fail cleanly, and the
 * run that completes gives the split of a run without failures (ref) */
static rp_events *fev, *ref_tr[6], *ref_te[6];
static int run_split(int which) {
  rp_events *tr = NULL, *te = NULL;
  rp_split_report rep;
  rp_err err;
  int rc;
  switch (which) {
    case 0:
      rc = rp_split_random(fev, 0.3, 1, 0, &tr, &te, &rep, &err);
      break;
    case 1:
      rc = rp_split_by_time(fev, 0.3, 0, 0, 0, &tr, &te, &rep, &err);
      break;
    case 2:
      rc = rp_split_leave_last(fev, 2, 2, &tr, &te, &rep, &err);
      break;
    case 3:
      rc = rp_split_per_user_time(fev, 0.2, 2, &tr, &te, &rep, &err);
      break;
    case 4:
      rc = rp_split_kfold(fev, 3, 1, 1, 1, &tr, &te, &rep, &err);
      break;
    default:
      rc = rp_split_time_range(fev, 0, 500000, &tr, &rep, &err);
      break;
  }
  if (rc) {
    ck_assert_int_eq(rc, RP_ENOMEM);
    ck_assert_ptr_null(tr);
    ck_assert_ptr_null(te);
  } else if (!ref_tr[which]) {
    ref_tr[which] = tr, ref_te[which] = te;
    return rc;
  } else {
    ck_assert(same_events(tr, ref_tr[which]));
    ck_assert(te ? same_events(te, ref_te[which]) : !ref_te[which]);
  }
  rp_events_free(tr);
  rp_events_free(te);
  return rc;
}

START_TEST(fault_loops) {
  fev = mk_random(500, 20, 20, 6);
  for (int w = 0; w < 6; w++) {
    ck_assert_int_eq(run_split(w), 0); /* the reference */
    ck_assert(ref_tr[w]->n > 0);
    if (w < 5) ck_assert(ref_te[w]->n > 0 && ref_tr[w]->n + ref_te[w]->n <= fev->n);
    RP_FAULT_LOOP(run_split(w));
    rp_events_free(ref_tr[w]);
    rp_events_free(ref_te[w]);
  }
  rp_events_free(fev);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("split");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, random_invariants);
  tcase_add_test(tc, random_by_pair_keeps_pairs_together);
  tcase_add_test(tc, kfold_partitions);
  tcase_add_test(tc, by_time_cutoff_and_unknown);
  tcase_add_test(tc, by_time_fraction);
  tcase_add_test(tc, leave_last_hand);
  tcase_add_test(tc, per_user_time_hand);
  tcase_add_test(tc, window_and_range);
  tcase_add_test(tc, empty_input);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
