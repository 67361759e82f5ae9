/*
 * reader.c -- delimited event logs to Events, fast.
 *
 * How it goes fast without giving up exactness:
 *
 *  - The input is read in large blocks.  The first block, and any block
 *    holding a quote character (a newline may sit inside a quoted field), is
 *    parsed by one thread straight into the result, interning ids as it
 *    goes.  Other blocks are cut at line ends into small pieces that the
 *    threads take in turn.
 *  - Inside a piece the separator, newline and quote positions come from
 *    64-byte bit masks (AVX-512/AVX2/SSE2 compares, or a scalar loop), so a
 *    field costs a count-trailing-zeros, not a byte loop.  A record with a
 *    quote, or a multi-byte separator ("::"), takes the general RFC 4180
 *    record parser instead.
 *  - Numbers are parsed by hand on the common forms (iotext.h) with strtof
 *    behind them, so results are what strtof gives.
 *  - Ids are looked up in batches: the hashes of 16 rows are computed and
 *    their table slots prefetched before the first lookup, so cache misses
 *    overlap instead of queueing.
 *  - Ids must get indices in order of first appearance in the file, as a
 *    sequential read gives them, whatever the threads.  While pieces are
 *    parsed in parallel the maps are only read: a row whose user, item,
 *    event type or context value is not in its map yet is written with the
 *    id noted.  Then, piece by piece in file order, the noted ids are
 *    interned, which appends exactly the ids a sequential read would have
 *    appended, in the same order.  After the first block few ids are new, so
 *    this sequential part is small.  Each piece writes its rows straight
 *    into the result, from an offset given by the line counts of the pieces
 *    before it; the rare gaps left by blank, skipped or dropped lines are
 *    closed afterwards.  Errors are reported in file order too.
 *  - Memory: the block buffer and the result, whose columns are reserved
 *    from an estimate after the first block (and mapped in one call rather
 *    than page by page) and trimmed to size at the end.
 */
#include "reader.h"
#include "tz.h"

#include <pthread.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#if defined(__AVX512BW__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "rio.h"

enum { R_USER = 0, R_ITEM, R_VALUE, R_TIME, R_EVENT, R_CTX0 };
#define NROLES (R_CTX0 + RP_MAX_CONTEXT)
#define MAX_PIECES 64
#define PAD 128
#define DEFAULT_BLOCK ((size_t)2 << 20)
#define PIECE_BYTES ((size_t)128 << 10) /* a piece of a parallel block */

static const char *const user_names[] = {"user",      "user_id", "userId",      "userid",
                                         "UserID",    "UserId",  "customer_id", "CustomerID",
                                         "visitorid", NULL};
static const char *const item_names[] = {
    "item",     "item_id",    "itemId",    "itemid",    "ItemID", "ItemId", "movieId",
    "movie_id", "product_id", "productId", "StockCode", "sku",    NULL};

const char *const *rp_read_default_names(int role) { return role == 0 ? user_names : item_names; }

const char *const rp_time_unit_names[] = {"auto", "s", "ms", NULL};
const char *const rp_onerr_names[] = {"stop", "skip", NULL};
const char *const rp_unknown_names[] = {"add", "drop", NULL};

#define O rp_read_opts
#define COLUMN "a column name or a 1-based position"
const rp_optdesc rp_read_optdesc[] = {
    RP_OPT_S(O, sep, "sep", NULL),
    RP_OPT_B(O, header, "header", 1),
    RP_OPT_X("user", COLUMN " (default: the first header column named user, user_id, ...)"),
    RP_OPT_X("item", COLUMN " (default: the first header column named item, item_id, ...)"),
    RP_OPT_X("value", COLUMN),
    RP_OPT_X("time", COLUMN),
    RP_OPT_X("event", COLUMN),
    RP_OPT_X("weights", "a table {event type = weight}"),
    RP_OPT_X("context", "a list of column names or positions"),
    RP_OPT_E(O, time_unit, "time_unit", RP_TIME_SECONDS, rp_time_unit_names),
    RP_OPT_X("users", "an IdMap to read the users onto"),
    RP_OPT_X("items", "an IdMap to read the items onto"),
    RP_OPT_E(O, on_error, "on_error", RP_ONERR_STOP, rp_onerr_names),
    RP_OPT_E(O, unknown, "unknown", RP_UNKNOWN_ADD, rp_unknown_names),
    RP_OPT_I(O, threads, "threads", 0, 0, 256),
    RP_OPT_I(O, max_line_bytes, "max_line_bytes", (double)RP_READ_MAX_LINE, 1, 1e15),
    RP_OPT_X("time_context", "a list of hour, weekday"),
    RP_OPT_S(O, time_zone, "time_zone", NULL),
    RP_OPT_END};
#undef COLUMN
#undef O

void rp_read_opts_init(rp_read_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_read_optdesc, o);
}

/* ---- per-read context (read-only while pieces are parsed) ----------------- */
typedef struct rctx {
  const char *path;
  const rp_read_opts *o;
  int64_t line1;   /* line of the first record (the header, or the first data line) */
  size_t max_line; /* o->max_line_bytes */
  char sep[8];
  size_t seplen;
  int nf;                   /* fields per record */
  int8_t *role;             /* role of field j < nf, or -1 */
  int col[NROLES];          /* field of each role, -1 = absent */
  char colname[NROLES][80]; /* for messages */
  rp_typeweights tw;        /* event type weights (tw.names NULL: none) */
  int drop_unknown;
  size_t piece_bytes;     /* size of a piece of a parallel block */
  struct dircache *dc[2]; /* numeric id caches of users and items (may alias) */
} rctx;

/* an id to intern when the piece is merged (parallel blocks only) */
typedef struct uref {
  int64_t row; /* in the piece's staging log */
  int role;
  uint32_t hash;
  size_t len;
  const char *ptr; /* in the block buffer; NULL: at offset `off` of the scratch */
  size_t off;
} uref;

