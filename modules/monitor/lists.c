/*
 * lists.c -- rp_mon_compare_lists: how two sets of top-k answers for the
 * same users differ (two models, or one model on two days): coverage and
 * Gini of exposure on each side, the overlap of each user's two lists
 * (Jaccard, rank-biased overlap) and the shift of the score distribution.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

void rp_mon_lists_opts_init(rp_mon_lists_opts *o) {
  o->rbo_p = 0.9;
  o->score_bins = 10;
  o->epsilon = 1e-4;
}

int rp_mon_lists_opts_check(const rp_mon_lists_opts *o, rp_err *err) {
  if (!(o->rbo_p > 0 && o->rbo_p < 1))
    return rp_errf(err, RP_EINVAL, "monitor: 'rbo_p' must be in (0, 1), got %g", o->rbo_p);
  if (o->score_bins < 2 || o->score_bins > 1000)
    return rp_errf(err, RP_EINVAL, "monitor: 'score_bins' must be in 2..1000, got %d",
                   o->score_bins);
  if (!(o->epsilon > 0 && o->epsilon <= 0.1))
    return rp_errf(err, RP_EINVAL, "monitor: 'epsilon' must be in (0, 0.1], got %g", o->epsilon);
  return RP_OK;
}

/* "list 3" or "the list of user 'u7'" into buf. */
static const char *which(const rp_mon_lists *s, int32_t u, char *buf, size_t n) {
  size_t len;
  if (s->user_ids && u < s->user_ids->n) {
    const char *id = rp_idmap_id(s->user_ids, u, &len);
    snprintf(buf, n, "the list of user '%.*s'", (int)(len > 200 ? 200 : len), id);
  } else {
    snprintf(buf, n, "list %d", u + 1);
  }
  return buf;
}

/* "item 'i5'" or "item index 5" into buf. */
static const char *item_name(const rp_mon_lists *s, int32_t i, char *buf, size_t n) {
  size_t len;
  if (s->item_ids && i >= 0 && i < s->item_ids->n) {
    const char *id = rp_idmap_id(s->item_ids, i, &len);
    snprintf(buf, n, "item '%.*s'", (int)(len > 200 ? 200 : len), id);
  } else {
    snprintf(buf, n, "item index %d", i);
  }
  return buf;
}

/* Every list of side s: length in range, items in the catalogue, no
 * repeats (stamp: nitems ints, set to list number + 1 as they are seen). */
static int check_side(const rp_mon_lists *s, const char *name, int32_t nitems, int32_t *stamp,
                      rp_err *err) {
  char w[256], it_s[256];
  for (int32_t u = 0; u < s->n; u++) {
    int32_t len = s->len[u];
    if (len < -1 || len > s->k)
      return rp_errf(err, RP_EINVAL, "monitor: %s of side %s has length %d (k is %d)",
                     which(s, u, w, sizeof w), name, len, s->k);
    const int32_t *it = s->items + (size_t)u * (size_t)s->k;
    for (int32_t j = 0; j < len; j++) {
      if (it[j] < 0 || it[j] >= nitems)
        return rp_errf(
            err, RP_EINVAL, "monitor: %s of side %s holds %s, outside the catalogue of %d",
            which(s, u, w, sizeof w), name, item_name(s, it[j], it_s, sizeof it_s), nitems);
      if (stamp[it[j]] == u + 1)
        return rp_errf(err, RP_EINVAL, "monitor: %s of side %s repeats %s",
                       which(s, u, w, sizeof w), name, item_name(s, it[j], it_s, sizeof it_s));
      stamp[it[j]] = u + 1;
    }
  }
  return RP_OK;
}

/* Coverage and Gini of one side (cnt: nitems counts, tmp: nitems). */
static void exposure(const rp_mon_lists *s, int32_t nitems, int64_t *cnt, int64_t *tmp,
                     double *coverage, double *gini, int32_t *users) {
  memset(cnt, 0, (size_t)nitems * sizeof *cnt);
  int32_t present = 0;
  for (int32_t u = 0; u < s->n; u++) {
    present += s->len[u] >= 0;
    for (int32_t j = 0; j < s->len[u]; j++) cnt[s->items[(size_t)u * (size_t)s->k + j]]++;
  }
  int64_t covered = 0;
  for (int32_t i = 0; i < nitems; i++) covered += cnt[i] > 0;
  *coverage = nitems > 0 ? (double)covered / nitems : (double)NAN;
  *gini = rp_gini(cnt, nitems, tmp);
  *users = present;
}

