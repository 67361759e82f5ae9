/* Check tests for the baselines: popularity by hand (ties, decay, by
 * users/events/value, exclusion), random (determinism, distinct, pool,
 * exclusion), item-kNN against a dense naive implementation of every
 * similarity and of the scoring, top-k selection, thread invariance, bad
 * input and allocation-failure loops. */
#include <math.h>

#include "baseline.h"
#include "rptest.h"

static rp_csr *to_matrix(const rp_events *ev) {
  rp_err err;
  rp_csr *m = rp_csr_build(ev->users->n, ev->items->n, ev->user, ev->item, ev->value, NULL, ev->n,
                           RP_AGG_SUM, ev->users, ev->items, &err);
  ck_assert_ptr_nonnull(m);
  return m;
}

START_TEST(topk_selection) {
  int32_t it[4];
  float sc[4];
  rp_topk t;
  rp_topk_init(&t, 4, it, sc);
  float s[] = {0.5f, 2, 2, 1, 3, 0.1f, 2, 1};
  for (int i = 0; i < 8; i++) rp_topk_push(&t, 10 + i, s[i]);
  ck_assert_int_eq(rp_topk_finish(&t), 4);
  /* 3 (14), then the 2s by item: 11, 12, 16 */
  int32_t want[] = {14, 11, 12, 16};
  for (int i = 0; i < 4; i++) ck_assert_int_eq(it[i], want[i]);
  ck_assert(sc[0] == 3 && sc[3] == 2);
}
END_TEST