typedef struct piece {
  rp_events *sink; /* the result (direct) or &view */
  rp_events view;  /* parallel pieces: the result's columns from row `base` on */
  int64_t base;    /* first row of the piece in the result */
  int64_t nlines;  /* lines in the piece: a bound on its rows */
  int direct;      /* intern ids while parsing (one piece at a time) */
  uref *refs;      /* ids unknown when parsed, in file order */
  int64_t nrefs, refcap;
  char *scratch; /* unescaped quoted fields, appended during a block */
  size_t slen, scap;
  /* per block */
  const char *start, *end;
  int final;
  const char *stop; /* where parsing stopped (incomplete record or end) */
  int64_t lines;    /* newlines consumed */
  int64_t datalines, skipped, dropped_unknown, dropped_type;
  int status; /* RP_OK, or the error that stops the read */
  rp_err err;
  int64_t errline;
  int64_t tornline; /* the last record, unterminated and malformed (0: none) */
  char torn[200];
  int nfirst;
  int64_t firstline[RP_READ_FIRST_ERRORS];
  char first[RP_READ_FIRST_ERRORS][200];
  char dropped_example[64];
} piece;

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
typedef struct dircache {
  int32_t *idx; /* idx[v]: index of the id spelled v, or -1 */
  uint32_t cap;
} dircache;

