/*
 * test_hazard.c -- hazard pointers (runtime/core/hazard.h), the swap of a
 * server's model generations, under threads: readers acquire the current
 * object, check it is whole while they hold it, and release it, while a
 * writer swaps in new objects and frees each old one as soon as the swap
 * hands it back.  A reader that ever sees a freed (poisoned) object, an
 * object freed twice or never, or a swap that returns while a reader still
 * holds its object fails the test; under TSAN=1 ThreadSanitizer checks the
 * orderings, under SAN=1 AddressSanitizer any use after free.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "hazard.h"
#include "rptest.h"

#define READERS 4
#define SWAPS 500
#define MAGIC 0x600dcafeu

typedef struct obj {
  unsigned magic;
  int serial;
  int payload[16]; /* payload[i] == serial for every i while alive */
} obj;

static rp_hazard hz;
static atomic_int stop, freed, reads;
static atomic_int holding[READERS]; /* serial each reader holds now, -1: none */

static obj *make(int serial) {
  obj *o = rp_malloc(sizeof *o);
  ck_assert_ptr_nonnull(o);
  o->magic = MAGIC;
  o->serial = serial;
  for (int i = 0; i < 16; i++) o->payload[i] = serial;
  return o;
}

static void destroy(obj *o) {
  /* no reader may hold it now: the swap waited for them */
  for (int r = 0; r < READERS; r++) ck_assert_int_ne(atomic_load(&holding[r]), o->serial);
  o->magic = 0xdeadu; /* poison: a reader still using it would see this */
  for (int i = 0; i < 16; i++) o->payload[i] = -1;
  rp_free(o);
  atomic_fetch_add(&freed, 1);
}

static void *reader(void *arg) {
  int slot = (int)(intptr_t)arg;
  int last = 0;
  while (!atomic_load(&stop)) {
    obj *o = rp_hazard_acquire(&hz, slot);
    atomic_store(&holding[slot], o->serial);
    /* the object is whole for as long as it is held */
    for (int k = 0; k < 3; k++) {
      ck_assert_uint_eq(o->magic, MAGIC);
      for (int i = 0; i < 16; i++) ck_assert_int_eq(o->payload[i], o->serial);
    }
    ck_assert_int_ge(o->serial, last); /* never an older one than seen before */
    last = o->serial;
    atomic_store(&holding[slot], -1);
    rp_hazard_release(&hz, slot);
    atomic_fetch_add(&reads, 1);
  }
  return NULL;
}

START_TEST(swap_under_readers) {
  rp_err err;
  ck_assert_int_eq(rp_hazard_init(&hz, READERS, &err), RP_OK);
  ck_assert_ptr_null(rp_hazard_swap(&hz, make(0))); /* the first: no old one */
  for (int r = 0; r < READERS; r++) atomic_store(&holding[r], -1);
  atomic_store(&stop, 0);
  atomic_store(&freed, 0);
  pthread_t th[READERS];
  for (int r = 0; r < READERS; r++)
    ck_assert_int_eq(pthread_create(&th[r], NULL, reader, (void *)(intptr_t)r), 0);
  for (int s = 1; s <= SWAPS; s++) {
    obj *old = rp_hazard_swap(&hz, make(s));
    ck_assert_ptr_nonnull(old);
    ck_assert_int_eq(old->serial, s - 1); /* handed back in order, each once */
    destroy(old);
    if (s % 50 == 0) { /* let the readers through between bursts of swaps */
      int r0 = atomic_load(&reads);
      while (atomic_load(&reads) < r0 + READERS) sched_yield();
    }
  }
  atomic_store(&stop, 1);
  for (int r = 0; r < READERS; r++) pthread_join(th[r], NULL);
  obj *last = rp_hazard_peek(&hz);
  ck_assert_int_eq(last->serial, SWAPS);
  ck_assert_int_eq(atomic_load(&freed), SWAPS);
  destroy(last);
  rp_hazard_free(&hz);
}
END_TEST

/* A swap waits for a reader that holds the old object, and only for it. */
static atomic_int swapped;
static void *swapper(void *arg) {
  obj *old = rp_hazard_swap(&hz, arg);
  atomic_store(&swapped, 1);
  return old;
}

START_TEST(swap_waits_for_holder) {
  rp_err err;
  ck_assert_int_eq(rp_hazard_init(&hz, 2, &err), RP_OK);
  rp_hazard_swap(&hz, make(1));
  obj *held = rp_hazard_acquire(&hz, 1);
  ck_assert_int_eq(held->serial, 1);
  atomic_store(&swapped, 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, swapper, make(2)), 0);
  /* the new object is current at once: a new reader gets it */
  while (((obj *)rp_hazard_peek(&hz))->serial != 2) sched_yield();
  obj *fresh = rp_hazard_acquire(&hz, 0);
  ck_assert_int_eq(fresh->serial, 2);
  rp_hazard_release(&hz, 0);
  /* ... while the swap still waits for slot 1 (it cannot have returned:
   * that is the property, not a timing) */
  ck_assert_int_eq(atomic_load(&swapped), 0);
  ck_assert_uint_eq(held->magic, MAGIC);
  rp_hazard_release(&hz, 1);
  void *old;
  pthread_join(th, &old);
  ck_assert_ptr_eq(old, held);
  ck_assert_int_eq(atomic_load(&swapped), 1);
  rp_free(old);
  rp_free(rp_hazard_peek(&hz));
  rp_hazard_free(&hz);
}
END_TEST

START_TEST(init_errors) {
  rp_err err;
  rp_hazard h;
  ck_assert_int_eq(rp_hazard_init(&h, 0, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "0 reader slots"));
  RP_FAULT_LOOP((rp_hazard_init(&h, 8, &err) || (rp_hazard_free(&h), 0)));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hazard");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, swap_under_readers);
  tcase_add_test(tc, swap_waits_for_holder);
  tcase_add_test(tc, init_errors);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
