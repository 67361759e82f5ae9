/* Check tests for the metrics core: every metric by hand on small cases
 * (short lists, k > |T|, k larger than the catalogue, users without test
 * items, unknown users), curves, thread/batch invariance, bootstrap,
 * paired comparison, histograms, popularity profile, bad input and
 * allocation-failure loops. */
#include "events.h"
#include "metrics.h"
#include "rptest.h"

#define EPS 1e-9

/* ---- a recommender returning fixed lists ----------------------------------- */
typedef struct fixed {
  int32_t nusers;
  const int32_t *const *lists; /* lists[u], -1 terminated */
  const rp_csr *seen_exclude;  /* what evaluate passed */
  int calls;
} fixed;

static int fixed_recommend(void *self, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *exclude, int threads, int32_t *out_items,
                           float *out_scores, int32_t *out_n, rp_err *err) {
  fixed *f = self;
  f->seen_exclude = exclude;
  f->calls++;
  for (int32_t i = 0; i < n; i++) {
    out_n[i] = 0;
    if (users[i] >= f->nusers || !f->lists[users[i]]) continue;
    const int32_t *l = f->lists[users[i]];
    for (int32_t j = 0; j < k && l[j] >= 0; j++) {
      out_items[(size_t)i * k + j] = l[j];
      out_scores[(size_t)i * k + j] = (float)(k - j);
      out_n[i]++;
    }
  }
  return RP_OK;
}

static rp_recommender fixed_rec(fixed *f) {
  rp_recommender r = {0};
  r.name = "fixed";
  r.self = f;
  r.nusers = f->nusers;
  r.nitems = 1 << 30;
  r.recommend = fixed_recommend;
  return r;
}

/* CSR from a dense 0/1 pattern given as rows of item lists (-1 ends a row,
 * -2 ends the matrix); values 1 unless vals given. */
