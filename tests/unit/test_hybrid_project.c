/* Check tests for the projection: the ridge solve (Cholesky and conjugate
 * gradient) against exact answers and a naive dense solver, the completed
 * factors of cold rows, the random-placement baseline, fault loops. */
#include <math.h>

#include "hybrid.h"
#include "rptest.h"

/* A random sparse n x d matrix with about 3 entries a row (some rows empty). */
static rp_csr *random_rows(int n, int d, uint64_t seed, rp_idmap *rows, rp_idmap *cols) {
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  int32_t *r = malloc(sizeof(int32_t) * (size_t)n * 3),
          *c = malloc(sizeof(int32_t) * (size_t)n * 3);
  float *v = malloc(sizeof(float) * (size_t)n * 3);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (i % 11 == 5) continue;
    for (int t = 0; t < 3; t++)
      r[k] = i, c[k] = (int32_t)rp_rng_below(&g, (uint64_t)d),
      v[k++] = (float)(0.5 + rp_rng_uniform(&g));
  }
  rp_csr *m = rp_csr_build(n, d, r, c, v, NULL, k, RP_AGG_SUM, rows, cols, NULL);
  ck_assert_ptr_nonnull(m);
  free(r);
  free(c);
  free(v);
  return m;
}

/* Naive: dense normal equations with intercept, Gaussian elimination. */
static void naive_ridge(const rp_csr *X, int n, const uint8_t *keep, const float *Y, int f,
                        double lambda, double *W) {
  int d = X->ncols, D = d + 1;
  double *A = calloc((size_t)D * (size_t)(D + f), sizeof *A); /* [A | B] */
  for (int r = 0; r < n; r++) {
    if (!keep[r]) continue;
    double x[64] = {0};
    for (int64_t k = X->indptr[r]; k < X->indptr[r + 1]; k++) x[X->indices[k]] = X->data[k];
    x[d] = 1;
    for (int a = 0; a < D; a++) {
      for (int b = 0; b < D; b++) A[a * (D + f) + b] += x[a] * x[b];
      for (int c = 0; c < f; c++) A[a * (D + f) + D + c] += x[a] * (double)Y[r * f + c];
    }
  }
  for (int a = 0; a < d; a++) A[a * (D + f) + a] += lambda;
  for (int p = 0; p < D; p++) {
    int best = p;
    for (int q = p + 1; q < D; q++)
      if (fabs(A[q * (D + f) + p]) > fabs(A[best * (D + f) + p])) best = q;
    for (int c = 0; c < D + f; c++) {
      double t = A[p * (D + f) + c];
      A[p * (D + f) + c] = A[best * (D + f) + c];
      A[best * (D + f) + c] = t;
    }
    for (int q = 0; q < D; q++) {
      if (q == p) continue;
      double m = A[q * (D + f) + p] / A[p * (D + f) + p];
      for (int c = p; c < D + f; c++) A[q * (D + f) + c] -= m * A[p * (D + f) + c];
    }
  }
  for (int a = 0; a < D; a++)
    for (int c = 0; c < f; c++) W[a * f + c] = A[a * (D + f) + D + c] / A[a * (D + f) + a];
  free(A);
}

