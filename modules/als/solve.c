/*
 * solve.c -- the per-row least-squares solves of ALS.
 *
 * For one user u with stored items j (values r_j), with the other side's
 * factors Y and G = Y^T Y, the half-step minimises over x
 *
 *   sum_i c_ui (p_ui - x.y_i)^2 + lambda |x|^2,
 *
 * whose normal equations are
 *
 *   A x = b,  A = G + lambda I + sum_j w_j y_j y_j^T,  b = sum_j bc_j y_j,
 *
 * with w_j = c_j - 1 and bc_j = c_j p_j (als_impl.h): the c = 1 of every
 * absent pair is folded into G, so the per-row work is O(n_u f) for CG and
 * O(n_u f^2 + f^3) for Cholesky instead of O(n_items f^2).  Explicit ALS is
 * the same with G = 0, w_j = 1, bc_j = r_j.
 *
 * CG (Takacs, Pilaszy & Tikk 2011; implicit's least_squares_cg): a few
 * steps of conjugate gradient on A x = b starting from the previous x,
 * never forming A: A p = G p + lambda p + sum_j w_j (y_j.p) y_j.  The first
 * pass gathers the rows y_j into a contiguous block so the cg_steps passes
 * that follow read it sequentially from cache.
 *
 * Cholesky: the rows are gathered once into a block B and a weighted copy
 * Bw = diag(w) B, A = G + lambda I + Bw^T B is one rank-k update computed
 * in registers (kernels.c: compute-bound, no BLAS call overhead per row),
 * then factorised A = U^T U and solved by two triangular solves.  The
 * weights may be negative (confidence below 1); A stays positive definite
 * because sum_i c_ui y_i y_i^T >= 0.
 */
#include <string.h>

#include "als_impl.h"

size_t rp_als_scratch_floats(int32_t f, int64_t cap, int *ok) {
  size_t fa = ((size_t)f + 15) & ~(size_t)15, ca = ((size_t)cap + 15) & ~(size_t)15;
  return 2 * rp_mulsize(ca, fa, ok) + 2 * ca + fa * (size_t)rp_als_chol_ld(f) + 5 * fa +
         2 * rp_als_scratch_doubles(f);
}

int rp_als_scratch_init(rp_als_scratch *s, int32_t f, int64_t cap, rp_err *err) {
  memset(s, 0, sizeof *s);
  /* each piece starts on a 64-byte boundary */
  size_t fa = ((size_t)f + 15) & ~(size_t)15, ca = ((size_t)cap + 15) & ~(size_t)15;
  int ok = 1;
  size_t total = rp_als_scratch_floats(f, cap, &ok);
  float *mem = ok ? rp_malloc(rp_mulsize(total, sizeof(float), &ok)) : NULL;
  if (!mem || !ok) {
    rp_free(mem);
    return rp_enomem(err, "als scratch");
  }
  s->cap = cap;
  s->B = mem;
  s->Bw = s->B + ca * fa;
  s->w = s->Bw + ca * fa;
  s->bc = s->w + ca;
  s->A = s->bc + ca;
  s->r = s->A + fa * (size_t)rp_als_chol_ld(f);
  s->p = s->r + fa;
  s->Ap = s->p + fa;
  s->b = s->Ap + fa;
  s->t = s->b + fa;
  s->D = (double *)(void *)(s->t + fa); /* fa is a multiple of 16: 64-byte aligned */
  return RP_OK;
}

void rp_als_scratch_free(rp_als_scratch *s) {
  rp_free(s->B);
  memset(s, 0, sizeof *s);
}

/* Ap = G p + lambda p (G may be NULL) */
static void base_apply(const rp_als_side *s, float lambda, const float *p, float *Ap) {
  int32_t f = s->f;
  if (s->G)
    rp_als_symv(s->G, p, Ap, f);
  else
    for (int32_t d = 0; d < f; d++) Ap[d] = 0;
  rp_als_axpy(lambda, p, Ap, f);
}

