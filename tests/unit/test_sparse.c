/* Check tests for the CSR core: construction (every aggregation, against a
 * naive dense reference), transpose, k-core (against a brute-force
 * reference), transforms (hand-computed values and a naive bm25),
 * validation, queries, and allocation-failure loops. */
#include "test_sparse_util.h"

/* ---- construction ---------------------------------------------------------- */

/* The naive reference: a dense grid aggregated in input order. */
static dmat naive_build(const trip *x, int32_t nr, int32_t nc, int agg, int use_t) {
  dmat d = dmat_new(nr, nc);
  int64_t *tbest = calloc((size_t)nr * nc + 1, sizeof *tbest);
  for (int64_t k = 0; k < x->n; k++) {
    size_t at = (size_t)x->r[k] * nc + (size_t)x->c[k];
    double v = x->v[k];
    if (!d.has[at]) {
      d.has[at] = 1;
      d.v[at] = agg == RP_AGG_COUNT ? 1 : v;
      tbest[at] = x->t[k];
    } else if (agg == RP_AGG_SUM) {
      d.v[at] += v;
    } else if (agg == RP_AGG_MAX) {
      d.v[at] = fmax(d.v[at], v);
    } else if (agg == RP_AGG_COUNT) {
      d.v[at] += 1;
    } else if (!use_t || x->t[k] >= tbest[at]) {
      d.v[at] = v;
      tbest[at] = x->t[k];
    }
  }
  free(tbest);
  return d;
}

