/*
 * common.c -- what the baselines share: filters,
 * the rp_recommender adapter (a parallel loop over users calling the
 * model's per-user function with the user's exclusion row) and dispatch.
 */
#include <stdlib.h>
#include <string.h>

#include "baseline_impl.h"

int rp_filter_allows(const rp_filter *f, int32_t item) {
  if (!f) return 1;
  if (f->allow && !f->allow[item]) return 0;
  int64_t a = 0, b = f->nexcl;
  while (a < b) {
    int64_t m = a + (b - a) / 2;
    if (f->excl[m] < item)
      a = m + 1;
    else
      b = m;
  }
  return !(a < f->nexcl && f->excl[a] == item);
}

/* ---- dispatch ------------------------------------------------------------------------ */
static int user_fn(const rp_baseline *b, int32_t u, uint64_t stream, int32_t k, const rp_filter *f,
                   void *scratch, int32_t *items, float *scores) {
  switch (b->kind) {
    case RP_BASE_POPULARITY:
      return rp_pop_user((const rp_popularity *)b, k, f, items, scores);
    case RP_BASE_RANDOM:
      return rp_rand_user((const rp_randrec *)b, stream, k, f, scratch, items, scores);
    default:
      return rp_knn_user((const rp_itemknn *)b, u, k, f, scratch, items, scores);
  }
}

void *rp_base_scratch(const rp_baseline *b, rp_err *err) {
  size_t n = 1;
  if (b->kind == RP_BASE_ITEMKNN) /* scores (floats), touched list (int32), flags */
    n = (size_t)b->nitems * (sizeof(float) + sizeof(int32_t) + 1) + 1;
  else if (b->kind == RP_BASE_RANDOM) /* candidates (int32), drawn flags */
    n = (size_t)((const rp_randrec *)b)->npool * sizeof(int32_t) + (size_t)b->nitems + 1;
  void *s = rp_calloc(n, 1);
  if (!s) rp_enomem(err, "recommend scratch");
  return s;
}

int rp_baseline_recommend_one(const rp_baseline *b, int32_t u, uint64_t stream, int32_t k,
                              const rp_filter *f, int32_t *items, float *scores, int32_t *n,
                              rp_err *err) {
  *n = 0;
  void *scratch = rp_base_scratch(b, err);
  if (!scratch) return RP_ENOMEM;
  *n = user_fn(b, u, stream, k, f, scratch, items, scores);
  rp_free(scratch);
  return RP_OK;
}

int rp_baseline_recommend_for(const rp_baseline *b, int32_t u, int32_t k, const rp_csr *exclude,
                              const int32_t *deny, int32_t ndeny, const int32_t *allow,
                              int32_t nallow, int32_t *items, float *scores, int32_t *n,
                              rp_err *err) {
  *n = 0;
  int64_t nrow =
      exclude && u >= 0 && u < exclude->nrows ? exclude->indptr[u + 1] - exclude->indptr[u] : 0;
  int32_t *excl = rp_malloc((size_t)(nrow + ndeny + 1) * sizeof *excl);
  uint8_t *mask = allow ? rp_calloc((size_t)b->nitems + 1, 1) : NULL;
  if (!excl || (allow && !mask)) {
    rp_free(excl);
    rp_free(mask);
    return rp_enomem(err, "recommend filter");
  }
  int64_t ne = 0;
  for (int64_t q = 0; q < nrow; q++) excl[ne++] = exclude->indices[exclude->indptr[u] + q];
  for (int32_t q = 0; q < ndeny; q++) excl[ne++] = deny[q];
  qsort(excl, (size_t)ne, sizeof *excl, rp_cmp_i32);
  for (int32_t q = 0; q < nallow; q++)
    if (allow[q] >= 0 && allow[q] < b->nitems) mask[allow[q]] = 1;
  rp_filter f = {excl, ne, mask};
  int rc = rp_baseline_recommend_one(b, u, (uint64_t)u, k, &f, items, scores, n, err);
  rp_free(excl);
  rp_free(mask);
  return rc;
}

