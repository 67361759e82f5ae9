/*
 * content.c -- content-based scoring: cosine between a user's profile and
 * each item's feature row.
 *
 * With x_i the L2-normalised feature row of item i and w_ui the user's
 * history weight, the profile is p = sum_i w_ui x_i and the score of item j
 * is cos(p, x_j) = (x_j . p) / |p|.  Two ways to compute all x_j . p:
 * item-major (one sparse dot per item, cost nnz(X)) or feature-major
 * (for each feature f in p, add p_f times column f of X, cost the summed
 * document frequency of p's features).  The cheaper is chosen per request;
 * both visit a feature's contributions in the same order, so the two give
 * identical scores.  Items without features cannot be scored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"

typedef struct {
  rp_hyb_rec base;
  rp_csr *X;    /* items x features, unit rows */
  rp_csr *XT;   /* features x items */
  float *base0; /* 0 for items with features, -inf for the others */
  int32_t nfeat;
  int binary;
} content;

static void content_destroy(rp_hyb_rec *r) {
  content *c = (content *)r;
  rp_csr_free(c->X);
  rp_csr_free(c->XT);
  rp_free(c->base0);
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static int content_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                       int32_t *items, float *scores, int32_t *n, rp_err *err) {
  (void)err;
  const content *c = (const content *)r;
  const rp_csr *X = c->X, *XT = c->XT;
  /* work: profile p (nfeat floats), the features set in it, their flags;
   * all zero between requests */
  float *p = s->work;
  int32_t *touched = (int32_t *)(s->work + c->nfeat);
  uint8_t *in = (uint8_t *)(s->work + 2 * (size_t)c->nfeat);
  int32_t nt = 0;
  *n = 0;
  for (int32_t h = 0; h < q->nhist; h++) {
    int32_t i = q->hist[h];
    if (i < 0 || i >= X->nrows) continue;
    float w = c->binary || !q->hval ? 1.0f : q->hval[h];
    for (int64_t t = X->indptr[i]; t < X->indptr[i + 1]; t++) {
      int32_t f = X->indices[t];
      if (!in[f]) in[f] = 1, touched[nt++] = f;
      p[f] += w * X->data[t];
    }
  }
  if (nt > 1) qsort(touched, (size_t)nt, sizeof *touched, cmp_i32);
  double norm = 0, cost_t = 0;
  for (int32_t t = 0; t < nt; t++) {
    norm += (double)p[touched[t]] * (double)p[touched[t]];
    cost_t += (double)rp_csr_rowlen(XT, touched[t]);
  }
  float *sc = s->scores;
  int32_t ni = X->nrows;
  if (norm > 0) {
    if (cost_t < (double)X->nnz) {
      /* feature-major, features ascending as the item-major dot visits them */
      memcpy(sc, c->base0, (size_t)ni * sizeof *sc);
      for (int32_t t = 0; t < nt; t++) {
        int32_t f = touched[t];
        float pf = p[f];
        for (int64_t e = XT->indptr[f]; e < XT->indptr[f + 1]; e++)
          sc[XT->indices[e]] += XT->data[e] * pf;
      }
    } else {
      for (int32_t i = 0; i < ni; i++) {
        float acc = c->base0[i];
        for (int64_t t = X->indptr[i]; t < X->indptr[i + 1]; t++)
          acc += X->data[t] * p[X->indices[t]];
        sc[i] = acc;
      }
    }
    *n = rp_hyb_topk(sc, ni, r->tiebreak, s->mask, q->allow, q->nallow, k, items, scores);
    float inv = (float)(1.0 / sqrt(norm));
    for (int32_t j = 0; j < *n; j++) scores[j] *= inv;
  }
  for (int32_t t = 0; t < nt; t++) p[touched[t]] = 0.0f, in[touched[t]] = 0;
  return RP_OK;
}

int rp_hyb_content_new(const rp_csr *history, const rp_features *items, const rp_content_opts *o,
                       rp_hyb_rec **out, rp_err *err) {
  *out = NULL;
  if (history->colmap && items->m->rowmap && history->colmap != items->m->rowmap)
    return rp_errf(err, RP_EINVAL,
                   "content: the item features are not on the training data's item map "
                   "(read them with map = ev.items)");
  content *c = rp_calloc(1, sizeof *c);
  if (!c) return rp_enomem(err, "content");
  rp_hyb_rec *r = &c->base;
  r->destroy = content_destroy;
  r->kind = RP_HYB_CONTENT;
  r->reason = "content";
  r->one = content_one;
  c->binary = o ? o->binary : 0;
  int32_t ni = items->m->nrows;
  if (history->ncols > ni) ni = history->ncols;
  c->nfeat = items->m->ncols;
  r->work_floats = 2 * (size_t)c->nfeat + ((size_t)c->nfeat + 3) / 4 + 1;
  /* X: the feature rows, unit length, padded to every item of the history */
  rp_features tmp = *items;
  c->X = rp_csr_new(ni, items->m->ncols, items->m->nnz, items->m->rowmap, items->m->colmap, err);
  if (!c->X) goto fail;
  memcpy(c->X->indptr, items->m->indptr, ((size_t)items->m->nrows + 1) * sizeof(int64_t));
  for (int32_t i = items->m->nrows; i < ni; i++) c->X->indptr[i + 1] = items->m->nnz;
  memcpy(c->X->indices, items->m->indices, (size_t)items->m->nnz * sizeof(int32_t));
  memcpy(c->X->data, items->m->data, (size_t)items->m->nnz * sizeof(float));
  tmp.m = c->X;
  rp_features_normalize(&tmp);
  if (!(c->XT = rp_csr_transpose(c->X, 1, err))) goto fail;
  c->base0 = rp_malloc((size_t)(ni ? ni : 1) * sizeof *c->base0);
  r->tiebreak = rp_calloc((size_t)(ni ? ni : 1), sizeof *r->tiebreak);
  if (!c->base0 || !r->tiebreak) {
    rp_enomem(err, "content");
    goto fail;
  }
  for (int32_t i = 0; i < ni; i++)
    c->base0[i] = c->X->indptr[i + 1] > c->X->indptr[i] ? 0.0f : -INFINITY;
  if (!(r->history = rp_csr_copy(history, err))) goto fail;
  if (!o || o->popularity_ties)
    for (int64_t t = 0; t < history->nnz; t++) r->tiebreak[history->indices[t]] += 1.0f;
  r->api.name = "content";
  r->api.self = r;
  r->api.users = history->rowmap;
  r->api.items = items->m->rowmap ? items->m->rowmap : history->colmap;
  r->api.nusers = r->api.users ? r->api.users->n : history->nrows;
  r->api.nitems = ni;
  r->api.recommend = rp_hyb_batch;
  *out = r;
  return RP_OK;
fail:
  rp_hyb_rec_free(r);
  return err ? err->status : RP_ENOMEM;
}