START_TEST(build_hand) {
  /* rows 0..2, cols 0..3; (0,1) three times, (2,0) twice */
  int32_t r[] = {0, 2, 0, 1, 0, 2};
  int32_t c[] = {1, 0, 1, 3, 1, 0};
  float v[] = {1, 4, 3, 2, 2, 5};
  int64_t t[] = {10, 7, 30, 1, 20, 7};
  rp_err err;
  rp_idmap *um = tmap("u", 3), *im = tmap("i", 4);
  struct {
    int agg;
    const int64_t *t;
    float v01, v20;
  } cases[] = {{RP_AGG_SUM, NULL, 6, 9},
               {RP_AGG_MAX, NULL, 3, 5},
               {RP_AGG_COUNT, NULL, 3, 2},
               {RP_AGG_LAST, NULL, 2, 5}, /* input order */
               {RP_AGG_LAST, t, 3, 5}};   /* (0,1): t=30 wins; (2,0): tie at 7, later input */
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    rp_csr *m = rp_csr_build(3, 4, r, c, v, cases[k].t, 6, cases[k].agg, um, im, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(rp_csr_validate(m, &err), RP_OK);
    ck_assert_int_eq(m->nnz, 3);
    int64_t ptr[] = {0, 1, 2, 3};
    ck_assert(memcmp(m->indptr, ptr, sizeof ptr) == 0);
    ck_assert_int_eq(m->indices[0], 1);
    ck_assert_int_eq(m->indices[1], 3);
    ck_assert_int_eq(m->indices[2], 0);
    ck_assert_msg(m->data[0] == cases[k].v01, "case %zu: %g", k, (double)m->data[0]);
    ck_feq(m->data[1], cases[k].agg == RP_AGG_COUNT ? 1 : 2);
    ck_assert_msg(m->data[2] == cases[k].v20, "case %zu: %g", k, (double)m->data[2]);
    ck_assert_ptr_eq(m->rowmap, um);
    ck_assert_ptr_eq(m->colmap, im);
    rp_csr_free(m);
  }
  /* no values: every event counts 1, sum = count */
  rp_csr *m = rp_csr_build(3, 4, r, c, NULL, NULL, 6, RP_AGG_SUM, NULL, NULL, &err);
  ck_feq(m->data[0], 3);
  ck_feq(m->data[2], 2);
  rp_csr_free(m);
  /* LAST ties: the later event in input order wins whatever the value */
  int32_t r2[] = {0, 0, 0, 0}, c2[] = {0, 0, 0, 0};
  float v2[] = {1, 2, 3, 4};
  int64_t t2[] = {5, 9, 9, 1};
  m = rp_csr_build(1, 1, r2, c2, v2, t2, 4, RP_AGG_LAST, NULL, NULL, &err);
  ck_feq(m->data[0], 3);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

START_TEST(build_random_vs_naive) {
  for (uint64_t seed = 1; seed <= 40; seed++) {
    int32_t nr = 1 + (int32_t)(seed * 7 % 23), nc = 1 + (int32_t)(seed * 5 % 17);
    int64_t n = (int64_t)(seed * 13 % 300);
    trip x = trip_random(seed, nr, nc, n);
    for (int agg = RP_AGG_SUM; agg <= RP_AGG_LAST; agg++)
      for (int use_t = 0; use_t <= (agg == RP_AGG_LAST); use_t++) {
        rp_err err;
        rp_csr *m =
            rp_csr_build(nr, nc, x.r, x.c, x.v, use_t ? x.t : NULL, n, agg, NULL, NULL, &err);
        ck_assert_msg(m != NULL, "%s", err.msg);
        dmat d = naive_build(&x, nr, nc, agg, use_t);
        check_matrix_eq_dense(m, &d, 1e-6);
        dmat_free(&d);
        rp_csr_free(m);
      }
    trip_free(&x);
  }
}
END_TEST

START_TEST(build_large_parallel) {
  /* big enough for the threaded passes, long rows for the quicksort path */
  int32_t nr = 300, nc = 700;
  trip x = trip_random(99, nr, nc, 400000);
  for (int64_t k = 0; k < 20000; k++) x.r[k] = 7; /* one very long row */
  for (int agg = RP_AGG_SUM; agg <= RP_AGG_LAST; agg++) {
    rp_err err;
    rp_csr *m = rp_csr_build(nr, nc, x.r, x.c, x.v, x.t, x.n, agg, NULL, NULL, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    dmat d = naive_build(&x, nr, nc, agg, 1);
    check_matrix_eq_dense(m, &d, 1e-6);
    dmat_free(&d);
    rp_csr_free(m);
  }
  trip_free(&x);
}
END_TEST

START_TEST(build_errors) {
  int32_t r[] = {0, 1, 2}, c[] = {0, 1, 1};
  float v[] = {1, NAN, 1};
  rp_err err;
  ck_assert_ptr_null(rp_csr_build(2, 2, r, c, NULL, NULL, 3, RP_AGG_SUM, NULL, NULL, &err));
  ck_assert_int_eq(err.status, RP_EINVAL);
  ck_assert_str_eq(err.msg, "entry 3: (2, 1) outside a 2 x 2 matrix");
  c[0] = -1;
  ck_assert_ptr_null(rp_csr_build(3, 2, r, c, NULL, NULL, 3, RP_AGG_SUM, NULL, NULL, &err));
  ck_assert_str_eq(err.msg, "entry 1: (0, -1) outside a 3 x 2 matrix");
  c[0] = 0;
  ck_assert_ptr_null(rp_csr_build(3, 2, r, c, v, NULL, 3, RP_AGG_SUM, NULL, NULL, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "entry 2: non-finite value"));
  ck_assert_ptr_null(rp_csr_build(3, 2, r, c, NULL, NULL, 3, 9, NULL, NULL, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "unknown aggregation"));
  ck_assert_ptr_null(rp_csr_build(-1, 2, r, c, NULL, NULL, 0, RP_AGG_SUM, NULL, NULL, &err));
  ck_assert_ptr_null(rp_csr_new(2, -2, 0, NULL, NULL, &err));
}
END_TEST

START_TEST(build_empty) {
  rp_err err;
  rp_csr *m = rp_csr_build(0, 0, NULL, NULL, NULL, NULL, 0, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->nnz, 0);
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_OK);
  rp_csr_free(m);
  int32_t z = 0;
  m = rp_csr_build(5, 3, &z, &z, NULL, NULL, 0, RP_AGG_LAST, NULL, NULL, &err);
  ck_assert_int_eq(m->nrows, 5);
  ck_assert_int_eq(m->nnz, 0);
  for (int i = 0; i <= 5; i++) ck_assert_int_eq(m->indptr[i], 0);
  rp_csr *t = rp_csr_transpose(m, 0, &err);
  ck_assert_int_eq(t->nrows, 3);
  ck_assert_int_eq(t->nnz, 0);
  rp_kcore_report rep;
  rp_csr *k = rp_csr_kcore(m, 3, 5, &rep, &err);
  ck_assert_int_eq(k->nnz, 0);
  ck_assert_int_eq(rep.rounds, 0);
  rp_csr_free(k);
  rp_csr_free(t);
  rp_csr_free(m);
}
END_TEST

/* ---- transpose ------------------------------------------------------------------ */
START_TEST(transpose_vs_naive) {
  for (uint64_t seed = 1; seed <= 30; seed++) {
    int32_t nr = 1 + (int32_t)(seed * 11 % 29), nc = 1 + (int32_t)(seed * 3 % 31);
    rp_idmap *um = tmap("u", nr), *im = tmap("i", nc);
    rp_csr *m = random_matrix(seed, nr, nc, 0.3, um, im);
    rp_err err;
    rp_csr *t = rp_csr_transpose(m, 1, &err);
    ck_assert_ptr_eq(t->rowmap, im);
    ck_assert_ptr_eq(t->colmap, um);
    dmat d = dmat_of(m), dt = dmat_new(nc, nr);
    for (int32_t i = 0; i < nr; i++)
      for (int32_t j = 0; j < nc; j++) {
        dt.has[(size_t)j * nr + i] = d.has[(size_t)i * nc + j];
        dt.v[(size_t)j * nr + i] = d.v[(size_t)i * nc + j];
      }
    check_matrix_eq_dense(t, &dt, 0);
    rp_csr *tt = rp_csr_transpose(t, 4, &err);
    check_same(tt, m);
    dmat_free(&d);
    dmat_free(&dt);
    rp_csr_free(tt);
    rp_csr_free(t);
    rp_csr_free(m);
    rp_idmap_release(um);
    rp_idmap_release(im);
  }
}
END_TEST

START_TEST(transpose_threads_identical) {
  /* large enough that the threaded path runs; every thread count agrees */
  rp_csr *m = random_matrix(5, 3000, 500, 0.1, NULL, NULL);
  rp_err err;
  rp_csr *t1 = rp_csr_transpose(m, 1, &err);
  for (int th = 2; th <= 5; th++) {
    rp_csr *tk = rp_csr_transpose(m, th, &err);
    check_same(t1, tk);
    rp_csr_free(tk);
  }
  rp_csr *back = rp_csr_transpose(t1, 3, &err);
  check_same(back, m);
  rp_csr_free(back);
  rp_csr_free(t1);
  rp_csr_free(m);
}
END_TEST

/* ---- k-core -------------------------------------------------------------------- */

/* Brute force: recount everything each round, drop what is below. */
static dmat naive_kcore(const dmat *in, int64_t mu, int64_t mi, int *rounds) {
  dmat d = dmat_new(in->nr, in->nc);
  memcpy(d.v, in->v, (size_t)in->nr * in->nc * sizeof *d.v);
  memcpy(d.has, in->has, (size_t)in->nr * in->nc);
  int64_t *rc = calloc((size_t)in->nr + 1, sizeof *rc), *cc = calloc((size_t)in->nc + 1, 8);
  *rounds = 0;
  for (;;) {
    memset(rc, 0, ((size_t)in->nr + 1) * 8);
    memset(cc, 0, ((size_t)in->nc + 1) * 8);
    for (int32_t i = 0; i < d.nr; i++)
      for (int32_t j = 0; j < d.nc; j++)
        if (d.has[(size_t)i * d.nc + j]) rc[i]++, cc[j]++;
    int changed = 0;
    for (int32_t i = 0; i < d.nr; i++)
      for (int32_t j = 0; j < d.nc; j++)
        if (d.has[(size_t)i * d.nc + j] && (rc[i] < mu || cc[j] < mi)) {
          d.has[(size_t)i * d.nc + j] = 0;
          changed = 1;
        }
    if (!changed) break;
    ++*rounds;
  }
  free(rc);
  free(cc);
  return d;
}

static void check_kcore(const rp_csr *m, int64_t mu, int64_t mi) {
  dmat d = dmat_of(m);
  int rounds;
  dmat want = naive_kcore(&d, mu, mi, &rounds);
  rp_err err;
  rp_kcore_report rep;
  rp_csr *k = rp_csr_kcore(m, mu, mi, &rep, &err);
  ck_assert_msg(k != NULL, "%s", err.msg);
  check_matrix_eq_dense(k, &want, 0);
  ck_assert_ptr_eq(k->rowmap, m->rowmap);
  ck_assert_ptr_eq(k->colmap, m->colmap);
  ck_assert_msg(rep.rounds == rounds, "rounds %d, expected %d (min %lld/%lld)", rep.rounds, rounds,
                (long long)mu, (long long)mi);
  int32_t r0, c0, r1, c1;
  rp_csr_nonempty(m, &r0, &c0, &err);
  rp_csr_nonempty(k, &r1, &c1, &err);
  ck_assert_int_eq(rep.rows, r1);
  ck_assert_int_eq(rep.cols, c1);
  ck_assert_int_eq(rep.rows_removed, r0 - r1);
  ck_assert_int_eq(rep.cols_removed, c0 - c1);
  ck_assert_int_eq(rep.nnz, k->nnz);
  ck_assert_int_eq(rep.nnz_removed, m->nnz - k->nnz);
  /* both thresholds hold on the result */
  int64_t *cc = calloc((size_t)k->ncols + 1, 8);
  rp_csr_col_counts(k, cc);
  for (int32_t i = 0; i < k->nrows; i++) {
    int64_t len = rp_csr_rowlen(k, i);
    ck_assert(len == 0 || len >= mu);
  }
  for (int32_t j = 0; j < k->ncols; j++) ck_assert(cc[j] == 0 || cc[j] >= mi);
  free(cc);
  /* idempotent */
  rp_kcore_report rep2;
  rp_csr *k2 = rp_csr_kcore(k, mu, mi, &rep2, &err);
  check_same(k2, k);
  ck_assert_int_eq(rep2.rounds, 0);
  rp_csr_free(k2);
  rp_csr_free(k);
  dmat_free(&d);
  dmat_free(&want);
}

START_TEST(kcore_vs_brute_force) {
  int max_rounds = 0, emptied = 0;
  for (uint64_t seed = 1; seed <= 60; seed++) {
    int32_t nr = 2 + (int32_t)(seed * 7 % 37), nc = 2 + (int32_t)(seed * 13 % 41);
    double p = 0.05 + (double)(seed % 7) * 0.04;
    rp_csr *m = random_matrix(seed, nr, nc, p, NULL, NULL);
    for (int64_t mu = 0; mu <= 6; mu += 1 + (int64_t)(seed % 2))
      for (int64_t mi = 0; mi <= 6; mi += 1 + (int64_t)((seed / 2) % 2)) {
        check_kcore(m, mu, mi);
        rp_kcore_report rep;
        rp_err err;
        rp_csr *k = rp_csr_kcore(m, mu, mi, &rep, &err);
        if (rep.rounds > max_rounds) max_rounds = rep.rounds;
        emptied += k->nnz == 0 && m->nnz > 0;
        rp_csr_free(k);
      }
    rp_csr_free(m);
  }
  /* the random cases did exercise several rounds and total removal */
  ck_assert_int_ge(max_rounds, 3);
  ck_assert_int_gt(emptied, 0);
}
END_TEST

START_TEST(kcore_chain_rounds) {
  /* a staircase: user k has items k and k+1, so with min 2/2 the ends fall
   * off one per round from each side until nothing is left */
  int32_t r[40], c[40];
  int n = 0;
  for (int k = 0; k < 20; k++) {
    r[n] = k, c[n++] = k;
    r[n] = k, c[n++] = k + 1;
  }
  rp_err err;
  rp_csr *m = rp_csr_build(20, 21, r, c, NULL, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  rp_kcore_report rep;
  rp_csr *k = rp_csr_kcore(m, 2, 2, &rep, &err);
  ck_assert_int_eq(k->nnz, 0);
  ck_assert_int_eq(rep.rows_removed, 20);
  ck_assert_int_eq(rep.cols_removed, 21);
  ck_assert_int_eq(rep.nnz_removed, 40);
  ck_assert_int_eq(rep.rounds, 20);
  check_kcore(m, 2, 2);
  check_kcore(m, 1, 2);
  check_kcore(m, 3, 0);
  rp_csr_free(k);
  /* thresholds 0 and 1 keep everything */
  k = rp_csr_kcore(m, 0, 1, &rep, &err);
  check_same(k, m);
  ck_assert_int_eq(rep.rounds, 0);
  ck_assert_int_eq(rep.rows, 20);
  ck_assert_int_eq(rep.cols, 21);
  rp_csr_free(k);
  ck_assert_ptr_null(rp_csr_kcore(m, -1, 2, &rep, &err));
  ck_assert_int_eq(err.status, RP_EINVAL);
  rp_csr_free(m);
}
END_TEST

START_TEST(kcore_keeps_shape_and_maps) {
  rp_idmap *um = tmap("u", 50), *im = tmap("i", 60);
  /* the matrix is smaller than its maps (maps grew later) */
  rp_csr *m = random_matrix(3, 40, 45, 0.15, um, im);
  rp_err err;
  rp_kcore_report rep;
  rp_csr *k = rp_csr_kcore(m, 4, 4, &rep, &err);
  ck_assert_int_eq(k->nrows, 40);
  ck_assert_int_eq(k->ncols, 45);
  ck_assert_ptr_eq(k->rowmap, um);
  ck_assert_ptr_eq(k->colmap, im);
  ck_assert_int_gt(rep.rows_removed + rep.cols_removed, 0);
  check_kcore(m, 4, 4);
  rp_csr_free(k);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

/* ---- transforms ------------------------------------------------------------------- */
static rp_csr *hand_matrix(void) {
  /* [[1, 0, 3], [0, 0, 0], [2, 4, 0]] */
  int32_t r[] = {0, 0, 2, 2}, c[] = {0, 2, 0, 1};
  float v[] = {1, 3, 2, 4};
  rp_err err;
  return rp_csr_build(3, 3, r, c, v, NULL, 4, RP_AGG_SUM, NULL, NULL, &err);
}

START_TEST(transforms_hand) {
  rp_csr *m = hand_matrix();
  rp_err err;
  rp_csr *s = rp_csr_scale(m, 2.5, &err);
  float want_s[] = {2.5f, 7.5f, 5.0f, 10.0f};
  for (int k = 0; k < 4; k++) ck_feq(s->data[k], want_s[k]);
  ck_assert(memcmp(s->indptr, m->indptr, 4 * sizeof(int64_t)) == 0);
  rp_csr_free(s);
  /* 1 + 2 log(1 + r / 0.5) */
  s = rp_csr_log1p(m, 2.0, 0.5, &err);
  double lr[] = {1, 3, 2, 4};
  for (int k = 0; k < 4; k++)
    ck_assert_double_eq_tol((double)s->data[k], 1 + 2 * log(1 + lr[k] / 0.5), 1e-6);
  rp_csr_free(s);
  /* binarize: > 1.5 becomes 1, the rest goes */
  s = rp_csr_binarize(m, 1.5, &err);
  ck_assert_int_eq(s->nnz, 3);
  ck_assert_int_eq(s->indices[0], 2);
  ck_assert_int_eq(s->indptr[3], 3);
  for (int k = 0; k < 3; k++) ck_feq(s->data[k], 1);
  rp_csr_free(s);
  /* bm25 by hand, k1 = 1.2, b = 0.75: N = 3, df = {2, 1, 1}, row sums
   * {4, 0, 6}, mean 10/3 */
  s = rp_csr_bm25(m, 1.2, 0.75, &err);
  double idf[] = {log(3) - log(3), log(3) - log(2), log(3) - log(2)};
  double n0 = 0.25 + 0.75 * 4 / (10.0 / 3), n2 = 0.25 + 0.75 * 6 / (10.0 / 3);
  double want[] = {1 * 2.2 / (1.2 * n0 + 1) * idf[0], 3 * 2.2 / (1.2 * n0 + 3) * idf[2],
                   2 * 2.2 / (1.2 * n2 + 2) * idf[0], 4 * 2.2 / (1.2 * n2 + 4) * idf[1]};
  for (int k = 0; k < 4; k++) ck_assert_double_eq_tol((double)s->data[k], want[k], 1e-6);
  rp_csr_free(s);
  /* overflow to infinity is an error naming the entry */
  ck_assert_ptr_null(rp_csr_scale(m, 1e38, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "not finite"));
  ck_assert_ptr_nonnull(strstr(err.msg, "row 3, column 2"));
  ck_assert_ptr_null(rp_csr_log1p(m, 1, 0, &err));
  rp_csr_free(m);
  /* log1p of a value <= -eps is not finite */
  int32_t r[] = {0}, c[] = {0};
  float v[] = {-2};
  rp_idmap *um = tmap("u", 1), *im = tmap("i", 1);
  m = rp_csr_build(1, 1, r, c, v, NULL, 1, RP_AGG_SUM, um, im, &err);
  ck_assert_ptr_null(rp_csr_log1p(m, 1, 1, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "row 'u0', column 'i0'"));
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

START_TEST(bm25_vs_naive) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    int32_t nr = 3 + (int32_t)(seed % 17), nc = 2 + (int32_t)(seed * 3 % 19);
    rp_csr *m = random_matrix(seed, nr, nc, 0.3, NULL, NULL);
    double k1 = 0.5 + (double)(seed % 4), b = (double)(seed % 5) / 4;
    rp_err err;
    rp_csr *w = rp_csr_bm25(m, k1, b, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    /* straight from implicit's bm25_weight, on the dense image */
    dmat d = dmat_of(m);
    double *rs = calloc((size_t)nr, sizeof *rs), *df = calloc((size_t)nc, sizeof *df), tot = 0;
    for (int32_t i = 0; i < nr; i++)
      for (int32_t j = 0; j < nc; j++)
        if (d.has[(size_t)i * nc + j]) {
          rs[i] += d.v[(size_t)i * nc + j];
          df[j] += 1;
          tot += d.v[(size_t)i * nc + j];
        }
    double avg = tot / nr;
    for (int32_t i = 0; i < nr; i++)
      for (int32_t j = 0; j < nc; j++) {
        size_t at = (size_t)i * nc + j;
        if (!d.has[at]) continue;
        double ln = (1.0 - b) + b * rs[i] / avg, idf = log((double)nr) - log1p(df[j]);
        d.v[at] = d.v[at] * (k1 + 1.0) / (k1 * ln + d.v[at]) * idf;
      }
    check_matrix_eq_dense(w, &d, 1e-5);
    free(rs);
    free(df);
    dmat_free(&d);
    rp_csr_free(w);
    rp_csr_free(m);
  }
}
END_TEST

/* ---- validation and queries ---------------------------------------------------------- */
START_TEST(validate_catches) {
  rp_err err;
  rp_csr *m = hand_matrix();
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_OK);
  m->indices[1] = 0; /* row 0: 0, 0 */
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "not sorted"));
  m->indices[1] = 3;
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "outside"));
  m->indices[1] = 2;
  m->data[3] = INFINITY;
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "non-finite"));
  m->data[3] = 4;
  m->indptr[1] = 5;
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "out of order"));
  m->indptr[1] = 2;
  m->indptr[3] = 3;
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  m->indptr[3] = 4;
  m->indptr[0] = 1;
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  m->indptr[0] = 0;
  m->rowmap = tmap("u", 2); /* shorter than the rows */
  ck_assert_int_eq(rp_csr_validate(m, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "row ids"));
  rp_csr_free(m);
}
END_TEST

