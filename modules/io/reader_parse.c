/*
 * reader_parse.c -- one piece of an event log: the bit-mask scanner, the numeric
 * id cache, rows in batches and the general RFC 4180 record parser (the
 * hot path of rp_io_read_events; see reader.c for how the parts fit).
 */
#include <stdarg.h>
#include "reader_impl.h"

#if defined(__AVX512BW__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* ---- bit-mask scanner ----------------------------------------------------- */
static inline uint64_t mask64(const char *p, char sep) {
#if defined(__AVX512BW__)
  __m512i v = _mm512_loadu_si512((const void *)p);
  return _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(sep)) |
         _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) |
         _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"'));
#elif defined(__AVX2__)
  __m256i s = _mm256_set1_epi8(sep), n = _mm256_set1_epi8('\n'), q = _mm256_set1_epi8('"');
  __m256i a = _mm256_loadu_si256((const __m256i *)p);
  __m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));
  __m256i ma = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, s), _mm256_cmpeq_epi8(a, n)),
                               _mm256_cmpeq_epi8(a, q));
  __m256i mb = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(b, s), _mm256_cmpeq_epi8(b, n)),
                               _mm256_cmpeq_epi8(b, q));
  return (uint64_t)(uint32_t)_mm256_movemask_epi8(ma) | (uint64_t)(uint32_t)_mm256_movemask_epi8(mb)
                                                            << 32;
#elif defined(__SSE2__)
  __m128i s = _mm_set1_epi8(sep), n = _mm_set1_epi8('\n'), q = _mm_set1_epi8('"');
  uint64_t m = 0;
  for (int k = 0; k < 4; k++) {
    __m128i a = _mm_loadu_si128((const __m128i *)(p + 16 * k));
    __m128i x = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, s), _mm_cmpeq_epi8(a, n)),
                             _mm_cmpeq_epi8(a, q));
    m |= (uint64_t)(uint32_t)_mm_movemask_epi8(x) << (16 * k);
  }
  return m;
#else
  uint64_t m = 0;
  for (int i = 0; i < 64; i++)
    if (p[i] == sep || p[i] == '\n' || p[i] == '"') m |= (uint64_t)1 << i;
  return m;
#endif
}

typedef struct scan {
  const char *base;
  uint64_t m;
} scan;

/* the scanner reads up to 64 bytes past `end`: buffers carry PAD bytes */
static inline void scan_at(scan *s, const char *p, char sep) {
  s->base = p;
  s->m = mask64(p, sep);
}

static inline const char *scan_next(scan *s, const char *end, char sep) {
  while (!s->m) {
    s->base += 64;
    if (s->base >= end) return end;
    s->m = mask64(s->base, sep);
  }
  const char *t = s->base + __builtin_ctzll(s->m);
  s->m &= s->m - 1;
  return t < end ? t : end;
}

/* ---- numeric ids --------------------------------------------------------------
 * Most logs number their users and items.  An id in canonical decimal form
 * (digits only, no leading zero, at most 9 digits) stands for exactly one
 * integer and back, so an array from that integer to the map index finds it
 * without hashing or probing the map's table: one cache-friendly load.  Any
 * other id (17850.0, 0042, u17) takes the map.  The array is only written
 * when ids are interned one at a time, never while pieces run in parallel;
 * it grows only while it stays within a few times the map's size. */
/* canon() on a field that may be read up to 8 bytes past its end (the block
 * buffer and the scratch are padded) */
