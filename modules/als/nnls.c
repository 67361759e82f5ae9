/*
 * nnls.c -- non-negative least squares for one row (Spark's nonnegative =
 * true), by the active-set method of Lawson & Hanson (Solving Least
 * Squares Problems, 1974, ch. 23) in the normal-equation form ALS has:
 *
 *   min_x  1/2 x^T A x - b^T x   subject to  x >= 0,   A symmetric positive
 *                                                       definite (f x f)
 *
 * which is min |Mx - y|^2 for any M with M^T M = A, M^T y = b.  P is the
 * passive set (free variables), the rest are held at 0.  Each outer step
 * frees the variable with the largest positive w = b - A x (the negative
 * gradient); the inner loop solves A_PP z = b_P (Cholesky, double) and, if
 * some z_j <= 0, moves x towards z as far as feasibility allows and drops
 * the variables that reached 0.  It ends when no held variable has w_j > 0
 * (the KKT conditions), in finitely many steps; a cap of 3f outer steps
 * guards against cycling from rounding.
 */
#include <string.h>

#include "als_impl.h"

/* z_P = A_PP^-1 b_P for the passive set P (np indices in p), z elsewhere
 * 0; work: np^2 + np doubles.  Returns 0 or the failing pivot + 1. */
static int solve_passive(const double *A, const double *b, int32_t f, const int32_t *p, int32_t np,
                         double *z, double *work) {
  double *S = work, *r = work + (size_t)np * np;
  for (int32_t a = 0; a < np; a++) {
    for (int32_t c = 0; c < np; c++) S[a * np + c] = A[(int64_t)p[a] * f + p[c]];
    r[a] = b[p[a]];
  }
  int info = rp_als_cholesky_solve_d(S, np, r);
  if (info) return info;
  memset(z, 0, sizeof(double) * (size_t)f);
  for (int32_t a = 0; a < np; a++) z[p[a]] = r[a];
  return 0;
}

int rp_als_nnls(const double *A, const double *b, int32_t f, double *x, double *work) {
  double *w = work, *z = w + f, *sub = z + f;
  int32_t *p = (int32_t *)(void *)(sub + (size_t)f * f + f), np = 0;
  char *passive = (char *)(p + f);
  memset(passive, 0, (size_t)f);
  memset(x, 0, sizeof(double) * (size_t)f);
  /* the tolerance on the gradient: relative to the problem's scale */
  double scale = 0;
  for (int32_t d = 0; d < f; d++) scale = fmax(scale, fabs(b[d]));
  double tol = 1e-12 * (scale > 0 ? scale : 1);
  for (int32_t outer = 0; outer < 3 * f; outer++) {
    for (int32_t j = 0; j < f; j++) {
      double g = b[j];
      for (int32_t k = 0; k < f; k++) g -= A[(int64_t)j * f + k] * x[k];
      w[j] = g;
    }
    int32_t best = -1;
    for (int32_t j = 0; j < f; j++)
      if (!passive[j] && w[j] > tol && (best < 0 || w[j] > w[best])) best = j;
    if (best < 0) return 0;
    passive[best] = 1;
    p[np++] = best;
    for (int32_t inner = 0; inner <= f; inner++) {
      int info = solve_passive(A, b, f, p, np, z, sub);
      if (info) return info;
      int feasible = 1;
      for (int32_t a = 0; a < np; a++) feasible &= z[p[a]] > 0;
      if (feasible) {
        memcpy(x, z, sizeof(double) * (size_t)f);
        break;
      }
      /* the longest step from x towards z that keeps P's variables >= 0 */
      double alpha = 1;
      int32_t stop = -1;
      for (int32_t a = 0; a < np; a++) {
        int32_t j = p[a];
        if (z[j] <= 0) {
          double t = x[j] / (x[j] - z[j]);
          if (stop < 0 || t < alpha) alpha = t, stop = j;
        }
      }
      for (int32_t j = 0; j < f; j++) x[j] += alpha * (z[j] - x[j]);
      /* the variable that stopped the step (0 but for rounding) and any
       * other at or below 0 leave P */
      int32_t keep = 0;
      for (int32_t a = 0; a < np; a++) {
        int32_t j = p[a];
        if (j == stop || x[j] <= 0) {
          x[j] = 0;
          passive[j] = 0;
        } else {
          p[keep++] = j;
        }
      }
      np = keep;
      if (np == 0) break;
    }
  }
  return 0;
}
