/* Check tests for the cache core: options, LRU order and eviction counts
 * worked out by hand, TTL on an injected clock, byte accounting, prefix
 * invalidation against a brute-force reference, single-flight fetch under
 * threads, a many-thread stress run checking invariants, shared caches,
 * and allocation-failure loops.  No assertion depends on timing.
 *
 * Worker threads never call ck_assert (Check's no-fork mode jumps back to
 * the test's frame): they count problems, and the test thread asserts. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "cache.h"
#include "cache_codec.h"
#include "rptest.h"

#define K(s) (s), strlen(s)

/* ---- helpers ------------------------------------------------------------------- */
static double test_time;
static double test_clock(void *ud) {
  (void)ud;
  return test_time;
}

static rp_cache *mk(int64_t cap, int64_t cap_bytes, double ttl, int32_t shards) {
  rp_cache_opts o;
  rp_cache_opts_init(&o);
  o.capacity = cap;
  o.capacity_bytes = cap_bytes;
  o.ttl = ttl;
  o.shards = shards;
  o.clock = test_clock;
  rp_err err;
  rp_cache *c = rp_cache_new(&o, &err);
  ck_assert_msg(c != NULL, "%s", err.msg);
  return c;
}

static void put(rp_cache *c, const char *k, const char *v, double ttl) {
  rp_err err;
  rp_cache_val *x = rp_cache_val_new(v, strlen(v), RP_CACHE_BYTES, &err);
  ck_assert_ptr_nonnull(x);
  int stored = -1;
  ck_assert_int_eq(rp_cache_put(c, K(k), x, ttl, &stored, &err), RP_OK);
  ck_assert_int_eq(stored, 1);
  rp_cache_val_release(x);
}

/* the value of k as a C string in buf, or NULL on a miss */
static const char *get(rp_cache *c, const char *k) {
  static char buf[256];
  rp_cache_val *v;
  if (!rp_cache_get(c, K(k), &v)) {
    ck_assert_ptr_null(v);
    return NULL;
  }
  snprintf(buf, sizeof buf, "%s", (const char *)v->data);
  ck_assert_uint_eq(strlen(buf), v->len);
  rp_cache_val_release(v);
  return buf;
}

static rp_cache_stats stats(rp_cache *c) {
  rp_cache_stats s;
  rp_cache_stats_read(c, &s);
  return s;
}

/* entries = inserts - evictions - expirations - invalidations */
static void check_balance(rp_cache *c) {
  rp_cache_stats s = stats(c);
  ck_assert_int_eq((int64_t)(s.inserts - s.evictions - s.expirations - s.invalidations), s.entries);
}

/* ---- options ------------------------------------------------------------------- */
START_TEST(opts_defaults_and_names) {
  rp_cache_opts o;
  rp_err err;
  rp_cache_opts_init(&o);
  ck_assert_int_eq(o.capacity, 10000);
  ck_assert_int_eq(o.capacity_bytes, 0);
  ck_assert(o.ttl == 0);
  ck_assert_int_eq(o.shards, 16);
  ck_assert_int_eq(rp_cache_opts_check(&o, &err), RP_OK);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "ttl", 2.5, &err), RP_OK);
  ck_assert(o.ttl == 2.5);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "shards", 4, &err), RP_OK);
  ck_assert_int_eq(o.shards, 4);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity", 50, &err), RP_OK);
  ck_assert_int_eq(o.capacity, 50);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capcity", 50, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "unknown option 'capcity' (known: capacity, capacity_bytes, ttl, shards)");
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "colour", "red", &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "unknown option 'colour'"));
}
END_TEST

START_TEST(opts_bad_values) {
  rp_cache_opts o;
  rp_err err;
  rp_cache_opts_init(&o);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity", -3, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "option 'capacity' must be a whole number of entries in 0..2^40 (or a size "
                   "such as \"64MB\"), got -3");
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity", 2.5, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "ttl", -1, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'ttl' must be seconds in [0, 1e9] (0: never expire), got -1");
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "ttl", NAN, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "shards", 0, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'shards' must be an integer in 1..1024, got 0");
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "shards", 1025, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "ttl", "5", &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'ttl' must be a number, got '5'");
  /* a number of entries must be a number; a string needs a unit */
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity", "100", &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "option 'capacity' must be a number of entries, or a size with a unit such as "
                   "\"64MB\", got '100'");
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity_bytes", "64 parsecs", &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity_bytes", "-5MB", &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity_bytes", "MB", &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity_bytes", "5MBx", &err), RP_EINVAL);
  /* no limit at all */
  rp_cache_opts_init(&o);
  o.capacity = 0;
  ck_assert_int_eq(rp_cache_opts_check(&o, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "a cache needs a limit"));
  ck_assert_ptr_null(rp_cache_new(&o, &err));
  rp_cache_opts_init(&o);
  o.shards = 0;
  ck_assert_ptr_null(rp_cache_new(&o, &err));
  ck_assert_str_eq(err.msg, "option 'shards' must be an integer in 1..1024, got 0");
}
END_TEST

START_TEST(opts_sizes) {
  static const struct {
    const char *s;
    int64_t bytes;
  } cases[] = {{"64MB", 64LL << 20}, {"64mb", 64LL << 20},  {"64 MiB", 64LL << 20},
               {"64M", 64LL << 20},  {"512k", 512LL << 10}, {"1.5KB", 1536},
               {"2GB", 2LL << 30},   {"1TiB", 1LL << 40},   {"100", 100},
               {"100B", 100},        {" 7 kb ", 7 << 10},   {"0.5k", 512}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rp_cache_opts o;
    rp_err err;
    rp_cache_opts_init(&o);
    ck_assert_msg(rp_cache_opts_set_string(&o, "capacity_bytes", cases[i].s, &err) == RP_OK,
                  "%s: %s", cases[i].s, err.msg);
    ck_assert_int_eq(o.capacity_bytes, cases[i].bytes);
    ck_assert_int_eq(o.capacity, 0); /* bytes alone: no entry limit */
  }
  /* capacity = "64MB" is the byte capacity; order does not matter */
  rp_cache_opts o;
  rp_err err;
  rp_cache_opts_init(&o);
  ck_assert_int_eq(rp_cache_opts_set_string(&o, "capacity", "1MB", &err), RP_OK);
  ck_assert_int_eq(o.capacity_bytes, 1 << 20);
  ck_assert_int_eq(o.capacity, 0);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity_bytes", 5, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
  rp_cache_opts_init(&o);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity_bytes", 4096, &err), RP_OK);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity", 7, &err), RP_OK);
  ck_assert_int_eq(o.capacity, 7);
  ck_assert_int_eq(o.capacity_bytes, 4096);
  rp_cache_opts_init(&o);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity", 7, &err), RP_OK);
  ck_assert_int_eq(rp_cache_opts_set_number(&o, "capacity_bytes", 4096, &err), RP_OK);
  ck_assert_int_eq(o.capacity, 7);
}
END_TEST

