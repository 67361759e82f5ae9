/* Check tests for the chain tuner (chaintune.c): the options (defaults,
 * ranges, derived reveal sizes), known answers per band, the validation
 * score of a candidate equal to what rp_metrics_evaluate gives for the
 * blend built with its weights (the independent path: blend.c's batch and
 * metrics.c), the fallback of a part with nothing to say, the two search
 * methods, a band without rows, and fault loops. */
#include <math.h>

#include "hybrid.h"
#include "metrics.h"
#include "rptest.h"

/* ---- a recommender with fixed lists ------------------------------------------------ */
typedef struct fake {
  rp_recommender api;
  int32_t L;
  int32_t *lists; /* nusers x L, -1 = end of the user's list */
} fake;

static int fake_recommend(void *self, const int32_t *users, int32_t n, int32_t k,
                          const rp_csr *exclude, int threads, int32_t *out_items, float *out_scores,
                          int32_t *out_n, rp_err *err) {
  const fake *f = self;
  for (int32_t i = 0; i < n; i++) {
    int32_t u = users[i], c = 0;
    out_n[i] = 0;
    if (u < 0 || u >= f->api.nusers) continue;
    for (int32_t j = 0; j < f->L && c < k; j++) {
      int32_t it = f->lists[(size_t)u * f->L + j];
      if (it < 0) break;
      int seen = 0;
      if (exclude && u < exclude->nrows)
        for (int64_t q = exclude->indptr[u]; q < exclude->indptr[u + 1]; q++)
          seen |= exclude->indices[q] == it;
      if (seen) continue;
      out_items[(size_t)i * k + c] = it;
      out_scores[(size_t)i * k + c] = (float)(f->L - j) * 0.37f + 0.01f * (float)(j % 3);
      c++;
    }
    out_n[i] = c;
  }
  return RP_OK;
}

static fake *fake_new(rp_idmap *users, rp_idmap *items, int32_t L) {
  fake *f = rp_calloc(1, sizeof *f);
  f->api.name = "fake";
  f->api.self = f;
  f->api.users = users, f->api.items = items;
  f->api.nusers = users->n, f->api.nitems = items->n;
  f->api.recommend = fake_recommend;
  f->L = L;
  f->lists = rp_malloc((size_t)users->n * (size_t)L * sizeof *f->lists);
  for (int64_t i = 0; i < (int64_t)users->n * L; i++) f->lists[i] = -1;
  return f;
}

static void fake_free(fake *f) {
  if (!f) return;
  rp_free(f->lists);
  rp_free(f);
}

static rp_csr *build(int nr, int nc, const int32_t *r, const int32_t *c, int n, rp_idmap *rm,
                     rp_idmap *cm) {
  float *v = rp_malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = 1;
  rp_csr *m = rp_csr_build(nr, nc, r, c, v, NULL, n, RP_AGG_SUM, rm, cm, NULL);
  rp_free(v);
  ck_assert_ptr_nonnull(m);
  return m;
}

