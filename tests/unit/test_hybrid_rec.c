/* Check tests for the hybrid recommenders: top-k selection, content
 * scoring against hand-computed cosines and a naive reference, segment
 * popularity by hand, trending against direct sums, blends by hand, the
 * batch path equal to single requests, and fault loops. */
#include <math.h>

#include "hybrid.h"
#include "rptest.h"

static rp_csr *build(int nr, int nc, const int32_t *r, const int32_t *c, const float *v, int n,
                     rp_idmap *rm, rp_idmap *cm) {
  rp_csr *m = rp_csr_build(nr, nc, r, c, v, NULL, n, RP_AGG_SUM, rm, cm, NULL);
  ck_assert_ptr_nonnull(m);
  return m;
}

/* Features from triplets: nfeat features named f0.., one field "f". */
static rp_features *features(rp_idmap *rows, int nr, int nf, const int32_t *r, const int32_t *c,
                             const float *v, int n) {
  rp_features *f = rp_calloc(1, sizeof *f);
  rp_idmap *names = rp_test_numbered("f=", nf);
  f->m = build(nr, nf, r, c, v, n, rows, names);
  rp_idmap_release(names);
  f->field_of = rp_calloc((size_t)nf, sizeof *f->field_of);
  f->field_names[0] = rp_strdup("f");
  f->nfields = 1;
  return f;
}

START_TEST(topk_order_ties_mask_allow) {
  float sc[6] = {0.5f, 0.9f, 0.5f, NAN, 0.9f, -INFINITY};
  float tb[6] = {0, 1, 3, 0, 2, 0};
  uint8_t mask[6] = {0};
  int32_t it[6];
  float out[6];
  /* ties: higher tiebreak first, then lower index */
  ck_assert_int_eq(rp_hyb_topk(sc, 6, tb, mask, NULL, 0, 6, it, out), 4);
  ck_assert_int_eq(it[0], 4);
  ck_assert_int_eq(it[1], 1);
  ck_assert_int_eq(it[2], 2);
  ck_assert_int_eq(it[3], 0);
  ck_assert_int_eq(rp_hyb_topk(sc, 6, NULL, mask, NULL, 0, 3, it, out), 3);
  ck_assert_int_eq(it[0], 1);
  ck_assert_int_eq(it[1], 4);
  ck_assert_int_eq(it[2], 0);
  mask[1] = 1;
  ck_assert_int_eq(rp_hyb_topk(sc, 6, NULL, mask, NULL, 0, 2, it, out), 2);
  ck_assert_int_eq(it[0], 4);
  /* allow list with duplicates, masked and out-of-range entries */
  int32_t allow[] = {2, 2, 1, 9, -1, 0};
  ck_assert_int_eq(rp_hyb_topk(sc, 6, NULL, mask, allow, 6, 5, it, out), 2);
  ck_assert_int_eq(it[0], 0);
  ck_assert_int_eq(it[1], 2);
  ck_assert_int_eq(mask[2], 0); /* left as it was */
  ck_assert_int_eq(mask[1], 1);
}
END_TEST