START_TEST(popularity_hand) {
  /* i0: users 0, 1 (3 events); i1: users 1, 2; i2: user 2 */
  int u[] = {0, 0, 1, 1, 2, 2};
  int it[] = {0, 0, 0, 1, 1, 2};
  float v[] = {1, 1, 1, 5, 1, 1};
  int64_t t[] = {0, 10, 20, 20, 0, 20};
  rp_events *ev = rp_test_events(6, u, it, v, t);
  rp_pop_opts o = {0};
  rp_popularity *p;
  rp_err err;
  int32_t items[5], n;
  float sc[5];
  ck_assert_int_eq(rp_popularity_fit_events(ev, &o, &p, &err), 0);
  ck_assert_int_eq(
      rp_baseline_recommend_for(&p->base, 0, 5, NULL, NULL, 0, NULL, 0, items, sc, &n, &err), 0);
  /* users: i0 = 2, i1 = 2 (tie: lower index first), i2 = 1 */
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(items[0], 0);
  ck_assert_int_eq(items[1], 1);
  ck_assert_int_eq(items[2], 2);
  ck_assert(sc[0] == 2 && sc[1] == 2 && sc[2] == 1);
  /* exclusion through a matrix row and a deny list; allow list */
  rp_csr *m = to_matrix(ev);
  ck_assert_int_eq(
      rp_baseline_recommend_for(&p->base, 1, 5, m, NULL, 0, NULL, 0, items, sc, &n, &err), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(items[0], 2);
  int32_t deny[] = {1}, allow[] = {2, 1};
  ck_assert_int_eq(
      rp_baseline_recommend_for(&p->base, 0, 5, NULL, deny, 1, NULL, 0, items, sc, &n, &err), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(items[1], 2);
  ck_assert_int_eq(
      rp_baseline_recommend_for(&p->base, 0, 5, NULL, NULL, 0, allow, 2, items, sc, &n, &err), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(items[0], 1);
  rp_baseline_free(&p->base);
  /* by events and by value */
  o.by = RP_POP_EVENTS;
  ck_assert_int_eq(rp_popularity_fit_events(ev, &o, &p, &err), 0);
  ck_assert_double_eq_tol(p->score[0], 3, 1e-12);
  rp_baseline_free(&p->base);
  o.by = RP_POP_VALUE;
  ck_assert_int_eq(rp_popularity_fit_events(ev, &o, &p, &err), 0);
  ck_assert_double_eq_tol(p->score[1], 6, 1e-12);
  ck_assert_int_eq(p->order[0], 1);
  rp_baseline_free(&p->base);
  /* decay, half-life 10 s, now = 20: a pair counts its latest event */
  o.by = RP_POP_USERS;
  o.half_life = 10;
  ck_assert_int_eq(rp_popularity_fit_events(ev, &o, &p, &err), 0);
  ck_assert_int_eq(p->now, 20);
  ck_assert_double_eq_tol(p->score[0], 0.5 + 1, 1e-6); /* u0 latest at 10, u1 at 20 */
  ck_assert_double_eq_tol(p->score[1], 1 + 0.25, 1e-6);
  ck_assert_double_eq_tol(p->score[2], 1, 1e-6);
  rp_baseline_free(&p->base);
  o.by = RP_POP_EVENTS;
  o.now = 30, o.has_now = 1;
  ck_assert_int_eq(rp_popularity_fit_events(ev, &o, &p, &err), 0);
  ck_assert_double_eq_tol(p->score[0], 0.125 + 0.25 + 0.5, 1e-6);
  rp_baseline_free(&p->base);
  /* from a matrix: users per column; decay is an error there */
  o.by = RP_POP_USERS;
  o.half_life = 0;
  ck_assert_int_eq(rp_popularity_fit_matrix(m, &o, &p, &err), 0);
  ck_assert_double_eq_tol(p->score[0], 2, 1e-12);
  ck_assert_double_eq_tol(p->score[2], 1, 1e-12);
  rp_baseline_free(&p->base);
  o.half_life = 5;
  ck_assert_int_eq(rp_popularity_fit_matrix(m, &o, &p, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "event times"));
  rp_events *nt = rp_test_events(1, u, it, NULL, NULL);
  ck_assert_int_eq(rp_popularity_fit_events(nt, &o, &p, &err), RP_EINVAL);
  ck_assert_ptr_null(p);
  rp_events_free(nt);
  rp_csr_free(m);
  rp_events_free(ev);
}
END_TEST

START_TEST(random_lists) {
  /* 6 users x items 0..9, item 9 never in train */
  int u[40], it[40];
  for (int i = 0; i < 40; i++) u[i] = i % 6, it[i] = (i * 7) % 9;
  rp_events *ev = rp_test_events(40, u, it, NULL, NULL);
  int32_t extra;
  rp_err err;
  ck_assert_int_eq(rp_idmap_intern(ev->items, "i9", 2, &extra, &err), 0);
  rp_csr *m = to_matrix(ev);
  ck_assert_int_eq(m->ncols, 10);
  rp_randrec *r, *r2;
  ck_assert_int_eq(rp_randrec_fit(m, 7, &r, &err), 0);
  ck_assert_int_eq(rp_randrec_fit(m, 7, &r2, &err), 0);
  ck_assert_int_eq(r->npool, 9);
  int32_t users[] = {0, 1, 2, 3, 4, 5, 0};
  int32_t a[7 * 5], b[7 * 5], na[7], nb[7];
  float sa[7 * 5], sb[7 * 5];
  ck_assert_int_eq(r->base.rec.recommend(r, users, 7, 5, m, 1, a, sa, na, &err), 0);
  ck_assert_int_eq(r2->base.rec.recommend(r2, users, 7, 5, m, 2, b, sb, nb, &err), 0);
  ck_assert_mem_eq(a, b, sizeof a);
  ck_assert_mem_eq(na, nb, sizeof na);
  ck_assert_mem_eq(a, a + 30, 5 * sizeof *a); /* user 0 twice: same list */
  for (int i = 0; i < 6; i++) {
    int32_t row = users[i];
    int64_t excl = m->indptr[row + 1] - m->indptr[row];
    ck_assert_int_eq(na[i], 9 - excl < 5 ? 9 - excl : 5);
    for (int j = 0; j < na[i]; j++) {
      ck_assert_int_ne(a[i * 5 + j], 9); /* only items with a train entry */
      for (int64_t q = m->indptr[row]; q < m->indptr[row + 1]; q++)
        ck_assert_int_ne(a[i * 5 + j], m->indices[q]);
      for (int q = 0; q < j; q++) ck_assert_int_ne(a[i * 5 + j], a[i * 5 + q]);
    }
  }
  /* k beyond the pool: every allowed item once */
  int32_t big[20], nbig;
  float sbig[20];
  ck_assert_int_eq(
      rp_baseline_recommend_for(&r->base, 0, 20, NULL, NULL, 0, NULL, 0, big, sbig, &nbig, &err),
      0);
  ck_assert_int_eq(nbig, 9);
  rp_baseline_free(&r->base);
  rp_baseline_free(&r2->base);
  rp_csr_free(m);
  rp_events_free(ev);
}
END_TEST

/* ---- item-kNN against dense naive computations ------------------------------ */
#define NU 40
#define NI 25

static rp_csr *random_matrix(uint64_t seed, double density) {
  int32_t r[NU * NI], c[NU * NI];
  float v[NU * NI];
  int64_t n = 0;
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  for (int u = 0; u < NU; u++)
    for (int i = 0; i < NI; i++) {
      /* popular items get more users */
      double p = density * (1.5 - (double)i / NI);
      if (rp_rng_uniform(&g) < p) r[n] = u, c[n] = i, v[n] = (float)(1 + rp_rng_below(&g, 4)), n++;
    }
  rp_err err;
  rp_csr *m = rp_csr_build(NU, NI, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_ptr_nonnull(m);
  return m;
}

/* naive similarity of items i, j per the definitions in itemknn.c */
static void dense(const rp_csr *m, double x[NI][NU]) {
  memset(x, 0, sizeof(double) * NI * NU);
  for (int u = 0; u < NU; u++)
    for (int64_t q = m->indptr[u]; q < m->indptr[u + 1]; q++) x[m->indices[q]][u] = m->data[q];
}

static void naive_sim(const rp_csr *m, int sim, double k1, double b, double s[NI][NI]) {
  static double x[NI][NU];
  dense(m, x);
  if (sim == RP_SIM_TFIDF || sim == RP_SIM_BM25) {
    double df[NU] = {0}, len[NI] = {0}, avg = 0;
    for (int i = 0; i < NI; i++)
      for (int u = 0; u < NU; u++) df[u] += x[i][u] != 0, len[i] += x[i][u], avg += x[i][u];
    avg /= NI;
    for (int i = 0; i < NI; i++)
      for (int u = 0; u < NU; u++) {
        if (x[i][u] == 0) continue;
        double idf = log((double)NI / (1 + df[u]));
        if (sim == RP_SIM_TFIDF)
          x[i][u] = sqrt(x[i][u]) * idf;
        else
          x[i][u] = x[i][u] * (k1 + 1) / (k1 * ((1 - b) + b * len[i] / avg) + x[i][u]) * idf;
      }
  }
  for (int i = 0; i < NI; i++)
    for (int j = 0; j < NI; j++) {
      double d = 0, ni = 0, nj = 0, ci = 0, cj = 0, inter = 0;
      for (int u = 0; u < NU; u++) {
        d += x[i][u] * x[j][u];
        ni += x[i][u] * x[i][u], nj += x[j][u] * x[j][u];
        ci += x[i][u] != 0, cj += x[j][u] != 0, inter += x[i][u] != 0 && x[j][u] != 0;
      }
      switch (sim) {
        case RP_SIM_COSINE:
        case RP_SIM_TFIDF:
          s[i][j] = ni > 0 && nj > 0 ? d / sqrt(ni * nj) : 0;
          break;
        case RP_SIM_JACCARD:
          s[i][j] = inter > 0 ? inter / (ci + cj - inter) : 0;
          break;
        default:
          s[i][j] = d;
          break;
      }
    }
}

START_TEST(itemknn_matches_naive) {
  rp_csr *m = random_matrix(3, 0.3);
  for (int sim = RP_SIM_COSINE; sim <= RP_SIM_DOT; sim++) {
    static double s[NI][NI];
    naive_sim(m, sim, 1.2, 0.75, s);
    rp_knn_opts o;
    rp_knn_opts_init(&o);
    o.k = 6;
    o.similarity = sim;
    o.threads = 1 + (sim % 2);
    rp_itemknn *knn;
    rp_err err;
    ck_assert_int_eq(rp_itemknn_fit(m, &o, &knn, &err), 0);
    ck_assert_int_eq(rp_csr_validate(knn->sim, &err), 0);
    /* each item's neighbours: the 6 largest positive s(i, j), j != i */
    for (int i = 0; i < NI; i++) {
      int32_t it[6], n;
      float scf[6];
      double sc[6];
      ck_assert_int_eq(rp_itemknn_similar(knn, i, 6, it, scf, &n, &err), 0);
      for (int a = 0; a < n; a++) sc[a] = (double)scf[a];
      int pos = 0;
      for (int j = 0; j < NI; j++) pos += j != i && s[i][j] > 1e-12;
      ck_assert_int_eq(n, pos < 6 ? pos : 6);
      for (int a = 0; a < n; a++) {
        ck_assert_int_ne(it[a], i);
        ck_assert_msg(fabs(sc[a] - s[i][it[a]]) < 1e-4 * (1 + fabs(s[i][it[a]])),
                      "sim %d item %d nbr %d: %g vs %g", sim, i, it[a], sc[a], s[i][it[a]]);
        /* nothing left out is better than the last kept */
        for (int j = 0; j < NI; j++) {
          int kept = 0;
          for (int q = 0; q < n; q++) kept |= it[q] == j;
          if (!kept && j != i) ck_assert(s[i][j] <= sc[n - 1] + 1e-4 * (1 + fabs(sc[n - 1])));
        }
      }
    }
    /* scoring: score(j) = sum over the user's items i of r_ui s(i, j) over
     * i's kept neighbours, train items excluded */
    for (int32_t u = 0; u < NU; u++) {
      double want[NI] = {0};
      int seen[NI] = {0};
      for (int64_t q = m->indptr[u]; q < m->indptr[u + 1]; q++) seen[m->indices[q]] = 1;
      for (int64_t q = m->indptr[u]; q < m->indptr[u + 1]; q++) {
        int32_t i = m->indices[q];
        for (int64_t p = knn->sim->indptr[i]; p < knn->sim->indptr[i + 1]; p++)
          want[knn->sim->indices[p]] += (double)(m->data[q] * knn->sim->data[p]);
      }
      int32_t it[5], n;
      float sc[5];
      ck_assert_int_eq(
          rp_baseline_recommend_for(&knn->base, u, 5, m, NULL, 0, NULL, 0, it, sc, &n, &err), 0);
      for (int a = 0; a < n; a++) {
        ck_assert(!seen[it[a]]);
        ck_assert(fabs((double)sc[a] - want[it[a]]) < 1e-4 * (1 + want[it[a]]));
        if (a) ck_assert(sc[a] <= sc[a - 1]);
      }
      /* the kth best unseen candidate score */
      int cands = 0;
      for (int j = 0; j < NI; j++) cands += !seen[j] && want[j] != 0;
      ck_assert_int_eq(n, cands < 5 ? cands : 5);
    }
    rp_baseline_free(&knn->base);
  }
  rp_csr_free(m);
}
END_TEST

START_TEST(itemknn_threads_and_unknown) {
  rp_csr *m = random_matrix(4, 0.4);
  rp_knn_opts o;
  rp_knn_opts_init(&o);
  o.k = 10;
  rp_itemknn *a, *b;
  rp_err err;
  o.threads = 1;
  ck_assert_int_eq(rp_itemknn_fit(m, &o, &a, &err), 0);
  o.threads = 2;
  ck_assert_int_eq(rp_itemknn_fit(m, &o, &b, &err), 0);
  ck_assert_int_eq(a->sim->nnz, b->sim->nnz);
  ck_assert_mem_eq(a->sim->data, b->sim->data, (size_t)a->sim->nnz * sizeof(float));
  int32_t users[NU + 1];
  for (int i = 0; i < NU; i++) users[i] = i;
  users[NU] = NU + 5; /* unknown user: no list */
  int32_t ia[(NU + 1) * 8], ib[(NU + 1) * 8], na[NU + 1], nb[NU + 1];
  float sa[(NU + 1) * 8], sb[(NU + 1) * 8];
  ck_assert_int_eq(a->base.rec.recommend(a, users, NU + 1, 8, m, 1, ia, sa, na, &err), 0);
  ck_assert_int_eq(b->base.rec.recommend(b, users, NU + 1, 8, m, 2, ib, sb, nb, &err), 0);
  ck_assert_mem_eq(na, nb, sizeof na);
  for (int i = 0; i <= NU; i++)
    for (int j = 0; j < na[i]; j++)
      ck_assert(ia[i * 8 + j] == ib[i * 8 + j] && sa[i * 8 + j] == sb[i * 8 + j]);
  ck_assert_int_eq(na[NU], 0);
  ck_assert_int_eq(a->base.rec.nusers, NU);
  rp_baseline_free(&a->base);
  rp_baseline_free(&b->base);
  o.k = 0;
  ck_assert_int_eq(rp_itemknn_fit(m, &o, &a, &err), RP_EINVAL);
  ck_assert_ptr_null(a);
  rp_csr_free(m);
}
END_TEST

/* ---- allocation failures -------------------------------------------------------- */
static rp_csr *fm;
static rp_events *fev;
static int run_fit(int which) {
  rp_err err;
  rp_baseline *b = NULL;
  int rc;
  if (which == 0) {
    rp_pop_opts o = {.by = RP_POP_USERS, .half_life = 100};
    rc = rp_popularity_fit_events(fev, &o, (rp_popularity **)&b, &err);
  } else if (which == 1) {
    rc = rp_randrec_fit(fm, 1, (rp_randrec **)&b, &err);
  } else {
    rp_knn_opts o;
    rp_knn_opts_init(&o);
    o.k = 5;
    o.similarity = which == 2 ? RP_SIM_COSINE : which == 3 ? RP_SIM_BM25 : RP_SIM_TFIDF;
    o.threads = 1;
    rc = rp_itemknn_fit(fm, &o, (rp_itemknn **)&b, &err);
  }
  if (rc) {
    ck_assert_ptr_null(b);
    return rc;
  }
  int32_t users[] = {0, 1, 2, 3}, it[4 * 3], n[4];
  float sc[4 * 3];
  rc = b->rec.recommend(b, users, 4, 3, fm, 1, it, sc, n, &err);
  int32_t deny[] = {1}, allow[] = {0, 1, 2}, nn;
  if (!rc) rc = rp_baseline_recommend_for(b, 1, 3, fm, deny, 1, allow, 3, it, sc, &nn, &err);
  rp_baseline_free(b);
  return rc;
}

START_TEST(fault_loops) {
  fm = random_matrix(5, 0.3);
  int u[] = {0, 1, 1, 2}, it[] = {0, 0, 1, 2};
  int64_t t[] = {1, 2, 3, 4};
  fev = rp_test_events(4, u, it, NULL, t);
  for (int w = 0; w < 5; w++) RP_FAULT_LOOP(run_fit(w));
  rp_events_free(fev);
  rp_csr_free(fm);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("baseline");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, topk_selection);
  tcase_add_test(tc, popularity_hand);
  tcase_add_test(tc, random_lists);
  tcase_add_test(tc, itemknn_matches_naive);
  tcase_add_test(tc, itemknn_threads_and_unknown);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