static inline int canon_padded(const char *s, size_t n, uint32_t *v) {
  if (n == 0 || n > 8 || (s[0] == '0' && n > 1)) return n == 9 && canon(s, n, v);
  char t[8];
  /* right-align in '0's: leading zeros add nothing */
  uint64_t w;
  __builtin_memcpy(&w, s, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  w = n == 8 ? w : (w << (8 * (8 - n))) | (0x3030303030303030ULL >> (8 * n));
  __builtin_memcpy(t, &w, 8);
  int64_t x = rp_parse8(t);
  if (x < 0) return 0;
  *v = (uint32_t)x;
  return 1;
#else
  (void)t;
  (void)w;
  return canon(s, n, v);
#endif
}

static inline int32_t dir_get(const dircache *d, uint32_t v) { return v < d->cap ? d->idx[v] : -1; }

/* enters the numeric ids of m that the array covers */
static void dir_fill(dircache *d, const rp_idmap *m) {
  for (int32_t i = 0; i < m->n; i++) {
    size_t len;
    const char *s = rp_idmap_id(m, i, &len);
    uint32_t v;
    if (canon(s, len, &v) && v < d->cap) d->idx[v] = i;
  }
}

/* Records idx for v.  The array grows to cover v while it stays within a
 * few times the size of m (at least 1M entries); after growing it enters the
 * ids m already has, so an id first seen while the array was too small is
 * found by value later.  RP_ENOMEM on failure. */
int rp_io_idcache_set(dircache *d, uint32_t v, int32_t idx, const rp_idmap *m, rp_err *err) {
  if (v >= d->cap) {
    uint64_t lim = 4 * ((uint64_t)m->n + 1024);
    if (lim < (1u << 20)) lim = 1u << 20;
    if (v >= lim || v >= (1u << 26)) return RP_OK;
    uint64_t nc = d->cap ? (uint64_t)d->cap * 2 : 4096;
    while (nc <= v) nc *= 2;
    if (nc > lim) nc = lim;
    int32_t *x = rp_realloc(d->idx, (size_t)nc * sizeof *x);
    if (!x) return rp_enomem(err, "read id cache");
    memset(x, 0xff, (size_t)nc * sizeof *x);
    d->idx = x;
    d->cap = (uint32_t)nc;
    dir_fill(d, m);
  }
  d->idx[v] = idx;
  return RP_OK;
}

/* ---- small helpers -------------------------------------------------------- */
static inline void stream32(int32_t *p, int32_t v) {
#if defined(__SSE2__)
  _mm_stream_si32((int *)p, v);
#else
  *p = v;
#endif
}

static inline void stream64(int64_t *p, int64_t v) {
#if defined(__SSE2__) && defined(__x86_64__)
  _mm_stream_si64((long long *)p, v);
#else
  *p = v;
#endif
}

/* a short printable rendering of a field for messages */
static void shown(char *dst, size_t size, const char *s, size_t n) {
  size_t k = 0, lim = size - 4;
  for (size_t i = 0; i < n && k < lim; i++) dst[k++] = (unsigned char)s[i] < 32 ? '?' : s[i];
  if (n > lim) dst[k++] = '.', dst[k++] = '.', dst[k++] = '.';
  dst[k] = 0;
}

/* A malformed record: stop the read (on_error = stop) or count and keep the
 * first few messages.  Returns -1 to stop, 0 to go on. */
__attribute__((format(printf, 4, 5))) static int bad(const rctx *c, piece *pc, int64_t line,
                                                     const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->o->on_error == RP_ONERR_STOP) {
    pc->status = RP_EPARSE;
    pc->errline = line;
    snprintf(pc->err.msg, sizeof pc->err.msg, "%s", msg);
    return -1;
  }
  pc->skipped++;
  if (pc->nfirst < RP_READ_FIRST_ERRORS) {
    pc->firstline[pc->nfirst] = line;
    snprintf(pc->first[pc->nfirst++], sizeof pc->first[0], "%s", msg);
  }
  return 0;
}

/* A malformed last record without a line end: a write cut short (a log
 * whose writer crashed), not a malformed file.  Noted, skipped whatever
 * on_error says.  Returns 0 (go on). */
static int torn(piece *pc, int64_t line, const char *msg) {
  pc->tornline = line;
  snprintf(pc->torn, sizeof pc->torn, "%s", msg);
  return 0;
}

/* bad() for a record b: torn() when b is the unterminated last record */
#define BAD(b, ...) \
  ((b)->unterm ? torn(pc, (b)->line, "malformed") : bad(c, pc, (b)->line, __VA_ARGS__))

static int fatal(piece *pc, int64_t line, int status) {
  pc->status = status;
  pc->errline = line;
  return -1;
}

/* The message of a record longer than max_line_bytes (err may be NULL). */
int rp_io_too_long(rp_err *err, const char *path, int64_t line, int64_t max) {
  return rp_errf(err, RP_EPARSE, "%s:%lld: line longer than max_line_bytes (%lld)", path,
                 (long long)line, (long long)max);
}

