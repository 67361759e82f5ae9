/*
 * rio.c -- readers (plain, gzip, stdin) and atomic writers; see rio.h.
 */
#include "rio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define INBUF (1 << 18)

struct rp_reader {
  int fd;
  int is_stdin;
  int gz;     /* 1 = gzip stream */
  int gz_end; /* inflate reported Z_STREAM_END for the current member */
  int eof;    /* raw input exhausted */
  z_stream zs;
  unsigned char *in; /* raw input buffer */
  size_t in_cap, in_len, in_off;
  uint64_t pos, size;
  char *path;
};

int rp_has_suffix(const char *path, const char *suffix) {
  size_t a = strlen(path), b = strlen(suffix);
  return a >= b && strcmp(path + a - b, suffix) == 0;
}

static ssize_t raw_fill(rp_reader *r, rp_err *err) {
  /* moves unread bytes to the front and reads more */
  if (r->in_off > 0) {
    memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
    r->in_len -= r->in_off;
    r->in_off = 0;
  }
  if (r->eof) return 0;
  ssize_t k;
  do {
    k = read(r->fd, r->in + r->in_len, r->in_cap - r->in_len);
  } while (k < 0 && errno == EINTR);
  if (k < 0) return rp_errf(err, RP_EIO, "%s: read error: %s", r->path, strerror(errno)), -1;
  if (k == 0) r->eof = 1;
  r->in_len += (size_t)k;
  r->pos += (uint64_t)k;
  return k;
}

rp_reader *rp_reader_open(const char *path, rp_err *err) {
  rp_reader *r = rp_calloc(1, sizeof *r);
  if (!r) return rp_enomem(err, "reader"), NULL;
  r->fd = -1;
  r->path = rp_strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
  if (!r->path) {
    rp_enomem(err, "reader buffer");
    rp_reader_close(r);
    return NULL;
  }
  if (strcmp(path, "-") == 0) {
    r->fd = 0;
    r->is_stdin = 1;
  } else {
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
      rp_errf(err, RP_EIO, "cannot open '%s': %s", path, strerror(errno));
      rp_reader_close(r);
      return NULL;
    }
    struct stat st;
    if (fstat(r->fd, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        rp_errf(err, RP_EIO, "cannot read '%s': is a directory", path);
        rp_reader_close(r);
        return NULL;
      }
      if (S_ISREG(st.st_mode)) r->size = (uint64_t)st.st_size;
    }
  }
  /* a small file gets a small buffer: opening a 150-byte file costs bytes */
  r->in_cap = r->size > 0 && r->size < INBUF ? (r->size < 64 ? 64 : (size_t)r->size) : INBUF;
  if (!(r->in = rp_malloc(r->in_cap))) {
    rp_enomem(err, "reader buffer");
    rp_reader_close(r);
    return NULL;
  }
  /* sniff the gzip magic */
  while (r->in_len < 2 && !r->eof)
    if (raw_fill(r, err) < 0) {
      rp_reader_close(r);
      return NULL;
    }
  if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
    r->gz = 1;
    memset(&r->zs, 0, sizeof r->zs);
    if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {
      rp_enomem(err, "zlib");
      r->gz = 0;
      rp_reader_close(r);
      return NULL;
    }
  }
  return r;
}

