/*
 * itemknn.c -- item-item nearest-neighbour recommender (Sarwar et al.
 * 2001; implicit's ItemItemRecommender family).
 *
 * Fit: X = trainᵀ (items x users), weighted per the similarity.  For item
 * i, the dot products with every item sharing a user are accumulated by
 * walking i's users and their rows (sparse XXᵀ one row at a time, cost
 * sum over users of |row|^2 overall), turned into the similarity
 *   cosine   s = x_i·x_j / (|x_i| |x_j| + shrink)
 *   tfidf    the same on sqrt(r)·idf_u, idf_u = log(n_items / (1 + df_u))
 *   bm25     x_i·x_j on implicit's bm25_weight(X, k1, b)
 *   jaccard  |U_i ∩ U_j| / (|U_i| + |U_j| - |U_i ∩ U_j|)
 *   dot      x_i·x_j (co-occurrence)
 * and the k best j != i with s > 0 are kept.  Items are independent, so the
 * loop is parallel; each item's sums run in a fixed order.
 *
 * Recommend: score(j) = sum over the user's train items i of r_ui s(i, j),
 * accumulated over i's neighbours only, then a bounded top-k selection.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_impl.h"

const char *const rp_sim_names[] = {"cosine", "jaccard", "bm25", "tfidf", "dot", NULL};

#define O rp_knn_opts
const rp_optdesc rp_knn_optdesc[] = {
    RP_OPT_I(O, k, "k", 50, 1, 1 << 20),
    RP_OPT_E(O, similarity, "similarity", RP_SIM_COSINE, rp_sim_names),
    RP_OPT_N(O, shrink, "shrink", 0, 0, HUGE_VAL, 0),
    RP_OPT_N(O, k1, "k1", 1.2, 0, HUGE_VAL, RP_OPT_LO_OPEN),
    RP_OPT_N(O, b, "b", 0.75, 0, 1, 0),
    RP_OPT_I(O, threads, "threads", 0, 0, 4096),
    RP_OPT_END};
#undef O

void rp_knn_opts_init(rp_knn_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_knn_optdesc, o);
}

/* The weighted item x user matrix W (a new matrix) for the similarity. */
static rp_csr *weigh(const rp_csr *x, const rp_knn_opts *o, rp_err *err) {
  if (o->similarity == RP_SIM_BM25) return rp_csr_bm25(x, o->k1, o->b, err);
  rp_csr *w = rp_csr_copy(x, err);
  if (!w) return NULL;
  if (o->similarity == RP_SIM_JACCARD) {
    for (int64_t q = 0; q < w->nnz; q++) w->data[q] = 1.0f;
  } else if (o->similarity == RP_SIM_TFIDF) {
    double *idf = rp_calloc((size_t)w->ncols + 1, sizeof *idf);
    if (!idf) {
      rp_csr_free(w);
      return rp_enomem(err, "tfidf weights"), NULL;
    }
    for (int64_t q = 0; q < w->nnz; q++) idf[w->indices[q]] += 1;
    for (int32_t u = 0; u < w->ncols; u++) idf[u] = log((double)w->nrows / (1.0 + idf[u]));
    for (int64_t q = 0; q < w->nnz; q++) {
      double v = (double)w->data[q];
      w->data[q] = (float)(sqrt(v > 0 ? v : 0) * idf[w->indices[q]]);
    }
    rp_free(idf);
  }
  return w;
}

typedef struct nbrs {
  int32_t k;
  int32_t *items; /* nitems x k */
  float *scores;
  int32_t *n;
} nbrs;

