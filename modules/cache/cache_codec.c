/*
 * cache_codec.c -- the encoding of Lua values in rp.cache; see
 * cache_codec.h for the format.
 */
#include "cache_codec.h"

#include <string.h>

enum { T_FALSE = 1, T_TRUE, T_INT, T_FLOAT, T_STR, T_ARRAY, T_TABLE, T_SMALL = 0x80 };

void rp_cache_buf_init(rp_cache_buf *b) { memset(b, 0, sizeof *b); }

void rp_cache_buf_free(rp_cache_buf *b) {
  if (!b) return;
  rp_free(b->v);
  rp_cache_buf_init(b);
}

/* room for n more bytes */
static unsigned char *room(rp_cache_buf *b, size_t n) {
  if (b->failed) return NULL;
  size_t used = b->v ? b->v->len : 0;
  if (!b->v || b->cap - used < n) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap - used < n) {
      if (cap > SIZE_MAX / 4) {
        b->failed = 1;
        return NULL;
      }
      cap *= 2;
    }
    rp_cache_val *v = rp_realloc(b->v, sizeof *v + cap + 1);
    if (!v) {
      b->failed = 1;
      return NULL;
    }
    if (!b->v) v->len = 0;
    b->v = v;
    b->cap = cap;
  }
  unsigned char *p = b->v->data + b->v->len;
  b->v->len += n;
  return p;
}

static int put_varint(rp_cache_buf *b, int tag, uint64_t x) {
  unsigned char tmp[11];
  int n = 0;
  if (tag >= 0) tmp[n++] = (unsigned char)tag;
  do {
    unsigned char c = x & 0x7f;
    x >>= 7;
    tmp[n++] = (unsigned char)(c | (x ? 0x80 : 0));
  } while (x);
  unsigned char *p = room(b, (size_t)n);
  if (!p) return RP_ENOMEM;
  memcpy(p, tmp, (size_t)n);
  return RP_OK;
}

int rp_cache_enc_bool(rp_cache_buf *b, int v) {
  unsigned char *p = room(b, 1);
  if (!p) return RP_ENOMEM;
  *p = v ? T_TRUE : T_FALSE;
  return RP_OK;
}

int rp_cache_enc_int(rp_cache_buf *b, int64_t v) {
  if (v >= 0 && v < 128) {
    unsigned char *p = room(b, 1);
    if (!p) return RP_ENOMEM;
    *p = (unsigned char)(T_SMALL + v);
    return RP_OK;
  }
  uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zigzag */
  return put_varint(b, T_INT, z);
}

int rp_cache_enc_float(rp_cache_buf *b, double v) {
  unsigned char *p = room(b, 9);
  if (!p) return RP_ENOMEM;
  uint64_t u;
  memcpy(&u, &v, 8);
  p[0] = T_FLOAT;
  for (int i = 0; i < 8; i++) p[1 + i] = (unsigned char)(u >> (8 * i));
  return RP_OK;
}

int rp_cache_enc_str(rp_cache_buf *b, const void *s, size_t n) {
  if (put_varint(b, T_STR, n)) return RP_ENOMEM;
  unsigned char *p = room(b, n);
  if (!p) return RP_ENOMEM;
  if (n) memcpy(p, s, n);
  return RP_OK;
}

int rp_cache_enc_array(rp_cache_buf *b, uint64_t n) { return put_varint(b, T_ARRAY, n); }
int rp_cache_enc_table(rp_cache_buf *b, uint64_t n) { return put_varint(b, T_TABLE, n); }

rp_cache_val *rp_cache_buf_finish(rp_cache_buf *b, rp_err *err) {
  if (b->failed || !b->v) {
    if (!b->failed)
      rp_errf(err, RP_EINVAL, "cache value: nothing was encoded");
    else
      rp_enomem(err, "cache value");
    rp_cache_buf_free(b);
    return NULL;
  }
  rp_cache_val *v = b->v;
  atomic_init(&v->refs, 1);
  v->kind = RP_CACHE_LUA;
  v->data[v->len] = 0;
  rp_cache_buf_init(b);
  return v;
}

/* ---- decoding ------------------------------------------------------------------- */
void rp_cache_dec_init(rp_cache_dec *d, const rp_cache_val *v) {
  d->p = v->data;
  d->end = v->data + v->len;
}

int rp_cache_dec_done(const rp_cache_dec *d) { return d->p == d->end; }

static int corrupt(rp_err *err, const char *what) {
  return rp_errf(err, RP_EFORMAT, "cache value is not a valid encoded Lua value (%s)", what);
}

static int get_varint(rp_cache_dec *d, uint64_t *x, rp_err *err) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (d->p == d->end) return corrupt(err, "truncated number");
    unsigned char c = *d->p++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *x = v;
      return RP_OK;
    }
  }
  return corrupt(err, "number longer than 64 bits");
}

int rp_cache_dec_next(rp_cache_dec *d, rp_cache_item *it, rp_err *err) {
  memset(it, 0, sizeof *it);
  if (d->p == d->end) return corrupt(err, "truncated");
  unsigned tag = *d->p++;
  uint64_t x;
  size_t left;
  if (tag >= T_SMALL) {
    it->type = RP_CACHE_T_INT;
    it->i = (int64_t)(tag - T_SMALL);
    return RP_OK;
  }
  switch (tag) {
    case T_FALSE:
    case T_TRUE:
      it->type = RP_CACHE_T_BOOL;
      it->i = tag == T_TRUE;
      return RP_OK;
    case T_INT:
      if (get_varint(d, &x, err)) return RP_EFORMAT;
      it->type = RP_CACHE_T_INT;
      it->i = (int64_t)((x >> 1) ^ (~(x & 1) + 1)); /* un-zigzag */
      return RP_OK;
    case T_FLOAT: {
      if (d->end - d->p < 8) return corrupt(err, "truncated float");
      uint64_t u = 0;
      for (int i = 0; i < 8; i++) u |= (uint64_t)d->p[i] << (8 * i);
      d->p += 8;
      memcpy(&it->d, &u, 8);
      it->type = RP_CACHE_T_FLOAT;
      return RP_OK;
    }
    case T_STR:
      if (get_varint(d, &x, err)) return RP_EFORMAT;
      if (x > (uint64_t)(d->end - d->p)) return corrupt(err, "string longer than the value");
      it->type = RP_CACHE_T_STR;
      it->s = (const char *)d->p;
      it->n = x;
      d->p += x;
      return RP_OK;
    case T_ARRAY:
    case T_TABLE:
      if (get_varint(d, &x, err)) return RP_EFORMAT;
      left = (size_t)(d->end - d->p); /* each value takes a byte at least */
      if (x > (tag == T_ARRAY ? left : left / 2))
        return corrupt(err, "count larger than the value");
      it->type = tag == T_ARRAY ? RP_CACHE_T_ARRAY : RP_CACHE_T_TABLE;
      it->n = x;
      return RP_OK;
    default:
      return corrupt(err, "unknown tag");
  }
}
