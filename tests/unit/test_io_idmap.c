/* Check tests for IdMap (runtime/core/idmap.c): byte-exact ids, first-appearance
 * order, short (inline key) and long ids, a naive reference on random ids,
 * copy/subset, exact reservations and interning past them, 64-bit offsets,
 * a large map round trip, and allocation failure. */
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

/* the id of index i of m equals s[0..n) */
static void assert_id(const rp_idmap *m, int32_t i, const char *s, size_t n) {
  size_t len;
  const char *id = rp_idmap_id(m, i, &len);
  ck_assert_uint_eq(len, n);
  ck_assert_int_eq(memcmp(id, s, n), 0);
  ck_assert_int_eq(id[n], 0);
}

static size_t mkid(char *buf, size_t size, int k) {
  /* short (inline key) and long (arena) ids, and one with a NUL inside */
  if (k % 97 == 5) return (size_t)snprintf(buf, size, "n%c%d", 0, k);
  return (size_t)snprintf(buf, size, k % 3 ? "user-%08d" : "%d", k);
}

/* A map reserved for exactly n ids and their bytes is sized exactly (the
 * table at load 3/4 when full, the offsets and arena to the byte) and keeps
 * working when interning goes past the reservation. */
START_TEST(reserve_exact_then_beyond) {
  rp_err err;
  enum { N = 5000, MORE = 3000 };
  char buf[32];
  int64_t bytes = 0;
  for (int k = 0; k < N; k++) bytes += (int64_t)mkid(buf, sizeof buf, k) + 1;
  rp_idmap *m = rp_idmap_new(&err);
  ck_assert_int_eq(rp_idmap_reserve(m, N, bytes, &err), RP_OK);
  ck_assert_int_eq(m->cap, N);
  ck_assert_int_eq(m->arena_cap, bytes);
  ck_assert_uint_eq(m->grow_at, N);
  ck_assert_uint_ge(m->nslots * 3, 4 * (uint64_t)N); /* load <= 3/4 */
  ck_assert_uint_le(m->nslots * 3, 4 * (uint64_t)N + 3 * 3);
  uint64_t ns = m->nslots;
  size_t exact = rp_idmap_bytes(m);
  ck_assert_uint_eq(exact, (size_t)(N + 1) * 4 + (size_t)bytes + ns * sizeof(rp_idslot));
  for (int k = 0; k < N; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(add(m, buf, n), k);
  }
  /* nothing grew while filling the reservation */
  ck_assert_uint_eq(m->nslots, ns);
  ck_assert_int_eq(m->arena_len, bytes);
  ck_assert_uint_eq(rp_idmap_bytes(m), exact);
  /* repeats, misses on a full table, then past the reservation */
  for (int k = 0; k < N; k += 7) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(add(m, buf, n), k);
  }
  for (int k = N; k < N + MORE; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(rp_idmap_find(m, buf, n), -1);
  }
  for (int k = N; k < N + MORE; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(add(m, buf, n), k);
  }
  ck_assert_uint_gt(m->nslots, ns);
  ck_assert_uint_le(m->n, m->grow_at);
  ck_assert_uint_le(2 * m->grow_at, m->nslots);
  for (int k = 0; k < N + MORE; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(rp_idmap_find(m, buf, n), k);
    assert_id(m, k, buf, n);
  }
  /* a reservation smaller than what the table already holds changes nothing */
  ns = m->nslots;
  ck_assert_int_eq(rp_idmap_reserve(m, 10, 10, &err), RP_OK);
  ck_assert_uint_eq(m->nslots, ns);
  rp_idmap_release(m);
}
END_TEST

/* Offsets turn 64-bit when the arena passes the limit (lowered here from
 * 4 GiB): ids before and after the switch, copies and subsets of both kinds,
 * prefix comparison across widths. */
START_TEST(wide_offsets) {
  rp_err err;
  char buf[32];
  rp_idmap *narrow = rp_idmap_new(&err);
  for (int k = 0; k < 3000; k++) add(narrow, buf, mkid(buf, sizeof buf, k));
  rp_idmap_set_wide_limit(20000);
  rp_idmap *m = rp_idmap_new(&err);
  int switched = -1;
  for (int k = 0; k < 3000; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(add(m, buf, n), k);
    if (switched < 0 && m->off64) switched = k;
  }
  ck_assert_int_gt(switched, 0);
  ck_assert_ptr_null(m->off32);
  rp_idmap *c = rp_idmap_copy(m, &err);
  ck_assert_ptr_nonnull(c->off64);
  int32_t keep[4] = {2999, 0, switched, switched - 1};
  rp_idmap *sub = rp_idmap_subset(m, keep, 4, &err);
  rp_idmap_set_wide_limit(UINT32_MAX);
  rp_idmap *c2 = rp_idmap_copy(m, &err); /* back to 32-bit offsets */
  ck_assert_ptr_nonnull(c2->off32);
  for (int k = 0; k < 3000; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(rp_idmap_find(m, buf, n), k);
    ck_assert_int_eq(rp_idmap_find(c, buf, n), k);
    ck_assert_int_eq(rp_idmap_find(c2, buf, n), k);
    assert_id(m, k, buf, n);
    assert_id(c, k, buf, n);
    assert_id(c2, k, buf, n);
  }
  for (int q = 0; q < 4; q++) {
    size_t n = mkid(buf, sizeof buf, keep[q]);
    assert_id(sub, q, buf, n);
  }
  ck_assert_int_eq(add(c, "after the copy", 14), 3000);
  ck_assert_int_eq(rp_idmap_find(m, "after the copy", 14), -1);
  /* prefix: narrow and wide maps holding the same ids */
  ck_assert_int_eq(rp_idmap_is_prefix(narrow, m), 1);
  ck_assert_int_eq(rp_idmap_is_prefix(m, narrow), 1);
  ck_assert_int_eq(rp_idmap_is_prefix(m, c), 1);
  ck_assert_int_eq(rp_idmap_is_prefix(c, m), 0);
  ck_assert_int_eq(rp_idmap_is_prefix(sub, m), 0);
  ck_assert_int_eq(rp_idmap_is_prefix(NULL, m), 1);
  rp_idmap_release(sub);
  rp_idmap_release(c2);
  rp_idmap_release(c);
  rp_idmap_release(m);
  rp_idmap_release(narrow);
}
END_TEST

