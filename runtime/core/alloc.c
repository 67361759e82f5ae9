/*
 * alloc.c -- the one allocation choke point (after SQLite's malloc.c).
 *
 * Each block carries a 64-byte header in front of the user pointer holding
 * the requested size and the offset back to what malloc returned; the user
 * pointer is 64-byte aligned.  Counters are atomic so worker threads may
 * allocate.  rp_mem_fail_after(n) makes the n-th allocation from now return
 * NULL, which is how the tests prove every caller handles failure.
 */
#include "rp.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 64
#define ALIGN 64

typedef struct {
  size_t size;
  size_t offset; /* user pointer - malloc pointer */
  uint64_t magic;
} blockhdr;

#define MAGIC 0x72706d656d626c6bULL

static _Atomic size_t cur_bytes, peak_bytes;
static _Atomic long fail_at, alloc_count;
static _Atomic int fail_fired;

void rp_mem_fail_after(long n) {
  atomic_store(&alloc_count, 0);
  atomic_store(&fail_fired, 0);
  atomic_store(&fail_at, n > 0 ? n : 0);
}
long rp_mem_count_since_arm(void) { return atomic_load(&alloc_count); }
int rp_mem_failed(void) { return atomic_load(&fail_fired); }
size_t rp_mem_current(void) { return atomic_load(&cur_bytes); }
size_t rp_mem_peak(void) { return atomic_load(&peak_bytes); }
void rp_mem_reset_peak(void) { atomic_store(&peak_bytes, atomic_load(&cur_bytes)); }

static int injected_failure(void) {
  long c = atomic_fetch_add(&alloc_count, 1) + 1;
  long f = atomic_load(&fail_at);
  if (f > 0 && c == f) {
    atomic_store(&fail_fired, 1);
    return 1;
  }
  return 0;
}

static void account(long delta) {
  if (delta >= 0) {
    size_t now = atomic_fetch_add(&cur_bytes, (size_t)delta) + (size_t)delta;
    size_t pk = atomic_load(&peak_bytes);
    while (now > pk && !atomic_compare_exchange_weak(&peak_bytes, &pk, now)) {
    }
  } else {
    atomic_fetch_sub(&cur_bytes, (size_t)(-delta));
  }
}

static blockhdr *hdr_of(void *p) { return (blockhdr *)((char *)p - HDR); }

void *rp_malloc(size_t n) {
  if (injected_failure()) return NULL;
  if (n > SIZE_MAX - HDR - ALIGN) return NULL;
  char *raw = malloc(n + HDR + ALIGN);
  if (!raw) return NULL;
  uintptr_t u = ((uintptr_t)raw + HDR + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
  char *p = (char *)u;
  blockhdr *h = hdr_of(p);
  h->size = n;
  h->offset = (size_t)(p - raw);
  h->magic = MAGIC;
  account((long)n);
  return p;
}

size_t rp_mulsize(size_t a, size_t b, int *ok) {
  if (b && a > SIZE_MAX / b) {
    if (ok) *ok = 0;
    return 0;
  }
  return a * b;
}

void *rp_calloc(size_t count, size_t size) {
  int ok = 1;
  size_t n = rp_mulsize(count, size, &ok);
  if (!ok) return NULL;
  void *p = rp_malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

void rp_free(void *p) {
  if (!p) return;
  blockhdr *h = hdr_of(p);
  if (h->magic != MAGIC) {
    fprintf(stderr, "recpipe: rp_free of a block not from rp_malloc\n");
    abort();
  }
  h->magic = 0;
  account(-(long)h->size);
  free((char *)p - h->offset);
}

void *rp_realloc(void *p, size_t n) {
  if (!p) return rp_malloc(n);
  blockhdr *h = hdr_of(p);
  size_t old = h->size, off = h->offset;
  if (injected_failure()) return NULL;
  if (n > SIZE_MAX - HDR - ALIGN) return NULL;
  char *raw = (char *)p - off;
  /* realloc keeps the offset from raw only if raw keeps its alignment mod
   * 64; glibc gives 16-byte alignment, so check and move when it shifted. */
  char *nraw = realloc(raw, n + HDR + ALIGN);
  if (!nraw) return NULL;
  char *np = nraw + off;
  if (((uintptr_t)np & (ALIGN - 1)) != 0) {
    uintptr_t u = ((uintptr_t)nraw + HDR + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    char *q = (char *)u;
    memmove(q, np, old < n ? old : n);
    np = q;
  }
  h = hdr_of(np);
  h->size = n;
  h->offset = (size_t)(np - nraw);
  h->magic = MAGIC;
  account((long)n - (long)old);
  return np;
}

char *rp_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
