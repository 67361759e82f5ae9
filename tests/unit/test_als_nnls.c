/* Check tests for the non-negative least squares of nnls.c against an
 * independent solver (every active set tried, f <= 6), and for
 * nonnegative = true in training, fold-in and partial fits. */
#include <math.h>

#include "als_impl.h"
#include "rptest.h"

#pragma GCC diagnostic ignored "-Wdouble-promotion"

/* a random symmetric positive definite f x f A = M^T M + 0.01 I and b */
static void random_problem(rp_rng *g, int f, double *A, double *b) {
  double M[8 * 6];
  for (int e = 0; e < 8 * f; e++) M[e] = rp_rng_normal(g);
  for (int i = 0; i < f; i++) {
    for (int j = 0; j < f; j++) {
      double s = i == j ? 0.01 : 0;
      for (int k = 0; k < 8; k++) s += M[k * f + i] * M[k * f + j];
      A[i * f + j] = s;
    }
    b[i] = 3 * rp_rng_normal(g);
  }
}

/* the reference: for every subset S of the variables, the unconstrained
 * minimiser on S (Gaussian elimination); the best feasible one wins */
static void brute_nnls(const double *A, const double *b, int f, double *x) {
  double best = INFINITY;
  for (int mask = 0; mask < (1 << f); mask++) {
    int idx[6], n = 0;
    for (int j = 0; j < f; j++)
      if (mask >> j & 1) idx[n++] = j;
    double S[36], r[6], z[6] = {0};
    for (int a = 0; a < n; a++) {
      for (int c = 0; c < n; c++) S[a * n + c] = A[idx[a] * f + idx[c]];
      r[a] = b[idx[a]];
    }
    for (int k = 0; k < n; k++)
      for (int i = k + 1; i < n; i++) {
        double q = S[i * n + k] / S[k * n + k];
        for (int j = k; j < n; j++) S[i * n + j] -= q * S[k * n + j];
        r[i] -= q * r[k];
      }
    for (int k = n - 1; k >= 0; k--) {
      for (int j = k + 1; j < n; j++) r[k] -= S[k * n + j] * r[j];
      r[k] /= S[k * n + k];
    }
    int ok = 1;
    for (int a = 0; a < n; a++) ok &= r[a] >= 0, z[idx[a]] = r[a];
    if (!ok) continue;
    double obj = 0;
    for (int i = 0; i < f; i++) {
      obj -= b[i] * z[i];
      for (int j = 0; j < f; j++) obj += 0.5 * z[i] * A[i * f + j] * z[j];
    }
    if (obj < best) {
      best = obj;
      for (int i = 0; i < f; i++) x[i] = z[i];
    }
  }
}

START_TEST(nnls_matches_brute_force) {
  rp_rng g;
  rp_rng_seed(&g, 17, 0);
  double A[36], b[6], x[6], want[6], work[RP_ALS_NNLS_WORK(6)];
  int active = 0;
  for (int trial = 0; trial < 600; trial++) {
    int f = 1 + trial % 6;
    random_problem(&g, f, A, b);
    brute_nnls(A, b, f, want);
    ck_assert_int_eq(rp_als_nnls(A, b, f, x, work), 0);
    double scale = 1e-12;
    for (int i = 0; i < f; i++) scale = fmax(scale, fabs(want[i]));
    for (int i = 0; i < f; i++) {
      ck_assert_msg(x[i] >= 0, "trial %d: x[%d] = %g < 0", trial, i, x[i]);
      ck_assert_msg(fabs(x[i] - want[i]) <= 1e-9 * scale, "trial %d f %d: x[%d] %.12g vs %.12g",
                    trial, f, i, x[i], want[i]);
    }
    for (int i = 0; i < f; i++) active += want[i] == 0;
  }
  ck_assert(active > 300); /* the constraints were binding often */
}
END_TEST

