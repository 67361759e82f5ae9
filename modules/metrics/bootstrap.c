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

/* ---- the resampling engine ---------------------------------------------------
 * Every statistic here is a ratio of sums over users: a per-user metric is
 * sum(value) / sum(defined), pooled precision sum(hits) / sum(m), rmse
 * sqrt(sum(se) / sum(n)), mae sum(ae) / sum(n).  So each user becomes one
 * row of (numerator, denominator) slots, and a resample is the sum of the
 * rows it draws: one pass, one row read per draw, for all metrics at once. */

/* Fills slots (num, den) of user i of r for metric m. */
static void slots(const rp_metrics_result *r, int32_t i, int m, float *out) {
  if (m < RP_M_NPER) {
    double v = r->per_user[(size_t)i * RP_M_NPER + m];
    out[0] = isnan(v) ? 0.0f : (float)v;
    out[1] = isnan(v) ? 0.0f : 1.0f;
  } else if (m == RP_M_PRECISION_POOLED) {
    out[0] = (float)r->hits[i], out[1] = (float)r->m[i];
  } else {
    out[0] = (float)(m == RP_M_RMSE ? r->se[i] : r->ae[i]), out[1] = (float)r->nrated[i];
  }
}

static double ratio(int m, double num, double den) {
  if (!(den > 0)) return RP_NAN;
  return m == RP_M_RMSE ? sqrt(num / den) : num / den;
}

/* sums[b*w ..] = sum over n draws (rp_rng seeded (seed, b)) of rows[draw*w ..].
 * Draws are first counted per user (a small array that stays in cache),
 * then the rows are read once, in order, for BLK resamples at a time:
 * sequential reads instead of one cache miss per draw, and a sum order that
 * depends only on the data and the seed.  cnt: nt * BLK * n scratch. */
#define BLK 4
static void resample(const float *rows, int32_t n, int w, int32_t B, uint64_t seed, int nt,
                     uint32_t *cnt, double *sums) {
  int32_t nblk = (B + BLK - 1) / BLK;
#pragma omp parallel num_threads(nt)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    uint32_t *c = cnt + (size_t)tid * BLK * (size_t)n;
#pragma omp for schedule(dynamic, 1)
    for (int32_t blk = 0; blk < nblk; blk++) {
      int nr = B - blk * BLK < BLK ? B - blk * BLK : BLK;
      double acc[BLK][2 * RP_METRICS_MAX_RATIOS];
      memset(acc, 0, sizeof acc);
      memset(c, 0, (size_t)BLK * (size_t)n * sizeof *c);
      for (int r = 0; r < nr; r++) {
        rp_rng g;
        rp_rng_seed(&g, seed, (uint64_t)(blk * BLK + r));
        uint32_t *cr = c + (size_t)r * n;
        for (int32_t j = 0; j < n; j++) cr[rp_rng_below(&g, (uint64_t)n)]++;
      }
      for (int32_t j = 0; j < n; j++) {
        const float *row = rows + (size_t)j * (size_t)w;
        for (int r = 0; r < nr; r++) {
          uint32_t k = c[(size_t)r * n + j];
          if (!k) continue;
          for (int q = 0; q < w; q++) acc[r][q] += (double)k * (double)row[q];
        }
      }
      for (int r = 0; r < nr; r++)
        memcpy(sums + (size_t)(blk * BLK + r) * (size_t)w, acc[r], (size_t)w * sizeof(double));
    }
  }
}

/* Scratch for resample (rp_free it), or NULL. */
static uint32_t *resample_scratch(int32_t n, int nt) {
  int ok = 1;
  size_t c = rp_mulsize((size_t)nt * BLK, (size_t)n + 1, &ok);
  return ok ? rp_malloc(c * sizeof(uint32_t)) : NULL;
}

/* lo/hi percentiles of column values v[0..B) (NAN skipped; v is reordered) */
static void interval(double *v, int32_t B, double level, double *lo, double *hi) {
  int32_t k = sort_defined(v, B);
  *lo = quantile(v, k, (1 - level) / 2);
  *hi = quantile(v, k, 1 - (1 - level) / 2);
}

static int check_resampling(int32_t B, double level, rp_err *err) {
  if (B < 1 || B > RP_METRICS_MAX_BOOTSTRAP)
    return rp_errf(err, RP_EINVAL, "bootstrap must be an integer in 1..%d, got %d",
                   RP_METRICS_MAX_BOOTSTRAP, B);
  if (!(level > 0 && level < 1))
    return rp_errf(err, RP_EINVAL, "level must be in (0, 1), got %g", level);
  return RP_OK;
}

