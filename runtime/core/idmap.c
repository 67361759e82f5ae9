/*
 * idmap.c -- string interning with an open-addressing table.
 *
 * Ids live in one arena (each followed by a NUL), located by an offset
 * array: 32-bit while the arena is below 4 GiB, 64-bit past it.  The
 * table's slots hold a key (first 7 bytes + length tag), the 32-bit hash and
 * the index, so a lookup of a short id touches one cache line and a longer
 * one reads the arena only when key and hash both agree.  Nothing else is
 * kept per id: a resize moves slots with the hash they hold, never
 * rehashing strings.  The table may have any size (an id's home slot is its
 * hash scaled to the size), so a map whose final size is known is sized
 * exactly at load 3/4; a map that grows one id at a time doubles its table
 * at load 1/2.  Linear probing.
 *
 * Memory an id, besides its text + 1: 4 (offset) + 16/load (slot), i.e.
 * ~25 bytes for reserved maps, 36-72 for grown ones.
 */
#include "idmap.h"

#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define MIN_SLOTS 32
#define MAX_SLOTS ((uint64_t)1 << 32) /* rp_idmap_home maps 32-bit hashes */

static int64_t wide_limit = UINT32_MAX;

void rp_idmap_set_wide_limit(int64_t bytes) { wide_limit = bytes; }

uint32_t rp_idmap_hash(const char *s, size_t len) {
  /* 64-bit multiply-xorshift over 8-byte words; short ids dominate, so the
   * tail is read with memcpy, no over-read. */
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    s += 8;
    len -= 8;
  }
  if (len) {
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  }
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 32;
  return (uint32_t)h;
}

static void place(rp_idslot *slots, uint64_t ns, const rp_idslot *e) {
  uint64_t p = rp_idmap_home(e->hash, ns);
  while (slots[p].idx >= 0) p = p + 1 == ns ? 0 : p + 1;
  slots[p] = *e;
}

/* Replaces the table by one of ns slots (> the ids held) that holds up to
 * grow_at ids, moving the entries of the old one (or of `from`'s table when
 * given: rp_idmap_copy). */
static int resize_table(rp_idmap *m, const rp_idmap *from, uint64_t ns, uint64_t grow_at,
                        rp_err *err) {
  rp_idslot *s = rp_malloc(ns * sizeof *s);
  if (!s) return rp_enomem(err, "id map table");
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  /* lookups hit the table at random: huge pages spare TLB misses (a hint) */
  if (ns * sizeof *s >= ((size_t)4 << 20)) {
    uintptr_t a = ((uintptr_t)s + 4095) & ~(uintptr_t)4095;
    uintptr_t e = ((uintptr_t)s + ns * sizeof *s) & ~(uintptr_t)4095;
    (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
  }
#endif
  memset(s, 0xff, ns * sizeof *s); /* idx = -1 */
  const rp_idmap *src = from ? from : m;
  for (uint64_t q = 0; q < src->nslots; q++)
    if (src->slots[q].idx >= 0) place(s, ns, &src->slots[q]);
  rp_free(m->slots);
  m->slots = s;
  m->nslots = ns;
  m->grow_at = grow_at;
  return RP_OK;
}

/* Offsets for at least want ids (want <= INT32_MAX). */
static int grow_ids(rp_idmap *m, int64_t want, rp_err *err) {
  if (want <= m->cap) return RP_OK;
  size_t w = m->off32 ? sizeof *m->off32 : sizeof *m->off64;
  void *o = rp_realloc(m->off32 ? (void *)m->off32 : (void *)m->off64, (size_t)(want + 1) * w);
  if (!o) return rp_enomem(err, "id map");
  if (m->off32)
    m->off32 = o;
  else
    m->off64 = o;
  m->cap = (int32_t)want;
  return RP_OK;
}

/* Arena room for want bytes; offsets turn 64-bit first when they must. */
static int grow_arena(rp_idmap *m, int64_t want, rp_err *err) {
  if (want <= m->arena_cap) return RP_OK;
  if (m->off32 && want > wide_limit) {
    int64_t *o = rp_malloc((size_t)(m->cap + 1) * sizeof *o);
    if (!o) return rp_enomem(err, "id map");
    for (int32_t i = 0; i <= m->n; i++) o[i] = m->off32[i];
    rp_free(m->off32);
    m->off32 = NULL;
    m->off64 = o;
  }
  char *a = rp_realloc(m->arena, (size_t)want);
  if (!a) return rp_enomem(err, "id map text");
  m->arena = a;
  m->arena_cap = want;
  return RP_OK;
}

rp_idmap *rp_idmap_new(rp_err *err) {
  rp_idmap *m = rp_calloc(1, sizeof *m);
  if (!m) return rp_enomem(err, "id map"), NULL;
  atomic_init(&m->refs, 1);
  m->off32 = rp_malloc(sizeof *m->off32);
  if (!m->off32 || resize_table(m, NULL, MIN_SLOTS, MIN_SLOTS / 2, err)) {
    rp_idmap_release(m);
    rp_enomem(err, "id map");
    return NULL;
  }
  m->off32[0] = 0;
  return m;
}

rp_idmap *rp_idmap_retain(rp_idmap *m) {
  if (m) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void rp_idmap_release(rp_idmap *m) {
  /* acq_rel: the last release sees every other holder's writes */
  if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) > 1) return;
  rp_free(m->off32);
  rp_free(m->off64);
  rp_free(m->arena);
  rp_free(m->slots);
  rp_free(m);
}