START_TEST(nnls_unconstrained_is_cholesky) {
  /* b = A x0 with x0 > 0: the constraint is inactive, x = x0 */
  double A[9] = {4, 1, 0, 1, 3, 1, 0, 1, 2}, x0[3] = {1, 2, 0.5}, b[3], x[3],
         work[RP_ALS_NNLS_WORK(3)];
  for (int i = 0; i < 3; i++) b[i] = A[i * 3] * x0[0] + A[i * 3 + 1] * x0[1] + A[i * 3 + 2] * x0[2];
  ck_assert_int_eq(rp_als_nnls(A, b, 3, x, work), 0);
  for (int i = 0; i < 3; i++) ck_assert(fabs(x[i] - x0[i]) < 1e-12);
  /* all of b negative: x = 0 */
  double bn[3] = {-1, -2, -3};
  ck_assert_int_eq(rp_als_nnls(A, bn, 3, x, work), 0);
  for (int i = 0; i < 3; i++) ck_assert(x[i] == 0);
}
END_TEST

static rp_csr *random_matrix(int32_t nu, int32_t ni, int per_row, uint64_t seed) {
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  int64_t cap = (int64_t)nu * per_row, n = 0;
  int32_t *r = malloc(sizeof(int32_t) * (size_t)cap), *c = malloc(sizeof(int32_t) * (size_t)cap);
  float *v = malloc(sizeof(float) * (size_t)cap);
  for (int32_t u = 0; u < nu; u++)
    for (int k = 0; k < per_row; k++) {
      r[n] = u, c[n] = (int32_t)rp_rng_below(&g, (uint64_t)ni);
      v[n++] = (float)(rp_rng_uniform(&g) * 4 - 1);
    }
  rp_err err;
  rp_csr *m = rp_csr_build(nu, ni, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_msg(m != NULL, "%s", err.msg);
  free(r), free(c), free(v);
  return m;
}

START_TEST(nonnegative_training) {
  rp_csr *ui = random_matrix(80, 50, 8, 3);
  for (int implicit = 0; implicit <= 1; implicit++)
    for (int solver = 0; solver <= 1; solver++) {
      rp_als_opts o;
      rp_als_opts_default(&o);
      o.factors = 6, o.iterations = 4, o.regularization = 0.1, o.implicit = implicit;
      o.solver = solver, o.nonnegative = 1, o.threads = 2;
      rp_err err;
      rp_als_model *m = NULL;
      ck_assert_msg(rp_als_train(ui, &o, NULL, &m, &err) == RP_OK, "%s", err.msg);
      int zeros = 0;
      for (int64_t e = 0; e < (int64_t)m->nusers * 6; e++) {
        ck_assert(m->user_factors[e] >= 0);
        zeros += m->user_factors[e] == 0;
      }
      for (int64_t e = 0; e < (int64_t)m->nitems * 6; e++) ck_assert(m->item_factors[e] >= 0);
      ck_assert(zeros > 0); /* the bound was active somewhere */
      /* fold-in and partial fits keep the constraint */
      int32_t items[3] = {1, 2, 3};
      float vals[3] = {2, -1, 1}, x[6];
      ck_assert_int_eq(rp_als_foldin(m, items, vals, 3, x, &err), 0);
      for (int d = 0; d < 6; d++) ck_assert(x[d] >= 0);
      rp_csr *one = random_matrix(1, 50, 5, 9);
      int32_t row = 80;
      ck_assert_int_eq(rp_als_partial_fit(m, 0, &row, one, 1, &err), 0);
      for (int d = 0; d < 6; d++) ck_assert(m->user_factors[80 * 6 + d] >= 0);
      rp_csr_free(one);
      rp_als_model_free(m);
    }
  rp_csr_free(ui);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als_nnls");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, nnls_matches_brute_force);
  tcase_add_test(tc, nnls_unconstrained_is_cholesky);
  tcase_add_test(tc, nonnegative_training);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