int rp_metrics_bootstrap(const rp_metrics_result *r, int32_t B, uint64_t seed, double level,
                         int threads, double lo[RP_M_COUNT], double hi[RP_M_COUNT], rp_err *err) {
  for (int m = 0; m < RP_M_COUNT; m++) lo[m] = hi[m] = RP_NAN;
  int rc = check_resampling(B, level, err);
  if (rc) return rc;
  if (r->n == 0) return RP_OK;
  int ms[RP_M_COUNT], nm = 0;
  for (int m = 0; m < RP_M_COUNT; m++)
    if (has_metric(r, m)) ms[nm++] = m;
  int w = 2 * nm, ok = 1;
  size_t nrow = rp_mulsize((size_t)r->n, (size_t)w, &ok);
  float *rows = ok ? rp_malloc(nrow * sizeof *rows) : NULL;
  double *sums = rp_malloc((size_t)B * (size_t)w * sizeof *sums);
  double *col = rp_malloc((size_t)B * sizeof *col);
  int nt = rp_threads(threads);
  uint32_t *cnt = resample_scratch(r->n, nt);
  if (!rows || !sums || !col || !cnt) {
    rp_free(rows), rp_free(sums), rp_free(col), rp_free(cnt);
    return rp_enomem(err, "bootstrap");
  }
  for (int32_t i = 0; i < r->n; i++)
    for (int q = 0; q < nm; q++) slots(r, i, ms[q], rows + (size_t)i * w + 2 * q);
  resample(rows, r->n, w, B, seed, nt, cnt, sums);
  rp_free(cnt);
  for (int q = 0; q < nm; q++) {
    for (int32_t b = 0; b < B; b++)
      col[b] = ratio(ms[q], sums[(size_t)b * w + 2 * q], sums[(size_t)b * w + 2 * q + 1]);
    interval(col, B, level, &lo[ms[q]], &hi[ms[q]]);
  }
  rp_free(rows), rp_free(sums), rp_free(col);
  return RP_OK;
}

int rp_metrics_bootstrap_ratios(const float *rows, int32_t n, int npairs, int32_t B, uint64_t seed,
                                double level, int threads, double *lo, double *hi, rp_err *err) {
  for (int q = 0; q < npairs; q++) lo[q] = hi[q] = RP_NAN;
  if (npairs < 1 || npairs > RP_METRICS_MAX_RATIOS)
    return rp_errf(err, RP_EINVAL, "bootstrap of 1 to %d ratios expected, got %d",
                   RP_METRICS_MAX_RATIOS, npairs);
  int rc = check_resampling(B, level, err);
  if (rc || n < 1) return rc;
  int w = 2 * npairs, nt = rp_threads(threads);
  double *sums = rp_malloc((size_t)B * (size_t)w * sizeof *sums);
  double *col = rp_malloc((size_t)B * sizeof *col);
  uint32_t *cnt = resample_scratch(n, nt);
  if (!sums || !col || !cnt) {
    rp_free(sums), rp_free(col), rp_free(cnt);
    return rp_enomem(err, "bootstrap");
  }
  resample(rows, n, w, B, seed, nt, cnt, sums);
  for (int q = 0; q < npairs; q++) {
    for (int32_t b = 0; b < B; b++) {
      const double *sm = sums + (size_t)b * w + 2 * q;
      col[b] = sm[1] > 0 ? sm[0] / sm[1] : RP_NAN;
    }
    interval(col, B, level, &lo[q], &hi[q]);
  }
  rp_free(sums), rp_free(col), rp_free(cnt);
  return RP_OK;
}

/* Paired comparison: per metric, a per-user metric takes two slots (the
 * difference a - b and 1, both 0 unless both are defined); a ratio metric
 * four (numerator and denominator of each side). */