/* s[0..len) equals id i (the key already agreed: short ids are equal) */
static inline int same(const rp_idmap *m, int32_t i, const char *s, size_t len) {
  if (len < 8) return 1;
  size_t n;
  const char *id = rp_idmap_id(m, i, &n);
  return n == len && memcmp(id, s, len) == 0;
}

int32_t rp_idmap_find_h(const rp_idmap *m, const char *s, size_t len, uint32_t h) {
  uint64_t ns = m->nslots, p = rp_idmap_home(h, ns), key = rp_idmap_key(s, len);
  for (;;) {
    const rp_idslot *e = &m->slots[p];
    if (e->idx < 0) return -1;
    if (e->key == key && e->hash == h && same(m, e->idx, s, len)) return e->idx;
    p = p + 1 == ns ? 0 : p + 1;
  }
}

int32_t rp_idmap_find(const rp_idmap *m, const char *s, size_t len) {
  return rp_idmap_find_h(m, s, len, rp_idmap_hash(s, len));
}

int rp_idmap_reserve(rp_idmap *m, int32_t n, int64_t bytes, rp_err *err) {
  if (m->frozen && (n > 0 || bytes > 0)) return RP_OK; /* nothing may be added anyway */
  if (n > 0) {
    int64_t want = (int64_t)m->n + n;
    if (want > INT32_MAX) want = INT32_MAX;
    if (grow_ids(m, want, err)) return RP_ENOMEM;
    uint64_t ns = (uint64_t)want + ((uint64_t)want + 2) / 3; /* load 3/4 when full */
    if (ns < MIN_SLOTS) ns = MIN_SLOTS;
    if (ns > MAX_SLOTS) ns = MAX_SLOTS;
    if ((uint64_t)want > m->grow_at && ns <= m->nslots)
      m->grow_at = (uint64_t)want; /* the table is big enough */
    else if ((uint64_t)want > m->grow_at && resize_table(m, NULL, ns, (uint64_t)want, err))
      return RP_ENOMEM;
  }
  if (bytes > 0 && grow_arena(m, m->arena_len + bytes, err)) return RP_ENOMEM;
  return RP_OK;
}