/* A large map (400,000 ids) grown one id at a time and one reserved
 * exactly agree id for id, through copy and subset; the reserved one costs
 * about 4 + 21 bytes an id besides the text. */
START_TEST(large_round_trip) {
  rp_err err;
  enum { N = 400000 };
  char buf[32];
  rp_idmap *g = rp_idmap_new(&err);
  for (int k = 0; k < N; k++) add(g, buf, mkid(buf, sizeof buf, k));
  rp_idmap *r = rp_idmap_new(&err);
  ck_assert_int_eq(rp_idmap_reserve(r, g->n, g->arena_len, &err), RP_OK);
  for (int32_t i = 0; i < g->n; i++) {
    size_t n;
    const char *s = rp_idmap_id(g, i, &n);
    ck_assert_int_eq(add(r, s, n), i);
  }
  ck_assert_int_eq(rp_idmap_is_prefix(g, r), 1);
  ck_assert_int_eq(rp_idmap_is_prefix(r, g), 1);
  double per_id = (double)(rp_idmap_bytes(r) - (size_t)r->arena_cap) / N;
  ck_assert_double_lt(per_id, 26.0);
  ck_assert_double_gt(per_id, 24.0);
  rp_idmap *c = rp_idmap_copy(r, &err);
  static int32_t keep[N / 2];
  for (int q = 0; q < N / 2; q++) keep[q] = N - 1 - 2 * q;
  rp_idmap *sub = rp_idmap_subset(c, keep, N / 2, &err);
  for (int k = 0; k < N; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    ck_assert_int_eq(rp_idmap_find(r, buf, n), k);
    ck_assert_int_eq(rp_idmap_find(c, buf, n), k);
    ck_assert_int_eq(rp_idmap_find(sub, buf, n), k % 2 ? (N - 1 - k) / 2 : -1);
  }
  rp_idmap_release(sub);
  rp_idmap_release(c);
  rp_idmap_release(r);
  rp_idmap_release(g);
}
END_TEST

/* reserve, fill, go past it, copy and subset, with every allocation failing
 * in turn (and once with wide offsets) */
static int reserve_many(int wide) {
  rp_err err;
  rp_idmap_set_wide_limit(wide ? 500 : UINT32_MAX);
  rp_idmap *m = rp_idmap_new(&err), *c = NULL, *s = NULL;
  int rc = m ? RP_OK : err.status;
  char buf[32];
  if (!rc) rc = rp_idmap_reserve(m, 300, 300 * 14, &err);
  for (int k = 0; k < 700 && !rc; k++) {
    size_t n = mkid(buf, sizeof buf, k);
    int32_t i;
    int32_t before = m->n;
    rc = rp_idmap_intern(m, buf, n, &i, &err);
    /* a failed intern leaves the map as it was */
    if (rc && (m->n != before || rp_idmap_find(m, buf, n) != -1)) rc = RP_EINVAL;
    if (!rc && rp_idmap_find(m, buf, n) != i) rc = RP_EINVAL;
  }
  int32_t keep[3] = {650, 1, 299};
  if (!rc && !(c = rp_idmap_copy(m, &err))) rc = err.status;
  if (!rc && !(s = rp_idmap_subset(m, keep, 3, &err))) rc = err.status;
  rp_idmap_set_wide_limit(UINT32_MAX);
  rp_idmap_release(s);
  rp_idmap_release(c);
  rp_idmap_release(m);
  return rc;
}

START_TEST(fault_loop_reserved) {
  RP_FAULT_LOOP(reserve_many(0));
  RP_FAULT_LOOP(reserve_many(1));
}
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
  tcase_add_test(tc, reserve_exact_then_beyond);
  tcase_add_test(tc, wide_offsets);
  tcase_add_test(tc, large_round_trip);
  tcase_add_test(tc, fault_loop_reserved);
  tcase_add_test(tc, refcount);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
