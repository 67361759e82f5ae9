/*
 * project.c -- attributes to CF factors by ridge regression, so an item (or
 * user) with no interactions gets factors from its attributes and the CF
 * model can score it at once.
 *
 * Derivation.  With x~ = [x, 1] the feature row plus an intercept and v the
 * model's factor row, over the warm rows (those with interactions)
 *   W = argmin sum_i |x~_i W - v_i|^2 + lambda |W_features|^2
 * solves the normal equations (X~'X~ + lambda I') W = X~'V, I' the identity
 * without the intercept's diagonal (the intercept is not shrunk: a row
 * with no features lands on the mean factor).  With d features the system
 * is (d + 1) x (d + 1); it is factored by Cholesky (LAPACK dposv, double)
 * up to max_direct features and solved by Jacobi-preconditioned conjugate
 * gradient on all f right-hand sides at once beyond, whose matrix products
 * touch only the sparse rows: 2 nnz(X) f per iteration.
 *
 * The recommender scores user u and item i by the dot product of the
 * completed factor rows: the model's own for warm rows, x~ W for cold rows
 * with features.  The completed factors live in an rp_als_model of their
 * own, so top-k selection is the ALS module's (exact, screened).  Cold rows without features are
 * never recommended (cold items) or answered (cold users).  method = random places cold items at
 * random instead (each dimension normal with the warm rows' mean and
 * deviation): the baseline the projection must beat.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "hybrid.h"
#include "lapack_shim.h"

typedef struct {
  rp_hyb_rec base;
  rp_als_model *m; /* the completed factors, scored by the ALS module's exact top-k */
  float *U, *V;    /* = m's factors */
  int32_t nu, ni, f;
  uint8_t *uok;      /* user can be scored */
  int32_t *unplaced; /* items that cannot be scored, ascending */
  int32_t nunplaced;
} project;

static void project_destroy(rp_hyb_rec *r) {
  project *p = (project *)r;
  rp_als_model_free(p->m);
  rp_free(p->uok);
  rp_free(p->unplaced);
}

void rp_hyb_project_factors(const rp_hyb_rec *r, float **U, int32_t *nu, float **V, int32_t *ni,
                            int32_t *f) {
  const project *p = (const project *)r;
  *U = p->U, *nu = p->nu, *V = p->V, *ni = p->ni, *f = p->f;
}

/* A sorted, duplicate-free copy of a[0..n) followed by b[0..m) in out. */
static rp_als_list sorted_union(const int32_t *a, int32_t n, const int32_t *b, int32_t m,
                                int32_t *out) {
  int64_t k = 0;
  for (int32_t j = 0; j < n; j++) out[k++] = a[j];
  for (int32_t j = 0; j < m; j++) out[k++] = b[j];
  rp_als_list l = {out, rp_als_sort_unique(out, k)};
  return l;
}

/* Scores by the dot product of the completed factors: rp_als_topk (an
 * int8 screen then exact float scores: the brute-force result) with the
 * seen items, the unplaced items and the denied (plus a requested
 * history) as exclusion lists. */
static int project_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                       int32_t *items, float *scores, int32_t *n, rp_err *err) {
  (void)s;
  const project *p = (const project *)r;
  *n = 0;
  int32_t u = q->user;
  if (u < 0 || u >= p->nu || !p->uok[u]) return RP_OK;
  int32_t nextra = q->ndeny + (q->excl_hist ? q->nhist : 0);
  int32_t *buf = rp_malloc(sizeof(int32_t) * (size_t)(nextra + q->nexcl + q->nallow + 1));
  if (!buf) return rp_enomem(err, "projection");
  rp_als_list ex[3];
  int nex = 0;
  ex[nex++] = sorted_union(q->excl, q->nexcl, NULL, 0, buf); /* rows may come unsorted */
  ex[nex++] = (rp_als_list){p->unplaced, p->nunplaced};
  if (nextra)
    ex[nex++] =
        sorted_union(q->deny, q->ndeny, q->hist, q->excl_hist ? q->nhist : 0, buf + q->nexcl);
  rp_als_list allow, *ap = NULL;
  if (q->allow) {
    allow = sorted_union(q->allow, q->nallow, NULL, 0, buf + q->nexcl + nextra);
    ap = &allow;
  }
  int rc =
      rp_als_topk(p->m, p->U + (size_t)u * (size_t)p->f, k, ex, nex, ap, items, scores, n, err);
  rp_free(buf);
  return rc;
}

