/*
 * bench_cache.c -- speed of the rp.cache core, against a reference.
 *
 *   build/bench/bench_cache [runs]
 *
 * Keys look like the server's ("v3|user:<n>|k=10", about 20 bytes), values
 * are 200-byte blobs (a JSON answer of 10 items).  100,000 keys, all
 * present for the get figures (capacity 200,000).  Timed:
 *   - hit path: one thread, get of a present key + release of the value,
 *     ns per call (median of `runs`), over all 100,000 keys (each get
 *     misses the CPU caches) and over 1,000 hot keys (a popular mix);
 *   - get, put (update of a present key) and a 90/10 get/put mix, in
 *     millions of operations per second with 1 and 2 threads;
 *   - put of new keys into a full cache (each put evicts one entry);
 *   - prefix invalidation removing 10 entries of 200,000 (us per call), and
 *     a full scan of the same cache for scale;
 *   - bytes of bookkeeping per entry (rp_mem_current).
 * The reference is the same LRU behind one global mutex (hash table +
 * list, FNV-1a hash, no ordered index, values refcounted the same way):
 * what a straightforward thread-safe LRU costs, so the figures have a
 * point of comparison on the same machine in the same run; also rp.cache
 * with shards = 1 (one lock, like the reference, but the same code).
 * One thread is timed in CPU seconds (robust to a loaded machine); two
 * threads in wall seconds (their joint throughput), which a busy machine
 * lowers: those need a quiet machine.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

enum { NKEYS = 100000, VLEN = 200, OPS = 2000000 };

static char keys[NKEYS][32];
static size_t klens[NKEYS];
static rp_cache_val *vals[NKEYS];

static void die(const char *what, const rp_err *e) {
  fprintf(stderr, "bench_cache: %s: %s\n", what, e ? e->msg : "failed");
  exit(1);
}

/* ---- the reference: one mutex over a hash table and an LRU list --------------- */
typedef struct rnode {
  struct rnode *hnext, *prev, *next;
  uint64_t h;
  rp_cache_val *v;
  size_t klen;
  char key[32];
} rnode;

typedef struct {
  pthread_mutex_t mu;
  rnode **b;
  size_t nb, n, cap;
  rnode head;
} ref_lru;

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

static void ref_init(ref_lru *r, size_t cap) {
  pthread_mutex_init(&r->mu, NULL);
  r->nb = 1;
  while (r->nb < cap) r->nb *= 2;
  r->b = calloc(r->nb, sizeof *r->b);
  r->n = 0;
  r->cap = cap;
  r->head.prev = r->head.next = &r->head;
}

static rnode **ref_slot(ref_lru *r, uint64_t h, const char *k, size_t n) {
  rnode **p = &r->b[h & (r->nb - 1)];
  while (*p && !((*p)->h == h && (*p)->klen == n && memcmp((*p)->key, k, n) == 0)) p = &(*p)->hnext;
  return p;
}

static void ref_unlink(rnode *x) {
  x->prev->next = x->next;
  x->next->prev = x->prev;
}

static void ref_front(ref_lru *r, rnode *x) {
  x->next = r->head.next;
  x->prev = &r->head;
  r->head.next->prev = x;
  r->head.next = x;
}

static rp_cache_val *ref_get(ref_lru *r, const char *k, size_t n) {
  uint64_t h = fnv1a(k, n);
  pthread_mutex_lock(&r->mu);
  rnode *x = *ref_slot(r, h, k, n);
  rp_cache_val *v = NULL;
  if (x) {
    ref_unlink(x);
    ref_front(r, x);
    v = rp_cache_val_retain(x->v);
  }
  pthread_mutex_unlock(&r->mu);
  return v;
}

static void ref_put(ref_lru *r, const char *k, size_t n, rp_cache_val *v) {
  uint64_t h = fnv1a(k, n);
  rp_cache_val *old = NULL;
  rnode *dead = NULL;
  pthread_mutex_lock(&r->mu);
  rnode **p = ref_slot(r, h, k, n);
  if (*p) {
    old = (*p)->v;
    (*p)->v = rp_cache_val_retain(v);
    ref_unlink(*p);
    ref_front(r, *p);
  } else {
    rnode *x = malloc(sizeof *x);
    x->h = h;
    x->klen = n;
    memcpy(x->key, k, n);
    x->v = rp_cache_val_retain(v);
    x->hnext = NULL;
    *p = x;
    ref_front(r, x);
    if (++r->n > r->cap) {
      dead = r->head.prev;
      ref_unlink(dead);
      rnode **q = ref_slot(r, dead->h, dead->key, dead->klen);
      *q = dead->hnext;
      r->n--;
    }
  }
  pthread_mutex_unlock(&r->mu);
  rp_cache_val_release(old);
  if (dead) {
    rp_cache_val_release(dead->v);
    free(dead);
  }
}