static rp_csr *csr_rows(int32_t nrows, int32_t ncols, const int32_t *spec, const float *vals) {
  int32_t r[256], c[256];
  float v[256];
  int64_t n = 0;
  int32_t row = 0;
  for (int32_t p = 0; spec[p] != -2; p++) {
    if (spec[p] == -1) {
      row++;
      continue;
    }
    r[n] = row, c[n] = spec[p], v[n] = vals ? vals[n] : 1.0f;
    n++;
  }
  rp_err err;
  rp_csr *m = rp_csr_build(nrows, ncols, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_ptr_nonnull(m);
  return m;
}

/* the hand case: 10 items, k = 3 */
static const int32_t l0[] = {4, 2, 1, -1}, l1[] = {3, 5, -1}, l3[] = {7, -1};
static const int32_t *const hand_lists[] = {l0, l1, NULL, l3};
static const int32_t test_spec[] = {1, 4, -1, 0, 5, 6, 7, -1, 9, -1, -1, -2};
static const int32_t train_spec[] = {0, -1, 1, 2, -1, -1, 4, 2, -1, -2};

START_TEST(hand_case) {
  rp_csr *test = csr_rows(4, 10, test_spec, NULL), *train = csr_rows(4, 10, train_spec, NULL);
  fixed f = {.nusers = 2, .lists = hand_lists}; /* user 2 unknown: empty list */
  rp_recommender rec = fixed_rec(&f);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 3;
  o.curve = 1;
  rp_metrics_result *r;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, train, test, &o, &r, &err), 0);
  ck_assert_ptr_eq(f.seen_exclude, train);
  ck_assert_int_eq(r->n, 3); /* user 3 has no test item */
  ck_assert_int_eq(r->users[2], 2);
  ck_assert_int_eq(r->unknown_users, 1);
  ck_assert_int_eq(r->short_lists, 2);
  ck_assert_int_eq(r->nitems, 10);
  const double *u0 = r->per_user, *u1 = r->per_user + RP_M_NPER, *u2 = r->per_user + 2 * RP_M_NPER;
  /* user 0: T = {1, 4}, list 4 2 1: hits at ranks 1 and 3 */
  ck_assert_double_eq_tol(u0[RP_M_PRECISION], 2.0 / 3, EPS);
  ck_assert_double_eq_tol(u0[RP_M_RECALL], 1.0, EPS);
  ck_assert_double_eq_tol(u0[RP_M_MAP], (1.0 + 2.0 / 3) / 2, EPS);
  ck_assert_double_eq_tol(u0[RP_M_NDCG], 1.5 / (1 + 1 / log2(3)), EPS);
  ck_assert_double_eq_tol(u0[RP_M_HIT_RATE], 1, EPS);
  ck_assert_double_eq_tol(u0[RP_M_MRR], 1, EPS);
  ck_assert_double_eq_tol(u0[RP_M_AUC], (1 + 2.0 * 7) / 16, EPS);
  /* novelty: 3 train users; pop 4 = 1, pop 2 = 2, pop 1 = 1 */
  ck_assert_double_eq_tol(u0[RP_M_NOVELTY], (2 * log2(3) + log2(1.5)) / 3, EPS);
  /* user 1: T = {0, 5, 6, 7} (|T| > k), short list 3 5: hit at rank 2 */
  ck_assert_double_eq_tol(u1[RP_M_PRECISION], 1.0 / 3, EPS);
  ck_assert_double_eq_tol(u1[RP_M_RECALL], 0.25, EPS);
  ck_assert_double_eq_tol(u1[RP_M_MAP], 0.5 / 3, EPS);
  ck_assert_double_eq_tol(u1[RP_M_NDCG], (1 / log2(3)) / (1 + 1 / log2(3) + 0.5), EPS);
  ck_assert_double_eq_tol(u1[RP_M_MRR], 0.5, EPS);
  /* misses at position 1 (0 hits before) and the padded 3 (1 hit before) */
  ck_assert_double_eq_tol(u1[RP_M_AUC], (1 + 2.5 * 4) / 24, EPS);
  ck_assert_double_eq_tol(u1[RP_M_NOVELTY], log2(3), EPS);
  /* user 2: unknown, empty list */
  ck_assert_double_eq_tol(u2[RP_M_PRECISION], 0, EPS);
  ck_assert_double_eq_tol(u2[RP_M_NDCG], 0, EPS);
  ck_assert_double_eq_tol(u2[RP_M_MRR], 0, EPS);
  ck_assert_double_eq_tol(u2[RP_M_AUC], 0.5 * 6 / 9, EPS);
  ck_assert(isnan(u2[RP_M_NOVELTY]));
  /* means */
  ck_assert_double_eq_tol(r->mean[RP_M_PRECISION], (2.0 / 3 + 1.0 / 3) / 3, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_PRECISION_POOLED], 3.0 / 6, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_HIT_RATE], 2.0 / 3, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_NOVELTY], (u0[RP_M_NOVELTY] + log2(3)) / 2, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_COVERAGE], 0.5, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_GINI], 0.5, EPS);
  ck_assert(isnan(r->mean[RP_M_RMSE]));
  /* curve: at k it equals the means; at 1 by hand */
  for (int m = 0; m < RP_M_COUNT; m++)
    if (!isnan(r->mean[m])) ck_assert_double_eq_tol(r->curve[m * 3 + 2], r->mean[m], EPS);
  ck_assert_double_eq_tol(r->curve[RP_M_PRECISION * 3], 1.0 / 3, EPS);
  ck_assert_double_eq_tol(r->curve[RP_M_NDCG * 3], 1.0 / 3, EPS);
  ck_assert_double_eq_tol(r->curve[RP_M_AUC * 3], (0.75 + 10.0 / 24 + 4.0 / 9) / 3, EPS);
  ck_assert_double_eq_tol(r->curve[RP_M_PRECISION_POOLED * 3], 1.0 / 3, EPS);
  ck_assert_double_eq_tol(r->curve[RP_M_COVERAGE * 3], 0.2, EPS); /* items 4 and 3 */
  ck_assert_double_eq_tol(r->curve[RP_M_RECALL * 3 + 1], (0.5 + 0.25) / 3, EPS);
  rp_metrics_result_free(r);
  /* users restricted; threshold drops user 0's item 4 when its value is low */
  int32_t only[] = {3, 1, 1, 77};
  o.users = only;
  o.nusers = 4;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, train, test, &o, &r, &err), 0);
  ck_assert_int_eq(r->n, 1);
  ck_assert_int_eq(r->users[0], 1);
  ck_assert_double_eq_tol(r->mean[RP_M_RECALL], 0.25, EPS);
  rp_metrics_result_free(r);
  rp_csr_free(test);
  rp_csr_free(train);
}
END_TEST

