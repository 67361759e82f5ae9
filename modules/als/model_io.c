/*
 * model_io.c -- ALS model files (layout in README, section "formats").
 *
 *   magic       8 bytes, 89 52 50 41 0D 0A 1A 0A ("\x89RPA\r\n\x1a\n")
 *   u32         format version (RP_ALS_FILE_VERSION)
 *   u32         header length H in bytes
 *   H bytes     header: counts, options, seed, fingerprint, creation time
 *   u32         CRC32 of everything above (checked before anything is
 *               allocated from the header's counts)
 *   user ids    n u32 lengths, then the id bytes; then the same for items
 *   X, Y        nusers*f then nitems*f float32
 *   u32         CRC32 of everything above, header included
 * All integers and floats little-endian.  Written through rp_writer
 * (temporary file renamed into place; gzip for ".gz" names); read through
 * rp_reader (gzip detected), straight into the model's own buffers.
 */
#include <string.h>

#include "als_impl.h"
#include "rio.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model files are little-endian; this port needs byte swapping"
#endif

/* "\x89RPA\r\n\x1a\n": not text, and text-mode mangling breaks it (as the
 * matrix files' and PNG's) */
static const char MAGIC[8] = {'\x89', 'R', 'P', 'A', '\r', '\n', '\x1a', '\n'};

/* the header, field by field (no struct padding in the file) */
typedef struct hdr {
  int32_t factors, nusers, nitems, iterations_done;
  int32_t iterations, cg_steps, confidence, reg_mode, solver, implicit, threads;
  int32_t nuser_ids, nitem_ids; /* -1 = no map */
  double regularization, alpha, eps, init_scale, loss;
  uint64_t seed, fingerprint;
  int64_t created;
  uint64_t user_id_bytes, item_id_bytes;
  int32_t nonnegative; /* version 2 */
} hdr;

#define HDR_I32 13
#define HDR_F64 5
#define HDR_U64 5
#define HDR_BYTES_V1 (4 * HDR_I32 + 8 * HDR_F64 + 8 * HDR_U64)
#define HDR_BYTES (HDR_BYTES_V1 + 4) /* version 2: + i32 nonnegative */

static void hdr_pack(const hdr *h, unsigned char *b) {
  const int32_t i[HDR_I32] = {h->factors,    h->nusers,   h->nitems,     h->iterations_done,
                              h->iterations, h->cg_steps, h->confidence, h->reg_mode,
                              h->solver,     h->implicit, h->threads,    h->nuser_ids,
                              h->nitem_ids};
  const double d[HDR_F64] = {h->regularization, h->alpha, h->eps, h->init_scale, h->loss};
  const uint64_t u[HDR_U64] = {h->seed, h->fingerprint, (uint64_t)h->created, h->user_id_bytes,
                               h->item_id_bytes};
  memcpy(b, i, sizeof i);
  memcpy(b + sizeof i, d, sizeof d);
  memcpy(b + sizeof i + sizeof d, u, sizeof u);
  memcpy(b + HDR_BYTES_V1, &h->nonnegative, 4);
}

/* b holds hlen bytes: HDR_BYTES_V1 (version 1) or HDR_BYTES */
static void hdr_unpack(hdr *h, const unsigned char *b, uint32_t hlen) {
  int32_t i[HDR_I32];
  double d[HDR_F64];
  uint64_t u[HDR_U64];
  memcpy(i, b, sizeof i);
  memcpy(d, b + sizeof i, sizeof d);
  memcpy(u, b + sizeof i + sizeof d, sizeof u);
  h->factors = i[0], h->nusers = i[1], h->nitems = i[2], h->iterations_done = i[3];
  h->iterations = i[4], h->cg_steps = i[5], h->confidence = i[6], h->reg_mode = i[7];
  h->solver = i[8], h->implicit = i[9], h->threads = i[10], h->nuser_ids = i[11];
  h->nitem_ids = i[12];
  h->regularization = d[0], h->alpha = d[1], h->eps = d[2], h->init_scale = d[3], h->loss = d[4];
  h->seed = u[0], h->fingerprint = u[1], h->created = (int64_t)u[2];
  h->user_id_bytes = u[3], h->item_id_bytes = u[4];
  h->nonnegative = 0;
  if (hlen >= HDR_BYTES) memcpy(&h->nonnegative, b + HDR_BYTES_V1, 4);
}

/* ---- writing ---------------------------------------------------------------- */
typedef struct wctx {
  rp_writer *w;
  uint32_t crc;
  rp_err *err;
} wctx;

