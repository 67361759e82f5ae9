/*
 * rp.h -- what every recpipe core file shares: status codes, the error
 * buffer, the allocation choke point, logging and the seeded generator.
 *
 * Contract of a core function: it returns RP_OK (0) or a status, and on
 * failure fills `err` with a short lower-case message that names the file,
 * line, argument or value at fault.  It never prints, never aborts and frees
 * what it allocated before returning an error.  No core file includes lua.h.
 */
#ifndef RP_H
#define RP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define RP_VERSION "0.1.0"

enum {
  RP_OK = 0,
  RP_ENOMEM, /* allocation failed */
  RP_EIO,    /* open/read/write/rename failed */
  RP_EPARSE, /* malformed input text */
  RP_EINVAL, /* bad argument */
  RP_EFORMAT /* bad binary file: foreign, truncated, corrupt, future version */
};

typedef struct rp_err {
  int status;
  char msg[1024];
} rp_err;

/* Formats a message into err (when err is not NULL) and returns status. */
int rp_errf(rp_err *err, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Shorthand for the allocation failure message. */
int rp_enomem(rp_err *err, const char *what);

/* ---- allocation (alloc.c) ------------------------------------------------
 * Every allocation of the cores goes through these.  They return NULL on
 * failure (never abort); byte counts are kept (current and peak).  All
 * blocks are 64-byte aligned, so Dense storage and SIMD loads need no
 * special allocator.  rp_free and rp_realloc accept NULL. */
void *rp_malloc(size_t n);
void *rp_calloc(size_t count, size_t size);
void *rp_realloc(void *p, size_t n);
void rp_free(void *p);
char *rp_strdup(const char *s);
/* Overflow-checked count*size; returns 0 on overflow (and sets *ok = 0). */
size_t rp_mulsize(size_t a, size_t b, int *ok);
size_t rp_mem_current(void);
size_t rp_mem_peak(void);
void rp_mem_reset_peak(void);
/* Fault injection: the n-th allocation from now fails (n >= 1); 0 disarms.
 * Returns how many allocations happened since the last arm (for fault
 * loops: run with n = 1, 2, ... until the scenario completes). */
void rp_mem_fail_after(long n);
long rp_mem_count_since_arm(void);
int rp_mem_failed(void); /* did an injected failure fire since arming? */

/* ---- logging (log.c) -------------------------------------------------------
 * Cores never print: they report through one callback the host installs.
 * Levels: 0 error, 1 warn, 2 info, 3 debug. */
enum { RP_LOG_ERROR = 0, RP_LOG_WARN, RP_LOG_INFO, RP_LOG_DEBUG };
typedef void (*rp_log_fn)(int level, const char *msg, void *ud);
void rp_log_set(rp_log_fn fn, void *ud, int level);
int rp_log_level(void);
void rp_log_set_level(int level);
void rp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress of a long operation (bytes read, iterations); the host draws it
 * only on a terminal.  `done` <= `total`; total 0 means unknown.  A call with
 * done == total (or finish = 1) ends the bar. */
typedef void (*rp_progress_fn)(const char *what, double done, double total, int finish, void *ud);
void rp_progress_set(rp_progress_fn fn, void *ud);
void rp_progress(const char *what, double done, double total, int finish);
/* The text of a progress line for `what` after `elapsed` seconds (since its
 * first report): while running, a bar (total known), the percentage,
 * done/total, the rate per second, the elapsed time and the ETA,
 *   "reading [#########...........]  45.0%  4.5M/10.0M  1.2M/s  3.7s  ETA 4.6s"
 * ("what 450  12.3/s  3.7s" when total is 0: unknown); when finished, the
 * one-line summary "reading: 10.0M/10.0M in 8.3s (1.2M/s)".  Counts past
 * 9,999 in k, M, G (one decimal); times as 12.3s, m:ss or h:mm:ss. */
void rp_progress_line(char *buf, size_t size, const char *what, double done, double total,
                      double elapsed, int finish);

/* ---- deterministic randomness (rng.c) --------------------------------------
 * One generator of our own (SplitMix64 seeding a xoshiro256**), so results
 * never depend on the platform's rand() or on the number of threads: code
 * that works per row seeds a generator from (seed, row). */
typedef struct rp_rng {
  uint64_t s[4];
} rp_rng;
void rp_rng_seed(rp_rng *r, uint64_t seed, uint64_t stream);
uint64_t rp_rng_next(rp_rng *r);
double rp_rng_uniform(rp_rng *r);             /* [0, 1) */
uint64_t rp_rng_below(rp_rng *r, uint64_t n); /* [0, n), unbiased */
double rp_rng_normal(rp_rng *r);              /* standard normal */
uint64_t rp_hash64(uint64_t x);               /* SplitMix64 finaliser */

/* ---- misc ------------------------------------------------------------------ */
uint32_t rp_crc32(uint32_t crc, const void *buf, size_t len);
double rp_now(void);    /* monotonic seconds */
int rp_num_cores(void); /* online CPUs, at least 1 */
/* Threads for a parallel region: req <= 0 means all cores, else req; never
 * more than RP_MAX_THREADS (a count read from a file or passed by a caller
 * must not size an OpenMP team or per-thread buffers unchecked). */
#define RP_MAX_THREADS 256
int rp_threads(int req);
/* qsort/bsearch comparators of int32_t and int64_t, ascending */
int rp_cmp_i32(const void *a, const void *b);
int rp_cmp_i64(const void *a, const void *b);
/* Gini index of counts[0..n): sum_i (2i - n - 1) c_(i) / (n sum c) over the
 * counts in ascending order (i from 1): 0 when all are equal (or all 0),
 * (n - 1)/n when one holds everything; NAN when n is 0.  tmp: room for n
 * (the sorted copy). */
double rp_gini(const int64_t *counts, int64_t n, int64_t *tmp);

#define RP_ALWAYS(x) (x)
#define RP_NEVER(x) (x)
#ifndef NDEBUG
#include <assert.h>
#undef RP_ALWAYS
#undef RP_NEVER
#define RP_ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define RP_NEVER(x) ((x) ? (assert(!(#x)), 1) : 0)
#endif

#endif
