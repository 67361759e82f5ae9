/*
 * als.h -- implicit and explicit alternating least squares: training,
 * top-k recommendation, similar items/users, fold-in of new users, model
 * files.  The whole C surface of the `als` module; the Lua binding
 * (lua_als.c) and other modules (hybrid, metrics, serve) use only this.
 *
 * Model.  X (nusers x f) and Y (nitems x f), row-major float32, 64-byte
 * aligned; user u's score for item i is x_u . y_i.  Rows of users or items
 * without interactions in training are zero.
 *
 * Objective (implicit = 1), after Hu, Koren & Volinsky (2008), in the exact
 * form of implicit 0.7 (implicit/cpu/_als.pyx):
 *
 *   min  sum_{u,i} c_ui (p_ui - x_u.y_i)^2 + lambda_u |x_u|^2 + lambda_i |y_i|^2
 *
 * over every (u, i) pair: a pair absent from the matrix has p = 0, c = 1; a
 * stored value r gives p = [r > 0] and a confidence c from |r|:
 *   "linear" c = alpha |r|                (implicit's Cui = alpha * Cui)
 *   "hu"     c = 1 + alpha |r|            (Hu et al., Spark)
 *   "log"    c = 1 + alpha log(1 + |r|/eps)
 * lambda_u = lambda ("fixed") or lambda * n_u ("frequency", ALS-WR).
 * Explicit (implicit = 0): min sum_{(u,i) stored} (r_ui - x_u.y_i)^2 plus
 * the same regularization (weighted-lambda ALS, Zhou et al. 2008; the
 * default mode there is "frequency").
 *
 * Ownership.  A model is reference counted: rp_als_model_retain adds a
 * reference, rp_als_model_free drops one and frees at zero, so another
 * module (a hybrid chain, a server) may keep a model alive independently of
 * the Lua object that created it.  Factors and the recommender interface
 * belong to the model.
 *
 * Concurrency.  Every query function below may run concurrently from
 * several threads on one model.  The only writer is rp_als_partial_fit
 * (partial.c): writers are serialised by the model's `wlock`, and queries
 * hold the read side of `rw` while they read factors, the writer its write
 * side only while it copies the solved rows in (the solves run before, with
 * readers going on).  When a model grows, its factor arrays are replaced by
 * larger ones (capacity doubling) and the old ones are kept until the model
 * is freed, so a pointer taken before (a Dense view, another module's
 * cached pointer) stays valid memory; such a pointer sees rows change in
 * place, so code that reads factors outside these functions must not run
 * concurrently with rp_als_partial_fit (or must take rp_als_model_rdlock).
 *
 * Threads.  Functions taking `threads` use at most that many OpenMP threads
 * (0 = all cores); BLAS is set single-threaded for the duration and
 * restored.  Results never depend on the thread count.
 */
#ifndef RP_ALS_H
#define RP_ALS_H

#include <pthread.h>
#include <stdatomic.h>

#include "csr.h"
#include "opts.h"
#include "recommender.h"

enum { RP_ALS_CONF_LINEAR = 0, RP_ALS_CONF_HU, RP_ALS_CONF_LOG };
/* auto: frequency-scaled (weighted-lambda) for explicit models, fixed for
 * implicit ones; resolved by rp_als_train (a model holds fixed or frequency) */
enum { RP_ALS_REG_FIXED = 0, RP_ALS_REG_FREQUENCY, RP_ALS_REG_AUTO };
/* auto: Cholesky (exact, in double) for explicit models, CG for implicit ones;
 * resolved by rp_als_train (a model holds cg or cholesky) */
enum { RP_ALS_CG = 0, RP_ALS_CHOLESKY, RP_ALS_SOLVER_AUTO };

typedef struct rp_als_opts {
  int32_t factors;       /* f, default 100 (implicit 0.7) */
  double regularization; /* lambda, default 0.01 */
  int32_t iterations;    /* default 15 */
  double alpha;          /* confidence scale, default 1.0 */
  double eps;            /* "log" confidence: 1 + alpha log(1 + r/eps), default 1.0 */
  int confidence;        /* RP_ALS_CONF_*, default linear */
  int reg_mode;          /* RP_ALS_REG_*, default auto */
  int solver;            /* RP_ALS_CG (default) or RP_ALS_CHOLESKY */
  int32_t cg_steps;      /* default 3 */
  int implicit;          /* 1 (default) = implicit feedback; 0 = explicit ratings */
  int nonnegative;       /* 1: factors >= 0 (Spark's nonnegative): each row by NNLS */
  int threads;           /* 0 = all cores */
  uint64_t seed;         /* initial factors, default 42 */
  double init_scale;     /* initial factors uniform in [0, init_scale), default 0.01 */
} rp_als_opts;

