/*
 * foldin.c -- factors for a user the model has not seen, and explanations.
 *
 * Fold-in is one exact user half-step: x = A^-1 b with A = Y^T Y + lambda I
 * + sum_j w_j y_j y_j^T and b = sum_j bc_j y_j (solve.c), Y the trained item
 * factors.  For a user of the training data it reproduces the factors the
 * last iteration's user half-step gave, up to the item half-step that
 * followed it.
 *
 * Explanation (Hu, Koren & Volinsky 2008, section 5, as implicit's
 * explain): with W = A^-1, the score of item i is
 *   y_i . x = sum_j bc_j (y_i^T W y_j),
 * a sum of one contribution per history item j.  With the Cholesky factor
 * A = U^T U, z = W y_i costs two triangular solves and each contribution
 * one dot product.
 */
#include <stdlib.h>
#include <string.h>

#include "als_impl.h"

typedef struct pair {
  int32_t i;
  float v;
} pair;

static int cmp_pair(const void *a, const void *b) {
  int32_t x = ((const pair *)a)->i, y = ((const pair *)b)->i;
  return (x > y) - (x < y);
}

/* The history as sorted unique in-range items with summed values (two new
 * arrays owned by the caller). */
static int history(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   int32_t **idx, float **val, int64_t *nout, rp_err *err) {
  pair *p = rp_malloc(sizeof(pair) * (size_t)(n > 0 ? n : 1));
  if (!p) return rp_enomem(err, "fold-in history");
  int64_t k = 0;
  for (int64_t j = 0; j < n; j++) {
    if (items[j] < 0 || items[j] >= m->nitems) continue;
    float v = values ? values[j] : 1.0f;
    if (!isfinite(v)) {
      rp_free(p);
      return rp_errf(err, RP_EINVAL, "value %lld is not finite", (long long)j + 1);
    }
    p[k].i = items[j], p[k].v = v, k++;
  }
  qsort(p, (size_t)k, sizeof *p, cmp_pair);
  int64_t u = 0;
  for (int64_t j = 0; j < k; j++) {
    if (u > 0 && p[u - 1].i == p[j].i)
      p[u - 1].v += p[j].v;
    else
      p[u++] = p[j];
  }
  int32_t *ix = rp_malloc(sizeof(int32_t) * (size_t)(u > 0 ? u : 1));
  float *vx = rp_malloc(sizeof(float) * (size_t)(u > 0 ? u : 1));
  if (!ix || !vx) {
    rp_free(p), rp_free(ix), rp_free(vx);
    return rp_enomem(err, "fold-in history");
  }
  for (int64_t j = 0; j < u; j++) ix[j] = p[j].i, vx[j] = p[j].v;
  rp_free(p);
  *idx = ix, *val = vx, *nout = u;
  return RP_OK;
}

/* the history and a scratch for it; the caller frees sc, idx, val */
static int prepare(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   rp_als_scratch *sc, int32_t **idx, float **val, int64_t *nu, rp_err *err) {
  *idx = NULL, *val = NULL;
  memset(sc, 0, sizeof *sc);
  int rc = history(m, items, values, n, idx, val, nu, err);
  if (rc) return rc;
  int64_t cap = rp_als_block_rows(m->factors);
  if (*nu < cap) cap = *nu > 0 ? *nu : 1;
  return rp_als_scratch_init(sc, m->factors, cap, err);
}

/* a solver's status (0, pivot + 1, -1 on overflow) as an error */
static int solve_status(const rp_als_model *m, int info, rp_err *err) {
  if (info < 0)
    return rp_errf(err, RP_EINVAL,
                   "fold-in: the normal matrix overflows float (alpha %g, regularization %g)",
                   m->opts.alpha, m->opts.regularization);
  if (info)
    return rp_errf(err, RP_EINVAL,
                   "fold-in: the normal matrix is not positive definite (regularization %g)",
                   m->opts.regularization);
  return RP_OK;
}

/* factor the normal matrix of a history; on success sc holds A's factor and
 * b, and the caller frees sc, idx, val */
