/*
 * content.c -- content-based scoring: cosine between a user's profile and
 * each item's feature row.
 *
 * With x_i the L2-normalised feature row of item i and w_ui the user's
 * history weight, the profile is p = sum_i w_ui x_i and the score of item j
 * is cos(p, x_j) = (x_j . p) / |p|.  Two ways to compute all x_j . p:
 * item-major (one sparse dot per item, cost nnz(X)) or feature-major
 * (for each feature f in p, add p_f times column f of X, cost the summed
 * document frequency of p's features).  The cheaper is chosen per request
 * (the two agree to float rounding; items with equal rows get equal scores
 * either way, so ties stay ties).  Items without features cannot be scored.
 *
 * The item-major scan reads X in sliced ELLPACK form (Kreutzer et al. 2014):
 * items in chunks of 16, each chunk's rows padded to its longest and stored
 * slot by slot, so 16 items advance together -- one 16-wide load of indices
 * and values, one gather from the (L1-resident) profile and one fused
 * multiply-add per slot, with no dependency between items.  The
 * feature-major path adds the columns block by block of 8,192 items, so
 * the scores it updates stay in L1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define LANES 16
#define BLOCK 8192 /* items whose scores (32 KB) stay in L1 while columns are added */

typedef struct {
  rp_hyb_rec base;
  rp_csr *X;    /* items x features, unit rows */
  rp_csr *XT;   /* features x items */
  float *base0; /* 0 for items with features, -inf for the others */
  /* X sliced: chunk c (items 16c..16c+15) has slots soff[c]..soff[c+1]-1,
   * slot s holding lane j's next (index, value) at sidx/sval[16 s + j]
   * (padding: index 0, value 0) */
  int64_t *soff;
  int32_t *sidx;
  float *sval;
  /* column f's entries for items of block b (BLOCK items each) start at
   * boff[f * (nblocks + 1) + b] (NULL: columns walked whole) */
  int64_t *boff;
  int32_t nblocks;
  int32_t nfeat;
  int binary;
} content;

static void content_destroy(rp_hyb_rec *r) {
  content *c = (content *)r;
  rp_csr_free(c->X);
  rp_csr_free(c->XT);
  rp_free(c->base0);
  rp_free(c->soff);
  rp_free(c->sidx);
  rp_free(c->sval);
  rp_free(c->boff);
}

/* sc[i] = base0[i] + x_i . p for every item, from the sliced form. */
static void scan_items(const content *c, const float *p, float *sc, int32_t ni) {
  int32_t nch = (ni + LANES - 1) / LANES;
  for (int32_t ch = 0; ch < nch; ch++) {
    int32_t i0 = ch * LANES;
    const int32_t *ix = c->sidx + c->soff[ch] * LANES;
    const float *v = c->sval + c->soff[ch] * LANES;
    int64_t ns = c->soff[ch + 1] - c->soff[ch];
#if defined(__AVX512F__)
    __m512 acc = _mm512_setzero_ps();
    for (int64_t s = 0; s < ns; s++) {
      __m512i vi = _mm512_loadu_si512((const void *)(ix + s * LANES));
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(v + s * LANES), _mm512_i32gather_ps(vi, p, 4), acc);
    }
    float out[LANES];
    _mm512_storeu_ps(out, acc);
#else
    float out[LANES] = {0};
    for (int64_t s = 0; s < ns; s++)
      for (int l = 0; l < LANES; l++) out[l] += v[s * LANES + l] * p[ix[s * LANES + l]];
#endif
    int32_t m = ni - i0 < LANES ? ni - i0 : LANES;
    for (int l = 0; l < m; l++) sc[i0 + l] = c->base0[i0 + l] + out[l];
  }
}

/* Where each column's entries of each block of items start (kept only
 * when that takes less room than the columns themselves). */