void rp_als_solve_cg(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                     float *x, rp_als_scratch *sc) {
  int32_t f = s->f;
  if (n == 0) {
    memset(x, 0, sizeof(float) * (size_t)f);
    return;
  }
  const rp_als_opts *o = s->o;
  float lambda = rp_als_lambda(o, n);
  int blocked = n <= sc->cap;
  float *r = sc->r, *p = sc->p, *Ap = sc->Ap;

  /* r = b - A x, gathering the rows on the way */
  base_apply(s, lambda, x, Ap);
  for (int32_t d = 0; d < f; d++) r[d] = -Ap[d];
  for (int64_t a = 0; a < n; a += sc->cap) {
    int64_t m = n - a < sc->cap ? n - a : sc->cap;
    rp_als_weights(o, val + a, m, sc->w, sc->bc);
    rp_als_gather_residual(s->Y, idx + a, m, f, sc->w, sc->bc, x, blocked ? sc->B : NULL, r,
                           a == 0 ? sc->next : NULL, a == 0 ? sc->nnext : 0);
  }
  if (sc->nnext > n) rp_als_prefetch_rows(s->Y, sc->next + n, sc->nnext - n, f);
  memcpy(p, r, sizeof(float) * (size_t)f);
  float rsold = rp_als_dot(r, r, f);
  if (rsold < 1e-20f) return;

  for (int32_t it = 0; it < o->cg_steps; it++) {
    base_apply(s, lambda, p, Ap);
    if (blocked)
      rp_als_block_apply(sc->B, NULL, NULL, n, f, sc->w, p, Ap);
    else
      for (int64_t a = 0; a < n; a += sc->cap) {
        int64_t m = n - a < sc->cap ? n - a : sc->cap;
        rp_als_weights(o, val + a, m, sc->w, sc->bc);
        rp_als_block_apply(NULL, s->Y, idx + a, m, f, sc->w, p, Ap);
      }
    float alpha = rsold / rp_als_dot(p, Ap, f);
    rp_als_axpy(alpha, p, x, f);
    rp_als_axpy(-alpha, Ap, r, f);
    float rsnew = rp_als_dot(r, r, f);
    if (rsnew < 1e-20f) break;
    float beta = rsnew / rsold;
    for (int32_t d = 0; d < f; d++) p[d] = r[d] + beta * p[d];
    rsold = rsnew;
  }
}

/* A (upper triangle of sc->A) and b (sc->b) of a row; -1 on float overflow */
static int build_normal(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                        rp_als_scratch *sc) {
  const rp_als_opts *o = s->o;
  int32_t f = s->f;
  int64_t ld = rp_als_chol_ld(f);
  float *A = sc->A, *b = sc->b;
  for (int32_t i = 0; i < f; i++) {
    float *ai = A + i * ld;
    if (s->G)
      memcpy(ai, s->G + (int64_t)i * f, sizeof(float) * (size_t)f);
    else
      memset(ai, 0, sizeof(float) * (size_t)f);
    memset(ai + f, 0, sizeof(float) * (size_t)(ld - f));
  }
  float lambda = rp_als_lambda(o, n);
  for (int32_t d = 0; d < f; d++) A[d * ld + d] += lambda, b[d] = 0;
  for (int64_t a = 0; a < n; a += sc->cap) {
    int64_t m = n - a < sc->cap ? n - a : sc->cap;
    rp_als_weights(o, val + a, m, sc->w, sc->bc);
    rp_als_gather_scale(s->Y, idx + a, m, f, sc->w, sc->bc, sc->B, sc->Bw, b,
                        a == 0 ? sc->next : NULL, a == 0 ? sc->nnext : 0);
    rp_als_syrk_upper(sc->Bw, sc->B, m, f, A, ld);
  }
  if (sc->nnext > n) rp_als_prefetch_rows(s->Y, sc->next + n, sc->nnext - n, f);
  /* overflow shows on the diagonal (|A_ij| <= sqrt(A_ii A_jj)) or in b */
  for (int32_t d = 0; d < f; d++)
    if (!isfinite(A[d * ld + d]) || !isfinite(b[d])) return -1;
  return 0;
}

