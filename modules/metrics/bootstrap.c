/*
 * bootstrap.c -- uncertainty and distributions of an evaluation: percentile
 * bootstrap intervals, paired comparisons of two results, histograms of a
 * per-user metric and the popularity profile of the recommendations.
 *
 * Resample b draws its users from rp_rng seeded with (seed, b), so the
 * intervals are the same whatever the number of threads.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics.h"

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Quantile q of v[0..n) sorted, linear interpolation (numpy's default). */
static double quantile(const double *v, int32_t n, double q) {
  if (n <= 0) return RP_NAN;
  double h = (n - 1) * q;
  int32_t lo = (int32_t)floor(h);
  if (lo >= n - 1) return v[n - 1];
  return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

/* Sorts the non-RP_NAN values of v[0..n) to the front; returns their count. */
static int32_t sort_defined(double *v, int32_t n) {
  int32_t k = 0;
  for (int32_t i = 0; i < n; i++)
    if (!isnan(v[i])) v[k++] = v[i];
  qsort(v, (size_t)k, sizeof *v, cmp_dbl);
  return k;
}

static int has_metric(const rp_metrics_result *r, int m) {
  if (m < RP_M_NPER || m == RP_M_PRECISION_POOLED) return 1;
  return (m == RP_M_RMSE || m == RP_M_MAE) && r->se != NULL;
}

int rp_metrics_bootstrap(const rp_metrics_result *r, int32_t B, uint64_t seed, double level,
                         int threads, double lo[RP_M_COUNT], double hi[RP_M_COUNT], rp_err *err) {
  for (int m = 0; m < RP_M_COUNT; m++) lo[m] = hi[m] = RP_NAN;
  if (B < 1) return rp_errf(err, RP_EINVAL, "bootstrap must be a positive integer, got %d", B);
  if (!(level > 0 && level < 1))
    return rp_errf(err, RP_EINVAL, "level must be in (0, 1), got %g", level);
  if (r->n == 0) return RP_OK;
  int nt = rp_threads(threads);
  double *stat = rp_malloc((size_t)B * RP_M_COUNT * sizeof *stat);
  int32_t *idx = rp_malloc((size_t)nt * (size_t)r->n * sizeof *idx);
  double *col = rp_malloc((size_t)B * sizeof *col);
  if (!stat || !idx || !col) {
    rp_free(stat), rp_free(idx), rp_free(col);
    return rp_enomem(err, "bootstrap");
  }
#pragma omp parallel num_threads(nt)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    int32_t *my = idx + (size_t)tid * (size_t)r->n;
#pragma omp for schedule(static)
    for (int32_t b = 0; b < B; b++) {
      rp_rng g;
      rp_rng_seed(&g, seed, (uint64_t)b);
      for (int32_t j = 0; j < r->n; j++) my[j] = (int32_t)rp_rng_below(&g, (uint64_t)r->n);
      for (int m = 0; m < RP_M_COUNT; m++)
        stat[(size_t)b * RP_M_COUNT + m] =
            has_metric(r, m) ? rp_metrics_stat(r, m, my, r->n) : RP_NAN;
    }
  }
  for (int m = 0; m < RP_M_COUNT; m++) {
    if (!has_metric(r, m)) continue;
    for (int32_t b = 0; b < B; b++) col[b] = stat[(size_t)b * RP_M_COUNT + m];
    int32_t k = sort_defined(col, B);
    lo[m] = quantile(col, k, (1 - level) / 2);
    hi[m] = quantile(col, k, 1 - (1 - level) / 2);
  }
  rp_free(stat), rp_free(idx), rp_free(col);
  return RP_OK;
}

