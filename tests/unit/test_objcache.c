/*
 * test_objcache.c -- the process-wide object cache (runtime/core/objcache.h)
 * that lets a server's workers share one loaded model: a get finds what a
 * put kept for the same file identity and options; a file replaced on disk
 * is a new identity; sweep drops only what nobody else holds; disabling
 * drops everything.  Then the same under threads (workers loading while the
 * reloading thread sweeps): every object is freed exactly once, after its
 * last holder let go.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "objcache.h"
#include "rptest.h"

typedef struct fake {
  atomic_int refs;
  int id;
} fake;

static atomic_int live_objects;

static fake *fake_new(int id) {
  fake *f = rp_malloc(sizeof *f);
  ck_assert_ptr_nonnull(f);
  atomic_init(&f->refs, 1);
  f->id = id;
  atomic_fetch_add(&live_objects, 1);
  return f;
}
static void fake_retain(void *p) { atomic_fetch_add(&((fake *)p)->refs, 1); }
static void fake_release(void *p) {
  fake *f = p;
  int before = atomic_fetch_sub(&f->refs, 1);
  ck_assert_int_gt(before, 0); /* never released more than retained */
  if (before == 1) {
    rp_free(f);
    atomic_fetch_sub(&live_objects, 1);
  }
}
static int fake_only(void *p) { return atomic_load(&((fake *)p)->refs) == 1; }
static const rp_objtype fake_type = {"fake", fake_retain, fake_release, fake_only};
static const rp_objtype other_type = {"other", fake_retain, fake_release, fake_only};

START_TEST(get_put_sweep) {
  rp_err err;
  char a[512], b[512], bnew[512]; /* rp_test_tmp's buffer is reused */
  snprintf(a, sizeof a, "%s", rp_test_tmp("a.bin"));
  snprintf(b, sizeof b, "%s", rp_test_tmp("b.bin"));
  snprintf(bnew, sizeof bnew, "%s", rp_test_tmp("b.new"));
  rp_test_write(a, "model a");
  rp_test_write(b, "model b");
  rp_objcache_enable(1);
  rp_fileid ia = rp_fileid_of(a), ib = rp_fileid_of(b);
  ck_assert(ia.ok && ib.ok);
  ck_assert(!rp_fileid_of(rp_test_tmp("missing")).ok);
  ck_assert_ptr_null(rp_objcache_get(&fake_type, a, ia, ""));
  fake *fa = fake_new(1);
  ck_assert_int_eq(rp_objcache_put(&fake_type, a, ia, "", fa, &err), RP_OK);
  ck_assert_int_eq(atomic_load(&fa->refs), 2); /* ours and the cache's */
  fake *g = rp_objcache_get(&fake_type, a, ia, "");
  ck_assert_ptr_eq(g, fa);
  ck_assert_int_eq(atomic_load(&fa->refs), 3);
  /* another type, options or path: not the same object */
  ck_assert_ptr_null(rp_objcache_get(&other_type, a, ia, ""));
  ck_assert_ptr_null(rp_objcache_get(&fake_type, a, ia, "aligned"));
  ck_assert_ptr_null(rp_objcache_get(&fake_type, b, ia, ""));
  /* held: a sweep keeps it; let go: the sweep drops it */
  ck_assert_int_eq(rp_objcache_sweep(), 0);
  fake_release(g);
  fake_release(fa);
  ck_assert_int_eq(rp_objcache_count(), 1);
  ck_assert_int_eq(rp_objcache_sweep(), 1);
  ck_assert_int_eq(rp_objcache_count(), 0);
  ck_assert_int_eq(atomic_load(&live_objects), 0);
  /* a file replaced on disk (renamed over: a new inode) is not found */
  fake *fb = fake_new(2);
  ck_assert_int_eq(rp_objcache_put(&fake_type, b, ib, "", fb, &err), RP_OK);
  rp_test_write(bnew, "model b, retrained");
  ck_assert_int_eq(rename(bnew, b), 0);
  rp_fileid ib2 = rp_fileid_of(b);
  ck_assert_ptr_null(rp_objcache_get(&fake_type, b, ib2, ""));
  /* a put with the identity taken before a load the file changed under is
   * not kept */
  fake *stale = fake_new(3);
  ck_assert_int_eq(rp_objcache_put(&fake_type, b, ib, "", stale, &err), RP_OK);
  ck_assert_int_eq(atomic_load(&stale->refs), 1);
  fake_release(stale);
  /* the trace mixes every identity asked for */
  rp_objcache_trace_reset();
  uint64_t t0 = rp_objcache_trace();
  rp_objcache_get(&fake_type, a, ia, "");
  ck_assert_uint_ne(rp_objcache_trace(), t0);
  /* disabling drops everything; disabled, nothing is kept */
  fake_release(fb);
  ck_assert_int_eq(atomic_load(&live_objects), 1); /* the cache's reference */
  rp_objcache_enable(0);
  ck_assert_int_eq(atomic_load(&live_objects), 0);
  fake *off = fake_new(4);
  ck_assert_int_eq(rp_objcache_put(&fake_type, a, ia, "", off, &err), RP_OK);
  ck_assert_int_eq(atomic_load(&off->refs), 1);
  ck_assert_ptr_null(rp_objcache_get(&fake_type, a, ia, ""));
  fake_release(off);
  ck_assert_int_eq(atomic_load(&live_objects), 0);
}
END_TEST