int rp_als_factor_row(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                      rp_als_scratch *sc) {
  int32_t f = s->f;
  int64_t ld = rp_als_chol_ld(f);
  if (build_normal(s, idx, val, n, sc)) return -1;
  for (int32_t d = 0; d < f; d++) sc->A[d * ld + f] = sc->b[d];
  return rp_als_cholesky_upper(sc->A, f, f + 1, ld);
}

int rp_als_cholesky_solve_d(double *A, int32_t f, double *b) {
  /* A = L L^T, L in the lower triangle, row by row (inner loops run along
   * rows, contiguous) */
  for (int32_t j = 0; j < f; j++) {
    double *lj = A + (int64_t)j * f;
    double d = lj[j];
    for (int32_t k = 0; k < j; k++) d -= lj[k] * lj[k];
    if (!(d > 0)) return j + 1;
    d = sqrt(d);
    lj[j] = d;
    for (int32_t i = j + 1; i < f; i++) {
      double *li = A + (int64_t)i * f;
      double v = li[j];
      for (int32_t k = 0; k < j; k++) v -= li[k] * lj[k];
      li[j] = v / d;
    }
  }
  for (int32_t i = 0; i < f; i++) { /* L y = b */
    const double *li = A + (int64_t)i * f;
    double v = b[i];
    for (int32_t k = 0; k < i; k++) v -= li[k] * b[k];
    b[i] = v / li[i];
  }
  for (int32_t i = f - 1; i >= 0; i--) { /* L^T x = y */
    double v = b[i];
    for (int32_t k = i + 1; k < f; k++) v -= A[(int64_t)k * f + i] * b[k];
    b[i] = v / A[(int64_t)i * f + i];
  }
  return 0;
}

int rp_als_solve_exact(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                       float *x, rp_als_scratch *sc) {
  int32_t f = s->f;
  if (n == 0) {
    memset(x, 0, sizeof(float) * (size_t)f);
    return 0;
  }
  if (build_normal(s, idx, val, n, sc)) return -1;
  int64_t ld = rp_als_chol_ld(f);
  double *A = sc->D, *b = A + (size_t)f * (size_t)f;
  /* the upper triangle row i, columns j >= i, into both triangles */
  for (int32_t i = 0; i < f; i++)
    for (int32_t j = i; j < f; j++)
      A[(int64_t)i * f + j] = A[(int64_t)j * f + i] = sc->A[i * ld + j];
  for (int32_t d = 0; d < f; d++) b[d] = sc->b[d];
  if (s->o->nonnegative) {
    double *xd = b + f, *work = xd + f;
    int info = rp_als_nnls(A, b, f, xd, work);
    if (info) return info;
    for (int32_t d = 0; d < f; d++) x[d] = (float)xd[d];
    return 0;
  }
  int info = rp_als_cholesky_solve_d(A, f, b);
  if (info) return info;
  for (int32_t d = 0; d < f; d++) x[d] = (float)b[d];
  return 0;
}

int rp_als_solve_cholesky(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                          float *x, rp_als_scratch *sc) {
  int32_t f = s->f;
  if (n == 0) {
    memset(x, 0, sizeof(float) * (size_t)f);
    return 0;
  }
  int info = rp_als_factor_row(s, idx, val, n, sc);
  if (info) return info;
  int64_t ld = rp_als_chol_ld(f);
  for (int32_t d = 0; d < f; d++) sc->t[d] = sc->A[d * ld + f];
  rp_als_chol_backward(sc->A, f, ld, sc->t, sc->p);
  memcpy(x, sc->p, sizeof(float) * (size_t)f);
  return 0;
}
