/* Check tests for the ALS core: training against a naive dense reference in
 * double precision, CG vs Cholesky, reproducibility across thread counts,
 * BLAS threads, top-k against brute force, fold-in, explain, similar,
 * early stopping, warm starts, and allocation-failure loops.
 *
 * main() re-executes the test with OPENBLAS_NUM_THREADS=4 in the
 * environment, so the "BLAS single-threaded inside our parallel regions"
 * test runs against a BLAS that would otherwise use 4 threads. */
#include <cblas.h>
#include <float.h>
#include <math.h>

#include "als_impl.h"
#include "events.h"
#include "metrics.h"
#include "screen.h"
#include "rptest.h"

/* the references compute in double from float inputs on purpose */
#pragma GCC diagnostic ignored "-Wdouble-promotion"

/* ---- fixtures ------------------------------------------------------------- */
/* A random nu x ni matrix with about density*nu*ni entries, values in
 * 1..5 (a fraction `neg` negative), some empty rows and columns. */
static rp_csr *random_matrix(int32_t nu, int32_t ni, double density, double neg, uint64_t seed) {
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  int64_t cap = (int64_t)nu * ni, n = 0;
  int32_t *r = malloc(sizeof(int32_t) * (size_t)cap), *c = malloc(sizeof(int32_t) * (size_t)cap);
  float *v = malloc(sizeof(float) * (size_t)cap);
  for (int32_t u = 0; u < nu; u++) {
    if (u % 7 == 3) continue; /* empty rows */
    for (int32_t i = 0; i < ni; i++) {
      if (i % 11 == 5) continue; /* empty columns */
      if (rp_rng_uniform(&g) >= density) continue;
      r[n] = u, c[n] = i;
      v[n] = (float)(1 + rp_rng_below(&g, 5));
      if (rp_rng_uniform(&g) < neg) v[n] = -v[n];
      n++;
    }
  }
  rp_err err;
  rp_csr *m = rp_csr_build(nu, ni, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_msg(m != NULL, "%s", err.msg);
  free(r), free(c), free(v);
  return m;
}

static rp_als_opts small_opts(int32_t f, int solver) {
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = f;
  o.regularization = 0.1;
  o.iterations = 3;
  o.solver = solver;
  o.threads = 2;
  return o;
}

static rp_als_model *train_ok(const rp_csr *m, const rp_als_opts *o, const rp_als_hooks *h) {
  rp_err err;
  rp_als_model *model = NULL;
  int rc = rp_als_train(m, o, h, &model, &err);
  ck_assert_msg(rc == RP_OK, "train: %s", err.msg);
  return model;
}

/* ---- naive dense reference, double precision ---------------------------------------- */
static double ref_conf(const rp_als_opts *o, double r) {
  double a = fabs(r);
  if (o->confidence == RP_ALS_CONF_HU) return 1 + o->alpha * a;
  if (o->confidence == RP_ALS_CONF_LOG) return 1 + o->alpha * log(1 + a / o->eps);
  return o->alpha * a;
}

/* dense value of (u, i) or NAN when absent */
static double *dense_of(const rp_csr *m) {
  double *D = malloc(sizeof(double) * (size_t)m->nrows * (size_t)m->ncols);
  for (int64_t e = 0; e < (int64_t)m->nrows * m->ncols; e++) D[e] = NAN;
  for (int32_t u = 0; u < m->nrows; u++)
    for (int64_t e = m->indptr[u]; e < m->indptr[u + 1]; e++)
      D[(int64_t)u * m->ncols + m->indices[e]] = m->data[e];
  return D;
}

/* solves A x = b (n x n, row-major, destroyed) by Gaussian elimination */
static void gauss(double *A, double *b, int n) {
  for (int k = 0; k < n; k++) {
    int p = k;
    for (int i = k + 1; i < n; i++)
      if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
    for (int j = 0; j < n; j++) {
      double t = A[k * n + j];
      A[k * n + j] = A[p * n + j];
      A[p * n + j] = t;
    }
    double t = b[k];
    b[k] = b[p];
    b[p] = t;
    for (int i = k + 1; i < n; i++) {
      double q = A[i * n + k] / A[k * n + k];
      for (int j = k; j < n; j++) A[i * n + j] -= q * A[k * n + j];
      b[i] -= q * b[k];
    }
  }
  for (int k = n - 1; k >= 0; k--) {
    for (int j = k + 1; j < n; j++) b[k] -= A[k * n + j] * b[j];
    b[k] /= A[k * n + k];
  }
}

/* the normal equations of row u straight from the definition: every pair
 * (u, i), absent ones with c = 1, p = 0 (implicit); stored ones only
 * (explicit) */
static void ref_normal(const rp_als_opts *o, const double *D, int32_t u, int32_t ni, int transpose,
                       int32_t nrows, const double *Y, int f, double *A, double *b) {
  int64_t cnt = 0;
  for (int i = 0; i < f * f; i++) A[i] = 0;
  for (int i = 0; i < f; i++) b[i] = 0;
  for (int32_t i = 0; i < ni; i++) {
    double r = transpose ? D[(int64_t)i * nrows + u] : D[(int64_t)u * ni + i];
    double c, p;
    if (isnan(r)) {
      if (!o->implicit) continue;
      c = 1, p = 0;
    } else {
      cnt++;
      if (o->implicit)
        c = ref_conf(o, r), p = r > 0;
      else
        c = 1, p = r;
    }
    const double *y = Y + (int64_t)i * f;
    for (int a = 0; a < f; a++) {
      b[a] += c * p * y[a];
      for (int d = 0; d < f; d++) A[a * f + d] += c * y[a] * y[d];
    }
  }
  double lam =
      o->reg_mode == RP_ALS_REG_FREQUENCY ? o->regularization * (double)cnt : o->regularization;
  for (int a = 0; a < f; a++) A[a * f + a] += lam;
}

/* one half-step for every row: exact (cg_steps = 0) or CG from X */
static void ref_half(const rp_als_opts *o, const double *D, int32_t nu, int32_t ni, int transpose,
                     double *X, const double *Y, int f, int cg_steps, const rp_csr *m) {
  double *A = malloc(sizeof(double) * (size_t)(f * f)), *b = malloc(sizeof(double) * (size_t)f);
  double *r = malloc(sizeof(double) * (size_t)f), *p = malloc(sizeof(double) * (size_t)f);
  double *Ap = malloc(sizeof(double) * (size_t)f);
  for (int32_t u = 0; u < nu; u++) {
    double *x = X + (int64_t)u * f;
    if (rp_csr_rowlen(m, u) == 0) {
      for (int a = 0; a < f; a++) x[a] = 0;
      continue;
    }
    ref_normal(o, D, u, ni, transpose, nu, Y, f, A, b);
    if (!cg_steps) {
      gauss(A, b, f);
      for (int a = 0; a < f; a++) x[a] = b[a];
      continue;
    }
    double rs = 0;
    for (int a = 0; a < f; a++) {
      r[a] = b[a];
      for (int d = 0; d < f; d++) r[a] -= A[a * f + d] * x[d];
      p[a] = r[a];
      rs += r[a] * r[a];
    }
    if (rs < 1e-20) continue;
    for (int it = 0; it < cg_steps; it++) {
      double pAp = 0;
      for (int a = 0; a < f; a++) {
        Ap[a] = 0;
        for (int d = 0; d < f; d++) Ap[a] += A[a * f + d] * p[d];
        pAp += p[a] * Ap[a];
      }
      double al = rs / pAp, rn = 0;
      for (int a = 0; a < f; a++) x[a] += al * p[a], r[a] -= al * Ap[a], rn += r[a] * r[a];
      if (rn < 1e-20) break;
      for (int a = 0; a < f; a++) p[a] = r[a] + rn / rs * p[a];
      rs = rn;
    }
  }
  free(A), free(b), free(r), free(p), free(Ap);
}

/* explicit mode's balancing after each iteration: X s, Y / s with s^4 =
 * sum_i lambda_i |y_i|^2 / sum_u lambda_u |x_u|^2 (the scores stay, the
 * penalty is least) */
static void ref_balance(const rp_als_opts *o, const rp_csr *m, const rp_csr *mt, double *X,
                        double *Y, int f) {
  double A = 0, B = 0;
  for (int32_t u = 0; u < m->nrows; u++)
    for (int a = 0; a < f; a++)
      A += (o->reg_mode == RP_ALS_REG_FREQUENCY ? (double)rp_csr_rowlen(m, u) : 1) *
           X[(int64_t)u * f + a] * X[(int64_t)u * f + a];
  for (int32_t i = 0; i < mt->nrows; i++)
    for (int a = 0; a < f; a++)
      B += (o->reg_mode == RP_ALS_REG_FREQUENCY ? (double)rp_csr_rowlen(mt, i) : 1) *
           Y[(int64_t)i * f + a] * Y[(int64_t)i * f + a];
  if (!(A > 0) || !(B > 0)) return;
  double s = pow(B / A, 0.25);
  for (int64_t e = 0; e < (int64_t)m->nrows * f; e++) X[e] *= s;
  for (int64_t e = 0; e < (int64_t)mt->nrows * f; e++) Y[e] /= s;
}

/* trains the reference from the model init's factors and compares */
static double max_rel_diff(const float *a, const double *b, int64_t n) {
  double md = 0, mx = 1e-12;
  for (int64_t e = 0; e < n; e++) {
    if (fabs(b[e]) > mx) mx = fabs(b[e]);
    if (fabs(a[e] - b[e]) > md) md = fabs(a[e] - b[e]);
  }
  return md / mx;
}

static rp_als_model *random_init(int32_t nu, int32_t ni, int32_t f, uint64_t seed) {
  rp_err err;
  rp_als_model *m = rp_als_model_new(nu, ni, f, NULL, NULL, &err);
  rp_rng g;
  rp_rng_seed(&g, seed, 99);
  for (int64_t e = 0; e < (int64_t)nu * f; e++)
    m->user_factors[e] = (float)(0.3 * rp_rng_normal(&g));
  for (int64_t e = 0; e < (int64_t)ni * f; e++)
    m->item_factors[e] = (float)(0.3 * rp_rng_normal(&g));
  return m;
}

static void compare_with_reference(rp_als_opts o, int iterations, double tol) {
  int32_t nu = 40, ni = 30, f = o.factors;
  rp_csr *m = random_matrix(nu, ni, 0.2, 0.1, 7);
  rp_csr *mt = rp_csr_transpose(m, 1, NULL);
  rp_als_model *init = random_init(nu, ni, f, 3);
  o.iterations = iterations;
  rp_als_hooks h = {0};
  h.init = init;
  rp_als_model *model = train_ok(m, &o, &h);
  double *D = dense_of(m), *X = malloc(sizeof(double) * (size_t)(nu * f)),
         *Y = malloc(sizeof(double) * (size_t)(ni * f));
  for (int64_t e = 0; e < (int64_t)nu * f; e++) X[e] = init->user_factors[e];
  for (int64_t e = 0; e < (int64_t)ni * f; e++) Y[e] = init->item_factors[e];
  /* CG with at least f steps is compared with the exact solution (float
   * CG stalls near convergence, so the tolerance must be looser) */
  int cg = o.solver == RP_ALS_CG && o.cg_steps < f ? o.cg_steps : 0;
  for (int it = 0; it < iterations; it++) {
    ref_half(&o, D, nu, ni, 0, X, Y, f, cg, m);
    ref_half(&o, D, ni, nu, 1, Y, X, f, cg, mt);
    if (!o.implicit) ref_balance(&o, m, mt, X, Y, f);
  }
  double dx = max_rel_diff(model->user_factors, X, (int64_t)nu * f);
  double dy = max_rel_diff(model->item_factors, Y, (int64_t)ni * f);
  ck_assert_msg(dx < tol && dy < tol, "f=%d steps=%d %s/%s/%s implicit=%d: max rel diff X %g Y %g",
                f, o.cg_steps, rp_als_solver_name(o.solver), rp_als_confidence_name(o.confidence),
                rp_als_reg_mode_name(o.reg_mode), o.implicit, dx, dy);
  /* empty rows and columns are zero */
  for (int32_t d = 0; d < f; d++) ck_assert(model->user_factors[3 * f + d] == 0);
  for (int32_t d = 0; d < f; d++) ck_assert(model->item_factors[5 * f + d] == 0);
  free(D), free(X), free(Y);
  rp_als_model_free(model);
  rp_als_model_free(init);
  rp_csr_free(m);
  rp_csr_free(mt);
}

START_TEST(cholesky_matches_reference) {
  rp_als_opts o = small_opts(8, RP_ALS_CHOLESKY);
  compare_with_reference(o, 3, 1e-4);
  o.confidence = RP_ALS_CONF_HU, o.alpha = 2;
  compare_with_reference(o, 3, 1e-4);
  o.confidence = RP_ALS_CONF_LOG, o.eps = 0.5;
  compare_with_reference(o, 3, 1e-4);
  o.reg_mode = RP_ALS_REG_FREQUENCY;
  compare_with_reference(o, 3, 1e-4);
  /* one, three and four 16-row panels of the blocked factorisation; a
   * width the vector kernels do not take */
  int fs[] = {16, 48, 64, 20};
  for (int a = 0; a < 4; a++) {
    o = small_opts(fs[a], RP_ALS_CHOLESKY);
    compare_with_reference(o, 2, 1e-4);
  }
  o.implicit = 0, o.reg_mode = RP_ALS_REG_FREQUENCY;
  compare_with_reference(o, 3, 1e-4);
}
END_TEST

START_TEST(cg_matches_reference) {
  /* f below, at and around the AVX-512 width; 1 to 3 steps; confidences */
  int fs[] = {8, 15, 16, 17, 32};
  for (int a = 0; a < 5; a++)
    for (int steps = 1; steps <= 3; steps++) {
      rp_als_opts o = small_opts(fs[a], RP_ALS_CG);
      o.cg_steps = steps;
      o.confidence = steps == 2 ? RP_ALS_CONF_HU : RP_ALS_CONF_LINEAR;
      compare_with_reference(o, 2, 1e-4);
    }
  rp_als_opts o = small_opts(64, RP_ALS_CG); /* the f = 64 register kernel */
  compare_with_reference(o, 2, 1e-4);
  o.reg_mode = RP_ALS_REG_FREQUENCY, o.confidence = RP_ALS_CONF_LOG;
  compare_with_reference(o, 2, 1e-4);
  /* as many steps as factors: the exact solution */
  o = small_opts(16, RP_ALS_CG);
  o.cg_steps = 16;
  compare_with_reference(o, 3, 1e-2); /* float CG noise once converged */
  o.implicit = 0, o.reg_mode = RP_ALS_REG_FREQUENCY, o.cg_steps = 3;
  compare_with_reference(o, 2, 1e-4);
  o.factors = 5;
  compare_with_reference(o, 2, 1e-4);
}
END_TEST

/* rows longer than the gather block go through the chunked paths */
START_TEST(long_rows_match_blocked) {
  rp_csr *m = random_matrix(6, 3000, 0.9, 0.05, 11);
  for (int solver = 0; solver < 2; solver++) {
    rp_als_opts o = small_opts(16, solver);
    o.iterations = 1;
    rp_als_model *a = train_ok(m, &o, NULL);
    /* the same solves with a tiny block: chunked CG / Cholesky */
    rp_als_side side = {&o, 16, a->item_factors, a->nitems, NULL};
    float G[256];
    ck_assert_int_eq(rp_als_gram(a->item_factors, a->nitems, 16, 1, G, NULL), 0);
    side.G = G;
    rp_als_scratch big, small;
    ck_assert_int_eq(rp_als_scratch_init(&big, 16, 4000, NULL), 0);
    ck_assert_int_eq(rp_als_scratch_init(&small, 16, 100, NULL), 0);
    float x1[16], x2[16];
    for (int32_t u = 0; u < m->nrows; u++) {
      int64_t s = m->indptr[u], n = m->indptr[u + 1] - s;
      for (int d = 0; d < 16; d++) x1[d] = x2[d] = 0.01f * (float)d;
      if (solver == RP_ALS_CG) {
        rp_als_solve_cg(&side, m->indices + s, m->data + s, n, x1, &big);
        rp_als_solve_cg(&side, m->indices + s, m->data + s, n, x2, &small);
      } else {
        ck_assert_int_eq(rp_als_solve_cholesky(&side, m->indices + s, m->data + s, n, x1, &big), 0);
        ck_assert_int_eq(rp_als_solve_cholesky(&side, m->indices + s, m->data + s, n, x2, &small),
                         0);
      }
      for (int d = 0; d < 16; d++)
        ck_assert_msg(fabsf(x1[d] - x2[d]) <= 1e-3f * (1 + fabsf(x1[d])), "row %d dim %d: %g %g", u,
                      d, (double)x1[d], (double)x2[d]);
    }
    rp_als_scratch_free(&big);
    rp_als_scratch_free(&small);
    rp_als_model_free(a);
  }
  rp_csr_free(m);
}
END_TEST

/* ---- loss ---------------------------------------------------------------------------- */
static double ref_loss(const rp_als_model *model, const rp_csr *m) {
  const rp_als_opts *o = &model->opts;
  int f = model->factors;
  double l = 0, conf = 0, *D = dense_of(m);
  for (int32_t u = 0; u < m->nrows; u++)
    for (int32_t i = 0; i < m->ncols; i++) {
      double t =
          rp_als_dot(model->user_factors + (int64_t)u * f, model->item_factors + (int64_t)i * f, f);
      double r = D[(int64_t)u * m->ncols + i];
      if (isnan(r)) {
        l += t * t;
      } else {
        double c = ref_conf(o, r), p = r > 0;
        l += c * (p - t) * (p - t);
        if (r < 0) l += c; /* implicit's calculate_loss adds c for negatives too */
        conf += c;
      }
    }
  double reg = 0;
  for (int64_t e = 0; e < (int64_t)model->nusers * f; e++)
    reg += (double)model->user_factors[e] * model->user_factors[e];
  for (int64_t e = 0; e < (int64_t)model->nitems * f; e++)
    reg += (double)model->item_factors[e] * model->item_factors[e];
  free(D);
  return (l + o->regularization * reg) / (conf + (double)m->nrows * m->ncols - (double)m->nnz);
}

START_TEST(loss_matches_reference) {
  rp_csr *m = random_matrix(30, 25, 0.2, 0.2, 5);
  rp_als_opts o = small_opts(8, RP_ALS_CG);
  rp_als_model *model = train_ok(m, &o, NULL);
  double l;
  ck_assert_int_eq(rp_als_loss(model, m, 2, &l, NULL), 0);
  double want = ref_loss(model, m);
  ck_assert_msg(fabs(l - want) <= 1e-5 * fabs(want), "loss %.10g, reference %.10g", l, want);
  rp_als_model_free(model);
  /* explicit: RMSE */
  o.implicit = 0;
  model = train_ok(m, &o, NULL);
  ck_assert_int_eq(rp_als_loss(model, m, 1, &l, NULL), 0);
  double s = 0;
  for (int32_t u = 0; u < m->nrows; u++)
    for (int64_t e = m->indptr[u]; e < m->indptr[u + 1]; e++) {
      double t = rp_als_dot(model->user_factors + (int64_t)u * 8,
                            model->item_factors + (int64_t)m->indices[e] * 8, 8);
      s += (m->data[e] - t) * (m->data[e] - t);
    }
  ck_assert_double_eq_tol(l, sqrt(s / (double)m->nnz), 1e-9);
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

typedef struct losses {
  int n;
  double v[64];
} losses;
static int collect(const rp_als_iter_info *info, void *ud) {
  losses *l = ud;
  ck_assert_int_eq(info->iteration, l->n + 1);
  ck_assert(info->seconds >= 0);
  l->v[l->n++] = info->loss;
  return 0;
}

START_TEST(cholesky_loss_decreases) {
  rp_csr *m = random_matrix(80, 60, 0.1, 0.05, 9);
  rp_als_opts o = small_opts(10, RP_ALS_CHOLESKY);
  o.iterations = 12;
  o.regularization = 0.01;
  losses l = {0};
  rp_als_hooks h = {0};
  h.on_iteration = collect, h.ud = &l, h.want_loss = 1;
  rp_als_model *model = train_ok(m, &o, &h);
  ck_assert_int_eq(l.n, 12);
  for (int i = 1; i < l.n; i++)
    ck_assert_msg(l.v[i] <= l.v[i - 1] * (1 + 1e-6), "loss rose at %d: %g -> %g", i + 1, l.v[i - 1],
                  l.v[i]);
  ck_assert(model->loss == l.v[11]);
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

START_TEST(cg_reaches_cholesky_loss) {
  rp_csr *m = random_matrix(120, 90, 0.08, 0.0, 13);
  rp_als_opts o = small_opts(16, RP_ALS_CHOLESKY);
  o.iterations = 15, o.regularization = 0.05;
  rp_als_model *a = train_ok(m, &o, NULL);
  o.solver = RP_ALS_CG, o.cg_steps = 8;
  rp_als_model *b = train_ok(m, &o, NULL);
  double la, lb;
  ck_assert_int_eq(rp_als_loss(a, m, 1, &la, NULL), 0);
  ck_assert_int_eq(rp_als_loss(b, m, 1, &lb, NULL), 0);
  ck_assert_msg(fabs(la - lb) <= 0.01 * la, "cholesky loss %g, cg loss %g", la, lb);
  rp_als_model_free(a);
  rp_als_model_free(b);
  rp_csr_free(m);
}
END_TEST

/* ---- reproducibility, threads --------------------------------------------------------- */
START_TEST(bit_identical_across_threads) {
  rp_csr *m = random_matrix(300, 200, 0.05, 0.05, 21);
  for (int solver = 0; solver < 2; solver++) {
    rp_als_model *ref = NULL;
    int th[] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
      rp_als_opts o = small_opts(32, solver);
      o.threads = th[t], o.iterations = 4;
      rp_als_model *x = train_ok(m, &o, NULL);
      if (!ref) {
        ref = x;
        continue;
      }
      ck_assert_msg(
          memcmp(ref->user_factors, x->user_factors, sizeof(float) * 32 * (size_t)x->nusers) == 0,
          "user factors differ with %d threads (%s)", th[t], rp_als_solver_name(solver));
      ck_assert(
          memcmp(ref->item_factors, x->item_factors, sizeof(float) * 32 * (size_t)x->nitems) == 0);
      rp_als_model_free(x);
    }
    rp_als_model_free(ref);
  }
  rp_csr_free(m);
}
END_TEST

START_TEST(gram_is_thread_independent) {
  int64_t n = 20000;
  int32_t f = 24;
  float *Y = malloc(sizeof(float) * (size_t)(n * f)), G1[24 * 24], G2[24 * 24];
  rp_rng g;
  rp_rng_seed(&g, 1, 1);
  for (int64_t e = 0; e < n * f; e++) Y[e] = (float)rp_rng_normal(&g);
  ck_assert_int_eq(rp_als_gram(Y, n, f, 1, G1, NULL), 0);
  ck_assert_int_eq(rp_als_gram(Y, n, f, 7, G2, NULL), 0);
  ck_assert(memcmp(G1, G2, sizeof G1) == 0);
  for (int a = 0; a < f; a++)
    for (int b = 0; b < f; b++) {
      double s = 0;
      for (int64_t r = 0; r < n; r++) s += (double)Y[r * f + a] * Y[r * f + b];
      ck_assert_msg(fabs(G1[a * f + b] - s) < 1e-3 * (fabs(s) + n * 1e-3), "G[%d,%d]", a, b);
      ck_assert(G1[a * f + b] == G1[b * f + a]);
    }
  free(Y);
}
END_TEST

/* G is summed in a fixed order: float sums of the products of 64 rows in
 * row order, added in double per chunk of 4,096 rows, chunks in order into
 * groups of 16, groups in order, rounded to float once.  Recomputed here
 * entry by entry with plain scalar loops, it must match bit for bit (so it
 * cannot depend on the CPU, the BLAS kernel or the vector width), for an
 * f that is not a multiple of the blocking and an n that spans two groups
 * and ends mid-chunk. */
START_TEST(gram_is_the_double_sum_in_row_order) {
  int64_t n = 70001;
  for (int32_t f = 1; f <= 21; f += 10) {
    float *Y = malloc(sizeof(float) * (size_t)(n * f)),
          *G = malloc(sizeof(float) * (size_t)(f * f));
    rp_rng g;
    rp_rng_seed(&g, 3, (uint64_t)f);
    for (int64_t e = 0; e < n * f; e++) Y[e] = (float)rp_rng_normal(&g);
    ck_assert_int_eq(rp_als_gram(Y, n, f, 2, G, NULL), 0);
    for (int a = 0; a < f; a++)
      for (int b = 0; b < f; b++) {
        double total = 0;
        for (int64_t g0 = 0; g0 < n; g0 += 16 * 4096) {
          double group = 0;
          for (int64_t c0 = g0; c0 < g0 + 16 * 4096 && c0 < n; c0 += 4096) {
            double chunk = 0;
            for (int64_t s0 = c0; s0 < c0 + 4096 && s0 < n; s0 += 64) {
              float sub = 0;
              for (int64_t r = s0; r < s0 + 64 && r < n; r++) sub += Y[r * f + a] * Y[r * f + b];
              chunk += (double)sub;
            }
            group += chunk;
          }
          total += group;
        }
        ck_assert_msg(G[a * f + b] == (float)total, "f %d: G[%d,%d] %.9g, the sum %.9g", f, a, b,
                      (double)G[a * f + b], total);
      }
    free(Y);
    free(G);
  }
}
END_TEST

START_TEST(blas_single_threaded_inside) {
  /* main() put OPENBLAS_NUM_THREADS=4 in the environment before BLAS loaded */
  const char *env = getenv("OPENBLAS_NUM_THREADS");
  ck_assert_ptr_nonnull(env);
  int before = openblas_get_num_threads();
  ck_assert_msg(before > 1, "BLAS starts with %d threads (env %s)", before, env);
  rp_csr *m = random_matrix(200, 100, 0.05, 0, 3);
  for (int solver = 0; solver < 2; solver++) {
    rp_als_blas_seen_reset();
    rp_als_opts o = small_opts(16, solver);
    rp_als_model *x = train_ok(m, &o, NULL);
    ck_assert_int_eq(rp_als_blas_seen(), 1);
    ck_assert_int_eq(openblas_get_num_threads(), before); /* restored */
    rp_als_model_free(x);
  }
  rp_csr_free(m);
}
END_TEST

START_TEST(warm_start_continues) {
  /* 6 iterations == 3, then 3 more from that model: the state of ALS is
   * the factors alone */
  rp_csr *m = random_matrix(100, 70, 0.08, 0.05, 17);
  for (int solver = 0; solver < 2; solver++) {
    rp_als_opts o = small_opts(12, solver);
    o.iterations = 6;
    rp_als_model *full = train_ok(m, &o, NULL);
    o.iterations = 3;
    rp_als_model *half = train_ok(m, &o, NULL);
    rp_als_hooks h = {0};
    h.init = half;
    o.seed = 999; /* ignored: every row comes from the init model */
    rp_als_model *cont = train_ok(m, &o, &h);
    ck_assert(memcmp(full->user_factors, cont->user_factors, sizeof(float) * 12 * 100) == 0);
    ck_assert(memcmp(full->item_factors, cont->item_factors, sizeof(float) * 12 * 70) == 0);
    rp_als_model_free(full);
    rp_als_model_free(half);
    rp_als_model_free(cont);
  }
  rp_csr_free(m);
}
END_TEST

/* ---- options and bad input -------------------------------------------------------------- */
START_TEST(bad_options) {
  rp_csr *m = random_matrix(10, 10, 0.3, 0, 1);
  rp_als_opts o = small_opts(4, RP_ALS_CG);
  rp_err err;
  rp_als_model *x;
  o.factors = 0;
  ck_assert_int_eq(rp_als_train(m, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_null(x);
  ck_assert_ptr_nonnull(strstr(err.msg, "factors"));
  o = small_opts(4, RP_ALS_CG), o.alpha = -1;
  ck_assert_int_eq(rp_als_train(m, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "alpha"));
  o = small_opts(4, RP_ALS_CG), o.regularization = NAN;
  ck_assert_int_eq(rp_als_train(m, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "regularization"));
  o = small_opts(4, RP_ALS_CG);
  rp_als_model *other = random_init(10, 10, 5, 1);
  rp_als_hooks h = {0};
  h.init = other;
  ck_assert_int_eq(rp_als_train(m, &o, &h, &x, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "init model has 5 factors"));
  rp_als_model_free(other);
  m->data[3] = NAN;
  ck_assert_int_eq(rp_als_train(m, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "not finite"));
  /* explicit Cholesky without regularization on a rank-deficient row */
  m->data[3] = 1;
  o.implicit = 0, o.regularization = 0, o.solver = RP_ALS_CHOLESKY;
  ck_assert_int_eq(rp_als_train(m, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "increase regularization"));
  rp_csr_free(m);
}
END_TEST

/* ---- regularization_mode auto (issue 11) -----------------------------------------
 * The explicit default (frequency-scaled lambda) lived only in the Lua
 * binding: a C caller with the default options got a fixed-lambda model. */
START_TEST(reg_mode_auto_resolved_in_core) {
  rp_csr *m = random_matrix(30, 20, 0.3, 0, 5);
  rp_als_opts o = small_opts(4, RP_ALS_CHOLESKY);
  ck_assert_int_eq(o.reg_mode, RP_ALS_REG_AUTO);
  o.implicit = 0;
  rp_als_model *a = train_ok(m, &o, NULL);
  ck_assert_int_eq(a->opts.reg_mode, RP_ALS_REG_FREQUENCY);
  o.reg_mode = RP_ALS_REG_FREQUENCY;
  rp_als_model *b = train_ok(m, &o, NULL);
  ck_assert_int_eq(memcmp(a->user_factors, b->user_factors, sizeof(float) * 30 * 4), 0);
  ck_assert_int_eq(memcmp(a->item_factors, b->item_factors, sizeof(float) * 20 * 4), 0);
  o.implicit = 1, o.reg_mode = RP_ALS_REG_AUTO;
  rp_als_model *c = train_ok(m, &o, NULL);
  ck_assert_int_eq(c->opts.reg_mode, RP_ALS_REG_FIXED);
  ck_assert_str_eq(rp_als_reg_mode_name(RP_ALS_REG_AUTO), "auto");
  rp_als_model_free(a), rp_als_model_free(b), rp_als_model_free(c);
  rp_csr_free(m);
}
END_TEST

/* ---- options checked in float, non-finite training (issue 8) ---------------- */
START_TEST(options_checked_in_float) {
  rp_als_opts o;
  rp_err err;
  rp_als_opts_default(&o);
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_OK);
  o.alpha = 1e39; /* finite as a double, infinite as a float */
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "alpha must be a number in (0, 3.40282e+38] (it is used as a float), "
                   "got 1e+39");
  o.alpha = (double)FLT_MAX;
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_OK);
  rp_als_opts_default(&o);
  o.regularization = 4e38;
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "regularization must be a number in [0, 3.40282e+38] (it is used as a "
                   "float), got 4e+38");
  /* 100 factors: a first score reaches 100 x init_scale^2 */
  rp_als_opts_default(&o);
  o.init_scale = 1e20;
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "init_scale must be a number in [0, 1.84e+18] (factors x "
                   "init_scale^2 must be a finite float), got 1e+20");
  o.init_scale = 1.8e18;
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_OK);
  o.factors = 4096; /* the bound follows the factors */
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_EINVAL);
}
END_TEST