/* ---- the ridge solve ------------------------------------------------------------ */
static void row_at(const rp_csr *X, int32_t r, const int32_t **ix, const float **v, int64_t *m) {
  if (!X || r >= X->nrows) {
    *ix = NULL, *v = NULL, *m = 0;
    return;
  }
  *ix = X->indices + X->indptr[r];
  *v = X->data + X->indptr[r];
  *m = X->indptr[r + 1] - X->indptr[r];
}

/* B = X~'Y (row-major D x f, double). */
static void rhs(const rp_csr *X, int32_t n, const uint8_t *keep, const float *Y, int32_t f,
                int32_t d, double *B) {
  for (int32_t r = 0; r < n; r++) {
    if (!keep[r]) continue;
    const int32_t *ix;
    const float *v;
    int64_t m;
    row_at(X, r, &ix, &v, &m);
    const float *y = Y + (size_t)r * (size_t)f;
    for (int64_t p = 0; p < m; p++)
      for (int32_t c = 0; c < f; c++) B[(size_t)ix[p] * f + c] += (double)v[p] * (double)y[c];
    for (int32_t c = 0; c < f; c++) B[(size_t)d * f + c] += (double)y[c];
  }
}

static int ridge_direct(const rp_csr *X, int32_t n, const uint8_t *keep, const float *Y, int32_t f,
                        double lambda, int32_t d, double *B, float *W, rp_err *err) {
  int D = d + 1, ok = 1;
  size_t cells = rp_mulsize((size_t)D, (size_t)D, &ok);
  double *G = ok ? rp_calloc(cells, sizeof *G) : NULL;
  double *Bc = rp_malloc((size_t)D * (size_t)f * sizeof *Bc);
  if (!G || !Bc) {
    rp_free(G);
    rp_free(Bc);
    return rp_enomem(err, "projection gram matrix");
  }
  /* upper triangle, column-major: G[a + b D], a <= b; indices ascend */
  for (int32_t r = 0; r < n; r++) {
    if (!keep[r]) continue;
    const int32_t *ix;
    const float *v;
    int64_t m;
    row_at(X, r, &ix, &v, &m);
    for (int64_t p = 0; p < m; p++) {
      double xa = v[p];
      size_t a = (size_t)ix[p];
      for (int64_t q = p; q < m; q++) G[a + (size_t)ix[q] * D] += xa * (double)v[q];
      G[a + (size_t)d * D] += xa;
    }
    G[(size_t)d + (size_t)d * D] += 1.0;
  }
  for (int32_t a = 0; a < d; a++) G[(size_t)a + (size_t)a * D] += lambda;
  for (int32_t a = 0; a < D; a++)
    for (int32_t c = 0; c < f; c++) Bc[(size_t)a + (size_t)c * D] = B[(size_t)a * f + c];
  int info = 0, nrhs = f;
  dposv_("U", &D, &nrhs, G, &D, Bc, &D, &info);
  int rc = RP_OK;
  if (info != 0)
    rc = rp_errf(err, RP_EINVAL,
                 "projection: the feature Gram matrix is not positive definite (lapack info "
                 "%d); use regularization > 0",
                 info);
  else
    for (int32_t a = 0; a < D; a++)
      for (int32_t c = 0; c < f; c++) W[(size_t)a * f + c] = (float)Bc[(size_t)a + (size_t)c * D];
  rp_free(G);
  rp_free(Bc);
  return rc;
}