/* items: 0 {a}, 1 {a, b}, 2 {b}, 3 {} ; users: 0 took item 0 (w 2) and 2 (w 1) */
START_TEST(content_by_hand) {
  rp_idmap *users = rp_test_numbered("u", 3), *items = rp_test_numbered("i", 4);
  int32_t fr[] = {0, 1, 1, 2}, fc[] = {0, 0, 1, 1};
  float fv[] = {1, 1, 1, 1};
  rp_features *f = features(items, 4, 2, fr, fc, fv, 4);
  int32_t hr[] = {0, 0, 1}, hc[] = {0, 2, 1};
  float hv[] = {2, 1, 1};
  rp_csr *hist = build(3, 4, hr, hc, hv, 3, users, items);
  rp_hyb_rec *c;
  rp_err err;
  rp_content_opts o = {0, 1};
  ck_assert_int_eq(rp_hyb_content_new(hist, f, &o, &c, &err), 0);
  /* profile p = 2 (1, 0) + (0, 1) = (2, 1); |p| = sqrt 5.
   * item 1 = (1, 1)/sqrt 2: cos = 3 / sqrt 10; items 0 and 2 are seen */
  rp_hyb_req q;
  rp_hyb_req_user(c, 0, hist, &q);
  int32_t it[4], n;
  float sc[4];
  ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 4, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 1); /* item 3 has no features */
  ck_assert_int_eq(it[0], 1);
  ck_assert_double_eq_tol((double)sc[0], 3 / sqrt(10), 1e-6);
  /* without exclusion: item 0 cos = 2/sqrt5, item 2 = 1/sqrt5 */
  rp_hyb_req_user(c, 0, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 4, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(it[0], 1);
  ck_assert_int_eq(it[1], 0);
  ck_assert_double_eq_tol((double)sc[1], 2 / sqrt(5), 1e-6);
  ck_assert_int_eq(it[2], 2);
  /* binary weights: p = (1, 1): items 0 and 2 tie; tiebreak = popularity
   * in the history (item 2 taken once, item 0 once; equal: lower index) */
  rp_hyb_rec_free(c);
  o.binary = 1;
  ck_assert_int_eq(rp_hyb_content_new(hist, f, &o, &c, &err), 0);
  rp_hyb_req_user(c, 0, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 4, it, sc, &n, &err), 0);
  ck_assert_int_eq(it[0], 1);
  ck_assert_double_eq_tol((double)sc[0], 1, 1e-6);
  ck_assert_int_eq(it[1], 0);
  ck_assert_int_eq(it[2], 2);
  /* user 2: no history in training; its history comes from exclude */
  int32_t er[] = {2}, ec[] = {2};
  float ev[] = {1};
  rp_csr *known = build(3, 4, er, ec, ev, 1, users, items);
  rp_hyb_req_user(c, 2, known, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 4, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(it[0], 1); /* cos((0,1),(1,1)/sqrt2) */
  ck_assert_int_eq(it[1], 0); /* cos 0, still a candidate */
  /* no history at all: nothing */
  rp_hyb_req_user(c, 2, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 4, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 0);
  /* the batch path answers the same */
  int32_t us[] = {0, 1, 2}, bi[12], bn[3];
  float bs[12];
  ck_assert_int_eq(c->api.recommend(c->api.self, us, 3, 4, known, 2, bi, bs, bn, &err), 0);
  ck_assert_int_eq(bn[2], 2);
  ck_assert_int_eq(bi[8], 1);
  ck_assert_int_eq(bn[0], 3);
  /* features on another map are refused */
  rp_idmap *other = rp_test_numbered("x", 4);
  rp_features *g = features(other, 4, 2, fr, fc, fv, 4);
  rp_hyb_rec *bad;
  ck_assert_int_eq(rp_hyb_content_new(hist, g, &o, &bad, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "map = ev.items"));
  rp_features_free(g);
  rp_idmap_release(other);
  rp_hyb_rec_free(c);
  rp_csr_free(known);
  rp_csr_free(hist);
  rp_features_free(f);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* Random instance: content scores equal a naive cosine computation, for
 * short profiles (feature-major path) and long ones (item-major path). */
START_TEST(content_matches_naive) {
  enum { NU = 40, NI = 300, NF = 50 };
  rp_rng g;
  rp_rng_seed(&g, 7, 0);
  rp_idmap *users = rp_test_numbered("u", NU), *items = rp_test_numbered("i", NI);
  int32_t fr[NI * 4], fc[NI * 4], hr[NU * 60], hc[NU * 60];
  float fv[NI * 4], hv[NU * 60];
  int nf = 0, nh = 0;
  for (int i = 0; i < NI; i++)
    for (int t = 0; t < 4; t++) {
      if (i % 17 == 0) break; /* some items without features */
      fr[nf] = i, fc[nf] = (int32_t)rp_rng_below(&g, NF), fv[nf++] = (float)rp_rng_uniform(&g);
    }
  for (int u = 0; u < NU; u++) {
    int len = u < 20 ? 1 + u % 3 : 50; /* short and long histories */
    for (int t = 0; t < len; t++)
      hr[nh] = u, hc[nh] = (int32_t)rp_rng_below(&g, NI), hv[nh++] = 1 + (float)(t % 3);
  }
  rp_features *f = features(items, NI, NF, fr, fc, fv, nf);
  rp_csr *hist = build(NU, NI, hr, hc, hv, nh, users, items);
  rp_hyb_rec *c;
  rp_err err;
  rp_content_opts o = {0, 0};
  ck_assert_int_eq(rp_hyb_content_new(hist, f, &o, &c, &err), 0);
  /* naive: dense unit rows */
  static double X[NI][NF];
  memset(X, 0, sizeof X);
  for (int i = 0; i < NI; i++) {
    double s = 0;
    for (int64_t k = f->m->indptr[i]; k < f->m->indptr[i + 1]; k++)
      X[i][f->m->indices[k]] = f->m->data[k];
    for (int j = 0; j < NF; j++) s += X[i][j] * X[i][j];
    for (int j = 0; j < NF && s > 0; j++) X[i][j] /= sqrt(s);
  }
  for (int u = 0; u < NU; u++) {
    double p[NF] = {0}, pn = 0;
    for (int64_t k = hist->indptr[u]; k < hist->indptr[u + 1]; k++)
      for (int j = 0; j < NF; j++) p[j] += (double)hist->data[k] * X[hist->indices[k]][j];
    for (int j = 0; j < NF; j++) pn += p[j] * p[j];
    rp_hyb_req q;
    rp_hyb_req_user(c, u, NULL, &q);
    int32_t it[NI], n;
    float sc[NI];
    ck_assert_int_eq(rp_hyb_recommend_one(c, &q, NI, it, sc, &n, &err), 0);
    int with_features = 0;
    for (int i = 0; i < NI; i++) with_features += f->m->indptr[i + 1] > f->m->indptr[i];
    ck_assert_int_eq(n, pn > 0 ? with_features : 0);
    for (int j = 0; j < n; j++) {
      double dot = 0;
      for (int t = 0; t < NF; t++) dot += p[t] * X[it[j]][t];
      ck_assert_double_eq_tol((double)sc[j], dot / sqrt(pn), 1e-5);
      if (j) ck_assert((double)sc[j] <= (double)sc[j - 1] + 1e-6);
    }
  }
  rp_hyb_rec_free(c);
  rp_csr_free(hist);
  rp_features_free(f);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* Past 8,192 items the feature-major path works block by block and the
 * item-major path is sliced; both still give the naive cosines. */
START_TEST(content_large_paths) {
  enum { NU = 4, NI = 20000, NF = 40 };
  rp_rng g;
  rp_rng_seed(&g, 9, 0);
  rp_idmap *users = rp_test_numbered("u", NU), *items = rp_test_numbered("i", NI);
  static int32_t fr[NI * 3], fc[NI * 3];
  static float fv[NI * 3];
  int nf = 0;
  for (int i = 0; i < NI; i++) /* two features an item: the sliced form has no padding */
    for (int t = 0; t < 2; t++)
      fr[nf] = i, fc[nf] = (int32_t)rp_rng_below(&g, NF), fv[nf++] = 1 + (float)(t % 2);
  int32_t hr[2 + 3000], hc[2 + 3000];
  float hv[2 + 3000];
  int nh = 0;
  hr[nh] = 0, hc[nh] = 17, hv[nh++] = 1; /* a short history: feature-major */
  hr[nh] = 0, hc[nh] = 9000, hv[nh++] = 2;
  for (int t = 0; t < 3000; t++) /* a long one: the sliced scan */
    hr[nh] = 1, hc[nh] = (int32_t)rp_rng_below(&g, NI), hv[nh++] = 1;
  rp_features *f = features(items, NI, NF, fr, fc, fv, nf);
  rp_csr *hist = build(NU, NI, hr, hc, hv, nh, users, items);
  rp_hyb_rec *c;
  rp_err err;
  rp_content_opts o = {0, 0};
  ck_assert_int_eq(rp_hyb_content_new(hist, f, &o, &c, &err), 0);
  for (int u = 0; u < 2; u++) {
    double p[NF] = {0}, pn = 0;
    for (int64_t k = hist->indptr[u]; k < hist->indptr[u + 1]; k++) {
      int32_t i = hist->indices[k];
      double rn = 0;
      for (int64_t t = f->m->indptr[i]; t < f->m->indptr[i + 1]; t++)
        rn += (double)f->m->data[t] * (double)f->m->data[t];
      for (int64_t t = f->m->indptr[i]; t < f->m->indptr[i + 1]; t++)
        p[f->m->indices[t]] += (double)hist->data[k] * (double)f->m->data[t] / sqrt(rn);
    }
    for (int j = 0; j < NF; j++) pn += p[j] * p[j];
    rp_hyb_req q;
    rp_hyb_req_user(c, u, NULL, &q);
    int32_t it[50], n;
    float sc[50];
    ck_assert_int_eq(rp_hyb_recommend_one(c, &q, 50, it, sc, &n, &err), 0);
    ck_assert_int_eq(n, 50);
    double worst = INFINITY;
    for (int j = 0; j < n; j++) {
      int32_t i = it[j];
      double dot = 0, rn = 0;
      for (int64_t t = f->m->indptr[i]; t < f->m->indptr[i + 1]; t++) {
        rn += (double)f->m->data[t] * (double)f->m->data[t];
        dot += (double)f->m->data[t] * p[f->m->indices[t]];
      }
      double want = dot / sqrt(rn) / sqrt(pn);
      ck_assert_double_eq_tol((double)sc[j], want, 1e-5);
      if (want < worst) worst = want;
    }
    /* nothing left out scores above the 50th */
    for (int32_t i = 0; i < NI; i++) {
      double dot = 0, rn = 0;
      for (int64_t t = f->m->indptr[i]; t < f->m->indptr[i + 1]; t++) {
        rn += (double)f->m->data[t] * (double)f->m->data[t];
        dot += (double)f->m->data[t] * p[f->m->indices[t]];
      }
      int listed = 0;
      for (int j = 0; j < n; j++) listed |= it[j] == i;
      if (!listed) ck_assert(dot / sqrt(rn) / sqrt(pn) <= worst + 1e-5);
    }
  }
  rp_hyb_rec_free(c);
  rp_csr_free(hist);
  rp_features_free(f);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* users 0,1 segment A; 2 segment B; 3 no segment.  items 0..2 */
START_TEST(segment_by_hand) {
  rp_idmap *users = rp_test_numbered("u", 4), *items = rp_test_numbered("i", 3);
  int32_t ur[] = {0, 1, 2}, uc[] = {0, 0, 1};
  float uv[] = {1, 1, 1};
  rp_features *uf = features(users, 4, 2, ur, uc, uv, 3);
  int32_t hr[] = {0, 0, 1, 2, 2, 3}, hc[] = {0, 1, 0, 2, 1, 2};
  float hv[] = {1, 1, 1, 1, 1, 1};
  rp_csr *hist = build(4, 3, hr, hc, hv, 6, users, items);
  rp_segment_opts o;
  memset(&o, 0, sizeof o);
  o.nfields = 1;
  o.fields[0] = 0;
  o.shrinkage = 2;
  rp_hyb_rec *s;
  rp_err err;
  ck_assert_int_eq(rp_hyb_segment_new(hist, uf, &o, &s, &err), 0);
  int32_t nseg;
  ck_assert_int_eq(rp_hyb_segment_of(s, 0, &nseg), rp_hyb_segment_of(s, 1, NULL));
  ck_assert_int_eq(nseg, 2);
  ck_assert_str_eq(rp_hyb_segment_name(s, rp_hyb_segment_of(s, 2, NULL)), "f=1");
  ck_assert_int_eq(rp_hyb_segment_of(s, 3, NULL), -1);
  /* global: N = 4 users, c = (2, 2, 2); segment A: N_A = 2, c_A = (2, 1, 0)
   * score_A(i) = (c_A(i) + 2 c(i)/4) / (2 + 2) */
  rp_hyb_req q;
  rp_hyb_req_user(s, 0, NULL, &q);
  int32_t it[3], n;
  float sc[3];
  ck_assert_int_eq(rp_hyb_recommend_one(s, &q, 3, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(it[0], 0);
  ck_assert_double_eq_tol((double)sc[0], (2 + 1.0) / 4, 1e-6);
  ck_assert_int_eq(it[1], 1);
  ck_assert_double_eq_tol((double)sc[1], (1 + 1.0) / 4, 1e-6);
  ck_assert_double_eq_tol((double)sc[2], (0 + 1.0) / 4, 1e-6);
  /* no segment: global shares 2/4 each; ties by global count then index */
  rp_hyb_req_user(s, 3, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(s, &q, 3, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(it[0], 0);
  ck_assert_double_eq_tol((double)sc[0], 0.5, 1e-6);
  rp_hyb_rec_free(s);
  /* strict: no answer for a user without a segment */
  o.strict = 1;
  ck_assert_int_eq(rp_hyb_segment_new(hist, uf, &o, &s, &err), 0);
  rp_hyb_req_user(s, 3, NULL, &q);
  ck_assert_int_eq(rp_hyb_recommend_one(s, &q, 3, it, sc, &n, &err), 0);
  ck_assert_int_eq(n, 0);
  ck_assert_str_eq(s->reason, "segment");
  rp_hyb_rec_free(s);
  /* no fields: global popularity */
  ck_assert_int_eq(rp_hyb_segment_new(hist, NULL, NULL, &s, &err), 0);
  ck_assert_str_eq(s->reason, "popularity");
  rp_hyb_rec_free(s);
  rp_csr_free(hist);
  rp_features_free(uf);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

static rp_events *log_of(rp_idmap *users, rp_idmap *items, const int32_t *u, const int32_t *i,
                         const int64_t *t, int n) {
  rp_events *ev = rp_events_new(users, items, 1, NULL, 0, NULL, NULL, NULL);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(rp_events_reserve(ev, n, NULL), 0);
  for (int k = 0; k < n; k++) {
    ev->user[k] = u[k];
    ev->item[k] = i[k];
    ev->value[k] = 1;
    ev->time[k] = t[k];
  }
  ev->n = n;
  return ev;
}

START_TEST(trending_by_hand) {
  /* half-life 1 day.  item 0: events at day 0, 1; item 1: day 2, 10; item 2: day 3 */
  const int64_t D = 86400;
  rp_idmap *users = rp_test_numbered("u", 3), *items = rp_test_numbered("i", 3);
  int32_t eu[] = {0, 0, 1, 1, 2}, ei[] = {0, 0, 1, 1, 2};
  int64_t et[] = {1 * D, 0, 2 * D, 10 * D, 3 * D};
  rp_events *ev = log_of(users, items, eu, ei, et, 5);
  /* request times: user 0 at day 3 (its event in `at`), others at now */
  int32_t au[] = {0};
  int64_t at_t[] = {3 * D};
  int32_t ai[] = {2};
  rp_events *at = log_of(users, items, au, ai, at_t, 1);
  rp_hyb_rec *r;
  rp_err err;
  ck_assert_int_eq(rp_hyb_trending_new(ev, 1.0, at, 0, 1, &r, &err), 0);
  /* user 0 at day 3: item 0 = 2^-3 + 2^-2, item 1 = 2^-1 (day 10 not yet), item 2 = 1 */
  int32_t us[] = {1, 0}, it[6], n[2];
  float sc[6];
  ck_assert_int_eq(r->api.recommend(r->api.self, us, 2, 3, NULL, 1, it, sc, n, &err), 0);
  ck_assert_int_eq(n[1], 3);
  ck_assert_int_eq(it[3], 2);
  ck_assert_double_eq_tol((double)sc[3], 1, 1e-6);
  ck_assert_int_eq(it[4], 1);
  ck_assert_double_eq_tol((double)sc[4], 0.5, 1e-6);
  ck_assert_double_eq_tol((double)sc[5], 0.125 + 0.25, 1e-6);
  /* user 1 at now = day 10: item 1 = 1 + 2^-8 first */
  ck_assert_int_eq(it[0], 1);
  ck_assert_double_eq_tol((double)sc[0], 1 + 1.0 / 256, 1e-6);
  /* single requests agree; threads do not change anything */
  rp_hyb_req q;
  rp_hyb_req_user(r, 0, NULL, &q);
  int32_t it1[3], n1;
  float sc1[3];
  ck_assert_int_eq(rp_hyb_recommend_one(r, &q, 3, it1, sc1, &n1, &err), 0);
  for (int j = 0; j < 3; j++) ck_assert_int_eq(it1[j], it[3 + j]);
  /* exclusion */
  int32_t xr[] = {0}, xc[] = {2};
  float xv[] = {1};
  rp_csr *ex = build(3, 3, xr, xc, xv, 1, users, items);
  ck_assert_int_eq(r->api.recommend(r->api.self, us, 2, 3, ex, 1, it, sc, n, &err), 0);
  ck_assert_int_eq(n[1], 2);
  ck_assert_int_eq(it[3], 1);
  rp_csr_free(ex);
  rp_hyb_rec_free(r);
  /* bad input */
  ck_assert_int_eq(rp_hyb_trending_new(ev, 0, NULL, 0, 1, &r, &err), RP_EINVAL);
  rp_free(ev->time);
  ev->time = NULL;
  ck_assert_int_eq(rp_hyb_trending_new(ev, 1, NULL, 0, 1, &r, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "no time column"));
  rp_events_free(ev);
  rp_events_free(at);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* Many users at many times: the swept batch equals direct sums, whatever
 * the thread count, including a half-life short enough to renormalise. */
START_TEST(trending_batch_matches_direct) {
  enum { NU = 300, NI = 40, NE = 3000 };
  rp_idmap *users = rp_test_numbered("u", NU), *items = rp_test_numbered("i", NI);
  static int32_t eu[NE], ei[NE];
  static int64_t et[NE];
  rp_rng g;
  rp_rng_seed(&g, 3, 0);
  for (int k = 0; k < NE; k++) {
    eu[k] = (int32_t)rp_rng_below(&g, NU);
    ei[k] = (int32_t)(rp_rng_below(&g, NI) * rp_rng_uniform(&g));
    et[k] = (int64_t)rp_rng_below(&g, 1000) * 86400;
  }
  rp_events *ev = log_of(users, items, eu, ei, et, NE);
  rp_hyb_rec *r;
  rp_err err;
  ck_assert_int_eq(rp_hyb_trending_new(ev, 1.5, ev, 0, 1, &r, &err), 0);
  static int32_t us[NU], it1[NU * 5], it2[NU * 5], n1[NU], n2[NU];
  static float s1[NU * 5], s2[NU * 5];
  for (int u = 0; u < NU; u++) us[u] = u;
  ck_assert_int_eq(r->api.recommend(r->api.self, us, NU, 5, NULL, 1, it1, s1, n1, &err), 0);
  ck_assert_int_eq(r->api.recommend(r->api.self, us, NU, 5, NULL, 4, it2, s2, n2, &err), 0);
  ck_assert_int_eq(memcmp(it1, it2, sizeof it1), 0);
  ck_assert_int_eq(memcmp(s1, s2, sizeof s1), 0);
  for (int u = 0; u < NU; u++) {
    int64_t tu = INT64_MAX;
    for (int k = 0; k < NE; k++)
      if (eu[k] == u && et[k] < tu) tu = et[k];
    double direct[NI] = {0};
    for (int k = 0; k < NE; k++)
      if (et[k] <= tu) direct[ei[k]] += exp2(-(double)(tu - et[k]) / (1.5 * 86400));
    for (int j = 0; j < n1[u]; j++) {
      double want = direct[it1[u * 5 + j]];
      ck_assert_double_eq_tol((double)s1[u * 5 + j], want, 1e-5 * (want > 1 ? want : 1));
    }
  }
  rp_hyb_rec_free(r);
  rp_events_free(ev);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* Two fixed sources as rp_recommenders (lists given by hand). */
typedef struct {
  int32_t items[3];
  float scores[3];
  int32_t n;
} fixed;

static int fixed_rec(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *ex,
                     int threads, int32_t *oi, float *os, int32_t *on, rp_err *err) {
  const fixed *f = self;
  for (int32_t i = 0; i < n; i++) {
    on[i] = users[i] == 9 ? 0 : (f->n < k ? f->n : k);
    for (int32_t j = 0; j < on[i]; j++)
      oi[(int64_t)i * k + j] = f->items[j], os[(int64_t)i * k + j] = f->scores[j];
  }
  return RP_OK;
}

START_TEST(blend_by_hand) {
  rp_idmap *users = rp_test_numbered("u", 10), *items = rp_test_numbered("i", 5);
  fixed fa = {{0, 1, 2}, {3, 2, 1}, 3}, fb = {{2, 3, 4}, {10, 0, -10}, 3};
  rp_recommender ra = {.name = "a",
                       .self = &fa,
                       .users = users,
                       .items = items,
                       .nusers = 10,
                       .nitems = 5,
                       .recommend = fixed_rec};
  rp_recommender rb = {.name = "b",
                       .self = &fb,
                       .users = users,
                       .items = items,
                       .nusers = 10,
                       .nitems = 5,
                       .recommend = fixed_rec};
  rp_recommender *src[] = {&ra, &rb};
  float w[] = {1, 2};
  rp_hyb_rec *b;
  rp_err err;
  /* rank, depth 4: a: 0 -> 1, 1 -> .75, 2 -> .5; b: 2 -> 1, 3 -> .75, 4 -> .5
   * sums: 2 = .5 + 2 = 2.5; 3 = 1.5; 0 = 1; 4 = 1 (tie: lower index); 1 = .75 */
  ck_assert_int_eq(rp_hyb_blend_new(src, w, 2, RP_BLEND_RANK, 4, &b, &err), 0);
  int32_t us[] = {0, 9}, it[10], n[2];
  float sc[10];
  ck_assert_int_eq(b->api.recommend(b->api.self, us, 2, 4, NULL, 1, it, sc, n, &err), 0);
  ck_assert_int_eq(n[0], 4);
  int32_t want[] = {2, 3, 0, 4};
  double wsc[] = {2.5, 1.5, 1, 1};
  for (int j = 0; j < 4; j++) {
    ck_assert_int_eq(it[j], want[j]);
    ck_assert_double_eq_tol((double)sc[j], wsc[j], 1e-6);
  }
  ck_assert_int_eq(n[1], 0); /* neither source answered */
  /* k above depth: depth becomes k (rank r scores 1 - (r - 1) / 5) */
  ck_assert_int_eq(b->api.recommend(b->api.self, us, 1, 5, NULL, 1, it, sc, n, &err), 0);
  ck_assert_int_eq(n[0], 5);
  ck_assert_double_eq_tol((double)sc[0], 0.6 + 2, 1e-6);
  ck_assert_int_eq(it[2], 4); /* 1.2 */
  rp_hyb_rec_free(b);
  /* zscore: a = (3,2,1): mean 2, sd sqrt(2/3): z = (1.2247, 0, -1.2247), absent -1.2247
   * b = (10,0,-10): z = (1.2247, 0, -1.2247), absent -1.2247.
   * item 2: a -1.2247 + 2 * 1.2247 = 1.2247; item 0: 1.2247 + 2 (-1.2247) = -1.2247 */
  ck_assert_int_eq(rp_hyb_blend_new(src, w, 2, RP_BLEND_ZSCORE, 3, &b, &err), 0);
  ck_assert_int_eq(b->api.recommend(b->api.self, us, 1, 2, NULL, 1, it, sc, n, &err), 0);
  double z = sqrt(1.5);
  ck_assert_int_eq(it[0], 2);
  ck_assert_double_eq_tol((double)sc[0], z, 1e-5);
  ck_assert_int_eq(it[1], 0); /* z - 2z = -z, tied with item 3 (-z + 0): lower index */
  ck_assert_double_eq_tol((double)sc[1], -z, 1e-5);
  rp_hyb_rec_free(b);
  /* sources on other maps are refused */
  rp_idmap *other = rp_test_numbered("x", 5);
  rp_recommender rc = {.name = "c",
                       .self = &fb,
                       .users = users,
                       .items = other,
                       .nusers = 10,
                       .nitems = 5,
                       .recommend = fixed_rec};
  rp_recommender *bad[] = {&ra, &rc};
  ck_assert_int_eq(rp_hyb_blend_new(bad, w, 2, RP_BLEND_RANK, 4, &b, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "same id maps"));
  w[1] = -1;
  ck_assert_int_eq(rp_hyb_blend_new(src, w, 2, RP_BLEND_RANK, 4, &b, &err), RP_EINVAL);
  rp_idmap_release(other);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

START_TEST(weights_decay) {
  rp_idmap *users = rp_test_numbered("u", 2), *items = rp_test_numbered("i", 2);
  int32_t eu[] = {0, 0, 1}, ei[] = {0, 0, 1};
  int64_t et[] = {0, 2 * 86400, 2 * 86400};
  rp_events *ev = log_of(users, items, eu, ei, et, 3);
  ev->value[0] = 4;
  rp_csr *w;
  rp_err err;
  ck_assert_int_eq(rp_hyb_weights(ev, 1.0, 0, 0, &w, &err), 0);
  ck_assert_double_eq_tol((double)w->data[0], 4 * 0.25 + 1, 1e-6);
  rp_csr_free(w);
  ck_assert_int_eq(rp_hyb_weights(ev, 0, 0, 1, &w, &err), 0);
  ck_assert_double_eq_tol((double)w->data[0], 2, 1e-6);
  rp_csr_free(w);
  RP_FAULT_LOOP(rp_hyb_weights(ev, 2.0, 0, 0, &w, NULL) ? 1 : (rp_csr_free(w), 0));
  rp_events_free(ev);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

/* Fault loops: building and querying each recommender. */
static int content_scenario(const rp_csr *hist, const rp_features *f) {
  rp_hyb_rec *c;
  rp_content_opts o = {0, 1};
  int rc = rp_hyb_content_new(hist, f, &o, &c, NULL);
  if (rc) return rc;
  int32_t us[] = {0, 1, 2}, it[9], n[3];
  float sc[9];
  rc = c->api.recommend(c->api.self, us, 3, 3, hist, 1, it, sc, n, NULL);
  if (!rc) {
    rp_hyb_req q;
    rp_hyb_req_user(c, 0, NULL, &q);
    rc = rp_hyb_recommend_one(c, &q, 3, it, sc, n, NULL);
  }
  rp_hyb_rec_free(c);
  return rc;
}

static int segment_scenario(const rp_csr *hist, const rp_features *uf) {
  rp_segment_opts o;
  memset(&o, 0, sizeof o);
  o.nfields = 1;
  o.shrinkage = 1;
  rp_hyb_rec *s;
  int rc = rp_hyb_segment_new(hist, uf, &o, &s, NULL);
  if (rc) return rc;
  int32_t us[] = {0, 1}, it[4], n[2];
  float sc[4];
  rc = s->api.recommend(s->api.self, us, 2, 2, NULL, 1, it, sc, n, NULL);
  rp_hyb_rec_free(s);
  return rc;
}

static int trending_scenario(const rp_events *ev) {
  rp_hyb_rec *r;
  int rc = rp_hyb_trending_new(ev, 2.0, ev, 0, 1, &r, NULL);
  if (rc) return rc;
  int32_t us[] = {0, 1}, it[4], n[2];
  float sc[4];
  rc = r->api.recommend(r->api.self, us, 2, 2, NULL, 1, it, sc, n, NULL);
  if (!rc) {
    rp_hyb_req q;
    rp_hyb_req_user(r, 0, NULL, &q);
    rc = rp_hyb_recommend_one(r, &q, 2, it, sc, n, NULL);
  }
  rp_hyb_rec_free(r);
  return rc;
}

static int blend_scenario(rp_recommender **src) {
  float w[] = {1, 1};
  rp_hyb_rec *b;
  int rc = rp_hyb_blend_new(src, w, 2, RP_BLEND_ZSCORE, 3, &b, NULL);
  if (rc) return rc;
  int32_t us[] = {0, 1}, it[6], n[2];
  float sc[6];
  rc = b->api.recommend(b->api.self, us, 2, 3, NULL, 1, it, sc, n, NULL);
  rp_hyb_rec_free(b);
  return rc;
}

START_TEST(fault_loops) {
  rp_idmap *users = rp_test_numbered("u", 3), *items = rp_test_numbered("i", 4);
  int32_t fr[] = {0, 1, 1, 2}, fc[] = {0, 0, 1, 1};
  float fv[] = {1, 1, 1, 1};
  rp_features *f = features(items, 4, 2, fr, fc, fv, 4);
  rp_features *uf = features(users, 3, 2, fr, fc, fv, 3);
  int32_t hr[] = {0, 0, 1}, hc[] = {0, 2, 1};
  float hv[] = {2, 1, 1};
  rp_csr *hist = build(3, 4, hr, hc, hv, 3, users, items);
  RP_FAULT_LOOP(content_scenario(hist, f));
  RP_FAULT_LOOP(segment_scenario(hist, uf));
  int32_t eu[] = {0, 1, 2}, ei[] = {0, 1, 3};
  int64_t et[] = {5, 9, 100};
  rp_events *ev = log_of(users, items, eu, ei, et, 3);
  RP_FAULT_LOOP(trending_scenario(ev));
  rp_features *ix;
  RP_FAULT_LOOP(rp_features_from_interactions(hist, 1, &ix, NULL) ? 1 : (rp_features_free(ix), 0));
  fixed fa = {{0, 1, 2}, {3, 2, 1}, 3}, fb = {{2, 3, 0}, {1, 0, -1}, 3};
  rp_recommender ra = {.name = "a",
                       .self = &fa,
                       .users = users,
                       .items = items,
                       .nusers = 3,
                       .nitems = 4,
                       .recommend = fixed_rec};
  rp_recommender rb = {.name = "b",
                       .self = &fb,
                       .users = users,
                       .items = items,
                       .nusers = 3,
                       .nitems = 4,
                       .recommend = fixed_rec};
  rp_recommender *src[] = {&ra, &rb};
  RP_FAULT_LOOP(blend_scenario(src));
  rp_events_free(ev);
  rp_csr_free(hist);
  rp_features_free(f);
  rp_features_free(uf);
  rp_idmap_release(users);
  rp_idmap_release(items);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hybrid_rec");
  TCase *tc = tcase_create("rec");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, topk_order_ties_mask_allow);
  tcase_add_test(tc, content_by_hand);
  tcase_add_test(tc, content_matches_naive);
  tcase_add_test(tc, content_large_paths);
  tcase_add_test(tc, segment_by_hand);
  tcase_add_test(tc, trending_by_hand);
  tcase_add_test(tc, trending_batch_matches_direct);
  tcase_add_test(tc, blend_by_hand);
  tcase_add_test(tc, weights_decay);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