/* rp.als.train's options: names, defaults and ranges (opts.h), the only
 * place they are written. */
extern const rp_optdesc rp_als_train_optdesc[];
extern const char *const rp_als_confidence_names[], *const rp_als_reg_mode_names[],
                                                        *const rp_als_solver_names[];
/* Fills o with the defaults above (implicit 0.7's for the shared ones). */
void rp_als_opts_default(rp_als_opts *o);
/* Replaces reg_mode auto by the mode it stands for (rp_als_train does). */
void rp_als_opts_resolve(rp_als_opts *o);
/* Checks every field; returns RP_OK or RP_EINVAL naming the field. */
int rp_als_opts_check(const rp_als_opts *o, rp_err *err);
/* Names of the enums ("linear", "cg", ...), for messages and files. */
const char *rp_als_confidence_name(int c);
const char *rp_als_reg_mode_name(int m);
const char *rp_als_solver_name(int s);

typedef struct rp_als_model {
  int32_t factors;         /* f */
  int32_t nusers, nitems;  /* rows of X and Y (the training matrix's shape) */
  float *user_factors;     /* nusers x f, owned */
  float *item_factors;     /* nitems x f, owned */
  rp_idmap *users, *items; /* retained; may be NULL */
  rp_als_opts opts;        /* the options it was trained with */
  int32_t iterations_done; /* may be < opts.iterations after an early stop */
  double loss;             /* training loss after the last iteration (NaN if not computed) */
  uint64_t fingerprint;    /* rp_als_fingerprint of the training matrix */
  int64_t created;         /* Unix seconds */
  float *yty;              /* f x f, Y^T Y (no lambda): fold-in and explain */
  rp_recommender rec;      /* the recommender interface, self = this model */
  /* lazily built caches (norms for cosine, a quantized copy of Y for
   * fast exact top-k); guarded by lock, never visible to callers */
  pthread_mutex_t lock;
  float *user_norms, *item_norms;
  void *screen;
  void *untrained; /* the items with a zero factor row (topk.c) */
  atomic_int refs; /* C11 atomic: retained and freed from any thread */
  /* incremental updates (partial.c): readers and the one writer */
  pthread_rwlock_t rw;
  pthread_mutex_t wlock;
  int32_t user_cap, item_cap;     /* rows allocated in user_factors, item_factors */
  struct rp_als_retired *retired; /* replaced factor arrays, freed with the model */
  void *sessions;                 /* per-user session boosts (rp_als_set_session), under rw */
} rp_als_model;

/* The read side of the model's lock, for code that reads factors directly
 * while rp_als_partial_fit may run (the query functions take it
 * themselves; they must not be called while holding it). */
void rp_als_model_rdlock(const rp_als_model *m);
void rp_als_model_unlock(const rp_als_model *m);

/* A new model with zeroed factors (refs = 1), maps retained (may be NULL).
 * Owned by the caller. */
rp_als_model *rp_als_model_new(int32_t nusers, int32_t nitems, int32_t factors, rp_idmap *users,
                               rp_idmap *items, rp_err *err);
/* Adds a reference; returns m. */
rp_als_model *rp_als_model_retain(rp_als_model *m);
/* Drops a reference and frees at zero (accepts NULL). */
void rp_als_model_free(rp_als_model *m);
/* Recomputes m->yty from the item factors and drops caches; call after
 * changing factors in place (training and loading do). */
int rp_als_model_refresh(rp_als_model *m, rp_err *err);
/* Bytes held by the model (factors and caches, not the maps). */
size_t rp_als_model_bytes(const rp_als_model *m);
/* Does the model have a nonzero factor row for user u (a user it can
 * recommend for)?  Takes the read lock. */
int rp_als_model_knows_user(const rp_als_model *m, int32_t u);

/* Has row r of the users (which = 1) or items (which = 0) a nonzero factor
 * row?  Takes the read lock. */
int rp_als_model_has_factors(const rp_als_model *m, int which, int32_t r);

