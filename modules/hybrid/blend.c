/*
 * blend.c -- a weighted sum of several recommenders' normalised scores.
 *
 * Each source is asked for its top `depth` items (depth >= k); scores from
 * different models live on different scales, so each list is normalised
 * before the weighted sum:
 *   rank    the item at rank r (1-based) gets 1 - (r - 1) / depth, items
 *           the source did not return get 0 (a Borda count);
 *   zscore  (s - mean) / sd over the scores of the returned list (sd = 0:
 *           all 0), items not returned get the list's lowest z-score;
 *   none    raw scores, items not returned get the list's lowest score.
 * A source with nothing to say for a user (an empty list) adds nothing.
 * The blend answers with the best k of the union of the lists, ties to
 * the lower item index.  Sources run through their own rp_recommender
 * (parallel inside); the merge is parallel over users.
 */
#include <math.h>
#include <string.h>

#include "hybrid.h"

#define BLEND_MAX 16
#define CHUNK 1024

typedef struct {
  rp_hyb_rec base;
  int n;
  rp_recommender *src[BLEND_MAX];
  float w[BLEND_MAX];
  int norm;
  int32_t depth;
} blend;

void rp_hyb_blend_set_sources(rp_hyb_rec *r, rp_recommender *const *src) {
  blend *b = (blend *)r;
  for (int s = 0; s < b->n; s++) b->src[s] = src[s];
  int32_t nu = 0;
  for (int s = 0; s < b->n; s++)
    if (src[s]->nusers > nu) nu = src[s]->nusers;
  r->api.nusers = nu;
}

/* Normalised score of position j of a list of m (scores sc) and the value
 * of absent items. */
static void norm_list(int mode, const float *sc, int32_t m, int32_t depth, double *val,
                      double *absent) {
  if (m == 0) {
    *absent = 0;
    return;
  }
  if (mode == RP_BLEND_RANK) {
    for (int32_t j = 0; j < m; j++) val[j] = 1.0 - (double)j / depth;
    *absent = 0;
    return;
  }
  double lo = sc[0];
  for (int32_t j = 1; j < m; j++)
    if ((double)sc[j] < lo) lo = sc[j];
  if (mode == RP_BLEND_NONE) {
    for (int32_t j = 0; j < m; j++) val[j] = sc[j];
    *absent = lo;
    return;
  }
  double mean = 0, var = 0;
  for (int32_t j = 0; j < m; j++) mean += (double)sc[j];
  mean /= m;
  for (int32_t j = 0; j < m; j++) var += ((double)sc[j] - mean) * ((double)sc[j] - mean);
  double sd = sqrt(var / m);
  for (int32_t j = 0; j < m; j++) val[j] = sd > 0 ? ((double)sc[j] - mean) / sd : 0;
  *absent = sd > 0 ? (lo - mean) / sd : 0;
}

typedef struct {
  int32_t *items;
  float *scores;
  int32_t *count;
} srcbuf;

int rp_hyb_merge_ws_init(rp_hyb_merge_ws *ws, int32_t nitems, int32_t depth, int n, rp_err *err) {
  memset(ws, 0, sizeof *ws);
  size_t ni = (size_t)(nitems > 0 ? nitems : 1), nd = (size_t)(depth > 0 ? depth : 1);
  ws->acc = rp_malloc(ni * sizeof *ws->acc);
  ws->val = rp_malloc(nd * sizeof *ws->val);
  ws->fsc = rp_malloc(ni * sizeof *ws->fsc);
  ws->mask = rp_calloc(ni, 1);
  ws->touched = rp_malloc(nd * (size_t)(n > 0 ? n : 1) * sizeof *ws->touched);
  ws->nitems = nitems;
  if (!ws->acc || !ws->val || !ws->fsc || !ws->mask || !ws->touched) {
    rp_hyb_merge_ws_free(ws);
    return rp_enomem(err, "blend");
  }
  return RP_OK;
}

void rp_hyb_merge_ws_free(rp_hyb_merge_ws *ws) {
  rp_free(ws->acc);
  rp_free(ws->val);
  rp_free(ws->fsc);
  rp_free(ws->mask);
  rp_free(ws->touched);
  memset(ws, 0, sizeof *ws);
}

int32_t rp_hyb_blend_merge(int n, const int32_t *const *items, const float *const *scores,
                           const int32_t *count, const float *w, int norm, int32_t depth, int32_t k,
                           rp_hyb_merge_ws *ws, int32_t *out_items, float *out_scores) {
  int32_t nt = 0;
  double base = 0;
  for (int s = 0; s < n; s++) {
    int32_t m = count[s];
    const int32_t *it = items[s];
    double absent;
    norm_list(norm, scores[s], m, depth, ws->val, &absent);
    base += (double)w[s] * absent;
    for (int32_t j = 0; j < m; j++) {
      int32_t item = it[j];
      if (!ws->mask[item]) {
        ws->mask[item] = 1;
        ws->acc[item] = 0;
        ws->touched[nt++] = item;
      }
      ws->acc[item] += (double)w[s] * (ws->val[j] - absent);
    }
  }
  for (int32_t t = 0; t < nt; t++) {
    ws->fsc[ws->touched[t]] = (float)(base + ws->acc[ws->touched[t]]);
    ws->mask[ws->touched[t]] = 0;
  }
  return rp_hyb_topk(ws->fsc, ws->nitems, NULL, ws->mask, ws->touched, nt, k, out_items,
                     out_scores);
}