static void train_fails(const rp_csr *m, const rp_als_opts *o, const char *want) {
  rp_err err;
  rp_als_model *x = (rp_als_model *)1;
  ck_assert_int_eq(rp_als_train(m, o, NULL, &x, &err), RP_EINVAL);
  ck_assert_ptr_null(x);
  ck_assert_msg(strcmp(err.msg, want) == 0, "expected '%s', got '%s'", want, err.msg);
}

START_TEST(nonfinite_training_stops) {
  rp_csr *m = random_matrix(30, 20, 0.3, 0, 5);
  /* options finite in float that overflow against the data */
  rp_als_opts o = small_opts(4, RP_ALS_CG);
  o.alpha = 1e38; /* values up to 5: confidence 5e38 */
  train_fails(m, &o,
              "alpha 1e+38 with confidence 'linear' overflows float: the matrix's "
              "largest value 5 gets an infinite confidence");
  o = small_opts(4, RP_ALS_CG);
  o.reg_mode = RP_ALS_REG_FREQUENCY, o.regularization = 1e38;
  char want[300];
  int64_t longest = 0;
  for (int32_t u = 0; u < m->nrows; u++)
    longest = rp_csr_rowlen(m, u) > longest ? rp_csr_rowlen(m, u) : longest;
  int64_t cnt[20] = {0};
  for (int64_t e = 0; e < m->nnz; e++) cnt[m->indices[e]]++;
  for (int c = 0; c < 20; c++) longest = cnt[c] > longest ? cnt[c] : longest;
  snprintf(want, sizeof want,
           "regularization 1e+38 overflows float with regularization_mode 'frequency': times the "
           "%lld values of the longest row or column it is infinite",
           (long long)longest);
  train_fails(m, &o, want);
  /* alpha = 1e30 with log confidence: finite confidences, overflowing sums;
   * the lowest bad row is named whatever the threads, 1-based, no map */
  for (int th = 1; th <= 4; th += 3) {
    o = small_opts(4, RP_ALS_CG);
    o.alpha = 1e30, o.confidence = RP_ALS_CONF_LOG, o.threads = th;
    train_fails(m, &o,
                "iteration 1: user (row 1) got non-finite factors: the float arithmetic "
                "overflowed; lower alpha, regularization or init_scale, or scale the values");
  }
  /* the item side: explicit ratings of 1e30 give users factors near 1e32,
   * finite, whose squares overflow when items are solved */
  rp_csr *big = rp_csr_copy(m, NULL);
  for (int64_t e = 0; e < big->nnz; e++) big->data[e] = 1e30f;
  rp_idmap *users = rp_test_numbered("u", 30), *items = rp_test_numbered("i", 20);
  big->rowmap = rp_idmap_retain(users), big->colmap = rp_idmap_retain(items);
  o = small_opts(4, RP_ALS_CHOLESKY);
  o.implicit = 0, o.reg_mode = RP_ALS_REG_FIXED;
  rp_err err;
  rp_als_model *x;
  ck_assert_int_eq(rp_als_train(big, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "iteration 1: item 'i") && strstr(err.msg, "got non-finite"), "%s",
                err.msg);
  /* init_scale inside its bound for one score, too large for the sums */
  o = small_opts(4, RP_ALS_CG);
  o.init_scale = 1e18;
  ck_assert_int_eq(rp_als_train(big, &o, NULL, &x, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "iteration 1: user 'u") != NULL, "%s", err.msg);
  rp_csr_free(big);
  rp_idmap_release(users);
  rp_idmap_release(items);
  rp_csr_free(m);
}
END_TEST