START_TEST(queries) {
  rp_csr *m = hand_matrix();
  int found;
  ck_feq(rp_csr_value(m, 0, 2, &found), 3);
  ck_assert_int_eq(found, 1);
  ck_feq(rp_csr_value(m, 0, 1, &found), 0);
  ck_assert_int_eq(found, 0);
  ck_feq(rp_csr_value(m, 2, 1, NULL), 4);
  ck_feq(rp_csr_value(m, 7, 1, &found), 0);
  ck_assert_double_eq(rp_csr_sum(m), 10);
  float lo, hi;
  rp_csr_minmax(m, &lo, &hi);
  ck_feq(lo, 1);
  ck_feq(hi, 4);
  int32_t r, c;
  rp_err err;
  ck_assert_int_eq(rp_csr_nonempty(m, &r, &c, &err), RP_OK);
  ck_assert_int_eq(r, 2);
  ck_assert_int_eq(c, 3);
  int64_t rc[3], cc[3];
  rp_csr_row_counts(m, rc);
  rp_csr_col_counts(m, cc);
  ck_assert(rc[0] == 2 && rc[1] == 0 && rc[2] == 2);
  ck_assert(cc[0] == 2 && cc[1] == 1 && cc[2] == 1);
  rp_dense *d = rp_csr_counts_dense(m, 1, &err);
  ck_assert_int_eq(d->rows, 3);
  ck_assert_int_eq(d->cols, 1);
  ck_feq(d->data[0], 2);
  rp_dense_free(d);
  d = rp_csr_counts_dense(m, 0, &err);
  ck_feq(d->data[1], 0);
  rp_dense_free(d);
  ck_assert_uint_eq(rp_csr_bytes(m), 4 * 8 + 4 * 8);
  rp_csr *cp = rp_csr_copy(m, &err);
  check_same(cp, m);
  rp_csr_free(cp);
  rp_csr_free(m);
}
END_TEST

