/*
 * cache_codec.h -- how rp.cache stores a Lua value that is not a string
 * (values of kind RP_CACHE_LUA): a compact, self-delimiting byte encoding
 * that any thread's Lua state can read back.  The Lua binding walks the
 * value and calls the encoder, and reads values back through the decoder;
 * the format lives here, once, and is tested without Lua.
 *
 * One value is one of:
 *   0x80..0xff                 the integer tag - 0x80 (0..127)
 *   0x01 / 0x02                false / true
 *   0x03 varint                an integer (zigzag, LEB128)
 *   0x04 8 bytes               a float (IEEE 754 binary64, little-endian)
 *   0x05 varint n, n bytes     a string
 *   0x06 varint n, n values    a sequence (a table with keys 1..n)
 *   0x07 varint n, n pairs     a table: n (key, value) pairs
 * A value of kind RP_CACHE_LUA is exactly one encoded value.
 */
#ifndef RP_CACHE_CODEC_H
#define RP_CACHE_CODEC_H

#include "cache.h"

/* An encoded value being built in place in a growing rp_cache_val, so
 * finishing it copies nothing.  After an allocation failure every encoder
 * call returns RP_ENOMEM and finish fails. */
typedef struct rp_cache_buf {
  rp_cache_val *v; /* owned; v->len is the bytes written so far */
  size_t cap;      /* room in v->data */
  int failed;
} rp_cache_buf;

/* An empty buffer (allocates nothing yet). */
void rp_cache_buf_init(rp_cache_buf *b);
/* Frees what the buffer holds (after finish: nothing); accepts NULL. */
void rp_cache_buf_free(rp_cache_buf *b);
/* Each appends one item; RP_OK or RP_ENOMEM. */
int rp_cache_enc_bool(rp_cache_buf *b, int v);
int rp_cache_enc_int(rp_cache_buf *b, int64_t v);
int rp_cache_enc_float(rp_cache_buf *b, double v);
int rp_cache_enc_str(rp_cache_buf *b, const void *s, size_t n); /* borrows s */
int rp_cache_enc_array(rp_cache_buf *b, uint64_t n);            /* then n values */
int rp_cache_enc_table(rp_cache_buf *b, uint64_t n);            /* then n key, value pairs */
/* The bytes written as a new value of kind RP_CACHE_LUA (refs = 1, owned
 * by the caller); the buffer is left empty.  NULL (err set) after an
 * allocation failure. */
rp_cache_val *rp_cache_buf_finish(rp_cache_buf *b, rp_err *err);

enum {
  RP_CACHE_T_BOOL = 1, /* i: 0 or 1 */
  RP_CACHE_T_INT,      /* i */
  RP_CACHE_T_FLOAT,    /* d */
  RP_CACHE_T_STR,      /* s, n (pointing into the value: valid while it is) */
  RP_CACHE_T_ARRAY,    /* n values follow */
  RP_CACHE_T_TABLE     /* n pairs follow */
};

typedef struct rp_cache_item {
  int type;
  int64_t i;
  double d;
  const char *s;
  uint64_t n;
} rp_cache_item;

typedef struct rp_cache_dec {
  const unsigned char *p, *end;
} rp_cache_dec;

/* A decoder over v's bytes (borrows v: it must outlive the decoder). */
void rp_cache_dec_init(rp_cache_dec *d, const rp_cache_val *v);
/* The next item; RP_OK, or RP_EFORMAT when the bytes are not a valid
 * encoding (truncated, unknown tag, a count larger than the bytes left
 * could hold: so memory stays bounded by the value's size). */
int rp_cache_dec_next(rp_cache_dec *d, rp_cache_item *it, rp_err *err);
/* 1 when every byte has been read. */
int rp_cache_dec_done(const rp_cache_dec *d);

#endif