START_TEST(shards_lowered_to_capacity) {
  rp_cache *c = mk(3, 0, 0, 16);
  rp_cache_opts o;
  rp_cache_opts_get(c, &o);
  ck_assert_int_eq(o.shards, 3);
  ck_assert_int_eq(stats(c).shards, 3);
  rp_cache_release(c);
}
END_TEST

/* ---- LRU ------------------------------------------------------------------------- */
START_TEST(lru_order_by_hand) {
  rp_cache *c = mk(3, 0, 0, 1);
  put(c, "a", "1", RP_CACHE_TTL_DEFAULT);
  put(c, "b", "2", RP_CACHE_TTL_DEFAULT);
  put(c, "c", "3", RP_CACHE_TTL_DEFAULT);
  /* recency, most recent first: c b a; get a -> a c b */
  ck_assert_str_eq(get(c, "a"), "1");
  put(c, "d", "4", RP_CACHE_TTL_DEFAULT); /* evicts b -> d a c */
  ck_assert_ptr_null(get(c, "b"));
  ck_assert_str_eq(get(c, "c"), "3");     /* -> c d a */
  put(c, "e", "5", RP_CACHE_TTL_DEFAULT); /* evicts a -> e c d */
  ck_assert_ptr_null(get(c, "a"));
  put(c, "d", "44", RP_CACHE_TTL_DEFAULT); /* update, no eviction -> d e c */
  put(c, "f", "6", RP_CACHE_TTL_DEFAULT);  /* evicts c -> f d e */
  ck_assert_ptr_null(get(c, "c"));
  ck_assert_str_eq(get(c, "d"), "44");
  ck_assert_str_eq(get(c, "e"), "5");
  ck_assert_str_eq(get(c, "f"), "6");
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(s.hits, 5);   /* a, c, d, e, f */
  ck_assert_uint_eq(s.misses, 3); /* b, a, c */
  ck_assert_uint_eq(s.inserts, 6);
  ck_assert_uint_eq(s.updates, 1);
  ck_assert_uint_eq(s.evictions, 3);
  ck_assert_int_eq(s.entries, 3);
  ck_assert_int_eq(s.bytes, 3 + 1 + 2 + 1); /* keys d e f, values 44 5 6 */
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* With several shards each keeps its share; the total never passes the
 * capacity and a burst of distinct keys evicts exactly the excess. */
START_TEST(lru_shards_capacity) {
  rp_cache *c = mk(10, 0, 0, 4); /* shares 3 3 2 2 */
  char k[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "k%d", i);
    put(c, k, "v", RP_CACHE_TTL_DEFAULT);
    ck_assert_int_le(stats(c).entries, 10);
  }
  rp_cache_stats s = stats(c);
  ck_assert_int_eq(s.entries, 10); /* 1000 random keys fill every shard */
  ck_assert_uint_eq(s.evictions, 990);
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* Above 64 entries a shard uses CLOCK: a hit marks the entry, and
 * eviction sends a marked entry at the old end back to the front, so an
 * entry that was used outlives every older one that was not. */
START_TEST(lru_large_shard) {
  rp_cache *c = mk(200, 0, 0, 1);
  char k[16];
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "k%d", i);
    put(c, k, "v", 0);
  }
  ck_assert_ptr_nonnull(get(c, "k0"));   /* oldest, marked */
  ck_assert_ptr_nonnull(get(c, "k199")); /* newest, marked */
  for (int i = 200; i < 349; i++) {      /* 149 evictions: k1..k149 */
    snprintf(k, sizeof k, "k%d", i);
    put(c, k, "v", 0);
  }
  ck_assert_ptr_nonnull(get(c, "k0"));
  ck_assert_ptr_null(get(c, "k149"));
  ck_assert_ptr_nonnull(get(c, "k150"));
  ck_assert_uint_eq(stats(c).evictions, 149);
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* A value outlives its entry: the reader's reference keeps it. */
START_TEST(value_outlives_entry) {
  rp_cache *c = mk(1, 0, 0, 1);
  put(c, "a", "first", RP_CACHE_TTL_DEFAULT);
  rp_cache_val *v;
  ck_assert_int_eq(rp_cache_get(c, K("a"), &v), 1);
  put(c, "b", "second", RP_CACHE_TTL_DEFAULT); /* evicts a */
  ck_assert_ptr_null(get(c, "a"));
  ck_assert_str_eq((const char *)v->data, "first");
  ck_assert_int_eq(rp_cache_invalidate_prefix(c, "", 0), 1);
  rp_cache_release(c); /* the cache goes too */
  ck_assert_str_eq((const char *)v->data, "first");
  ck_assert_uint_eq(v->len, 5);
  rp_cache_val_release(v);
}
END_TEST