START_TEST(k_beyond_catalogue_and_threshold) {
  /* 4 items, k = 6: the list is the whole catalogue */
  static const int32_t la[] = {0, 2, 1, 3, -1};
  static const int32_t *const lists[] = {la};
  static const int32_t tspec[] = {0, 1, 3, -2};
  static const float tval[] = {5, 4, 1};
  rp_csr *test = csr_rows(1, 4, tspec, tval);
  fixed f = {.nusers = 1, .lists = lists};
  rp_recommender rec = fixed_rec(&f);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 6;
  o.threshold = 3; /* item 3 (value 1) is not relevant */
  rp_metrics_result *r;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, test, &o, &r, &err), 0);
  const double *v = r->per_user;
  ck_assert_double_eq_tol(v[RP_M_PRECISION], 2.0 / 6, EPS);
  ck_assert_double_eq_tol(v[RP_M_RECALL], 1, EPS);
  ck_assert_double_eq_tol(v[RP_M_MAP], (1 + 2.0 / 3) / 2, EPS);
  ck_assert_double_eq_tol(v[RP_M_NDCG], 1.5 / (1 + 1 / log2(3)), EPS);
  /* implicit's formula as is: n- = 2, misses at 2, 4 and the padded 5, 6 */
  ck_assert_double_eq_tol(v[RP_M_AUC], (1 + 2 + 2 + 2 + 2.0 * (2 - 4)) / 4, EPS);
  ck_assert(isnan(v[RP_M_NOVELTY])); /* no train: undefined */
  ck_assert_int_eq(r->m[0], 2);
  ck_assert_double_eq_tol(r->mean[RP_M_COVERAGE], 1, EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_GINI], 0, EPS);
  rp_metrics_result_free(r);
  /* a user whose test covers the catalogue has no negatives: auc undefined */
  o.threshold = 0;
  static const int32_t full[] = {0, 1, 2, 3, -2};
  rp_csr *t2 = csr_rows(1, 4, full, NULL);
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, t2, &o, &r, &err), 0);
  ck_assert(isnan(r->per_user[RP_M_AUC]));
  ck_assert(isnan(r->mean[RP_M_AUC]));
  ck_assert_double_eq_tol(r->mean[RP_M_PRECISION], 4.0 / 6, EPS);
  rp_metrics_result_free(r);
  rp_csr_free(t2);
  rp_csr_free(test);
}
END_TEST

START_TEST(no_users_and_bad_input) {
  static const int32_t empty[] = {-1, -1, -2};
  rp_csr *test = csr_rows(2, 5, empty, NULL);
  fixed f = {.nusers = 2, .lists = hand_lists};
  rp_recommender rec = fixed_rec(&f);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  rp_metrics_result *r;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, test, &o, &r, &err), 0);
  ck_assert_int_eq(r->n, 0);
  ck_assert(isnan(r->mean[RP_M_NDCG]));
  ck_assert_double_eq_tol(r->mean[RP_M_COVERAGE], 0, EPS);
  double lo[RP_M_COUNT], hi[RP_M_COUNT];
  ck_assert_int_eq(rp_metrics_bootstrap(r, 10, 1, 0.95, 1, lo, hi, &err), 0);
  ck_assert(isnan(lo[RP_M_NDCG]));
  rp_metrics_result_free(r);
  o.k = 0;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, test, &o, &r, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "k must be"));
  o.k = 3;
  o.ratings = 1;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, test, &o, &r, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "predicts values"));
  /* a recommender returning an item outside the catalogue */
  static const int32_t bad[] = {42, -1};
  static const int32_t *const blist[] = {bad};
  static const int32_t one[] = {1, -2};
  rp_csr *t1 = csr_rows(1, 5, one, NULL);
  fixed fb = {.nusers = 1, .lists = blist};
  rp_recommender rb = fixed_rec(&fb);
  o.ratings = 0;
  ck_assert_int_eq(rp_metrics_evaluate(&rb, NULL, t1, &o, &r, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "outside the catalogue"));
  ck_assert_ptr_null(r);
  /* train and test on different maps */
  rp_idmap *m1 = rp_idmap_new(&err), *m2 = rp_idmap_new(&err);
  rp_csr *a = rp_csr_new(1, 5, 0, NULL, m1, &err), *b = rp_csr_new(1, 5, 0, NULL, m2, &err);
  ck_assert_int_eq(rp_metrics_evaluate(&rb, a, b, &o, &r, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "same id maps"));
  rp_csr_free(a);
  rp_csr_free(b);
  rp_idmap_release(m1);
  rp_idmap_release(m2);
  rp_csr_free(t1);
  rp_csr_free(test);
}
END_TEST