static ssize_t gz_read(rp_reader *r, unsigned char *buf, size_t n, rp_err *err) {
  size_t out = 0;
  while (out < n) {
    if (r->gz_end) {
      /* a member ended: another member may follow (concatenated gzip) */
      if (r->in_off == r->in_len && raw_fill(r, err) < 0) return -1;
      if (r->in_off == r->in_len) return (ssize_t)out; /* clean end */
      if (inflateReset(&r->zs) != Z_OK)
        return rp_errf(err, RP_EFORMAT, "%s: corrupt gzip data", r->path), -1;
      r->gz_end = 0;
    }
    if (r->in_off == r->in_len) {
      if (raw_fill(r, err) < 0) return -1;
      if (r->in_len == 0) {
        rp_errf(err, RP_EFORMAT, "%s: truncated gzip file (unexpected end of compressed data)",
                r->path);
        return -1;
      }
    }
    r->zs.next_in = r->in + r->in_off;
    r->zs.avail_in = (uInt)(r->in_len - r->in_off);
    r->zs.next_out = buf + out;
    r->zs.avail_out = (uInt)(n - out > (1u << 30) ? (1u << 30) : n - out);
    uInt before_out = r->zs.avail_out;
    int rc = inflate(&r->zs, Z_NO_FLUSH);
    r->in_off = r->in_len - r->zs.avail_in;
    out += before_out - r->zs.avail_out;
    if (rc == Z_STREAM_END) {
      r->gz_end = 1;
    } else if (rc == Z_BUF_ERROR) {
      if (r->eof && r->in_off == r->in_len) {
        rp_errf(err, RP_EFORMAT, "%s: truncated gzip file (unexpected end of compressed data)",
                r->path);
        return -1;
      }
    } else if (rc != Z_OK) {
      rp_errf(err, RP_EFORMAT, "%s: corrupt gzip data (%s)", r->path,
              r->zs.msg ? r->zs.msg : "inflate failed");
      return -1;
    }
    if (out > 0 && rc == Z_OK && r->zs.avail_out > 0 && r->in_off == r->in_len && !r->eof)
      return (ssize_t)out; /* deliver what we have; more input on the next call */
  }
  return (ssize_t)out;
}

ssize_t rp_reader_read(rp_reader *r, void *buf, size_t n, rp_err *err) {
  if (n == 0) return 0;
  if (r->gz) return gz_read(r, buf, n, err);
  if (r->in_off == r->in_len) {
    r->in_off = r->in_len = 0;
    if (r->eof) return 0;
    /* large reads bypass the buffer */
    if (n >= INBUF) {
      ssize_t k;
      do {
        k = read(r->fd, buf, n);
      } while (k < 0 && errno == EINTR);
      if (k < 0) return rp_errf(err, RP_EIO, "%s: read error: %s", r->path, strerror(errno)), -1;
      if (k == 0) r->eof = 1;
      r->pos += (uint64_t)k;
      return k;
    }
    if (raw_fill(r, err) < 0) return -1;
    if (r->in_len == 0) return 0;
  }
  size_t k = r->in_len - r->in_off;
  if (k > n) k = n;
  memcpy(buf, r->in + r->in_off, k);
  r->in_off += k;
  return (ssize_t)k;
}

uint64_t rp_reader_left(const rp_reader *r, int *exact) {
  int ex = 0;
  uint64_t left = UINT64_MAX;
  if (r->size > 0 && !r->is_stdin) {
    uint64_t used = r->pos - (uint64_t)(r->in_len - r->in_off); /* consumed from the file */
    uint64_t raw = r->size > used ? r->size - used : 0;
    if (!r->gz) {
      left = raw, ex = 1;
    } else {
      /* deflate gives at most 1032 bytes a compressed byte (a 258-byte
       * match in 2 bits); slack for what inflate holds inside (its bit
       * buffer, a match under way) */
      left = 1032 * (raw + 64) + 1024;
    }
  }
  if (exact) *exact = ex;
  return left;
}

int rp_reader_read_grow(rp_reader *r, void **buf, size_t *cap, size_t at, size_t n, rp_err *err) {
  int exact;
  uint64_t left = rp_reader_left(r, &exact);
  if (exact && left < n)
    return rp_errf(err, RP_EFORMAT, "%s: truncated file (expected %zu more bytes, %llu left)",
                   r->path, n, (unsigned long long)left);
  size_t end = at + n, got = at; /* (*buf)[0..got) holds data */
  while (got < end) {
    if (*cap < end && (exact || got >= *cap)) {
      size_t want = exact ? end : got < ((size_t)32 << 10) ? (size_t)64 << 10 : 2 * got;
      if (want > end || want <= *cap) want = end;
      void *x = rp_realloc(*buf, want);
      if (!x) return rp_enomem(err, "read buffer");
      *buf = x;
      *cap = want;
    }
    size_t upto = *cap < end ? *cap : end;
    int rc = rp_reader_readall(r, (char *)*buf + got, upto - got, err);
    if (rc) return rc;
    got = upto;
  }
  return RP_OK;
}

