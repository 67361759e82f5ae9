/*
 * baseline.h -- the reference recommenders every model is compared with:
 * global popularity (optionally time-decayed), uniform random, and an
 * item-item neighbourhood model (item-kNN) on the interaction matrix.
 *
 * Each model starts with an rp_baseline header holding its rp_recommender
 * (runtime/core/recommender.h), so rp.metrics.evaluate and hybrid chains
 * call it in C.  Lists are best first; equal scores are ordered by item
 * index, so results are reproducible and never depend on the thread count.
 */
#ifndef RP_BASELINE_H
#define RP_BASELINE_H

#include "events.h"
#include "recommender.h"
#include "selection.h"

enum { RP_BASE_POPULARITY = 1, RP_BASE_RANDOM, RP_BASE_ITEMKNN };

typedef struct rp_baseline {
  rp_recommender rec; /* rec.self points back at this model */
  int kind;           /* RP_BASE_* */
  int32_t nitems;     /* catalogue the model ranks: items 0..nitems-1 */
} rp_baseline;

/* What a single-user request may not return: the sorted, unique item
 * indices excl[0..nexcl) and, when allow is not NULL, every item whose
 * allow[i] is 0 (allow has nitems bytes). */
typedef struct rp_filter {
  const int32_t *excl;
  int64_t nexcl;
  const uint8_t *allow;
} rp_filter;

/* Top k items for user u (u < 0 or past the model's users: a user without
 * history; popularity and random still answer, item-kNN returns none),
 * best first, into items/scores; *n = how many (< k only when fewer
 * candidates exist).  Allocates scratch for item-kNN (RP_ENOMEM). */
int rp_baseline_recommend_one(const rp_baseline *b, int32_t u, uint64_t stream, int32_t k,
                              const rp_filter *f, int32_t *items, float *scores, int32_t *n,
                              rp_err *err);
/* The same for one user with the exclusions a Lua `recommend` accepts:
 * the user's row of exclude (may be NULL), deny[0..ndeny) (any order) and,
 * when allow is not NULL, only the items allow[0..nallow).  Indices
 * outside the catalogue are ignored. */
int rp_baseline_recommend_for(const rp_baseline *b, int32_t u, int32_t k, const rp_csr *exclude,
                              const int32_t *deny, int32_t ndeny, const int32_t *allow,
                              int32_t nallow, int32_t *items, float *scores, int32_t *n,
                              rp_err *err);
/* Frees any baseline (accepts NULL). */
void rp_baseline_free(rp_baseline *b);

/* ---- popularity -------------------------------------------------------------- */
enum { RP_POP_USERS = 0, RP_POP_EVENTS, RP_POP_VALUE };

typedef struct rp_pop_opts {
  int by;           /* RP_POP_USERS: distinct users; _EVENTS: events; _VALUE: sum of values */
  double half_life; /* seconds; 0 = no decay */
  int64_t now;      /* decay reference time (has_now = 0: the latest event) */
  int has_now;
} rp_pop_opts;

typedef struct rp_popularity {
  rp_baseline base;
  double *score;  /* nitems */
  int32_t *order; /* items with score > 0, best first */
  int32_t norder;
  int64_t now; /* decay reference used (0 without decay) */
} rp_popularity;

/* Popularity from Events: each item's number of distinct users (by users;
 * with decay each pair weighs 2^(-(now - t)/half_life) for its latest
 * event), events, or summed values, each event weighted by its decay.
 * Decay needs a time column; events after now weigh 1.  Owned by caller. */
int rp_popularity_fit_events(const rp_events *ev, const rp_pop_opts *o, rp_popularity **out,
                             rp_err *err);
/* Popularity from a Matrix: users (entries per column) or value (column
 * sums); no decay (a matrix has no times). */
int rp_popularity_fit_matrix(const rp_csr *m, const rp_pop_opts *o, rp_popularity **out,
                             rp_err *err);

/* ---- random ------------------------------------------------------------------- */
typedef struct rp_randrec_opts {
  uint64_t seed;
} rp_randrec_opts;

typedef struct rp_randrec {
  rp_baseline base;
  uint64_t seed;
  int32_t *pool; /* items with a train entry, ascending */
  int32_t npool;
} rp_randrec;

/* Uniform random lists over the items that have a train entry; user u's
 * list depends only on (seed, u) and its filter.  Owned by the caller. */
int rp_randrec_fit(const rp_csr *train, uint64_t seed, rp_randrec **out, rp_err *err);

/* ---- item-kNN ------------------------------------------------------------------ */
enum { RP_SIM_COSINE = 0, RP_SIM_JACCARD, RP_SIM_BM25, RP_SIM_TFIDF, RP_SIM_DOT };

typedef struct rp_knn_opts {
  int32_t k;      /* neighbours kept per item (50) */
  int similarity; /* RP_SIM_* */
  double shrink;  /* cosine/tfidf: dot / (|a||b| + shrink) (0) */
  double k1, b;   /* bm25 (1.2, 0.75) */
  int threads;    /* 0 = all cores */
} rp_knn_opts;
void rp_knn_opts_init(rp_knn_opts *o);
/* item_knn's, popularity's and random's options (opts.h); the enum names */
extern const rp_optdesc rp_knn_optdesc[], rp_pop_optdesc[], rp_randrec_optdesc[];
extern const char *const rp_sim_names[], *const rp_pop_by_names[];

typedef struct rp_itemknn {
  rp_baseline base;
  rp_knn_opts opts;
  rp_csr *sim;  /* nitems x nitems: row i = i's top-k neighbours (sorted by index) */
  rp_csr *hist; /* the users' train rows the lists are scored from */
  double seconds;
} rp_itemknn;

/* Item-item neighbourhood model on train (users x items): X = trainᵀ
 * weighted per the similarity (cosine/tfidf: rows normalised; tfidf:
 * sqrt(r)·idf; bm25: implicit's bm25_weight with k1, b; jaccard: binary),
 * s(i, j) for every pair sharing a user, the k best j != i with s > 0 kept
 * per item.  A user's score for j is sum over its train items i of
 * r_ui · s(i, j) (implicit's ItemItemRecommender).  Time O(sum over users
 * of |row|^2), memory O(nnz + nitems·k).  Owned by the caller. */
int rp_itemknn_fit(const rp_csr *train, const rp_knn_opts *o, rp_itemknn **out, rp_err *err);
/* The k most similar items to item (best first, item itself excluded). */
int rp_itemknn_similar(const rp_itemknn *m, int32_t item, int32_t k, int32_t *items, float *scores,
                       int32_t *n, rp_err *err);

/* ---- top-k selection: rp_topk (runtime/core/selection.h) --------------------- */
/* Is item allowed by f?  (binary search in the exclusion list) */
int rp_filter_allows(const rp_filter *f, int32_t item);

#endif