/* Can a matrix on maps (rows b, cols ...) be used with a model on map a:
 * the same object, either NULL, or one a prefix of the other (a map that
 * grew after training, a model loaded from a file)? */
int rp_als_maps_compatible(const rp_idmap *a, const rp_idmap *b);

/* A 64-bit fingerprint of a matrix (shape, structure, values). */
uint64_t rp_als_fingerprint(const rp_csr *m);

/* ---- training ------------------------------------------------------------- */
typedef struct rp_als_iter_info {
  int32_t iteration;      /* 1-based */
  double seconds;         /* this iteration's training time (loss/validation excluded) */
  double loss;            /* training loss (implicit's calculate_loss / RMSE), NaN if off */
  double validation;      /* validation metric, NaN without validation */
  int32_t best_iteration; /* best validation iteration so far (0 without) */
} rp_als_iter_info;

/* Called after each iteration; return 0 to continue, nonzero to stop. */
typedef int (*rp_als_iter_fn)(const rp_als_iter_info *info, void *ud);

typedef struct rp_als_hooks {
  const rp_als_model *init; /* warm start (same f): rows matched by id (or index
                               when the maps are the same objects); others random */
  rp_als_iter_fn on_iteration;
  void *ud;
  int want_loss; /* compute the loss every iteration (otherwise only when asked) */
  /* early stopping: after each iteration `metric` (an rp_metrics id,
   * metrics.h: ndcg, map, ... at k with train items excluded, as
   * rp.metrics.evaluate computes it; rmse/mae for explicit models, lower
   * is better) on `test`; training stops after `patience` iterations
   * without improvement and the model keeps the best iteration's factors. */
  const rp_csr *test;
  int32_t k;
  int metric;
  int32_t patience;
} rp_als_hooks;

/* validation = {test, k, metric, patience}: the early-stopping fields of
 * rp_als_hooks (opts.h), and the metric used when none is named. */
extern const rp_optdesc rp_als_validation_optdesc[];
const char *rp_als_default_metric(int implicit);

/* Trains a model on ui (users x items, same maps as the model gets).
 * hooks may be NULL.  On success *out is a new model owned by the caller;
 * on failure *out is NULL and err says why.  A stop requested by
 * on_iteration is a success (the model holds the iterations done).
 * Memory: ui's transpose (8 (nitems+1) + 8 nnz bytes), both factor
 * matrices (4 f (nusers+nitems)), per thread a gather block of at most
 * RP_ALS_BLOCK_ROWS x f floats and O(f^2) scratch; with validation one more
 * copy of both factor matrices. */
int rp_als_train(const rp_csr *ui, const rp_als_opts *opts, const rp_als_hooks *hooks,
                 rp_als_model **out, rp_err *err);

/* The memory rp_als_train allocates beyond the input matrix, in bytes:
 *   8 (ncols + 1) + 8 nnz + 8 T (ncols + 1)   the transpose (and its counts)
 * + 4 f (nrows + ncols)                       the two factor matrices
 * + 4 T (2 c f' + 2 c + f' (f' + 16) + 5 f')  per thread: gather blocks B, Bw
 *                                             of c = min(longest row, 4 MiB/4f)
 *                                             rows, weights, the normal matrix
 * + 8 T (f8^2 + 8 f8)                         per thread: the double solves
 *                                             (f8 = f rounded up to 8)
 * + 4 f^2 18                                  Y^T Y, Gram partial sums
 * (+ 4 f (nrows + ncols) with validation: the best factors), with T threads
 * and f' = f rounded up to 16.  The transpose's buffers are the sparse
 * module's. */
size_t rp_als_train_memory(const rp_csr *ui, const rp_als_opts *o, int validation);

/* Loss of the model on matrix m (rows = users, on the model's maps):
 * implicit's calculate_loss for implicit models (the full objective over
 * every pair divided by sum c + nusers*nitems - nnz), RMSE over m's entries
 * for explicit ones. */
int rp_als_loss(const rp_als_model *model, const rp_csr *m, int threads, double *loss, rp_err *err);

/* ---- queries ------------------------------------------------------------- */
/* A sorted, duplicate-free list of item indices (a CSR row, or the result
 * of rp_als_sort_unique). */
typedef struct rp_als_list {
  const int32_t *idx;
  int64_t n;
} rp_als_list;

/* Sorts idx[0..n) and removes duplicates and negatives in place; returns
 * the new length. */
