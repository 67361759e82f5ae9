/*
 * idmap.h -- external string ids <-> dense 0-based int32 indices.
 *
 * Ids are kept byte for byte as written ("17850.0" is not "17850").  Every
 * object derived from one log shares the same maps (reference counted), so
 * row u and column i mean the same user and item everywhere.  A map only
 * grows: reading a second file onto it appends new ids at the end.
 */
#ifndef RP_IDMAP_H
#define RP_IDMAP_H

#include "rp.h"

typedef struct rp_idmap {
  int32_t n;      /* number of ids */
  int32_t cap;    /* capacity of off/hash */
  int64_t *off;   /* off[i]..off[i+1]-1 is id i in arena (NUL follows) */
  uint32_t *hash; /* hash of id i */
  char *arena;    /* ids, each followed by a NUL */
  int64_t arena_len, arena_cap;
  int32_t *slots;  /* open addressing, -1 = empty */
  uint64_t nslots; /* power of two */
  int refs;
} rp_idmap;

/* Returns a new empty map (refs = 1) owned by the caller, or NULL (err). */
rp_idmap *rp_idmap_new(rp_err *err);
/* Adds one reference; returns m.  Release frees at zero (accepts NULL). */
rp_idmap *rp_idmap_retain(rp_idmap *m);
void rp_idmap_release(rp_idmap *m);
/* Hash of a byte string as the map uses it. */
uint32_t rp_idmap_hash(const char *s, size_t len);
/* Index of id s[0..len), or -1. */
int32_t rp_idmap_find(const rp_idmap *m, const char *s, size_t len);
int32_t rp_idmap_find_h(const rp_idmap *m, const char *s, size_t len, uint32_t h);
/* Index of s, adding it when absent.  Returns RP_OK or RP_ENOMEM/RP_EINVAL
 * (more than 2^31-1 ids). */
int rp_idmap_intern(rp_idmap *m, const char *s, size_t len, int32_t *idx, rp_err *err);
int rp_idmap_intern_h(rp_idmap *m, const char *s, size_t len, uint32_t h, int32_t *idx,
                      rp_err *err);
/* The id of index i (NUL-terminated, borrowed from m) and its length. */
static inline const char *rp_idmap_id(const rp_idmap *m, int32_t i, size_t *len) {
  if (len) *len = (size_t)(m->off[i + 1] - m->off[i] - 1);
  return m->arena + m->off[i];
}
/* Reserves room for n more ids and bytes more id text (optional: speeds up
 * bulk loads). */
int rp_idmap_reserve(rp_idmap *m, int32_t n, int64_t bytes, rp_err *err);
/* A new map holding a copy of m's ids (refs = 1). */
rp_idmap *rp_idmap_copy(const rp_idmap *m, rp_err *err);
/* A new map with the ids keep[0..n) of m in that order. */
rp_idmap *rp_idmap_subset(const rp_idmap *m, const int32_t *keep, int32_t n, rp_err *err);
/* Bytes held. */
size_t rp_idmap_bytes(const rp_idmap *m);

#endif
