/*
 * cache.c -- the sharded LRU + TTL cache of cache.h.
 *
 * A shard is one mutex over three views of the same entries:
 *   - a chained hash table (key -> entry) for get/put,
 *   - a doubly linked LRU list through a sentinel (head->next is the most
 *     recently used, head->prev the next victim),
 *   - a skip list in key order (memcmp, then length), so prefix
 *     invalidation finds the first key >= prefix in O(log n) and removes
 *     the run of matching keys that follows, instead of scanning.
 * The skip list's sentinel is the LRU sentinel.  A node's height comes from
 * bits of its (secretly keyed) hash: geometric with p = 1/4, at most
 * SL_MAX, needing no generator and no lock to draw.
 *
 * Allocation and freeing happen outside the shard lock where they can:
 * a new entry is allocated before the lock is retaken, and removed entries
 * are chained on a local "dead" list and freed after unlocking.
 *
 * fetch's single flight: a miss with no computation in progress installs a
 * flight record (key, owner thread) in the shard and computes without the
 * lock; later fetches of the key find the record and wait on the shard's
 * condition variable until it is done.  An invalidation that matches the
 * key marks the flight stale and unlinks it, so its value reaches the
 * callers already waiting but is not stored, and new fetches start afresh.
 */
#include "cache.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define SL_MAX 12 /* skip list height: 4^12 = 16M entries per shard at p = 1/4 */

/* An entry is one allocation laid out so that a hit reads one cache line
 * when the key is short: the fields a lookup needs, then the key, then
 * (8-byte aligned) the LRU and skip-list links, which only changes touch. */
typedef struct ent {
  struct ent *hnext; /* hash chain; after removal, the dead list */
  uint64_t hash;
  rp_cache_val *val;
  double expires; /* clock seconds; HUGE_VAL = never */
  uint32_t pad_;
  uint16_t klen;
  uint8_t level;       /* skip-list height */
  uint8_t used;        /* hit since it last went to the front (second chance) */
  unsigned char key[]; /* klen bytes, then the links */
} ent;

typedef struct links {
  struct ent *prev, *next; /* LRU list */
  struct ent *fwd[];       /* level skip-list links */
} links;

#define LINKS_AT(klen) ((sizeof(ent) + (size_t)(klen) + 7) & ~(size_t)7)
#define LNK(e) ((links *)((char *)(e) + LINKS_AT((e)->klen)))
#define PREV(e) (LNK(e)->prev)
#define NEXT(e) (LNK(e)->next)
#define FWD(e) (LNK(e)->fwd)
#define KEY(e) ((const unsigned char *)(e)->key)

typedef struct flight {
  struct flight *next; /* in the shard's list while not stale and not done */
  uint64_t hash;
  pthread_t owner;
  int done, stale, owner_gone, waiters;
  int status;
  rp_cache_val *val; /* the result (one reference), or NULL */
  char msg[sizeof(((rp_err *)0)->msg)];
  size_t klen;
  unsigned char key[];
} flight;

typedef struct shard {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* flights done */
  ent **buckets;
  size_t nbuckets; /* power of two */
  ent *head;       /* LRU sentinel and skip-list head (SL_MAX links) */
  flight *flights;
  int64_t entries, bytes, cap_entries, cap_bytes;
  uint64_t hits, misses, inserts, updates, evictions, expirations, invalidations, rejected;
  uint64_t computations, waits, compute_errors;
} __attribute__((aligned(64))) shard;

struct rp_cache {
  _Atomic long refs;
  rp_cache_opts opts;  /* as run (shards lowered) */
  rp_cache_opts asked; /* as given, for rp_cache_shared */
  uint64_t k0, k1;     /* SipHash key */
  _Atomic int64_t offset_ns;
  int32_t nshards;
  shard *shards;
};

/* ---- values ------------------------------------------------------------------- */
rp_cache_val *rp_cache_val_alloc(size_t len, uint32_t kind, rp_err *err) {
  if (len > SIZE_MAX - sizeof(rp_cache_val) - 1) {
    rp_enomem(err, "cache value");
    return NULL;
  }
  rp_cache_val *v = rp_malloc(sizeof *v + len + 1);
  if (!v) {
    rp_enomem(err, "cache value");
    return NULL;
  }
  atomic_init(&v->refs, 1);
  v->kind = kind;
  v->len = len;
  v->data[len] = 0;
  return v;
}

