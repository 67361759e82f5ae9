/*
 * csr_io.c -- the matrix file: save (atomic, plain or gzip) and load
 * (streamed into the final arrays, every failure named).
 *
 * Layout, version 1, all integers little-endian (README "File formats"):
 *
 *   0   8  magic 89 52 50 4D 0D 0A 1A 0A  ("\x89RPM\r\n\x1a\n")
 *   8   4  u32 format version (1)
 *  12   4  u32 flags: bit 0 row ids present, bit 1 column ids present
 *  16   4  i32 nrows          20   4  i32 ncols        24   8  i64 nnz
 *  32   4  i32 row id count R 36   4  i32 column id count C
 *  40   8  i64 row id section bytes RB   48  8  i64 column id section bytes CB
 *  56   4  u32 reserved (0)   60   4  u32 CRC32 of bytes 0..59
 *  64  RB  row ids: R times (u32 length, that many bytes)
 *      CB  column ids, the same way
 *      8 (nrows + 1)  i64 row offsets
 *      4 nnz          i32 column indices
 *      4 nnz          f32 values (IEEE 754)
 *      4              u32 CRC32 of every byte before it
 *
 * The magic's first byte is not ASCII and its \r\n and \x1a catch text-mode
 * mangling (the PNG trick).  The header has its own CRC so that a damaged
 * size is reported as corruption before it is trusted; every later section's
 * size comes from the header, so a damaged byte further on can only show up
 * as the final CRC mismatch, never as a misleading "truncated".
 */
#include "csr.h"
#include "rio.h"

#include <string.h>

static const unsigned char MAGIC[8] = {0x89, 'R', 'P', 'M', '\r', '\n', 0x1a, '\n'};
#define HEADER_BYTES 64
#define F_ROWIDS 1u
#define F_COLIDS 2u

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
#else
#define HOST_LE 1
#endif

static void put32(unsigned char *p, uint32_t x) {
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(x >> (8 * k));
}
static void put64(unsigned char *p, uint64_t x) {
  for (int k = 0; k < 8; k++) p[k] = (unsigned char)(x >> (8 * k));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t x = 0;
  for (int k = 0; k < 4; k++) x |= (uint32_t)p[k] << (8 * k);
  return x;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t x = 0;
  for (int k = 0; k < 8; k++) x |= (uint64_t)p[k] << (8 * k);
  return x;
}

/* Reverses the bytes of count elements of size bytes (big-endian hosts). */
static void swap_elems(void *p, size_t count, size_t size) {
  unsigned char *c = p;
  for (size_t i = 0; i < count; i++, c += size)
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = c[a];
      c[a] = c[b];
      c[b] = t;
    }
}

/* ---- save ---------------------------------------------------------------------- */

/* Output through a staging buffer that keeps the running CRC. */
typedef struct out {
  rp_writer *w;
  uint32_t crc;
  unsigned char buf[1 << 16];
  size_t len;
} out;

static int out_flush(out *o, rp_err *err) {
  if (!o->len) return RP_OK;
  o->crc = rp_crc32(o->crc, o->buf, o->len);
  int rc = rp_writer_write(o->w, o->buf, o->len, err);
  o->len = 0;
  return rc;
}

