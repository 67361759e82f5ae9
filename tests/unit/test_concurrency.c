/*
 * test_concurrency.c -- what threads share is safe to share: reference
 * counts of id maps and models (C11 atomics: retained and released from
 * many threads at once, each object freed exactly once, nothing lost) and
 * the CRC table's lazy initialisation (pthread_once: the first calls, made
 * by many threads at once, all see the finished table).  The CRC case must
 * run first in this executable (the table is built once per process).
 */
#include <pthread.h>

#include "als.h"
#include "idmap.h"
#include "rptest.h"

#define NTHREADS 8
#define ROUNDS 200000

static pthread_barrier_t start;

/* ---- CRC: first use from every thread at once ---------------------------------- */
static uint32_t crc_seen[NTHREADS];

static void *crc_worker(void *arg) {
  int t = (int)(intptr_t)arg;
  pthread_barrier_wait(&start);
  crc_seen[t] = rp_crc32(0, "123456789", 9);
  return NULL;
}

START_TEST(crc_first_use_from_threads) {
  pthread_t th[NTHREADS];
  pthread_barrier_init(&start, NULL, NTHREADS);
  for (int t = 0; t < NTHREADS; t++)
    ck_assert_int_eq(pthread_create(&th[t], NULL, crc_worker, (void *)(intptr_t)t), 0);
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start);
  /* the CRC-32/IEEE check value of "123456789" */
  for (int t = 0; t < NTHREADS; t++) ck_assert_uint_eq(crc_seen[t], 0xCBF43926u);
}
END_TEST

/* ---- reference counts -------------------------------------------------------------- */
static rp_idmap *shared_map;
static rp_als_model *shared_model;

/* Each thread takes and drops references in a tight loop, holding a few at
 * a time: a lost update would leave the count off by some. */
static void *ref_worker(void *arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  for (int r = 0; r < ROUNDS; r++) {
    rp_idmap *a = rp_idmap_retain(shared_map), *b = rp_idmap_retain(shared_map);
    rp_als_model *m = rp_als_model_retain(shared_model);
    rp_idmap_release(a);
    rp_als_model_free(m);
    rp_idmap_release(b);
  }
  return NULL;
}

START_TEST(refcounts_from_threads) {
  rp_err err;
  shared_map = rp_idmap_new(&err);
  ck_assert_ptr_nonnull(shared_map);
  int32_t ix;
  ck_assert_int_eq(rp_idmap_intern(shared_map, "u1", 2, &ix, &err), RP_OK);
  shared_model = rp_als_model_new(1, 1, 2, shared_map, shared_map, &err);
  ck_assert_ptr_nonnull(shared_model);
  int refs = atomic_load(&shared_map->refs);
  ck_assert_int_eq(refs, 3); /* ours and the model's two */
  pthread_t th[NTHREADS];
  pthread_barrier_init(&start, NULL, NTHREADS);
  for (int t = 0; t < NTHREADS; t++)
    ck_assert_int_eq(pthread_create(&th[t], NULL, ref_worker, NULL), 0);
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start);
  refs = atomic_load(&shared_map->refs);
  ck_assert_int_eq(refs, 3);
  refs = atomic_load(&shared_model->refs);
  ck_assert_int_eq(refs, 1);
  rp_als_model_free(shared_model); /* drops the model's two map references */
  refs = atomic_load(&shared_map->refs);
  ck_assert_int_eq(refs, 1);
  rp_idmap_release(shared_map); /* the last: freed (RP_TEST_MAIN checks no byte is left) */
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("concurrency");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, crc_first_use_from_threads); /* first: the CRC table is not built yet */
  tcase_add_test(tc, refcounts_from_threads);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