int64_t rp_als_sort_unique(int32_t *idx, int64_t n);

#define RP_ALS_MAX_EXCL 3

/* Flags of the top-k queries.  By default an item without factors (an
 * all-zero row of Y: an item the training matrix had no entries for, e.g.
 * one removed by k-core) is never recommended: its score 0 says nothing,
 * yet it would rank above every negatively scored item. */
#define RP_ALS_UNTRAINED 1 /* rank items without factors too (score 0) */

/* Top k items for the factor vector x (f floats): items in any of the
 * exclusion lists (up to 3, each sorted) are skipped, and items without
 * factors unless flags has RP_ALS_UNTRAINED; when allow is given only its
 * items are candidates.  Writes up to k items, best first (ties: lower
 * index first), and their scores; *out_n < k only when fewer candidates
 * exist.  Exact: the same items and scores as a brute-force scan.
 * rp_als_topk is rp_als_topk_flags with flags 0. */
int rp_als_topk_flags(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                      int nexcl, const rp_als_list *allow, int flags, int32_t *out_items,
                      float *out_scores, int32_t *out_n, rp_err *err);
int rp_als_topk(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                int nexcl, const rp_als_list *allow, int32_t *out_items, float *out_scores,
                int32_t *out_n, rp_err *err);

/* rp_als_topk for the model's own row of user u (read under the lock, so
 * it may run while rp_als_partial_fit updates the model; x for rp_als_topk
 * must not point into the model's factors then).  Nothing (*out_n = 0) for
 * a user without factors.  Items without factors as in rp_als_topk_flags;
 * rp_als_recommend_user is the _flags variant with flags 0. */
int rp_als_recommend_user_flags(const rp_als_model *m, int32_t u, int32_t k,
                                const rp_als_list *excl, int nexcl, const rp_als_list *allow,
                                int flags, int32_t *out_items, float *out_scores, int32_t *out_n,
                                rp_err *err);
/* Session boosts (recpipe serve's realtime_session_weight): from now on,
 * every recommendation for user u (rp_als_recommend_user*, the batch and
 * one-request recommender calls) ranks items[0..n) -- the items the user
 * has just interacted with -- by their score plus weight for each time
 * they are listed (repeats add up); exclusions and candidate lists apply
 * as to any item.  Items outside 0..nitems-1 are ignored; n = 0 (or no
 * listed item left) clears the user's session.  Other queries (similar,
 * predict, explain) are unchanged.  Thread-safe against queries (the
 * model's write lock).  Errors: u not a user of the model, a weight that
 * is not finite.  Sessions are not saved with the model. */
int rp_als_set_session(rp_als_model *m, int32_t u, const int32_t *items, int32_t n, float weight,
                       rp_err *err);
/* Users with a session now (for tests and logs). */
int32_t rp_als_session_count(const rp_als_model *m);

int rp_als_recommend_user(const rp_als_model *m, int32_t u, int32_t k, const rp_als_list *excl,
                          int nexcl, const rp_als_list *allow, int32_t *out_items,
                          float *out_scores, int32_t *out_n, rp_err *err);

/* Top k for model users users[0..n) excluding their rows of exclude (may be
 * NULL) -- the rp_recommender contract (recommender.h); items without
 * factors as in rp_als_topk_flags.  Parallel.  rp_als_recommend_batch is
 * the _flags variant with flags 0. */
int rp_als_recommend_batch_flags(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags, int32_t *out_items,
                                 float *out_scores, int32_t *out_n, rp_err *err);
int rp_als_recommend_batch(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *exclude, int threads, int32_t *out_items,
                           float *out_scores, int32_t *out_n, rp_err *err);
/* The same ranking only the candidates of allow (sorted, unique; NULL:
 * all items): recommend_all's items = {...}. */
int rp_als_recommend_batch_allow(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags,
                                 const rp_als_list *allow, int32_t *out_items, float *out_scores,
                                 int32_t *out_n, rp_err *err);

/* The k items (which = 0) or users (which = 1) most similar to index idx by
 * cosine of the factors, the query itself included (score 1) unless
 * include_self = 0.  Zero rows have similarity 0. */
int rp_als_similar(const rp_als_model *m, int which, int32_t idx, int32_t k, int include_self,
                   int32_t *out_idx, float *out_scores, int32_t *out_n, rp_err *err);