int rp_idmap_intern_h(rp_idmap *m, const char *s, size_t len, uint32_t h, int32_t *idx,
                      rp_err *err) {
  /* one probe sequence: find the id or the empty slot it would take */
  uint64_t ns = m->nslots, p = rp_idmap_home(h, ns), key = rp_idmap_key(s, len);
  for (;;) {
    const rp_idslot *e = &m->slots[p];
    if (e->idx < 0) break;
    if (e->key == key && e->hash == h && same(m, e->idx, s, len)) {
      *idx = e->idx;
      return RP_OK;
    }
    p = p + 1 == ns ? 0 : p + 1;
  }
  if (m->frozen)
    return rp_errf(err, RP_EINVAL,
                   "cannot add id '%.*s': the id map is shared read-only (a server's model "
                   "or matrix); read onto a copy of it",
                   (int)(len < 64 ? len : 64), s);
  if (m->n == INT32_MAX) return rp_errf(err, RP_EINVAL, "more than 2^31-1 distinct ids");
  /* make room first: a failure leaves the map as it was */
  if (m->n == m->cap) {
    int64_t nc = m->cap ? 2 * (int64_t)m->cap : 64;
    if (grow_ids(m, nc > INT32_MAX ? INT32_MAX : nc, err)) return RP_ENOMEM;
  }
  int64_t need = m->arena_len + (int64_t)len + 1;
  if (need > m->arena_cap) {
    int64_t nc = m->arena_cap ? 2 * m->arena_cap : 1024;
    if (grow_arena(m, nc > need ? nc : need, err)) return RP_ENOMEM;
  }
  rp_idslot e = {key, h, m->n};
  if ((uint64_t)m->n + 1 > m->grow_at) {
    uint64_t nns = 2 * m->nslots > MAX_SLOTS ? MAX_SLOTS : 2 * m->nslots;
    if (resize_table(m, NULL, nns, nns / 2, err)) return RP_ENOMEM;
    place(m->slots, m->nslots, &e);
  } else {
    m->slots[p] = e;
  }
  int32_t i = m->n;
  memcpy(m->arena + m->arena_len, s, len);
  m->arena[m->arena_len + (int64_t)len] = 0;
  m->arena_len += (int64_t)len + 1;
  if (m->off32)
    m->off32[i + 1] = (uint32_t)m->arena_len;
  else
    m->off64[i + 1] = m->arena_len;
  m->n++;
  *idx = i;
  return RP_OK;
}

int rp_idmap_intern(rp_idmap *m, const char *s, size_t len, int32_t *idx, rp_err *err) {
  return rp_idmap_intern_h(m, s, len, rp_idmap_hash(s, len), idx, err);
}

rp_idmap *rp_idmap_subset(const rp_idmap *m, const int32_t *keep, int32_t n, rp_err *err) {
  rp_idmap *r = rp_idmap_new(err);
  if (!r) return NULL;
  int64_t bytes = 0;
  for (int32_t k = 0; k < n; k++) bytes += rp_idmap_off(m, keep[k] + 1) - rp_idmap_off(m, keep[k]);
  if (rp_idmap_reserve(r, n, bytes, err)) {
    rp_idmap_release(r);
    return NULL;
  }
  for (int32_t k = 0; k < n; k++) {
    int32_t idx;
    size_t len;
    const char *s = rp_idmap_id(m, keep[k], &len);
    if (rp_idmap_intern(r, s, len, &idx, err)) {
      rp_idmap_release(r);
      return NULL;
    }
  }
  return r;
}

rp_idmap *rp_idmap_copy(const rp_idmap *m, rp_err *err) {
  rp_idmap *r = rp_idmap_new(err);
  if (!r) return NULL;
  if (grow_ids(r, m->n, err) || grow_arena(r, m->arena_len, err)) {
    rp_idmap_release(r);
    return NULL;
  }
  /* the table as m's: the same size and bound, entries moved (no hashing) */
  if (resize_table(r, m, m->nslots, m->grow_at, err)) {
    rp_idmap_release(r);
    return NULL;
  }
  if (m->arena_len) memcpy(r->arena, m->arena, (size_t)m->arena_len);
  for (int32_t i = 0; i <= m->n; i++) {
    if (r->off32)
      r->off32[i] = (uint32_t)rp_idmap_off(m, i);
    else
      r->off64[i] = rp_idmap_off(m, i);
  }
  r->arena_len = m->arena_len;
  r->n = m->n;
  return r;
}

int rp_idmap_is_prefix(const rp_idmap *s, const rp_idmap *l) {
  if (s == l || !s || !l) return 1;
  if (s->n > l->n) return 0;
  for (int32_t i = 0; i <= s->n; i++)
    if (rp_idmap_off(s, i) != rp_idmap_off(l, i)) return 0;
  return s->arena_len == 0 || memcmp(s->arena, l->arena, (size_t)s->arena_len) == 0;
}

size_t rp_idmap_bytes(const rp_idmap *m) {
  size_t w = m->off32 ? sizeof *m->off32 : sizeof *m->off64;
  return ((size_t)m->cap + 1) * w + (size_t)m->arena_cap + m->nslots * sizeof *m->slots;
}