/* ---- align ------------------------------------------------------------------------ */
static int32_t find(const rp_idmap *m, const char *s) { return rp_idmap_find(m, s, strlen(s)); }

START_TEST(align_maps) {
  rp_idmap *um = tmap("u", 12), *im = tmap("i", 9);
  rp_csr *m = random_matrix(21, 10, 8, 0.3, um, im); /* maps longer than the shape */
  rp_err err;
  /* a map with the same history plus more ids: nothing moves */
  rp_idmap *grown = tmap("u", 15);
  rp_csr *a = rp_csr_align(m, grown, NULL, &err);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_eq(a->rowmap, grown);
  ck_assert_ptr_eq(a->colmap, im);
  check_same(a, m);
  rp_csr_free(a);
  /* a prefix of m's map: m's extra ids are appended, nothing moves */
  rp_idmap *prefix = tmap("u", 4);
  a = rp_csr_align(m, prefix, NULL, &err);
  check_same(a, m);
  ck_assert_int_eq(prefix->n, 12);
  rp_csr_free(a);
  /* other maps in another order: entries follow their ids */
  rp_idmap *ru = rp_idmap_new(&err), *ri = rp_idmap_new(&err);
  int32_t k;
  rp_idmap_intern(ru, "zz", 2, &k, &err);
  for (int i = 11; i >= 0; i -= 2) {
    char b[16];
    int len = snprintf(b, sizeof b, "u%d", i);
    rp_idmap_intern(ru, b, (size_t)len, &k, &err);
  }
  rp_idmap_intern(ri, "i5", 2, &k, &err);
  a = rp_csr_align(m, ru, ri, &err);
  ck_assert_msg(a != NULL, "%s", err.msg);
  ck_assert_int_eq(rp_csr_validate(a, &err), RP_OK);
  ck_assert_int_eq(a->nnz, m->nnz);
  ck_assert_int_eq(ru->n, 13);
  ck_assert_int_eq(ri->n, 9);
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) {
      int32_t i2 = find(ru, rp_idmap_id(um, i, NULL)),
              j2 = find(ri, rp_idmap_id(im, m->indices[q], NULL));
      int found;
      ck_feq(rp_csr_value(a, i2, j2, &found), m->data[q]);
      ck_assert(found);
    }
  rp_csr_free(a);
  /* no maps to align */
  rp_csr *bare = random_matrix(2, 5, 5, 0.3, NULL, NULL);
  ck_assert_ptr_null(rp_csr_align(bare, ru, NULL, &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "no row ids"));
  a = rp_csr_align(bare, NULL, NULL, &err);
  check_same(a, bare);
  rp_csr_free(a);
  rp_csr_free(bare);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
  rp_idmap_release(grown);
  rp_idmap_release(prefix);
  rp_idmap_release(ru);
  rp_idmap_release(ri);
}
END_TEST