START_TEST(ridge_exact_and_naive) {
  enum { N = 300, D = 12, F = 5 };
  rp_csr *X = random_rows(N, D, 1, NULL, NULL);
  float Wt[(D + 1) * F], Y[N * F], W[(D + 1) * F], Wcg[(D + 1) * F];
  rp_rng g;
  rp_rng_seed(&g, 2, 0);
  for (int i = 0; i < (D + 1) * F; i++) Wt[i] = (float)rp_rng_normal(&g);
  uint8_t keep[N];
  for (int r = 0; r < N; r++) {
    keep[r] = r % 7 != 3;
    for (int c = 0; c < F; c++) {
      double y = Wt[D * F + c];
      for (int64_t k = X->indptr[r]; k < X->indptr[r + 1]; k++)
        y += (double)X->data[k] * (double)Wt[X->indices[k] * F + c];
      Y[r * F + c] = keep[r] ? (float)y : 1e6f; /* rows left out must not matter */
    }
  }
  rp_err err;
  int it = -1;
  /* (near) no regularisation: the planted weights come back */
  ck_assert_int_eq(rp_hyb_ridge(X, N, keep, Y, F, 1e-7, 0, W, &it, &err), 0);
  ck_assert_int_eq(it, 0);
  for (int i = 0; i < (D + 1) * F; i++) ck_assert_double_eq_tol((double)W[i], (double)Wt[i], 1e-3);
  /* lambda 2: direct and CG agree with the naive solver */
  double Wn[(D + 1) * F];
  naive_ridge(X, N, keep, Y, F, 2.0, Wn);
  ck_assert_int_eq(rp_hyb_ridge(X, N, keep, Y, F, 2.0, 0, W, &it, &err), 0);
  ck_assert_int_eq(rp_hyb_ridge(X, N, keep, Y, F, 2.0, 1, Wcg, &it, &err), 0);
  ck_assert_int_gt(it, 0);
  for (int i = 0; i < (D + 1) * F; i++) {
    ck_assert_double_eq_tol((double)W[i], Wn[i], 1e-4 * (1 + fabs(Wn[i])));
    ck_assert_double_eq_tol((double)Wcg[i], Wn[i], 1e-4 * (1 + fabs(Wn[i])));
  }
  /* rows past the end of X are empty: they pull only the intercept */
  uint8_t none[N + 5];
  float Y2[(N + 5) * F];
  memset(none, 0, sizeof none);
  for (int c = 0; c < F; c++) Y2[(N + 2) * F + c] = (float)c;
  none[N + 2] = 1;
  ck_assert_int_eq(rp_hyb_ridge(X, N + 5, none, Y2, F, 1.0, 0, W, &it, &err), 0);
  for (int c = 0; c < F; c++) ck_assert_double_eq_tol((double)W[D * F + c], c, 1e-5);
  /* errors: nothing to fit, singular without regularisation, bad lambda */
  memset(none, 0, sizeof none);
  ck_assert_int_eq(rp_hyb_ridge(X, N, none, Y, F, 1.0, 0, W, &it, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "no warm rows"));
  none[0] = 1;
  ck_assert_int_eq(rp_hyb_ridge(X, N, none, Y, F, 0.0, 0, W, &it, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "regularization > 0"));
  ck_assert_int_eq(rp_hyb_ridge(X, N, keep, Y, F, -1, 0, W, &it, &err), RP_EINVAL);
  RP_FAULT_LOOP(rp_hyb_ridge(X, N, keep, Y, F, 2.0, 0, W, &it, NULL));
  RP_FAULT_LOOP(rp_hyb_ridge(X, N, keep, Y, F, 2.0, 1, W, &it, NULL));
  rp_csr_free(X);
}
END_TEST

/* issue 8: weights solved in double that overflow float are an error, not
 * infinite scores (features of 1e-40 mapped to factors of order 1) */
