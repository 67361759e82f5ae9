/*
 * baseline_impl.h -- internals shared by the baseline files (not part of
 * the module's interface: see baseline.h).
 */
#ifndef RP_BASELINE_IMPL_H
#define RP_BASELINE_IMPL_H

#include "baseline.h"

/* Per-user list functions: fill items/scores (best first), return count. */
int32_t rp_pop_user(const rp_popularity *p, int32_t k, const rp_filter *f, int32_t *items,
                    float *scores);
int32_t rp_rand_user(const rp_randrec *r, uint64_t stream, int32_t k, const rp_filter *f,
                     void *scratch, int32_t *items, float *scores);
int32_t rp_knn_user(const rp_itemknn *m, int32_t u, int32_t k, const rp_filter *f, void *scratch,
                    int32_t *items, float *scores);

/* Scratch one thread needs for b's per-user function (rp_free it). */
void *rp_base_scratch(const rp_baseline *b, rp_err *err);
/* rp_recommender.recommend of every baseline. */
int rp_base_recommend(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *exclude,
                      int threads, int32_t *out_items, float *out_scores, int32_t *out_n,
                      rp_err *err);
/* Fills the header (retains the maps; either may be NULL). */
void rp_base_init(rp_baseline *b, int kind, const char *name, int32_t nusers, int32_t nitems,
                  rp_idmap *users, rp_idmap *items);

#endif