/* ---- random data: thread and batch invariance, from_lists == evaluate ---- */
typedef struct randrec {
  int32_t nusers, nitems;
  uint64_t seed;
} randrec;

/* a deterministic pseudo-random ranking per user, skipping excluded items */
static int rand_recommend(void *self, const int32_t *users, int32_t n, int32_t k,
                          const rp_csr *exclude, int threads, int32_t *out_items, float *out_scores,
                          int32_t *out_n, rp_err *err) {
  randrec *rr = self;
  for (int32_t i = 0; i < n; i++) {
    rp_rng g;
    rp_rng_seed(&g, rr->seed, (uint64_t)users[i]);
    int32_t c = 0;
    for (int32_t tries = 0; c < k && tries < 4 * k; tries++) {
      int32_t it = (int32_t)rp_rng_below(&g, (uint64_t)rr->nitems);
      int dup = 0;
      for (int32_t j = 0; j < c; j++) dup |= out_items[(size_t)i * k + j] == it;
      if (exclude && users[i] < exclude->nrows)
        for (int64_t p = exclude->indptr[users[i]]; p < exclude->indptr[users[i] + 1]; p++)
          dup |= exclude->indices[p] == it;
      if (dup) continue;
      out_items[(size_t)i * k + c] = it;
      out_scores[(size_t)i * k + c] = (float)(k - c);
      c++;
    }
    out_n[i] = c;
  }
  return RP_OK;
}

static rp_csr *rand_csr(int32_t nr, int32_t nc, int64_t nnz, uint64_t seed) {
  int32_t *r = malloc(sizeof(int32_t) * (size_t)nnz), *c = malloc(sizeof(int32_t) * (size_t)nnz);
  float *v = malloc(sizeof(float) * (size_t)nnz);
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  for (int64_t i = 0; i < nnz; i++) {
    r[i] = (int32_t)rp_rng_below(&g, (uint64_t)nr);
    c[i] = (int32_t)rp_rng_below(&g, (uint64_t)nc);
    v[i] = (float)(1 + rp_rng_below(&g, 5));
  }
  rp_err err;
  rp_csr *m = rp_csr_build(nr, nc, r, c, v, NULL, nnz, RP_AGG_MAX, NULL, NULL, &err);
  free(r), free(c), free(v);
  return m;
}