/* Q = (X~'X~ + lambda I') P for row-major D x f blocks; T is n x f work. */
static void apply_a(const rp_csr *X, int32_t n, const uint8_t *keep, int32_t f, int32_t d,
                    double lambda, const double *P, double *Q, double *T) {
  size_t D = (size_t)d + 1;
  memset(Q, 0, D * (size_t)f * sizeof *Q);
  for (int32_t r = 0; r < n; r++) {
    if (!keep[r]) continue;
    const int32_t *ix;
    const float *v;
    int64_t m;
    row_at(X, r, &ix, &v, &m);
    double *t = T;
    for (int32_t c = 0; c < f; c++) t[c] = P[(size_t)d * f + c];
    for (int64_t p = 0; p < m; p++)
      for (int32_t c = 0; c < f; c++) t[c] += (double)v[p] * P[(size_t)ix[p] * f + c];
    for (int64_t p = 0; p < m; p++)
      for (int32_t c = 0; c < f; c++) Q[(size_t)ix[p] * f + c] += (double)v[p] * t[c];
    for (int32_t c = 0; c < f; c++) Q[(size_t)d * f + c] += t[c];
  }
  for (size_t a = 0; a < (size_t)d; a++)
    for (int32_t c = 0; c < f; c++) Q[a * f + c] += lambda * P[a * f + c];
}

static int ridge_cg(const rp_csr *X, int32_t n, const uint8_t *keep, int32_t f, double lambda,
                    int32_t d, const double *B, float *W, int *iters, rp_err *err) {
  size_t D = (size_t)d + 1, cells = D * (size_t)f;
  double *buf = rp_malloc((5 * cells + D + (size_t)f * 4) * sizeof *buf);
  if (!buf) return rp_enomem(err, "projection solver");
  double *Wd = buf, *R = Wd + cells, *Z = R + cells, *P = Z + cells, *Q = P + cells;
  double *M = Q + cells, *rz = M + D, *bn = rz + f, *T = bn + f, *tmp = T + f;
  (void)tmp;
  /* Jacobi preconditioner: the diagonal of A */
  for (size_t a = 0; a < D; a++) M[a] = a < (size_t)d ? lambda : 0;
  for (int32_t r = 0; r < n; r++) {
    if (!keep[r]) continue;
    const int32_t *ix;
    const float *v;
    int64_t m;
    row_at(X, r, &ix, &v, &m);
    for (int64_t p = 0; p < m; p++) M[ix[p]] += (double)v[p] * (double)v[p];
    M[d] += 1;
  }
  for (size_t a = 0; a < D; a++)
    if (M[a] <= 0) M[a] = 1;
  memset(Wd, 0, cells * sizeof *Wd);
  memcpy(R, B, cells * sizeof *R);
  for (int32_t c = 0; c < f; c++) rz[c] = bn[c] = 0;
  for (size_t a = 0; a < D; a++)
    for (int32_t c = 0; c < f; c++) {
      size_t at = a * f + c;
      Z[at] = R[at] / M[a];
      P[at] = Z[at];
      rz[c] += R[at] * Z[at];
      bn[c] += B[at] * B[at];
    }
  int it = 0;
  const int max_it = 2000;
  for (; it < max_it; it++) {
    double worst = 0;
    for (int32_t c = 0; c < f; c++) {
      double rn = 0;
      for (size_t a = 0; a < D; a++) rn += R[a * f + c] * R[a * f + c];
      double rel = bn[c] > 0 ? sqrt(rn / bn[c]) : 0;
      if (rel > worst) worst = rel;
    }
    if (worst < 1e-7) break;
    apply_a(X, n, keep, f, d, lambda, P, Q, T);
    for (int32_t c = 0; c < f; c++) {
      double pq = 0;
      for (size_t a = 0; a < D; a++) pq += P[a * f + c] * Q[a * f + c];
      double alpha = pq > 0 ? rz[c] / pq : 0;
      for (size_t a = 0; a < D; a++) {
        Wd[a * f + c] += alpha * P[a * f + c];
        R[a * f + c] -= alpha * Q[a * f + c];
      }
      double nrz = 0;
      for (size_t a = 0; a < D; a++) {
        Z[a * f + c] = R[a * f + c] / M[a];
        nrz += R[a * f + c] * Z[a * f + c];
      }
      double beta = rz[c] > 0 ? nrz / rz[c] : 0;
      rz[c] = nrz;
      for (size_t a = 0; a < D; a++) P[a * f + c] = Z[a * f + c] + beta * P[a * f + c];
    }
  }
  for (size_t a = 0; a < cells; a++) W[a] = (float)Wd[a];
  if (iters) *iters = it;
  rp_free(buf);
  return RP_OK;
}

