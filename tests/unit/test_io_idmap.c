/* Check tests for IdMap (modules/io/idmap.c): byte-exact ids, first-appearance
 * order, short (inline key) and long ids, a naive reference on random ids,
 * copy/subset, and allocation failure. */
#include "idmap.h"
#include "rptest.h"

static int32_t add(rp_idmap *m, const char *s, size_t n) {
  int32_t i = -7;
  rp_err err;
  ck_assert_int_eq(rp_idmap_intern(m, s, n, &i, &err), RP_OK);
  return i;
}

START_TEST(exact_ids) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  ck_assert_int_eq(add(m, "17850", 5), 0);
  ck_assert_int_eq(add(m, "17850.0", 7), 1);
  ck_assert_int_eq(add(m, "17850", 5), 0);
  ck_assert_int_eq(add(m, " 17850", 6), 2);
  ck_assert_int_eq(add(m, "", 0), 3);
  ck_assert_int_eq(add(m, "a\0b", 3), 4); /* a NUL byte inside an id */
  ck_assert_int_eq(add(m, "a", 1), 5);
  ck_assert_int_eq(add(m, "a\0", 2), 6);
  /* 7 and 8 bytes: the inline key holds 7, longer ids compare the arena */
  ck_assert_int_eq(add(m, "abcdefg", 7), 7);
  ck_assert_int_eq(add(m, "abcdefgh", 8), 8);
  ck_assert_int_eq(add(m, "abcdefgX", 8), 9);
  ck_assert_int_eq(add(m, "abcdefgh-1", 10), 10);
  ck_assert_int_eq(add(m, "abcdefgh-2", 10), 11);
  ck_assert_int_eq(rp_idmap_find(m, "abcdefgh-2", 10), 11);
  ck_assert_int_eq(rp_idmap_find(m, "abcdefgh-3", 10), -1);
  ck_assert_int_eq(rp_idmap_find(m, "17850.00", 8), -1);
  ck_assert_int_eq(rp_idmap_find(m, "a\0b", 3), 4);
  ck_assert_int_eq(m->n, 12);
  size_t len;
  const char *s = rp_idmap_id(m, 1, &len);
  ck_assert_uint_eq(len, 7);
  ck_assert_str_eq(s, "17850.0");
  s = rp_idmap_id(m, 4, &len);
  ck_assert_uint_eq(len, 3);
  ck_assert_int_eq(memcmp(s, "a\0b", 3), 0);
  /* the padded hash agrees with the plain one on padded storage */
  char buf[64] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (size_t n = 0; n < 30; n++)
    ck_assert_uint_eq(rp_idmap_hash_padded(buf + 1, n), rp_idmap_hash(buf + 1, n));
  rp_idmap_release(m);
}
END_TEST

/* random ids of 0..20 bytes over a small alphabet (many repeats and shared
 * prefixes) against a naive list with linear search */
START_TEST(random_against_naive) {
  rp_rng r;
  rp_rng_seed(&r, 3, 0);
  enum { N = 30000 };
  static char ids[N][24];
  static size_t lens[N];
  static int32_t want[N];
  int32_t nd = 0;
  static int32_t first[N]; /* first[d] = k of the first occurrence of distinct id d */
  for (int k = 0; k < N; k++) {
    if (k > 0 && rp_rng_below(&r, 3) == 0) {
      int j = (int)rp_rng_below(&r, (uint64_t)k);
      memcpy(ids[k], ids[j], lens[j]);
      lens[k] = lens[j];
    } else {
      lens[k] = (size_t)rp_rng_below(&r, 21);
      for (size_t i = 0; i < lens[k]; i++) ids[k][i] = "ab\0,\"x1"[rp_rng_below(&r, 7)];
    }
    want[k] = -1;
    for (int32_t d = 0; d < nd; d++)
      if (lens[first[d]] == lens[k] && memcmp(ids[first[d]], ids[k], lens[k]) == 0) {
        want[k] = d;
        break;
      }
    if (want[k] < 0) first[nd] = k, want[k] = nd++;
  }
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  for (int k = 0; k < N; k++) ck_assert_int_eq(add(m, ids[k], lens[k]), want[k]);
  ck_assert_int_eq(m->n, nd);
  for (int k = 0; k < N; k++) ck_assert_int_eq(rp_idmap_find(m, ids[k], lens[k]), want[k]);
  rp_idmap *c = rp_idmap_copy(m, &err);
  ck_assert_ptr_nonnull(c);
  for (int k = 0; k < N; k++) ck_assert_int_eq(rp_idmap_find(c, ids[k], lens[k]), want[k]);
  ck_assert_int_eq(add(c, "brand new id", 12), nd);
  ck_assert_int_eq(rp_idmap_find(m, "brand new id", 12), -1);
  int32_t keep[3] = {5, 0, 2};
  rp_idmap *sub = rp_idmap_subset(m, keep, 3, &err);
  ck_assert_int_eq(sub->n, 3);
  for (int q = 0; q < 3; q++) {
    size_t a, b;
    const char *x = rp_idmap_id(sub, q, &a), *y = rp_idmap_id(m, keep[q], &b);
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(memcmp(x, y, a), 0);
  }
  rp_idmap_release(sub);
  rp_idmap_release(c);
  rp_idmap_release(m);
}
END_TEST

static int intern_many(void) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  if (!m) return err.status;
  char buf[32];
  int rc = RP_OK;
  for (int k = 0; k < 3000 && !rc; k++) {
    int n = snprintf(buf, sizeof buf, k % 2 ? "user-%d-long-id" : "%d", k % 1700);
    int32_t i;
    rc = rp_idmap_intern(m, buf, (size_t)n, &i, &err);
    if (!rc && rp_idmap_find(m, buf, (size_t)n) != i) rc = RP_EINVAL;
  }
  rp_idmap *c = rc ? NULL : rp_idmap_copy(m, &err);
  if (!rc && !c) rc = err.status;
  rp_idmap_release(c);
  rp_idmap_release(m);
  return rc;
}

START_TEST(fault_loop) { RP_FAULT_LOOP(intern_many()); }
END_TEST

START_TEST(refcount) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  ck_assert_ptr_eq(rp_idmap_retain(m), m);
  rp_idmap_release(m);
  ck_assert_int_eq(m->refs, 1);
  rp_idmap_release(m);
  rp_idmap_release(NULL);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("io_idmap");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, exact_ids);
  tcase_add_test(tc, random_against_naive);
  tcase_add_test(tc, fault_loop);
  tcase_add_test(tc, refcount);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