static inline int canon(const char *s, size_t n, uint32_t *v) {
  if (n == 0 || n > 9 || (s[0] == '0' && n > 1)) return 0;
  uint32_t x = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) return 0;
    x = x * 10 + d;
  }
  *v = x;
  return 1;
}

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
static int dir_set(dircache *d, uint32_t v, int32_t idx, const rp_idmap *m, rp_err *err) {
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
static int too_long(rp_err *err, const char *path, int64_t line, int64_t max) {
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
  if (canonical && pc->direct) return dir_set(c->dc[w], v, *out, m, &pc->err);
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
static size_t unquote(char *w, const char *s, size_t n) {
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
typedef void (*field_fn)(void *ud, int j, const char *s, size_t n, int doubled);

static int record_slow(const rctx *c, piece *pc, const char *p, const char *end, int final,
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
      fl[r] = unquote(w, span[r], spanlen[r]);
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
    fl[k] = doubled ? unquote(f[k], fs, (size_t)(fe - fs)) : (size_t)(fe - fs);
    if (last) return k + 1;
    p = q + seplen;
  }
}

/* ---- one piece ------------------------------------------------------------------ */
static void parse_piece(const rctx *c, piece *pc) {
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
    int r = record_slow(c, pc, rec, end, pc->final, br->f, br->fl, &br->nfields, &next, &nl, msg,
                        sizeof msg, NULL, NULL);
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

/* ---- header, separator, columns ------------------------------------------------------ */
typedef struct hdr {
  int n, cap;
  const char **name;
  size_t *len;
  char **owned; /* unescaped copies of names with doubled quotes */
  int oom;
} hdr;

static void hdr_free(hdr *h) {
  for (int j = 0; j < h->n; j++) rp_free(h->owned[j]);
  rp_free(h->name);
  rp_free(h->len);
  rp_free(h->owned);
  memset(h, 0, sizeof *h);
}

static void hdr_field(void *ud, int j, const char *s, size_t n, int doubled) {
  hdr *h = ud;
  if (h->oom) return;
  if (j >= h->cap) {
    int nc = h->cap ? h->cap * 2 : 32;
    const char **a = rp_realloc(h->name, (size_t)nc * sizeof *a);
    if (a) h->name = a;
    size_t *b = rp_realloc(h->len, (size_t)nc * sizeof *b);
    if (b) h->len = b;
    char **o = rp_realloc(h->owned, (size_t)nc * sizeof *o);
    if (o) h->owned = o;
    if (!a || !b || !o) {
      h->oom = 1;
      return;
    }
    h->cap = nc;
  }
  h->owned[j] = NULL;
  h->n = j + 1;
  if (doubled) {
    char *w = rp_malloc(n + 1);
    if (!w) {
      h->oom = 1;
      return;
    }
    h->owned[j] = w;
    n = unquote(w, s, n);
    s = w;
  }
  h->name[j] = s;
  h->len[j] = n;
}

int rp_io_detect_sep(const char *p, size_t n, char *sep) {
  const char *end = p + n;
  int inq = 0, dcolon = 0;
  int64_t cnt[3] = {0, 0, 0};
  for (; p < end; p++) {
    char ch = *p;
    if (ch == '"') inq = !inq;
    if (inq) continue;
    if (ch == '\n') break;
    if (ch == ':' && p + 1 < end && p[1] == ':') dcolon = 1;
    cnt[0] += ch == '\t';
    cnt[1] += ch == ',';
    cnt[2] += ch == ';';
  }
  if (dcolon) {
    strcpy(sep, "::");
    return 1;
  }
  int best = 1;
  if (cnt[0] >= cnt[1] && cnt[0] >= cnt[2] && cnt[0] > 0)
    best = 0;
  else if (cnt[2] > cnt[1])
    best = 2;
  static const char *const s[] = {"\t", ",", ";"};
  strcpy(sep, s[best]);
  return cnt[0] + cnt[1] + cnt[2] > 0;
}

static const char *role_label(int r) {
  static const char *const names[] = {"user", "item", "value", "time", "event"};
  return r < R_CTX0 ? names[r] : "context";
}

/* Resolves role r's column; returns RP_OK (col set, -1 = absent) or an error. */
static int resolve(rctx *c, int r, const rp_colref *ref, const hdr *h, int header, rp_err *err) {
  c->col[r] = -1;
  if (ref->pos > 0) {
    if (ref->pos > c->nf)
      return rp_errf(err, RP_EINVAL, "%s: %s column %d requested, but line %lld has %d fields",
                     c->path, role_label(r), ref->pos, (long long)c->line1, c->nf);
    c->col[r] = ref->pos - 1;
    if (header)
      snprintf(c->colname[r], sizeof c->colname[r], "column '%.*s'",
               (int)(h->len[ref->pos - 1] > 60 ? 60 : h->len[ref->pos - 1]), h->name[ref->pos - 1]);
    else
      snprintf(c->colname[r], sizeof c->colname[r], "column %d", ref->pos);
    return RP_OK;
  }
  const char *one[2] = {ref->name, NULL};
  const char *const *cands = ref->name ? one : r <= R_ITEM ? rp_read_default_names(r) : NULL;
  if (!cands) return RP_OK;
  if (!header) {
    if (r <= R_ITEM && !ref->name) {
      /* columns 1 and 2: the first line must have them */
      if (r >= c->nf)
        return rp_errf(err, RP_EPARSE, "%s:%lld: expected at least 2 fields (user, item), found %d",
                       c->path, (long long)c->line1, c->nf);
      c->col[r] = r;
      snprintf(c->colname[r], sizeof c->colname[r], "column %d", r + 1);
      return RP_OK;
    }
    return rp_errf(err, RP_EINVAL,
                   "%s: %s column '%s' named, but the file is read without a header "
                   "(give a 1-based position)",
                   c->path, role_label(r), ref->name);
  }
  for (int k = 0; cands[k]; k++) {
    size_t L = strlen(cands[k]);
    int found = -1;
    for (int j = 0; j < h->n; j++)
      if (h->len[j] == L && memcmp(h->name[j], cands[k], L) == 0) {
        if (found >= 0)
          return rp_errf(err, RP_EINVAL, "%s: column '%s' appears more than once in the header",
                         c->path, cands[k]);
        found = j;
      }
    if (found >= 0) {
      c->col[r] = found;
      snprintf(c->colname[r], sizeof c->colname[r], "column '%.60s'", cands[k]);
      return RP_OK;
    }
  }
  /* not found: list the header */
  char list[600];
  size_t k = 0;
  for (int j = 0; j < h->n && k < sizeof list - 80; j++)
    k += (size_t)snprintf(list + k, sizeof list - k, "%s%.*s", j ? ", " : "",
                          (int)(h->len[j] > 40 ? 40 : h->len[j]), h->name[j]);
  if (h->n && k >= sizeof list - 80) snprintf(list + k, sizeof list - k, ", ...");
  if (ref->name)
    return rp_errf(err, RP_EINVAL, "%s: column '%s' not found in header (columns: %s)", c->path,
                   ref->name, list);
  return rp_errf(err, RP_EINVAL,
                 "%s: no %s column in header (columns: %s); name it with the '%s' option", c->path,
                 role_label(r), list, role_label(r));
}

/* ---- buffer and read-ahead ---------------------------------------------------------
 * A gzip file is inflated by a feeder thread into a ring of chunks while
 * the pieces of the previous block are parsed (inflating costs about as much
 * as parsing); the parser copies chunks into its block buffer behind the
 * unparsed tail of the previous block.  Plain files are read straight into
 * the block buffer (a read is a copy from the page cache: a feeder would only
 * add a second copy), and so are standard input and pipes (a blocked read
 * could not be abandoned on a parse error). */
#define NCHUNK 2
#define MIN_CHUNK ((size_t)64 << 10)

typedef struct chunk {
  char *buf;
  size_t len, off;
  int eof, status;
  uint64_t pos; /* compressed bytes consumed after this chunk */
  rp_err err;
} chunk;

typedef struct rbuf {
  rp_reader *rd;
  char *buf;
  size_t cap, len;
  int eof;
  uint64_t total, pos, size;
  /* feeder */
  chunk ch[NCHUNK];
  size_t csize;
  int chunked, head, count, stop, threaded;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} rbuf;

/* fills chunk c from the reader (feeder thread, or the parser when
 * synchronous) */
static void fill_chunk(rbuf *b, chunk *c) {
  c->len = c->off = 0;
  c->status = RP_OK;
  while (c->len < b->csize) {
    ssize_t k = rp_reader_read(b->rd, c->buf + c->len, b->csize - c->len, &c->err);
    if (k < 0) {
      c->status = c->err.status ? c->err.status : RP_EIO;
      break;
    }
    if (k == 0) {
      c->eof = 1;
      break;
    }
    c->len += (size_t)k;
  }
  c->pos = rp_reader_pos(b->rd);
}

static void *feeder(void *arg) {
  rbuf *b = arg;
  for (;;) {
    pthread_mutex_lock(&b->mu);
    while (b->count == NCHUNK && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
    int stop = b->stop, slot = (b->head + b->count) % NCHUNK;
    pthread_mutex_unlock(&b->mu);
    if (stop) break;
    chunk *c = &b->ch[slot];
    fill_chunk(b, c);
    pthread_mutex_lock(&b->mu);
    b->count++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (c->eof || c->status) break;
  }
  return NULL;
}

static int rbuf_open(rbuf *b, const char *path, size_t cap, rp_err *err) {
  b->cap = cap;
  b->csize = cap > MIN_CHUNK ? cap : MIN_CHUNK;
  if (!(b->buf = rp_malloc(b->cap + PAD))) return rp_enomem(err, "read buffer");
  if (!(b->rd = rp_reader_open(path, err))) return err->status ? err->status : RP_EIO;
  b->size = rp_reader_size(b->rd);
  if (!rp_reader_is_gzip(b->rd) || b->size == 0) return RP_OK; /* direct reads */
  for (int k = 0; k < NCHUNK; k++)
    if (!(b->ch[k].buf = rp_malloc(b->csize))) return rp_enomem(err, "read buffer");
  if (pthread_mutex_init(&b->mu, NULL) == 0) {
    if (pthread_cond_init(&b->cv, NULL) == 0) {
      if (pthread_create(&b->th, NULL, feeder, b) == 0) {
        b->threaded = b->chunked = 1;
        return RP_OK;
      }
      pthread_cond_destroy(&b->cv);
    }
    pthread_mutex_destroy(&b->mu);
  }
  b->chunked = 1; /* no thread: chunks filled synchronously */
  return RP_OK;
}

static void rbuf_close(rbuf *b) {
  if (b->threaded) {
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->th, NULL);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
  }
  for (int k = 0; k < NCHUNK; k++) rp_free(b->ch[k].buf);
  rp_free(b->buf);
  rp_reader_close(b->rd);
}

/* the next chunk with unread bytes (blocks for the feeder) */
static chunk *next_chunk(rbuf *b) {
  if (!b->threaded) {
    if (!b->count) {
      fill_chunk(b, &b->ch[b->head]);
      b->count = 1;
    }
    return &b->ch[b->head];
  }
  pthread_mutex_lock(&b->mu);
  while (!b->count) pthread_cond_wait(&b->cv, &b->mu);
  pthread_mutex_unlock(&b->mu);
  return &b->ch[b->head];
}

static void release_chunk(rbuf *b) {
  if (b->threaded) pthread_mutex_lock(&b->mu);
  b->head = (b->head + 1) % NCHUNK;
  b->count--;
  if (b->threaded) {
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
  }
}

/* drops the first `used` bytes, then reads until the buffer is full or the
 * input ends */
static int refill(rbuf *b, size_t used, rp_err *err) {
  if (used) {
    memmove(b->buf, b->buf + used, b->len - used);
    b->len -= used;
  }
  while (b->len < b->cap && !b->eof && !b->chunked) {
    ssize_t k = rp_reader_read(b->rd, b->buf + b->len, b->cap - b->len, err);
    if (k < 0) return err->status ? err->status : RP_EIO;
    if (k == 0) b->eof = 1;
    b->len += (size_t)k;
    b->total += (uint64_t)k;
    b->pos = rp_reader_pos(b->rd);
  }
  while (b->len < b->cap && !b->eof) {
    chunk *c = next_chunk(b);
    size_t n = c->len - c->off;
    if (n > b->cap - b->len) n = b->cap - b->len;
    memcpy(b->buf + b->len, c->buf + c->off, n);
    c->off += n;
    b->len += n;
    b->total += n;
    if (c->off == c->len) {
      if (c->status) {
        *err = c->err;
        return c->status;
      }
      b->pos = c->pos;
      b->eof = c->eof;
      release_chunk(b);
    }
  }
  memset(b->buf + b->len, 0, PAD);
  return RP_OK;
}

static int grow_to(rbuf *b, size_t nc, rp_err *err) {
  char *x = rp_realloc(b->buf, nc + PAD);
  if (!x) return rp_enomem(err, "read buffer");
  b->buf = x;
  b->cap = nc;
  return RP_OK;
}

static int grow(rbuf *b, rp_err *err) { return grow_to(b, b->cap * 2, err); }

/* The full buffer ends inside a record that starts at b->buf + off (line
 * `line`): fails when the record already has more than max bytes, else
 * grows the buffer for more of it, to at most what a record of max bytes
 * and its newline need. */
static int grow_line(rbuf *b, size_t off, int64_t max, int64_t line, rp_err *err) {
  if ((uint64_t)(b->len - off) > (uint64_t)max)
    return too_long(err, rp_reader_path(b->rd), line, max);
  size_t lim = off + (size_t)max + 1, nc = b->cap * 2;
  if (nc > lim) nc = lim;
  if (nc <= b->cap) nc = b->cap + 1;
  return grow_to(b, nc, err);
}

/* The length of a UTF-8 byte order mark at the start of the buffer (0 or 3). */
static size_t bom_len(const rbuf *b) {
  return b->len >= 3 && memcmp(b->buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* ---- lines of a small text file, one at a time (rp_io_lines_*) ------------------- */
#define LINES_BLOCK ((size_t)64 << 10)

struct rp_io_lines {
  rbuf b;
  size_t off; /* start of the next line in b.buf */
  int started;
  int64_t lineno;   /* lines returned */
  int64_t max_line; /* longest line accepted */
};

rp_io_lines *rp_io_lines_open(const char *path, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf; /* the buffer code reads err->status */
  rp_io_lines *l = rp_calloc(1, sizeof *l);
  if (!l) return rp_enomem(err, "line reader"), NULL;
  l->max_line = RP_READ_MAX_LINE;
  if (rbuf_open(&l->b, path, LINES_BLOCK, err)) {
    rp_io_lines_close(l);
    return NULL;
  }
  return l;
}

void rp_io_lines_set_max(rp_io_lines *l, int64_t max_line_bytes) {
  l->max_line = max_line_bytes > 0 ? max_line_bytes : 1;
}

void rp_io_lines_close(rp_io_lines *l) {
  if (!l) return;
  rbuf_close(&l->b);
  rp_free(l);
}

int rp_io_lines_next(rp_io_lines *l, char **line, size_t *n, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  rbuf *b = &l->b;
  for (;;) {
    if (!l->started && (b->len >= 3 || b->eof)) l->off = bom_len(b), l->started = 1;
    char *s = b->buf + l->off, *nl = memchr(s, '\n', b->len - l->off);
    if (l->started && (nl || (b->eof && l->off < b->len))) {
      size_t len = nl ? (size_t)(nl - s) : b->len - l->off;
      if ((uint64_t)len > (uint64_t)l->max_line)
        return too_long(err, rp_reader_path(b->rd), l->lineno + 1, l->max_line), -1;
      l->lineno++;
      l->off += len + (nl != NULL);
      if (len && s[len - 1] == '\r') len--;
      *line = s;
      *n = len;
      return 1;
    }
    if (b->eof) return 0;
    if (l->off == 0 && b->len == b->cap && grow_line(b, 0, l->max_line, l->lineno + 1, err))
      return -1;
    size_t used = l->off;
    l->off = 0;
    if (refill(b, used, err)) return -1;
  }
}

/* ---- merging a parallel piece into the result ------------------------------------
 * Interns the ids noted while the piece was parsed, in file order, writes
 * their indices into its rows, and moves the rows down to row ev->n when
 * earlier pieces left a gap. */
static int merge_piece(const rctx *c, rp_events *ev, piece *pc, int64_t line0, rp_err *err) {
  const rp_events *v = &pc->view;
  for (int64_t k = 0; k < pc->nrefs; k++) {
    const uref *u = &pc->refs[k];
    const char *id = u->ptr ? u->ptr : pc->scratch + u->off;
    rp_idmap *m = u->role == R_USER    ? ev->users
                  : u->role == R_ITEM  ? ev->items
                  : u->role == R_EVENT ? ev->event_names
                                       : ev->context_dicts[u->role - R_CTX0];
    int32_t idx;
    int rc = rp_idmap_intern_h(m, id, u->len, u->hash, &idx, err);
    if (rc) return rc;
    uint32_t val;
    if (u->role <= R_ITEM && canon(id, u->len, &val) && dir_set(c->dc[u->role], val, idx, m, err))
      return RP_ENOMEM;
    if (u->role == R_USER)
      v->user[u->row] = idx;
    else if (u->role == R_ITEM)
      v->item[u->row] = idx;
    else if (u->role == R_EVENT) {
      if (idx > INT16_MAX - 1)
        return rp_errf(err, RP_EINVAL, "%s:%lld: more than %d distinct event types in %s", c->path,
                       (long long)line0, INT16_MAX, c->colname[R_EVENT]);
      v->event[u->row] = (int16_t)idx;
    } else {
      v->context[u->role - R_CTX0][u->row] = idx;
    }
  }
  int64_t o = ev->n, n = v->n;
  if (o != pc->base && n > 0) {
    memmove(ev->user + o, v->user, (size_t)n * sizeof *v->user);
    memmove(ev->item + o, v->item, (size_t)n * sizeof *v->item);
    memmove(ev->value + o, v->value, (size_t)n * sizeof *v->value);
    if (ev->time) memmove(ev->time + o, v->time, (size_t)n * sizeof *v->time);
    if (ev->event) memmove(ev->event + o, v->event, (size_t)n * sizeof *v->event);
    for (int q = 0; q < ev->ncontext; q++)
      memmove(ev->context[q] + o, v->context[q], (size_t)n * sizeof *v->context[q]);
  }
  ev->n = o + n;
  return RP_OK;
}

/* points piece pc's view at the result's columns from row base on */
static void set_view(piece *pc, const rp_events *ev, int64_t base) {
  rp_events *v = &pc->view;
  *v = *ev;
  v->user += base;
  v->item += base;
  v->value += base;
  if (v->time) v->time += base;
  if (v->event) v->event += base;
  for (int q = 0; q < v->ncontext; q++) v->context[q] += base;
  v->n = 0;
  v->cap = pc->nlines;
  pc->base = base;
  pc->sink = v;
  pc->direct = 0;
}

static void piece_free(piece *pc) {
  rp_free(pc->refs);
  rp_free(pc->scratch);
}

/* ---- the read ------------------------------------------------------------------------ */
static int check_opts(const char *path, const rp_read_opts *o, rp_err *err) {
  if (o->sep && (o->sep[0] == 0 || strlen(o->sep) > 4 || strchr(o->sep, '"') ||
                 strchr(o->sep, '\n') || strchr(o->sep, '\r')))
    return rp_errf(err, RP_EINVAL, "%s: bad separator (1 to 4 bytes, no quote or line end)", path);
  if (o->ncontext < 0 || o->ncontext > RP_MAX_CONTEXT)
    return rp_errf(err, RP_EINVAL, "%s: at most %d context columns", path, RP_MAX_CONTEXT);
  if (o->nweights < 0 || o->nweights > RP_READ_MAX_WEIGHTS)
    return rp_errf(err, RP_EINVAL, "%s: at most %d event weights", path, RP_READ_MAX_WEIGHTS);
  if (o->nweights && !o->event.name && o->event.pos <= 0)
    return rp_errf(err, RP_EINVAL, "%s: weights need an event column (option 'event')", path);
  if (o->time_unit < RP_TIME_AUTO || o->time_unit > RP_TIME_MS)
    return rp_errf(err, RP_EINVAL, "%s: bad time unit", path);
  if (o->time_context && !o->time.name && o->time.pos <= 0)
    return rp_errf(err, RP_EINVAL, "%s: time_context needs a time column (option 'time')", path);
  if (o->max_line_bytes < 1 || (uint64_t)o->max_line_bytes > SIZE_MAX / 4)
    return rp_errf(err, RP_EINVAL,
                   "%s: max_line_bytes must be a positive number of bytes, got %lld", path,
                   (long long)o->max_line_bytes);
  return RP_OK;
}

/* Does p[0..n) hold the end of its first record (a newline outside
 * quotes, as rp_io_detect_sep reads quotes)? */
static int first_record_ends(const char *p, size_t n) {
  int inq = 0;
  for (const char *e = p + n; p < e; p++) {
    const char *q = inq ? memchr(p, '"', (size_t)(e - p)) : NULL;
    if (inq && !q) return 0;
    if (inq)
      p = q, inq = 0;
    else if (*p == '"')
      inq = 1;
    else if (*p == '\n')
      return 1;
  }
  return 0;
}

/* Sets up c from the first record of the buffer at `at` (BOM and blank
 * lines skipped; it is line c->line1); *hdr_end is past the header line when
 * there is one. */
static int setup(rctx *c, const rp_read_opts *o, rbuf *b, size_t at, size_t *hdr_end,
                 int64_t *hdr_lines, rp_err *err) {
  int rc;
  if (o->sep) {
    snprintf(c->sep, sizeof c->sep, "%s", o->sep);
  } else {
    /* the separator is counted on the whole first line, however long: a
     * partial line could miss it and give a wrong field count */
    while (!b->eof && !first_record_ends(b->buf + at, b->len - at)) {
      rc = b->len == b->cap ? grow_line(b, at, o->max_line_bytes, c->line1, err) : RP_OK;
      if (rc || (rc = refill(b, 0, err))) return rc;
    }
    rp_io_detect_sep(b->buf + at, b->len - at, c->sep);
  }
  c->seplen = strlen(c->sep);
  /* the first record, all fields */
  hdr h = {0};
  const char *next;
  int64_t nl;
  int nfields;
  char msg[160];
  const char *f[NROLES];
  size_t fl[NROLES];
  int r;
  for (;;) {
    r = record_slow(c, NULL, b->buf + at, b->buf + b->len, b->eof, f, fl, &nfields, &next, &nl, msg,
                    sizeof msg, hdr_field, &h);
    if (r != 0 || h.oom) break;
    hdr_free(&h); /* incomplete: read more and parse again */
    rc = b->len == b->cap ? grow_line(b, at, o->max_line_bytes, c->line1, err) : RP_OK;
    if (rc || (rc = refill(b, 0, err))) return rc;
  }
  rc = RP_OK;
  if (h.oom) {
    rc = rp_enomem(err, "header");
    goto out;
  }
  if (r < 0) {
    rc = rp_errf(err, RP_EPARSE, "%s:%lld: %s", c->path, (long long)c->line1, msg);
    goto out;
  }
  size_t raw = (size_t)(next - (b->buf + at)) - (next[-1] == '\n');
  if ((uint64_t)raw > (uint64_t)o->max_line_bytes) {
    rc = too_long(err, c->path, c->line1, o->max_line_bytes);
    goto out;
  }
  c->nf = nfields;
  *hdr_end = o->header ? (size_t)(next - b->buf) : at;
  *hdr_lines = o->header ? nl : 0;
  const rp_colref *refs[R_CTX0] = {&o->user, &o->item, &o->value, &o->time, &o->event};
  for (int k = 0; k < NROLES; k++) c->col[k] = -1;
  for (int k = 0; k < R_CTX0 && !rc; k++) rc = resolve(c, k, refs[k], &h, o->header, err);
  for (int k = 0; k < o->ncontext && !rc; k++)
    rc = resolve(c, R_CTX0 + k, &o->context[k], &h, o->header, err);
  if (rc) goto out;
  for (int k = 0; k < o->ncontext; k++)
    if (c->col[R_CTX0 + k] < 0) {
      rc = rp_errf(err, RP_EINVAL, "%s: context column %d is neither a name nor a position",
                   c->path, k + 1);
      goto out;
    }
  c->role = rp_malloc((size_t)c->nf);
  if (!c->role) {
    rc = rp_enomem(err, "read columns");
    goto out;
  }
  memset(c->role, -1, (size_t)c->nf);
  for (int k = 0; k < NROLES; k++) {
    int j = c->col[k];
    if (j < 0) continue;
    if (RP_NEVER(j >= c->nf)) { /* resolve() keeps every column within the first line */
      rc = rp_errf(err, RP_EINVAL, "%s: internal error: column %d of %d", c->path, j + 1, c->nf);
      goto out;
    }
    if (c->role[j] >= 0) {
      rc = rp_errf(err, RP_EINVAL, "%s: %s is used for both %s and %s", c->path, c->colname[k],
                   role_label(c->role[j]), role_label(k));
      goto out;
    }
    c->role[j] = (int8_t)k;
  }
out:
  hdr_free(&h);
  return rc;
}

/* Maps the pages of the reserved columns in one call per column instead of
 * one page fault per 4 KiB as rows arrive (a hint: ignored where the kernel
 * lacks it). */
static void prefault(const rp_events *ev) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  void *cols[5 + RP_MAX_CONTEXT] = {ev->user, ev->item, ev->value, ev->time, ev->event};
  size_t sz[5 + RP_MAX_CONTEXT] = {4, 4, 4, 8, 2};
  int n = 5;
  for (int k = 0; k < ev->ncontext; k++) cols[n] = ev->context[k], sz[n++] = 4;
  for (int k = 0; k < n; k++) {
    if (!cols[k]) continue;
    uintptr_t a = ((uintptr_t)cols[k] + (uintptr_t)ev->n * sz[k] + 4095) & ~(uintptr_t)4095;
    uintptr_t e = ((uintptr_t)cols[k] + (uintptr_t)ev->cap * sz[k]) & ~(uintptr_t)4095;
    if (e > a) {
#ifdef MADV_HUGEPAGE
      (void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* fewer pages to map and miss */
#endif
      (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
    }
  }
#else
  (void)ev;
#endif
}

/* the name of context column k in the result */
static void ctx_name(const rctx *c, const rp_read_opts *o, int k, char *dst, size_t size) {
  if (o->context[k].name) {
    snprintf(dst, size, "%s", o->context[k].name);
    return;
  }
  /* by position: the header name (colname is "column 'x'") or "columnN" */
  const char *cn = c->colname[R_CTX0 + k];
  if (o->header) {
    snprintf(dst, size, "%s", cn + 8);
    size_t L = strlen(dst);
    if (L) dst[L - 1] = 0;
  } else {
    snprintf(dst, size, "column%d", o->context[k].pos);
  }
}

static int make_result(const rctx *c, const rp_read_opts *o, rp_events **ev, rp_err *err) {
  char names[RP_MAX_CONTEXT][80];
  const char *cn[RP_MAX_CONTEXT];
  for (int k = 0; k < o->ncontext; k++) {
    ctx_name(c, o, k, names[k], sizeof names[k]);
    cn[k] = names[k];
  }
  rp_idmap *evn = NULL;
  if (c->col[R_EVENT] >= 0 && !(evn = rp_idmap_new(err))) return RP_ENOMEM;
  *ev = rp_events_new(o->users, o->items, c->col[R_TIME] >= 0, evn, o->ncontext, cn, NULL, err);
  rp_idmap_release(evn);
  return *ev ? RP_OK : RP_ENOMEM;
}

/* newlines in p[0..n) */
static int64_t count_nl(const char *p, size_t n) {
  int64_t c = 0;
  size_t i = 0;
#if defined(__AVX512BW__)
  __m512i nl = _mm512_set1_epi8('\n');
  for (; i + 64 <= n; i += 64)
    c +=
        __builtin_popcountll(_mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)(p + i)), nl));
#elif defined(__AVX2__)
  __m256i nl = _mm256_set1_epi8('\n');
  for (; i + 32 <= n; i += 32)
    c += __builtin_popcount((unsigned)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i)), nl)));
