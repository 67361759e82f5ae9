/* Check tests for rp_als_partial_fit (partial.c): the solved rows against a
 * double-precision reference, growth, the caches, bad input, and queries
 * running on other threads while the model is updated (the TSan build
 * checks the locking). */
#include <math.h>
#include <pthread.h>
#include <sched.h>

#include "als_impl.h"
#include "rptest.h"
#include "screen.h"

#pragma GCC diagnostic ignored "-Wdouble-promotion"

/* a random nu x ni matrix, about per_row values a row in 1..5 */
static rp_csr *random_matrix(int32_t nu, int32_t ni, int per_row, uint64_t seed) {
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  int64_t cap = (int64_t)nu * per_row, n = 0;
  int32_t *r = malloc(sizeof(int32_t) * (size_t)cap), *c = malloc(sizeof(int32_t) * (size_t)cap);
  float *v = malloc(sizeof(float) * (size_t)cap);
  for (int32_t u = 0; u < nu; u++)
    for (int k = 0; k < per_row; k++) {
      r[n] = u, c[n] = (int32_t)rp_rng_below(&g, (uint64_t)ni);
      v[n++] = (float)(1 + rp_rng_below(&g, 5));
    }
  rp_err err;
  rp_csr *m = rp_csr_build(nu, ni, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_msg(m != NULL, "%s", err.msg);
  free(r), free(c), free(v);
  return m;
}

static rp_als_model *trained(const rp_csr *m, int32_t f, int implicit) {
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = f, o.iterations = 3, o.regularization = 0.1, o.threads = 2, o.implicit = implicit;
  o.solver = RP_ALS_CHOLESKY;
  rp_err err;
  rp_als_model *model = NULL;
  ck_assert_msg(rp_als_train(m, &o, NULL, &model, &err) == RP_OK, "%s", err.msg);
  return model;
}

/* the user half-step of row (idx, val) in double over every item:
 * (sum_i c_i y_i y_i^T + lambda I) x = sum_i c_i p_i y_i, by Gaussian
 * elimination */
static void reference(const rp_als_model *m, const int32_t *idx, const float *val, int64_t n,
                      double *x) {
  int32_t f = m->factors;
  const rp_als_opts *o = &m->opts;
  double *A = calloc((size_t)f * f, sizeof(double)), *b = calloc((size_t)f, sizeof(double));
  double lambda = o->reg_mode == RP_ALS_REG_FREQUENCY ? o->regularization * n : o->regularization;
  for (int32_t d = 0; d < f; d++) A[d * f + d] = lambda;
  for (int32_t i = 0; i < m->nitems; i++) {
    double r = NAN;
    for (int64_t j = 0; j < n; j++)
      if (idx[j] == i) r = val[j];
    double c, p;
    if (o->implicit) {
      c = isnan(r) ? 1 : o->alpha * fabs(r), p = !isnan(r) && r > 0;
    } else {
      if (isnan(r)) continue;
      c = 1, p = r;
    }
    const float *y = m->item_factors + (int64_t)i * f;
    for (int32_t a = 0; a < f; a++) {
      for (int32_t d = 0; d < f; d++) A[a * f + d] += c * y[a] * y[d];
      b[a] += c * p * y[a];
    }
  }
  for (int k = 0; k < f; k++) {
    for (int i = k + 1; i < f; i++) {
      double t = A[i * f + k] / A[k * f + k];
      for (int j = k; j < f; j++) A[i * f + j] -= t * A[k * f + j];
      b[i] -= t * b[k];
    }
  }
  for (int i = f - 1; i >= 0; i--) {
    double s = b[i];
    for (int j = i + 1; j < f; j++) s -= A[i * f + j] * x[j];
    x[i] = s / A[i * f + i];
  }
  free(A), free(b);
}

static void assert_row(const rp_als_model *m, int32_t u, const rp_csr *x, int32_t r, double tol) {
  int32_t f = m->factors;
  double *want = malloc(sizeof(double) * (size_t)f);
  int64_t a = x->indptr[r];
  reference(m, x->indices + a, x->data + a, rp_csr_rowlen(x, r), want);
  double scale = 0;
  for (int32_t d = 0; d < f; d++) scale = fmax(scale, fabs(want[d]));
  for (int32_t d = 0; d < f; d++)
    ck_assert_msg(fabs(m->user_factors[(int64_t)u * f + d] - want[d]) <= tol * scale,
                  "user %d dim %d: %g vs %g", u, d, m->user_factors[(int64_t)u * f + d], want[d]);
  free(want);
}

START_TEST(rows_match_reference) {
  for (int implicit = 0; implicit <= 1; implicit++) {
    rp_csr *ui = random_matrix(60, 40, 6, 1 + implicit);
    rp_als_model *m = trained(ui, 8, implicit);
    rp_csr *x = random_matrix(3, 40, 5, 99);
    int32_t rows[3] = {7, 70, 2}; /* 70: past the end, the model grows */
    rp_err err;
    ck_assert_msg(rp_als_partial_fit(m, 0, rows, x, 2, &err) == RP_OK, "%s", err.msg);
    ck_assert_int_eq(m->nusers, 71);
    ck_assert_int_eq(m->rec.nusers, 71);
    for (int r = 0; r < 3; r++) assert_row(m, rows[r], x, r, 1e-5);
    for (int32_t u = 60; u < 70; u++) ck_assert(!rp_als_model_knows_user(m, u));
    rp_csr_free(x);
    rp_csr_free(ui);
    rp_als_model_free(m);
  }
}
END_TEST

START_TEST(item_update_keeps_caches) {
  rp_csr *ui = random_matrix(200, 120, 8, 5);
  rp_als_model *m = trained(ui, 16, 1);
  /* build the caches: screen, norms */
  int32_t items[10], n;
  float scores[10];
  rp_err err;
  ck_assert_int_eq(rp_als_recommend_user(m, 1, 10, NULL, 0, NULL, items, scores, &n, &err), 0);
  ck_assert_int_eq(rp_als_similar(m, 0, 3, 10, 1, items, scores, &n, &err), 0);
  rp_csr *iu = random_matrix(5, 200, 10, 8); /* 5 items, columns are users */
  int32_t rows[5] = {0, 50, 119, 120, 121};
  ck_assert_msg(rp_als_partial_fit(m, 1, rows, iu, 2, &err) == RP_OK, "%s", err.msg);
  ck_assert_int_eq(m->nitems, 122);
  /* Y^T Y is the Gram matrix of the new items, bit for bit */
  float *G = malloc(sizeof(float) * 16 * 16);
  ck_assert_int_eq(rp_als_gram(m->item_factors, m->nitems, 16, 1, G, &err), 0);
  ck_assert(memcmp(G, m->yty, sizeof(float) * 16 * 16) == 0);
  free(G);
  /* top-k (screened) equals the brute force over the new items */
  ck_assert_int_eq(rp_als_recommend_user(m, 1, 10, NULL, 0, NULL, items, scores, &n, &err), 0);
  ck_assert_int_eq(n, 10);
  const float *x = m->user_factors + 16;
  for (int a = 0; a < n; a++)
    ck_assert(scores[a] == rp_als_dot(x, m->item_factors + (int64_t)items[a] * 16, 16));
  for (int32_t i = 0; i < m->nitems; i++) {
    float s = rp_als_dot(x, m->item_factors + (int64_t)i * 16, 16);
    int in = 0;
    for (int a = 0; a < n; a++) in |= items[a] == i;
    if (!in) ck_assert(s <= scores[n - 1]);
  }
  /* item norms were rebuilt: item 121 is similar to itself with 1 */
  ck_assert_int_eq(rp_als_similar(m, 0, 121, 1, 1, items, scores, &n, &err), 0);
  ck_assert_int_eq(items[0], 121);
  ck_assert(fabsf(scores[0] - 1) < 1e-5f);
  rp_csr_free(iu);
  rp_csr_free(ui);
  rp_als_model_free(m);
}
END_TEST

START_TEST(bad_input) {
  rp_csr *ui = random_matrix(30, 20, 4, 3);
  rp_als_model *m = trained(ui, 4, 1);
  rp_err err;
  int32_t r2[2] = {1, 1};
  rp_csr *x = random_matrix(2, 20, 3, 4);
  ck_assert_int_eq(rp_als_partial_fit(m, 0, r2, x, 1, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "user 2 is given twice");
  r2[0] = -1;
  ck_assert_int_eq(rp_als_partial_fit(m, 0, r2, x, 1, &err), RP_EINVAL);
  ck_assert(strstr(err.msg, "user index -1 (row 1) out of range") != NULL);
  rp_csr *wide = random_matrix(2, 25, 30, 4); /* columns up to 24: 20 items */
  int32_t ok2[2] = {1, 2};
  ck_assert_int_eq(rp_als_partial_fit(m, 0, ok2, wide, 1, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "is not an item of the model (it has 20 items)") != NULL, "%s",
                err.msg);
  x->data[0] = INFINITY;
  ck_assert_int_eq(rp_als_partial_fit(m, 0, ok2, x, 1, &err), RP_EINVAL);
  ck_assert(strstr(err.msg, "value is not finite") != NULL);
  /* ids without a map */
  const char *ids[2] = {"a", "b"};
  size_t lens[2] = {1, 1};
  x->data[0] = 1;
  ck_assert_int_eq(rp_als_partial_fit_ids(m, 0, ids, lens, x, 1, &err), RP_EINVAL);
  ck_assert(strstr(err.msg, "has no user ids") != NULL);
  ck_assert_int_eq(m->nusers, 30);
  rp_csr_free(wide);
  rp_csr_free(x);
  rp_csr_free(ui);
  rp_als_model_free(m);
}
END_TEST

START_TEST(ids_grow_maps) {
  rp_idmap *users = rp_test_numbered("u", 30), *items = rp_test_numbered("i", 20);
  rp_csr *ui = random_matrix(30, 20, 4, 3);
  ui->rowmap = rp_idmap_retain(users), ui->colmap = rp_idmap_retain(items);
  rp_als_model *m = trained(ui, 4, 1);
  rp_csr *x = random_matrix(2, 20, 3, 4);
  const char *ids[2] = {"u3", "fresh"};
  size_t lens[2] = {2, 5};
  rp_err err;
  ck_assert_msg(rp_als_partial_fit_ids(m, 0, ids, lens, x, 1, &err) == RP_OK, "%s", err.msg);
  ck_assert_int_eq(m->nusers, 31);
  ck_assert_int_eq(users->n, 31);
  ck_assert_int_eq(rp_idmap_find(users, "fresh", 5), 30);
  assert_row(m, 30, x, 1, 1e-5);
  /* a frozen map refuses new ids */
  users->frozen = 1;
  const char *ids2[2] = {"u4", "other"};
  size_t lens2[2] = {2, 5};
  ck_assert_int_eq(rp_als_partial_fit_ids(m, 0, ids2, lens2, x, 1, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "user 'other' is new and cannot be added") != NULL, "%s", err.msg);
  users->frozen = 0;
  rp_csr_free(x);
  rp_csr_free(ui);
  rp_als_model_free(m);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------------- */
typedef struct reader {
  rp_als_model *m;
  const int32_t *want_items; /* 20 users x 10 */
  atomic_int *stop;
  int mismatches, rounds;
} reader;

static void *read_loop(void *p) {
  reader *r = p;
  int32_t items[10], n, users[4] = {0, 5, 10, 19}, bi[40], bn[4];
  float scores[10], bs[40];
  rp_err err;
  while (!atomic_load(r->stop) || r->rounds < 50) {
    for (int32_t u = 0; u < 20; u++) {
      if (rp_als_recommend_user(r->m, u, 10, NULL, 0, NULL, items, scores, &n, &err) || n != 10 ||
          memcmp(items, r->want_items + u * 10, sizeof items) != 0)
        r->mismatches++;
    }
    if (rp_als_recommend_batch(r->m, users, 4, 10, NULL, 1, bi, bs, bn, &err)) r->mismatches++;
    for (int a = 0; a < 4; a++)
      if (bn[a] != 10 || memcmp(bi + a * 10, r->want_items + users[a] * 10, sizeof items) != 0)
        r->mismatches++;
    rp_als_similar(r->m, 1, 3, 5, 1, items, scores, &n, &err);
    r->rounds++;
  }
  return NULL;
}

START_TEST(concurrent_recommend) {
  rp_csr *ui = random_matrix(400, 300, 10, 21);
  rp_als_model *m = trained(ui, 16, 1);
  int32_t want[200], n;
  float sc[10];
  rp_err err;
  for (int32_t u = 0; u < 20; u++) {
    ck_assert_int_eq(rp_als_recommend_user(m, u, 10, NULL, 0, NULL, want + u * 10, sc, &n, &err),
                     0);
    ck_assert_int_eq(n, 10);
  }
  atomic_int stop;
  atomic_init(&stop, 0);
  reader rd[2] = {{m, want, &stop, 0, 0}, {m, want, &stop, 0, 0}};
  pthread_t th[2];
  for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, read_loop, &rd[t]);
  /* users 100.. change, and new users past the end grow the model several
   * times while the readers score users 0..19 */
  rp_csr *x = random_matrix(8, 300, 6, 77);
  for (int round = 0; round < 40; round++) {
    int32_t rows[8];
    for (int a = 0; a < 8; a++) rows[a] = a < 4 ? 100 + 4 * round + a : 400 + 8 * round + a;
    ck_assert_msg(rp_als_partial_fit(m, 0, rows, x, 1, &err) == RP_OK, "%s", err.msg);
  }
  atomic_store(&stop, 1);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  ck_assert_int_eq(rd[0].mismatches + rd[1].mismatches, 0);
  ck_assert_int_eq(m->nusers, 400 + 8 * 39 + 8);
  assert_row(m, 400 + 8 * 39 + 7, x, 7, 1e-5);
  rp_csr_free(x);
  rp_csr_free(ui);
  rp_als_model_free(m);
}
END_TEST

/* The model's lock prefers writers (glibc): while a reader holds it and a
 * refit waits to write, a new reader is refused, so a stream of recommend
 * calls cannot starve the refit.  A reader-preferring lock would let
 * tryrdlock succeed for ever: the loop would end without a refusal. */
#ifdef __GLIBC__
static void *write_once(void *arg) {
  rp_als_model *m = arg;
  pthread_rwlock_wrlock(&m->rw);
  pthread_rwlock_unlock(&m->rw);
  return NULL;
}
#endif

START_TEST(lock_prefers_writers) {
#ifdef __GLIBC__
  rp_csr *ui = random_matrix(20, 30, 5, 3);
  rp_als_model *m = trained(ui, 4, 1);
  ck_assert_int_eq(pthread_rwlock_rdlock(&m->rw), 0);
  pthread_t th;
  pthread_create(&th, NULL, write_once, m);
  int refused = 0;
  for (long a = 0; a < 200000000L && !refused; a++) {
    if (pthread_rwlock_tryrdlock(&m->rw) == 0)
      pthread_rwlock_unlock(&m->rw);
    else
      refused = 1;
    if ((a & 1023) == 0) sched_yield();
  }
  pthread_rwlock_unlock(&m->rw);
  pthread_join(th, NULL);
  ck_assert_msg(refused, "a new reader got the lock while a writer waited");
  rp_csr_free(ui);
  rp_als_model_free(m);
#endif
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als_partial");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, rows_match_reference);
  tcase_add_test(tc, item_update_keeps_caches);
  tcase_add_test(tc, bad_input);
  tcase_add_test(tc, ids_grow_maps);
  tcase_add_test(tc, concurrent_recommend);
  tcase_add_test(tc, lock_prefers_writers);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