int rp_hyb_ridge(const rp_csr *X, int32_t n, const uint8_t *keep, const float *Y, int32_t f,
                 double lambda, int max_direct, float *W, int *cg_iters, rp_err *err) {
  if (cg_iters) *cg_iters = 0;
  if (!(lambda >= 0) || !isfinite(lambda))
    return rp_errf(err, RP_EINVAL, "projection: regularization must be >= 0, got %g", lambda);
  int32_t d = X ? X->ncols : 0, kept = 0;
  for (int32_t r = 0; r < n; r++) kept += keep[r] != 0;
  if (kept == 0) return rp_errf(err, RP_EINVAL, "projection: no warm rows to fit on");
  double *B = rp_calloc(((size_t)d + 1) * (size_t)f, sizeof *B);
  if (!B) return rp_enomem(err, "projection");
  rhs(X, n, keep, Y, f, d, B);
  int rc = d + 1 <= (max_direct > 0 ? max_direct : 4096)
               ? ridge_direct(X, n, keep, Y, f, lambda, d, B, W, err)
               : ridge_cg(X, n, keep, f, lambda, d, B, W, cg_iters, err);
  rp_free(B);
  /* the weights are solved in double and used in float */
  for (size_t a = 0; rc == RP_OK && a < ((size_t)d + 1) * (size_t)f; a++)
    if (!isfinite(W[a]))
      rc = rp_errf(err, RP_EINVAL,
                   "projection: the fitted weights overflow float (regularization %g); raise "
                   "regularization or scale the features",
                   lambda);
  return rc;
}

/* ---- building the recommender ------------------------------------------------------ */
static int nonzero_row(const float *x, int32_t f) {
  for (int32_t c = 0; c < f; c++)
    if (x[c] != 0.0f) return 1;
  return 0;
}

/* x~ W into out (f floats). */
static void place(const rp_csr *X, int32_t r, const float *W, int32_t f, float *out) {
  int32_t d = X->ncols;
  for (int32_t c = 0; c < f; c++) out[c] = W[(size_t)d * f + c];
  for (int64_t t = X->indptr[r]; t < X->indptr[r + 1]; t++)
    for (int32_t c = 0; c < f; c++) out[c] += X->data[t] * W[(size_t)X->indices[t] * f + c];
}

/* Completes one side: out (nout x f) from the model's rows M (nm x f),
 * warm flags, features X (may be NULL).  ok[r] = row can be scored. */
static int complete(const float *M, int32_t nm, int32_t nout, int32_t f, const uint8_t *warm,
                    const rp_csr *X, const rp_project_opts *o, uint64_t stream, float *out,
                    uint8_t *ok, int32_t *nplaced, double *r2, int *cg_iters, rp_err *err) {
  *nplaced = 0;
  *r2 = 0;
  for (int32_t r = 0; r < nout; r++) {
    ok[r] = r < nm && warm[r];
    if (ok[r]) memcpy(out + (size_t)r * f, M + (size_t)r * f, (size_t)f * sizeof *out);
  }
  if (!X) return RP_OK;
  size_t wcells = ((size_t)X->ncols + 2) * (size_t)f; /* W and one spare row */
  float *W = rp_malloc(wcells * sizeof *W);
  double *mu = rp_calloc(2 * (size_t)f, sizeof *mu), *sd = mu ? mu + f : NULL;
  if (!W || !mu) {
    rp_free(W);
    rp_free(mu);
    return rp_enomem(err, "projection");
  }
  int rc = RP_OK;
  int32_t nwarm = 0;
  for (int32_t r = 0; r < nm; r++) nwarm += warm[r] != 0;
  if (nwarm == 0) {
    rc = rp_errf(err, RP_EINVAL, "projection: the model has no warm rows to learn from");
    goto done;
  }
  for (int32_t r = 0; r < nm; r++)
    if (warm[r])
      for (int32_t c = 0; c < f; c++) mu[c] += (double)M[(size_t)r * f + c];
  for (int32_t c = 0; c < f; c++) mu[c] /= nwarm;
  for (int32_t r = 0; r < nm; r++)
    if (warm[r])
      for (int32_t c = 0; c < f; c++) {
        double e = (double)M[(size_t)r * f + c] - mu[c];
        sd[c] += e * e;
      }
  for (int32_t c = 0; c < f; c++) sd[c] = sqrt(sd[c] / nwarm);
  if (o->method == RP_PROJ_RIDGE) {
    if ((rc = rp_hyb_ridge(X, nm, warm, M, f, o->regularization, o->max_direct, W, cg_iters, err)))
      goto done;
    /* r2 on the warm rows; the first cold output row is free scratch */
    double sse = 0, sst = 0;
    float *pred = W + (size_t)X->ncols * f + f; /* spare row past W */
    for (int32_t r = 0; r < nm; r++) {
      if (!warm[r]) continue;
      const float *y = M + (size_t)r * f;
      if (r < X->nrows)
        place(X, r, W, f, pred);
      else
        memcpy(pred, W + (size_t)X->ncols * f, (size_t)f * sizeof *pred);
      for (int32_t c = 0; c < f; c++) {
        double e = (double)y[c] - (double)pred[c], g = (double)y[c] - mu[c];
        sse += e * e;
        sst += g * g;
      }
    }
    *r2 = sst > 0 ? 1 - sse / sst : 0;
  }
  for (int32_t r = 0; r < nout; r++) {
    if (ok[r] || r >= X->nrows || X->indptr[r + 1] == X->indptr[r]) continue;
    float *dst = out + (size_t)r * f;
    if (o->method == RP_PROJ_RIDGE) {
      place(X, r, W, f, dst);
      for (int32_t c = 0; c < f; c++)
        if (!isfinite(dst[c])) {
          rc = rp_errf(err, RP_EINVAL,
                       "projection: row %d gets non-finite factors from its features (float "
                       "overflow; regularization %g): raise regularization or scale the features",
                       (int)r + 1, o->regularization);
          goto done;
        }
    } else {
      rp_rng g;
      rp_rng_seed(&g, o->seed, stream + (uint64_t)r);
      for (int32_t c = 0; c < f; c++) dst[c] = (float)(mu[c] + sd[c] * rp_rng_normal(&g));
    }
    ok[r] = 1;
    (*nplaced)++;
  }
done:
  rp_free(W);
  rp_free(mu);
  return rc;
}

