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

#include <stdatomic.h>

#include "rp.h"

typedef struct rp_idmap {
  int32_t n;       /* number of ids */
  int32_t cap;     /* capacity of the offset array (ids) */
  uint32_t *off32; /* off[i]..off[i+1]-1 is id i in arena (NUL follows), */
  int64_t *off64;  /* 32-bit while the arena stays below 4 GiB, else 64 */
  char *arena;     /* ids, each followed by a NUL */
  int64_t arena_len, arena_cap;
  struct rp_idslot *slots; /* open addressing, linear probing */
  uint64_t nslots;         /* any size (positions by multiply-shift), <= 2^32 */
  uint64_t grow_at;        /* the table grows before holding more ids than this */
  atomic_int refs;         /* C11 atomic: maps are shared by objects in several threads */
  int frozen; /* 1: read-only (shared by a server's workers); intern of a new id fails */
} rp_idmap;

/* Hash of a byte string as the map uses it. */
uint32_t rp_idmap_hash(const char *s, size_t len);

/* A slot holds the id's key (its first 7 bytes and its length, see
 * rp_idmap_key), hash and index (-1 = empty): an id of up to 7 bytes is
 * found with one cache line touched, a longer one compares the arena only
 * when key and hash agree. */
typedef struct rp_idslot {
  uint64_t key;
  uint32_t hash;
  int32_t idx;
} rp_idslot;

/* The slot key of s[0..len): bytes 0..6 (zero padded) and a tag byte, the
 * length when below 8, else 0x80 | (len & 0x7f). */
static inline uint64_t rp_idmap_key(const char *s, size_t len) {
  uint64_t w = 0;
  __builtin_memcpy(&w, s, len < 8 ? len : 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w >>= 8;
#else
  w &= 0x00ffffffffffffffULL;
#endif
  return w | (uint64_t)(len < 8 ? len : 0x80 | (len & 0x7f)) << 56;
}

/* rp_idmap_hash for a string that may be read up to 8 bytes past its end
 * (padded buffers): the same value, without a variable-length copy. */
static inline uint32_t rp_idmap_hash_padded(const char *s, size_t len) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL), w;
  while (len >= 8) {
    __builtin_memcpy(&w, s, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    s += 8;
    len -= 8;
  }
  if (len) {
    __builtin_memcpy(&w, s, 8);
    w &= ~0ULL >> (64 - 8 * len);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  }
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 32;
  return (uint32_t)h;
#else
  return rp_idmap_hash(s, len);
#endif
}

/* The slot an id of hash h starts probing at: h scaled to [0, nslots). */
static inline uint64_t rp_idmap_home(uint32_t h, uint64_t nslots) {
  return ((uint64_t)h * nslots) >> 32;
}

/* Hints the cache to load the slot an id of hash h starts probing at. */
static inline void rp_idmap_prefetch(const rp_idmap *m, uint32_t h) {
  __builtin_prefetch(&m->slots[rp_idmap_home(h, m->nslots)]);
}

/* Returns a new empty map (refs = 1) owned by the caller, or NULL (err). */
rp_idmap *rp_idmap_new(rp_err *err);
/* Adds one reference; returns m.  Release frees at zero (accepts NULL).
 * Both are atomic: any thread holding a reference may call them. */
rp_idmap *rp_idmap_retain(rp_idmap *m);
void rp_idmap_release(rp_idmap *m);
/* Index of id s[0..len), or -1.  Maps may be read from several threads at
 * once while no thread modifies them. */
int32_t rp_idmap_find(const rp_idmap *m, const char *s, size_t len);
int32_t rp_idmap_find_h(const rp_idmap *m, const char *s, size_t len, uint32_t h);
/* Index of s, adding it when absent.  Returns RP_OK or RP_ENOMEM/RP_EINVAL
 * (more than 2^31-1 ids, or a new id on a frozen map). */
int rp_idmap_intern(rp_idmap *m, const char *s, size_t len, int32_t *idx, rp_err *err);
int rp_idmap_intern_h(rp_idmap *m, const char *s, size_t len, uint32_t h, int32_t *idx,
                      rp_err *err);
/* Where id i starts in the arena (i = n: the arena's length). */
static inline int64_t rp_idmap_off(const rp_idmap *m, int32_t i) {
  return m->off32 ? (int64_t)m->off32[i] : m->off64[i];
}
/* The id of index i (NUL-terminated, borrowed from m) and its length. */
static inline const char *rp_idmap_id(const rp_idmap *m, int32_t i, size_t *len) {
  int64_t a = rp_idmap_off(m, i);
  if (len) *len = (size_t)(rp_idmap_off(m, i + 1) - a - 1);
  return m->arena + a;
}
/* Reserves room for n more ids and bytes more id text (each id counts its
 * length + 1).  Sized exactly, with the table at its bulk load factor (3/4)
 * when full: a map whose final size is known (a model or matrix file) costs
 * about 4 + 21 bytes an id besides its text.  Interning past the reservation
 * still works (the table then doubles). */
int rp_idmap_reserve(rp_idmap *m, int32_t n, int64_t bytes, rp_err *err);
/* A new map holding a copy of m's ids (refs = 1). */
rp_idmap *rp_idmap_copy(const rp_idmap *m, rp_err *err);
/* A new map with the ids keep[0..n) of m in that order. */
rp_idmap *rp_idmap_subset(const rp_idmap *m, const int32_t *keep, int32_t n, rp_err *err);
/* 1 when the ids of s are the first s->n ids of l, in order (NULL maps:
 * 1 when either is NULL). */
int rp_idmap_is_prefix(const rp_idmap *s, const rp_idmap *l);
/* Bytes held. */
size_t rp_idmap_bytes(const rp_idmap *m);
/* Test hook: the arena length past which offsets turn 64-bit (default
 * UINT32_MAX; tests lower it to cover the wide path).  Not thread safe. */
void rp_idmap_set_wide_limit(int64_t bytes);

#endif