/* ---- allocation failure --------------------------------------------------------------- */
static trip fx;
static rp_csr *fm, *fchain;
static rp_idmap *fum;

static int f_build(void) {
  rp_err err;
  rp_idmap *um = fum;
  for (int agg = RP_AGG_SUM; agg <= RP_AGG_LAST; agg++) {
    rp_csr *m = rp_csr_build(70, 50, fx.r, fx.c, fx.v, agg == RP_AGG_LAST ? fx.t : NULL, fx.n, agg,
                             um, NULL, &err);
    if (!m) return err.status;
    rp_csr_free(m);
  }
  return 0;
}

static int f_ops(void) {
  rp_err err;
  rp_kcore_report rep;
  rp_csr *a = rp_csr_transpose(fm, 2, &err), *b = NULL, *c = NULL, *d = NULL, *e = NULL;
  if (a) b = rp_csr_kcore(fm, 3, 4, &rep, &err);
  if (b) { /* many rounds: the column index path */
    rp_csr *ch = rp_csr_kcore(fchain, 2, 2, &rep, &err);
    if (!ch) {
      rp_csr_free(b);
      b = NULL;
    }
    rp_csr_free(ch);
  }
  if (b) c = rp_csr_bm25(fm, 1.2, 0.75, &err);
  if (c) d = rp_csr_log1p(fm, 1, 1, &err);
  if (d) e = rp_csr_binarize(fm, 1, &err);
  rp_dense *x = e ? rp_csr_counts_dense(fm, 1, &err) : NULL;
  rp_csr *f = x ? rp_csr_align(fm, fum, NULL, &err) : NULL;
  if (x && !f) {
    rp_dense_free(x);
    x = NULL;
  }
  rp_csr_free(f);
  int32_t nr, nc;
  int rc = x ? rp_csr_nonempty(fm, &nr, &nc, &err) : err.status;
  rp_dense_free(x);
  rp_csr_free(a);
  rp_csr_free(b);
  rp_csr_free(c);
  rp_csr_free(d);
  rp_csr_free(e);
  return rc;
}