/* ---- options ------------------------------------------------------------------------ */
START_TEST(options_defaults_ranges) {
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  ck_assert_int_eq(o.metric, RP_M_NDCG);
  ck_assert_int_eq(o.k, 10);
  ck_assert_int_eq(o.folds, 3);
  ck_assert_int_eq(o.nbands, 4);
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), 0);
  /* reveal sizes from the bands 0 | 1-2 | 3-5 | 6+ */
  int32_t want[] = {0, 1, 2, 3, 4, 5, 6, 12};
  ck_assert_int_eq(o.nreveal, 8);
  for (int i = 0; i < 8; i++) ck_assert_int_eq(o.reveal[i], want[i]);
  /* a wide band gives lo, middle, hi */
  rp_tune_opts_init(&o);
  double b[] = {0, 2, 10};
  ck_assert_int_eq(rp_tune_opts_set_list(&o, "bands", b, 3, &err), 0);
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), 0);
  int32_t want2[] = {0, 1, 2, 5, 9, 10, 20};
  ck_assert_int_eq(o.nreveal, 7);
  for (int i = 0; i < 7; i++) ck_assert_int_eq(o.reveal[i], want2[i]);

  ck_assert_int_eq(rp_tune_opts_set_number(&o, "k", 0, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'k' must be an integer in 1..1048576, got 0");
  ck_assert_int_eq(rp_tune_opts_set_number(&o, "k", 2.5, &err), RP_EINVAL);
  ck_assert_int_eq(rp_tune_opts_set_number(&o, "level", 1, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'level' must be a number in (0, 1), got 1");
  ck_assert_int_eq(rp_tune_opts_set_number(&o, "test_fraction", 0.25, &err), 0);
  ck_assert_int_eq(rp_tune_opts_set_number(&o, "colour", 1, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "unknown option 'colour' (known: metric, k, folds"));
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "metric", "auc", &err), RP_EINVAL);
  ck_assert_str_eq(err.msg,
                   "option 'metric' must be one of 'precision', 'recall', 'map', 'ndcg', "
                   "'hit_rate', 'mrr', got 'auc'");
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "metric", "map", &err), 0);
  ck_assert_int_eq(o.metric, RP_M_MAP);
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "search", "coordinate", &err), 0);
  ck_assert_int_eq(o.search, RP_TUNE_COORD);
  ck_assert_int_eq(rp_tune_opts_set_number(&o, "search", 1, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "option 'search' must be one of 'auto'"));
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "k", "ten", &err), RP_EINVAL);
  ck_assert_int_eq(rp_tune_opts_bad_type("steps", "boolean", &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'steps' must be an integer in 1..100, got boolean");
  double neg[] = {0, -1};
  ck_assert_int_eq(rp_tune_opts_set_list(&o, "bands", neg, 2, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "got -1 at entry 2"));
  ck_assert_int_eq(rp_tune_opts_set_list(&o, "bands", neg, 0, &err), RP_EINVAL);
  ck_assert_int_eq(rp_tune_opts_set_list(&o, "k", neg, 1, &err), RP_EINVAL);
  char longname[100];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "fallback", longname, &err), RP_EINVAL);

  /* what depends on several options */
  rp_tune_opts_init(&o);
  double nz[] = {1, 3};
  rp_tune_opts_set_list(&o, "bands", nz, 2, &err);
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "must start at 0"));
  double desc[] = {0, 3, 3};
  rp_tune_opts_set_list(&o, "bands", desc, 3, &err);
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "ascending, got 3 after 3 at entry 3"));
  rp_tune_opts_init(&o);
  o.folds = 1;
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), RP_EINVAL);
  o.cases = RP_TUNE_TIME;
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), 0);
  rp_tune_opts_init(&o);
  o.depth = 5;
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'depth' (5) must be at least k (10)");
  rp_tune_opts_init(&o);
  double rv[] = {3, 1, 3};
  rp_tune_opts_set_list(&o, "reveal", rv, 3, &err);
  ck_assert_int_eq(rp_tune_opts_check(&o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'reveal' lists 3 twice");

  /* the tuner checks part names and the fallback */
  rp_tuner *t;
  rp_tune_opts_init(&o);
  const char *dup[] = {"a", "a"};
  ck_assert_int_eq(rp_tuner_new(&o, dup, 2, &t, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "tune_chain: part 'a' is named twice");
  strcpy(o.fallback, "c");
  const char *ab[] = {"a", "b"};
  ck_assert_int_eq(rp_tuner_new(&o, ab, 2, &t, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "option 'fallback' names no part: 'c'");
  ck_assert_int_eq(rp_tuner_new(&o, ab, 0, &t, &err), RP_EINVAL);
}
END_TEST

/* ---- known answers ------------------------------------------------------------------- */
/* 60 users, 40 items.  Users 0-29 know nothing (band 0); users 30-59 know
 * item 39 (band 1).  User u's one relevant test item is u % 30.  Part A
 * lists it first for band-0 users and never for the others; part B the
 * opposite; part C lists it sixth for everyone. */
typedef struct world {
  rp_idmap *users, *items;
  rp_csr *known, *test;
  fake *p[3];
} world;

static void world_new(world *w) {
  w->users = rp_test_numbered("u", 60);
  w->items = rp_test_numbered("i", 40);
  int32_t kr[30], kc[30], tr[60], tc[60];
  for (int i = 0; i < 30; i++) kr[i] = 30 + i, kc[i] = 39;
  for (int u = 0; u < 60; u++) tr[u] = u, tc[u] = u % 30;
  w->known = build(60, 40, kr, kc, 30, w->users, w->items);
  w->test = build(60, 40, tr, tc, 60, w->users, w->items);
  for (int p = 0; p < 3; p++) w->p[p] = fake_new(w->users, w->items, 12);
  for (int u = 0; u < 60; u++) {
    int32_t rel = u % 30, *a = w->p[0]->lists + u * 12, *b = w->p[1]->lists + u * 12,
            *c = w->p[2]->lists + u * 12;
    for (int j = 0; j < 12; j++) /* distinct fillers 30..38, never relevant nor known */
      a[j] = b[j] = c[j] = j < 9 ? 30 + (j + u) % 9 : -1;
    if (u < 30)
      a[0] = rel;
    else
      b[0] = rel;
    c[5] = rel;
  }
}

static void world_free(world *w) {
  for (int p = 0; p < 3; p++) fake_free(w->p[p]);
  rp_csr_free(w->known);
  rp_csr_free(w->test);
  rp_idmap_release(w->users);
  rp_idmap_release(w->items);
}

static rp_tuner *tuner_of(world *w, const char *bands_search, int select) {
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  double b[] = {0, 1};
  rp_tune_opts_set_list(&o, "bands", b, 2, &err);
  o.bootstrap = 200;
  o.depth = 10;
  o.threads = 2;
  o.select = select;
  ck_assert_int_eq(rp_tune_opts_set_string(&o, "search", bands_search, &err), 0);
  const char *names[] = {"A", "B", "C"};
  rp_tuner *t;
  ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t, &err), 0);
  rp_recommender *parts[] = {&w->p[0]->api, &w->p[1]->api, &w->p[2]->api};
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, w->known, w->test, &err), 0);
  return t;
}

