/*
 * reader_impl.h -- what the parts of the event log reader share (private
 * to modules/io): the per-read context, the pieces a block is cut into, the
 * block buffer and the parser threads.
 *
 *   reader.c         rp_io_read_events: options, the block loop, the result
 *   reader_parse.c   one piece: bit-mask scanner, numeric id cache, rows,
 *                    the general RFC 4180 record parser
 *   reader_header.c  separator detection, the header, column resolution,
 *                    option checks
 *   reader_buf.c     the block buffer, gzip read-ahead, rp_io_lines_*
 *   reader_pieces.c  cutting a block into pieces, the parser threads,
 *                    merging parallel pieces in file order
 */
#ifndef RP_READER_IMPL_H
#define RP_READER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "reader.h"
#include "rio.h"

enum { R_USER = 0, R_ITEM, R_VALUE, R_TIME, R_EVENT, R_CTX0 };
#define NROLES (R_CTX0 + RP_MAX_CONTEXT)
#define MAX_PIECES 64
#define PAD 128

/* ---- per-read context (read-only while pieces are parsed) ----------------- */
typedef struct rctx {
  const char *path;
  const rp_io_read_opts *o;
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

typedef struct dircache {
  int32_t *idx; /* idx[v]: index of the id spelled v, or -1 */
  uint32_t cap;
} dircache;

/* Is s[0..n) an id in canonical decimal form (*v its value)? */
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

/* ---- reader_parse.c ---------------------------------------------------------------- */
/* Records idx for the numeric id v of map m in d (growing d within bounds);
 * RP_ENOMEM on failure. */
int rp_io_idcache_set(dircache *d, uint32_t v, int32_t idx, const rp_idmap *m, rp_err *err);
/* The message of a record longer than max_line_bytes (err may be NULL). */
int rp_io_too_long(rp_err *err, const char *path, int64_t line, int64_t max);
/* Writes the quoted field s[0..n) with "" undone to w; returns its length. */
size_t rp_io_unquote(char *w, const char *s, size_t n);
typedef void (*field_fn)(void *ud, int j, const char *s, size_t n, int doubled);
/* The general record parser (quotes, any separator): see reader_parse.c. */
int rp_io_parse_record(const rctx *c, piece *pc, const char *p, const char *end, int final,
                       const char **f, size_t *fl, int *nfields, const char **next, int64_t *nl,
                       char *msg, size_t msgsize, field_fn on_field, void *ud);
/* Parses the records of piece pc (pc->start..pc->end) into pc->sink. */
void rp_io_parse_piece(const rctx *c, piece *pc);

/* ---- reader_header.c --------------------------------------------------------------- */
/* Checks the options of a read of path. */
int rp_io_read_check(const char *path, const rp_io_read_opts *o, rp_err *err);

/* ---- reader_buf.c ------------------------------------------------------------------ */
#define NCHUNK 2

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

/* Opens path for block reads into a buffer of cap bytes. */
int rp_io_buf_open(rbuf *b, const char *path, size_t cap, rp_err *err);
void rp_io_buf_close(rbuf *b);
/* Drops the first `used` bytes of the buffer and fills it up again. */
int rp_io_buf_refill(rbuf *b, size_t used, rp_err *err);
/* Doubles the buffer. */
int rp_io_buf_grow(rbuf *b, rp_err *err);
/* Grows the buffer for a line starting at off, or the max_line_bytes error. */
int rp_io_buf_grow_line(rbuf *b, size_t off, int64_t max, int64_t line, rp_err *err);
/* Length of a UTF-8 byte order mark at the start of the buffer (0 or 3). */
size_t rp_io_buf_bom(const rbuf *b);

/* Sets c up from the first record of the buffer at `at`: see reader_header.c. */
int rp_io_read_setup(rctx *c, const rp_io_read_opts *o, rbuf *b, size_t at, size_t *hdr_end,
                     int64_t *hdr_lines, rp_err *err);

/* ---- reader_pieces.c --------------------------------------------------------------- */
typedef struct pool {
  pthread_t th[MAX_PIECES];
  int nworkers, gen, pending, quit, np;
  _Atomic int next;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  const rctx *c;
  piece *pcs;
} pool;

/* Interns the ids a parallel piece noted, in file order, and moves its rows
 * down to row ev->n. */
int rp_io_merge_piece(const rctx *c, rp_events *ev, piece *pc, int64_t line0, rp_err *err);
/* Points piece pc's view at the result's columns from row base on. */
void rp_io_piece_view(piece *pc, const rp_events *ev, int64_t base);
void rp_io_piece_free(piece *pc);
/* Starts up to n - 1 parser threads; returns how many threads parse. */
int rp_io_pool_start(pool *p, const rctx *c, piece *pcs, int n);
/* Parses pieces 0..np-1. */
void rp_io_pool_run(pool *p, int np);
void rp_io_pool_stop(pool *p);
/* Cuts [0, n) of buf into pieces of about `each` bytes at line ends. */
int rp_io_cut(const char *buf, size_t n, size_t each, piece *pcs);

#endif