static int put(wctx *c, const void *p, size_t n) {
  c->crc = rp_crc32(c->crc, p, n);
  return rp_writer_write(c->w, p, n, c->err);
}

static uint64_t id_bytes(const rp_idmap *m) {
  return m ? (uint64_t)(m->arena_len - m->n) : 0; /* arena minus the NULs */
}

static int put_ids(wctx *c, const rp_idmap *m) {
  if (!m) return RP_OK;
  uint32_t buf[1024];
  int rc = RP_OK;
  for (int32_t a = 0; a < m->n && !rc; a += 1024) {
    int32_t b = a + 1024 < m->n ? a + 1024 : m->n;
    for (int32_t i = a; i < b; i++) {
      size_t len;
      rp_idmap_id(m, i, &len);
      buf[i - a] = (uint32_t)len;
    }
    rc = put(c, buf, sizeof(uint32_t) * (size_t)(b - a));
  }
  for (int32_t i = 0; i < m->n && !rc; i++) {
    size_t len;
    const char *s = rp_idmap_id(m, i, &len);
    rc = put(c, s, len);
  }
  return rc;
}

static int save_locked(const rp_als_model *m, const char *path, rp_err *err);

int rp_als_save(const rp_als_model *m, const char *path, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = save_locked(m, path, err);
  rp_als_model_unlock(m);
  return rc;
}

static int save_locked(const rp_als_model *m, const char *path, rp_err *err) {
  hdr h;
  memset(&h, 0, sizeof h);
  h.factors = m->factors, h.nusers = m->nusers, h.nitems = m->nitems;
  h.iterations_done = m->iterations_done;
  h.iterations = m->opts.iterations, h.cg_steps = m->opts.cg_steps;
  h.confidence = m->opts.confidence, h.reg_mode = m->opts.reg_mode, h.solver = m->opts.solver;
  h.implicit = m->opts.implicit, h.threads = m->opts.threads;
  h.nonnegative = m->opts.nonnegative;
  h.nuser_ids = m->users ? m->users->n : -1, h.nitem_ids = m->items ? m->items->n : -1;
  h.regularization = m->opts.regularization, h.alpha = m->opts.alpha, h.eps = m->opts.eps;
  h.init_scale = m->opts.init_scale, h.loss = m->loss;
  h.seed = m->opts.seed, h.fingerprint = m->fingerprint, h.created = m->created;
  h.user_id_bytes = id_bytes(m->users), h.item_id_bytes = id_bytes(m->items);
  unsigned char hb[HDR_BYTES];
  hdr_pack(&h, hb);
  uint32_t ver = RP_ALS_FILE_VERSION, hlen = HDR_BYTES;

  wctx c = {rp_writer_open(path, err), 0, err};
  if (!c.w) return err ? err->status : RP_EIO;
  int rc = put(&c, MAGIC, sizeof MAGIC);
  if (!rc) rc = put(&c, &ver, 4);
  if (!rc) rc = put(&c, &hlen, 4);
  if (!rc) rc = put(&c, hb, sizeof hb);
  uint32_t hcrc = c.crc;
  if (!rc) rc = put(&c, &hcrc, 4);
  if (!rc) rc = put_ids(&c, m->users);
  if (!rc) rc = put_ids(&c, m->items);
  size_t f = (size_t)m->factors;
  if (!rc) rc = put(&c, m->user_factors, sizeof(float) * f * (size_t)m->nusers);
  if (!rc) rc = put(&c, m->item_factors, sizeof(float) * f * (size_t)m->nitems);
  uint32_t crc = c.crc;
  if (!rc) rc = rp_writer_write(c.w, &crc, 4, err);
  if (rc) {
    rp_writer_abort(c.w);
    return rc;
  }
  return rp_writer_commit(c.w, err);
}

/* ---- reading ------------------------------------------------------------------
 * Nothing is allocated from a count before the file is known to hold it:
 * the header's sizes add up to the file's size, checked against what the
 * file can still deliver (exactly for a plain file; for gzip or a pipe the
 * buffers grow as the data arrives instead, see rp_reader_read_grow), so a
 * model file of N bytes needs about N bytes of memory, whatever its header
 * says. */
typedef struct rctx {
  rp_reader *r;
  uint32_t crc;
  const char *path;
  rp_err *err;
  int exact; /* the file's size is known: counts were checked against it */
} rctx;

static int truncated(rctx *c, int rc) {
  if (rc == RP_EFORMAT)
    return rp_errf(c->err, RP_EFORMAT, "%s: truncated model file (ends early)", c->path);
  return rc;
}