/* ---- threads: workers load (get, else make and put) while one sweeps ---------- */
#define WORKERS 4
#define ROUNDS 3000
static char paths[2][512];
static rp_fileid ids[2];
static atomic_int done_workers;

static void *loader(void *arg) {
  int t = (int)(intptr_t)arg;
  rp_err err;
  for (int r = 0; r < ROUNDS; r++) {
    int k = (r + t) & 1;
    fake *f = rp_objcache_get(&fake_type, paths[k], ids[k], "");
    if (!f) {
      f = fake_new(k);
      ck_assert_int_eq(rp_objcache_put(&fake_type, paths[k], ids[k], "", f, &err), RP_OK);
    }
    ck_assert_int_eq(f->id, k);
    ck_assert_int_gt(atomic_load(&f->refs), 0);
    fake_release(f);
  }
  atomic_fetch_add(&done_workers, 1);
  return NULL;
}

static void *sweeper(void *arg) {
  (void)arg;
  while (atomic_load(&done_workers) < WORKERS) rp_objcache_sweep();
  return NULL;
}

START_TEST(threads_load_and_sweep) {
  snprintf(paths[0], sizeof paths[0], "%s", rp_test_tmp("t0.bin"));
  snprintf(paths[1], sizeof paths[1], "%s", rp_test_tmp("t1.bin"));
  rp_test_write(paths[0], "zero");
  rp_test_write(paths[1], "one!");
  ids[0] = rp_fileid_of(paths[0]);
  ids[1] = rp_fileid_of(paths[1]);
  rp_objcache_enable(1);
  atomic_store(&done_workers, 0);
  pthread_t th[WORKERS + 1];
  for (int t = 0; t < WORKERS; t++)
    ck_assert_int_eq(pthread_create(&th[t], NULL, loader, (void *)(intptr_t)t), 0);
  ck_assert_int_eq(pthread_create(&th[WORKERS], NULL, sweeper, NULL), 0);
  for (int t = 0; t <= WORKERS; t++) pthread_join(th[t], NULL);
  rp_objcache_sweep();
  ck_assert_int_eq(rp_objcache_count(), 0);
  ck_assert_int_eq(atomic_load(&live_objects), 0);
  rp_objcache_enable(0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("objcache");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, get_put_sweep);
  tcase_add_test(tc, threads_load_and_sweep);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
