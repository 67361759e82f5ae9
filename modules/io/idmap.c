/*
 * idmap.c -- string interning with an open-addressing table.
 *
 * Ids live in one arena (each followed by a NUL), located by off[]; the
 * table's slots hold a key (first 7 bytes + length tag), the 32-bit hash and
 * the index, so a lookup of a short id touches one cache line and a longer
 * one reads the arena only when key and hash both agree.  The hash of each
 * id is also kept in hash[] so a resize never rehashes strings.  Load factor
 * stays at or below 1/2, linear probing.
 */
#include "idmap.h"

#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

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

static void place(rp_idslot *slots, uint64_t mask, uint64_t key, uint32_t h, int32_t i) {
  uint64_t p = h & mask;
  while (slots[p].idx >= 0) p = (p + 1) & mask;
  slots[p].key = key;
  slots[p].hash = h;
  slots[p].idx = i;
}

static int grow_slots(rp_idmap *m, uint64_t want, rp_err *err) {
  uint64_t ns = m->nslots ? m->nslots : 64;
  while (ns < want * 2) ns *= 2;
  if (ns == m->nslots) return RP_OK;
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
  for (int32_t i = 0; i < m->n; i++) {
    size_t len;
    const char *id = rp_idmap_id(m, i, &len);
    place(s, ns - 1, rp_idmap_key(id, len), m->hash[i], i);
  }
  rp_free(m->slots);
  m->slots = s;
  m->nslots = ns;
  return RP_OK;
}

rp_idmap *rp_idmap_new(rp_err *err) {
  rp_idmap *m = rp_calloc(1, sizeof *m);
  if (!m) return rp_enomem(err, "id map"), NULL;
  m->refs = 1;
  m->off = rp_malloc(sizeof *m->off);
  if (!m->off || grow_slots(m, 16, err)) {
    rp_idmap_release(m);
    rp_enomem(err, "id map");
    return NULL;
  }
  m->off[0] = 0;
  return m;
}

rp_idmap *rp_idmap_retain(rp_idmap *m) {
  if (m) m->refs++;
  return m;
}

void rp_idmap_release(rp_idmap *m) {
  if (!m || --m->refs > 0) return;
  rp_free(m->off);
  rp_free(m->hash);
  rp_free(m->arena);
  rp_free(m->slots);
  rp_free(m);
}

int32_t rp_idmap_find_h(const rp_idmap *m, const char *s, size_t len, uint32_t h) {
  uint64_t mask = m->nslots - 1, p = h & mask, key = rp_idmap_key(s, len);
  for (;;) {
    const rp_idslot *e = &m->slots[p];
    if (e->idx < 0) return -1;
    if (e->key == key && e->hash == h) {
      if (len < 8) return e->idx; /* the key holds the whole id */
      int32_t i = e->idx;
      if ((size_t)(m->off[i + 1] - m->off[i] - 1) == len &&
          memcmp(m->arena + m->off[i], s, len) == 0)
        return i;
    }
    p = (p + 1) & mask;
  }
}

int32_t rp_idmap_find(const rp_idmap *m, const char *s, size_t len) {
  return rp_idmap_find_h(m, s, len, rp_idmap_hash(s, len));
}

int rp_idmap_reserve(rp_idmap *m, int32_t n, int64_t bytes, rp_err *err) {
  if (n > 0 && (int64_t)m->n + n > m->cap) {
    int64_t nc = m->cap ? m->cap : 64;
    while (nc < (int64_t)m->n + n) nc *= 2;
    if (nc > INT32_MAX) nc = INT32_MAX;
    int64_t *o = rp_realloc(m->off, (size_t)(nc + 1) * sizeof *o);
    if (!o) return rp_enomem(err, "id map");
    m->off = o;
    uint32_t *h = rp_realloc(m->hash, (size_t)nc * sizeof *h);
    if (!h) return rp_enomem(err, "id map");
    m->hash = h;
    m->cap = (int32_t)nc;
    if (grow_slots(m, (uint64_t)nc, err)) return RP_ENOMEM;
  }
  if (bytes > 0 && m->arena_len + bytes > m->arena_cap) {
    int64_t nc = m->arena_cap ? m->arena_cap : 1024;
    while (nc < m->arena_len + bytes) nc *= 2;
    char *a = rp_realloc(m->arena, (size_t)nc);
    if (!a) return rp_enomem(err, "id map text");
    m->arena = a;
    m->arena_cap = nc;
  }
  return RP_OK;
}

