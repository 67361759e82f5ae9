/*
 * fingerprint.c -- a fast content hash of input and model files (rpfp1, see
 * registry.h) and the growable text buffer the dashboard writes into.
 *
 * Four independent lanes let the CPU overlap the multiplications, so the
 * hash runs at memory speed (several GB/s); the file is read in 1 MiB
 * blocks, so memory stays constant whatever its size.
 */
#include "reg_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL

typedef struct {
  uint64_t lane[4];
  unsigned char tail[32];
  size_t ntail;
  uint64_t total;
} fp_state;

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void fp_init(fp_state *s) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < 4; i++) s->lane[i] = rp_hash64((uint64_t)i + 1);
}

static inline void stripe(fp_state *s, const unsigned char *p) {
  for (int i = 0; i < 4; i++) s->lane[i] = rotl64(s->lane[i] + le64(p + 8 * i) * P2, 31) * P1;
}

static void fp_update(fp_state *s, const unsigned char *p, size_t n) {
  s->total += n;
  if (s->ntail) {
    size_t take = 32 - s->ntail < n ? 32 - s->ntail : n;
    memcpy(s->tail + s->ntail, p, take);
    s->ntail += take, p += take, n -= take;
    if (s->ntail < 32) return;
    stripe(s, s->tail);
    s->ntail = 0;
  }
  for (; n >= 32; p += 32, n -= 32) stripe(s, p);
  memcpy(s->tail, p, n);
  s->ntail = n;
}

static void fp_final(fp_state *s, char out[64]) {
  if (s->ntail) {
    memset(s->tail + s->ntail, 0, 32 - s->ntail);
    stripe(s, s->tail);
  }
  uint64_t h = rp_hash64(s->total);
  for (int i = 0; i < 4; i++) h = rp_hash64(h ^ s->lane[i]);
  snprintf(out, 64, "rpfp1:%016llx:%llu", (unsigned long long)h, (unsigned long long)s->total);
}

void rp_fingerprint_buf(const void *buf, size_t n, char out[64]) {
  fp_state s;
  fp_init(&s);
  fp_update(&s, buf, n);
  fp_final(&s, out);
}

int rp_fingerprint_file(const char *path, char out[64], int64_t *size, rp_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return rp_errf(err, RP_EIO, "cannot open '%s': %s", path, strerror(errno));
  unsigned char *buf = rp_malloc(1 << 20);
  if (!buf) {
    close(fd);
    return rp_enomem(err, "fingerprint buffer");
  }
  fp_state s;
  fp_init(&s);
  int rc = RP_OK;
  for (;;) {
    ssize_t k = read(fd, buf, 1 << 20);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) rc = rp_errf(err, RP_EIO, "cannot read '%s': %s", path, strerror(errno));
    if (k <= 0) break;
    fp_update(&s, buf, (size_t)k);
  }
  rp_free(buf);
  close(fd);
  if (rc) return rc;
  fp_final(&s, out);
  if (size) *size = (int64_t)s.total;
  return RP_OK;
}

/* ---- text buffer ------------------------------------------------------------------- */
void rp_buf_free(rp_buf *b) {
  if (!b) return;
  rp_free(b->data);
  memset(b, 0, sizeof *b);
}

static int grow(rp_buf *b, size_t need) {
  if (b->failed) return RP_ENOMEM;
  if (b->len + need + 1 <= b->cap) return RP_OK;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + need + 1) cap *= 2;
  char *p = rp_realloc(b->data, cap);
  if (!p) {
    b->failed = 1;
    return RP_ENOMEM;
  }
  b->data = p;
  b->cap = cap;
  return RP_OK;
}

int rp_buf_add(rp_buf *b, const char *s, size_t n) {
  if (grow(b, n)) return RP_ENOMEM;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
  return RP_OK;
}

int rp_buf_printf(rp_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || grow(b, (size_t)n)) return RP_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return RP_OK;
}
