/*
 * jbuf.c -- growable output buffers: JSON string literals, numbers and
 * CSV fields for the answers and the logs (writing JSON is this simple;
 * reading it is cJSON's job).  Plain C, no Lua: the request fuzzer checks
 * that what rp_jbuf_jstr writes reads back through cJSON unchanged.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jbuf.h"

void rp_jbuf_reset(rp_jbuf *b) {
  b->n = 0;
  b->oom = 0;
}

void rp_jbuf_free(rp_jbuf *b) {
  rp_free(b->p);
  memset(b, 0, sizeof *b);
}

static int jbuf_room(rp_jbuf *b, size_t n) {
  if (b->oom) return 0;
  if (b->n + n + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->n + n + 1) cap *= 2;
  char *p = rp_realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->p = p;
  b->cap = cap;
  return 1;
}

void rp_jbuf_add(rp_jbuf *b, const char *s, size_t n) {
  if (!jbuf_room(b, n) || !n) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

void rp_jbuf_puts(rp_jbuf *b, const char *s) { rp_jbuf_add(b, s, strlen(s)); }

void rp_jbuf_printf(rp_jbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !jbuf_room(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

void rp_jbuf_jstr(rp_jbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t n = strlen(s);
  if (!jbuf_room(b, 2 * n + 2)) return;
  char *o = b->p + b->n;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      /* \u00XX: 6 bytes, more than the 2 reserved: make room */
      b->n = (size_t)(o - b->p);
      if (!jbuf_room(b, 6 + 2 * (n - i) + 2)) return;
      o = b->p + b->n;
      memcpy(o, "\\u00", 4);
      o[4] = hex[c >> 4];
      o[5] = hex[c & 15];
      o += 6;
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  b->n = (size_t)(o - b->p);
  b->p[b->n] = 0;
}

/* Seven significant digits (what a float holds), without printf for the
 * usual range: answers carry k scores each, and printf's float path was a
 * visible share of a request's time. */
void rp_jbuf_float(rp_jbuf *b, float x) {
  if (!isfinite(x)) {
    rp_jbuf_add(b, "null", 4);
    return;
  }
  char t[48];
  double a = fabs((double)x);
  if (a == 0) {
    rp_jbuf_add(b, "0", 1);
    return;
  }
  if (a < 1e-4 || a >= 1e9) {
    int n = snprintf(t, sizeof t, "%.7g", (double)x);
    rp_jbuf_add(b, t, (size_t)n);
    return;
  }
  static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
  int e = 0; /* a in [10^e, 10^(e+1)) */
  if (a >= 1)
    while (e < 9 && a >= p10[e + 1]) e++;
  else
    while (e > -4 && a < 1.0 / p10[-e]) e--;
  int dp = 6 - e; /* digits after the point */
  if (dp < 0) dp = 0;
  uint64_t v = (uint64_t)(a * p10[dp] + 0.5);
  uint64_t ip = v / (uint64_t)p10[dp], fp = v % (uint64_t)p10[dp];
  char *o = t;
  if (x < 0) *o++ = '-';
  char d[24];
  int nd = 0;
  do d[nd++] = (char)('0' + ip % 10), ip /= 10;
  while (ip);
  while (nd) *o++ = d[--nd];
  if (dp > 0 && fp) {
    char f[16];
    for (int i = dp - 1; i >= 0; i--, fp /= 10) f[i] = (char)('0' + fp % 10);
    int n = dp;
    while (n > 0 && f[n - 1] == '0') n--;
    *o++ = '.';
    memcpy(o, f, (size_t)n);
    o += n;
  }
  rp_jbuf_add(b, t, (size_t)(o - t));
}

void rp_jbuf_uint(rp_jbuf *b, uint64_t v) {
  char d[24];
  int n = 0;
  do d[sizeof d - 1 - n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  rp_jbuf_add(b, d + sizeof d - n, (size_t)n);
}

void rp_csv_field(rp_jbuf *b, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    rp_jbuf_puts(b, s);
    return;
  }
  rp_jbuf_add(b, "\"", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"') rp_jbuf_add(b, "\"", 1);
    rp_jbuf_add(b, p, 1);
  }
  rp_jbuf_add(b, "\"", 1);
}