START_TEST(invariance) {
  rp_csr *train = rand_csr(3000, 400, 30000, 1), *test = rand_csr(3000, 400, 8000, 2);
  randrec rr = {3000, 400, 5};
  rp_recommender rec = {
      .name = "rand", .self = &rr, .nusers = 3000, .nitems = 400, .recommend = rand_recommend};
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 20;
  o.curve = 1;
  o.threads = 1;
  rp_metrics_result *a, *b;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, train, test, &o, &a, &err), 0);
  o.threads = 2;
  o.batch = 256; /* many batches */
  ck_assert_int_eq(rp_metrics_evaluate(&rec, train, test, &o, &b, &err), 0);
  ck_assert_int_eq(a->n, b->n);
  ck_assert(a->n > 2000);
  ck_assert_mem_eq(a->per_user, b->per_user, (size_t)a->n * RP_M_NPER * sizeof(double));
  ck_assert_mem_eq(a->curve, b->curve, (size_t)RP_M_COUNT * 20 * sizeof(double));
  for (int m = 0; m < RP_M_COUNT; m++)
    ck_assert(a->mean[m] == b->mean[m] || (isnan(a->mean[m]) && isnan(b->mean[m])));
  /* bootstrap: same with 1 or 2 threads; interval around the mean */
  double lo1[RP_M_COUNT], hi1[RP_M_COUNT], lo2[RP_M_COUNT], hi2[RP_M_COUNT];
  ck_assert_int_eq(rp_metrics_bootstrap(a, 200, 9, 0.95, 1, lo1, hi1, &err), 0);
  ck_assert_int_eq(rp_metrics_bootstrap(a, 200, 9, 0.95, 2, lo2, hi2, &err), 0);
  for (int m = 0; m < RP_M_COUNT; m++) {
    if (m == RP_M_COVERAGE || m == RP_M_GINI || m == RP_M_RMSE || m == RP_M_MAE) {
      ck_assert(isnan(lo1[m]));
      continue;
    }
    ck_assert(lo1[m] == lo2[m] && hi1[m] == hi2[m]);
    ck_assert_msg(lo1[m] <= a->mean[m] && a->mean[m] <= hi1[m], "%s", rp_metrics_name(m));
    ck_assert(hi1[m] - lo1[m] < 0.5 * fabs(a->mean[m]) + 1e-3);
  }
  /* compare a with itself: zero difference, all ties */
  rp_metrics_diff d;
  ck_assert_int_eq(rp_metrics_compare(a, b, RP_M_NDCG, 100, 1, 0.95, &d, &err), 0);
  ck_assert_int_eq(d.n, a->n);
  ck_assert_double_eq_tol(d.diff, 0, EPS);
  ck_assert_double_eq_tol(d.lo, 0, EPS);
  ck_assert_double_eq_tol(d.hi, 0, EPS);
  ck_assert_int_eq(d.ties, a->n);
  ck_assert_int_eq(rp_metrics_compare(a, b, RP_M_COVERAGE, 100, 1, 0.95, &d, &err), RP_EINVAL);
  /* from_lists on the same lists gives the same result */
  int32_t *items = malloc(sizeof(int32_t) * (size_t)a->n * 20),
          *cnt = malloc(sizeof(int32_t) * (size_t)a->n);
  float *sc = malloc(sizeof(float) * (size_t)a->n * 20);
  rand_recommend(&rr, a->users, a->n, 20, train, 1, items, sc, cnt, &err);
  rp_metrics_result *c;
  o.batch = 0;
  ck_assert_int_eq(
      rp_metrics_from_lists(a->users, a->n, items, cnt, NULL, train, test, &o, &c, &err), 0);
  ck_assert_mem_eq(a->per_user, c->per_user, (size_t)a->n * RP_M_NPER * sizeof(double));
  ck_assert_mem_eq(a->curve, c->curve, (size_t)RP_M_COUNT * 20 * sizeof(double));
  rp_metrics_result_free(c);
  /* one list's value from its hits, as evaluate computes it (to the bit) */
  for (int32_t i = 0; i < a->n; i++) {
    int32_t u = a->users[i], ntest = 0;
    uint8_t hit[20];
    for (int64_t p = test->indptr[u]; p < test->indptr[u + 1]; p++) ntest += test->data[p] > 0;
    for (int32_t j = 0; j < cnt[i]; j++) {
      hit[j] = 0;
      for (int64_t p = test->indptr[u]; p < test->indptr[u + 1]; p++)
        hit[j] |= test->indices[p] == items[(size_t)i * 20 + j] && test->data[p] > 0;
    }
    for (int m = RP_M_PRECISION; m <= RP_M_MRR; m++)
      ck_assert(rp_metrics_list_value(m, hit, cnt[i], 20, ntest) ==
                a->per_user[(size_t)i * RP_M_NPER + m]);
  }
  uint8_t none[1] = {0};
  ck_assert(isnan(rp_metrics_list_value(RP_M_AUC, none, 0, 20, 1)));
  ck_assert(isnan(rp_metrics_list_value(RP_M_NDCG, none, 0, 20, 0)));
  /* the ratio bootstrap on (value, 1) rows is the per-user bootstrap */
  float *rows = malloc(sizeof(float) * 2 * (size_t)a->n);
  for (int32_t i = 0; i < a->n; i++)
    rows[2 * i] = (float)a->per_user[(size_t)i * RP_M_NPER + RP_M_NDCG], rows[2 * i + 1] = 1;
  double rlo, rhi;
  ck_assert_int_eq(rp_metrics_bootstrap_ratios(rows, a->n, 1, 200, 9, 0.95, 2, &rlo, &rhi, &err),
                   0);
  ck_assert(rlo == lo1[RP_M_NDCG] && rhi == hi1[RP_M_NDCG]);
  ck_assert_int_eq(rp_metrics_bootstrap_ratios(rows, a->n, 0, 200, 9, 0.95, 2, &rlo, &rhi, &err),
                   RP_EINVAL);
  free(rows);
  free(items), free(cnt), free(sc);
  /* histogram counts every defined value once */
  int64_t h[10];
  ck_assert_int_eq(rp_metrics_histogram(a, RP_M_NDCG, 10, 0, 1, h, &err), 0);
  int64_t tot = 0;
  for (int i = 0; i < 10; i++) tot += h[i];
  ck_assert_int_eq(tot, a->n);
  rp_metrics_result_free(a);
  rp_metrics_result_free(b);
  rp_csr_free(train);
  rp_csr_free(test);
}
END_TEST