START_TEST(ridge_overflowing_float_is_an_error) {
  int32_t r[2] = {0, 1}, c[2] = {0, 0};
  float v[2] = {1e-40f, 2e-40f}, Y[2] = {0.0f, 1.0f}, W[2];
  rp_err err;
  rp_csr *X = rp_csr_build(2, 1, r, c, v, NULL, 2, RP_AGG_SUM, NULL, NULL, &err);
  uint8_t keep[2] = {1, 1};
  int it;
  ck_assert_int_eq(rp_hyb_ridge(X, 2, keep, Y, 1, 0.0, 0, W, &it, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "projection: the fitted weights overflow float (regularization 0); "
                   "raise regularization or scale the features");
  /* with regularization the same fit is finite */
  ck_assert_int_eq(rp_hyb_ridge(X, 2, keep, Y, 1, 1.0, 0, W, &it, &err), RP_OK);
  ck_assert(isfinite(W[0]) && isfinite(W[1]));
  rp_csr_free(X);
}
END_TEST

/* A model whose item factors are a linear function of item features:
 * warm items keep their factors, cold items get x W. */
START_TEST(project_completes_cold_rows) {
  enum { NU = 30, NI = 200, D = 8, F = 4 };
  rp_idmap *users = rp_test_numbered("u", NU), *items = rp_test_numbered("i", NI),
           *names = rp_test_numbered("f=", D);
  rp_csr *X = random_rows(NI, D, 5, items, names);
  char fname[] = "f";
  rp_features feat = {X, 1, {fname}, NULL};
  int16_t fo[D] = {0};
  feat.field_of = fo;
  static float U[NU * F], V[NI * F];
  float Wt[(D + 1) * F];
  rp_rng g;
  rp_rng_seed(&g, 9, 0);
  for (int i = 0; i < (D + 1) * F; i++) Wt[i] = (float)rp_rng_normal(&g);
  for (int u = 0; u < NU; u++)
    for (int c = 0; c < F; c++) U[u * F + c] = u < NU - 3 ? (float)rp_rng_normal(&g) : 0;
  for (int i = 0; i < NI; i++)
    for (int c = 0; c < F; c++) {
      double y = Wt[D * F + c];
      for (int64_t k = X->indptr[i]; k < X->indptr[i + 1]; k++)
        y += (double)X->data[k] * (double)Wt[X->indices[k] * F + c];
      V[i * F + c] = i % 4 == 0 ? 0 : (float)y; /* every 4th item is cold */
    }
  rp_factor_view fm = {U, V, NU, NI, F, users, items};
  rp_project_opts o;
  memset(&o, 0, sizeof o);
  o.regularization = 1e-6;
  rp_hyb_rec *p;
  rp_project_info info;
  rp_err err;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &p, &info, &err), 0);
  ck_assert_int_eq(info.warm_items, NI - NI / 4);
  int cold_empty = 0;
  for (int i = 0; i < NI; i += 4) cold_empty += X->indptr[i + 1] == X->indptr[i];
  ck_assert_int_eq(info.projected_items, NI / 4 - cold_empty);
  ck_assert_int_eq(info.unplaced_items, cold_empty);
  ck_assert_double_gt(info.item_r2, 0.999);
  ck_assert_int_eq(info.warm_users, NU - 3);
  float *Uc, *Vc;
  int32_t nu, ni, f;
  rp_hyb_project_factors(p, &Uc, &nu, &Vc, &ni, &f);
  for (int i = 0; i < NI; i++) {
    int empty = X->indptr[i + 1] == X->indptr[i];
    for (int c = 0; c < F; c++) {
      double want = i % 4 == 0 && !empty ? 0 : V[i * F + c];
      if (i % 4 == 0 && !empty) {
        want = Wt[D * F + c];
        for (int64_t k = X->indptr[i]; k < X->indptr[i + 1]; k++)
          want += (double)X->data[k] * (double)Wt[X->indices[k] * F + c];
      }
      ck_assert_double_eq_tol((double)Vc[i * F + c], want, 1e-3);
    }
  }
  /* scores are dot products; unplaced items never come back; cold users
   * without user features get nothing */
  rp_hyb_req q;
  rp_hyb_req_user(p, 0, NULL, &q);
  static int32_t it[NI];
  static float sc[NI];
  int32_t n;
  ck_assert_int_eq(rp_hyb_recommend_one(p, &q, NI, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, NI - cold_empty);
  for (int j = 0; j < n; j++) {
    double dot = 0;
    for (int c = 0; c < F; c++) dot += (double)U[c] * (double)Vc[it[j] * F + c];
    ck_assert_double_eq_tol((double)sc[j], dot, 1e-4);
    ck_assert(!(it[j] % 4 == 0 && X->indptr[it[j] + 1] == X->indptr[it[j]]));
  }
  rp_hyb_req_user(p, NU - 1, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(p, &q, 5, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 0);
  rp_hyb_rec_free(p);
  /* user side: cold users with features get projected factors */
  int32_t ur[] = {NU - 1, NU - 2, 0}, uc[] = {0, 1, 0};
  float uv[] = {1, 1, 1};
  rp_csr *Xu = rp_csr_build(NU, 2, ur, uc, uv, NULL, 3, RP_AGG_SUM, users, names, NULL);
  rp_features ufeat = {Xu, 1, {fname}, fo};
  o.regularization = 0.1;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, &ufeat, &o, &p, &info, &err), 0);
  ck_assert_int_eq(info.projected_users, 2);
  rp_hyb_req_user(p, NU - 1, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(p, &q, 5, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 5);
  rp_hyb_req_user(p, NU - 3, NULL, &q); /* cold, no features */
  ck_assert_int_eq(rp_hyb_recommend_one(p, &q, 5, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 0);
  rp_hyb_rec_free(p);
  /* random placement: reproducible for a seed, warm rows untouched */
  o.method = RP_PROJ_RANDOM;
  o.seed = 4;
  rp_hyb_rec *r1, *r2;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &r1, &info, &err), 0);
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &r2, &info, &err), 0);
  float *V1, *V2;
  rp_hyb_project_factors(r1, &Uc, &nu, &V1, &ni, &f);
  rp_hyb_project_factors(r2, &Uc, &nu, &V2, &ni, &f);
  ck_assert_int_eq(memcmp(V1, V2, sizeof(float) * NI * F), 0);
  ck_assert_int_eq(memcmp(V1 + F, V + F, sizeof(float) * F), 0);
  rp_hyb_rec_free(r2);
  o.seed = 5;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &r2, &info, &err), 0);
  rp_hyb_project_factors(r2, &Uc, &nu, &V2, &ni, &f);
  ck_assert_int_ne(memcmp(V1, V2, sizeof(float) * NI * F), 0);
  rp_hyb_rec_free(r1);
  rp_hyb_rec_free(r2);
  /* a training matrix decides what is warm */
  int32_t tr[] = {0, 1}, tc[] = {1, 2};
  float tv[] = {1, 1};
  rp_csr *train = rp_csr_build(NU, NI, tr, tc, tv, NULL, 2, RP_AGG_SUM, users, items, NULL);
  o.method = RP_PROJ_RIDGE;
  o.train = train;
  o.regularization = 1;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &p, &info, &err), 0);
  ck_assert_int_eq(info.warm_items, 2);
  ck_assert_int_eq(info.warm_users, 2);
  rp_hyb_rec_free(p);
  /* features on another map are refused */
  o.train = NULL;
  fm.items = names;
  ck_assert_int_eq(rp_hyb_project_new(&fm, &feat, NULL, &o, &p, &info, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "not on the model's item map"));
  fm.items = items;
  rp_project_opts fo2 = o;
  RP_FAULT_LOOP(
      rp_hyb_project_new(&fm, &feat, &ufeat, &fo2, &p, NULL, NULL) ? 1 : (rp_hyb_rec_free(p), 0));
  rp_csr_free(train);
  rp_csr_free(Xu);
  rp_csr_free(X);
  rp_idmap_release(users);
  rp_idmap_release(items);
  rp_idmap_release(names);
}
END_TEST

/* issue 11: projection's regularization was defaulted only in the Lua
 * binding; the core's initialiser gives the same defaults */
START_TEST(project_defaults_in_core) {
  rp_project_opts o;
  memset(&o, 0xff, sizeof o);
  rp_project_opts_init(&o);
  ck_assert(o.regularization == 1.0);
  ck_assert_int_eq(o.method, RP_PROJ_RIDGE);
  ck_assert(o.seed == 42);
  ck_assert_int_eq(o.max_direct, 4096);
  ck_assert_ptr_null(o.train);
  rp_err err;
  ck_assert_int_eq(rp_opts_check(rp_project_optdesc, &o, &err), RP_OK);
  o.regularization = -1;
  ck_assert_int_eq(rp_opts_check(rp_project_optdesc, &o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "regularization must be a finite number >= 0, got -1");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hybrid_project");
  TCase *tc = tcase_create("project");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, ridge_exact_and_naive);
  tcase_add_test(tc, project_defaults_in_core);
  tcase_add_test(tc, ridge_overflowing_float_is_an_error);
  tcase_add_test(tc, project_completes_cold_rows);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