int rp_metrics_compare_many(const rp_metrics_result *a, const rp_metrics_result *b,
                            const int *metrics, int nm, int32_t B, uint64_t seed, double level,
                            int threads, rp_metrics_diff *out, rp_err *err) {
  for (int q = 0; q < nm; q++) {
    memset(&out[q], 0, sizeof out[q]);
    out[q].a = out[q].b = out[q].diff = out[q].lo = out[q].hi = out[q].p = RP_NAN;
  }
  if (nm < 1 || nm > RP_M_COUNT)
    return rp_errf(err, RP_EINVAL, "compare needs 1 to %d metrics, got %d", RP_M_COUNT, nm);
  for (int q = 0; q < nm; q++) {
    int m = metrics[q];
    if (m < 0 || m >= RP_M_COUNT || !has_metric(a, m) || !has_metric(b, m))
      return rp_errf(err, RP_EINVAL, "cannot compare '%s': it has no per-user values",
                     rp_metrics_name(m) ? rp_metrics_name(m) : "?");
  }
  int rc = check_resampling(B, level, err);
  if (rc) return rc;
  int off[RP_M_COUNT + 1], w = 0;
  for (int q = 0; q < nm; q++) off[q] = w, w += metrics[q] < RP_M_NPER ? 2 : 4;
  int32_t cap = a->n < b->n ? a->n : b->n;
  int ok = 1;
  size_t nrow = rp_mulsize((size_t)cap + 1, (size_t)w, &ok);
  float *rows = ok ? rp_malloc(nrow * sizeof *rows) : NULL;
  double *sums = rp_malloc((size_t)B * (size_t)w * sizeof *sums);
  double *col = rp_malloc((size_t)B * sizeof *col);
  double *tot = rp_calloc((size_t)w * 2 + 1, sizeof *tot);
  int nt = rp_threads(threads);
  uint32_t *cnt = resample_scratch(cap, nt);
  if (!rows || !sums || !col || !tot || !cnt) {
    rp_free(rows), rp_free(sums), rp_free(col), rp_free(tot), rp_free(cnt);
    return rp_enomem(err, "compare");
  }
  /* rows of the common users (both user lists are ascending) */
  int32_t n = 0;
  for (int32_t i = 0, j = 0; i < a->n && j < b->n;) {
    if (a->users[i] < b->users[j]) {
      i++;
    } else if (a->users[i] > b->users[j]) {
      j++;
    } else {
      float *row = rows + (size_t)n * w;
      for (int q = 0; q < nm; q++) {
        int m = metrics[q];
        float sa[2], sb[2];
        slots(a, i, m, sa);
        slots(b, j, m, sb);
        if (m < RP_M_NPER) {
          int both = sa[1] > 0 && sb[1] > 0;
          row[off[q]] = both ? sa[0] - sb[0] : 0.0f;
          row[off[q] + 1] = both ? 1.0f : 0.0f;
          /* point estimates of each side on the users where both are defined */
          tot[2 * off[q]] += both ? (double)sa[0] : 0, tot[2 * off[q] + 1] += both;
          tot[2 * off[q] + 2] += both ? (double)sb[0] : 0;
          if (both) {
            double x = a->per_user[(size_t)i * RP_M_NPER + m];
            double y = b->per_user[(size_t)j * RP_M_NPER + m];
            out[q].wins += x > y, out[q].losses += x < y, out[q].ties += x == y;
          }
        } else {
          memcpy(row + off[q], sa, sizeof sa);
          memcpy(row + off[q] + 2, sb, sizeof sb);
          for (int c = 0; c < 4; c++) tot[2 * off[q] + c] += (double)row[off[q] + c];
        }
      }
      n++, i++, j++;
    }
  }
  if (n > 0) resample(rows, n, w, B, seed, nt, cnt, sums);
  rp_free(cnt);
  for (int q = 0; q < nm && n > 0; q++) {
    int m = metrics[q], o = off[q];
    const double *t = tot + 2 * o;
    out[q].n = n;
    if (m < RP_M_NPER) {
      out[q].a = t[1] > 0 ? t[0] / t[1] : RP_NAN;
      out[q].b = t[1] > 0 ? t[2] / t[1] : RP_NAN;
      for (int32_t s = 0; s < B; s++) {
        const double *sm = sums + (size_t)s * w + o;
        col[s] = sm[1] > 0 ? sm[0] / sm[1] : RP_NAN;
      }
    } else {
      out[q].a = ratio(m, t[0], t[1]);
      out[q].b = ratio(m, t[2], t[3]);
      for (int32_t s = 0; s < B; s++) {
        const double *sm = sums + (size_t)s * w + o;
        col[s] = ratio(m, sm[0], sm[1]) - ratio(m, sm[2], sm[3]);
      }
    }
    out[q].diff = out[q].a - out[q].b;
    int32_t le = 0, ge = 0, k = 0;
    for (int32_t s = 0; s < B; s++)
      if (!isnan(col[s])) k++, le += col[s] <= 0, ge += col[s] >= 0;
    if (k > 0) {
      double p = 2.0 * (le < ge ? le : ge) / k;
      out[q].p = p > 1 ? 1 : p;
    }
    interval(col, B, level, &out[q].lo, &out[q].hi);
  }
  rp_free(rows), rp_free(sums), rp_free(col), rp_free(tot);
  return RP_OK;
}

int rp_metrics_compare(const rp_metrics_result *a, const rp_metrics_result *b, int metric,
                       int32_t B, uint64_t seed, double level, rp_metrics_diff *out, rp_err *err) {
  return rp_metrics_compare_many(a, b, &metric, 1, B, seed, level, 0, out, err);
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