rp_cache_val *rp_cache_val_new(const void *data, size_t len, uint32_t kind, rp_err *err) {
  rp_cache_val *v = rp_cache_val_alloc(len, kind, err);
  if (v && len) memcpy(v->data, data, len);
  return v;
}

rp_cache_val *rp_cache_val_retain(rp_cache_val *v) {
  atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
  return v;
}

void rp_cache_val_release(rp_cache_val *v) {
  if (v && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1) rp_free(v);
}

/* ---- hashing: SipHash-1-3 (Aumasson & Bernstein), as Python and Rust use
 * for their string-keyed tables: fast on short keys, and with a random key
 * an attacker choosing keys (user ids in a request) cannot aim at one
 * bucket. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND       \
  do {                 \
    v0 += v1;          \
    v1 = ROTL(v1, 13); \
    v1 ^= v0;          \
    v0 = ROTL(v0, 32); \
    v2 += v3;          \
    v3 = ROTL(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = ROTL(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = ROTL(v1, 17); \
    v1 ^= v2;          \
    v2 = ROTL(v2, 32); \
  } while (0)

/* a little-endian 64-bit load (one instruction on x86 and arm64) */
static inline uint64_t load64(const unsigned char *p) {
  uint64_t m;
  memcpy(&m, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  m = __builtin_bswap64(m);
#endif
  return m;
}

static uint64_t siphash13(const unsigned char *in, size_t len, uint64_t k0, uint64_t k1) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  const unsigned char *end = in + (len & ~(size_t)7);
  for (; in != end; in += 8) {
    uint64_t m = load64(in);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < (len & 7); i++) b |= (uint64_t)in[i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t hash_key(const rp_cache *c, const void *key, size_t klen) {
  return siphash13(key, klen, c->k0, c->k1);
}

static shard *shard_of(const rp_cache *c, uint64_t h) {
  return &c->shards[(uint32_t)(h >> 32) % (uint32_t)c->nshards];
}

static double cache_now(const rp_cache *c) {
  double t = c->opts.clock ? c->opts.clock(c->opts.clock_ud) : rp_now();
  return t + (double)atomic_load_explicit(&c->offset_ns, memory_order_relaxed) * 1e-9;
}

void rp_cache_advance(rp_cache *c, double seconds) {
  if (seconds > 0 && seconds < 1e9) atomic_fetch_add(&c->offset_ns, (int64_t)(seconds * 1e9));
}

/* ---- entries -------------------------------------------------------------------- */
static int keycmp(const unsigned char *a, size_t an, const void *b, size_t bn) {
  int r = memcmp(a, b, an < bn ? an : bn);
  if (r) return r;
  return an < bn ? -1 : an > bn;
}

static ent *ent_new(const void *key, size_t klen, uint64_t h) {
  /* height: 1 + (trailing zero pairs of 24 hash bits), p = 1/4 per level */
  uint64_t bits = (h >> 40) | (1ULL << 22);
  uint32_t level = 1 + (uint32_t)__builtin_ctzll(bits) / 2;
  if (level > SL_MAX) level = SL_MAX;
  size_t size = LINKS_AT(klen) + sizeof(links) + level * sizeof(ent *);
  ent *e = rp_malloc(size);
  if (!e) return NULL;
  memset(e, 0, size);
  e->hash = h;
  e->klen = (uint16_t)klen;
  e->level = (uint8_t)level;
  memcpy(e->key, key, klen);
  return e;
}

static void free_dead(ent *dead) {
  while (dead) {
    ent *n = dead->hnext;
    rp_cache_val_release(dead->val);
    rp_free(dead);
    dead = n;
  }
}

static int64_t ent_bytes(const ent *e) { return (int64_t)e->klen + (int64_t)e->val->len; }

/* the chain link that points at key's entry (or at the chain's end) */
static ent **hslot(shard *s, uint64_t h, const void *key, size_t klen) {
  ent **p = &s->buckets[h & (s->nbuckets - 1)];
  while (*p && !((*p)->hash == h && (*p)->klen == klen && memcmp(KEY(*p), key, klen) == 0))
    p = &(*p)->hnext;
  return p;
}

static void hgrow(shard *s) {
  size_t n = s->nbuckets * 2;
  ent **nb = rp_calloc(n, sizeof *nb);
  if (!nb) return; /* keep the longer chains: slower, still correct */
  for (size_t i = 0; i < s->nbuckets; i++) {
    for (ent *e = s->buckets[i], *next; e; e = next) {
      next = e->hnext;
      e->hnext = nb[e->hash & (n - 1)];
      nb[e->hash & (n - 1)] = e;
    }
  }
  rp_free(s->buckets);
  s->buckets = nb;
  s->nbuckets = n;
}

static void lru_unlink(ent *e) {
  NEXT(PREV(e)) = NEXT(e);
  PREV(NEXT(e)) = PREV(e);
}

static void lru_front(shard *s, ent *e) {
  NEXT(e) = NEXT(s->head);
  PREV(e) = s->head;
  PREV(NEXT(s->head)) = e;
  NEXT(s->head) = e;
  e->used = 0;
}

/* A hit.  A shard of at most 64 entries moves the entry to the front:
 * exact LRU.  A larger one only marks it (no list writes: a hit touches
 * the entry's first cache line and its value, nothing else), and eviction
 * gives a marked entry at the LRU end a second chance at the front instead
 * of dropping it (CLOCK, the approximation of LRU that page caches use). */
static void touch(shard *s, ent *e) {
  if (s->entries > 64) {
    e->used = 1;
  } else if (NEXT(s->head) != e) {
    lru_unlink(e);
    lru_front(s, e);
  }
}

/* A lookup found e (s->mu held): counts it, touches it, and returns a new
 * reference to its value for the caller. */
static rp_cache_val *hit(shard *s, ent *e) {
  s->hits++;
  touch(s, e);
  return rp_cache_val_retain(e->val);
}

/* up[i]: the last node at level i whose key is < key */
static void sl_find(shard *s, const void *key, size_t klen, ent **up) {
  ent *x = s->head;
  for (int i = SL_MAX - 1; i >= 0; i--) {
    while (FWD(x)[i] && keycmp(KEY(FWD(x)[i]), FWD(x)[i]->klen, key, klen) < 0) x = FWD(x)[i];
    up[i] = x;
  }
}

/* Unlinks e from all three views onto *dead (freed after the lock). */
static void remove_entry(shard *s, ent *e, ent **dead) {
  ent **p = hslot(s, e->hash, KEY(e), e->klen);
  if (RP_ALWAYS(*p == e)) *p = e->hnext;
  lru_unlink(e);
  ent *up[SL_MAX];
  sl_find(s, KEY(e), e->klen, up);
  for (uint32_t i = 0; i < e->level; i++)
    if (FWD(up[i])[i] == e) FWD(up[i])[i] = FWD(e)[i];
  s->entries--;
  s->bytes -= ent_bytes(e);
  e->hnext = *dead;
  *dead = e;
}

static int expired(const rp_cache *c, const ent *e) {
  return e->expires != HUGE_VAL && e->expires <= cache_now(c);
}

/* key's live entry or NULL; an expired one is removed on the way */
static ent *lookup(rp_cache *c, shard *s, uint64_t h, const void *key, size_t klen, ent **dead) {
  ent *e = *hslot(s, h, key, klen);
  if (e && expired(c, e)) {
    remove_entry(s, e, dead);
    s->expirations++;
    return NULL;
  }
  return e;
}

/* Drops LRU entries (never keep) while the shard is over a capacity. */
static void evict(rp_cache *c, shard *s, ent *keep, ent **dead) {
  while ((s->cap_entries && s->entries > s->cap_entries) ||
         (s->cap_bytes && s->bytes > s->cap_bytes)) {
    ent *v = PREV(s->head);
    if (RP_NEVER(v == s->head)) break;
    int dead_now = expired(c, v);
    if (v == keep || (v->used && !dead_now)) {
      /* a second chance; keep (the entry just stored) is at the end only
       * when every older entry got one, and is the newest of them all */
      if (v == keep && NEXT(s->head) == keep) break;
      lru_unlink(v);
      lru_front(s, v);
      continue;
    }
    if (dead_now)
      s->expirations++;
    else
      s->evictions++;
    remove_entry(s, v, dead);
  }
}

/* Under s->mu: stores v (retained) at key with expiry exp.  A new key
 * takes *fresh (set to NULL); returns 1 without doing anything when the key
 * is new and *fresh is NULL.  A replaced value goes to *old (released by the
 * caller after unlocking). */
static int store_locked(rp_cache *c, shard *s, uint64_t h, const void *key, size_t klen,
                        rp_cache_val *v, double exp, ent **fresh, ent **dead, rp_cache_val **old) {
  ent *e = lookup(c, s, h, key, klen, dead);
  if (e) {
    s->bytes += (int64_t)v->len - (int64_t)e->val->len;
    *old = e->val;
    e->val = rp_cache_val_retain(v);
    e->expires = exp;
    lru_unlink(e);
    lru_front(s, e);
    s->updates++;
  } else {
    if (!*fresh) return 1;
    e = *fresh;
    *fresh = NULL;
    e->val = rp_cache_val_retain(v);
    e->expires = exp;
    ent **p = &s->buckets[h & (s->nbuckets - 1)];
    e->hnext = *p;
    *p = e;
    lru_front(s, e);
    ent *up[SL_MAX];
    sl_find(s, key, klen, up);
    for (uint32_t i = 0; i < e->level; i++) {
      FWD(e)[i] = FWD(up[i])[i];
      FWD(up[i])[i] = e;
    }
    s->entries++;
    s->bytes += ent_bytes(e);
    s->inserts++;
    if ((size_t)s->entries * 2 > s->nbuckets) hgrow(s); /* load <= 1/2: short chains */
  }
  evict(c, s, e, dead);
  return 0;
}

/* ---- the cache ------------------------------------------------------------------- */
static int check_key(size_t klen, rp_err *err, const char *fn) {
  if (klen > RP_CACHE_KEY_MAX)
    return rp_errf(err, RP_EINVAL, "%s: key of %zu bytes is longer than the limit of %d bytes", fn,
                   klen, RP_CACHE_KEY_MAX);
  return RP_OK;
}

/* The expiry time of an entry stored now with ttl (HUGE_VAL = never). */
static int expiry(const rp_cache *c, double ttl, double *exp, rp_err *err, const char *fn) {
  if (ttl == RP_CACHE_TTL_DEFAULT)
    ttl = c->opts.ttl;
  else if (!(ttl >= 0 && ttl <= 1e9))
    return rp_errf(err, RP_EINVAL, "%s: ttl must be 0 (never expire) or seconds up to 1e9, got %g",
                   fn, ttl);
  *exp = ttl > 0 ? cache_now(c) + ttl : HUGE_VAL;
  return RP_OK;
}

static void destroy(rp_cache *c, int32_t ready) {
  for (int32_t i = 0; i < ready; i++) {
    shard *s = &c->shards[i];
    if (s->head && NEXT(s->head)) {
      for (ent *e = NEXT(s->head), *n; e != s->head; e = n) {
        n = NEXT(e);
        rp_cache_val_release(e->val);
        rp_free(e);
      }
    }
    RP_ALWAYS(s->flights == NULL); /* every fetch holds a reference */
    rp_free(s->head);
    rp_free(s->buckets);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
  }
  rp_free(c->shards);
  rp_free(c);
}

rp_cache *rp_cache_new(const rp_cache_opts *o, rp_err *err) {
  rp_cache_opts d;
  if (!o) {
    rp_cache_opts_init(&d);
    o = &d;
  }
  if (rp_cache_opts_check(o, err)) return NULL;
  rp_cache *c = rp_calloc(1, sizeof *c);
  if (!c) {
    rp_enomem(err, "cache");
    return NULL;
  }
  atomic_init(&c->refs, 1);
  atomic_init(&c->offset_ns, 0);
  c->asked = c->opts = *o;
  int32_t ns = o->shards;
  if (o->capacity > 0 && o->capacity < ns) ns = (int32_t)o->capacity;
  c->opts.shards = c->nshards = ns;
  uint64_t k[2];
  if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
    k[0] = rp_hash64((uint64_t)(uintptr_t)c ^ (uint64_t)(rp_now() * 1e9));
    k[1] = rp_hash64(k[0] + (uint64_t)(uintptr_t)&k);
  }
  c->k0 = k[0];
  c->k1 = k[1];
  c->shards = rp_calloc((size_t)ns, sizeof *c->shards);
  if (!c->shards) {
    rp_free(c);
    rp_enomem(err, "cache shards");
    return NULL;
  }
  for (int32_t i = 0; i < ns; i++) {
    shard *s = &c->shards[i];
    if (pthread_mutex_init(&s->mu, NULL)) {
      destroy(c, i);
      rp_errf(err, RP_ENOMEM, "cache: cannot create a mutex");
      return NULL;
    }
    if (pthread_cond_init(&s->cv, NULL)) {
      pthread_mutex_destroy(&s->mu);
      destroy(c, i);
      rp_errf(err, RP_ENOMEM, "cache: cannot create a condition variable");
      return NULL;
    }
    s->nbuckets = 16;
    s->buckets = rp_calloc(s->nbuckets, sizeof *s->buckets);
    s->head = rp_calloc(1, LINKS_AT(0) + sizeof(links) + SL_MAX * sizeof(ent *));
    if (!s->buckets || !s->head) {
      destroy(c, i + 1);
      rp_enomem(err, "cache shards");
      return NULL;
    }
    s->head->level = SL_MAX;
    PREV(s->head) = NEXT(s->head) = s->head;
    s->cap_entries = o->capacity / ns + (i < o->capacity % ns);
    s->cap_bytes = o->capacity_bytes / ns + (i < o->capacity_bytes % ns);
  }
  return c;
}

rp_cache *rp_cache_retain(rp_cache *c) {
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void rp_cache_release(rp_cache *c) {
  if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
    destroy(c, c->nshards);
}

void rp_cache_opts_get(const rp_cache *c, rp_cache_opts *o) { *o = c->opts; }

int rp_cache_get(rp_cache *c, const void *key, size_t klen, rp_cache_val **out) {
  *out = NULL;
  if (klen > RP_CACHE_KEY_MAX) return 0;
  if (!klen) key = "";
  uint64_t h = hash_key(c, key, klen);
  shard *s = shard_of(c, h);
  ent *dead = NULL;
  pthread_mutex_lock(&s->mu);
  ent *e = lookup(c, s, h, key, klen, &dead);
  if (e) {
    *out = hit(s, e);
  } else {
    s->misses++;
  }
  pthread_mutex_unlock(&s->mu);
  free_dead(dead);
  return *out != NULL;
}

/* Under s->mu: stores v at key (hash h) expiring at exp, the body of put
 * and of a finished fetch.  Returns 1 (stored), 0 (too big for the shard:
 * an older entry of the key is dropped, since a put that cannot be stored
 * must not leave the value it replaces) or -1 (the key is new and *fresh
 * is NULL: nothing done). */
static int store_in(rp_cache *c, shard *s, uint64_t h, const void *key, size_t klen,
                    rp_cache_val *v, double exp, ent **fresh, ent **dead, rp_cache_val **old) {
  if (s->cap_bytes && klen + v->len > (uint64_t)s->cap_bytes) {
    ent *e = *hslot(s, h, key, klen);
    if (e) {
      remove_entry(s, e, dead);
      s->evictions++;
    }
    s->rejected++;
    return 0;
  }
  return store_locked(c, s, h, key, klen, v, exp, fresh, dead, old) ? -1 : 1;
}

int rp_cache_put(rp_cache *c, const void *key, size_t klen, rp_cache_val *v, double ttl,
                 int *stored, rp_err *err) {
  int rc;
  double exp;
  if (stored) *stored = 0;
  if ((rc = check_key(klen, err, "put"))) return rc;
  if (!v) return rp_errf(err, RP_EINVAL, "put: no value (NULL)");
  if ((rc = expiry(c, ttl, &exp, err, "put"))) return rc;
  if (!klen) key = "";
  uint64_t h = hash_key(c, key, klen);
  shard *s = shard_of(c, h);
  ent *dead = NULL, *fresh = NULL;
  rp_cache_val *old = NULL;
  pthread_mutex_lock(&s->mu);
  int r = store_in(c, s, h, key, klen, v, exp, &fresh, &dead, &old);
  if (r < 0) { /* a new key: allocate without the lock, then look again */
    pthread_mutex_unlock(&s->mu);
    fresh = ent_new(key, klen, h);
    pthread_mutex_lock(&s->mu);
    if (fresh) r = store_in(c, s, h, key, klen, v, exp, &fresh, &dead, &old);
    if (r < 0) s->rejected++;
  }
  pthread_mutex_unlock(&s->mu);
  rp_free(fresh); /* unused when another thread inserted the key meanwhile */
  rp_cache_val_release(old);
  free_dead(dead);
  if (r < 0) return rp_enomem(err, "cache entry");
  if (stored) *stored = r;
  return RP_OK;
}

/* ---- fetch ------------------------------------------------------------------------- */
static flight *flight_find(shard *s, uint64_t h, const void *key, size_t klen) {
  flight *f = s->flights;
  while (f && !(f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0)) f = f->next;
  return f;
}

static void flight_free(flight *f) {
  rp_cache_val_release(f->val);
  rp_free(f);
}

/* Waits (s->mu held) for f, takes its result, and frees f if last. */
static int await(shard *s, flight *f, rp_cache_val **out, rp_err *err) {
  f->waiters++;
  while (!f->done) pthread_cond_wait(&s->cv, &s->mu);
  f->waiters--;
  int rc = f->status;
  if (rc == RP_OK)
    *out = f->val ? rp_cache_val_retain(f->val) : NULL;
  else
    rp_errf(err, rc, "%s (in a concurrent fetch of this key)", f->msg);
  int last = f->owner_gone && f->waiters == 0;
  pthread_mutex_unlock(&s->mu);
  if (last) flight_free(f);
  return rc;
}

int rp_cache_fetch(rp_cache *c, const void *key, size_t klen, double ttl, rp_cache_compute_fn fn,
                   void *ud, rp_cache_val **out, rp_err *err) {
  int rc;
  double exp;
  *out = NULL;
  if ((rc = check_key(klen, err, "fetch"))) return rc;
  if (!fn) return rp_errf(err, RP_EINVAL, "fetch: no function to compute the value (NULL)");
  if ((rc = expiry(c, ttl, &exp, err, "fetch"))) return rc;
  if (!klen) key = "";
  uint64_t h = hash_key(c, key, klen);
  shard *s = shard_of(c, h);
  flight *mine = NULL;
  for (;;) {
    ent *dead = NULL;
    pthread_mutex_lock(&s->mu);
    ent *e = lookup(c, s, h, key, klen, &dead);
    if (e) {
      *out = hit(s, e);
      pthread_mutex_unlock(&s->mu);
      free_dead(dead);
      rp_free(mine);
      return RP_OK;
    }
    flight *f = flight_find(s, h, key, klen);
    if (f && pthread_equal(f->owner, pthread_self())) {
      pthread_mutex_unlock(&s->mu);
      free_dead(dead);
      rp_free(mine);
      return rp_errf(err, RP_EINVAL,
                     "fetch: the function computing key '%.*s' fetched that key again (recursion)",
                     (int)(klen < 200 ? klen : 200), (const char *)key);
    }
    if (f) {
      s->misses++;
      s->waits++;
      free_dead(dead); /* dead entries are ours alone: safe under the lock */
      rp_free(mine);
      return await(s, f, out, err);
    }
    if (mine) {
      s->misses++;
      s->computations++;
      mine->next = s->flights;
      s->flights = mine;
      pthread_mutex_unlock(&s->mu);
      free_dead(dead);
      break;
    }
    pthread_mutex_unlock(&s->mu);
    free_dead(dead);
    mine = rp_malloc(sizeof *mine + klen);
    if (!mine) return rp_enomem(err, "cache fetch");
    memset(mine, 0, sizeof *mine);
    mine->hash = h;
    mine->owner = pthread_self();
    mine->klen = klen;
    memcpy(mine->key, key, klen);
  }

  /* compute without the lock */
  rp_cache_val *v = NULL;
  double t = ttl;
  if (err) err->msg[0] = 0;
  rc = fn(ud, key, klen, &v, &t, err);
  if (rc != RP_OK && err && !err->msg[0])
    rp_errf(err, rc, "fetch: the function computing the value failed (status %d)", rc);
  if (rc == RP_OK && t != ttl) rc = expiry(c, t, &exp, err, "fetch");
  if (rc != RP_OK) {
    rp_cache_val_release(v);
    v = NULL;
  }
  ent *dead = NULL, *fresh = v ? ent_new(key, klen, h) : NULL;
  rp_cache_val *old = NULL;
  /* store, unlink and publish under one lock: no fetch can start a second
   * computation in between, and an invalidation either came before (stale:
   * not stored) or comes after (removes what was stored) */
  pthread_mutex_lock(&s->mu);
  if (!mine->stale) {
    if (v && store_in(c, s, h, key, klen, v, exp, &fresh, &dead, &old) < 0) s->rejected++;
    flight **p = &s->flights;
    while (*p != mine) p = &(*p)->next;
    *p = mine->next;
  }
  if (rc != RP_OK) {
    s->compute_errors++;
    snprintf(mine->msg, sizeof mine->msg, "%s", err ? err->msg : "failed");
  }
  mine->status = rc;
  mine->val = v;
  mine->done = 1;
  mine->owner_gone = 1;
  int last = mine->waiters == 0;
  if (v) *out = rp_cache_val_retain(v);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (last) flight_free(mine);
  rp_free(fresh);
  rp_cache_val_release(old);
  free_dead(dead);
  return rc;
}

/* ---- invalidation --------------------------------------------------------------------- */
/* Marks the flights of key (or, with prefix, of every key starting with
 * it) stale and unlinks them: their values will not be stored. */
static void stale_flights(shard *s, const void *key, size_t klen, int prefix) {
  for (flight **p = &s->flights; *p;) {
    flight *f = *p;
    int match = (prefix ? f->klen >= klen : f->klen == klen) && memcmp(f->key, key, klen) == 0;
    if (match) {
      f->stale = 1;
      *p = f->next;
    } else {
      p = &f->next;
    }
  }
}

size_t rp_cache_invalidate(rp_cache *c, const void *key, size_t klen) {
  if (klen > RP_CACHE_KEY_MAX) return 0;
  if (!klen) key = "";
  uint64_t h = hash_key(c, key, klen);
  shard *s = shard_of(c, h);
  ent *dead = NULL;
  size_t n = 0;
  pthread_mutex_lock(&s->mu);
  ent *e = *hslot(s, h, key, klen);
  if (e) {
    remove_entry(s, e, &dead);
    s->invalidations++;
    n = 1;
  }
  stale_flights(s, key, klen, 0);
  pthread_mutex_unlock(&s->mu);
  free_dead(dead);
  return n;
}

size_t rp_cache_invalidate_prefix(rp_cache *c, const void *prefix, size_t plen) {
  if (!plen) prefix = "";
  size_t total = 0;
  for (int32_t i = 0; i < c->nshards; i++) {
    shard *s = &c->shards[i];
    ent *dead = NULL, *up[SL_MAX];
    pthread_mutex_lock(&s->mu);
    sl_find(s, prefix, plen, up);
    ent *x = FWD(up[0])[0];
    while (x && x->klen >= plen && memcmp(KEY(x), prefix, plen) == 0) {
      /* the matching keys are consecutive from here: each is the first
       * node >= prefix at each of its levels when its turn comes */
      ent *next = FWD(x)[0];
      for (uint32_t l = 0; l < x->level; l++)
        if (RP_ALWAYS(FWD(up[l])[l] == x)) FWD(up[l])[l] = FWD(x)[l];
      ent **p = hslot(s, x->hash, KEY(x), x->klen);
      if (RP_ALWAYS(*p == x)) *p = x->hnext;
      lru_unlink(x);
      s->entries--;
      s->bytes -= ent_bytes(x);
      s->invalidations++;
      x->hnext = dead;
      dead = x;
      total++;
      x = next;
    }
    stale_flights(s, prefix, plen, 1);
    pthread_mutex_unlock(&s->mu);
    free_dead(dead);
  }
  return total;
}

/* ---- stats ---------------------------------------------------------------------------- */
void rp_cache_stats_read(rp_cache *c, rp_cache_stats *st) {
  memset(st, 0, sizeof *st);
  for (int32_t i = 0; i < c->nshards; i++) {
    shard *s = &c->shards[i];
    pthread_mutex_lock(&s->mu);
#define ADD(f) st->f += s->f;
    RP_CACHE_COUNTERS(ADD)
#undef ADD
    st->entries += s->entries;
    st->bytes += s->bytes;
    pthread_mutex_unlock(&s->mu);
  }
  st->capacity = c->opts.capacity;
  st->capacity_bytes = c->opts.capacity_bytes;
  st->ttl = c->opts.ttl;
  st->shards = c->nshards;
}

/* ---- shared by name ------------------------------------------------------------------- */
typedef struct named {
  struct named *next;
  rp_cache *c;
  char name[];
} named;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static named *registry;

/* RP_OK when a cache asked with `had` can be shared by a caller asking o. */
static int same_opts(const char *name, const rp_cache_opts *had, const rp_cache_opts *o,
                     rp_err *err) {
  const char *what = NULL;
  double a = 0, b = 0;
  if (had->capacity != o->capacity)
    what = "capacity", a = (double)had->capacity, b = (double)o->capacity;
  else if (had->capacity_bytes != o->capacity_bytes)
    what = "capacity_bytes", a = (double)had->capacity_bytes, b = (double)o->capacity_bytes;
  else if (had->ttl != o->ttl)
    what = "ttl", a = had->ttl, b = o->ttl;
  else if (had->shards != o->shards)
    what = "shards", a = had->shards, b = o->shards;
  if (!what) return RP_OK;
  return rp_errf(err, RP_EINVAL,
                 "shared cache '%s' exists with %s = %.17g; this call asks for %.17g (give the "
                 "same options, or none)",
                 name, what, a, b);
}

rp_cache *rp_cache_shared(const char *name, const rp_cache_opts *o, rp_err *err) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > 64) {
    rp_errf(err, RP_EINVAL, "shared cache name must be 1..64 bytes, got %zu", n);
    return NULL;
  }
  if (o && rp_cache_opts_check(o, err)) return NULL;
  rp_cache *c = NULL;
  pthread_mutex_lock(&reg_mu);
  named *r = registry;
  while (r && strcmp(r->name, name) != 0) r = r->next;
  if (r) {
    if (!o || same_opts(name, &r->c->asked, o, err) == RP_OK) c = rp_cache_retain(r->c);
  } else if ((c = rp_cache_new(o, err)) != NULL) {
    r = rp_malloc(sizeof *r + n + 1);
    if (!r) {
      rp_cache_release(c);
      c = NULL;
      rp_enomem(err, "shared cache");
    } else {
      memcpy(r->name, name, n + 1);
      r->c = rp_cache_retain(c);
      r->next = registry;
      registry = r;
    }
  }
  pthread_mutex_unlock(&reg_mu);
  return c;
}

void rp_cache_shared_reset(void) {
  pthread_mutex_lock(&reg_mu);
  named *r = registry;
  registry = NULL;
  pthread_mutex_unlock(&reg_mu);
  while (r) {
    named *next = r->next;
    rp_cache_release(r->c);
    rp_free(r);
    r = next;
  }
}
