/*
 * recommender.h -- the one interface every recommender implements in C
 * (ALS models, baselines, hybrids), so rp.metrics.evaluate and the hybrid
 * chain can ask any of them for top-k lists without going through Lua.
 *
 * From Lua, an object whose type is a recommender (runtime/rpl.h,
 * rpL_class.recommender) is its own `__recommender()`; a Lua object may
 * return such an object from its `__recommender()` to be scored in C.  The
 * binding layer (rpL_pinrec) checks the type and keeps the object alive
 * while C uses its rp_recommender: no raw pointer crosses into Lua.
 * Objects written in Lua instead provide `recommend_all` and are called
 * through Lua (slower, same results).
 */
#ifndef RP_RECOMMENDER_H
#define RP_RECOMMENDER_H

#include "csr.h"

typedef struct rp_recommender {
  const char *name; /* "als", "popularity", ... */
  void *self;
  rp_idmap *users, *items; /* the maps the recommender knows */
  int32_t nusers, nitems;  /* rows and columns it can score */
  /* Top k items for each of users[0..n) (indices on `users`; an index >=
   * nusers is a user the recommender does not know: out_n = 0).  Items in
   * the user's row of exclude (a matrix on the same maps; NULL = none; rows
   * and columns past its end count as empty) are never returned, nor items
   * outside 0..nitems-1.  Writes up to k items per user, best first, at
   * out_items[i*k ..] / out_scores[i*k ..] and their count at out_n[i] (< k
   * only when fewer candidates exist).  The implementation parallelises
   * internally over users with at most `threads` threads (0 = all cores);
   * results must not depend on the thread count.  Returns RP_OK or a
   * status with err set. */
  int (*recommend)(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *exclude,
                   int threads, int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err);
  /* Optional (NULL when the recommender cannot score arbitrary pairs; the
   * rating metrics rmse/mae need it): the predicted value of each pair
   * (users[i], items[i]), i < n, into out[i]; pairs outside nusers/nitems
   * get 0.  Same threading rules as recommend. */
  int (*predict)(void *self, const int32_t *users, const int32_t *items, int64_t n, int threads,
                 float *out, rp_err *err);
} rp_recommender;

#endif