#elif defined(__SSE2__)
  __m128i nl = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16)
    c += __builtin_popcount(
        (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl)));
#endif
  for (; i < n; i++) c += p[i] == '\n';
  return c;
}

/* ---- parser threads ------------------------------------------------------------------
 * The calling thread and up to MAX_PIECES - 1 workers take the pieces of a
 * block in turn (an atomic counter), so a thread slowed by other work on a
 * shared machine simply takes fewer.  Workers sleep on a condition variable
 * between blocks: no spinning. */
typedef struct pool {
  pthread_t th[MAX_PIECES];
  int nworkers, gen, pending, quit, np;
  _Atomic int next;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  const rctx *c;
  piece *pcs;
} pool;

static void take_pieces(pool *p, int np) {
  int k;
  while ((k = atomic_fetch_add(&p->next, 1)) < np) parse_piece(p->c, &p->pcs[k]);
}

static void *worker(void *arg) {
  pool *p = arg;
  int seen = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
    if (p->quit) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    seen = p->gen;
    int np = p->np;
    pthread_mutex_unlock(&p->mu);
    take_pieces(p, np);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
  }
  return NULL;
}

/* Starts up to n - 1 workers (fewer when threads cannot be created: the
 * result is the same); returns how many threads parse. */
static int pool_start(pool *p, const rctx *c, piece *pcs, int n) {
  memset(p, 0, sizeof *p);
  p->c = c;
  p->pcs = pcs;
  if (n <= 1 || pthread_mutex_init(&p->mu, NULL)) return 1;
  if (pthread_cond_init(&p->go, NULL) || pthread_cond_init(&p->done, NULL)) {
    pthread_mutex_destroy(&p->mu);
    return 1;
  }
  for (int k = 0; k < n - 1 && k < MAX_PIECES; k++) {
    if (pthread_create(&p->th[k], NULL, worker, p)) break;
    p->nworkers = k + 1;
  }
  return p->nworkers + 1;
}