static int out_bytes(out *o, const void *p, size_t n, rp_err *err) {
  if (o->len + n > sizeof o->buf) {
    if (out_flush(o, err)) return err->status;
    if (n > sizeof o->buf) {
      o->crc = rp_crc32(o->crc, p, n);
      return rp_writer_write(o->w, p, n, err);
    }
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  return RP_OK;
}

/* count elements of size bytes, little-endian */
static int out_array(out *o, const void *p, size_t count, size_t size, rp_err *err) {
  if (HOST_LE) return out_bytes(o, p, count * size, err);
  const unsigned char *c = p;
  size_t per = sizeof o->buf / size;
  while (count > 0) {
    size_t k = count < per ? count : per;
    if (out_flush(o, err)) return err->status;
    memcpy(o->buf, c, k * size);
    swap_elems(o->buf, k, size);
    o->len = k * size;
    c += k * size;
    count -= k;
  }
  return RP_OK;
}

static int64_t ids_bytes(const rp_idmap *m) {
  return m ? 4 * (int64_t)m->n + (m->arena_len - m->n) : 0; /* arena holds a NUL per id */
}

static int out_ids(out *o, const rp_idmap *m, rp_err *err) {
  if (!m) return RP_OK;
  for (int32_t i = 0; i < m->n; i++) {
    size_t len;
    const char *s = rp_idmap_id(m, i, &len);
    unsigned char b[4];
    put32(b, (uint32_t)len);
    if (out_bytes(o, b, 4, err) || out_bytes(o, s, len, err)) return err->status;
  }
  return RP_OK;
}

int rp_csr_save(const rp_csr *m, const char *path, rp_err *err) {
  return rp_csr_save_level(m, path, 1, err);
}

int rp_csr_save_level(const rp_csr *m, const char *path, int gzip_level, rp_err *err) {
  if (gzip_level < 1 || gzip_level > 9)
    return rp_errf(err, RP_EINVAL, "%s: gzip level must be 1..9, got %d", path, gzip_level);
  rp_err verr;
  if (rp_csr_validate(m, &verr))
    return rp_errf(err, RP_EINVAL, "%s: refusing to save an invalid matrix: %s", path, verr.msg);
  out *o = rp_malloc(sizeof *o);
  if (!o) return rp_enomem(err, "matrix writer");
  o->crc = 0;
  o->len = 0;
  o->w = rp_writer_open(path, err);
  if (!o->w) {
    rp_free(o);
    return err->status;
  }
  if (rp_writer_gzip_level(o->w, gzip_level, err)) {
    rp_writer_abort(o->w);
    rp_free(o);
    return err->status;
  }
  unsigned char h[HEADER_BYTES];
  memset(h, 0, sizeof h);
  memcpy(h, MAGIC, 8);
  put32(h + 8, RP_CSR_FORMAT_VERSION);
  put32(h + 12, (m->rowmap ? F_ROWIDS : 0) | (m->colmap ? F_COLIDS : 0));
  put32(h + 16, (uint32_t)m->nrows);
  put32(h + 20, (uint32_t)m->ncols);
  put64(h + 24, (uint64_t)m->nnz);
  put32(h + 32, (uint32_t)(m->rowmap ? m->rowmap->n : 0));
  put32(h + 36, (uint32_t)(m->colmap ? m->colmap->n : 0));
  put64(h + 40, (uint64_t)ids_bytes(m->rowmap));
  put64(h + 48, (uint64_t)ids_bytes(m->colmap));
  put32(h + 60, rp_crc32(0, h, 60));
  int rc = out_bytes(o, h, sizeof h, err);
  if (!rc) rc = out_ids(o, m->rowmap, err);
  if (!rc) rc = out_ids(o, m->colmap, err);
  if (!rc) rc = out_array(o, m->indptr, (size_t)m->nrows + 1, sizeof *m->indptr, err);
  if (!rc) rc = out_array(o, m->indices, (size_t)m->nnz, sizeof *m->indices, err);
  if (!rc) rc = out_array(o, m->data, (size_t)m->nnz, sizeof *m->data, err);
  if (!rc) rc = out_flush(o, err);
  if (!rc) {
    unsigned char b[4];
    put32(b, o->crc);
    rc = rp_writer_write(o->w, b, 4, err);
  }
  if (!rc)
    rc = rp_writer_commit(o->w, err);
  else
    rp_writer_abort(o->w);
  rp_free(o);
  return rc;
}

/* ---- load ------------------------------------------------------------------------ */

typedef struct in {
  rp_reader *r;
  const char *path;
  uint32_t crc;
  const char *bad; /* first structural problem, reported after the CRC check */
  int exact;       /* the file's size is known: the header was checked against it */
} in;

static int in_bytes(in *x, void *p, size_t n, rp_err *err) {
  int rc = rp_reader_readall(x->r, p, n, err);
  if (!rc) x->crc = rp_crc32(x->crc, p, n);
  return rc;
}

/* Reads count elements into a new array *p (freed by the caller whatever
 * happens): allocated at once when the file's size backed the header, else
 * grown as the data arrives (rp_reader_read_grow), so a gzip stream or a
 * pipe whose header lies costs what it really holds. */
static int in_array(in *x, void **p, size_t count, size_t size, rp_err *err) {
  size_t total = count * size, cap = 0, step = (size_t)1 << 22;
  if (x->exact || total == 0) {
    if (!(*p = rp_malloc(total ? total : size))) return rp_enomem(err, "matrix");
    cap = total ? total : size;
  }
  /* in slices, so a huge array's CRC is computed while it is still cached */
  for (size_t off = 0; off < total; off += step) {
    size_t k = total - off < step ? total - off : step;
    if (rp_reader_read_grow(x->r, p, &cap, off, k, err)) return err->status;
    x->crc = rp_crc32(x->crc, (unsigned char *)*p + off, k);
  }
  if (!HOST_LE) swap_elems(*p, count, size);
  return RP_OK;
}

/* Reads and discards n bytes (the rest of a damaged section). */
static int in_skip(in *x, int64_t n, rp_err *err) {
  unsigned char b[4096];
  while (n > 0) {
    size_t k = n < (int64_t)sizeof b ? (size_t)n : sizeof b;
    if (in_bytes(x, b, k, err)) return err->status;
    n -= (int64_t)k;
  }
  return RP_OK;
}

/* Reads an id section of `bytes` bytes holding `count` ids into a new map. */
static int in_ids(in *x, int32_t count, int64_t bytes, rp_idmap **out_map, rp_err *err) {
  rp_idmap *m = rp_idmap_new(err);
  if (!m) return err->status;
  /* sized at once when the file's size backed the header; else grown */
  int rc = x->exact ? rp_idmap_reserve(m, count, bytes - 4 * (int64_t)count + count, err) : RP_OK;
  void *buf = NULL;
  size_t cap = 0;
  int64_t left = bytes;
  for (int32_t k = 0; !rc && k < count && !x->bad; k++) {
    unsigned char b[4];
    if (left < 4) {
      x->bad = "id section shorter than its ids";
      break;
    }
    if ((rc = in_bytes(x, b, 4, err))) break;
    left -= 4;
    uint32_t len = get32(b);
    if ((int64_t)len > left) {
      x->bad = "id length past the end of its section";
      break;
    }
    /* the buffer grows with the bytes read, not with the length claimed */
    if ((rc = rp_reader_read_grow(x->r, &buf, &cap, 0, len, err))) break;
    x->crc = rp_crc32(x->crc, buf, len);
    left -= len;
    int32_t idx;
    if ((rc = rp_idmap_intern(m, buf ? buf : "", len, &idx, err))) break;
    if (idx != k) x->bad = "duplicate id";
  }
  if (!rc && left > 0) {
    if (!x->bad) x->bad = "id section longer than its ids";
    rc = in_skip(x, left, err);
  }
  rp_free(buf);
  if (rc) {
    rp_idmap_release(m);
    return rc;
  }
  *out_map = m;
  return RP_OK;
}

/* Checks the magic, the version and the header CRC; fills h. */
static int in_header(in *x, unsigned char *h, rp_err *err) {
  size_t got = 0;
  while (got < 8) {
    ssize_t k = rp_reader_read(x->r, h + got, 8 - got, err);
    if (k < 0) return err->status;
    if (k == 0) break;
    got += (size_t)k;
  }
  if (got == 0)
    return rp_errf(err, RP_EFORMAT, "%s: empty file, not a recpipe matrix file", x->path);
  if (memcmp(h, MAGIC, got) != 0)
    return rp_errf(err, RP_EFORMAT, "%s: not a recpipe matrix file", x->path);
  if (got < 8)
    return rp_errf(err, RP_EFORMAT, "%s: truncated file (%zu bytes, shorter than a header)",
                   x->path, got);
  if (rp_reader_readall(x->r, h + 8, 4, err)) return err->status;
  uint32_t version = get32(h + 8);
  if (version > RP_CSR_FORMAT_VERSION)
    return rp_errf(err, RP_EFORMAT,
                   "%s: written by a newer recpipe: format version %u, this build reads up to %d",
                   x->path, version, RP_CSR_FORMAT_VERSION);
  if (version == 0)
    return rp_errf(err, RP_EFORMAT, "%s: corrupted matrix file (format version 0)", x->path);
  if (rp_reader_readall(x->r, h + 12, HEADER_BYTES - 12, err)) return err->status;
  uint32_t stored = get32(h + 60), computed = rp_crc32(0, h, 60);
  if (stored != computed)
    return rp_errf(err, RP_EFORMAT,
                   "%s: corrupted matrix file (header CRC mismatch: stored %08x, computed %08x)",
                   x->path, stored, computed);
  x->crc = rp_crc32(0, h, HEADER_BYTES);
  return RP_OK;
}

rp_csr *rp_csr_load(const char *path, rp_err *err) {
  in x = {.path = path};
  x.r = rp_reader_open(path, err);
  if (!x.r) return NULL;
  rp_csr *m = NULL;
  rp_idmap *rows = NULL, *cols = NULL;
  unsigned char h[HEADER_BYTES];
  if (in_header(&x, h, err)) goto fail;
  uint32_t flags = get32(h + 12);
  int32_t nrows = (int32_t)get32(h + 16), ncols = (int32_t)get32(h + 20);
  int64_t nnz = (int64_t)get64(h + 24);
  int32_t nr = (int32_t)get32(h + 32), nc = (int32_t)get32(h + 36);
  int64_t rb = (int64_t)get64(h + 40), cb = (int64_t)get64(h + 48);
  if (flags & ~(F_ROWIDS | F_COLIDS)) {
    rp_errf(err, RP_EFORMAT, "%s: unsupported flags 0x%x (written by a newer recpipe?)", path,
            flags);
    goto fail;
  }
  const char *why = NULL;
  if (nrows < 0 || ncols < 0 || nnz < 0 || nr < 0 || nc < 0 || rb < 0 || cb < 0)
    why = "negative size";
  else if (!(flags & F_ROWIDS) ? nr || rb : nr < nrows || rb < 4 * (int64_t)nr)
    why = "row id counts";
  else if (!(flags & F_COLIDS) ? nc || cb : nc < ncols || cb < 4 * (int64_t)nc)
    why = "column id counts";
  else if (nnz > ((int64_t)1 << 60) || rb > ((int64_t)1 << 60) || cb > ((int64_t)1 << 60))
    why = "sizes too large";
  if (why) {
    rp_errf(err, RP_EFORMAT, "%s: invalid matrix file header (%s)", path, why);
    goto fail;
  }
  /* nothing is allocated from the header before the file is known to hold
   * what it announces: exactly for a plain file; a gzip file's compressed
   * size bounds what it can hold, and its arrays grow as data arrives */
  uint64_t want = (uint64_t)rb + (uint64_t)cb + 8 * ((uint64_t)nrows + 1) + 8 * (uint64_t)nnz + 4;
  uint64_t left = rp_reader_left(x.r, &x.exact);
  if (want > left) {
    if (x.exact)
      rp_errf(err, RP_EFORMAT, "%s: truncated file (%llu bytes, the header announces %llu)", path,
              (unsigned long long)(left + HEADER_BYTES), (unsigned long long)(want + HEADER_BYTES));
    else
      rp_errf(err, RP_EFORMAT,
              "%s: corrupted matrix file (the header announces %llu bytes, more than the "
              "compressed file can hold)",
              path, (unsigned long long)(want + HEADER_BYTES));
    goto fail;
  }
  if ((flags & F_ROWIDS) && in_ids(&x, nr, rb, &rows, err)) goto fail;
  if ((flags & F_COLIDS) && in_ids(&x, nc, cb, &cols, err)) goto fail;
  if (!(m = rp_calloc(1, sizeof *m))) {
    rp_enomem(err, "matrix");
    goto fail;
  }
  m->nrows = nrows, m->ncols = ncols, m->nnz = nnz;
  m->rowmap = rp_idmap_retain(rows);
  m->colmap = rp_idmap_retain(cols);
  if (in_array(&x, (void **)&m->indptr, (size_t)nrows + 1, sizeof *m->indptr, err) ||
      in_array(&x, (void **)&m->indices, (size_t)nnz, sizeof *m->indices, err) ||
      in_array(&x, (void **)&m->data, (size_t)nnz, sizeof *m->data, err))
    goto fail;
  uint32_t computed = x.crc;
  unsigned char b[4];
  if (rp_reader_readall(x.r, b, 4, err)) goto fail;
  if (get32(b) != computed) {
    rp_errf(err, RP_EFORMAT, "%s: corrupted matrix file (CRC mismatch: stored %08x, computed %08x)",
            path, get32(b), computed);
    goto fail;
  }
  if (x.bad) {
    rp_errf(err, RP_EFORMAT, "%s: corrupted matrix file (%s)", path, x.bad);
    goto fail;
  }
  ssize_t extra = rp_reader_read(x.r, b, 1, err);
  if (extra < 0) goto fail;
  if (extra > 0) {
    rp_errf(err, RP_EFORMAT, "%s: unexpected data after the end of the matrix", path);
    goto fail;
  }
  rp_err verr;
  if (rp_csr_validate(m, &verr)) {
    rp_errf(err, RP_EFORMAT, "%s: invalid matrix file: %s", path, verr.msg);
    goto fail;
  }
  rp_idmap_release(rows);
  rp_idmap_release(cols);
  rp_reader_close(x.r);
  return m;
fail:
  rp_csr_free(m);
  rp_idmap_release(rows);
  rp_idmap_release(cols);
  rp_reader_close(x.r);
  return NULL;
}
