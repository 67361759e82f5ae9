/*
 * textsplit.c -- the little delimited-text reading the attributes reader
 * needs: lines from a plain/gzip/stdin reader, fields split at a separator
 * with RFC 4180 quotes.  Kept in this one file so it can give way to an
 * exported line splitter of modules/io when there is one.
 */
#include <string.h>

#include "hybrid.h"
#include "rio.h"

struct rp_hyb_lines {
  rp_reader *rd;
  char *buf;
  size_t cap, len, off;
  int eof;
};

rp_hyb_lines *rp_hyb_lines_open(const char *path, rp_err *err) {
  rp_hyb_lines *lr = rp_calloc(1, sizeof *lr);
  if (!lr) return rp_enomem(err, "line reader"), NULL;
  lr->cap = (size_t)1 << 16;
  lr->buf = rp_malloc(lr->cap);
  if (!lr->buf) {
    rp_free(lr);
    return rp_enomem(err, "line reader"), NULL;
  }
  lr->rd = rp_reader_open(path, err);
  if (!lr->rd) {
    rp_free(lr->buf);
    rp_free(lr);
    return NULL;
  }
  return lr;
}

void rp_hyb_lines_close(rp_hyb_lines *lr) {
  if (!lr) return;
  rp_reader_close(lr->rd);
  rp_free(lr->buf);
  rp_free(lr);
}

static void trim_cr(char *line, size_t *n) {
  if (*n && line[*n - 1] == '\r') (*n)--;
}

int rp_hyb_lines_next(rp_hyb_lines *lr, char **line, size_t *n, rp_err *err) {
  for (;;) {
    char *nl = memchr(lr->buf + lr->off, '\n', lr->len - lr->off);
    if (nl) {
      *line = lr->buf + lr->off;
      *n = (size_t)(nl - *line);
      lr->off = (size_t)(nl - lr->buf) + 1;
      trim_cr(*line, n);
      return 1;
    }
    if (lr->eof) {
      if (lr->off == lr->len) return 0;
      *line = lr->buf + lr->off;
      *n = lr->len - lr->off;
      lr->off = lr->len;
      trim_cr(*line, n);
      return 1;
    }
    memmove(lr->buf, lr->buf + lr->off, lr->len - lr->off);
    lr->len -= lr->off;
    lr->off = 0;
    if (lr->cap - lr->len < 4096) {
      char *nb = rp_realloc(lr->buf, lr->cap * 2);
      if (!nb) return rp_enomem(err, "line buffer"), -1;
      lr->buf = nb;
      lr->cap *= 2;
    }
    ssize_t k = rp_reader_read(lr->rd, lr->buf + lr->len, lr->cap - lr->len, err);
    if (k < 0) return -1;
    if (k == 0) lr->eof = 1;
    lr->len += (size_t)k;
  }
}

static char *find_sep(char *s, size_t n, const char *sep, size_t seplen) {
  if (seplen == 1) return memchr(s, sep[0], n);
  return memmem(s, n, sep, seplen);
}

int rp_hyb_split(char *s, size_t n, const char *sep, char **f, size_t *fl, int maxf) {
  size_t seplen = strlen(sep), i = 0;
  int k = 0;
  for (;;) {
    if (k == maxf) return maxf + 1;
    if (i < n && s[i] == '"') {
      /* quoted: "" is a quote; unquote in place */
      size_t w = i, r = i + 1;
      int closed = 0;
      f[k] = s + i;
      while (r < n) {
        if (s[r] == '"') {
          if (r + 1 < n && s[r + 1] == '"') {
            s[w++] = '"';
            r += 2;
            continue;
          }
          r++;
          closed = 1;
          break;
        }
        s[w++] = s[r++];
      }
      if (!closed) return -1;
      fl[k++] = w - i;
      if (r >= n) return k;
      if (n - r < seplen || memcmp(s + r, sep, seplen) != 0) return -1;
      i = r + seplen; /* a trailing separator gives one more, empty, field */
      continue;
    }
    char *p = find_sep(s + i, n - i, sep, seplen);
    f[k] = s + i;
    if (!p) {
      fl[k++] = n - i;
      return k;
    }
    fl[k++] = (size_t)(p - (s + i));
    i = (size_t)(p - s) + seplen;
  }
}