static int32_t max3(int32_t a, int32_t b, int32_t c) {
  int32_t m = a > b ? a : b;
  return m > c ? m : c;
}

/* warm[r]: row r has interactions (train given) or non-zero factors. */
static uint8_t *warm_rows(const float *M, int32_t nm, int32_t f, const rp_csr *train, int cols,
                          rp_err *err) {
  uint8_t *w = rp_calloc((size_t)(nm ? nm : 1), 1);
  if (!w) return rp_enomem(err, "projection"), NULL;
  if (!train) {
    for (int32_t r = 0; r < nm; r++) w[r] = (uint8_t)nonzero_row(M + (size_t)r * f, f);
  } else if (cols) {
    for (int64_t t = 0; t < train->nnz; t++)
      if (train->indices[t] < nm) w[train->indices[t]] = 1;
  } else {
    for (int32_t r = 0; r < nm && r < train->nrows; r++)
      w[r] = train->indptr[r + 1] > train->indptr[r];
  }
  return w;
}

const char *const rp_project_method_names[] = {"ridge", "random", NULL};

#define O rp_project_opts
const rp_optdesc rp_project_optdesc[] = {
    RP_OPT_N(O, regularization, "regularization", 1.0, 0, HUGE_VAL, 0),
    RP_OPT_E(O, method, "method", RP_PROJ_RIDGE, rp_project_method_names),
    RP_OPT_SEED_(O, seed, "seed", 42),
    RP_OPT_I(O, max_direct, "max_direct", 4096, 0, 1 << 20), /* 0: 4096 */
    RP_OPT_X("user_features", "Features of the users (from rp.hybrid.features)"),
    RP_OPT_X("train", "the model's training Matrix (marks warm users and items)"),
    RP_OPT_END};
#undef O

void rp_project_opts_init(rp_project_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_project_optdesc, o);
}

