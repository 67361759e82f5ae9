/*
 * hazard.h -- one pointer that a writer replaces while readers on other
 * threads use what it points at: hazard pointers (M. Michael, "Hazard
 * Pointers: Safe Memory Reclamation for Lock-Free Objects", 2004), in the
 * simplest form: one slot per reader thread, one pointer per slot.
 *
 * A reader publishes the pointer it is about to use in its slot, then reads
 * the shared pointer again: unchanged, its use is safe until it clears the
 * slot; moved, it tries again.  The writer swaps in a new pointer, then
 * waits until no slot holds the old one and hands it back to be freed.
 * Every access is sequentially consistent: the reader's store to its slot
 * and its second read, and the writer's exchange and its reads of the
 * slots, cannot both miss each other.  Readers never wait and write nothing
 * shared but their own slot; the writer waits as long as the uses that had
 * already started.  (recpipe serve: the model generation each worker
 * answers with, runtime/serve/model.c.)
 */
#ifndef RP_HAZARD_H
#define RP_HAZARD_H

#include <stdatomic.h>

#include "rp.h"

typedef struct rp_hazard {
  _Atomic(void *) current;
  _Atomic(void *) *slots; /* nslots: what each reader uses, or NULL */
  int nslots;
} rp_hazard;

/* Sets up h with nslots reader slots and current = NULL.  RP_OK, or
 * RP_ENOMEM / RP_EINVAL (nslots < 1) with err set. */
int rp_hazard_init(rp_hazard *h, int nslots, rp_err *err);
/* Frees the slots (not the current pointer's object: the caller owns it).
 * No reader may be using h. */
void rp_hazard_free(rp_hazard *h);

/* Reader `slot` (one thread per slot): the current pointer, published in
 * the slot, so it stays valid until rp_hazard_release(h, slot).  A slot
 * holds one pointer at a time: a reader that nests uses counts them itself
 * and releases once. */
void *rp_hazard_acquire(rp_hazard *h, int slot);
void rp_hazard_release(rp_hazard *h, int slot);

/* The current pointer, unprotected: for the writer (which owns it) and
 * for a look that dereferences nothing. */
void *rp_hazard_peek(rp_hazard *h);

/* Writer (one at a time; the caller serialises swaps): installs next and
 * returns the previous pointer once no slot holds it any more (polling
 * every 200 microseconds while a use that started before the swap goes on),
 * so the caller may free it.  NULL when there was none. */
void *rp_hazard_swap(rp_hazard *h, void *next);

#endif
