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

/* One request for one user (the single-request path of a server or a
 * binding).  Index lists are on the recommender's maps. */
typedef struct rp_rec_query {
  int32_t user;          /* index on users; -1: not on the map (a visitor) */
  const rp_csr *exclude; /* the user's row is never returned (seen items); NULL = none */
  const int32_t *hist;   /* the request's history: items a visitor (or a user the */
  const float *hval;     /* recommender has nothing for) interacted with; hval NULL */
  int32_t nhist;         /* = 1 each.  Never returned. */
  const int32_t *deny;   /* never these (sorted, unique) */
  int32_t ndeny;
  const int32_t *allow; /* only these (sorted, unique); NULL = every item */
  int32_t nallow;
  /* request-time attributes of a user the recommender has none for
   * (field names and values: "age_band", "25-34"), used by segment
   * popularity to find the user's segment */
  const char *const *attr_keys, *const *attr_vals;
  int32_t nattrs;
} rp_rec_query;

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
  /* Optional (NULL: only batches): answers one request q, top k (k >= 1)
   * into items/scores, best first, *n = how many; *n = 0 when it has
   * nothing for this user (unknown and no history).  Must be safe to call
   * from several threads at once and must not start threads of its own:
   * a server calls it from every worker. */
  int (*one)(void *self, const rp_rec_query *q, int32_t k, int32_t *items, float *scores,
             int32_t *n, rp_err *err);
} rp_recommender;

#endif