/* parses pieces 0..np-1 */
static void pool_run(pool *p, int np) {
  if (np == 1 || !p->nworkers) {
    for (int k = 0; k < np; k++) parse_piece(p->c, &p->pcs[k]);
    return;
  }
  atomic_store(&p->next, 0);
  pthread_mutex_lock(&p->mu);
  p->np = np;
  p->pending = p->nworkers;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  take_pieces(p, np);
  pthread_mutex_lock(&p->mu);
  while (p->pending) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

static void pool_stop(pool *p) {
  if (!p->nworkers) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int k = 0; k < p->nworkers; k++) pthread_join(p->th[k], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
}

/* cuts [0, n) of buf (complete records, no quotes) into pieces of about
 * `each` bytes at line ends, at most MAX_PIECES; returns their number */
static int cut(const char *buf, size_t n, size_t each, piece *pcs) {
  size_t np = n / (each ? each : 1);
  if (np < 1) np = 1;
  if (np > MAX_PIECES) np = MAX_PIECES;
  const char *s = buf, *e = buf + n;
  int k = 0;
  for (; k < (int)np && s < e; k++) {
    const char *t = e;
    if (k < (int)np - 1) {
      const char *target = buf + n / np * (size_t)(k + 1);
      if (target < s) target = s;
      const char *nlp = memchr(target, '\n', (size_t)(e - target));
      t = nlp ? nlp + 1 : e;
    }
    pcs[k].start = s;
    pcs[k].end = t;
    /* lines: newlines, plus a last line without one */
    pcs[k].nlines = count_nl(s, (size_t)(t - s)) + (t > s && t[-1] != '\n');
    s = t;
  }
  if (k == 0) {
    pcs[0].start = pcs[0].end = buf;
    pcs[0].nlines = 0;
    k = 1;
  }
  return k;
}

int rp_read_events(const char *path, const rp_read_opts *o, rp_events **out, rp_read_report *rep,
                   rp_err *err) {
  rp_read_report dummy;
  rp_err ebuf;
  if (!rep) rep = &dummy;
  if (!err) err = &ebuf;
  memset(rep, 0, sizeof *rep);
  *out = NULL;
  double t0 = rp_now();
  int rc = check_opts(path, o, err);
  if (rc) return rc;
  rp_tz *tz = NULL;
  if (o->time_context && !(tz = rp_tz_load(o->time_zone, err))) return err->status;
  rctx c;
  memset(&c, 0, sizeof c);
  c.path = strcmp(path, "-") == 0 ? "<stdin>" : path;
  c.o = o;
  c.drop_unknown = o->unknown == RP_UNKNOWN_DROP;
  int threads = rp_threads(o->threads);
  if (threads > MAX_PIECES) threads = MAX_PIECES;
  /* pieces of 128 KiB; with a tiny test block, about 4 per thread */
  c.piece_bytes = PIECE_BYTES;
  if (o->block && o->block / 4 / (size_t)threads < PIECE_BYTES)
    c.piece_bytes = o->block / 4 / (size_t)threads + 1;
  rbuf b = {0};
  pool pl = {0};
  dircache dcu = {0}, dci = {0};
  piece pcs[MAX_PIECES];
  memset(pcs, 0, sizeof pcs);
  rp_events *ev = NULL;
  if ((rc = rbuf_open(&b, path, o->block ? o->block : DEFAULT_BLOCK, err)) ||
      (rc = refill(&b, 0, err)))
    goto done;
  /* a UTF-8 byte order mark may need more than a tiny first block */
  while (b.len < 3 && !b.eof) {
    if ((b.len == b.cap && (rc = grow(&b, err))) || (rc = refill(&b, 0, err))) goto done;
  }
  size_t at = bom_len(&b);
  int64_t lineno = 0; /* newlines consumed before the buffer start */
  for (;;) {
    /* blank lines before the first record */
    while (at < b.len &&
           (b.buf[at] == '\n' || (b.buf[at] == '\r' && at + 1 < b.len && b.buf[at + 1] == '\n')))
      lineno += b.buf[at++] == '\n';
    int more = at == b.len || (b.buf[at] == '\r' && at + 1 == b.len);
    if (!more || b.eof) break;
    if ((rc = refill(&b, at, err))) goto done;
    at = 0;
  }
  if (at >= b.len || (at + 1 == b.len && b.buf[at] == '\r')) {
    rc = rp_errf(err, RP_EPARSE, "%s: empty file", c.path);
    goto done;
  }
  size_t hdr_end = 0;
  int64_t hdr_lines = 0;
  c.line1 = lineno + 1;
  c.max_line = (size_t)o->max_line_bytes;
  if ((rc = setup(&c, o, &b, at, &hdr_end, &hdr_lines, err))) goto done;
  snprintf(rep->sep, sizeof rep->sep, "%s", c.sep);
  rep->fields = c.nf;
  lineno += hdr_lines;
  if (o->nweights &&
      (rc = rp_typeweights_init(&c.tw, o->nweights, o->weight_names, o->weight_values, err)))
    goto done;
  if ((rc = make_result(&c, o, &ev, err))) goto done;
  c.dc[0] = &dcu;
  c.dc[1] = ev->items == ev->users ? &dcu : &dci;
  /* ids of maps read onto: cached when the array grows to cover them */
  for (int w = 0; w < 2; w++) {
    rp_idmap *m = w ? ev->items : ev->users;
    uint32_t v;
    for (int32_t i = 0; i < m->n && !c.dc[w]->cap; i++) {
      size_t len;
      const char *id = rp_idmap_id(m, i, &len);
      if (canon(id, len, &v) && (rc = dir_set(c.dc[w], v, i, m, err))) goto done;
    }
  }
  threads = pool_start(&pl, &c, pcs, threads);
  size_t used = hdr_end;
  int first = 1;
  int estimated = 0;
  for (;;) {
    if (used && (rc = refill(&b, used, err))) goto done;
    used = 0;
    if (b.len == 0) break;
    int quotes = memchr(b.buf, '"', b.len) != NULL;
    size_t region = b.len;
    int np = 1;
    /* one direct piece: the first block (nearly every id is new: looking
     * them up in parallel would only defer the work), quoted text, one
     * thread; else parallel pieces */
    if (first || quotes || threads == 1) {
      pcs[0].start = b.buf;
      pcs[0].end = b.buf + b.len;
      pcs[0].sink = ev;
      pcs[0].direct = 1;
    } else {
      if (!b.eof) {
        const char *nlp = memrchr(b.buf, '\n', b.len);
        if (!nlp) {
          if ((rc = grow_line(&b, 0, o->max_line_bytes, lineno + 1, err)) ||
              (rc = refill(&b, 0, err)))
            goto done;
          continue;
        }
        region = (size_t)(nlp - b.buf) + 1;
      }
      np = cut(b.buf, region, c.piece_bytes, pcs);
      int64_t total = 0;
      for (int k = 0; k < np; k++) total += pcs[k].nlines;
      if (ev->n + total > ev->cap) {
        int64_t want =
            ev->n + total > ev->cap + ev->cap / 4 ? ev->n + total : ev->cap + ev->cap / 4;
        if ((rc = rp_events_reserve(ev, want, err))) goto done;
        prefault(ev);
      }
      int64_t base = ev->n;
      for (int k = 0; k < np; k++) {
        set_view(&pcs[k], ev, base);
        base += pcs[k].nlines;
      }
    }
    for (int k = 0; k < np; k++) {
      piece *pc = &pcs[k];
      pc->nrefs = 0;
      pc->slen = 0;
      pc->final = b.eof && pc->end == b.buf + b.len;
      pc->lines = pc->datalines = pc->skipped = pc->dropped_unknown = pc->dropped_type = 0;
      pc->status = RP_OK;
      pc->nfirst = 0;
      pc->tornline = 0;
    }
    pool_run(&pl, np);
    /* merge in file order */
    for (int k = 0; k < np; k++) {
      piece *pc = &pcs[k];
      rep->lines += pc->datalines;
      rep->skipped += pc->skipped;
      rep->dropped_unknown += pc->dropped_unknown;
      if (pc->dropped_type && !rep->dropped_type)
        snprintf(rep->dropped_example, sizeof rep->dropped_example, "%s", pc->dropped_example);
      rep->dropped_type += pc->dropped_type;
      if (pc->tornline) rep->torn_line = lineno + pc->tornline;
      for (int q = 0; q < pc->nfirst && rep->nfirst < RP_READ_FIRST_ERRORS; q++)
        snprintf(rep->first[rep->nfirst++], sizeof rep->first[0], "%s:%lld: %s", c.path,
                 (long long)(lineno + pc->firstline[q]), pc->first[q]);
      if (pc->status) {
        if (pc->status == RP_EPARSE)
          rc = rp_errf(err, RP_EPARSE, "%s:%lld: %s", c.path, (long long)(lineno + pc->errline),
                       pc->err.msg);
        else
          rc = rp_errf(err, pc->status, "%s:%lld: %s", c.path, (long long)(lineno + pc->errline),
                       pc->err.msg);
        goto done;
      }
      if (!pc->direct && (rc = merge_piece(&c, ev, pc, lineno + 1, err))) goto done;
      lineno += pc->lines;
    }
    first = 0;
    used = (size_t)(pcs[np - 1].stop - b.buf);
    if (used == 0 && !b.eof) {
      /* one record longer than the buffer */
      if ((rc = grow_line(&b, 0, o->max_line_bytes, lineno + 1, err)) || (rc = refill(&b, 0, err)))
        goto done;
      continue;
    }
    if (used == 0 && b.eof) break;
    if (!estimated && !b.eof && b.size > 0 && b.pos > 0 && ev->n > 0) {
      /* reserve the whole result from the first block's rows per byte; the
       * text size of a gzip file from its compression ratio so far (pos
       * counts compressed bytes read, a little ahead of the text) */
      estimated = 1;
      double text = (double)b.total - (double)(b.len - used);
      double total = rp_reader_is_gzip(b.rd) ? (double)b.size * (double)b.total / (double)b.pos
                                             : (double)b.size;
      double est = (double)ev->n * total / text;
      int64_t want = (int64_t)(est * 1.02) + 1024;
      if (want > ev->cap && (rc = rp_events_reserve(ev, want, err))) goto done;
      prefault(ev);
    }
    if (b.size) rp_progress("reading", (double)b.pos, (double)b.size, 0);
    if (b.eof && used == b.len) break;
  }
  if ((rc = rp_events_shrink(ev, err))) goto done;
  if (o->time_context && (rc = rp_events_time_context(ev, o->time_context, tz, err))) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    rc = rp_errf(err, rc, "%s: %s", c.path, msg);
  }
done:
  rp_tz_free(tz);
  if (b.size) rp_progress("reading", (double)b.size, (double)b.size, 1);
  rep->bytes = b.total;
  rep->rows = ev && !rc ? ev->n : 0;
  rep->seconds = rp_now() - t0;
  pool_stop(&pl);
  rp_free(dcu.idx);
  rp_free(dci.idx);
  for (int k = 0; k < MAX_PIECES; k++) piece_free(&pcs[k]);
  rp_free(c.role);
  rp_typeweights_free(&c.tw);
  rbuf_close(&b);
  if (rc) {
    rp_events_free(ev);
    return rc;
  }
  if (rep->torn_line)
    rp_log(RP_LOG_WARN,
           "%s:%lld: the last line has no line end and does not parse: ignored as torn (a write "
           "cut short, such as a log whose writer crashed)",
           c.path, (long long)rep->torn_line);
  if (rep->skipped)
    rp_log(RP_LOG_WARN, "%s: skipped %lld malformed line%s (first: %s)", c.path,
           (long long)rep->skipped, rep->skipped == 1 ? "" : "s", rep->first[0]);
  rp_typeweights_warn(c.path, rep->dropped_type, rep->dropped_example);
  if (rep->dropped_unknown)
    rp_log(RP_LOG_WARN, "%s: dropped %lld row%s with a user or item not in the given maps", c.path,
           (long long)rep->dropped_unknown, rep->dropped_unknown == 1 ? "" : "s");
  rp_log(RP_LOG_DEBUG, "%s: %lld events, %d users, %d items in %.3f s", c.path, (long long)ev->n,
         ev->users->n, ev->items->n, rep->seconds);
  *out = ev;
  return RP_OK;
}
