/* Check tests for the cold-start splits: what is held out, what is known
 * at each reveal size (the oldest events, ties by input order), folds that
 * partition the users, determinism, bad arguments, fault loops. */
#include "split.h"
#include "rptest.h"

enum { NU = 50, NI = 30 };

/* A log where user u has u % 9 + 1 events at shuffled times with ties. */
static rp_events *make_log(void) {
  rp_events *ev = rp_events_new(NULL, NULL, 1, NULL, 0, NULL, NULL, NULL);
  char buf[16];
  int32_t j;
  for (int u = 0; u < NU; u++) {
    int len = snprintf(buf, sizeof buf, "u%d", u);
    rp_idmap_intern(ev->users, buf, (size_t)len, &j, NULL);
  }
  for (int i = 0; i < NI; i++) {
    int len = snprintf(buf, sizeof buf, "i%d", i);
    rp_idmap_intern(ev->items, buf, (size_t)len, &j, NULL);
  }
  rp_rng g;
  rp_rng_seed(&g, 11, 0);
  rp_events_reserve(ev, 1000, NULL);
  for (int round = 0; round < 9; round++)
    for (int u = 0; u < NU; u++) {
      if (round > u % 9) continue;
      int64_t k = ev->n++;
      ev->user[k] = u;
      ev->item[k] = (int32_t)rp_rng_below(&g, NI);
      ev->value[k] = 1;
      ev->time[k] = 1000 - (int64_t)rp_rng_below(&g, 4) * 100; /* many ties */
    }
  return ev;
}

/* Number of events of user u in ev. */
static int count_user(const rp_events *ev, int32_t u) {
  int c = 0;
  for (int64_t i = 0; i < ev->n; i++) c += ev->user[i] == u;
  return c;
}

START_TEST(cold_users_known_and_test) {
  rp_events *ev = make_log();
  int32_t reveal[] = {0, 1, 3};
  rp_split_cold_opts o = {0.2, 0, 0, reveal, 3, 7, 1, 0};
  rp_split_cold c;
  rp_err err;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), 0);
  ck_assert_int_eq(c.nusers, 10);
  uint8_t cold[NU] = {0};
  for (int j = 0; j < c.nusers; j++) {
    cold[c.users[j]] = 1;
    if (j) ck_assert_int_lt(c.users[j - 1], c.users[j]);
  }
  ck_assert_ptr_eq(c.train->users, ev->users); /* shared maps */
  int64_t ncold = 0;
  for (int64_t i = 0; i < ev->n; i++) ncold += cold[ev->user[i]];
  ck_assert_int_eq(c.train->n, ev->n - ncold);
  for (int64_t i = 0; i < c.train->n; i++) ck_assert(!cold[c.train->user[i]]);
  for (int r = 0; r < 3; r++) {
    ck_assert_int_eq(c.known[r]->n + c.test[r]->n, ncold);
    int test_users = 0;
    for (int j = 0; j < c.nusers; j++) {
      int32_t u = c.users[j];
      int total = count_user(ev, u), nk = count_user(c.known[r], u);
      ck_assert_int_eq(nk, total < reveal[r] ? total : reveal[r]);
      test_users += total > reveal[r];
      /* the known events are the oldest: no test event is older than a known one,
       * and among equal times, known ones come first in the log */
      int64_t kmax = INT64_MIN;
      for (int64_t i = 0; i < c.known[r]->n; i++)
        if (c.known[r]->user[i] == u && c.known[r]->time[i] > kmax) kmax = c.known[r]->time[i];
      for (int64_t i = 0; i < c.test[r]->n; i++)
        if (c.test[r]->user[i] == u) ck_assert_int_ge(c.test[r]->time[i], kmax);
    }
    ck_assert_int_eq(c.test_users[r], test_users);
  }
  /* ties broken by input order: redo the selection by hand for reveal 3 */
  for (int j = 0; j < c.nusers; j++) {
    int32_t u = c.users[j];
    int64_t rows[16];
    int n = 0;
    for (int64_t i = 0; i < ev->n; i++)
      if (ev->user[i] == u) rows[n++] = i;
    for (int a = 1; a < n; a++) { /* stable insertion sort by time */
      int64_t v = rows[a];
      int b = a - 1;
      while (b >= 0 && ev->time[rows[b]] > ev->time[v]) rows[b + 1] = rows[b], b--;
      rows[b + 1] = v;
    }
    int want_items[16], nw = 0, got_items[16], ng = 0;
    for (int a = 0; a < n && a < 3; a++) want_items[nw++] = ev->item[rows[a]];
    for (int64_t i = 0; i < c.known[2]->n; i++)
      if (c.known[2]->user[i] == u) got_items[ng++] = c.known[2]->item[i];
    ck_assert_int_eq(ng, nw);
    /* same multiset (known is in log order, want in time order) */
    for (int a = 0; a < nw; a++) {
      int found = 0;
      for (int b = 0; b < ng; b++)
        if (got_items[b] == want_items[a]) got_items[b] = -1, found = 1, b = ng;
      ck_assert(found);
    }
  }
  /* determinism and seeds */
  rp_split_cold c2;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c2, &err), 0);
  ck_assert_int_eq(memcmp(c.users, c2.users, sizeof(int32_t) * (size_t)c.nusers), 0);
  rp_split_cold_free(&c2);
  o.seed = 8;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c2, &err), 0);
  ck_assert_int_ne(memcmp(c.users, c2.users, sizeof(int32_t) * (size_t)c.nusers), 0);
  rp_split_cold_free(&c2);
  rp_split_cold_free(&c);
  /* same_test: the test is what follows the largest reveal, for every size */
  o.same_test = 1;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), 0);
  ck_assert_int_eq(c.test[0]->n, c.test[2]->n);
  ck_assert_int_eq(memcmp(c.test[0]->item, c.test[2]->item, sizeof(int32_t) * (size_t)c.test[0]->n),
                   0);
  rp_split_cold_free(&c);
  /* min_events: only users with enough events are held out */
  o.same_test = 0;
  o.min_events = 6;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), 0);
  for (int j = 0; j < c.nusers; j++) ck_assert_int_ge(count_user(ev, c.users[j]), 6);
  rp_split_cold_free(&c);
  rp_events_free(ev);
}
END_TEST