int rp_idmap_intern_h(rp_idmap *m, const char *s, size_t len, uint32_t h, int32_t *idx,
                      rp_err *err) {
  /* one probe sequence: find the id or the empty slot it would take */
  uint64_t mask = m->nslots - 1, p = h & mask, key = rp_idmap_key(s, len);
  for (;;) {
    const rp_idslot *e = &m->slots[p];
    if (e->idx < 0) break;
    if (e->key == key && e->hash == h) {
      int32_t i = e->idx;
      if (len < 8 || ((size_t)(m->off[i + 1] - m->off[i] - 1) == len &&
                      memcmp(m->arena + m->off[i], s, len) == 0)) {
        *idx = i;
        return RP_OK;
      }
    }
    p = (p + 1) & mask;
  }
  if (m->n == INT32_MAX) return rp_errf(err, RP_EINVAL, "more than 2^31-1 distinct ids");
  int grew = 0;
  if (m->n == m->cap || m->arena_len + (int64_t)len + 1 > m->arena_cap) {
    uint64_t ns = m->nslots;
    int rc = rp_idmap_reserve(m, m->n == m->cap ? 1 : 0, (int64_t)len + 1, err);
    if (rc) return rc;
    grew = m->nslots != ns;
  }
  int32_t i = m->n;
  memcpy(m->arena + m->arena_len, s, len);
  m->arena[m->arena_len + (int64_t)len] = 0;
  m->arena_len += (int64_t)len + 1;
  m->hash[i] = h;
  m->off[i + 1] = m->arena_len;
  m->n++;
  if (grew) {
    place(m->slots, m->nslots - 1, key, h, i);
  } else if ((uint64_t)m->n * 2 > m->nslots) {
    m->n--; /* grow_slots places ids 0..n-1; the new one is placed after */
    if (grow_slots(m, (uint64_t)m->n + 1, err)) {
      m->arena_len = m->off[i]; /* keep the map consistent: the id is not added */
      return RP_ENOMEM;
    }
    m->n++;
    place(m->slots, m->nslots - 1, key, h, i);
  } else {
    m->slots[p].key = key;
    m->slots[p].hash = h;
    m->slots[p].idx = i;
  }
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
  for (int32_t k = 0; k < n; k++) bytes += m->off[keep[k] + 1] - m->off[keep[k]];
  if (rp_idmap_reserve(r, n, bytes, err)) {
    rp_idmap_release(r);
    return NULL;
  }
  for (int32_t k = 0; k < n; k++) {
    int32_t j = keep[k], idx;
    size_t len;
    const char *s = rp_idmap_id(m, j, &len);
    if (rp_idmap_intern_h(r, s, len, m->hash[j], &idx, err)) {
      rp_idmap_release(r);
      return NULL;
    }
  }
  return r;
}

rp_idmap *rp_idmap_copy(const rp_idmap *m, rp_err *err) {
  rp_idmap *r = rp_idmap_new(err);
  if (!r) return NULL;
  if (rp_idmap_reserve(r, m->n, m->arena_len, err)) {
    rp_idmap_release(r);
    return NULL;
  }
  memcpy(r->arena, m->arena, (size_t)m->arena_len);
  memcpy(r->off, m->off, (size_t)(m->n + 1) * sizeof *r->off);
  if (m->n) memcpy(r->hash, m->hash, (size_t)m->n * sizeof *r->hash);
  r->arena_len = m->arena_len;
  /* rebuild the table for the copied ids */
  memset(r->slots, 0xff, r->nslots * sizeof *r->slots);
  r->n = m->n;
  for (int32_t i = 0; i < r->n; i++) {
    size_t len;
    const char *id = rp_idmap_id(r, i, &len);
    place(r->slots, r->nslots - 1, rp_idmap_key(id, len), r->hash[i], i);
  }
  return r;
}

size_t rp_idmap_bytes(const rp_idmap *m) {
  return (size_t)m->cap * (sizeof *m->off + sizeof *m->hash) + (size_t)m->arena_cap +
         m->nslots * sizeof *m->slots;
}