START_TEST(bad_calls) {
  rp_cache *c = mk(4, 0, 0, 1);
  rp_err err;
  rp_cache_val *v = rp_cache_val_new("x", 1, RP_CACHE_BYTES, &err);
  static char big[RP_CACHE_KEY_MAX + 1];
  memset(big, 'k', sizeof big);
  ck_assert_int_eq(rp_cache_put(c, big, sizeof big, v, RP_CACHE_TTL_DEFAULT, NULL, &err),
                   RP_EINVAL);
  ck_assert_str_eq(err.msg, "put: key of 65536 bytes is longer than the limit of 65535 bytes");
  ck_assert_int_eq(rp_cache_put(c, big, sizeof big - 1, v, RP_CACHE_TTL_DEFAULT, NULL, &err),
                   RP_OK);
  ck_assert_int_eq(rp_cache_put(c, K("a"), v, -2, NULL, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "put: ttl must be 0 (never expire) or seconds up to 1e9, got -2");
  ck_assert_int_eq(rp_cache_put(c, K("a"), v, NAN, NULL, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cache_put(c, K("a"), NULL, 0, NULL, &err), RP_EINVAL);
  rp_cache_val *out;
  ck_assert_int_eq(rp_cache_get(c, big, sizeof big, &out), 0);
  ck_assert_uint_eq(rp_cache_invalidate(c, big, sizeof big), 0);
  /* the empty key is a key like any other */
  ck_assert_int_eq(rp_cache_put(c, "", 0, v, 0, NULL, &err), RP_OK);
  ck_assert_int_eq(rp_cache_get(c, NULL, 0, &out), 1);
  rp_cache_val_release(out);
  ck_assert_int_eq(rp_cache_fetch(c, K("a"), RP_CACHE_TTL_DEFAULT, NULL, NULL, &out, &err),
                   RP_EINVAL);
  rp_cache_val_release(v);
  rp_cache_release(c);
}
END_TEST

/* ---- TTL --------------------------------------------------------------------------- */
START_TEST(ttl_expiry_injected_clock) {
  test_time = 1000;
  rp_cache *c = mk(10, 0, 10, 1);
  put(c, "a", "1", RP_CACHE_TTL_DEFAULT); /* expires at 1010 */
  put(c, "b", "2", 0);                    /* never */
  put(c, "c", "3", 100);                  /* 1100 */
  put(c, "d", "4", 5);                    /* 1005 */
  test_time = 1004.5;
  ck_assert_str_eq(get(c, "d"), "4");
  test_time = 1005; /* an entry is dead at its expiry time */
  ck_assert_ptr_null(get(c, "d"));
  test_time = 1009.9;
  ck_assert_str_eq(get(c, "a"), "1");
  test_time = 1010;
  ck_assert_ptr_null(get(c, "a"));
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(s.expirations, 2);
  ck_assert_int_eq(s.entries, 2);
  ck_assert_uint_eq(s.hits, 2);
  ck_assert_uint_eq(s.misses, 2);
  /* a put restarts the clock of its entry */
  put(c, "a", "1b", RP_CACHE_TTL_DEFAULT); /* 1020 */
  rp_cache_advance(c, 9.5);                /* the hook: now 1019.5 */
  ck_assert_str_eq(get(c, "a"), "1b");
  rp_cache_advance(c, 0.5);
  ck_assert_ptr_null(get(c, "a"));
  test_time = 1e6;
  ck_assert_str_eq(get(c, "b"), "2");
  ck_assert_ptr_null(get(c, "c"));
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* An expired entry at the LRU tail is counted as an expiration when a put
 * pushes it out, not as an eviction. */
START_TEST(ttl_tail_expiry_counted) {
  test_time = 0;
  rp_cache *c = mk(2, 0, 0, 1);
  put(c, "old", "x", 1);
  put(c, "b", "y", 0);
  test_time = 2;
  put(c, "c", "z", 0); /* pushes out "old", already dead */
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(s.expirations, 1);
  ck_assert_uint_eq(s.evictions, 0);
  put(c, "d", "w", 0); /* pushes out b, alive */
  s = stats(c);
  ck_assert_uint_eq(s.evictions, 1);
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* ---- bytes ------------------------------------------------------------------------- */
START_TEST(byte_accounting) {
  rp_cache *c = mk(0, 100, 0, 1);
  char val[64];
  memset(val, 'v', 30);
  val[30] = 0;
  put(c, "k1", val, 0); /* 2 + 30 = 32 */
  put(c, "k2", val, 0); /* 64 */
  put(c, "k3", val, 0); /* 96 */
  ck_assert_int_eq(stats(c).bytes, 96);
  put(c, "k4", val, 0); /* 128 > 100: k1 goes -> 96 */
  rp_cache_stats s = stats(c);
  ck_assert_int_eq(s.bytes, 96);
  ck_assert_int_eq(s.entries, 3);
  ck_assert_uint_eq(s.evictions, 1);
  ck_assert_ptr_null(get(c, "k1"));
  /* an update changes the count by the difference */
  put(c, "k2", "short", 0); /* 96 - 30 + 5 = 71 */
  ck_assert_int_eq(stats(c).bytes, 71);
  /* growing k3 to 40 bytes: 71 + 10 = 81, fits */
  memset(val, 'w', 40);
  val[40] = 0;
  put(c, "k3", val, 0);
  ck_assert_int_eq(stats(c).bytes, 81);
  /* a value bigger than the capacity is not stored and the older value of
   * the key goes */
  char huge[120];
  memset(huge, 'h', sizeof huge);
  rp_err err;
  rp_cache_val *h = rp_cache_val_new(huge, sizeof huge, RP_CACHE_BYTES, &err);
  int stored = -1;
  ck_assert_int_eq(rp_cache_put(c, K("k3"), h, 0, &stored, &err), RP_OK);
  ck_assert_int_eq(stored, 0);
  ck_assert_ptr_null(get(c, "k3"));
  s = stats(c);
  ck_assert_uint_eq(s.rejected, 1);
  ck_assert_int_eq(s.bytes, 81 - 42);
  rp_cache_val_release(h);
  /* 98 bytes fit exactly with nothing else: key 2 + 98 = 100 */
  char fit[99];
  memset(fit, 'f', 98);
  fit[98] = 0;
  put(c, "k9", fit, 0);
  s = stats(c);
  ck_assert_int_eq(s.bytes, 100);
  ck_assert_int_eq(s.entries, 1);
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* ---- invalidation ------------------------------------------------------------------- */
START_TEST(invalidate_exact_and_prefix) {
  rp_cache *c = mk(100, 0, 0, 4);
  const char *keys[] = {"u1|a", "u1|b", "u10|a", "u2|a", "u1", "u", "v1|a"};
  for (int i = 0; i < 7; i++) put(c, keys[i], "x", 0);
  ck_assert_uint_eq(rp_cache_invalidate(c, K("u2|a")), 1);
  ck_assert_uint_eq(rp_cache_invalidate(c, K("u2|a")), 0);
  ck_assert_uint_eq(rp_cache_invalidate(c, K("nope")), 0);
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, K("u1|")), 2);
  ck_assert_ptr_null(get(c, "u1|a"));
  ck_assert_str_eq(get(c, "u10|a"), "x");
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, K("u1")), 2); /* u1, u10|a */
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, K("zzz")), 0);
  ck_assert_str_eq(get(c, "u"), "x");
  ck_assert_str_eq(get(c, "v1|a"), "x");
  ck_assert_int_eq(stats(c).invalidations, 5);
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, "", 0), 2); /* all */
  ck_assert_int_eq(stats(c).entries, 0);
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* Random keys, puts, evictions, removals and prefix invalidations against
 * a brute-force model of which keys are present (capacity large enough
 * that nothing is evicted, so the model is exact). */