/* Jaccard and extrapolated RBO of lists x[0..nx) and y[0..ny) (the
 * stamps: nitems ints each, values never equal to tag before the call). */
static void overlap(const int32_t *x, int32_t nx, const int32_t *y, int32_t ny, double p,
                    int32_t *sx, int32_t *sy, int32_t tag, double *jac, double *rbo) {
  /* rank-biased overlap over the first d = min(nx, ny) ranks: X_j is the
   * overlap of the two prefixes of length j, kept up to date as both
   * prefixes grow by one item */
  int32_t d = nx < ny ? nx : ny, X = 0;
  double sum = 0, pj = 1;
  for (int32_t j = 0; j < d; j++) {
    sx[x[j]] = tag;
    X += sy[x[j]] == tag;
    sy[y[j]] = tag;
    X += sx[y[j]] == tag;
    pj *= p;
    sum += (double)X / (j + 1) * pj;
  }
  *rbo = d > 0 ? (double)X / d * pj + (1 - p) / p * sum : 0.0;
  /* Jaccard over the whole lists: x is marked up to d, mark the rest */
  for (int32_t j = d; j < nx; j++) sx[x[j]] = tag;
  int32_t inter = 0;
  for (int32_t j = 0; j < ny; j++) inter += sx[y[j]] == tag;
  *jac = (double)inter / (nx + ny - inter);
}