/* rp_recommender.one for every baseline: the request's history items are
 * never returned either (denied with the deny list). */
static int base_one(void *self, const rp_rec_query *q, int32_t k, int32_t *items, float *scores,
                    int32_t *n, rp_err *err) {
  const rp_baseline *b = self;
  if ((q->user < 0 || q->user >= b->rec.nusers) && b->kind == RP_BASE_ITEMKNN) {
    *n = 0;
    return RP_OK;
  }
  if (!q->nhist)
    return rp_baseline_recommend_for(b, q->user, k, q->exclude, q->deny, q->ndeny, q->allow,
                                     q->nallow, items, scores, n, err);
  int32_t nd = q->ndeny + q->nhist;
  int32_t *deny = rp_malloc((size_t)nd * sizeof *deny);
  if (!deny) return rp_enomem(err, "recommend filter");
  memcpy(deny, q->hist, (size_t)q->nhist * sizeof *deny);
  if (q->ndeny) memcpy(deny + q->nhist, q->deny, (size_t)q->ndeny * sizeof *deny);
  int rc = rp_baseline_recommend_for(b, q->user, k, q->exclude, deny, nd, q->allow, q->nallow,
                                     items, scores, n, err);
  rp_free(deny);
  return rc;
}

/* rp_recommender.recommend for every baseline */
int rp_base_recommend(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *exclude,
                      int threads, int32_t *out_items, float *out_scores, int32_t *out_n,
                      rp_err *err) {
  const rp_baseline *b = self;
  int failed = 0;
  int nt = rp_threads(threads);
#pragma omp parallel num_threads(nt)
  {
    rp_err e2;
    void *scratch = rp_base_scratch(b, &e2);
    if (!scratch) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 64)
    for (int32_t i = 0; i < n; i++) {
      out_n[i] = 0;
      if (!scratch) continue;
      int32_t u = users[i];
      rp_filter f = {NULL, 0, NULL};
      if (exclude && u >= 0 && u < exclude->nrows) {
        f.excl = exclude->indices + exclude->indptr[u];
        f.nexcl = exclude->indptr[u + 1] - exclude->indptr[u];
      }
      out_n[i] = user_fn(b, u, (uint64_t)u, k, &f, scratch, out_items + (size_t)i * k,
                         out_scores + (size_t)i * k);
    }
    rp_free(scratch);
  }
  if (failed) return rp_enomem(err, "recommend scratch");
  return RP_OK;
}

void rp_baseline_free(rp_baseline *b) {
  if (!b) return;
  rp_idmap_release(b->rec.users);
  rp_idmap_release(b->rec.items);
  switch (b->kind) {
    case RP_BASE_POPULARITY: {
      rp_popularity *p = (rp_popularity *)b;
      rp_free(p->score);
      rp_free(p->order);
      break;
    }
    case RP_BASE_RANDOM:
      rp_free(((rp_randrec *)b)->pool);
      break;
    case RP_BASE_ITEMKNN: {
      rp_itemknn *m = (rp_itemknn *)b;
      rp_csr_free(m->sim);
      rp_csr_free(m->hist);
      break;
    }
    default:
      break;
  }
  rp_free(b);
}

void rp_base_init(rp_baseline *b, int kind, const char *name, int32_t nusers, int32_t nitems,
                  rp_idmap *users, rp_idmap *items) {
  b->kind = kind;
  b->nitems = nitems;
  b->rec.name = name;
  b->rec.self = b;
  b->rec.nusers = nusers;
  b->rec.nitems = nitems;
  b->rec.users = rp_idmap_retain(users);
  b->rec.items = rp_idmap_retain(items);
  b->rec.recommend = rp_base_recommend;
  b->rec.predict = NULL;
  b->rec.one = base_one;
}