int rp_reader_readall(rp_reader *r, void *buf, size_t n, rp_err *err) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = rp_reader_read(r, (char *)buf + got, n - got, err);
    if (k < 0) return err ? err->status : RP_EIO;
    if (k == 0)
      return rp_errf(err, RP_EFORMAT, "%s: truncated file (expected %zu more bytes)", r->path,
                     n - got);
    got += (size_t)k;
  }
  return RP_OK;
}

uint64_t rp_reader_pos(const rp_reader *r) { return r->pos; }
uint64_t rp_reader_size(const rp_reader *r) { return r->size; }
int rp_reader_is_gzip(const rp_reader *r) { return r->gz; }
const char *rp_reader_path(const rp_reader *r) { return r->path; }

void rp_reader_close(rp_reader *r) {
  if (!r) return;
  if (r->gz) inflateEnd(&r->zs);
  if (r->fd > 0 && !r->is_stdin) close(r->fd);
  rp_free(r->in);
  rp_free(r->path);
  rp_free(r);
}

/* ---- writers ------------------------------------------------------------------ */
struct rp_writer {
  int fd;
  int is_stdout;
  int gz;
  z_stream zs;
  unsigned char *buf; /* plain: pending bytes; gz: deflate output */
  size_t len;
  char *path, *tmp;
};

#define OUTBUF (1 << 18)

static int write_fd(rp_writer *w, const void *p, size_t n, rp_err *err) {
  const char *c = p;
  while (n > 0) {
    ssize_t k = write(w->fd, c, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return rp_errf(err, RP_EIO, "%s: write error: %s", w->path, strerror(errno));
    }
    c += k;
    n -= (size_t)k;
  }
  return RP_OK;
}

/* Removes the temporary files "<path>.tmp.<pid>" that saves of path by
 * processes now gone left behind (killed in the middle of a save, they
 * never reached their rename or unlink): a process that is gone is one
 * kill(pid, 0) answers ESRCH for.  A live process's temporary file, ours,
 * and anything not of that exact form are left alone; failures only mean
 * a file stays.  (A pid reused by an unrelated live process keeps its stale
 * file until that process ends: the safe side.) */
static void remove_stale_temporaries(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t blen = strlen(base);
  if (!blen) return;
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - path) < sizeof dir)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    return;
  DIR *d = opendir(dir);
  if (!d) return;
  long self = (long)getpid();
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0) continue;
    const char *digits = n + blen + 5;
    char *end;
    errno = 0;
    long pid = strtol(digits, &end, 10);
    if (*digits < '1' || *digits > '9' || *end || errno || pid <= 0 || pid == self) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
    struct stat st;
    if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    if (unlinkat(dirfd(d), n, 0) == 0)
      rp_log(RP_LOG_INFO, "removed '%s/%s', left by a save of process %ld, which is gone", dir, n,
             pid);
  }
  closedir(d);
}

rp_writer *rp_writer_open(const char *path, rp_err *err) {
  rp_writer *w = rp_calloc(1, sizeof *w);
  if (!w) return rp_enomem(err, "writer"), NULL;
  w->fd = -1;
  w->path = rp_strdup(path);
  w->buf = rp_malloc(OUTBUF);
  if (!w->path || !w->buf) goto nomem;
  if (strcmp(path, "-") == 0) {
    w->fd = 1;
    w->is_stdout = 1;
  } else {
    size_t n = strlen(path) + 32;
    w->tmp = rp_malloc(n);
    if (!w->tmp) goto nomem;
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    remove_stale_temporaries(path);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
      rp_errf(err, RP_EIO, "cannot write '%s': %s", path, strerror(errno));
      rp_free(w->tmp);
      w->tmp = NULL;
      rp_writer_abort(w);
      return NULL;
    }
    w->gz = rp_has_suffix(path, ".gz");
  }
  if (w->gz) {
    memset(&w->zs, 0, sizeof w->zs);
    if (deflateInit2(&w->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      w->gz = 0;
      goto nomem;
    }
  }
  return w;
nomem:
  rp_enomem(err, "writer");
  rp_writer_abort(w);
  return NULL;
}

