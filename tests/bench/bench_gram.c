/*
 * bench_gram.c -- G = Y^T Y (rp_als_gram, float sums of 64 rows added in double, in a fixed order:
 * the same bits on every CPU) against OpenBLAS's ssyrk on the same Y, in
 * the same process, 1 and 2 threads.
 *
 *   build/bench/bench_gram [rows] [factors] [runs]
 *
 * Default 248,324 rows x 64: the users plus items of the 10M synthetic
 * log, i.e. the Gram work of one ALS iteration.  Work: rows * f * (f+1) / 2
 * multiply-adds.  Prints the median and min over `runs` (default 7) and
 * the OpenBLAS core it chose (OPENBLAS_CORETYPE=SkylakeX etc. to compare).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "als_impl.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, int threads, double *t, int runs, double work) {
  qsort(t, (size_t)runs, sizeof *t, cmp);
  printf("%-28s threads %d  median %.4f s  min %.4f s  %.2f G mul-add/s\n", what, threads,
         t[runs / 2], t[0], work / t[runs / 2] * 1e-9);
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 248324;
  int32_t f = argc > 2 ? atoi(argv[2]) : 64;
  int runs = argc > 3 ? atoi(argv[3]) : 7;
  if (n < 1 || f < 1 || runs < 1 || runs > 100) {
    fprintf(stderr, "usage: bench_gram [rows >= 1] [factors >= 1] [runs 1..100]\n");
    return 2;
  }
  float *Y = malloc(sizeof(float) * (size_t)n * (size_t)f),
        *G = malloc(sizeof(float) * (size_t)f * (size_t)f),
        *H = malloc(sizeof(float) * (size_t)f * (size_t)f);
  double t[100], work = (double)n * f * (f + 1) / 2;
  if (!Y || !G || !H) return 1;
  rp_rng g;
  rp_rng_seed(&g, 7, 7);
  for (int64_t e = 0; e < n * f; e++) Y[e] = (float)rp_rng_normal(&g) * 0.1f;
  printf("Y: %lld x %d, %.3g multiply-adds; OpenBLAS core %s\n", (long long)n, f, work,
         openblas_get_corename());
  for (int threads = 1; threads <= 2; threads++) {
    for (int r = 0; r < runs; r++) {
      double t0 = now();
      rp_als_gram(Y, n, f, threads, G, NULL);
      t[r] = now() - t0;
    }
    report("rp_als_gram (fixed order)", threads, t, runs, work);
    openblas_set_num_threads(threads);
    for (int r = 0; r < runs; r++) {
      double t0 = now();
      cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, f, (int)n, 1.0f, Y, f, 0.0f, H, f);
      t[r] = now() - t0;
    }
    report("OpenBLAS ssyrk (float)", threads, t, runs, work);
  }
  double worst = 0;
  for (int j = 0; j < f; j++)
    for (int i = 0; i <= j; i++) {
      double d = (double)G[j * f + i] - (double)H[j * f + i], s = (double)G[j * f + i];
      d = d < 0 ? -d : d;
      if (s != 0 && d / (s < 0 ? -s : s) > worst) worst = d / (s < 0 ? -s : s);
    }
  printf("largest relative difference ssyrk vs rp_als_gram: %.3g\n", worst);
  free(Y), free(G), free(H);
  return 0;
}
