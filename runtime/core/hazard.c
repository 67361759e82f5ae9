/*
 * hazard.c -- hazard pointers for one shared pointer; see hazard.h.
 */
#include "hazard.h"

#include <time.h>

int rp_hazard_init(rp_hazard *h, int nslots, rp_err *err) {
  atomic_init(&h->current, NULL);
  h->slots = NULL;
  h->nslots = 0;
  if (nslots < 1) return rp_errf(err, RP_EINVAL, "hazard pointers: %d reader slots", nslots);
  h->slots = rp_malloc(sizeof *h->slots * (size_t)nslots);
  if (!h->slots) return rp_enomem(err, "hazard pointer slots");
  for (int i = 0; i < nslots; i++) atomic_init(&h->slots[i], NULL);
  h->nslots = nslots;
  return RP_OK;
}

void rp_hazard_free(rp_hazard *h) {
  rp_free((void *)h->slots);
  h->slots = NULL;
  h->nslots = 0;
}

void *rp_hazard_acquire(rp_hazard *h, int slot) {
  void *p;
  do {
    p = atomic_load(&h->current);
    atomic_store(&h->slots[slot], p);
  } while (p != atomic_load(&h->current)); /* moved before it was published: again */
  return p;
}

void rp_hazard_release(rp_hazard *h, int slot) { atomic_store(&h->slots[slot], NULL); }

void *rp_hazard_peek(rp_hazard *h) { return atomic_load(&h->current); }

void *rp_hazard_swap(rp_hazard *h, void *next) {
  void *old = atomic_exchange(&h->current, next);
  if (!old) return NULL;
  for (;;) {
    int busy = 0;
    for (int i = 0; i < h->nslots && !busy; i++) busy = atomic_load(&h->slots[i]) == old;
    if (!busy) return old;
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
}