/* A piece's record longer than max_line_bytes: stops the read whatever
 * on_error says (its bytes had to be held to find its end). */
static int piece_too_long(const rctx *c, piece *pc, int64_t line) {
  rp_errf(&pc->err, RP_EPARSE, "line longer than max_line_bytes (%lld)",
          (long long)c->o->max_line_bytes);
  return fatal(pc, line, RP_EPARSE);
}

/* ---- one row -------------------------------------------------------------------
 * A parsed record: the span of each role's field, the field count and its
 * line (local to the piece).  Rows are handled in small batches: the hashes
 * of a batch's ids are computed and their table slots prefetched first, so
 * the cache misses of many lookups overlap instead of queueing. */
typedef struct brow {
  const char *f[NROLES];
  size_t fl[NROLES];
  int nfields;
  int64_t line;
  uint32_t hu, hi; /* hashes (when not found in the numeric cache) */
  uint32_t vu, vi; /* numeric values */
  uint8_t cu, ci;  /* canonical numeric ids (looked up in the cache) */
  int unterm;      /* the last record of the input, without a line end */
} brow;
#define BATCH 16

/* Hashes a parsed row's ids and prefetches their slots; the lookups happen
 * when the batch is flushed, BATCH rows later. */
static inline void prepare(const rctx *c, const piece *pc, brow *b) {
  if (b->nfields != c->nf) return;
  /* numeric ids: prefetch their cache entry; others: hash and prefetch the
   * map slot */
  if ((b->cu = (uint8_t)canon_padded(b->f[R_USER], b->fl[R_USER], &b->vu))) {
    if (b->vu < c->dc[0]->cap) __builtin_prefetch(&c->dc[0]->idx[b->vu]);
  } else {
    b->hu = rp_idmap_hash_padded(b->f[R_USER], b->fl[R_USER]);
    rp_idmap_prefetch(pc->sink->users, b->hu);
  }
  if ((b->ci = (uint8_t)canon_padded(b->f[R_ITEM], b->fl[R_ITEM], &b->vi))) {
    if (b->vi < c->dc[1]->cap) __builtin_prefetch(&c->dc[1]->idx[b->vi]);
  } else {
    b->hi = rp_idmap_hash_padded(b->f[R_ITEM], b->fl[R_ITEM]);
    rp_idmap_prefetch(pc->sink->items, b->hi);
  }
}

/* user (w = 0) or item (w = 1) index of row b: from the numeric cache, else
 * interned (direct pieces, which then fill the cache) or looked up
 * (parallel pieces: -1 and a note when absent) */
static inline int id_index(const rctx *c, piece *pc, const brow *b, int w, int32_t *out, int *nref,
                           int *refrole, uint32_t *refhash) {
  int canonical = w ? b->ci : b->cu;
  uint32_t v = w ? b->vi : b->vu, h = w ? b->hi : b->hu;
  int r = w ? R_ITEM : R_USER;
  if (canonical) {
    int32_t d = dir_get(c->dc[w], v);
    if (d >= 0) {
      *out = d;
      return RP_OK;
    }
    h = rp_idmap_hash(b->f[r], b->fl[r]);
  }
  rp_idmap *m = w ? pc->sink->items : pc->sink->users;
  if (pc->direct && !c->drop_unknown) {
    if (rp_idmap_intern_h(m, b->f[r], b->fl[r], h, out, &pc->err)) return pc->err.status;
  } else {
    *out = rp_idmap_find_h(m, b->f[r], b->fl[r], h);
    if (*out < 0) {
      if (!c->drop_unknown) refrole[*nref] = r, refhash[(*nref)++] = h;
      return RP_OK;
    }
  }
  if (canonical && pc->direct) return rp_io_idcache_set(c->dc[w], v, *out, m, &pc->err);
  return RP_OK;
}

