/*
 * logs.c -- the impression and feedback-event logs: CSV files that
 * rp.io.read_events reads, group-committed and rotated daily.
 *
 * Workers append whole lines to a pending buffer under a short mutex (a
 * memcpy; never while scoring).  One committer thread wakes every
 * fsync_ms, takes the pending buffer, writes it with one write() and
 * fdatasync()s: a crash loses at most the lines of the last window, and
 * since every write ends on a line boundary the file holds whole lines --
 * except when the process dies inside a write, which can leave a torn last
 * line.  Opening a log cuts such a tail back to the last newline (and says
 * so), so appending never glues new lines onto a torn one; readers meeting
 * a torn last line report it and keep the rest (rp.io.read_events).
 *
 * Rotation: with rotate = daily the lines go to PREFIX-YYYY-MM-DD.csv of
 * the UTC day at the commit (a line written a few milliseconds after
 * midnight may land in the next day's file; every file starts with the
 * header).  A backlog past log_backlog bytes (a stalled disk) refuses new
 * lines instead of growing without bound: impressions are dropped and
 * counted, events are answered 503.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

struct rp_slog {
  char dir[1024], prefix[64], header[256], day[16], path[1200];
  int rotate, fd;
  pthread_mutex_t mu;
  char *buf, *wbuf; /* pending (workers), being written (committer) */
  size_t n, cap, wcap;
  uint64_t plines; /* lines in buf (under mu) */
  int64_t limit;
  pthread_mutex_t wmu; /* one commit at a time */
  _Atomic uint64_t lines, committed, bytes, dropped, commits, write_errors, torn;
  _Atomic int64_t backlog;
  _Atomic double last_commit;
};

static void utc_day(char *buf, size_t size) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, size, "%Y-%m-%d", &tm);
}

static int mkdirs(const char *dir, rp_err *err) {
  char p[1024];
  snprintf(p, sizeof p, "%s", dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
      return rp_errf(err, RP_EIO, "cannot create log directory '%s': %s", p, strerror(errno));
    *s = '/';
  }
  if (mkdir(p, 0755) != 0 && errno != EEXIST)
    return rp_errf(err, RP_EIO, "cannot create log directory '%s': %s", p, strerror(errno));
  return RP_OK;
}

/* Cuts a torn last line (no newline at the end) back to the last newline. */
static int repair_tail(rp_slog *l, int fd, rp_err *err) {
  struct stat st;
  if (fstat(fd, &st) != 0) return rp_errf(err, RP_EIO, "%s: %s", l->path, strerror(errno));
  off_t size = st.st_size, end = size;
  if (size == 0) return RP_OK;
  char last;
  if (pread(fd, &last, 1, size - 1) != 1) return rp_errf(err, RP_EIO, "%s: cannot read", l->path);
  if (last == '\n') return RP_OK;
  char blk[65536];
  off_t keep = 0;
  while (end > 0) {
    off_t at = end > (off_t)sizeof blk ? end - (off_t)sizeof blk : 0;
    ssize_t got = pread(fd, blk, (size_t)(end - at), at);
    if (got <= 0) return rp_errf(err, RP_EIO, "%s: cannot read", l->path);
    for (ssize_t i = got - 1; i >= 0; i--)
      if (blk[i] == '\n') {
        keep = at + i + 1;
        goto found;
      }
    end = at;
  }
found:
  if (ftruncate(fd, keep) != 0)
    return rp_errf(err, RP_EIO, "%s: cannot cut the torn last line: %s", l->path, strerror(errno));
  l->torn++;
  rp_log(RP_LOG_WARN, "serve: %s ended in a torn line (a crash while writing): cut %lld bytes",
         l->path, (long long)(size - keep));
  return RP_OK;
}

static int open_file(rp_slog *l, rp_err *err) {
  if (l->rotate == RP_ROTATE_DAILY) {
    utc_day(l->day, sizeof l->day);
    snprintf(l->path, sizeof l->path, "%s/%s-%s.csv", l->dir, l->prefix, l->day);
  } else {
    snprintf(l->path, sizeof l->path, "%s/%s.csv", l->dir, l->prefix);
  }
  int fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return rp_errf(err, RP_EIO, "cannot open log '%s': %s", l->path, strerror(errno));
  if (repair_tail(l, fd, err)) {
    close(fd);
    return RP_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size == 0) {
    size_t hl = strlen(l->header);
    if (write(fd, l->header, hl) != (ssize_t)hl) {
      close(fd);
      return rp_errf(err, RP_EIO, "cannot write log '%s': %s", l->path, strerror(errno));
    }
  }
  l->fd = fd;
  return RP_OK;
}

int rp_slog_open(rp_slog **out, const char *dir, const char *prefix, const char *header,
                 const rp_serve_settings *s, rp_err *err) {
  *out = NULL;
  if (mkdirs(dir, err)) return RP_EIO;
  rp_slog *l = rp_calloc(1, sizeof *l);
  if (!l) return rp_enomem(err, "log");
  snprintf(l->dir, sizeof l->dir, "%s", dir);
  snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
  snprintf(l->header, sizeof l->header, "%s", header);
  l->rotate = s->rotate;
  l->limit = s->log_backlog;
  l->fd = -1;
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->wmu, NULL);
  if (open_file(l, err)) {
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->wmu);
    rp_free(l);
    return RP_EIO;
  }
  *out = l;
  return RP_OK;
}