START_TEST(foldin_nonfinite_is_an_error) {
  rp_als_model *model = random_init(10, 6, 4, 3);
  model->opts.alpha = 3e38; /* 3e38 x 2 is infinite in float */
  rp_als_model_refresh(model, NULL);
  int32_t items[2] = {1, 2};
  float vals[2] = {1, 2}, x[4];
  rp_err err;
  ck_assert_int_eq(rp_als_foldin(model, items, vals, 2, x, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "fold-in: the normal matrix overflows float (alpha 3e+38, "
                   "regularization 0.01)");
  rp_als_model_free(model);
}
END_TEST

/* ---- top-k -------------------------------------------------------------------------------- */
/* brute force: every item scored with rp_als_dot, sorted */
static int32_t brute_topk(const rp_als_model *m, const float *x, int32_t k, const uint8_t *skip,
                          int32_t *items, float *scores) {
  int32_t n = 0;
  for (int32_t i = 0; i < m->nitems; i++) {
    if (skip && skip[i]) continue;
    float s = rp_als_dot(x, m->item_factors + (int64_t)i * m->factors, m->factors);
    /* insertion into the sorted list */
    int32_t p = n < k ? n : k - 1;
    if (n == k && !rp_als_better(s, i, scores[k - 1], items[k - 1])) continue;
    while (p > 0 && rp_als_better(s, i, scores[p - 1], items[p - 1])) {
      scores[p] = scores[p - 1], items[p] = items[p - 1];
      p--;
    }
    scores[p] = s, items[p] = i;
    if (n < k) n++;
  }
  return n;
}

/* marks the items whose factor row is zero (no factors) in skip */
static int32_t skip_zero_rows(const rp_als_model *m, uint8_t *skip) {
  int32_t z = 0;
  for (int32_t i = 0; i < m->nitems; i++) {
    int zero = 1;
    for (int32_t d = 0; d < m->factors; d++)
      zero &= m->item_factors[(int64_t)i * m->factors + d] == 0;
    if (zero) skip[i] = 1, z++;
  }
  return z;
}

START_TEST(topk_matches_brute_force) {
  rp_csr *m = random_matrix(60, 500, 0.05, 0, 23);
  rp_als_opts o = small_opts(16, RP_ALS_CG);
  rp_als_model *model = train_ok(m, &o, NULL);
  int32_t items[600], want[600], n, wn;
  float scores[600], wscores[600];
  uint8_t skip[500];
  for (int32_t u = 0; u < 60; u++) {
    const float *x = model->user_factors + (int64_t)u * 16;
    for (int32_t k = 1; k <= 600; k = k * 3 + 1) {
      rp_als_list ex = {m->indices + m->indptr[u], m->indptr[u + 1] - m->indptr[u]};
      /* items nobody rated keep zero factors: ranked with RP_ALS_UNTRAINED */
      ck_assert_int_eq(
          rp_als_topk_flags(model, x, k, &ex, 1, NULL, RP_ALS_UNTRAINED, items, scores, &n, NULL),
          0);
      memset(skip, 0, sizeof skip);
      for (int64_t e = 0; e < ex.n; e++) skip[ex.idx[e]] = 1;
      wn = brute_topk(model, x, k, skip, want, wscores);
      ck_assert_int_eq(n, wn);
      ck_assert(memcmp(items, want, sizeof(int32_t) * (size_t)n) == 0);
      ck_assert(memcmp(scores, wscores, sizeof(float) * (size_t)n) == 0);
      /* and by default never */
      ck_assert_int_eq(rp_als_topk(model, x, k, &ex, 1, NULL, items, scores, &n, NULL), 0);
      skip_zero_rows(model, skip);
      wn = brute_topk(model, x, k, skip, want, wscores);
      ck_assert_int_eq(n, wn);
      ck_assert(memcmp(items, want, sizeof(int32_t) * (size_t)n) == 0);
      ck_assert(memcmp(scores, wscores, sizeof(float) * (size_t)n) == 0);
    }
  }
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

/* the int8 screen must give exactly the brute-force lists: many items,
 * widths with and without padding, ties (duplicated rows), zero rows,
 * exclusions, and a near-degenerate catalogue that overflows the candidate
 * list (exact fallback) */
static void screen_case(int32_t f, int32_t ni, int degenerate) {
  rp_err err;
  rp_als_model *m = rp_als_model_new(40, ni, f, NULL, NULL, &err);
  rp_rng g;
  rp_rng_seed(&g, (uint64_t)f, (uint64_t)ni);
  for (int64_t e = 0; e < (int64_t)ni * f; e++)
    m->item_factors[e] = degenerate ? 1.0f + 1e-6f * (float)rp_rng_normal(&g)
                                    : (float)rp_rng_normal(&g) * (e % 7 == 0 ? 3.0f : 0.5f);
  for (int32_t i = 0; i < ni; i += 97) /* duplicates: exact ties */
    memcpy(m->item_factors + (int64_t)(i + 1) * f, m->item_factors + (int64_t)i * f,
           sizeof(float) * (size_t)f);
  memset(m->item_factors + 5 * (int64_t)f, 0, sizeof(float) * (size_t)f); /* a zero row */
  for (int64_t e = 0; e < 40 * (int64_t)f; e++) m->user_factors[e] = (float)rp_rng_normal(&g);
  memset(m->user_factors, 0, sizeof(float) * (size_t)f); /* user 0: zero vector */
  ck_assert_int_eq(rp_als_screen_prepare(m, NULL), 0);
  ck_assert(rp_als_screen_ready(m));
  static int32_t items[3000], want[3000];
  static float scores[3000], wscores[3000];
  static uint8_t skip[3000];
  int32_t ex1[50], ex2[7] = {1, 2, 96, 97, 98, 1000, 2999}, n;
  for (int a = 0; a < 50; a++) ex1[a] = a * 31 % ni;
  rp_als_sort_unique(ex1, 50);
  int32_t ks[] = {1, 10, 100, 2500};
  for (int32_t u = 0; u < 40; u++)
    for (int kk = 0; kk < 4; kk++) {
      int32_t k = ks[kk] < ni ? ks[kk] : ni;
      rp_als_list ex[2] = {{ex1, rp_als_sort_unique(ex1, 50)}, {ex2, 7}};
      int nex = u % 3;
      const float *x = m->user_factors + (int64_t)u * f;
      for (int untrained = 0; untrained < 2; untrained++) {
        ck_assert_int_eq(rp_als_topk_flags(m, x, k, ex, nex, NULL, untrained ? RP_ALS_UNTRAINED : 0,
                                           items, scores, &n, NULL),
                         0);
        memset(skip, 0, sizeof skip);
        for (int a = 0; a < nex; a++)
          for (int64_t e = 0; e < ex[a].n; e++)
            if (ex[a].idx[e] < ni) skip[ex[a].idx[e]] = 1;
        if (!untrained) ck_assert_int_eq(skip_zero_rows(m, skip), 1); /* item 5 */
        int32_t wn = brute_topk(m, x, k, skip, want, wscores);
        ck_assert_int_eq(n, wn);
        ck_assert_msg(memcmp(items, want, sizeof(int32_t) * (size_t)n) == 0,
                      "f=%d n=%d user %d k=%d: lists differ", f, ni, u, k);
        ck_assert(memcmp(scores, wscores, sizeof(float) * (size_t)n) == 0);
      }
    }
  /* the batch through the screen gives the same lists */
  int32_t users[40], cnt[40];
  static int32_t bitems[40 * 10];
  static float bscores[40 * 10];
  for (int a = 0; a < 40; a++) users[a] = 39 - a;
  ck_assert_int_eq(rp_als_recommend_batch(m, users, 40, 10, NULL, 3, bitems, bscores, cnt, NULL),
                   0);
  for (int a = 0; a < 40; a++) {
    if (!rp_als_model_knows_user(m, users[a])) {
      ck_assert_int_eq(cnt[a], 0);
      continue;
    }
    const float *x = m->user_factors + (int64_t)users[a] * f;
    ck_assert_int_eq(rp_als_topk(m, x, 10, NULL, 0, NULL, items, scores, &n, NULL), 0);
    ck_assert_int_eq(cnt[a], n);
    ck_assert(memcmp(bitems + a * 10, items, sizeof(int32_t) * (size_t)n) == 0);
    ck_assert(memcmp(bscores + a * 10, scores, sizeof(float) * (size_t)n) == 0);
  }
  rp_als_model_free(m);
}

START_TEST(screen_is_exact) {
  screen_case(64, 3000, 0);
  screen_case(17, 2000, 0);
  screen_case(4, 700, 0);
  screen_case(32, 3000, 1);
}
END_TEST

START_TEST(topk_allow_deny_ties) {
  rp_als_model *m = random_init(2, 10, 4, 1);
  /* items 0..9 with scores (against x = (1,0,0,0)) 0,1,1,2,2,2,3,...: ties */
  float sc[10] = {0, 1, 1, 2, 2, 2, 3, 3, 5, -1};
  for (int i = 0; i < 10; i++) {
    m->item_factors[i * 4] = sc[i];
    for (int d = 1; d < 4; d++) m->item_factors[i * 4 + d] = 0;
  }
  float x[4] = {1, 0, 0, 0};
  int32_t it[10], n;
  float s[10];
  ck_assert_int_eq(rp_als_topk(m, x, 5, NULL, 0, NULL, it, s, &n, NULL), 0);
  int32_t w1[] = {8, 6, 7, 3, 4};
  ck_assert_int_eq(n, 5);
  ck_assert(memcmp(it, w1, sizeof w1) == 0);
  /* deny 6 and 3 (two exclusion lists), allow a subset */
  int32_t deny[] = {3, 6}, seen[] = {8};
  rp_als_list ex[2] = {{seen, 1}, {deny, 2}};
  ck_assert_int_eq(rp_als_topk(m, x, 4, ex, 2, NULL, it, s, &n, NULL), 0);
  int32_t w2[] = {7, 4, 5, 1};
  ck_assert(memcmp(it, w2, sizeof w2) == 0);
  int32_t allow_ids[] = {0, 2, 5, 6, 9, 42};
  rp_als_list allow = {allow_ids, 6};
  /* item 0's factor row is zero (no factors): a candidate only when asked,
   * then above the negative item 9 */
  ck_assert_int_eq(rp_als_topk_flags(m, x, 10, ex, 2, &allow, RP_ALS_UNTRAINED, it, s, &n, NULL),
                   0);
  int32_t w3[] = {5, 2, 0, 9}; /* 6 denied, 42 out of range */
  ck_assert_int_eq(n, 4);
  ck_assert(memcmp(it, w3, sizeof w3) == 0);
  ck_assert(s[0] == 2 && s[3] == -1);
  ck_assert_int_eq(rp_als_topk(m, x, 10, ex, 2, &allow, it, s, &n, NULL), 0);
  int32_t w3d[] = {5, 2, 9};
  ck_assert_int_eq(n, 3);
  ck_assert(memcmp(it, w3d, sizeof w3d) == 0);
  /* k larger than the candidates: what there is */
  ck_assert_int_eq(rp_als_topk_flags(m, x, 100, ex, 2, NULL, RP_ALS_UNTRAINED, it, s, &n, NULL), 0);
  ck_assert_int_eq(n, 7);
  ck_assert_int_eq(rp_als_topk(m, x, 100, ex, 2, NULL, it, s, &n, NULL), 0);
  ck_assert_int_eq(n, 6);
  ck_assert_int_eq(rp_als_topk(m, x, 0, NULL, 0, NULL, it, s, &n, NULL), 0);
  ck_assert_int_eq(n, 0);
  rp_als_model_free(m);
}
END_TEST

START_TEST(batch_matches_single) {
  rp_csr *m = random_matrix(150, 400, 0.05, 0, 29);
  rp_als_opts o = small_opts(32, RP_ALS_CG);
  rp_als_model *model = train_ok(m, &o, NULL);
  /* an exclusion matrix with fewer rows and columns than the model */
  rp_csr *ex = random_matrix(100, 300, 0.1, 0, 31);
  int32_t users[160];
  for (int a = 0; a < 160; a++) users[a] = (a * 37) % 160; /* 150.. unknown */
  int32_t k = 12, items[160 * 12], cnt[160], one[12], n;
  float scores[160 * 12], s1[12];
  ck_assert_int_eq(rp_als_recommend_batch(model, users, 160, k, ex, 2, items, scores, cnt, NULL),
                   0);
  for (int a = 0; a < 160; a++) {
    int32_t u = users[a];
    if (!rp_als_model_knows_user(model, u)) {
      ck_assert_int_eq(cnt[a], 0);
      continue;
    }
    rp_als_list l = {NULL, 0};
    if (u < ex->nrows) l.idx = ex->indices + ex->indptr[u], l.n = rp_csr_rowlen(ex, u);
    ck_assert_int_eq(rp_als_topk(model, model->user_factors + (int64_t)u * 32, k, &l, 1, NULL, one,
                                 s1, &n, NULL),
                     0);
    ck_assert_int_eq(cnt[a], n);
    ck_assert(memcmp(items + a * k, one, sizeof(int32_t) * (size_t)n) == 0);
    ck_assert(memcmp(scores + a * k, s1, sizeof(float) * (size_t)n) == 0);
  }
  /* through the recommender interface, 1 thread: the same */
  int32_t items2[160 * 12], cnt2[160];
  float scores2[160 * 12];
  ck_assert_int_eq(
      model->rec.recommend(model->rec.self, users, 160, k, ex, 1, items2, scores2, cnt2, NULL), 0);
  ck_assert(memcmp(cnt, cnt2, sizeof cnt) == 0);
  for (int a = 0; a < 160; a++)
    ck_assert(memcmp(items + a * k, items2 + a * k, sizeof(int32_t) * (size_t)cnt[a]) == 0);
  rp_als_model_free(model);
  rp_csr_free(m);
  rp_csr_free(ex);
}
END_TEST

START_TEST(similar_is_cosine) {
  rp_csr *m = random_matrix(50, 80, 0.1, 0, 37);
  rp_als_opts o = small_opts(8, RP_ALS_CG);
  rp_als_model *model = train_ok(m, &o, NULL);
  int32_t idx[80], n;
  float s[80];
  ck_assert_int_eq(rp_als_similar(model, 0, 2, 80, 1, idx, s, &n, NULL), 0);
  ck_assert_int_eq(idx[0], 2);
  ck_assert_float_eq_tol(s[0], 1.0f, 1e-5f);
  for (int32_t a = 1; a < n; a++) {
    const float *p = model->item_factors + 2 * 8, *q = model->item_factors + idx[a] * 8;
    double pq = 0, pp = 0, qq = 0;
    for (int d = 0; d < 8; d++) pq += p[d] * q[d], pp += p[d] * p[d], qq += q[d] * q[d];
    double want = qq > 0 ? pq / sqrt(pp * qq) : 0;
    ck_assert_msg(fabs(s[a] - want) < 1e-5, "item %d: %g vs %g", idx[a], (double)s[a], want);
    ck_assert(s[a] <= s[a - 1]);
  }
  ck_assert_int_eq(rp_als_similar(model, 0, 2, 5, 0, idx, s, &n, NULL), 0);
  ck_assert_int_ne(idx[0], 2);
  /* empty item (column 5): nothing to say */
  ck_assert_int_eq(rp_als_similar(model, 0, 5, 5, 1, idx, s, &n, NULL), 0);
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(rp_als_similar(model, 1, 4, 5, 1, idx, s, &n, NULL), 0);
  ck_assert_int_eq(idx[0], 4);
  ck_assert_int_eq(rp_als_similar(model, 1, 400, 5, 1, idx, s, &n, NULL), RP_EINVAL);
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

/* ---- fold-in, explain ------------------------------------------------------------------------ */
START_TEST(foldin_reproduces_trained_user) {
  rp_csr *m = random_matrix(80, 60, 0.15, 0.05, 41);
  rp_als_opts o = small_opts(8, RP_ALS_CHOLESKY);
  o.iterations = 40;
  rp_als_model *model = train_ok(m, &o, NULL);
  double *D = dense_of(m);
  float x[8];
  for (int32_t u = 0; u < 80; u++) {
    int64_t a = m->indptr[u], n = m->indptr[u + 1] - a;
    ck_assert_int_eq(rp_als_foldin(model, m->indices + a, m->data + a, n, x, NULL), 0);
    const float *t = model->user_factors + (int64_t)u * 8;
    double d = 0, s = 1e-9;
    for (int e = 0; e < 8; e++) d += (x[e] - t[e]) * (x[e] - t[e]), s += t[e] * t[e];
    ck_assert_msg(sqrt(d / s) < 2e-2, "user %d: fold-in differs by %g", u, sqrt(d / s));
    /* and it is the exact solve against the final item factors */
    double A[64], b[8], Yd[60 * 8];
    for (int e = 0; e < 60 * 8; e++) Yd[e] = model->item_factors[e];
    ref_normal(&o, D, u, 60, 0, 60, Yd, 8, A, b);
    if (n > 0) gauss(A, b, 8);
    for (int e = 0; e < 8; e++)
      ck_assert_msg(fabs(x[e] - (n > 0 ? b[e] : 0)) < 1e-4 * (1 + fabs(b[e])), "user %d", u);
  }
  free(D);
  /* shuffled, repeated and out-of-range items: duplicates summed */
  int64_t a = m->indptr[0], n = m->indptr[1] - a;
  int32_t items[64];
  float vals[64], y[8];
  int64_t k = 0;
  for (int64_t e = n - 1; e >= 0; e--) {
    items[k] = m->indices[a + e], vals[k++] = m->data[a + e] / 2;
    items[k] = m->indices[a + e], vals[k++] = m->data[a + e] / 2;
  }
  items[k] = 999, vals[k++] = 5;
  items[k] = -3, vals[k++] = 5;
  ck_assert_int_eq(rp_als_foldin(model, m->indices + a, m->data + a, n, x, NULL), 0);
  ck_assert_int_eq(rp_als_foldin(model, items, vals, k, y, NULL), 0);
  for (int e = 0; e < 8; e++) ck_assert_float_eq_tol(x[e], y[e], 1e-6f);
  /* no history: zero */
  ck_assert_int_eq(rp_als_foldin(model, NULL, NULL, 0, y, NULL), 0);
  for (int e = 0; e < 8; e++) ck_assert(y[e] == 0);
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

START_TEST(explain_sums_to_score) {
  rp_csr *m = random_matrix(40, 50, 0.2, 0.1, 43);
  rp_als_opts o = small_opts(8, RP_ALS_CG);
  o.confidence = RP_ALS_CONF_HU;
  rp_als_model *model = train_ok(m, &o, NULL);
  int64_t a = m->indptr[1], n = m->indptr[2] - a;
  float x[8];
  ck_assert_int_eq(rp_als_foldin(model, m->indices + a, m->data + a, n, x, NULL), 0);
  int32_t items[64], cnt;
  float c[64];
  double total;
  for (int32_t item = 0; item < 50; item += 7) {
    ck_assert_int_eq(rp_als_explain(model, m->indices + a, m->data + a, n, item, 64, items, c, &cnt,
                                    &total, NULL),
                     0);
    double score = rp_als_dot(x, model->item_factors + (int64_t)item * 8, 8), sum = 0;
    ck_assert_msg(fabs(total - score) < 1e-4 * (1 + fabs(score)), "total %g, score %g", total,
                  score);
    int pos = 0;
    for (int64_t e = 0; e < n; e++) pos += m->data[a + e] > 0;
    ck_assert_int_eq(cnt, pos); /* negatives do not contribute */
    for (int32_t j = 0; j < cnt; j++) {
      sum += c[j];
      if (j) ck_assert(c[j] <= c[j - 1]);
    }
    ck_assert_double_eq_tol(sum, total, 1e-5 * (1 + fabs(total)));
  }
  ck_assert_int_eq(
      rp_als_explain(model, m->indices + a, m->data + a, n, 3, 2, items, c, &cnt, &total, NULL), 0);
  ck_assert_int_eq(cnt, 2);
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

/* ---- early stopping ------------------------------------------------------------------------- */
typedef struct vstate {
  int n;
  double v[64];
  int32_t best[64];
} vstate;
static int collect_v(const rp_als_iter_info *info, void *ud) {
  vstate *s = ud;
  s->v[s->n] = info->validation;
  s->best[s->n++] = info->best_iteration;
  return 0;
}

START_TEST(validation_early_stop) {
  /* an overfitting setup: many factors, no regularization, tiny data */
  rp_csr *train = random_matrix(60, 40, 0.15, 0, 47);
  rp_csr *test = random_matrix(60, 40, 0.05, 0, 53);
  rp_als_opts o = small_opts(24, RP_ALS_CG);
  o.iterations = 30, o.regularization = 0;
  vstate s = {0};
  rp_als_hooks h = {0};
  h.test = test, h.k = 5, h.metric = RP_M_NDCG, h.patience = 2;
  h.on_iteration = collect_v, h.ud = &s;
  rp_als_model *model = train_ok(train, &o, &h);
  ck_assert_int_ge(s.n, 3);
  int32_t best = s.best[s.n - 1];
  ck_assert_int_eq(model->iterations_done, best);
  for (int i = 0; i < s.n; i++) ck_assert(s.v[i] <= s.v[best - 1]);
  if (s.n < 30) ck_assert_int_eq(s.n - best, 2); /* stopped by patience */
  /* the kept factors give the best iteration's metric */
  double again;
  ck_assert_int_eq(rp_als_validate_metric(model, train, test, 5, RP_M_NDCG, 1, &again, NULL), 0);
  ck_assert_double_eq_tol(again, s.v[best - 1], 1e-12);
  rp_als_model_free(model);
  /* metric must suit the model */
  rp_err err;
  h.metric = RP_M_RMSE;
  ck_assert_int_eq(rp_als_train(train, &o, &h, &model, &err), RP_EINVAL);
  rp_csr_free(train);
  rp_csr_free(test);
}
END_TEST

static int stop_at_3(const rp_als_iter_info *info, void *ud) {
  (void)ud;
  return info->iteration == 3;
}

START_TEST(callback_stops) {
  rp_csr *m = random_matrix(30, 30, 0.2, 0, 59);
  rp_als_opts o = small_opts(4, RP_ALS_CG);
  o.iterations = 10;
  rp_als_hooks h = {0};
  h.on_iteration = stop_at_3;
  rp_als_model *model = train_ok(m, &o, &h);
  ck_assert_int_eq(model->iterations_done, 3);
  ck_assert(isnan(model->loss)); /* not asked for */
  rp_als_model_free(model);
  rp_csr_free(m);
}
END_TEST

/* ---- allocation failure --------------------------------------------------------------------- */
static rp_csr *fault_m;
static int train_scenario(void) {
  rp_als_opts o = small_opts(8, RP_ALS_CHOLESKY);
  o.iterations = 2;
  rp_csr *test = fault_m;
  rp_als_hooks h = {0};
  h.test = test, h.k = 3, h.metric = RP_M_MAP, h.patience = 5, h.want_loss = 1;
  rp_err err;
  rp_als_model *m = NULL;
  int rc = rp_als_train(fault_m, &o, &h, &m, &err);
  if (rc) return rc;
  float x[8];
  int32_t it[5], n;
  float s[5];
  double total;
  rc = rp_als_foldin(m, fault_m->indices, fault_m->data, 4, x, &err);
  if (!rc) rc = rp_als_topk(m, x, 5, NULL, 0, NULL, it, s, &n, &err);
  if (!rc) rc = rp_als_similar(m, 1, 0, 5, 1, it, s, &n, &err);
  if (!rc)
    rc = rp_als_explain(m, fault_m->indices, fault_m->data, 4, 1, 5, it, s, &n, &total, &err);
  int32_t users[3] = {0, 1, 2}, items[15], cnt[3];
  float sc[15];
  if (!rc) rc = rp_als_recommend_batch(m, users, 3, 5, fault_m, 2, items, sc, cnt, &err);
  if (!rc) rc = rp_als_loss(m, fault_m, 2, &total, &err);
  rp_als_model_free(m);
  return rc;
}

START_TEST(fault_loop_train_and_queries) {
  fault_m = random_matrix(30, 20, 0.2, 0, 61);
  RP_FAULT_LOOP(train_scenario());
  rp_csr_free(fault_m);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, cholesky_matches_reference);
  tcase_add_test(tc, reg_mode_auto_resolved_in_core);
  tcase_add_test(tc, cg_matches_reference);
  tcase_add_test(tc, long_rows_match_blocked);
  tcase_add_test(tc, loss_matches_reference);
  tcase_add_test(tc, cholesky_loss_decreases);
  tcase_add_test(tc, cg_reaches_cholesky_loss);
  tcase_add_test(tc, bit_identical_across_threads);
  tcase_add_test(tc, gram_is_thread_independent);
  tcase_add_test(tc, gram_is_the_double_sum_in_row_order);
  tcase_add_test(tc, blas_single_threaded_inside);
  tcase_add_test(tc, warm_start_continues);
  tcase_add_test(tc, bad_options);
  tcase_add_test(tc, options_checked_in_float);
  tcase_add_test(tc, nonfinite_training_stops);
  tcase_add_test(tc, foldin_nonfinite_is_an_error);
  tcase_add_test(tc, topk_matches_brute_force);
  tcase_add_test(tc, screen_is_exact);
  tcase_add_test(tc, topk_allow_deny_ties);
  tcase_add_test(tc, batch_matches_single);
  tcase_add_test(tc, similar_is_cosine);
  tcase_add_test(tc, foldin_reproduces_trained_user);
  tcase_add_test(tc, explain_sums_to_score);
  tcase_add_test(tc, validation_early_stop);
  tcase_add_test(tc, callback_stops);
  tcase_add_test(tc, fault_loop_train_and_queries);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) {
  (void)argc;
  /* OpenBLAS reads its thread count when it loads: set it and start again */
  if (!getenv("OPENBLAS_NUM_THREADS")) {
    setenv("OPENBLAS_NUM_THREADS", "4", 1);
    execv("/proc/self/exe", argv);
    perror("execv");
    return 1;
  }
  SRunner *sr = srunner_create(suite());
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (rp_mem_current() != 0) {
    fprintf(stderr, "leak: %zu bytes still allocated\n", rp_mem_current());
    return 1;
  }
  return nf == 0 ? 0 : 1;
}