START_TEST(known_answer_per_band) {
  world w;
  world_new(&w);
  const char *methods[] = {"grid", "coordinate"};
  for (int m = 0; m < 2; m++) {
    rp_tuner *t = tuner_of(&w, methods[m], RP_TUNE_ONE_SE);
    ck_assert_int_eq(rp_tuner_rows(t), 60);
    const rp_tune_result *r;
    rp_err err;
    ck_assert_int_eq(rp_tuner_run(t, &r, &err), 0);
    ck_assert_int_eq(r->nbands, 2);
    ck_assert_int_eq(r->users, 60);
    for (int b = 0; b < 2; b++) {
      const rp_tune_band *bd = &r->band[b];
      ck_assert_int_eq(bd->rows, 30);
      ck_assert_int_eq(bd->users, 30);
      ck_assert_int_eq(bd->from, -1);
      const rp_tune_cand *c = &bd->cand[bd->chosen];
      /* the perfect part alone: A for band 0, B for band 1 */
      ck_assert_int_eq(c->nparts, 1);
      ck_assert(c->w[b] == 1.0f);
      ck_assert_double_eq(c->score, 1.0);
      ck_assert_double_eq(bd->lo_ci, 1.0);
      ck_assert_double_eq(bd->hi_ci, 1.0);
      ck_assert_double_eq(bd->single[b], 1.0);
      ck_assert_double_eq(bd->single[1 - b], 0.0);
      /* C: the hit at rank 6 */
      ck_assert_double_eq_tol(bd->single[2], 1.0 / log2(7.0), 1e-12);
      ck_assert_int_eq(bd->answered[2], 30);
      ck_assert_int_ge(bd->runner_up, 0);
      ck_assert(bd->ru_diff <= 0);
    }
    ck_assert_int_eq(r->band[0].search, m == 0 ? RP_TUNE_GRID : RP_TUNE_COORD);
    if (m == 0) /* 3 parts, steps 4, at most 3 parts: 3 + 3*3 + 1*3 points */
      ck_assert_int_eq(r->band[0].ncand, 15);
    rp_tuner_free(t);
  }
  world_free(&w);
}
END_TEST