/* Scores of the present lists of s that are finite, into out; count. */
static int64_t gather_scores(const rp_mon_lists *s, float *out) {
  int64_t m = 0;
  for (int32_t u = 0; u < s->n; u++) {
    const float *sc = s->scores + (size_t)u * (size_t)s->k;
    for (int32_t j = 0; j < s->len[u]; j++)
      if (isfinite(sc[j])) out[m++] = sc[j];
  }
  return m;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Bin of score x among the ascending distinct cuts c[0..nc): the first
 * cut >= x, or nc past the last. */
static int32_t score_bin(const float *c, int32_t nc, float x) {
  int32_t lo = 0, hi = nc;
  while (lo < hi) {
    int32_t mid = (lo + hi) / 2;
    if (c[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The PSI of b's scores over a's quantile bins, and both means. */
static int score_shift(const rp_mon_lists *a, const rp_mon_lists *b, const rp_mon_lists_opts *o,
                       rp_mon_lists_result *out, rp_err *err) {
  size_t ma = (size_t)a->n * (size_t)a->k, mb = (size_t)b->n * (size_t)b->k;
  float *sa = rp_malloc((ma + mb + 1) * sizeof *sa), *sb = sa + ma;
  int64_t *cnt = rp_calloc(2 * ((size_t)o->score_bins + 1), sizeof *cnt);
  float *cuts = rp_malloc((size_t)o->score_bins * sizeof *cuts);
  if (!sa || !cnt || !cuts) {
    rp_free(sa);
    rp_free(cnt);
    rp_free(cuts);
    return rp_enomem(err, "monitor scores");
  }
  int64_t na = gather_scores(a, sa), nb = gather_scores(b, sb);
  double suma = 0, sumb = 0;
  for (int64_t i = 0; i < na; i++) suma += (double)sa[i];
  for (int64_t i = 0; i < nb; i++) sumb += (double)sb[i];
  out->score_mean[0] = na ? suma / (double)na : (double)NAN;
  out->score_mean[1] = nb ? sumb / (double)nb : (double)NAN;
  int rc = RP_OK;
  if (na && nb) {
    qsort(sa, (size_t)na, sizeof *sa, cmp_float);
    int32_t nc = 0, B = o->score_bins;
    for (int32_t j = 1; j < B; j++) {
      /* the score of rank ceil(j na / B) (1-based) */
      int64_t r = ((int64_t)j * na + B - 1) / B;
      float c = sa[r - 1];
      if (nc == 0 || c > cuts[nc - 1]) cuts[nc++] = c;
    }
    for (int64_t i = 0; i < na; i++) cnt[score_bin(cuts, nc, sa[i])]++;
    for (int64_t i = 0; i < nb; i++) cnt[B + 1 + score_bin(cuts, nc, sb[i])]++;
    rp_mon_dist d;
    rc = rp_mon_distance(cnt, cnt + B + 1, nc + 1, 0, o->epsilon, &d, err);
    out->score_psi = d.psi;
  }
  rp_free(sa);
  rp_free(cnt);
  rp_free(cuts);
  return rc;
}

static void put(rp_mon_lists_result *r, int measure, double v) {
  r->values[r->nvalues++] = (rp_mon_value){measure, -1, v};
}

int rp_mon_compare_lists(const rp_mon_lists *a, const rp_mon_lists *b, int32_t nitems,
                         const rp_mon_lists_opts *o, rp_mon_lists_result *out, rp_err *err) {
  memset(out, 0, sizeof *out);
  double nan = (double)NAN;
  out->jaccard = out->rbo = out->score_psi = nan;
  out->score_mean[0] = out->score_mean[1] = nan;
  int rc = rp_mon_lists_opts_check(o, err);
  if (rc) return rc;
  if (a->n != b->n)
    return rp_errf(err, RP_EINVAL, "monitor: the two sides must list the same users (%d vs %d)",
                   a->n, b->n);
  if (a->k < 0 || b->k < 0 || nitems < 0)
    return rp_errf(err, RP_EINVAL, "monitor: negative list length or catalogue");
  size_t ni = (size_t)nitems + 1;
  int32_t *stamp = rp_calloc(2 * ni, sizeof *stamp);
  int64_t *cnt = rp_malloc(2 * ni * sizeof *cnt);
  if (!stamp || !cnt) {
    rp_free(stamp);
    rp_free(cnt);
    return rp_enomem(err, "monitor lists");
  }
  if (!(rc = check_side(a, "a", nitems, stamp, err))) {
    memset(stamp, 0, ni * sizeof *stamp);
    rc = check_side(b, "b", nitems, stamp, err);
  }
  if (!rc) {
    exposure(a, nitems, cnt, cnt + ni, &out->coverage[0], &out->gini[0], &out->users[0]);
    exposure(b, nitems, cnt, cnt + ni, &out->coverage[1], &out->gini[1], &out->users[1]);
    memset(stamp, 0, 2 * ni * sizeof *stamp);
    double sj = 0, sr = 0;
    for (int32_t u = 0; u < a->n; u++) {
      int32_t la = a->len[u], lb = b->len[u];
      if (la < 0 || lb < 0 || la + lb == 0) continue;
      double j, r;
      overlap(a->items + (size_t)u * (size_t)a->k, la, b->items + (size_t)u * (size_t)b->k, lb,
              o->rbo_p, stamp, stamp + ni, u + 1, &j, &r);
      sj += j, sr += r;
      out->common++;
    }
    if (out->common) out->jaccard = sj / out->common, out->rbo = sr / out->common;
    if (a->scores && b->scores) rc = score_shift(a, b, o, out, err);
  }
  rp_free(stamp);
  rp_free(cnt);
  if (rc) return rc;
  put(out, RP_MON_COVERAGE, out->coverage[0] > 0 ? out->coverage[1] / out->coverage[0] - 1 : nan);
  put(out, RP_MON_GINI, out->gini[1] - out->gini[0]);
  put(out, RP_MON_JACCARD, out->jaccard);
  put(out, RP_MON_RBO, out->rbo);
  put(out, RP_MON_SCORE_PSI, out->score_psi);
  return RP_OK;
}

int32_t rp_mon_sample(int32_t n, int32_t k, uint64_t seed, int32_t *out) {
  if (k >= n) k = n;
  if (k < 0) k = 0;
  rp_rng r;
  rp_rng_seed(&r, seed, 0x6d6f6e69746f72ULL); /* "monitor" */
  int32_t m = 0;
  for (int32_t i = 0; i < n && m < k; i++)
    if ((double)(n - i) * rp_rng_uniform(&r) < (double)(k - m)) out[m++] = i;
  return m;
}