START_TEST(fault_loops) {
  fx = trip_random(8, 70, 50, 600);
  fum = tmap("u", 70);
  RP_FAULT_LOOP(f_build());
  rp_idmap_release(fum);
  rp_idmap *um = tmap("u", 60);
  fm = random_matrix(4, 60, 40, 0.2, um, NULL);
  /* align onto a map with the ids in another order, so rows move */
  rp_err err;
  fum = rp_idmap_new(&err);
  for (int i = 59; i >= 0; i--) {
    char b[16];
    int32_t k;
    int len = snprintf(b, sizeof b, "u%d", i);
    rp_idmap_intern(fum, b, (size_t)len, &k, &err);
  }
  int32_t r[40], c[40];
  for (int k = 0; k < 20; k++) r[2 * k] = r[2 * k + 1] = k, c[2 * k] = k, c[2 * k + 1] = k + 1;
  fchain = rp_csr_build(20, 21, r, c, NULL, NULL, 40, RP_AGG_SUM, NULL, NULL, &err);
  RP_FAULT_LOOP(f_ops());
  rp_csr_free(fchain);
  rp_csr_free(fm);
  rp_idmap_release(um);
  rp_idmap_release(fum);
  trip_free(&fx);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("sparse");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, build_hand);
  tcase_add_test(tc, build_random_vs_naive);
  tcase_add_test(tc, build_large_parallel);
  tcase_add_test(tc, build_errors);
  tcase_add_test(tc, build_empty);
  tcase_add_test(tc, transpose_vs_naive);
  tcase_add_test(tc, transpose_threads_identical);
  tcase_add_test(tc, kcore_vs_brute_force);
  tcase_add_test(tc, kcore_chain_rounds);
  tcase_add_test(tc, kcore_keeps_shape_and_maps);
  tcase_add_test(tc, transforms_hand);
  tcase_add_test(tc, bm25_vs_naive);
  tcase_add_test(tc, validate_catches);
  tcase_add_test(tc, queries);
  tcase_add_test(tc, align_maps);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