START_TEST(invalidate_prefix_reference) {
  enum { NK = 3000 };
  rp_cache *c = mk(NK + 10, 0, 0, 8);
  static char keys[NK][12];
  static int present[NK];
  rp_rng r;
  rp_rng_seed(&r, 7, 0);
  for (int i = 0; i < NK; i++) {
    /* keys over a small alphabet so prefixes share a lot */
    int len = 1 + (int)rp_rng_below(&r, 8);
    for (int j = 0; j < len; j++) keys[i][j] = "abc|"[rp_rng_below(&r, 4)];
    keys[i][len] = 0;
  }
  for (int round = 0; round < 400; round++) {
    for (int j = 0; j < 20; j++) {
      int i = (int)rp_rng_below(&r, NK);
      put(c, keys[i], keys[i], 0);
      for (int q = 0; q < NK; q++)
        if (strcmp(keys[q], keys[i]) == 0) present[q] = 1; /* duplicates share an entry */
    }
    if (round % 3 == 0) {
      int i = (int)rp_rng_below(&r, NK);
      size_t want = 0;
      for (int q = 0; q < NK; q++)
        if (present[q] && strcmp(keys[q], keys[i]) == 0) want = 1, present[q] = 0;
      ck_assert_uint_eq(rp_cache_invalidate(c, K(keys[i])), want);
    }
    char pre[4];
    int plen = 1 + (int)rp_rng_below(&r, 3);
    for (int j = 0; j < plen; j++) pre[j] = "abc|"[rp_rng_below(&r, 4)];
    pre[plen] = 0;
    /* distinct present keys with the prefix */
    size_t want = 0;
    for (int q = 0; q < NK; q++) {
      if (!present[q] || strncmp(keys[q], pre, (size_t)plen) != 0) continue;
      want++;
      for (int q2 = q; q2 < NK; q2++)
        if (strcmp(keys[q2], keys[q]) == 0) present[q2] = 0;
    }
    ck_assert_uint_eq(rp_cache_invalidate_prefix(c, K(pre)), want);
  }
  for (int q = 0; q < NK; q++) {
    const char *g = get(c, keys[q]);
    ck_assert_int_eq(g != NULL, present[q]);
    if (g) ck_assert_str_eq(g, keys[q]);
  }
  check_balance(c);
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, "", 0), (size_t)s.entries);
  rp_cache_release(c);
}
END_TEST

/* Many entries in one shard: the hash table grows and every key is found. */
START_TEST(many_entries_one_shard) {
  rp_cache *c = mk(20000, 0, 0, 1);
  char k[32], v[32];
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "key:%d", i);
    snprintf(v, sizeof v, "%d", i * 7);
    put(c, k, v, 0);
  }
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "key:%d", i);
    snprintf(v, sizeof v, "%d", i * 7);
    ck_assert_str_eq(get(c, k), v);
  }
  /* key:1, key:10..19, key:100..199, key:1000..1999, key:10000..19999 */
  ck_assert_uint_eq(rp_cache_invalidate_prefix(c, K("key:1")), 1 + 10 + 100 + 1000 + 10000);
  ck_assert_int_eq(stats(c).entries, 20000 - 11111);
  rp_cache_release(c);
}
END_TEST

/* ---- fetch ---------------------------------------------------------------------------- */
typedef struct {
  _Atomic int calls;
  int fail;      /* return this status */
  int give_null; /* compute no value */
  rp_cache *c;
  int wait_for;       /* spin until this many fetches wait */
  int invalidate_own; /* invalidate the key while computing */
  int refetch;        /* fetch the own key (recursion) */
  int set_ttl;        /* set *ttl to ttl */
  double ttl;
} comp;

static int compute(void *ud, const void *key, size_t klen, rp_cache_val **out, double *ttl,
                   rp_err *err) {
  comp *p = ud;
  atomic_fetch_add(&p->calls, 1);
  if (p->wait_for) {
    for (;;) {
      rp_cache_stats s;
      rp_cache_stats_read(p->c, &s);
      if (s.waits >= (uint64_t)p->wait_for) break;
      sched_yield();
    }
  }
  if (p->invalidate_own) rp_cache_invalidate(p->c, key, klen);
  if (p->refetch) {
    rp_cache_val *v;
    int rc = rp_cache_fetch(p->c, key, klen, RP_CACHE_TTL_DEFAULT, compute, p, &v, err);
    if (rc) return rc;
  }
  if (p->fail) return rp_errf(err, p->fail, "model not loaded");
  if (p->set_ttl) *ttl = p->ttl;
  if (p->give_null) return RP_OK;
  char buf[64];
  int n = snprintf(buf, sizeof buf, "value of %.*s", (int)klen, (const char *)key);
  *out = rp_cache_val_new(buf, (size_t)n, RP_CACHE_BYTES, err);
  return *out ? RP_OK : RP_ENOMEM;
}

static comp comp_init(rp_cache *c) {
  comp p;
  memset(&p, 0, sizeof p);
  p.c = c;
  return p;
}

