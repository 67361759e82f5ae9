/*
 * screen.h -- fast exact top-k over all items: a quantized copy of the item
 * factors screens the candidates, the exact dot product ranks them.
 */
#ifndef RP_ALS_SCREEN_H
#define RP_ALS_SCREEN_H

#include "als_impl.h"

/* Builds the model's screening cache once (thread-safe); RP_OK or
 * RP_ENOMEM.  Models whose items cannot be screened get no cache. */
int rp_als_screen_prepare(rp_als_model *m, rp_err *err);
/* Is a cache there (so rp_als_screen_topk may be used)? */
int rp_als_screen_ready(const rp_als_model *m);
/* The exact top h->k of x over all items not in the exclusion lists, into
 * h (empty on entry): the same result as scoring every item with
 * rp_als_dot. */
void rp_als_screen_topk(const rp_als_model *m, const float *x, const rp_als_list *excl, int nexcl,
                        rp_topk *h);
/* The rp_recommender batch through the screen (the cache must be ready):
 * top k (<= nitems) for each user, written with stride kout; items in the
 * user's row of exclude or in skip (sorted; NULL = none) never returned. */
int rp_als_screen_batch(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                        int32_t kout, const rp_csr *exclude, const rp_als_list *skip, int threads,
                        int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err);
void rp_als_screen_free(void *screen); /* accepts NULL */

#endif