static int blend_batch(void *self, const int32_t *users, int32_t n, int32_t k,
                       const rp_csr *exclude, int threads, int32_t *out_items, float *out_scores,
                       int32_t *out_n, rp_err *err) {
  blend *b = self;
  if (k < 1) return rp_errf(err, RP_EINVAL, "recommend: k must be positive, got %d", k);
  int32_t depth = b->depth > k ? b->depth : k, ni = b->base.api.nitems;
  for (int32_t i = 0; i < n; i++) out_n[i] = 0;
  srcbuf sb[BLEND_MAX];
  memset(sb, 0, sizeof sb);
  int32_t chunk = n < CHUNK ? (n ? n : 1) : CHUNK;
  int rc = RP_OK;
  for (int s = 0; s < b->n; s++) {
    sb[s].items = rp_malloc((size_t)chunk * depth * sizeof *sb[s].items);
    sb[s].scores = rp_malloc((size_t)chunk * depth * sizeof *sb[s].scores);
    sb[s].count = rp_malloc((size_t)chunk * sizeof *sb[s].count);
    if (!sb[s].items || !sb[s].scores || !sb[s].count) rc = rp_enomem(err, "blend");
  }
  int nt = rp_threads(threads);
  for (int32_t c0 = 0; c0 < n && !rc; c0 += chunk) {
    int32_t cn = n - c0 < chunk ? n - c0 : chunk;
    for (int s = 0; s < b->n && !rc; s++)
      rc = b->src[s]->recommend(b->src[s]->self, users + c0, cn, depth, exclude, threads,
                                sb[s].items, sb[s].scores, sb[s].count, err);
    if (rc) break;
    int failed = 0;
#pragma omp parallel num_threads(nt > cn / 64 + 1 ? cn / 64 + 1 : nt)
    {
      rp_hyb_merge_ws ws;
      int ok = rp_hyb_merge_ws_init(&ws, ni, depth, b->n, NULL) == RP_OK;
      if (!ok) {
#pragma omp atomic write
        failed = 1;
      }
#pragma omp for schedule(dynamic, 32)
      for (int32_t i = 0; i < cn; i++) {
        if (!ok) continue;
        const int32_t *it[BLEND_MAX];
        const float *sc[BLEND_MAX];
        int32_t cnt[BLEND_MAX];
        for (int s = 0; s < b->n; s++) {
          it[s] = sb[s].items + (size_t)i * depth;
          sc[s] = sb[s].scores + (size_t)i * depth;
          cnt[s] = sb[s].count[i];
        }
        int64_t at = (int64_t)(c0 + i) * k;
        out_n[c0 + i] = rp_hyb_blend_merge(b->n, it, sc, cnt, b->w, b->norm, depth, k, &ws,
                                           out_items + at, out_scores + at);
      }
      rp_hyb_merge_ws_free(&ws);
    }
    if (failed) rc = rp_enomem(err, "blend");
  }
  for (int s = 0; s < b->n; s++) {
    rp_free(sb[s].items);
    rp_free(sb[s].scores);
    rp_free(sb[s].count);
  }
  return rc;
}

int rp_hyb_blend_new(rp_recommender *const *src, const float *weights, int n, int norm,
                     int32_t depth, rp_hyb_rec **out, rp_err *err) {
  *out = NULL;
  if (n < 1 || n > BLEND_MAX)
    return rp_errf(err, RP_EINVAL, "blend: between 1 and %d sources expected, got %d", BLEND_MAX,
                   n);
  if (depth < 1 || depth > RP_HYB_MAX_DEPTH)
    return rp_errf(err, RP_EINVAL, "blend: depth must be in 1..%d, got %d", RP_HYB_MAX_DEPTH,
                   depth);
  if (norm < RP_BLEND_RANK || norm > RP_BLEND_NONE)
    return rp_errf(err, RP_EINVAL, "blend: unknown normalisation %d", norm);
  int32_t ni = 0;
  for (int s = 0; s < n; s++) {
    if (!isfinite(weights[s]) || weights[s] < 0)
      return rp_errf(err, RP_EINVAL, "blend: weight of source %d must be a non-negative number",
                     s + 1);
    if (src[s]->users != src[0]->users || src[s]->items != src[0]->items)
      return rp_errf(err, RP_EINVAL,
                     "blend: source %d (%s) is not on the same id maps as source 1 (%s)", s + 1,
                     src[s]->name, src[0]->name);
    if (src[s]->nitems > ni) ni = src[s]->nitems;
  }
  blend *b = rp_calloc(1, sizeof *b);
  if (!b) return rp_enomem(err, "blend");
  b->n = n;
  b->norm = norm;
  b->depth = depth;
  for (int s = 0; s < n; s++) b->w[s] = weights[s];
  rp_hyb_rec *r = &b->base;
  r->kind = RP_HYB_BLEND;
  r->reason = "blend";
  r->api.name = "blend";
  r->api.self = r;
  r->api.users = src[0]->users;
  r->api.items = src[0]->items;
  r->api.nitems = ni;
  r->api.recommend = blend_batch;
  rp_hyb_blend_set_sources(r, src);
  *out = r;
  return RP_OK;
}