/* notes id f[0..n) of role r for row `row` of the piece */
static int addref(piece *pc, int64_t row, int r, const char *f, size_t n, uint32_t h) {
  if (pc->nrefs == pc->refcap) {
    int64_t nc = pc->refcap ? pc->refcap * 2 : 1024;
    uref *x = rp_realloc(pc->refs, (size_t)nc * sizeof *x);
    if (!x) return rp_enomem(&pc->err, "read");
    pc->refs = x;
    pc->refcap = nc;
  }
  uref *u = &pc->refs[pc->nrefs++];
  u->row = row;
  u->role = r;
  u->hash = h;
  u->len = n;
  int in_scratch = pc->scratch && f >= pc->scratch && f < pc->scratch + pc->scap;
  u->ptr = in_scratch ? NULL : f;
  u->off = in_scratch ? (size_t)(f - pc->scratch) : 0;
  return RP_OK;
}

/* the index of id f[0..n) in m: interned (direct pieces) or looked up
 * (-1 when absent, noted as a ref of role r) */
static inline int idx_of(piece *pc, rp_idmap *m, int r, const char *f, size_t n, uint32_t h,
                         int32_t *out, int *nref, int *refrole, uint32_t *refhash) {
  if (pc->direct) return rp_idmap_intern_h(m, f, n, h, out, &pc->err);
  *out = rp_idmap_find_h(m, f, n, h);
  if (*out < 0) {
    refrole[*nref] = r;
    refhash[(*nref)++] = h;
  }
  return RP_OK;
}

/* Returns -1 to stop the piece (pc->status set), 0 otherwise. */
static int row(const rctx *c, piece *pc, const brow *b) {
  const char *const *f = b->f;
  const size_t *fl = b->fl;
  int64_t line = b->line;
  pc->datalines++;
  if (b->nfields != c->nf) return BAD(b, "expected %d fields, found %d", c->nf, b->nfields);
  char tmp[48];
  if (fl[R_USER] == 0) return BAD(b, "empty user id (%s)", c->colname[R_USER]);
  if (fl[R_ITEM] == 0) return BAD(b, "empty item id (%s)", c->colname[R_ITEM]);
  float value = 1.0f;
  if (c->col[R_VALUE] >= 0) {
    int r = rp_parse_f32(f[R_VALUE], fl[R_VALUE], &value);
    if (r) {
      shown(tmp, sizeof tmp, f[R_VALUE], fl[R_VALUE]);
      return BAD(b,
                 r == RP_PARSE_RANGE ? "%s: '%s' is not a finite number"
                                     : "%s: cannot parse '%s' as a number",
                 c->colname[R_VALUE], tmp);
    }
  }
  int64_t tm = 0;
  if (c->col[R_TIME] >= 0) {
    int r = rp_parse_time(f[R_TIME], fl[R_TIME], c->o->time_unit, &tm);
    if (r) {
      shown(tmp, sizeof tmp, f[R_TIME], fl[R_TIME]);
      return BAD(b,
                 r == RP_PARSE_RANGE ? "%s: '%s' is out of range as a time"
                                     : "%s: cannot parse '%s' as a time (Unix %s or ISO 8601)",
                 c->colname[R_TIME], tmp,
                 c->o->time_unit == RP_TIME_MS ? "milliseconds" : "seconds");
    }
  }
  rp_events *ev = pc->sink;
  int nref = 0, refrole[NROLES];
  uint32_t refhash[NROLES];
  int32_t code = 0;
  if (c->col[R_EVENT] >= 0) {
    float w;
    if (c->tw.names) {
      if (!rp_typeweights_get(&c->tw, f[R_EVENT], fl[R_EVENT], &w)) {
        if (!pc->dropped_type++)
          shown(pc->dropped_example, sizeof pc->dropped_example, f[R_EVENT], fl[R_EVENT]);
        return 0;
      }
      value = c->col[R_VALUE] >= 0 ? value * w : w;
    }
  }
  int32_t u, it;
  if (id_index(c, pc, b, 0, &u, &nref, refrole, refhash) ||
      id_index(c, pc, b, 1, &it, &nref, refrole, refhash))
    return fatal(pc, line, pc->err.status);
  if (c->drop_unknown && (u < 0 || it < 0)) {
    pc->dropped_unknown++;
    return 0;
  }
  if (c->col[R_EVENT] >= 0) {
    uint32_t h = rp_idmap_hash(f[R_EVENT], fl[R_EVENT]);
    if (idx_of(pc, ev->event_names, R_EVENT, f[R_EVENT], fl[R_EVENT], h, &code, &nref, refrole,
               refhash))
      return fatal(pc, line, pc->err.status);
    if (code > INT16_MAX - 1) {
      rp_errf(&pc->err, RP_EINVAL, "more than %d distinct event types in %s", INT16_MAX,
              c->colname[R_EVENT]);
      return fatal(pc, line, RP_EINVAL);
    }
  }
  int32_t cx[RP_MAX_CONTEXT];
  for (int k = 0; k < ev->ncontext; k++) {
    const char *x = f[R_CTX0 + k];
    size_t n = fl[R_CTX0 + k];
    if (idx_of(pc, ev->context_dicts[k], R_CTX0 + k, x, n, rp_idmap_hash(x, n), &cx[k], &nref,
               refrole, refhash))
      return fatal(pc, line, pc->err.status);
  }
  if (ev->n == ev->cap) {
    /* a parallel piece has room for all its lines: never full */
    if (RP_NEVER(!pc->direct)) {
      rp_errf(&pc->err, RP_EINVAL, "internal error: piece overflow");
      return fatal(pc, line, RP_EINVAL);
    }
    if (rp_events_reserve(ev, ev->cap + ev->cap / 2 + 1024, &pc->err))
      return fatal(pc, line, RP_ENOMEM);
  }
  int64_t j = ev->n;
  for (int q = 0; q < nref; q++)
    if (addref(pc, j, refrole[q], f[refrole[q]], fl[refrole[q]], refhash[q]))
      return fatal(pc, line, RP_ENOMEM);
  for (int k = 0; k < ev->ncontext; k++) ev->context[k][j] = cx[k];
  /* streaming stores: the columns are written once, front to back; no need
   * to read each cache line in before writing it */
  stream32(&ev->user[j], u);
  stream32(&ev->item[j], it);
  int32_t vbits;
  memcpy(&vbits, &value, 4);
  stream32((int32_t *)&ev->value[j], vbits);
  if (ev->time) stream64(&ev->time[j], tm);
  if (ev->event) ev->event[j] = (int16_t)code;
  ev->n = j + 1;
  return 0;
}