/* A band without rows takes the rule of the band below it. */
START_TEST(band_without_rows) {
  world w;
  world_new(&w);
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  double b[] = {0, 1, 5};
  rp_tune_opts_set_list(&o, "bands", b, 3, &err);
  o.bootstrap = 50, o.depth = 10;
  const char *names[] = {"A", "B", "C"};
  rp_tuner *t;
  ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t, &err), 0);
  rp_recommender *parts[] = {&w.p[0]->api, &w.p[1]->api, &w.p[2]->api};
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, w.known, w.test, &err), 0);
  const rp_tune_result *r;
  ck_assert_int_eq(rp_tuner_run(t, &r, &err), 0);
  ck_assert_int_eq(r->band[2].rows, 0);
  ck_assert_int_eq(r->band[2].from, 1);
  ck_assert_int_eq(r->band[2].lo, 5);
  ck_assert_int_eq(r->band[2].hi, -1);
  ck_assert_int_eq(r->band[1].hi, 4);
  ck_assert_int_eq(r->band[2].chosen, -1);
  rp_tuner_free(t);
  world_free(&w);
}
END_TEST

/* Part A answers only users 0-9; the fallback answers the others, as the
 * chain's last rule would: by default the best part answering every row
 * (B: 1 for band 1, 0 for band 0), or the one the options name (C). */
START_TEST(fallback_answers_empty_lists) {
  world w;
  world_new(&w);
  for (int u = 10; u < 60; u++)
    for (int j = 0; j < 12; j++) w.p[0]->lists[u * 12 + j] = -1;
  for (int named = 0; named < 2; named++) {
    rp_tune_opts o;
    rp_err err;
    rp_tune_opts_init(&o);
    double b[] = {0, 1};
    rp_tune_opts_set_list(&o, "bands", b, 2, &err);
    o.bootstrap = 50, o.depth = 10, o.select = RP_TUNE_BEST;
    if (named) strcpy(o.fallback, "C");
    const char *names[] = {"A", "B", "C"};
    rp_tuner *t;
    ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t, &err), 0);
    rp_recommender *parts[] = {&w.p[0]->api, &w.p[1]->api, &w.p[2]->api};
    ck_assert_int_eq(rp_tuner_add(t, 1, parts, w.known, w.test, &err), 0);
    const rp_tune_result *r;
    ck_assert_int_eq(rp_tuner_run(t, &r, &err), 0);
    ck_assert_int_eq(r->fallback, named ? 2 : 1);
    ck_assert_int_eq(r->band[0].answered[0], 10);
    /* band 0: A alone hits users 0-9 at rank 1; the others get the
     * fallback's list: C's hit at rank 6, or B's nothing */
    double want = (10 * 1.0 + (named ? 20 * (1.0 / log2(7.0)) : 0)) / 30;
    ck_assert_double_eq_tol(r->band[0].single[0], want, 1e-12);
    /* band 1: A has nothing, so it does not enter the band's search */
    ck_assert_int_eq(r->band[1].answered[0], 0);
    ck_assert(isnan(r->band[1].single[0]));
    for (int c = 0; c < r->band[1].ncand; c++) ck_assert(r->band[1].cand[c].w[0] == 0);
    rp_tuner_free(t);
  }
  world_free(&w);
}
END_TEST