START_TEST(fetch_basics) {
  test_time = 0;
  rp_cache *c = mk(10, 0, 0, 2);
  comp p = comp_init(c);
  rp_cache_val *v;
  rp_err err;
  ck_assert_int_eq(rp_cache_fetch(c, K("a"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), 0);
  ck_assert_str_eq((const char *)v->data, "value of a");
  rp_cache_val_release(v);
  ck_assert_int_eq(rp_cache_fetch(c, K("a"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), 0);
  ck_assert_str_eq((const char *)v->data, "value of a");
  rp_cache_val_release(v);
  ck_assert_int_eq(p.calls, 1);
  ck_assert_str_eq(get(c, "a"), "value of a");
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(s.computations, 1);
  ck_assert_uint_eq(s.hits, 2);
  ck_assert_uint_eq(s.misses, 1);
  /* no value: nothing stored, fetch gives NULL */
  p.give_null = 1;
  ck_assert_int_eq(rp_cache_fetch(c, K("n"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), 0);
  ck_assert_ptr_null(v);
  ck_assert_ptr_null(get(c, "n"));
  p.give_null = 0;
  /* an error reaches the caller, is not cached, and the next fetch computes */
  p.fail = RP_EIO;
  ck_assert_int_eq(rp_cache_fetch(c, K("e"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), RP_EIO);
  ck_assert_str_eq(err.msg, "model not loaded");
  ck_assert_ptr_null(v);
  ck_assert_uint_eq(stats(c).compute_errors, 1);
  p.fail = 0;
  p.calls = 0;
  ck_assert_int_eq(rp_cache_fetch(c, K("e"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), 0);
  ck_assert_int_eq(p.calls, 1);
  rp_cache_val_release(v);
  /* the function's ttl wins over the fetch's */
  p.set_ttl = 1;
  p.ttl = 5;
  ck_assert_int_eq(rp_cache_fetch(c, K("t"), 0, compute, &p, &v, &err), 0);
  rp_cache_val_release(v);
  test_time = 5;
  ck_assert_ptr_null(get(c, "t"));
  p.ttl = -7; /* a bad ttl from the function is an error */
  ck_assert_int_eq(rp_cache_fetch(c, K("t"), 0, compute, &p, &v, &err), RP_EINVAL);
  ck_assert_ptr_null(v);
  ck_assert_ptr_null(get(c, "t"));
  p.set_ttl = 0;
  /* recursion is an error, not a deadlock */
  p.refetch = 1;
  ck_assert_int_eq(rp_cache_fetch(c, K("r"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err),
                   RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "fetch: the function computing key 'r' fetched that key again (recursion)");
  p.refetch = 0;
  /* an invalidation during the computation: the value is returned, not stored */
  p.invalidate_own = 1;
  ck_assert_int_eq(rp_cache_fetch(c, K("i"), RP_CACHE_TTL_DEFAULT, compute, &p, &v, &err), 0);
  ck_assert_str_eq((const char *)v->data, "value of i");
  rp_cache_val_release(v);
  ck_assert_ptr_null(get(c, "i"));
  check_balance(c);
  rp_cache_release(c);
}
END_TEST

/* N threads fetch one key: one computation, N equal answers; the
 * computation waits until the N - 1 others are waiting, so the test does
 * not depend on who is faster. */
enum { NFETCH = 8 };
typedef struct {
  rp_cache *c;
  comp *p;
  const char *key;
  rp_cache_val *got;
  int rc;
  char msg[sizeof(((rp_err *)0)->msg)];
} fetcher;

static void *fetch_thread(void *a) {
  fetcher *f = a;
  rp_err err;
  f->rc = rp_cache_fetch(f->c, K(f->key), RP_CACHE_TTL_DEFAULT, compute, f->p, &f->got, &err);
  if (f->rc) snprintf(f->msg, sizeof f->msg, "%s", err.msg);
  return NULL;
}

static void run_fetchers(rp_cache *c, comp *p, const char *key, fetcher *f) {
  pthread_t t[NFETCH];
  for (int i = 0; i < NFETCH; i++) {
    f[i] = (fetcher){.c = c, .p = p, .key = key};
    ck_assert_int_eq(pthread_create(&t[i], NULL, fetch_thread, &f[i]), 0);
  }
  for (int i = 0; i < NFETCH; i++) pthread_join(t[i], NULL);
}

START_TEST(fetch_single_flight) {
  rp_cache *c = mk(100, 0, 0, 4);
  comp p = comp_init(c);
  p.wait_for = NFETCH - 1;
  fetcher f[NFETCH];
  run_fetchers(c, &p, "popular", f);
  ck_assert_int_eq(p.calls, 1);
  for (int i = 0; i < NFETCH; i++) {
    ck_assert_int_eq(f[i].rc, 0);
    ck_assert_ptr_eq(f[i].got, f[0].got); /* the very same value */
    rp_cache_val_release(f[i].got);
  }
  rp_cache_stats s = stats(c);
  ck_assert_uint_eq(s.computations, 1);
  ck_assert_uint_eq(s.waits, NFETCH - 1);
  ck_assert_uint_eq(s.misses, NFETCH);
  ck_assert_str_eq(get(c, "popular"), "value of popular");
  rp_cache_release(c);
}
END_TEST

START_TEST(fetch_single_flight_error) {
  rp_cache *c = mk(100, 0, 0, 4);
  comp p = comp_init(c);
  p.wait_for = NFETCH - 1;
  p.fail = RP_EIO;
  fetcher f[NFETCH];
  run_fetchers(c, &p, "k", f);
  ck_assert_int_eq(p.calls, 1);
  int owner = 0;
  for (int i = 0; i < NFETCH; i++) {
    ck_assert_int_eq(f[i].rc, RP_EIO);
    ck_assert_ptr_null(f[i].got);
    if (strcmp(f[i].msg, "model not loaded") == 0)
      owner++;
    else
      ck_assert_str_eq(f[i].msg, "model not loaded (in a concurrent fetch of this key)");
  }
  ck_assert_int_eq(owner, 1);
  ck_assert_ptr_null(get(c, "k"));
  ck_assert_uint_eq(stats(c).compute_errors, 1);
  rp_cache_release(c);
}
END_TEST

/* ---- stress -----------------------------------------------------------------------------
 * Threads mix get/put/fetch/invalidate on keys "g<j>/k<i>" (groups j).
 * The no-stale-read check: each group has a generation gen[j] and each key
 * a floor[k]; writers read gen and put (gen, unique) under the group's read
 * lock; an invalidation takes the write lock, bumps gen, invalidates, and
 * raises floor of the keys it covered.  A reader reads floor[k] before its
 * lookup: a value with a generation below it was stored before an
 * invalidation that completed before the lookup began, so the cache must
 * not return it.  A checker thread watches entries and bytes stay within
 * capacity while the others run. */
enum { NG = 8, NKG = 128, NKEYS = NG * NKG, NTHREADS = 4, OPS = 20000 };
typedef struct {
  rp_cache *c;
  pthread_rwlock_t lock[NG];
  _Atomic uint64_t gen[NG];
  _Atomic uint64_t floor[NKEYS];
  _Atomic int stop;
  _Atomic long problems, lookups, fetch_calls;
  _Atomic uint64_t uniq;
  int64_t cap, cap_bytes;
} world;

typedef struct {
  world *w;
  int group;
} stress_ud;

static void key_of(int k, char *buf) { snprintf(buf, 32, "g%d/k%d", k / NKG, k % NKG); }

static rp_cache_val *make_val(world *w, uint64_t gen, rp_rng *r) {
  /* "gen:uniq" padded to a random length, so byte accounting moves */
  char buf[128];
  int n = snprintf(buf, sizeof buf, "%llu:%llu:", (unsigned long long)gen,
                   (unsigned long long)atomic_fetch_add(&w->uniq, 1));
  int pad = (int)rp_rng_below(r, 60);
  memset(buf + n, 'p', (size_t)pad);
  return rp_cache_val_new(buf, (size_t)(n + pad), RP_CACHE_BYTES, NULL);
}

static int stress_compute(void *ud, const void *key, size_t klen, rp_cache_val **out, double *ttl,
                          rp_err *err) {
  stress_ud *s = ud;
  world *w = s->w;
  atomic_fetch_add(&w->fetch_calls, 1);
  rp_rng r;
  rp_rng_seed(&r, (uint64_t)klen, atomic_load(&w->uniq));
  pthread_rwlock_rdlock(&w->lock[s->group]);
  *out = make_val(w, atomic_load(&w->gen[s->group]), &r);
  pthread_rwlock_unlock(&w->lock[s->group]);
  (void)ttl;
  return *out ? RP_OK : rp_enomem(err, "test");
}

static void check_val(world *w, rp_cache_val *v, uint64_t floor) {
  if (!v) return;
  unsigned long long g = strtoull((const char *)v->data, NULL, 10);
  if (g < floor) atomic_fetch_add(&w->problems, 1);
  rp_cache_val_release(v);
}

static void *stress_thread(void *a) {
  world *w = a;
  rp_rng r;
  rp_rng_seed(&r, 99, (uint64_t)pthread_self());
  char key[32];
  for (int op = 0; op < OPS; op++) {
    int k = (int)rp_rng_below(&r, NKEYS), g = k / NKG;
    key_of(k, key);
    unsigned what = (unsigned)rp_rng_below(&r, 100);
    if (what < 45) { /* get */
      uint64_t fl = atomic_load(&w->floor[k]);
      rp_cache_val *v;
      rp_cache_get(w->c, K(key), &v);
      atomic_fetch_add(&w->lookups, 1);
      check_val(w, v, fl);
    } else if (what < 75) { /* put */
      pthread_rwlock_rdlock(&w->lock[g]);
      rp_cache_val *v = make_val(w, atomic_load(&w->gen[g]), &r);
      int stored;
      if (!v || rp_cache_put(w->c, K(key), v, RP_CACHE_TTL_DEFAULT, &stored, NULL))
        atomic_fetch_add(&w->problems, 1);
      rp_cache_val_release(v);
      pthread_rwlock_unlock(&w->lock[g]);
    } else if (what < 92) { /* fetch */
      uint64_t fl = atomic_load(&w->floor[k]);
      stress_ud ud = {w, g};
      rp_cache_val *v;
      rp_err err;
      if (rp_cache_fetch(w->c, K(key), RP_CACHE_TTL_DEFAULT, stress_compute, &ud, &v, &err))
        atomic_fetch_add(&w->problems, 1);
      atomic_fetch_add(&w->lookups, 1);
      check_val(w, v, fl);
    } else {                  /* invalidate one key or a group */
      int group = what == 92; /* 1% of the operations; one key 7% */
      pthread_rwlock_wrlock(&w->lock[g]);
      uint64_t ng = atomic_fetch_add(&w->gen[g], 1) + 1;
      if (group) {
        char pre[16];
        int n = snprintf(pre, sizeof pre, "g%d/", g);
        rp_cache_invalidate_prefix(w->c, pre, (size_t)n);
        for (int i = 0; i < NKG; i++) atomic_store(&w->floor[g * NKG + i], ng);
      } else {
        rp_cache_invalidate(w->c, K(key));
        atomic_store(&w->floor[k], ng);
      }
      pthread_rwlock_unlock(&w->lock[g]);
    }
  }
  return NULL;
}

static void *checker_thread(void *a) {
  world *w = a;
  while (!atomic_load(&w->stop)) {
    rp_cache_stats s;
    rp_cache_stats_read(w->c, &s);
    if (s.entries > w->cap || s.bytes > w->cap_bytes || s.entries < 0 || s.bytes < 0)
      atomic_fetch_add(&w->problems, 1);
    sched_yield();
  }
  return NULL;
}

/* _i = 0: 4 shards of 12 entries (exact LRU); 1: one of 100 (CLOCK) */
START_TEST(stress_threads) {
  static world w;
  memset(&w, 0, sizeof w);
  w.cap = _i ? 100 : 48;
  w.cap_bytes = w.cap * (_i ? 60 : 40);
  w.c = mk(w.cap, w.cap_bytes, 0, _i ? 1 : 4);
  for (int g = 0; g < NG; g++) pthread_rwlock_init(&w.lock[g], NULL);
  pthread_t t[NTHREADS], chk;
  ck_assert_int_eq(pthread_create(&chk, NULL, checker_thread, &w), 0);
  for (int i = 0; i < NTHREADS; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, stress_thread, &w), 0);
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  atomic_store(&w.stop, 1);
  pthread_join(chk, NULL);
  ck_assert_int_eq(w.problems, 0);
  rp_cache_stats s = stats(w.c);
  ck_assert_uint_eq(s.hits + s.misses, (uint64_t)w.lookups);
  ck_assert_uint_eq(s.computations, (uint64_t)w.fetch_calls);
  ck_assert_int_le(s.entries, w.cap);
  ck_assert_int_le(s.bytes, w.cap_bytes);
  ck_assert_uint_gt(s.evictions, 0);
  ck_assert_uint_gt(s.invalidations, 0);
  if (_i) ck_assert_int_gt(s.entries, 64); /* it ran in CLOCK mode */
  check_balance(w.c);
  /* the bytes counted are the bytes held */
  int64_t held = 0;
  char key[32];
  for (int k = 0; k < NKEYS; k++) {
    key_of(k, key);
    rp_cache_val *v;
    if (rp_cache_get(w.c, K(key), &v)) {
      held += (int64_t)(strlen(key) + v->len);
      rp_cache_val_release(v);
    }
  }
  ck_assert_int_eq(held, s.bytes);
  ck_assert_uint_eq(rp_cache_invalidate_prefix(w.c, "", 0), (size_t)s.entries);
  for (int g = 0; g < NG; g++) pthread_rwlock_destroy(&w.lock[g]);
  rp_cache_release(w.c);
}
END_TEST

/* ---- the Lua value codec ------------------------------------------------------------- */
/* {5, 200, -1, 2.5, "ab", true, {k = false}} as bytes, worked out from the
 * format in cache_codec.h */
static rp_cache_val *sample(rp_err *err) {
  rp_cache_buf b;
  rp_cache_buf_init(&b);
  rp_cache_enc_array(&b, 7);
  rp_cache_enc_int(&b, 5);
  rp_cache_enc_int(&b, 200);
  rp_cache_enc_int(&b, -1);
  rp_cache_enc_float(&b, 2.5);
  rp_cache_enc_str(&b, "ab", 2);
  rp_cache_enc_bool(&b, 1);
  rp_cache_enc_table(&b, 1);
  rp_cache_enc_str(&b, "k", 1);
  rp_cache_enc_bool(&b, 0);
  return rp_cache_buf_finish(&b, err);
}

START_TEST(codec_bytes_by_hand) {
  rp_err err;
  rp_cache_val *v = sample(&err);
  ck_assert_ptr_nonnull(v);
  static const unsigned char want[] = {0x06, 7,          /* array of 7 */
                                       0x85,             /* 5 */
                                       0x03, 0x90, 0x03, /* 200: zigzag 400 = 0x190 */
                                       0x03, 0x01,       /* -1: zigzag 1 */
                                       0x04, 0,    0,    0,   0,   0,
                                       0,    0x04, 0x40,      /* 2.5 = 0x4004000000000000 */
                                       0x05, 2,    'a',  'b', /* "ab" */
                                       0x02,                  /* true */
                                       0x07, 1,    0x05, 1,   'k', 0x01}; /* {k = false} */
  ck_assert_uint_eq(v->kind, RP_CACHE_LUA);
  ck_assert_uint_eq(v->len, sizeof want);
  ck_assert_int_eq(memcmp(v->data, want, sizeof want), 0);
  rp_cache_dec d;
  rp_cache_item it;
  rp_cache_dec_init(&d, v);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert_int_eq(it.type, RP_CACHE_T_ARRAY);
  ck_assert_uint_eq(it.n, 7);
  int64_t ints[] = {5, 200, -1};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
    ck_assert_int_eq(it.type, RP_CACHE_T_INT);
    ck_assert_int_eq(it.i, ints[i]);
  }
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_FLOAT && it.d == 2.5);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_STR && it.n == 2 && memcmp(it.s, "ab", 2) == 0);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_BOOL && it.i == 1);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_TABLE && it.n == 1);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_STR && it.n == 1);
  ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
  ck_assert(it.type == RP_CACHE_T_BOOL && it.i == 0);
  ck_assert(rp_cache_dec_done(&d));
  rp_cache_val_release(v);
}
END_TEST