static int blocks(content *c, rp_err *err) {
  const rp_csr *XT = c->XT;
  int32_t nb = (XT->ncols + BLOCK - 1) / BLOCK;
  c->nblocks = nb;
  if (nb <= 1 || (double)XT->nrows * (nb + 1) > (double)XT->nnz + 1e6) return RP_OK;
  c->boff = rp_malloc(sizeof *c->boff * (size_t)XT->nrows * (size_t)(nb + 1));
  if (!c->boff) return rp_enomem(err, "content");
  for (int32_t f = 0; f < XT->nrows; f++) {
    int64_t *bo = c->boff + (size_t)f * (size_t)(nb + 1), e = XT->indptr[f];
    for (int32_t b = 0; b < nb; b++) {
      bo[b] = e;
      while (e < XT->indptr[f + 1] && XT->indices[e] < (b + 1) * BLOCK) e++;
    }
    bo[nb] = XT->indptr[f + 1];
  }
  return RP_OK;
}

/* Builds the sliced form of X. */
static int slice(content *c, rp_err *err) {
  const rp_csr *X = c->X;
  int32_t ni = X->nrows, nch = (ni + LANES - 1) / LANES;
  c->soff = rp_malloc(sizeof *c->soff * ((size_t)nch + 1));
  if (!c->soff) return rp_enomem(err, "content");
  c->soff[0] = 0;
  for (int32_t ch = 0; ch < nch; ch++) {
    int64_t len = 0;
    for (int32_t i = ch * LANES; i < ni && i < (ch + 1) * LANES; i++)
      if (rp_csr_rowlen(X, i) > len) len = rp_csr_rowlen(X, i);
    c->soff[ch + 1] = c->soff[ch] + len;
  }
  size_t slots = (size_t)(c->soff[nch] ? c->soff[nch] : 1) * LANES;
  c->sidx = rp_calloc(slots, sizeof *c->sidx);
  c->sval = rp_calloc(slots, sizeof *c->sval);
  if (!c->sidx || !c->sval) return rp_enomem(err, "content");
  for (int32_t i = 0; i < ni; i++) {
    int32_t ch = i / LANES, l = i % LANES;
    int64_t s = c->soff[ch];
    for (int64_t t = X->indptr[i]; t < X->indptr[i + 1]; t++, s++) {
      c->sidx[s * LANES + l] = X->indices[t];
      c->sval[s * LANES + l] = X->data[t];
    }
  }
  return RP_OK;
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
  if (nt > 1) qsort(touched, (size_t)nt, sizeof *touched, rp_cmp_i32);
  double norm = 0, cost_t = 0;
  for (int32_t t = 0; t < nt; t++) {
    norm += (double)p[touched[t]] * (double)p[touched[t]];
    cost_t += (double)rp_csr_rowlen(XT, touched[t]);
  }
  float *sc = s->scores;
  int32_t ni = X->nrows;
  if (norm > 0) {
    /* measured: a scattered add costs about 4/3 of a slot of the sliced scan */
    if (4 * cost_t < 3 * (double)c->soff[(ni + LANES - 1) / LANES] * LANES) {
      /* feature-major, features ascending as the item-major dot visits them */
      /* block by block of items, so the scores being added to stay in L1 */
      memcpy(sc, c->base0, (size_t)ni * sizeof *sc);
      int32_t nb = c->boff ? c->nblocks : 1;
      for (int32_t b = 0; b < nb; b++)
        for (int32_t t = 0; t < nt; t++) {
          int32_t f = touched[t];
          float pf = p[f];
          const int64_t *bo = c->boff ? c->boff + (size_t)f * (size_t)(nb + 1) + b : NULL;
          int64_t e0 = bo ? bo[0] : XT->indptr[f], e1 = bo ? bo[1] : XT->indptr[f + 1];
          const int32_t *ix = XT->indices;
          const float *xv = XT->data;
          for (int64_t e = e0; e < e1; e++) sc[ix[e]] += xv[e] * pf;
        }
    } else {
      scan_items(c, p, sc, ni);
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
  if (!(c->XT = rp_csr_transpose(c->X, 1, err)) || slice(c, err) || blocks(c, err)) goto fail;
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
  r->api.one = rp_hyb_one;
  *out = r;
  return RP_OK;
fail:
  rp_hyb_rec_free(r);
  return err ? err->status : RP_ENOMEM;
}