static int get(rctx *c, void *p, size_t n) {
  int rc = rp_reader_readall(c->r, p, n, c->err);
  if (rc) return truncated(c, rc);
  c->crc = rp_crc32(c->crc, p, n);
  return RP_OK;
}

/* n bytes into *buf (*cap bytes, grown as the data arrives) */
static int get_grow(rctx *c, void **buf, size_t *cap, size_t n) {
  int rc = rp_reader_read_grow(c->r, buf, cap, 0, n, c->err);
  if (rc) return truncated(c, rc);
  c->crc = rp_crc32(c->crc, *buf, n);
  return RP_OK;
}

static int corrupt(rctx *c, const char *what) {
  return rp_errf(c->err, RP_EFORMAT, "%s: corrupt model file (%s)", c->path, what);
}

/* Reads n ids (lengths, then bytes totalling `bytes`) into a new map. */
static int get_ids(rctx *c, int32_t n, uint64_t bytes, rp_idmap **out) {
  *out = NULL;
  if (n < 0) return RP_OK;
  rp_idmap *m = rp_idmap_new(c->err);
  void *len = NULL, *text = NULL;
  size_t lcap = 0, cap = 0;
  int rc = !m ? rp_enomem(c->err, "model ids") : RP_OK;
  /* sized exactly when the counts were checked against the file's size;
   * else the map grows with the ids read */
  if (!rc && c->exact) rc = rp_idmap_reserve(m, n, (int64_t)bytes + n, c->err);
  if (!rc) rc = get_grow(c, &len, &lcap, sizeof(uint32_t) * (size_t)n);
  const uint32_t *L = len;
  uint64_t total = 0;
  for (int32_t i = 0; i < n && !rc; i++) {
    total += L[i];
    if (total > bytes) rc = corrupt(c, "id lengths exceed the header's total");
  }
  if (!rc && total != bytes) rc = corrupt(c, "id lengths do not match the header's total");
  for (int32_t i = 0; i < n && !rc; i++) {
    if ((rc = get_grow(c, &text, &cap, L[i]))) break;
    int32_t idx;
    if ((rc = rp_idmap_intern(m, text ? text : "", L[i], &idx, c->err))) break;
    if (idx != i) rc = corrupt(c, "repeated id");
  }
  rp_free(len);
  rp_free(text);
  if (rc) {
    rp_idmap_release(m);
    return rc;
  }
  *out = m;
  return RP_OK;
}

static int check_hdr(rctx *c, const hdr *h) {
  if (h->factors < 1 || h->factors > 4096 || h->nusers < 0 || h->nitems < 0 || h->nuser_ids < -1 ||
      h->nitem_ids < -1 || (h->nuser_ids >= 0 && h->nusers > h->nuser_ids) ||
      (h->nitem_ids >= 0 && h->nitems > h->nitem_ids) || h->confidence < 0 || h->confidence > 2 ||
      h->reg_mode < 0 || h->reg_mode > 1 || h->solver < 0 || h->solver > 1 || h->nonnegative < 0 ||
      h->nonnegative > 1 || h->user_id_bytes > ((uint64_t)1 << 48) ||
      h->item_id_bytes > ((uint64_t)1 << 48) || (h->nuser_ids < 0 && h->user_id_bytes) ||
      (h->nitem_ids < 0 && h->item_id_bytes))
    return corrupt(c, "impossible header values");
  /* the rest of the file as the header describes it (no overflow: ids
   * < 2^33 + 2^48 bytes a side, factors < 2^46 bytes) */
  uint64_t f = (uint64_t)h->factors, rest = 4;
  if (h->nuser_ids >= 0) rest += 4 * (uint64_t)h->nuser_ids + h->user_id_bytes;
  if (h->nitem_ids >= 0) rest += 4 * (uint64_t)h->nitem_ids + h->item_id_bytes;
  rest += 4 * f * ((uint64_t)h->nusers + (uint64_t)h->nitems);
  uint64_t left = rp_reader_left(c->r, &c->exact);
  if (rest > left) {
    if (c->exact)
      return rp_errf(c->err, RP_EFORMAT,
                     "%s: truncated model file (%llu bytes after the header, the header "
                     "announces %llu)",
                     c->path, (unsigned long long)left, (unsigned long long)rest);
    return corrupt(c, "the header announces more data than the compressed file can hold");
  }
  return RP_OK;
}