/* prefix invalidation without an ordered index: a scan of everything */
static size_t ref_invalidate_prefix(ref_lru *r, const char *pre, size_t n) {
  size_t removed = 0;
  pthread_mutex_lock(&r->mu);
  for (rnode *x = r->head.next, *nx; x != &r->head; x = nx) {
    nx = x->next;
    if (x->klen >= n && memcmp(x->key, pre, n) == 0) {
      ref_unlink(x);
      rnode **q = ref_slot(r, x->h, x->key, x->klen);
      *q = x->hnext;
      rp_cache_val_release(x->v);
      free(x);
      r->n--;
      removed++;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return removed;
}

static void ref_free(ref_lru *r) {
  for (rnode *x = r->head.next, *nx; x != &r->head; x = nx) {
    nx = x->next;
    rp_cache_val_release(x->v);
    free(x);
  }
  free(r->b);
  pthread_mutex_destroy(&r->mu);
}

/* ---- workloads ----------------------------------------------------------------------- */
typedef struct {
  rp_cache *c; /* or */
  ref_lru *r;
  int mode;  /* 0 get, 1 put (update), 2 mix 90/10 */
  int nkeys; /* keys 0..nkeys-1 */
  uint64_t seed;
  long ops;
  long sink;
} job;

static void *worker(void *a) {
  job *j = a;
  rp_rng g;
  rp_rng_seed(&g, j->seed, 1);
  long sink = 0;
  for (long i = 0; i < j->ops; i++) {
    uint64_t x = rp_rng_next(&g);
    int k = (int)(x % (uint64_t)j->nkeys);
    int put = j->mode == 1 || (j->mode == 2 && (x >> 32) % 10 == 0);
    if (put) {
      if (j->c)
        rp_cache_put(j->c, keys[k], klens[k], vals[k], RP_CACHE_TTL_DEFAULT, NULL, NULL);
      else
        ref_put(j->r, keys[k], klens[k], vals[k]);
    } else {
      rp_cache_val *v;
      if (j->c)
        rp_cache_get(j->c, keys[k], klens[k], &v);
      else
        v = ref_get(j->r, keys[k], klens[k]);
      if (v) sink += v->data[0];
      rp_cache_val_release(v);
    }
  }
  j->sink = sink;
  return NULL;
}

/* CPU seconds of the process: on a loaded machine the wall clock also
 * counts time spent waiting for a core; this does not */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* millions of operations per second with nt threads: per CPU second for
 * one thread, per wall second for more (their throughput together) */
static double run(rp_cache *c, ref_lru *r, int mode, int nt, long ops, int nkeys) {
  pthread_t t[8];
  job j[8];
  double (*clk)(void) = nt == 1 ? cpu_now : rp_now;
  double t0 = clk();
  for (int i = 0; i < nt; i++) {
    j[i] = (job){
        .c = c, .r = r, .mode = mode, .nkeys = nkeys, .seed = (uint64_t)(i + 1) * 7919, .ops = ops};
    pthread_create(&t[i], NULL, worker, &j[i]);
  }
  for (int i = 0; i < nt; i++) pthread_join(t[i], NULL);
  return (double)ops * nt / (clk() - t0) / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return v[n / 2];
}

static rp_cache *mk(int64_t cap, int32_t shards) {
  rp_cache_opts o;
  rp_err err;
  rp_cache_opts_init(&o);
  o.capacity = cap;
  o.shards = shards;
  rp_cache *c = rp_cache_new(&o, &err);
  if (!c) die("new", &err);
  return c;
}

static void fill_cache(rp_cache *c) {
  rp_err err;
  for (int k = 0; k < NKEYS; k++)
    if (rp_cache_put(c, keys[k], klens[k], vals[k], 0, NULL, &err)) die("put", &err);
}

static void fill_ref(ref_lru *r) {
  for (int k = 0; k < NKEYS; k++) ref_put(r, keys[k], klens[k], vals[k]);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* line by line, also into a pipe */
  int runs = argc > 1 ? atoi(argv[1]) : 3;
  if (runs < 1) runs = 1;
  rp_err err;
  char blob[VLEN];
  for (int i = 0; i < VLEN; i++) blob[i] = (char)('a' + i % 26);
  for (int k = 0; k < NKEYS; k++) {
    klens[k] = (size_t)snprintf(keys[k], sizeof keys[k], "v3|user:%d|k=10", k);
    vals[k] = rp_cache_val_new(blob, VLEN, RP_CACHE_BYTES, &err);
    if (!vals[k]) die("value", &err);
  }
  size_t base = rp_mem_current();

  rp_cache *c16 = mk(2 * NKEYS, 16), *c1 = mk(2 * NKEYS, 1);
  fill_cache(c16);
  fill_cache(c1);
  size_t per_cache = (rp_mem_current() - base) / 2;
  ref_lru ref;
  ref_init(&ref, 2 * NKEYS);
  fill_ref(&ref);

  printf("rp.cache: %d keys of ~%zu bytes, %d-byte values, %d runs (medians), %ld ops a run\n",
         NKEYS, klens[NKEYS / 2], VLEN, runs, (long)OPS);
  printf(
      "bookkeeping: %.0f bytes per entry beyond the key (requested from rp_malloc; the value "
      "is shared, and rp_malloc adds up to 128 bytes of header and alignment per block)\n",
      (double)per_cache / NKEYS - (double)klens[NKEYS / 2]);

  /* hit path */
  double *x = malloc(sizeof(double) * (size_t)runs);
  const char *names[] = {"rp.cache, 16 shards", "rp.cache, 1 shard", "reference (1 mutex)"};
  rp_cache *caches[3] = {c16, c1, NULL};
  for (int hot = 0; hot < 2; hot++) {
    for (int which = 0; which < 3; which++) {
      for (int r = 0; r < runs; r++)
        x[r] = 1e3 / run(caches[which], which == 2 ? &ref : NULL, 0, 1, OPS, hot ? 1000 : NKEYS);
      printf("hit path, 1 thread, %-14s %-22s %7.1f ns per get\n",
             hot ? "1,000 hot keys" : "100,000 keys", names[which], median(x, runs));
    }
  }
  static const char *modes[] = {"get (hits)", "put (updates)", "mix 90% get / 10% put"};
  for (int mode = 0; mode < 3; mode++) {
    for (int nt = 1; nt <= 2; nt++) {
      for (int which = 0; which < 3; which++) {
        for (int r = 0; r < runs; r++)
          x[r] = run(caches[which], which == 2 ? &ref : NULL, mode, nt, OPS / nt, NKEYS);
        printf("%-22s %d thread%s  %-22s %6.2f M ops/s\n", modes[mode], nt, nt > 1 ? "s" : " ",
               names[which], median(x, runs));
      }
    }
  }
  /* puts of new keys into a full cache: one eviction each */
  for (int which = 0; which < 3; which += 2) {
    for (int r = 0; r < runs; r++) {
      rp_cache *small = which == 0 ? mk(NKEYS / 2, 16) : NULL;
      ref_lru rs;
      if (which == 2) ref_init(&rs, NKEYS / 2);
      double t0 = cpu_now();
      for (int k = 0; k < NKEYS; k++) {
        if (small)
          rp_cache_put(small, keys[k], klens[k], vals[k], 0, NULL, NULL);
        else
          ref_put(&rs, keys[k], klens[k], vals[k]);
      }
      x[r] = (cpu_now() - t0) / NKEYS * 1e9;
      rp_cache_release(small);
      if (which == 2) ref_free(&rs);
    }
    printf("put of a new key into a full cache (evicts), 1 thread, %-22s %6.1f ns\n", names[which],
           median(x, runs));
  }
  /* prefix invalidation: "v3|user:1234" matches 1234 and 12340..12349 (11 keys) */
  for (int which = 0; which < 3; which += 2) {
    size_t removed = 0;
    for (int r = 0; r < runs; r++) {
      double t0 = cpu_now();
      removed = which == 0 ? rp_cache_invalidate_prefix(c16, "v3|user:1234", 12)
                           : ref_invalidate_prefix(&ref, "v3|user:1234", 12);
      x[r] = (cpu_now() - t0) * 1e6;
      for (int k = 1234; k < NKEYS; k = k == 1234 ? 12340 : k + 1) {
        if (k > 12349) break;
        if (which == 0)
          rp_cache_put(c16, keys[k], klens[k], vals[k], 0, NULL, NULL);
        else
          ref_put(&ref, keys[k], klens[k], vals[k]);
      }
    }
    printf("invalidate prefix (%zu of %d entries), %-22s %9.1f us\n", removed, NKEYS, names[which],
           median(x, runs));
  }
  free(x);
  rp_cache_release(c16);
  rp_cache_release(c1);
  ref_free(&ref);
  for (int k = 0; k < NKEYS; k++) rp_cache_val_release(vals[k]);
  return 0;
}