int rp_metrics_compare(const rp_metrics_result *a, const rp_metrics_result *b, int metric,
                       int32_t B, uint64_t seed, double level, rp_metrics_diff *out, rp_err *err) {
  memset(out, 0, sizeof *out);
  out->a = out->b = out->diff = out->lo = out->hi = out->p = RP_NAN;
  if (metric < 0 || metric >= RP_M_COUNT || !has_metric(a, metric) || !has_metric(b, metric))
    return rp_errf(err, RP_EINVAL, "cannot compare '%s': it has no per-user values",
                   rp_metrics_name(metric) ? rp_metrics_name(metric) : "?");
  if (B < 1) return rp_errf(err, RP_EINVAL, "bootstrap must be a positive integer, got %d", B);
  if (!(level > 0 && level < 1))
    return rp_errf(err, RP_EINVAL, "level must be in (0, 1), got %g", level);
  int32_t cap = a->n < b->n ? a->n : b->n;
  int32_t *ia = rp_malloc((size_t)(cap + 1) * sizeof *ia);
  int32_t *ib = rp_malloc((size_t)(cap + 1) * sizeof *ib);
  int32_t *ra = rp_malloc((size_t)(cap + 1) * sizeof *ra);
  int32_t *rb = rp_malloc((size_t)(cap + 1) * sizeof *rb);
  double *d = rp_malloc((size_t)B * sizeof *d);
  if (!ia || !ib || !ra || !rb || !d) {
    rp_free(ia), rp_free(ib), rp_free(ra), rp_free(rb), rp_free(d);
    return rp_enomem(err, "compare");
  }
  /* common users: both user lists are ascending */
  int32_t n = 0;
  for (int32_t i = 0, j = 0; i < a->n && j < b->n;) {
    if (a->users[i] < b->users[j])
      i++;
    else if (a->users[i] > b->users[j])
      j++;
    else
      ia[n] = i++, ib[n++] = j++;
  }
  out->n = n;
  if (n > 0) {
    out->a = rp_metrics_stat(a, metric, ia, n);
    out->b = rp_metrics_stat(b, metric, ib, n);
    out->diff = out->a - out->b;
    if (metric < RP_M_NPER) {
      for (int32_t j = 0; j < n; j++) {
        double x = a->per_user[(size_t)ia[j] * RP_M_NPER + metric];
        double y = b->per_user[(size_t)ib[j] * RP_M_NPER + metric];
        if (isnan(x) || isnan(y)) continue;
        out->wins += x > y;
        out->losses += x < y;
        out->ties += x == y;
      }
    }
    for (int32_t s = 0; s < B; s++) {
      rp_rng g;
      rp_rng_seed(&g, seed, (uint64_t)s);
      for (int32_t j = 0; j < n; j++) {
        int32_t x = (int32_t)rp_rng_below(&g, (uint64_t)n);
        ra[j] = ia[x];
        rb[j] = ib[x];
      }
      d[s] = rp_metrics_stat(a, metric, ra, n) - rp_metrics_stat(b, metric, rb, n);
    }
    int32_t k = sort_defined(d, B);
    out->lo = quantile(d, k, (1 - level) / 2);
    out->hi = quantile(d, k, 1 - (1 - level) / 2);
    if (k > 0) {
      int32_t le = 0, ge = 0;
      for (int32_t s = 0; s < k; s++) le += d[s] <= 0, ge += d[s] >= 0;
      double p = 2.0 * (le < ge ? le : ge) / k;
      out->p = p > 1 ? 1 : p;
    }
  }
  rp_free(ia), rp_free(ib), rp_free(ra), rp_free(rb), rp_free(d);
  return RP_OK;
}

int rp_metrics_histogram(const rp_metrics_result *r, int metric, int32_t nbins, double lo,
                         double hi, int64_t *counts, rp_err *err) {
  if (metric < 0 || metric >= RP_M_NPER)
    return rp_errf(err, RP_EINVAL, "'%s' has no per-user values",
                   rp_metrics_name(metric) ? rp_metrics_name(metric) : "?");
  if (nbins < 1 || !(hi > lo))
    return rp_errf(err, RP_EINVAL, "histogram needs bins >= 1 and hi > lo");
  memset(counts, 0, (size_t)nbins * sizeof *counts);
  for (int32_t i = 0; i < r->n; i++) {
    double v = r->per_user[(size_t)i * RP_M_NPER + metric];
    if (isnan(v) || v < lo || v > hi) continue;
    int32_t b = (int32_t)((v - lo) / (hi - lo) * nbins);
    counts[b < nbins ? b : nbins - 1]++;
  }
  return RP_OK;
}

/* items sorted by train popularity, most popular first, ties by index */
static int cmp_pop(const void *a, const void *b, void *ctx) {
  const int64_t *pop_key = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  if (pop_key[x] != pop_key[y]) return pop_key[x] > pop_key[y] ? -1 : 1;
  return (x > y) - (x < y);
}

int rp_metrics_popularity(const rp_metrics_result *r, int32_t nbins, double *train_share,
                          double *rec_share, double *mean_rec_pop, double *mean_cat_pop,
                          rp_err *err) {
  if (nbins < 1) return rp_errf(err, RP_EINVAL, "bins must be >= 1, got %d", nbins);
  int32_t ni = r->nitems;
  int32_t *order = rp_malloc((size_t)(ni + 1) * sizeof *order);
  if (!order) return rp_enomem(err, "popularity");
  for (int32_t i = 0; i < ni; i++) order[i] = i;
  qsort_r(order, (size_t)ni, sizeof *order, cmp_pop, r->pop);
  double tp = 0, tr = 0, wp = 0, cp = 0;
  for (int32_t b = 0; b < nbins; b++) train_share[b] = rec_share[b] = 0;
  for (int32_t j = 0; j < ni; j++) {
    int32_t i = order[j];
    int32_t b = (int32_t)((int64_t)j * nbins / ni);
    train_share[b] += (double)r->pop[i];
    rec_share[b] += (double)r->rec_count[i];
    tp += (double)r->pop[i];
    tr += (double)r->rec_count[i];
    wp += (double)r->rec_count[i] * (double)r->pop[i];
    cp += (double)r->pop[i];
  }
  for (int32_t b = 0; b < nbins; b++) {
    train_share[b] = tp > 0 ? train_share[b] / tp : 0;
    rec_share[b] = tr > 0 ? rec_share[b] / tr : 0;
  }
  *mean_rec_pop = tr > 0 ? wp / tr : RP_NAN;
  *mean_cat_pop = ni > 0 ? cp / ni : RP_NAN;
  rp_free(order);
  return RP_OK;
}