int rp_als_load(const char *path, rp_als_model **out, rp_err *err) {
  *out = NULL;
  rctx c = {rp_reader_open(path, err), 0, path, err, 0};
  if (!c.r) return err ? err->status : RP_EIO;
  rp_als_model *m = NULL;
  rp_idmap *users = NULL, *items = NULL;
  void *uf = NULL, *itf = NULL;
  size_t ucap = 0, icap = 0;
  char magic[8];
  uint32_t ver, hlen, hcrc, crc;
  unsigned char hb[HDR_BYTES];
  hdr h;
  int rc = rp_reader_readall(c.r, magic, 8, err);
  if (rc == RP_EFORMAT || (!rc && memcmp(magic, MAGIC, 8) != 0)) {
    rc = rp_errf(err, RP_EFORMAT, "%s: not a recpipe ALS model file (bad magic)", path);
    goto done;
  }
  if (rc) goto done;
  c.crc = rp_crc32(0, magic, 8);
  if ((rc = get(&c, &ver, 4))) goto done;
  if (ver > RP_ALS_FILE_VERSION || ver == 0) {
    rc = rp_errf(err, RP_EFORMAT,
                 "%s: model file format version %u is not supported (this build reads "
                 "version %d%s)",
                 path, ver, RP_ALS_FILE_VERSION, ver ? "; it was written by a newer recpipe" : "");
    goto done;
  }
  if ((rc = get(&c, &hlen, 4))) goto done;
  if (hlen != (ver == 1 ? HDR_BYTES_V1 : HDR_BYTES)) {
    rc = corrupt(&c, "bad header length");
    goto done;
  }
  if ((rc = get(&c, hb, hlen))) goto done;
  uint32_t want = c.crc;
  if ((rc = get(&c, &hcrc, 4))) goto done;
  if (hcrc != want) {
    rc = corrupt(&c, "header CRC mismatch");
    goto done;
  }
  hdr_unpack(&h, hb, hlen);
  if ((rc = check_hdr(&c, &h))) goto done;
  if ((rc = get_ids(&c, h.nuser_ids, h.user_id_bytes, &users))) goto done;
  if ((rc = get_ids(&c, h.nitem_ids, h.item_id_bytes, &items))) goto done;
  size_t f = (size_t)h.factors;
  size_t nu = sizeof(float) * f * (size_t)h.nusers, ni = sizeof(float) * f * (size_t)h.nitems;
  /* an empty side still gets a block (the model's arrays are never NULL) */
  if (nu == 0 && !(uf = rp_malloc(sizeof(float)))) rc = rp_enomem(err, "als factors");
  if (ni == 0 && !rc && !(itf = rp_malloc(sizeof(float)))) rc = rp_enomem(err, "als factors");
  if (rc || (rc = get_grow(&c, &uf, &ucap, nu)) || (rc = get_grow(&c, &itf, &icap, ni))) goto done;
  want = c.crc;
  if ((rc = get(&c, &crc, 4))) goto done;
  if (crc != want) {
    rc = corrupt(&c, "CRC mismatch");
    goto done;
  }
  char extra;
  ssize_t k = rp_reader_read(c.r, &extra, 1, err);
  if (k < 0) {
    rc = err ? err->status : RP_EIO;
    goto done;
  }
  if (k > 0) {
    rc = corrupt(&c, "trailing data after the end");
    goto done;
  }
  m = rp_als_model_adopt(h.nusers, h.nitems, h.factors, users, items, uf, itf, err);
  uf = itf = NULL; /* owned by m, or freed */
  if (!m) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  rp_als_opts *o = &m->opts;
  o->iterations = h.iterations, o->cg_steps = h.cg_steps, o->confidence = h.confidence;
  o->reg_mode = h.reg_mode, o->solver = h.solver, o->implicit = h.implicit;
  o->nonnegative = h.nonnegative;
  o->threads = h.threads, o->regularization = h.regularization, o->alpha = h.alpha;
  o->eps = h.eps, o->init_scale = h.init_scale, o->seed = h.seed;
  m->iterations_done = h.iterations_done;
  m->loss = h.loss;
  m->fingerprint = h.fingerprint;
  m->created = h.created;
  /* options a model is used with (fold-in, the loss) are checked as for
   * training: a damaged header must not give infinite confidences */
  rp_err oerr;
  if (rp_als_opts_check(o, &oerr)) {
    rc = rp_errf(err, RP_EFORMAT, "%s: corrupt model file (options: %s)", path, oerr.msg);
    goto done;
  }
  rc = rp_als_model_refresh(m, err);

done:
  rp_reader_close(c.r);
  rp_idmap_release(users);
  rp_idmap_release(items);
  rp_free(uf);
  rp_free(itf);
  if (rc) {
    rp_als_model_free(m);
    return rc;
  }
  *out = m;
  return RP_OK;
}