START_TEST(compare_hand) {
  /* a: user 0 hit, user 1 miss; b: user 0 miss, user 1 miss; common = both */
  static const int32_t a0[] = {1, -1}, a1[] = {3, -1}, b0[] = {2, -1}, b1[] = {3, -1};
  static const int32_t *const la[] = {a0, a1}, *const lb[] = {b0, b1};
  static const int32_t tspec[] = {1, -1, 0, -2};
  rp_csr *test = csr_rows(2, 5, tspec, NULL);
  fixed fa = {.nusers = 2, .lists = la}, fb = {.nusers = 2, .lists = lb};
  rp_recommender ra = fixed_rec(&fa), rb = fixed_rec(&fb);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 1;
  rp_metrics_result *a, *b;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&ra, NULL, test, &o, &a, &err), 0);
  ck_assert_int_eq(rp_metrics_evaluate(&rb, NULL, test, &o, &b, &err), 0);
  rp_metrics_diff d;
  ck_assert_int_eq(rp_metrics_compare(a, b, RP_M_PRECISION, 1000, 3, 0.95, &d, &err), 0);
  ck_assert_int_eq(d.n, 2);
  ck_assert_double_eq_tol(d.a, 0.5, EPS);
  ck_assert_double_eq_tol(d.b, 0, EPS);
  ck_assert_double_eq_tol(d.diff, 0.5, EPS);
  ck_assert_int_eq(d.wins, 1);
  ck_assert_int_eq(d.ties, 1);
  /* resampling 2 users: the mean difference is 0, 0.5 or 1 */
  ck_assert_double_eq_tol(d.lo, 0, EPS);
  ck_assert_double_eq_tol(d.hi, 1, EPS);
  ck_assert(d.p > 0.3 && d.p < 0.7); /* P(d* <= 0) = 1/4 */
  /* popularity profile with no train: shares 0, recommendation shares sum 1 */
  double ts[5], rs[5], mr, mc;
  ck_assert_int_eq(rp_metrics_popularity(a, 5, ts, rs, &mr, &mc, &err), 0);
  double s = 0;
  for (int i = 0; i < 5; i++) s += rs[i];
  ck_assert_double_eq_tol(s, 1, EPS);
  rp_metrics_result_free(a);
  rp_metrics_result_free(b);
  rp_csr_free(test);
}
END_TEST

START_TEST(popularity_profile_hand) {
  /* train: item 0 by 3 users, item 1 by 1; 4 items; recommend 1 and 2 */
  static const int32_t tr[] = {0, 1, -1, 0, -1, 0, -2};
  static const int32_t te[] = {3, -1, 3, -1, 3, -2};
  static const int32_t r0[] = {1, -1}, r1[] = {2, -1}, r2[] = {2, -1};
  static const int32_t *const lists[] = {r0, r1, r2};
  rp_csr *train = csr_rows(3, 4, tr, NULL), *test = csr_rows(3, 4, te, NULL);
  fixed f = {.nusers = 3, .lists = lists};
  rp_recommender rec = fixed_rec(&f);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 1;
  rp_metrics_result *r;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, train, test, &o, &r, &err), 0);
  double ts[2], rs[2], mr, mc;
  ck_assert_int_eq(rp_metrics_popularity(r, 2, ts, rs, &mr, &mc, &err), 0);
  /* order: 0 (3), 1 (1), 2 (0), 3 (0): top half holds all 4 train pairs */
  ck_assert_double_eq_tol(ts[0], 1, EPS);
  ck_assert_double_eq_tol(rs[0], 1.0 / 3, EPS);
  ck_assert_double_eq_tol(rs[1], 2.0 / 3, EPS);
  ck_assert_double_eq_tol(mr, 1.0 / 3, EPS);
  ck_assert_double_eq_tol(mc, 1.0, EPS);
  /* gini of counts {0, 1, 2, 0}: sorted 0 0 1 2 -> (1*1 + 3*2) / (4*3) */
  ck_assert_double_eq_tol(r->mean[RP_M_GINI], 7.0 / 12, EPS);
  rp_metrics_result_free(r);
  rp_csr_free(train);
  rp_csr_free(test);
}
END_TEST

