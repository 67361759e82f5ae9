/*
 * fuzz.h -- what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness defines LLVMFuzzerTestOneInput(data, size).  The same file is
 * linked two ways: with clang's -fsanitize=fuzzer (build-fuzz/, `make fuzz`)
 * and with tests/fuzz/replay.c (any compiler, `make test`), which runs it on
 * every file of the checked-in corpora and regression inputs.
 *
 * Conventions:
 *  - The first byte(s) of an input choose the options (fz_byte); the rest
 *    is the file.  A harness documents its option bytes at the top.
 *  - The file is handed to the core as a real path: an anonymous memory
 *    file (memfd), named /proc/self/fd/N, so no disk and no temporary names.
 *  - After each call the harness checks that nothing leaked (the cores'
 *    byte counter is back where it was) and that the peak of the cores'
 *    allocations stayed within FZ_FIXED + FZ_PER_BYTE x the input's real
 *    size (decompressed, for gzip): a bigger allocation is a bug, reported
 *    as a crash (abort) with the figures.
 *  - Every check that fails calls fz_fail, which prints and aborts, so
 *    libFuzzer (and the replay driver) see a crash.
 */
#ifndef RP_FUZZ_H
#define RP_FUZZ_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "rp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fixed allowance (buffers of fixed size, caches) and bytes per input byte */
#ifndef FZ_FIXED
#define FZ_FIXED ((size_t)24 << 20)
#endif
#ifndef FZ_PER_BYTE
#define FZ_PER_BYTE 64
#endif

__attribute__((noreturn, format(printf, 1, 2))) static inline void fz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* ---- option bytes ---------------------------------------------------------- */
typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

/* The next byte of the input (0 once it is used up). */
static inline unsigned fz_byte(fz_in *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

/* ---- the input as a file ---------------------------------------------------------- */
typedef struct fz_file {
  int fd;
  char path[64];
} fz_file;

/* Writes data[0..n) to a new memory file; path names it. */
static inline void fz_file_open(fz_file *f, const void *data, size_t n) {
  f->fd = memfd_create("fuzz-input", MFD_CLOEXEC);
  if (f->fd < 0) fz_fail("memfd_create failed");
  const char *p = data;
  while (n) {
    ssize_t k = write(f->fd, p, n);
    if (k <= 0) fz_fail("write to memfd failed");
    p += k;
    n -= (size_t)k;
  }
  snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

static inline void fz_file_close(fz_file *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
}

/* gzip of data[0..n) at level (1..9) into a new malloc'd buffer; *out_n is
 * its size. */
static inline unsigned char *fz_gzip(const void *data, size_t n, int level, size_t *out_n) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fz_fail("deflateInit2 failed");
  size_t cap = deflateBound(&zs, (uLong)n) + 32;
  unsigned char *out = malloc(cap);
  if (!out) fz_fail("out of memory in the harness");
  zs.next_in = (Bytef *)(uintptr_t)data;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) fz_fail("deflate failed");
  *out_n = cap - zs.avail_out;
  deflateEnd(&zs);
  return out;
}

/* The decompressed size of data[0..n) when it is gzip (concatenated members
 * included; a corrupt stream counts what inflated before the damage), else
 * n.  This is the "real size" a reader may hold in memory. */
static inline size_t fz_real_size(const void *data, size_t n) {
  const unsigned char *d = data;
  if (n < 2 || d[0] != 0x1f || d[1] != 0x8b) return n;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK) fz_fail("inflateInit2 failed");
  unsigned char buf[1 << 14];
  size_t total = 0;
  zs.next_in = (Bytef *)(uintptr_t)d;
  zs.avail_in = (uInt)n;
  for (;;) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    total += sizeof buf - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (!zs.avail_in || inflateReset(&zs) != Z_OK) break;
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  return total > n ? total : n;
}

/* A scratch directory for round trips through real files (writers rename
 * into place), removed at exit. */
static char fz_dir_path[64];
static void fz_dir_remove(void) { rmdir(fz_dir_path); }
static inline const char *fz_dir(void) {
  if (!fz_dir_path[0]) {
    snprintf(fz_dir_path, sizeof fz_dir_path, "/tmp/recpipe-fuzz.XXXXXX");
    if (!mkdtemp(fz_dir_path)) fz_fail("mkdtemp failed");
    atexit(fz_dir_remove);
  }
  return fz_dir_path;
}

/* ---- memory ------------------------------------------------------------------------- */
typedef struct fz_mem {
  size_t base;
} fz_mem;

static inline void fz_mem_begin(fz_mem *m) {
  m->base = rp_mem_current();
  rp_mem_reset_peak();
}

/* Fails on a leak, or when the peak exceeded what real_size bytes of input
 * justify. */
static inline void fz_mem_end(const fz_mem *m, const char *what, size_t real_size) {
  size_t now = rp_mem_current(), peak = rp_mem_peak() - m->base;
  if (now != m->base)
    fz_fail("%s leaked %zu bytes (allocated through rp_malloc and never freed)", what,
            now - m->base);
  size_t allow = FZ_FIXED + FZ_PER_BYTE * real_size;
  if (peak > allow)
    fz_fail(
        "%s allocated %zu bytes at its peak for %zu bytes of input (allowed %zu): memory "
        "must stay bounded by the input's real size",
        what, peak, real_size, allow);
}

/* With FUZZ_VERBOSE set in the environment, prints what a call returned
 * (to check what seeds reach: `FUZZ_VERBOSE=1 build/fuzz/replay_read DIR`). */
static inline void fz_note(const char *what, int status, const char *msg) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "%s: %s\n", what, status ? msg : "ok");
}

/* Quiet cores: no log lines, no progress bars. */
static inline void fz_quiet(void) {
  rp_log_set(NULL, NULL, RP_LOG_ERROR);
  rp_progress_set(NULL, NULL);
}

#endif
