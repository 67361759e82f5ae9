/*
 * reader_buf.c -- the event reader's block buffer with gzip read-ahead on a
 * feeder thread, and rp_io_lines_* (small text files line by line).
 */
#include "reader_impl.h"

/* ---- buffer and read-ahead ---------------------------------------------------------
 * A gzip file is inflated by a feeder thread into a ring of chunks while
 * the pieces of the previous block are parsed (inflating costs about as much
 * as parsing); the parser copies chunks into its block buffer behind the
 * unparsed tail of the previous block.  Plain files are read straight into
 * the block buffer (a read is a copy from the page cache: a feeder would only
 * add a second copy), and so are standard input and pipes (a blocked read
 * could not be abandoned on a parse error). */
#define MIN_CHUNK ((size_t)64 << 10)

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

int rp_io_buf_open(rbuf *b, const char *path, size_t cap, rp_err *err) {
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

void rp_io_buf_close(rbuf *b) {
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
int rp_io_buf_refill(rbuf *b, size_t used, rp_err *err) {
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

int rp_io_buf_grow(rbuf *b, rp_err *err) { return grow_to(b, b->cap * 2, err); }

/* The full buffer ends inside a record that starts at b->buf + off (line
 * `line`): fails when the record already has more than max bytes, else
 * grows the buffer for more of it, to at most what a record of max bytes
 * and its newline need. */
int rp_io_buf_grow_line(rbuf *b, size_t off, int64_t max, int64_t line, rp_err *err) {
  if ((uint64_t)(b->len - off) > (uint64_t)max)
    return rp_io_too_long(err, rp_reader_path(b->rd), line, max);
  size_t lim = off + (size_t)max + 1, nc = b->cap * 2;
  if (nc > lim) nc = lim;
  if (nc <= b->cap) nc = b->cap + 1;
  return grow_to(b, nc, err);
}

/* The length of a UTF-8 byte order mark at the start of the buffer (0 or 3). */
size_t rp_io_buf_bom(const rbuf *b) {
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
  if (rp_io_buf_open(&l->b, path, LINES_BLOCK, err)) {
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
  rp_io_buf_close(&l->b);
  rp_free(l);
}

int rp_io_lines_next(rp_io_lines *l, char **line, size_t *n, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  rbuf *b = &l->b;
  for (;;) {
    if (!l->started && (b->len >= 3 || b->eof)) l->off = rp_io_buf_bom(b), l->started = 1;
    char *s = b->buf + l->off, *nl = memchr(s, '\n', b->len - l->off);
    if (l->started && (nl || (b->eof && l->off < b->len))) {
      size_t len = nl ? (size_t)(nl - s) : b->len - l->off;
      if ((uint64_t)len > (uint64_t)l->max_line)
        return rp_io_too_long(err, rp_reader_path(b->rd), l->lineno + 1, l->max_line), -1;
      l->lineno++;
      l->off += len + (nl != NULL);
      if (len && s[len - 1] == '\r') len--;
      *line = s;
      *n = len;
      return 1;
    }
    if (b->eof) return 0;
    if (l->off == 0 && b->len == b->cap &&
        rp_io_buf_grow_line(b, 0, l->max_line, l->lineno + 1, err))
      return -1;
    size_t used = l->off;
    l->off = 0;
    if (rp_io_buf_refill(b, used, err)) return -1;
  }
}