int rp_slog_append(rp_slog *l, const char *text, size_t len) {
  uint64_t nl = 0;
  for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
  pthread_mutex_lock(&l->mu);
  if ((int64_t)(l->n + len) > l->limit) {
    pthread_mutex_unlock(&l->mu);
    l->dropped++;
    return -1;
  }
  if (l->n + len > l->cap) {
    size_t cap = l->cap ? l->cap : 65536;
    while (cap < l->n + len) cap *= 2;
    char *b = rp_realloc(l->buf, cap);
    if (!b) {
      pthread_mutex_unlock(&l->mu);
      l->dropped++;
      return -1;
    }
    l->buf = b;
    l->cap = cap;
  }
  memcpy(l->buf + l->n, text, len);
  l->n += len;
  l->backlog = (int64_t)l->n;
  l->plines += nl;
  l->lines += nl;
  pthread_mutex_unlock(&l->mu);
  return 0;
}

int rp_slog_commit(rp_slog *l) {
  pthread_mutex_lock(&l->wmu);
  pthread_mutex_lock(&l->mu);
  char *b = l->buf;
  size_t n = l->n, cap = l->cap;
  uint64_t nl = l->plines;
  l->buf = l->wbuf;
  l->cap = l->wcap;
  l->n = 0;
  l->plines = 0;
  l->backlog = 0;
  pthread_mutex_unlock(&l->mu);
  l->wbuf = b;
  l->wcap = cap;
  int rc = 0;
  double t0 = rp_now();
  if (l->rotate == RP_ROTATE_DAILY && n) {
    char day[16];
    utc_day(day, sizeof day);
    if (strcmp(day, l->day) != 0) {
      rp_err err;
      int old = l->fd;
      if (old >= 0) fdatasync(old);
      if (open_file(l, &err) == RP_OK) {
        if (old >= 0) close(old);
        rp_log(RP_LOG_INFO, "serve: log rotated to %s", l->path);
      } else {
        l->fd = old;
        rp_log(RP_LOG_ERROR, "serve: cannot rotate log: %s", err.msg);
      }
    }
  }
  size_t off = 0;
  while (off < n && l->fd >= 0) {
    ssize_t w = write(l->fd, b + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      l->write_errors++;
      rp_log(RP_LOG_ERROR, "serve: writing %s failed (%s): %zu bytes lost", l->path,
             w < 0 ? strerror(errno) : "short write", n - off);
      rc = -1;
      break;
    }
    off += (size_t)w;
  }
  if (n && l->fd >= 0) {
    if (fdatasync(l->fd) != 0) {
      l->write_errors++;
      rc = -1;
    } else if (off == n) {
      l->committed += nl; /* on disk: a crash from now on keeps them */
    }
    l->bytes += off;
    l->commits++;
    l->last_commit = rp_now() - t0;
  }
  pthread_mutex_unlock(&l->wmu);
  return rc;
}

void rp_slog_close(rp_slog *l) {
  if (!l) return;
  rp_slog_commit(l);
  if (l->fd >= 0) {
    fsync(l->fd);
    close(l->fd);
  }
  pthread_mutex_destroy(&l->mu);
  pthread_mutex_destroy(&l->wmu);
  rp_free(l->buf);
  rp_free(l->wbuf);
  rp_free(l);
}

void rp_slog_stats_get(rp_slog *l, rp_slog_stats *st) {
  memset(st, 0, sizeof *st);
  if (!l) return;
  st->lines = l->lines;
  st->committed = l->committed;
  st->bytes = l->bytes;
  st->dropped = l->dropped;
  st->commits = l->commits;
  st->write_errors = l->write_errors;
  st->torn_repaired = l->torn;
  st->backlog = l->backlog;
  st->last_commit_seconds = l->last_commit;
}

/* ---- the committer thread ---------------------------------------------------------- */
static struct {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, stop, ms, n;
  rp_slog *logs[4];
} committer = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *commit_loop(void *ud) {
  (void)ud;
  pthread_mutex_lock(&committer.mu);
  while (!committer.stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)committer.ms * 1000000L;
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&committer.cv, &committer.mu, &ts);
    if (committer.stop) break;
    pthread_mutex_unlock(&committer.mu);
    for (int i = 0; i < committer.n; i++)
      if (committer.logs[i]) rp_slog_commit(committer.logs[i]);
    pthread_mutex_lock(&committer.mu);
  }
  pthread_mutex_unlock(&committer.mu);
  return NULL;
}

int rp_slog_start(rp_slog **logs, int n, int fsync_ms, rp_err *err) {
  committer.n = n < 4 ? n : 4;
  for (int i = 0; i < committer.n; i++) committer.logs[i] = logs[i];
  committer.ms = fsync_ms;
  committer.stop = 0;
  if (pthread_create(&committer.th, NULL, commit_loop, NULL) != 0)
    return rp_errf(err, RP_EIO, "cannot start the log committer thread");
  committer.running = 1;
  return RP_OK;
}

void rp_slog_stop(void) {
  if (!committer.running) return;
  pthread_mutex_lock(&committer.mu);
  committer.stop = 1;
  pthread_cond_signal(&committer.cv);
  pthread_mutex_unlock(&committer.mu);
  pthread_join(committer.th, NULL);
  committer.running = 0;
}