static int gz_pump(rp_writer *w, int flush, rp_err *err) {
  int rc;
  do {
    w->zs.next_out = w->buf;
    w->zs.avail_out = OUTBUF;
    rc = deflate(&w->zs, flush);
    if (rc == Z_STREAM_ERROR) return rp_errf(err, RP_EIO, "%s: compression failed", w->path);
    size_t have = OUTBUF - w->zs.avail_out;
    if (have && write_fd(w, w->buf, have, err)) return RP_EIO;
  } while (w->zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return RP_OK;
}

int rp_writer_gzip_level(rp_writer *w, int level, rp_err *err) {
  if (level < 1 || level > 9)
    return rp_errf(err, RP_EINVAL, "%s: gzip level must be 1..9, got %d", w->path, level);
  if (w->gz && deflateParams(&w->zs, level, Z_DEFAULT_STRATEGY) != Z_OK)
    return rp_errf(err, RP_EINVAL, "%s: cannot set the gzip level", w->path);
  return RP_OK;
}

int rp_writer_write(rp_writer *w, const void *p, size_t n, rp_err *err) {
  if (w->gz) {
    const unsigned char *c = p;
    while (n > 0) {
      uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
      w->zs.next_in = (unsigned char *)(uintptr_t)c;
      w->zs.avail_in = chunk;
      if (gz_pump(w, Z_NO_FLUSH, err)) return RP_EIO;
      c += chunk;
      n -= chunk;
    }
    return RP_OK;
  }
  if (w->len + n > OUTBUF) {
    if (write_fd(w, w->buf, w->len, err)) return RP_EIO;
    w->len = 0;
    if (n >= OUTBUF) return write_fd(w, p, n, err);
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
  return RP_OK;
}

int rp_writer_printf(rp_writer *w, rp_err *err, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k < 0) return rp_errf(err, RP_EINVAL, "%s: format error", w->path);
  if ((size_t)k < sizeof tmp) return rp_writer_write(w, tmp, (size_t)k, err);
  char *big = rp_malloc((size_t)k + 1);
  if (!big) return rp_enomem(err, "writer line");
  va_start(ap, fmt);
  vsnprintf(big, (size_t)k + 1, fmt, ap);
  va_end(ap);
  int rc = rp_writer_write(w, big, (size_t)k, err);
  rp_free(big);
  return rc;
}

int rp_writer_commit(rp_writer *w, rp_err *err) {
  int rc = RP_OK;
  if (w->gz) {
    w->zs.next_in = NULL;
    w->zs.avail_in = 0;
    rc = gz_pump(w, Z_FINISH, err);
  } else if (w->len) {
    rc = write_fd(w, w->buf, w->len, err);
    w->len = 0;
  }
  if (!rc && !w->is_stdout) {
    if (fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS)
      rc = rp_errf(err, RP_EIO, "%s: write error: %s", w->path, strerror(errno));
    if (close(w->fd) != 0 && !rc)
      rc = rp_errf(err, RP_EIO, "%s: write error: %s", w->path, strerror(errno));
    w->fd = -1;
    if (!rc && rename(w->tmp, w->path) != 0)
      rc = rp_errf(err, RP_EIO, "cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(errno));
    if (!rc) {
      rp_free(w->tmp);
      w->tmp = NULL;
    }
  }
  rp_writer_abort(w); /* frees; removes the temporary file if still there */
  return rc;
}

void rp_writer_abort(rp_writer *w) {
  if (!w) return;
  if (w->gz) deflateEnd(&w->zs);
  if (w->fd > 1 && !w->is_stdout) close(w->fd);
  if (w->tmp) unlink(w->tmp);
  rp_free(w->tmp);
  rp_free(w->path);
  rp_free(w->buf);
  rp_free(w);
}
