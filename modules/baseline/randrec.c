/*
 * randrec.c -- the uniform random baseline: each user gets k distinct
 * items drawn uniformly from the items that have a train entry, skipping
 * what the filter excludes.  The draw for user u comes from rp_rng seeded
 * with (seed, u), so lists never depend on batching or threads.
 */
#include <stdlib.h>
#include <string.h>

#include "baseline_impl.h"

int rp_randrec_fit(const rp_csr *train, uint64_t seed, rp_randrec **out, rp_err *err) {
  *out = NULL;
  int32_t ni = train->ncols;
  if (train->colmap && train->colmap->n > ni) ni = train->colmap->n;
  rp_randrec *r = rp_calloc(1, sizeof *r);
  if (!r) return rp_enomem(err, "random baseline");
  rp_base_init(&r->base, RP_BASE_RANDOM, "random", INT32_MAX, ni, train->rowmap, train->colmap);
  r->seed = seed;
  uint8_t *has = rp_calloc((size_t)ni + 1, 1);
  r->pool = rp_malloc(((size_t)ni + 1) * sizeof *r->pool);
  if (!has || !r->pool) {
    rp_free(has);
    rp_baseline_free(&r->base);
    return rp_enomem(err, "random baseline");
  }
  for (int64_t q = 0; q < train->nnz; q++) has[train->indices[q]] = 1;
  for (int32_t i = 0; i < ni; i++)
    if (has[i]) r->pool[r->npool++] = i;
  rp_free(has);
  *out = r;
  return RP_OK;
}

int32_t rp_rand_user(const rp_randrec *r, uint64_t stream, int32_t k, const rp_filter *f,
                     void *scratch, int32_t *items, float *scores) {
  rp_rng g;
  rp_rng_seed(&g, r->seed, stream);
  int32_t c = 0, np = r->npool;
  if (np == 0 || k <= 0) return 0;
  int32_t *cand = scratch;
  uint8_t *drawn = (uint8_t *)(cand + np); /* nitems flags, all 0 between calls */
  /* rejection sampling while it is cheap: distinct, allowed draws */
  int64_t budget = 8 * (int64_t)k + 64;
  while (c < k && budget-- > 0) {
    int32_t it = r->pool[rp_rng_below(&g, (uint64_t)np)];
    if (drawn[it] || !rp_filter_allows(f, it)) continue;
    drawn[it] = 1;
    items[c++] = it;
  }
  if (c < k) {
    /* most of the pool is excluded or k is close to its size: a partial
     * Fisher-Yates shuffle of the allowed items not drawn yet */
    int32_t m = 0;
    for (int32_t j = 0; j < np; j++)
      if (!drawn[r->pool[j]] && rp_filter_allows(f, r->pool[j])) cand[m++] = r->pool[j];
    for (int32_t j = 0; j < m && c < k; j++) {
      int32_t x = j + (int32_t)rp_rng_below(&g, (uint64_t)(m - j));
      int32_t t = cand[j];
      cand[j] = cand[x], cand[x] = t;
      items[c++] = cand[j];
    }
  }
  for (int32_t j = 0; j < c; j++) {
    drawn[items[j]] = 0;
    scores[j] = (float)(c - j) / (float)c;
  }
  return c;
}