/* ---- the validation score is the shipped blend's ---------------------------------------- */
/* Random lists for 3 parts over 300 users and 80 items; relevant items
 * random.  For every candidate the tuner evaluated, a blend built with
 * its weights and evaluated by rp_metrics_evaluate on the same known and
 * test matrices gives the same mean, to the last bit. */
START_TEST(candidate_score_is_the_blend_score) {
  int32_t NU = 300, NI = 80, L = 40;
  rp_idmap *users = rp_test_numbered("u", NU), *items = rp_test_numbered("i", NI);
  rp_rng g;
  rp_rng_seed(&g, 7, 0);
  int32_t *kr = rp_malloc(4000 * sizeof *kr), *kc = rp_malloc(4000 * sizeof *kc), nk = 0;
  int32_t *tr = rp_malloc(4000 * sizeof *tr), *tc = rp_malloc(4000 * sizeof *tc), nt = 0;
  for (int32_t u = 0; u < NU; u++) {
    int32_t h = u % 4; /* history 0..3: bands 0, 1-2, 3+ */
    for (int32_t j = 0; j < h; j++) kr[nk] = u, kc[nk++] = (int32_t)rp_rng_below(&g, (uint64_t)NI);
    int32_t m = 1 + (int32_t)rp_rng_below(&g, 8);
    for (int32_t j = 0; j < m; j++) tr[nt] = u, tc[nt++] = (int32_t)rp_rng_below(&g, (uint64_t)NI);
  }
  rp_csr *known = build(NU, NI, kr, kc, nk, users, items);
  rp_csr *test = build(NU, NI, tr, tc, nt, users, items);
  fake *p[3];
  for (int q = 0; q < 3; q++) {
    p[q] = fake_new(users, items, L);
    for (int32_t u = 0; u < NU; u++) { /* a random permutation prefix, part-specific bias */
      int32_t perm[80];
      for (int32_t i = 0; i < NI; i++) perm[i] = i;
      for (int32_t i = 0; i < L; i++) {
        int32_t j = i + (int32_t)rp_rng_below(&g, (uint64_t)(NI - i));
        int32_t x = perm[i];
        perm[i] = perm[j], perm[j] = x;
      }
      /* part q puts a relevant item high for users u % 3 == q */
      if (u % 3 == q && test->indptr[u + 1] > test->indptr[u]) {
        int32_t rel = test->indices[test->indptr[u]];
        for (int32_t i = 0; i < NI; i++)
          if (perm[i] == rel) perm[i] = perm[2], perm[2] = rel;
      }
      memcpy(p[q]->lists + (size_t)u * L, perm, (size_t)L * sizeof *perm);
    }
  }
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  double b[] = {0, 1, 3};
  rp_tune_opts_set_list(&o, "bands", b, 3, &err);
  o.depth = 30, o.bootstrap = 100, o.select = RP_TUNE_BEST, o.steps = 3;
  const char *names[] = {"p0", "p1", "p2"};
  rp_tuner *t;
  ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t, &err), 0);
  rp_recommender *parts[] = {&p[0]->api, &p[1]->api, &p[2]->api};
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, known, test, &err), 0);
  const rp_tune_result *r;
  ck_assert_int_eq(rp_tuner_run(t, &r, &err), 0);
  ck_assert_int_ge(r->fallback, 0); /* every part answers everyone */
  int blends = 0;
  for (int bi = 0; bi < 3; bi++) {
    const rp_tune_band *bd = &r->band[bi];
    ck_assert_int_gt(bd->rows, 0);
    /* the band's users, for evaluate */
    int32_t *bu = rp_malloc((size_t)NU * sizeof *bu), nb = 0;
    for (int32_t u = 0; u < NU; u++) {
      int32_t h = (int32_t)rp_csr_rowlen(known, u), band = h >= 3 ? 2 : h >= 1 ? 1 : 0;
      if (band == bi && test->indptr[u + 1] > test->indptr[u]) bu[nb++] = u;
    }
    ck_assert_int_eq(nb, bd->rows);
    for (int c = 0; c < bd->ncand; c++) {
      const rp_tune_cand *cd = &bd->cand[c];
      rp_recommender *src[3];
      float w[3];
      int ns = 0;
      for (int q = 0; q < 3; q++)
        if (cd->w[q] > 0) src[ns] = parts[q], w[ns++] = cd->w[q];
      rp_hyb_rec *bl = NULL;
      const rp_recommender *rec = ns == 1 ? src[0] : NULL;
      if (ns > 1) {
        ck_assert_int_eq(rp_hyb_blend_new(src, w, ns, o.norm, o.depth, &bl, &err), 0);
        rec = &bl->api;
        blends++;
      }
      rp_metrics_opts mo;
      rp_metrics_opts_init(&mo);
      mo.users = bu, mo.nusers = nb;
      rp_metrics_result *mr;
      ck_assert_int_eq(rp_metrics_evaluate(rec, known, test, &mo, &mr, &err), 0);
      ck_assert_int_eq(mr->n, nb);
      ck_assert_msg(mr->mean[RP_M_NDCG] == cd->score, "band %d candidate %d: %.17g vs %.17g", bi, c,
                    mr->mean[RP_M_NDCG], cd->score);
      rp_metrics_result_free(mr);
      rp_hyb_rec_free(bl);
    }
    /* select = best: the chosen is the top score */
    for (int c = 0; c < bd->ncand; c++) ck_assert(bd->cand[c].score <= bd->cand[bd->chosen].score);
    rp_free(bu);
  }
  ck_assert_int_eq(blends, 3 * 7); /* steps 3: 3 x 2 pairs and 1 triple per band */
  /* coordinate ascent finds no better point than the grid's best and
   * starts from the best single part */
  rp_tuner *t2;
  o.search = RP_TUNE_COORD;
  ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t2, &err), 0);
  ck_assert_int_eq(rp_tuner_add(t2, 1, parts, known, test, &err), 0);
  const rp_tune_result *r2;
  ck_assert_int_eq(rp_tuner_run(t2, &r2, &err), 0);
  for (int bi = 0; bi < 3; bi++) {
    const rp_tune_band *g1 = &r->band[bi], *c2 = &r2->band[bi];
    double best_single = -1;
    for (int q = 0; q < 3; q++)
      if (g1->single[q] > best_single) best_single = g1->single[q];
    ck_assert(c2->cand[c2->chosen].score >= best_single);
    ck_assert_int_eq(c2->search, RP_TUNE_COORD);
    for (int q = 0; q < 3; q++) ck_assert(c2->single[q] == g1->single[q]);
  }
  /* the same answer on one thread */
  rp_tuner *t1;
  o.search = RP_TUNE_GRID, o.threads = 1;
  ck_assert_int_eq(rp_tuner_new(&o, names, 3, &t1, &err), 0);
  ck_assert_int_eq(rp_tuner_add(t1, 1, parts, known, test, &err), 0);
  const rp_tune_result *r1;
  ck_assert_int_eq(rp_tuner_run(t1, &r1, &err), 0);
  for (int bi = 0; bi < 3; bi++) {
    const rp_tune_band *a = &r->band[bi], *c1 = &r1->band[bi];
    ck_assert_int_eq(a->ncand, c1->ncand);
    ck_assert_int_eq(a->chosen, c1->chosen);
    for (int c = 0; c < a->ncand; c++) ck_assert(a->cand[c].score == c1->cand[c].score);
    ck_assert(a->lo_ci == c1->lo_ci && a->hi_ci == c1->hi_ci && a->ru_lo == c1->ru_lo);
  }
  rp_tuner_free(t1);
  rp_tuner_free(t2);
  rp_tuner_free(t);
  for (int q = 0; q < 3; q++) fake_free(p[q]);
  rp_csr_free(known);
  rp_csr_free(test);
  rp_idmap_release(users);
  rp_idmap_release(items);
  rp_free(kr), rp_free(kc), rp_free(tr), rp_free(tc);
}
END_TEST