/* Handles rows b[0..n) in order; returns -1 when the piece must stop. */
static int flush(const rctx *c, piece *pc, brow *b, int n) {
  for (int k = 0; k < n; k++)
    if (row(c, pc, &b[k])) return -1;
  return 0;
}

/* ---- the general record parser (quotes, any separator) -------------------------
 * One field at p, RFC 4180: a field starting with a quote runs to the
 * closing quote ("" inside is a quote, separators and newlines are text),
 * and must be followed by a separator, a line end or the end; any other
 * field runs to the next separator or newline.  Sets the content [*fs, *fe)
 * (without the quotes, or the CR of a CRLF ending an unquoted field),
 * *doubled (quoted with "" to undo: see unquote), *last (the field ends its
 * record) and *q (where it stopped: a separator, a line end or end; for
 * FLD_AFTER just past the closing quote).  final = no input after end;
 * else FLD_MORE when the field may go on past end. */
enum { FLD_OK = 0, FLD_MORE, FLD_OPEN, FLD_AFTER };

static inline __attribute__((always_inline)) int field_scan(const char *p, const char *end,
                                                            const char *sep, size_t seplen,
                                                            int final, const char **fs,
                                                            const char **fe, int *doubled,
                                                            int *last, const char **q) {
  *doubled = 0;
  if (p < end && *p == '"') {
    *fs = ++p;
    for (;;) {
      const char *c = memchr(p, '"', (size_t)(end - p));
      if (!c) return final ? FLD_OPEN : FLD_MORE;
      if (c + 1 == end && !final) return FLD_MORE; /* "" may straddle the block end */
      if (c + 1 < end && c[1] == '"') {
        *doubled = 1;
        p = c + 2;
        continue;
      }
      *fe = c;
      p = c + 1;
      break;
    }
    *q = p;
    /* after the closing quote: a separator, a line end or the end */
    if (!final && (size_t)(end - p) <= seplen) return FLD_MORE; /* cannot tell yet */
    *last = p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
    if (!*last && !(seplen <= (size_t)(end - p) && memcmp(p, sep, seplen) == 0)) return FLD_AFTER;
    return FLD_OK;
  }
  *fs = p;
  while (p < end && *p != '\n' &&
         !(*p == sep[0] &&
           (seplen == 1 || ((size_t)(end - p) >= seplen && memcmp(p, sep, seplen) == 0))))
    p++;
  /* a multi-byte separator may be cut by the block end */
  if (p == end && !final) return FLD_MORE;
  *last = p == end || *p == '\n';
  *fe = *last && p > *fs && p[-1] == '\r' ? p - 1 : p;
  *q = p;
  return FLD_OK;
}