/* The neighbours of item i into nb (acc/touched/mark: per-thread scratch). */
static void item_neighbours(const rp_csr *w, const rp_csr *wt, const double *norm, int sim,
                            double shrink, int32_t i, double *acc, int32_t *touched, uint8_t *mark,
                            nbrs *nb) {
  int32_t nt = 0;
  for (int64_t p = w->indptr[i]; p < w->indptr[i + 1]; p++) {
    int32_t u = w->indices[p];
    double wu = (double)w->data[p];
    for (int64_t q = wt->indptr[u]; q < wt->indptr[u + 1]; q++) {
      int32_t j = wt->indices[q];
      if (!mark[j]) mark[j] = 1, touched[nt++] = j;
      acc[j] += wu * (double)wt->data[q];
    }
  }
  rp_topk t;
  rp_topk_init(&t, nb->k, nb->items + (size_t)i * nb->k, nb->scores + (size_t)i * nb->k);
  for (int32_t a = 0; a < nt; a++) {
    int32_t j = touched[a];
    double d = acc[j], s;
    acc[j] = 0, mark[j] = 0;
    if (j == i) continue;
    switch (sim) {
      case RP_SIM_COSINE:
      case RP_SIM_TFIDF: {
        double den = norm[i] * norm[j] + shrink;
        s = den > 0 ? d / den : 0;
        break;
      }
      case RP_SIM_JACCARD: {
        double ui = (double)(w->indptr[i + 1] - w->indptr[i]);
        double uj = (double)(w->indptr[j + 1] - w->indptr[j]);
        s = d / (ui + uj - d);
        break;
      }
      default:
        s = d;
        break;
    }
    if (s > 0) rp_topk_push(&t, j, (float)s);
  }
  nb->n[i] = t.n;
}

static int cmp_pair(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* The neighbour lists as a CSR with rows sorted by item index. */
static rp_csr *nbrs_to_csr(const nbrs *nb, int32_t ni, rp_idmap *map, rp_err *err) {
  int64_t nnz = 0;
  for (int32_t i = 0; i < ni; i++) nnz += nb->n[i];
  rp_csr *s = rp_csr_new(ni, ni, nnz, map, map, err);
  if (!s) return NULL;
  int64_t q = 0;
  for (int32_t i = 0; i < ni; i++) {
    const int32_t *it = nb->items + (size_t)i * nb->k;
    const float *sc = nb->scores + (size_t)i * nb->k;
    /* order by item: sort (item, score) pairs packed as two int32 */
    int32_t pair[2 * 1024], *pp = pair;
    int32_t *heap = NULL;
    if (nb->n[i] > 1024) {
      heap = rp_malloc((size_t)nb->n[i] * 2 * sizeof *heap);
      if (!heap) {
        rp_csr_free(s);
        return rp_enomem(err, "item-kNN neighbours"), NULL;
      }
      pp = heap;
    }
    for (int32_t a = 0; a < nb->n[i]; a++) {
      pp[2 * a] = it[a];
      memcpy(&pp[2 * a + 1], &sc[a], sizeof(float));
    }
    qsort(pp, (size_t)nb->n[i], 2 * sizeof *pp, cmp_pair);
    for (int32_t a = 0; a < nb->n[i]; a++, q++) {
      s->indices[q] = pp[2 * a];
      memcpy(&s->data[q], &pp[2 * a + 1], sizeof(float));
    }
    s->indptr[i + 1] = q;
    rp_free(heap);
  }
  return s;
}

int rp_itemknn_fit(const rp_csr *train, const rp_knn_opts *o, rp_itemknn **out, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  *out = NULL;
  if (o->k < 1) return rp_errf(err, RP_EINVAL, "k must be a positive integer, got %d", o->k);
  if (o->similarity < RP_SIM_COSINE || o->similarity > RP_SIM_DOT)
    return rp_errf(err, RP_EINVAL, "unknown similarity %d", o->similarity);
  if (!(o->shrink >= 0) || !(o->k1 > 0) || !(o->b >= 0 && o->b <= 1))
    return rp_errf(err, RP_EINVAL, "need shrink >= 0, k1 > 0 and 0 <= b <= 1");
  double t0 = rp_now();
  int32_t ni = train->ncols;
  if (train->colmap && train->colmap->n > ni) ni = train->colmap->n;
  rp_itemknn *m = rp_calloc(1, sizeof *m);
  if (!m) return rp_enomem(err, "item-kNN");
  rp_base_init(&m->base, RP_BASE_ITEMKNN, "item_knn", train->nrows, ni, train->rowmap,
               train->colmap);
  m->opts = *o;
  rp_csr *x = NULL, *w = NULL, *wt = NULL;
  double *norm = NULL;
  nbrs nb = {o->k, NULL, NULL, NULL};
  int rc = RP_OK;
  m->hist = rp_csr_copy(train, err);
  if (!m->hist) goto fail;
  /* a square item space: pad X to ni rows when the map grew past the matrix */
  x = rp_csr_transpose(train, o->threads, err);
  if (!x) goto fail;
  w = weigh(x, o, err);
  if (!w) goto fail;
  wt = rp_csr_transpose(w, o->threads, err);
  if (!wt) goto fail;
  norm = rp_calloc((size_t)ni + 1, sizeof *norm);
  size_t cap = (size_t)ni * (size_t)o->k + 1;
  nb.items = rp_malloc(cap * sizeof *nb.items);
  nb.scores = rp_malloc(cap * sizeof *nb.scores);
  nb.n = rp_calloc((size_t)ni + 1, sizeof *nb.n);
  if (!norm || !nb.items || !nb.scores || !nb.n) {
    rp_enomem(err, "item-kNN neighbours");
    goto fail;
  }
  for (int32_t i = 0; i < w->nrows; i++) {
    double s = 0;
    for (int64_t q = w->indptr[i]; q < w->indptr[i + 1]; q++)
      s += (double)w->data[q] * (double)w->data[q];
    norm[i] = sqrt(s);
  }
  int failed = 0;
  int nt = rp_threads(o->threads);
#pragma omp parallel num_threads(nt)
  {
    double *acc = rp_calloc((size_t)ni + 1, sizeof *acc);
    int32_t *touched = rp_malloc(((size_t)ni + 1) * sizeof *touched);
    uint8_t *mark = rp_calloc((size_t)ni + 1, 1);
    if (!acc || !touched || !mark) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 16)
    for (int32_t i = 0; i < w->nrows; i++)
      if (acc && touched && mark)
        item_neighbours(w, wt, norm, o->similarity, o->shrink, i, acc, touched, mark, &nb);
    rp_free(acc);
    rp_free(touched);
    rp_free(mark);
  }
  if (failed) {
    rp_enomem(err, "item-kNN scratch");
    goto fail;
  }
  m->sim = nbrs_to_csr(&nb, ni, train->colmap, err);
  if (!m->sim) goto fail;
  m->seconds = rp_now() - t0;
  goto done;
fail:
  rc = err->status ? err->status : RP_ENOMEM;
  rp_baseline_free(&m->base);
  m = NULL;
done:
  rp_csr_free(x);
  rp_csr_free(w);
  rp_csr_free(wt);
  rp_free(norm);
  rp_free(nb.items);
  rp_free(nb.scores);
  rp_free(nb.n);
  *out = m;
  return rc;
}