/* one_se picks the simplest candidate within a standard error of the best */
START_TEST(one_se_prefers_simple) {
  world w;
  world_new(&w);
  rp_tuner *t = tuner_of(&w, "grid", RP_TUNE_ONE_SE);
  const rp_tune_result *r;
  rp_err err;
  ck_assert_int_eq(rp_tuner_run(t, &r, &err), 0);
  for (int b = 0; b < 2; b++) {
    const rp_tune_band *bd = &r->band[b];
    const rp_tune_cand *ch = &bd->cand[bd->chosen], *be = &bd->cand[bd->best];
    for (int c = 0; c < bd->ncand; c++) {
      const rp_tune_cand *x = &bd->cand[c];
      if (x->score >= be->score - x->se) ck_assert_int_ge(x->nparts, ch->nparts);
    }
  }
  rp_tuner_free(t);
  world_free(&w);
}
END_TEST

/* bad input to add: a part on other maps, a known matrix on other maps */
START_TEST(add_rejects_other_maps) {
  world w;
  world_new(&w);
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  const char *names[] = {"A"};
  rp_tuner *t;
  ck_assert_int_eq(rp_tuner_new(&o, names, 1, &t, &err), 0);
  rp_idmap *other = rp_test_numbered("x", 40);
  fake *f = fake_new(w.users, other, 5);
  rp_recommender *parts[] = {&f->api};
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, w.known, w.test, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "part 'A' is not on the id maps"));
  rp_csr *k2 = build(2, 40, (int32_t[]){0}, (int32_t[]){1}, 1, w.users, other);
  parts[0] = &w.p[0]->api;
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, k2, w.test, &err), RP_EINVAL);
  ck_assert_int_eq(rp_tuner_add(t, 1, parts, w.known, NULL, &err), RP_EINVAL);
  const rp_tune_result *r;
  ck_assert_int_eq(rp_tuner_run(t, &r, &err), RP_EINVAL); /* nothing added */
  ck_assert_ptr_nonnull(strstr(err.msg, "no validation users"));
  rp_csr_free(k2);
  fake_free(f);
  rp_idmap_release(other);
  rp_tuner_free(t);
  world_free(&w);
}
END_TEST

