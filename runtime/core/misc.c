/*
 * misc.c -- error formatting, the logging and progress callbacks, the
 * seeded generator, CRC32 and clocks: small things every core uses.
 */
#include "rp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int rp_errf(rp_err *err, int status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

int rp_enomem(rp_err *err, const char *what) {
  return rp_errf(err, RP_ENOMEM, "not enough memory (%s)", what);
}

/* ---- logging ------------------------------------------------------------ */
static rp_log_fn log_fn;
static void *log_ud;
static int log_level = RP_LOG_INFO;
static rp_progress_fn prog_fn;
static void *prog_ud;

void rp_log_set(rp_log_fn fn, void *ud, int level) {
  log_fn = fn;
  log_ud = ud;
  log_level = level;
}
int rp_log_level(void) { return log_level; }
void rp_log_set_level(int level) { log_level = level; }

void rp_log(int level, const char *fmt, ...) {
  if (!log_fn || level > log_level) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  log_fn(level, buf, log_ud);
}

void rp_progress_set(rp_progress_fn fn, void *ud) {
  prog_fn = fn;
  prog_ud = ud;
}
static void progress_count(char *b, size_t n, double v) {
  const char *unit = "";
  if (v >= 1e9)
    v /= 1e9, unit = "G";
  else if (v >= 1e6)
    v /= 1e6, unit = "M";
  else if (v >= 1e4)
    v /= 1e3, unit = "k";
  if (*unit)
    snprintf(b, n, "%.1f%s", v, unit);
  else if (v < 10 && v != floor(v)) /* a slow rate: 0.0333/s */
    snprintf(b, n, "%.3g", v);
  else
    snprintf(b, n, "%.0f", v);
}

static void progress_time(char *b, size_t n, double s) {
  if (!(s >= 0) || s >= 360000) /* unknown, or past 99:59:59 */
    snprintf(b, n, "--");
  else if (s < 60)
    snprintf(b, n, "%.1fs", s);
  else if (s < 3600)
    snprintf(b, n, "%d:%02d", (int)s / 60, (int)s % 60);
  else
    snprintf(b, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
}

void rp_progress_line(char *buf, size_t size, const char *what, double done, double total,
                      double elapsed, int finish) {
  char d[16], t[16], r[16], e[16], eta[16];
  double rate = elapsed > 0 ? done / elapsed : 0;
  progress_count(d, sizeof d, done);
  progress_count(t, sizeof t, total);
  progress_count(r, sizeof r, rate);
  progress_time(e, sizeof e, elapsed);
  if (finish) {
    if (total > 0)
      snprintf(buf, size, "%s: %s/%s in %s (%s/s)", what, d, t, e, elapsed > 0 ? r : "--");
    else
      snprintf(buf, size, "%s: %s in %s (%s/s)", what, d, e, elapsed > 0 ? r : "--");
    return;
  }
  if (total <= 0) {
    snprintf(buf, size, "%s %s  %s/s  %s", what, d, elapsed > 0 ? r : "--", e);
    return;
  }
  double f = done / total;
  f = f > 1 ? 1 : f < 0 ? 0 : f;
  char bar[21];
  int k = (int)(f * 20);
  memset(bar, '#', (size_t)k);
  memset(bar + k, '.', (size_t)(20 - k));
  bar[20] = 0;
  progress_time(eta, sizeof eta, rate > 0 ? (total - done) / rate : -1);
  snprintf(buf, size, "%s [%s] %5.1f%%  %s/%s  %s/s  %s  ETA %s", what, bar, 100 * f, d, t,
           elapsed > 0 ? r : "--", e, eta);
}

void rp_progress(const char *what, double done, double total, int finish) {
  if (prog_fn) prog_fn(what, done, total, finish, prog_ud);
}

/* ---- generator -------------------------------------------------------------
 * xoshiro256** (Blackman & Vigna), state filled by SplitMix64 from
 * (seed, stream) so independent rows get independent, reproducible streams. */
uint64_t rp_hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void rp_rng_seed(rp_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = rp_hash64(seed ^ rp_hash64(stream + 0x632be59bd9b4e019ULL));
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ULL;
    r->s[i] = rp_hash64(x);
  }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rp_rng_next(rp_rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

double rp_rng_uniform(rp_rng *r) { return (double)(rp_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t rp_rng_below(rp_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  uint64_t lim = -n % n; /* 2^64 mod n */
  for (;;) {
    uint64_t x = rp_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    if ((uint64_t)m >= lim) return (uint64_t)(m >> 64);
  }
}

double rp_rng_normal(rp_rng *r) {
  /* Box-Muller; one value per call keeps the stream position simple. */
  double u1 = rp_rng_uniform(r), u2 = rp_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- CRC32 (IEEE, reflected, slicing by 8) ---------------------------------- */
/* The table is built once, by whichever thread comes first (pthread_once:
 * the others wait for it, and see it complete). */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_tab[0][i] = c;
  }
  for (int t = 1; t < 8; t++)
    for (int i = 0; i < 256; i++)
      crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t rp_crc32(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&crc_once, crc_init);
  const unsigned char *p = buf;
  crc = ~crc;
  while (len >= 8) {
    uint32_t a =
        crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    crc = crc_tab[7][a & 0xff] ^ crc_tab[6][(a >> 8) & 0xff] ^ crc_tab[5][(a >> 16) & 0xff] ^
          crc_tab[4][a >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^
          crc_tab[0][p[7]];
    p += 8;
    len -= 8;
  }
  while (len--) crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* ---- clocks and cores --------------------------------------------------------- */
double rp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int rp_num_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int rp_threads(int req) {
  int n = req > 0 ? req : rp_num_cores();
  return n < RP_MAX_THREADS ? n : RP_MAX_THREADS;
}

int rp_cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

int rp_cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

double rp_gini(const int64_t *counts, int64_t n, int64_t *tmp) {
  if (n <= 0) return (double)NAN;
  memcpy(tmp, counts, (size_t)n * sizeof *tmp);
  qsort(tmp, (size_t)n, sizeof *tmp, rp_cmp_i64);
  double num = 0, tot = 0;
  for (int64_t i = 0; i < n; i++) {
    num += (2.0 * (double)(i + 1) - (double)n - 1) * (double)tmp[i];
    tot += (double)tmp[i];
  }
  return tot > 0 ? num / ((double)n * tot) : 0.0;
}