START_TEST(cold_user_folds_partition) {
  rp_events *ev = make_log();
  int32_t reveal[] = {1};
  int seen[NU] = {0};
  for (int fold = 1; fold <= 4; fold++) {
    rp_split_cold_opts o = {0, 4, fold, reveal, 1, 3, 1, 0};
    rp_split_cold c;
    rp_err err;
    ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), 0);
    ck_assert(c.nusers == 12 || c.nusers == 13);
    for (int j = 0; j < c.nusers; j++) seen[c.users[j]]++;
    rp_split_cold_free(&c);
  }
  for (int u = 0; u < NU; u++) ck_assert_int_eq(seen[u], 1);
  /* fraction 1/4 holds out the first fold's users */
  rp_split_cold_opts a = {0, 4, 1, reveal, 1, 3, 1, 0}, b = {12.0 / 50, 0, 0, reveal, 1, 3, 1, 0};
  rp_split_cold ca, cb;
  ck_assert_int_eq(rp_split_cold_users(ev, &a, &ca, NULL), 0);
  ck_assert_int_eq(rp_split_cold_users(ev, &b, &cb, NULL), 0);
  ck_assert_int_eq(ca.nusers, cb.nusers);
  ck_assert_int_eq(memcmp(ca.users, cb.users, sizeof(int32_t) * (size_t)ca.nusers), 0);
  rp_split_cold_free(&ca);
  rp_split_cold_free(&cb);
  rp_events_free(ev);
}
END_TEST

START_TEST(cold_items_split) {
  rp_events *ev = make_log();
  rp_events *train, *test;
  int32_t *items, n;
  rp_err err;
  ck_assert_int_eq(rp_split_cold_items(ev, 0.3, 5, &train, &test, &items, &n, &err), 0);
  uint8_t cold[NI] = {0};
  for (int j = 0; j < n; j++) cold[items[j]] = 1;
  ck_assert_int_eq(train->n + test->n, ev->n);
  for (int64_t i = 0; i < train->n; i++) ck_assert(!cold[train->item[i]]);
  for (int64_t i = 0; i < test->n; i++) ck_assert(cold[test->item[i]]);
  ck_assert_int_gt(n, 0);
  rp_events_free(train);
  rp_events_free(test);
  rp_free(items);
  ck_assert_int_eq(rp_split_cold_items(ev, 1.5, 5, &train, &test, &items, &n, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "fraction must be in (0, 1]"));
  ck_assert_ptr_null(train);
  RP_FAULT_LOOP(rp_split_cold_items(ev, 0.3, 5, &train, &test, &items, &n, NULL)
                    ? 1
                    : (rp_events_free(train), rp_events_free(test), rp_free(items), 0));
  rp_events_free(ev);
}
END_TEST

static int users_scenario(const rp_events *ev, const rp_split_cold_opts *o) {
  rp_split_cold c;
  int rc = rp_split_cold_users(ev, o, &c, NULL);
  if (!rc) rp_split_cold_free(&c);
  return rc;
}

START_TEST(bad_arguments_and_faults) {
  rp_events *ev = make_log();
  int32_t reveal[] = {0, 2, 4}, neg[] = {-1};
  rp_split_cold c;
  rp_err err;
  rp_split_cold_opts o = {0, 0, 0, reveal, 3, 1, 1, 0};
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "fraction"));
  o.fraction = 0.001; /* holds out nobody */
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "holding out 0 of the 50"));
  o.fraction = 0.2;
  o.folds = 3;
  o.fold = 4;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "fold must be in 1..folds"));
  o.folds = 0;
  o.reveal = neg;
  o.nreveal = 1;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  o.nreveal = 0;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  o.reveal = reveal;
  o.nreveal = 3;
  o.min_events = 100;
  ck_assert_int_eq(rp_split_cold_users(ev, &o, &c, &err), RP_EINVAL);
  o.min_events = 1;
  RP_FAULT_LOOP(users_scenario(ev, &o));
  rp_events_free(ev);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("split_cold");
  TCase *tc = tcase_create("split");
  tcase_add_test(tc, cold_users_known_and_test);
  tcase_add_test(tc, cold_user_folds_partition);
  tcase_add_test(tc, cold_items_split);
  tcase_add_test(tc, bad_arguments_and_faults);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