static int tune_once(world *w, int search) {
  rp_tune_opts o;
  rp_err err;
  rp_tune_opts_init(&o);
  o.bootstrap = 20, o.depth = 10, o.search = search, o.max_users = 40;
  const char *names[] = {"A", "B", "C"};
  rp_tuner *t;
  int rc = rp_tuner_new(&o, names, 3, &t, &err);
  if (rc) return rc;
  rp_recommender *parts[] = {&w->p[0]->api, &w->p[1]->api, &w->p[2]->api};
  rc = rp_tuner_add(t, 1, parts, w->known, w->test, &err);
  const rp_tune_result *r;
  if (!rc) rc = rp_tuner_run(t, &r, &err);
  if (!rc) rc = rp_tuner_run(t, &r, &err); /* a second run replaces the first */
  rp_tuner_free(t);
  return rc;
}

START_TEST(fault_loops) {
  world w;
  world_new(&w);
  RP_FAULT_LOOP(tune_once(&w, RP_TUNE_GRID));
  RP_FAULT_LOOP(tune_once(&w, RP_TUNE_COORD));
  world_free(&w);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hybrid_tune");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, options_defaults_ranges);
  tcase_add_test(tc, known_answer_per_band);
  tcase_add_test(tc, band_without_rows);
  tcase_add_test(tc, fallback_answers_empty_lists);
  tcase_add_test(tc, candidate_score_is_the_blend_score);
  tcase_add_test(tc, one_se_prefers_simple);
  tcase_add_test(tc, add_rejects_other_maps);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