/* rp_als_similar ranking only the candidates of allow (sorted and unique,
 * rp_als_sort_unique; NULL: all), the query itself among them when it is a
 * candidate and include_self. */
int rp_als_similar_in(const rp_als_model *m, int which, int32_t idx, int32_t k, int include_self,
                      const rp_als_list *allow, int32_t *out_idx, float *out_scores, int32_t *out_n,
                      rp_err *err);
/* rp_als_similar_in for each query q[a], a < n, in parallel (at most
 * `threads` threads): results at out_idx + a k, out_scores + a k, count
 * out_n[a] (0 for a query out of range or without factors). */
int rp_als_similar_batch(const rp_als_model *m, int which, const int32_t *q, int32_t n, int32_t k,
                         int include_self, const rp_als_list *allow, int threads, int32_t *out_idx,
                         float *out_scores, int32_t *out_n, rp_err *err);

/* Fold-in: the factors of a user who interacted with items[0..n) with
 * values[0..n) (NULL = all 1), solved exactly (Cholesky) against the item
 * factors with the model's confidence, alpha and regularization: the
 * vector the user half-step would give them.  Items out of range or
 * negative are ignored; repeated items are summed.  x gets f floats. */
int rp_als_foldin(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                  float *x, rp_err *err);

/* Why does user (history items/values, as for fold-in) get item?  As
 * implicit's explain: with W = (Y^T C_u Y + lambda I)^-1, the score
 * decomposes into contributions s_j = c_j (y_item^T W y_j) of the history
 * items j (positive values only).  Writes the k largest contributions,
 * largest first, and *total = their full sum. */
int rp_als_explain(const rp_als_model *m, const int32_t *items, const float *values, int64_t n,
                   int32_t item, int32_t k, int32_t *out_items, float *out_contrib, int32_t *out_n,
                   double *total, rp_err *err);

/* ---- incremental updates (partial.c) ----------------------------------------
 * implicit 0.7's partial_fit_users / partial_fit_items.  Recomputes the
 * factors of the users (which = 0) or items (which = 1) named by the rows
 * of mat -- row r is the user (item) rows[r] -- exactly (the Cholesky solve
 * of the normal equations, in double), holding the other side fixed: for a
 * user, x = (Y^T C_u Y + lambda I)^-1 Y^T C_u p_u with the model's
 * confidence, alpha, regularization (the user half-step of training with
 * the current item factors); for an item the same against the user factors
 * (X^T X computed for the call).  mat's columns are indices of the other
 * side (all must exist in the model); its values as for training.  Rows
 * past the model's end grow it (rows between stay zero: unknown).  Y^T Y,
 * the norms and the screening copy are kept right.  Repeated rows are an
 * error.  On failure the model is unchanged. */
int rp_als_partial_fit(rp_als_model *m, int which, const int32_t *rows, const rp_csr *mat,
                       int threads, rp_err *err);
/* The same with external ids (ids[r], lens[r] for row r): ids not on the
 * model's map are appended to it (the map is shared: every object on it
 * sees the new ids; a frozen map refuses them).  A model without a map for
 * that side takes no ids.  New ids stay on the map when the solve fails. */
int rp_als_partial_fit_ids(rp_als_model *m, int which, const char *const *ids, const size_t *lens,
                           const rp_csr *mat, int threads, rp_err *err);

/* ---- model files ----------------------------------------------------------
 * Versioned binary (see README "formats"): magic, version, header with the
 * options and counts (own CRC), both id maps, both factor matrices, CRC32
 * over everything.  Written to a temporary name and renamed; ".gz" names
 * are compressed.  Loading reads straight into the final buffers (a model
 * file of N bytes needs about N bytes of memory plus the id hash tables):
 * nothing is allocated from the header's counts before the file is known
 * to hold them (a plain file's size; a gzip file's compressed size bounds
 * them, and its buffers grow as the data arrives). */
/* version 2 (nonnegative in the header) is written; version 1 files load
 * (nonnegative = 0) */
#define RP_ALS_FILE_VERSION 2
int rp_als_save(const rp_als_model *m, const char *path, rp_err *err);
/* Loads a model (refs = 1) owned by the caller.  A truncated, corrupted,
 * future-version or foreign file is rejected with RP_EFORMAT and a message
 * saying which. */
int rp_als_load(const char *path, rp_als_model **out, rp_err *err);

#endif