int32_t rp_knn_user(const rp_itemknn *m, int32_t u, int32_t k, const rp_filter *f, void *scratch,
                    int32_t *items, float *scores) {
  const rp_csr *h = m->hist, *s = m->sim;
  if (u < 0 || u >= h->nrows) return 0;
  int32_t ni = m->base.nitems;
  float *acc = scratch;
  int32_t *touched = (int32_t *)(acc + ni);
  uint8_t *mark = (uint8_t *)(touched + ni);
  int32_t nt = 0;
  for (int64_t p = h->indptr[u]; p < h->indptr[u + 1]; p++) {
    int32_t i = h->indices[p];
    float r = h->data[p];
    for (int64_t q = s->indptr[i]; q < s->indptr[i + 1]; q++) {
      int32_t j = s->indices[q];
      if (!mark[j]) mark[j] = 1, touched[nt++] = j;
      acc[j] += r * s->data[q];
    }
  }
  rp_topk t;
  rp_topk_init(&t, k, items, scores);
  for (int32_t a = 0; a < nt; a++) {
    int32_t j = touched[a];
    if (rp_filter_allows(f, j)) rp_topk_push(&t, j, acc[j]);
    acc[j] = 0, mark[j] = 0;
  }
  return rp_topk_finish(&t);
}

int rp_itemknn_similar(const rp_itemknn *m, int32_t item, int32_t k, int32_t *items, float *scores,
                       int32_t *n, rp_err *err) {
  *n = 0;
  if (item < 0 || item >= m->base.nitems)
    return rp_errf(err, RP_EINVAL, "item index %d outside 0..%d", item, m->base.nitems - 1);
  rp_topk t;
  rp_topk_init(&t, k, items, scores);
  for (int64_t q = m->sim->indptr[item]; q < m->sim->indptr[item + 1]; q++)
    rp_topk_push(&t, m->sim->indices[q], m->sim->data[q]);
  *n = rp_topk_finish(&t);
  return RP_OK;
}