static int factor(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                  rp_als_scratch *sc, int32_t **idx, float **val, int64_t *nu, rp_err *err) {
  int rc = prepare(m, items, values, n, sc, idx, val, nu, err);
  if (rc) return rc;
  rp_als_side side = {&m->opts, m->factors, m->item_factors, m->nitems,
                      m->opts.implicit ? m->yty : NULL};
  return solve_status(m, rp_als_factor_row(&side, *idx, *val, *nu, sc), err);
}

int rp_als_foldin(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                  float *x, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = rp_als_foldin_locked(m, items, values, n, x, err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_foldin_locked(const rp_als_model *m, const int32_t *items, const float *values,
                         int64_t n, float *x, rp_err *err) {
  rp_als_scratch sc;
  int32_t *idx;
  float *val;
  int64_t nu;
  int rc = prepare(m, items, values, n, &sc, &idx, &val, &nu, err);
  if (rc == RP_OK) {
    int32_t f = m->factors;
    rp_als_side side = {&m->opts, f, m->item_factors, m->nitems, m->opts.implicit ? m->yty : NULL};
    rc = solve_status(m, rp_als_solve_exact(&side, idx, val, nu, x, &sc), err);
    if (rc == RP_OK && nu > 0) {
      float vmax = 0;
      for (int64_t j = 0; j < nu; j++) vmax = fabsf(val[j]) > vmax ? fabsf(val[j]) : vmax;
      for (int32_t d = 0; d < f && rc == RP_OK; d++)
        if (!isfinite(x[d]))
          rc = rp_errf(err, RP_EINVAL,
                       "fold-in: the user's factors are not finite (float overflow: alpha %g, "
                       "regularization %g, largest history value %g)",
                       m->opts.alpha, m->opts.regularization, (double)vmax);
    }
  }
  rp_als_scratch_free(&sc);
  rp_free(idx);
  rp_free(val);
  return rc;
}

static int explain(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   int32_t item, int32_t k, int32_t *out_items, float *out_contrib, int32_t *out_n,
                   double *total, rp_err *err);

int rp_als_explain(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   int32_t item, int32_t k, int32_t *out_items, float *out_contrib, int32_t *out_n,
                   double *total, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = explain(m, items, values, n, item, k, out_items, out_contrib, out_n, total, err);
  rp_als_model_unlock(m);
  return rc;
}

static int explain(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   int32_t item, int32_t k, int32_t *out_items, float *out_contrib, int32_t *out_n,
                   double *total, rp_err *err) {
  *out_n = 0;
  *total = 0;
  if (item < 0 || item >= m->nitems)
    return rp_errf(err, RP_EINVAL, "item index %d out of range", (int)item);
  rp_als_scratch sc;
  int32_t *idx;
  float *val;
  int64_t nu;
  int32_t f = m->factors;
  int rc = factor(m, items, values, n, &sc, &idx, &val, &nu, err);
  if (rc) goto done;
  if (k > nu) k = (int32_t)nu;
  rp_topk h;
  rp_topk_init(&h, k, rp_malloc(sizeof(int32_t) * (size_t)(k > 0 ? k : 1)),
               rp_malloc(sizeof(float) * (size_t)(k > 0 ? k : 1)));
  if (!h.scores || !h.items) {
    rp_free(h.scores), rp_free(h.items);
    rc = rp_enomem(err, "explain");
    goto done;
  }
  float *z = sc.r; /* z = W y_item */
  memcpy(z, m->item_factors + (int64_t)item * f, sizeof(float) * (size_t)f);
  rp_als_chol_solve(sc.A, f, rp_als_chol_ld(f), z);
  double sum = 0;
  for (int64_t j = 0; j < nu; j++) {
    float bc = rp_als_bc(&m->opts, val[j]);
    if (bc == 0) continue;
    float s = bc * rp_als_dot(z, m->item_factors + (int64_t)idx[j] * f, f);
    sum += (double)s;
    rp_topk_push(&h, idx[j], s);
  }
  *total = sum;
  *out_n = rp_topk_sorted(&h, out_items, out_contrib);
  rp_free(h.scores), rp_free(h.items);
done:
  rp_als_scratch_free(&sc);
  rp_free(idx);
  rp_free(val);
  return rc;
}