/* Copies the n bytes at s to w undoing doubled quotes ("" -> "); w may be s.
 * Returns the length written. */
size_t rp_io_unquote(char *w, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    w[k++] = s[i];
    if (s[i] == '"') i++;
  }
  return k;
}

/* Parses the record at p.  Field j's span goes to f/fl[role[j]] (all fields
 * to on_field when given, for the header).  Returns 1 and sets *next past the
 * record's line end, 0 when the record is incomplete (the block ends inside
 * it and more input follows), or -1 for a malformed record (*next past the
 * next newline, msg set).  *nl counts the newlines consumed. */

int rp_io_parse_record(const rctx *c, piece *pc, const char *p, const char *end, int final,
                       const char **f, size_t *fl, int *nfields, const char **next, int64_t *nl,
                       char *msg, size_t msgsize, field_fn on_field, void *ud) {
  const char *sep = c->sep, *rec = p;
  size_t seplen = c->seplen;
  int j = 0;
  int esc[NROLES]; /* field of role r has doubled quotes to undo */
  const char *span[NROLES];
  size_t spanlen[NROLES];
  int nesc = 0;
  *nl = 0;
  for (;;) {
    const char *fs, *fe, *q; /* field content, where it stopped */
    int doubled, last;
    int st = field_scan(p, end, sep, seplen, final, &fs, &fe, &doubled, &last, &q);
    if (st == FLD_MORE) return 0;
    if (st == FLD_OPEN) {
      snprintf(msg, msgsize, "unterminated quoted field %d", j + 1);
      *next = end;
      for (const char *x = rec; x < end; x++) *nl += *x == '\n';
      return -1;
    }
    if (st == FLD_AFTER) {
      snprintf(msg, msgsize, "text after the closing quote of field %d", j + 1);
      const char *e = memchr(q, '\n', (size_t)(end - q));
      if (!e && !final) return 0;
      *next = e ? e + 1 : end;
      for (const char *x = rec; x < *next; x++) *nl += *x == '\n';
      return -1;
    }
    if (on_field) on_field(ud, j, fs, (size_t)(fe - fs), doubled);
    if (j < c->nf && c->role && c->role[j] >= 0) {
      int r = c->role[j];
      span[r] = fs;
      spanlen[r] = (size_t)(fe - fs);
      f[r] = fs;
      fl[r] = (size_t)(fe - fs);
      if (doubled) esc[nesc++] = r;
    }
    j++;
    p = q;
    if (last) {
      if (p < end && *p == '\r') p++;
      if (p < end) p++; /* the newline */
      break;
    }
    p += seplen;
  }
  *nfields = j;
  *next = p;
  for (const char *x = rec; x < p; x++) *nl += *x == '\n';
  if (nesc && pc) {
    /* undo doubled quotes into the scratch buffer (appended to during a
     * block: staged rows may refer to it; padded for rp_idmap_hash_padded) */
    size_t need = pc->slen + (size_t)(p - rec) + 16;
    if (need > pc->scap) {
      size_t nc = need > 2 * pc->scap ? need : 2 * pc->scap;
      char *s = rp_realloc(pc->scratch, nc);
      if (!s) return rp_enomem(&pc->err, "read scratch"), -2;
      pc->scratch = s;
      pc->scap = nc;
    }
    char *w = pc->scratch + pc->slen;
    for (int k = 0; k < nesc; k++) {
      int r = esc[k];
      f[r] = w;
      fl[r] = rp_io_unquote(w, span[r], spanlen[r]);
      w += fl[r];
    }
    pc->slen = (size_t)(w - pc->scratch);
  }
  return 1;
}

