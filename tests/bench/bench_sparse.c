/*
 * bench_sparse.c -- timings of the CSR core on a real-sized log.
 *
 *   build/bench/bench_sparse LOG.csv [runs]
 *
 * LOG.csv is `user_id,item_id,value,timestamp` with a header (synth.py's
 * format).  It is parsed once (not timed) onto id maps, then each operation
 * runs `runs` times (default 5) and the median, min and max are printed,
 * with the bytes the operation allocated at its peak (rp_mem_peak).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "events.h"

typedef struct tri {
  int64_t n, cap;
  int32_t *r, *c;
  float *v;
  int64_t *t;
} tri;

static void die(const char *msg) {
  fprintf(stderr, "bench_sparse: %s\n", msg);
  exit(1);
}

static int32_t intern(rp_idmap *m, const char *s, size_t len) {
  int32_t k;
  rp_err err;
  if (rp_idmap_intern(m, s, len, &k, &err)) die(err.msg);
  return k;
}

static void load(const char *path, tri *x, rp_idmap *um, rp_idmap *im) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open the log");
  char line[512];
  if (!fgets(line, sizeof line, f)) die("empty log");
  memset(x, 0, sizeof *x);
  while (fgets(line, sizeof line, f)) {
    if (x->n == x->cap) {
      x->cap = x->cap ? 2 * x->cap : 1 << 20;
      x->r = realloc(x->r, (size_t)x->cap * 4);
      x->c = realloc(x->c, (size_t)x->cap * 4);
      x->v = realloc(x->v, (size_t)x->cap * 4);
      x->t = realloc(x->t, (size_t)x->cap * 8);
      if (!x->r || !x->c || !x->v || !x->t) die("out of memory");
    }
    char *a = line, *b = strchr(a, ','), *c = b ? strchr(b + 1, ',') : NULL;
    char *d = c ? strchr(c + 1, ',') : NULL;
    if (!d) die("malformed line");
    x->r[x->n] = intern(um, a, (size_t)(b - a));
    x->c[x->n] = intern(im, b + 1, (size_t)(c - b - 1));
    x->v[x->n] = strtof(c + 1, NULL);
    x->t[x->n] = strtoll(d + 1, NULL, 10);
    x->n++;
  }
  fclose(f);
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define NOT_MEASURED ((size_t)-1)
static void report(const char *what, double *t, int runs, size_t peak) {
  qsort(t, (size_t)runs, sizeof *t, cmpd);
  if (peak == NOT_MEASURED)
    printf("%-34s median %7.1f ms  (min %7.1f, max %7.1f)  peak not measured\n", what,
           1e3 * t[runs / 2], 1e3 * t[0], 1e3 * t[runs - 1]);
  else
    printf("%-34s median %7.1f ms  (min %7.1f, max %7.1f)  peak +%6.1f MB\n", what,
           1e3 * t[runs / 2], 1e3 * t[0], 1e3 * t[runs - 1], (double)peak / 1e6);
}

/* Times fn over runs; fn returns a matrix that is freed after timing. */
#define TIME(what, expr)                                            \
  do {                                                              \
    double ts_[64];                                                 \
    size_t pk_ = 0;                                                 \
    for (int k_ = 0; k_ < runs; k_++) {                             \
      size_t base_ = rp_mem_current();                              \
      rp_mem_reset_peak();                                          \
      double t0_ = rp_now();                                        \
      rp_csr *res_ = (expr);                                        \
      ts_[k_] = rp_now() - t0_;                                     \
      if (!res_) die(err.msg);                                      \
      if (rp_mem_peak() - base_ > pk_) pk_ = rp_mem_peak() - base_; \
      rp_csr_free(res_);                                            \
    }                                                               \
    report(what, ts_, runs, pk_);                                   \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) die("usage: bench_sparse LOG.csv [runs]");
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (runs < 1 || runs > 64) die("runs must be 1..64");
  rp_err err;
  rp_idmap *um = rp_idmap_new(&err), *im = rp_idmap_new(&err);
  tri x;
  double t0 = rp_now();
  load(argv[1], &x, um, im);
  printf("log: %lld events, %d users, %d items (parsed in %.1f s, not timed below)\n",
         (long long)x.n, um->n, im->n, rp_now() - t0);
  int32_t nr = um->n, nc = im->n;
  rp_csr *m = rp_csr_build(nr, nc, x.r, x.c, x.v, NULL, x.n, RP_AGG_SUM, um, im, &err);
  if (!m) die(err.msg);
  printf("matrix: %d x %d, %lld non-zeros, %.1f MB\n", m->nrows, m->ncols, (long long)m->nnz,
         (double)rp_csr_bytes(m) / 1e6);

  TIME("build (sum)", rp_csr_build(nr, nc, x.r, x.c, x.v, NULL, x.n, RP_AGG_SUM, um, im, &err));
  TIME("build (last, by time)",
       rp_csr_build(nr, nc, x.r, x.c, x.v, x.t, x.n, RP_AGG_LAST, um, im, &err));
  rp_kcore_report rep;
  TIME("kcore{min_user=3, min_item=5}", rp_csr_kcore(m, 3, 5, &rep, &err));
  printf("  kcore: %d rounds, %d users and %d items removed, %lld entries left\n", rep.rounds,
         rep.rows_removed, rep.cols_removed, (long long)rep.nnz);
  {
    double ts[64];
    for (int k = 0; k < runs; k++) {
      double a = rp_now();
      rp_csr *b = rp_csr_build(nr, nc, x.r, x.c, x.v, NULL, x.n, RP_AGG_SUM, um, im, &err);
      rp_csr *c = rp_csr_kcore(b, 3, 5, NULL, &err);
      ts[k] = rp_now() - a;
      rp_csr_free(b);
      rp_csr_free(c);
    }
    report("build + kcore (the issue's target)", ts, runs, NOT_MEASURED);
  }
  TIME("transpose, 1 thread", rp_csr_transpose(m, 1, &err));
  TIME("transpose, all cores", rp_csr_transpose(m, 0, &err));
  TIME("bm25", rp_csr_bm25(m, 1.2, 0.75, &err));
  TIME("log1p", rp_csr_log1p(m, 1.0, 1.0, &err));
  const char *out = "tests/bench/out/bench_sparse.rpm";
  {
    double ts[64];
    for (int k = 0; k < runs; k++) {
      double a = rp_now();
      if (rp_csr_save(m, out, &err)) die(err.msg);
      ts[k] = rp_now() - a;
    }
    report("save (plain, fsync)", ts, runs, NOT_MEASURED);
  }
  TIME("load (plain)", rp_csr_load(out, &err));
  remove(out);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
  free(x.r);
  free(x.c);
  free(x.v);
  free(x.t);
  return 0;
}