/* integers at the edges survive the zigzag varint both ways */
START_TEST(codec_int_edges) {
  int64_t xs[] = {0, 127, 128, -128, INT64_MAX, INT64_MIN, INT64_MIN + 1, 1LL << 40};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
    rp_cache_buf b;
    rp_err err;
    rp_cache_buf_init(&b);
    ck_assert_int_eq(rp_cache_enc_int(&b, xs[i]), 0);
    rp_cache_val *v = rp_cache_buf_finish(&b, &err);
    rp_cache_dec d;
    rp_cache_item it;
    rp_cache_dec_init(&d, v);
    ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), 0);
    ck_assert_int_eq(it.i, xs[i]);
    ck_assert(rp_cache_dec_done(&d));
    ck_assert_uint_le(v->len, 11);
    rp_cache_val_release(v);
  }
}
END_TEST

/* malformed bytes are errors, and no count can exceed what the bytes hold */
START_TEST(codec_corrupt) {
  static const struct {
    unsigned char b[12];
    size_t n;
    const char *why;
  } cases[] = {
      {{0}, 0, "truncated"},
      {{0x00}, 1, "unknown tag"},
      {{0x08}, 1, "unknown tag"},
      {{0x03}, 1, "truncated number"},
      {{0x03, 0x80, 0x80}, 3, "truncated number"},
      {{0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       11,
       "number longer than 64 bits"},
      {{0x04, 1, 2, 3}, 4, "truncated float"},
      {{0x05, 5, 'a'}, 3, "string longer than the value"},
      {{0x06, 0xff, 0xff, 0xff, 0xff, 0x0f}, 6, "count larger than the value"},
      {{0x07, 2, 0x81, 0x82, 0x83}, 5, "count larger than the value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rp_err err;
    rp_cache_val *v = rp_cache_val_new(cases[i].b, cases[i].n, RP_CACHE_LUA, &err);
    rp_cache_dec d;
    rp_cache_item it;
    rp_cache_dec_init(&d, v);
    ck_assert_int_eq(rp_cache_dec_next(&d, &it, &err), RP_EFORMAT);
    ck_assert_msg(strstr(err.msg, cases[i].why) != NULL, "case %zu: %s", i, err.msg);
    rp_cache_val_release(v);
  }
}
END_TEST

static int codec_scenario(void) {
  rp_err err;
  rp_cache_buf b;
  rp_cache_buf_init(&b);
  rp_cache_enc_array(&b, 200);
  for (int i = 0; i < 200; i++) rp_cache_enc_str(&b, "abcdefgh", 8);
  rp_cache_val *v = rp_cache_buf_finish(&b, &err);
  if (!v) return err.status;
  rp_cache_val_release(v);
  return 0;
}

START_TEST(codec_fault_loop) { RP_FAULT_LOOP(codec_scenario()); }
END_TEST

/* ---- shared caches ------------------------------------------------------------------- */
START_TEST(shared_by_name) {
  rp_err err;
  rp_cache_opts o;
  rp_cache_opts_init(&o);
  o.capacity = 50;
  rp_cache *a = rp_cache_shared("answers", &o, &err);
  ck_assert_ptr_nonnull(a);
  rp_cache *b = rp_cache_shared("answers", NULL, &err);
  ck_assert_ptr_eq(a, b);
  rp_cache *b2 = rp_cache_shared("answers", &o, &err);
  ck_assert_ptr_eq(a, b2);
  put(a, "x", "1", 0);
  ck_assert_str_eq(get(b, "x"), "1");
  o.capacity = 60;
  ck_assert_ptr_null(rp_cache_shared("answers", &o, &err));
  ck_assert_str_eq(err.msg,
                   "shared cache 'answers' exists with capacity = 50; this call asks for 60 "
                   "(give the same options, or none)");
  rp_cache *other = rp_cache_shared("other", NULL, &err);
  ck_assert_ptr_nonnull(other);
  ck_assert_ptr_ne(other, a);
  ck_assert_ptr_null(rp_cache_shared("", NULL, &err));
  ck_assert_str_eq(err.msg, "shared cache name must be 1..64 bytes, got 0");
  o.capacity = -1;
  ck_assert_ptr_null(rp_cache_shared("bad", &o, &err));
  rp_cache_shared_reset();
  /* our references keep the old caches; the name now makes a new one */
  rp_cache *c = rp_cache_shared("answers", NULL, &err);
  ck_assert_ptr_ne(c, a);
  ck_assert_ptr_null(get(c, "x"));
  ck_assert_str_eq(get(a, "x"), "1");
  rp_cache_release(a);
  rp_cache_release(b);
  rp_cache_release(b2);
  rp_cache_release(other);
  rp_cache_release(c);
  rp_cache_shared_reset();
}
END_TEST

/* ---- allocation failure ---------------------------------------------------------------
 * A scenario touching every allocation: a new cache, puts, a fetch, a
 * shared cache.  With the n-th allocation failing, each step either
 * succeeds or reports RP_ENOMEM, the cache stays consistent, and nothing
 * leaks.  (A failure to grow a hash table is absorbed: longer chains.) */
static int scenario(void) {
  rp_err err;
  rp_cache_opts o;
  rp_cache_opts_init(&o);
  o.capacity = 4;
  o.shards = 2;
  rp_cache *c = rp_cache_new(&o, &err);
  if (!c) return err.status;
  int rc = RP_OK;
  char k[16];
  for (int i = 0; i < 6 && rc == RP_OK; i++) {
    snprintf(k, sizeof k, "k%d", i);
    rp_cache_val *v = rp_cache_val_new(k, strlen(k), RP_CACHE_BYTES, &err);
    if (!v) {
      rc = err.status;
      break;
    }
    rc = rp_cache_put(c, K(k), v, 0, NULL, &err);
    rp_cache_val_release(v);
  }
  if (rc == RP_OK) {
    comp p = comp_init(c);
    rp_cache_val *v;
    rc = rp_cache_fetch(c, K("f"), 0, compute, &p, &v, &err);
    if (rc == RP_OK && strcmp((const char *)v->data, "value of f") != 0) rc = -1;
    rp_cache_val_release(v);
  }
  if (rc == RP_OK) {
    rp_cache *s = rp_cache_shared("faulty", &o, &err);
    if (!s) rc = err.status;
    rp_cache_release(s);
    rp_cache_shared_reset();
  }
  rp_cache_stats st;
  rp_cache_stats_read(c, &st);
  if ((int64_t)(st.inserts - st.evictions - st.expirations - st.invalidations) != st.entries ||
      st.entries > 4)
    rc = -1;
  rp_cache_release(c);
  return rc;
}

START_TEST(fault_loop) {
  size_t base = rp_mem_current();
  int failures = 0;
  for (long n = 1;; n++) {
    rp_mem_fail_after(n);
    int rc = scenario();
    int fired = rp_mem_failed();
    rp_mem_fail_after(0);
    ck_assert_msg(rp_mem_current() == base, "leak after failing allocation %ld", n);
    ck_assert_msg(rc == RP_OK || rc == RP_ENOMEM, "allocation %ld: status %d", n, rc);
    if (!fired) {
      ck_assert_int_eq(rc, RP_OK);
      break;
    }
    failures += rc == RP_ENOMEM;
  }
  ck_assert_int_gt(failures, 5);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("cache");
  TCase *t = tcase_create("core");
  tcase_set_timeout(t, 600);
  tcase_add_test(t, opts_defaults_and_names);
  tcase_add_test(t, opts_bad_values);
  tcase_add_test(t, opts_sizes);
  tcase_add_test(t, shards_lowered_to_capacity);
  tcase_add_test(t, lru_order_by_hand);
  tcase_add_test(t, lru_shards_capacity);
  tcase_add_test(t, lru_large_shard);
  tcase_add_test(t, value_outlives_entry);
  tcase_add_test(t, bad_calls);
  tcase_add_test(t, ttl_expiry_injected_clock);
  tcase_add_test(t, ttl_tail_expiry_counted);
  tcase_add_test(t, byte_accounting);
  tcase_add_test(t, invalidate_exact_and_prefix);
  tcase_add_test(t, invalidate_prefix_reference);
  tcase_add_test(t, many_entries_one_shard);
  tcase_add_test(t, fetch_basics);
  tcase_add_test(t, fetch_single_flight);
  tcase_add_test(t, fetch_single_flight_error);
  tcase_add_loop_test(t, stress_threads, 0, 2);
  tcase_add_test(t, shared_by_name);
  tcase_add_test(t, fault_loop);
  tcase_add_test(t, codec_bytes_by_hand);
  tcase_add_test(t, codec_int_edges);
  tcase_add_test(t, codec_corrupt);
  tcase_add_test(t, codec_fault_loop);
  suite_add_tcase(s, t);
  return s;
}

RP_TEST_MAIN(suite)