int rp_io_split_fields(char *line, size_t n, const char *sep, char **f, size_t *fl, int maxf) {
  const char *p = line, *end = line + n;
  size_t seplen = strlen(sep);
  for (int k = 0;; k++) {
    if (k == maxf) return maxf + 1;
    const char *fs, *fe, *q;
    int doubled, last;
    if (field_scan(p, end, sep, seplen, 1, &fs, &fe, &doubled, &last, &q) != FLD_OK) return -1;
    f[k] = line + (fs - line);
    fl[k] = doubled ? rp_io_unquote(f[k], fs, (size_t)(fe - fs)) : (size_t)(fe - fs);
    if (last) return k + 1;
    p = q + seplen;
  }
}

/* ---- one piece ------------------------------------------------------------------ */
void rp_io_parse_piece(const rctx *c, piece *pc) {
  const char *p = pc->start, *end = pc->end;
  brow batch[BATCH];
  int nb = 0;
  char sep = c->sep[0];
  int fast = c->seplen == 1;
  const int8_t *role = c->role;
  int nf = c->nf;
  scan sc = {p, 0};
  if (fast && p < end) scan_at(&sc, p, sep);
  while (p < end) {
    const char *rec = p;
    brow *br = &batch[nb];
    br->line = pc->lines + 1;
    int slow = !fast;
    if (fast) {
      const char *fs = p;
      int j = 0, lastrole = -1;
      const char *t;
      for (;;) {
        t = scan_next(&sc, end, sep);
        if (t < end && *t == '"') {
          slow = 1;
          break;
        }
        int r = j < nf ? role[j] : -1;
        if (r >= 0) {
          br->f[r] = fs;
          br->fl[r] = (size_t)(t - fs);
        }
        lastrole = r;
        j++;
        if (t == end || *t == '\n') break;
        fs = t + 1;
      }
      if (!slow) {
        if (t == end && !pc->final) break; /* incomplete record */
        if ((size_t)(t - rec) > c->max_line) {
          int64_t line = br->line;
          if (!(nb && flush(c, pc, batch, nb))) piece_too_long(c, pc, line);
          nb = 0;
          break;
        }
        br->unterm = t == end;
        int crlf = t > fs && t[-1] == '\r';
        if (crlf && lastrole >= 0) br->fl[lastrole]--;
        p = t < end ? t + 1 : end;
        pc->lines += t < end;
        if (j == 1 && t - fs <= crlf) continue; /* empty line */
        br->nfields = j;
        prepare(c, pc, br);
        if (++nb == BATCH) {
          if (flush(c, pc, batch, nb)) break;
          nb = 0;
        }
        continue;
      }
    }
    /* the general parser: its fields may live in the scratch buffer, which
     * the next slow record reuses, so the batch is flushed around it */
    if (nb && flush(c, pc, batch, nb)) break;
    nb = 0;
    br = &batch[0];
    br->line = pc->lines + 1;
    char msg[160];
    const char *next;
    int64_t nl;
    int r = rp_io_parse_record(c, pc, rec, end, pc->final, br->f, br->fl, &br->nfields, &next, &nl,
                               msg, sizeof msg, NULL, NULL);
    if (r == 0) break;
    if (r == -2) {
      fatal(pc, br->line, RP_ENOMEM);
      break;
    }
    p = next;
    pc->lines += nl;
    if (fast && p < end) scan_at(&sc, p, sep);
    br->unterm = pc->final && next == end && (next == rec || next[-1] != '\n');
    if (r < 0) {
      pc->datalines++;
      if (BAD(br, "%s", msg)) break;
      continue;
    }
    size_t raw = (size_t)(next - rec) - (next > rec && next[-1] == '\n');
    if (raw > c->max_line) {
      piece_too_long(c, pc, br->line);
      break;
    }
    if (br->nfields == 1 && (raw == 0 || (raw == 1 && *rec == '\r'))) continue; /* empty line */
    prepare(c, pc, br);
    if (flush(c, pc, batch, 1)) break;
  }
  if (nb && pc->status == RP_OK) flush(c, pc, batch, nb);
  pc->stop = p;
#if defined(__SSE2__)
  _mm_sfence(); /* the streaming stores are visible before the piece is merged */
#endif
}
