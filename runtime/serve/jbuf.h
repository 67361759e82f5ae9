/*
 * jbuf.h -- growable output buffers for JSON answers and CSV log lines
 * (plain C, no Lua).  A failed allocation sets oom and turns every later
 * append into a no-op, so a writer checks once at the end.
 */
#ifndef RP_SERVE_JBUF_H
#define RP_SERVE_JBUF_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

typedef struct rp_jbuf {
  char *p;
  size_t n, cap;
  int oom;
} rp_jbuf;
void rp_jbuf_reset(rp_jbuf *b);
void rp_jbuf_free(rp_jbuf *b);
void rp_jbuf_add(rp_jbuf *b, const char *s, size_t n);
void rp_jbuf_puts(rp_jbuf *b, const char *s);
void rp_jbuf_printf(rp_jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes and escapes) */
void rp_jbuf_jstr(rp_jbuf *b, const char *s);
void rp_jbuf_uint(rp_jbuf *b, uint64_t v);
void rp_jbuf_float(rp_jbuf *b, float x); /* 7 significant digits; "null" if not finite */

/* Appends s to b as one CSV field (RFC 4180: quoted when it holds a comma,
 * a quote or a line break, quotes doubled). */
void rp_csv_field(rp_jbuf *b, const char *s);

#endif