int rp_hyb_project_new(const rp_factor_view *fm, const rp_features *items, const rp_features *users,
                       const rp_project_opts *o, rp_hyb_rec **out, rp_project_info *info,
                       rp_err *err) {
  *out = NULL;
  rp_project_info dummy;
  if (!info) info = &dummy;
  memset(info, 0, sizeof *info);
  int rc0 = rp_opts_check(rp_project_optdesc, o, err);
  if (rc0) return rc0;
  if (fm->f < 1 || fm->nu < 0 || fm->ni < 0)
    return rp_errf(err, RP_EINVAL, "projection: bad factor model shape");
  if (items && fm->items && items->m->rowmap && items->m->rowmap != fm->items)
    return rp_errf(err, RP_EINVAL, "projection: the item features are not on the model's item map");
  if (users && fm->users && users->m->rowmap && users->m->rowmap != fm->users)
    return rp_errf(err, RP_EINVAL, "projection: the user features are not on the model's user map");
  if (o->train && ((fm->users && o->train->rowmap && o->train->rowmap != fm->users) ||
                   (fm->items && o->train->colmap && o->train->colmap != fm->items)))
    return rp_errf(err, RP_EINVAL, "projection: the training matrix is not on the model's maps");
  double t0 = rp_now();
  project *p = rp_calloc(1, sizeof *p);
  if (!p) return rp_enomem(err, "projection");
  rp_hyb_rec *r = &p->base;
  r->destroy = project_destroy;
  r->kind = RP_HYB_PROJECT;
  r->reason = "projection";
  r->one = project_one;
  int32_t f = fm->f;
  p->f = f;
  p->ni = max3(fm->ni, items ? items->m->nrows : 0, fm->items ? fm->items->n : 0);
  p->nu = max3(fm->nu, users ? users->m->nrows : 0, fm->users ? fm->users->n : 0);
  uint8_t *iok = NULL, *wi = NULL, *wu = NULL;
  int rc = RP_OK;
  if (!(p->m = rp_als_model_new(p->nu, p->ni, f, fm->users, fm->items, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto fail;
  }
  p->U = p->m->user_factors;
  p->V = p->m->item_factors;
  p->uok = rp_calloc((size_t)(p->nu ? p->nu : 1), 1);
  iok = rp_calloc((size_t)(p->ni ? p->ni : 1), 1);
  if (!p->uok || !iok) {
    rc = rp_enomem(err, "projection");
    goto fail;
  }
  if (!(wi = warm_rows(fm->V, fm->ni, f, o->train, 1, err)) ||
      !(wu = warm_rows(fm->U, fm->nu, f, o->train, 0, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto fail;
  }
  int32_t placed;
  if ((rc = complete(fm->V, fm->ni, p->ni, f, wi, items ? items->m : NULL, o, 0, p->V, iok, &placed,
                     &info->item_r2, &info->cg_iterations, err)))
    goto fail;
  info->projected_items = placed;
  if ((rc = complete(fm->U, fm->nu, p->nu, f, wu, users ? users->m : NULL, o, (uint64_t)1 << 40,
                     p->U, p->uok, &placed, &info->user_r2, &info->cg_iterations, err)))
    goto fail;
  info->projected_users = placed;
  for (int32_t i = 0; i < p->ni; i++) {
    info->warm_items += i < fm->ni && wi[i];
    p->nunplaced += !iok[i];
  }
  for (int32_t u = 0; u < fm->nu; u++) info->warm_users += wu[u] != 0;
  info->unplaced_items = p->nunplaced;
  info->item_features = items ? items->m->ncols : 0;
  info->user_features = users ? users->m->ncols : 0;
  p->unplaced = rp_malloc((size_t)(p->nunplaced ? p->nunplaced : 1) * sizeof *p->unplaced);
  if (!p->unplaced) {
    rc = rp_enomem(err, "projection");
    goto fail;
  }
  for (int32_t i = 0, j = 0; i < p->ni; i++)
    if (!iok[i]) p->unplaced[j++] = i;
  if ((rc = rp_als_model_refresh(p->m, err))) goto fail;
  rp_free(iok);
  rp_free(wi);
  rp_free(wu);
  info->fit_seconds = rp_now() - t0;
  r->api.name = "projection";
  r->api.self = r;
  r->api.users = fm->users;
  r->api.items = fm->items;
  r->api.nusers = p->nu;
  r->api.nitems = p->ni;
  r->api.recommend = rp_hyb_batch;
  r->api.one = rp_hyb_one;
  *out = r;
  return RP_OK;
fail:
  rp_free(iok);
  rp_free(wi);
  rp_free(wu);
  rp_hyb_rec_free(r);
  return rc;
}