/* ---- ratings through predict ------------------------------------------------ */
static int const_predict(void *self, const int32_t *users, const int32_t *items, int64_t n,
                         int threads, float *out, rp_err *err) {
  for (int64_t i = 0; i < n; i++) out[i] = (float)(items[i] + 1); /* item i predicted i+1 */
  return RP_OK;
}

START_TEST(ratings) {
  static const int32_t te[] = {0, 2, -1, 1, -2};
  static const float tv[] = {3, 3, 4};
  rp_csr *test = csr_rows(2, 3, te, tv);
  fixed f = {.nusers = 0, .lists = hand_lists}; /* empty lists */
  rp_recommender rec = fixed_rec(&f);
  rec.predict = const_predict;
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.ratings = 1;
  rp_metrics_result *r;
  rp_err err;
  ck_assert_int_eq(rp_metrics_evaluate(&rec, NULL, test, &o, &r, &err), 0);
  /* errors: 1 - 3 = -2, 3 - 3 = 0, 2 - 4 = -2 */
  ck_assert_double_eq_tol(r->mean[RP_M_RMSE], sqrt(8.0 / 3), EPS);
  ck_assert_double_eq_tol(r->mean[RP_M_MAE], 4.0 / 3, EPS);
  double score;
  ck_assert_int_eq(rp_metrics_score(&rec, NULL, test, 10, RP_M_MAE, 1, &score, &err), 0);
  ck_assert_double_eq_tol(score, 4.0 / 3, EPS);
  ck_assert_int_eq(rp_metrics_id("mae"), RP_M_MAE);
  ck_assert_int_eq(rp_metrics_id("nope"), -1);
  rp_metrics_result_free(r);
  rp_csr_free(test);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------ */
static rp_csr *ftrain, *ftest;
static int run_eval(int curve) {
  randrec rr = {300, 50, 5};
  rp_recommender rec = {
      .name = "rand", .self = &rr, .nusers = 300, .nitems = 50, .recommend = rand_recommend};
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = 5;
  o.curve = curve;
  o.batch = 256;
  rp_metrics_result *r = NULL;
  rp_err err;
  int rc = rp_metrics_evaluate(&rec, ftrain, ftest, &o, &r, &err);
  if (rc) {
    ck_assert_ptr_null(r);
    return rc;
  }
  double lo[RP_M_COUNT], hi[RP_M_COUNT];
  rc = rp_metrics_bootstrap(r, 20, 1, 0.9, 1, lo, hi, &err);
  rp_metrics_diff d;
  if (!rc) rc = rp_metrics_compare(r, r, RP_M_MAP, 10, 1, 0.9, &d, &err);
  double ts[3], rs[3], a, b;
  if (!rc) rc = rp_metrics_popularity(r, 3, ts, rs, &a, &b, &err);
  rp_metrics_result_free(r);
  return rc;
}

START_TEST(fault_loops) {
  ftrain = rand_csr(300, 50, 2000, 3);
  ftest = rand_csr(300, 50, 500, 4);
  RP_FAULT_LOOP(run_eval(0));
  RP_FAULT_LOOP(run_eval(1));
  rp_csr_free(ftrain);
  rp_csr_free(ftest);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, hand_case);
  tcase_add_test(tc, k_beyond_catalogue_and_threshold);
  tcase_add_test(tc, no_users_and_bad_input);
  tcase_add_test(tc, invariance);
  tcase_add_test(tc, compare_hand);
  tcase_add_test(tc, popularity_profile_hand);
  tcase_add_test(tc, ratings);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
