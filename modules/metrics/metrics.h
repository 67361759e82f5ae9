/*
 * metrics.h -- ranking metrics at K for any recommender (rp_recommender),
 * with per-user values, metric@1..K curves, bootstrap intervals and paired
 * comparisons.
 *
 * Definitions (T = the user's relevant test items: test entries with value
 * > threshold; hits among the top k; m = min(k, |T|); ranks r from 1;
 * positions past the end of a short list count as misses):
 *   precision = hits / k                     recall = hits / |T|
 *   precision_pooled = sum hits / sum m      (implicit's "precision")
 *   map  = (sum over hits at rank r of hits-so-far / r) / m
 *   ndcg = (sum over hits of 1/log2(r+1)) / (sum over r = 1..m of 1/log2(r+1))
 *   hit_rate = [hits > 0]                    mrr = 1 / rank of the first hit
 *   auc  = implicit's AUC@K: with N = catalogue size, n- = N - |T|, misses
 *          over the k positions, (sum over misses of hits-so-far
 *          + (hits + |T|)/2 * (n- - misses)) / (|T| * n-)
 *   novelty = mean over the list of -log2(p_i), p_i = share of train users
 *          with item i (an item no train user has counts as one user)
 *   coverage = share of the catalogue recommended to anyone
 *   gini = Gini index of the recommendation counts over the catalogue
 *   rmse, mae over the test values of the evaluated users (needs predict)
 * Per-user metrics are averaged over the evaluated users: those with at
 * least one relevant test item (a user the recommender does not know gets
 * an empty list and counts).  The catalogue is the item id map (all ids
 * known when the test matrix was built).  Results never depend on the
 * thread count.
 */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <math.h>

#include "opts.h"
#include "recommender.h"

/* NAN as a double (marks undefined values: -Wdouble-promotion friendly) */
#define RP_NAN ((double)NAN)

enum {
  /* per-user metrics (a value per evaluated user) */
  RP_M_PRECISION = 0,
  RP_M_RECALL,
  RP_M_MAP,
  RP_M_NDCG,
  RP_M_HIT_RATE,
  RP_M_MRR,
  RP_M_AUC,
  RP_M_NOVELTY,
  RP_M_NPER,
  /* aggregate metrics */
  RP_M_PRECISION_POOLED = RP_M_NPER,
  RP_M_COVERAGE,
  RP_M_GINI,
  RP_M_RMSE,
  RP_M_MAE,
  RP_M_COUNT
};

/* "precision", "ndcg", ... for a metric id; NULL when out of range. */
const char *rp_metrics_name(int metric);
/* The id of a metric name, or -1. */
int rp_metrics_id(const char *name);

/* Bounds of the options (checked by rp_metrics_check and the bootstrap
 * functions; the Lua options are range-checked against them). */
#define RP_METRICS_MAX_K (1 << 20)       /* list length */
#define RP_METRICS_MAX_BOOTSTRAP 1000000 /* resamples */

typedef struct rp_metrics_opts {
  int32_t k;            /* list length (1..RP_METRICS_MAX_K) */
  int curve;            /* also compute every metric at 1..k */
  int threads;          /* 0 = all cores */
  float threshold;      /* relevant = test value > threshold (default 0) */
  int exclude_train;    /* exclude the user's train items (default 1) */
  int ratings;          /* compute rmse/mae (needs rec->predict) */
  const int32_t *users; /* evaluate only these user indices (NULL = all) */
  int32_t nusers;       /* length of users */
  int32_t batch;        /* users per recommend call (0 = 16384) */
} rp_metrics_opts;

/* Defaults: k = 10, threshold 0, exclude_train, all users, all cores
 * (from rp_metrics_eval_optdesc). */
void rp_metrics_opts_init(rp_metrics_opts *o);

/* rp.metrics.evaluate's options: the evaluation's own and the report's
 * (intervals by bootstrap, per-user values).  bootstrap 0 = no intervals. */
typedef struct rp_metrics_eval_opts {
  rp_metrics_opts base;
  int per_user;
  int32_t bootstrap;
  uint64_t seed;
  double level;
} rp_metrics_eval_opts;
/* rp.metrics.compare's options (a paired bootstrap). */
typedef struct rp_metrics_compare_opts {
  int32_t bootstrap;
  uint64_t seed;
  double level;
  int threads;
} rp_metrics_compare_opts;
/* Their descriptors (opts.h): the one place names, defaults and ranges are
 * written. */
extern const rp_optdesc rp_metrics_eval_optdesc[], rp_metrics_compare_optdesc[];

typedef struct rp_metrics_result {
  int32_t k;
  int32_t n;               /* users evaluated */
  int32_t *users;          /* their indices, ascending */
  double *per_user;        /* n x RP_M_NPER, row-major; NAN where undefined */
  int32_t *hits;           /* n: hits in the top k */
  int32_t *m;              /* n: min(k, |T|) */
  double *se, *ae;         /* n: sums of squared/absolute errors (ratings) */
  int32_t *nrated;         /* n: test values predicted (ratings) */
  double mean[RP_M_COUNT]; /* NAN when not computed */
  double *curve;           /* RP_M_COUNT x k (curve[m*k + j-1] = metric@j) or NULL */
  int32_t nitems;          /* catalogue size */
  int64_t *rec_count;      /* nitems: how often each item was recommended */
  int64_t *pop;            /* nitems: train users with the item */
  int32_t train_users;     /* users with a train item */
  int32_t unknown_users;   /* evaluated users the recommender does not know */
  int32_t short_lists;     /* evaluated users who got fewer than k items */
  int64_t relevant;        /* sum of |T| */
  double seconds_recommend, seconds_metrics;
} rp_metrics_result;

void rp_metrics_result_free(rp_metrics_result *r); /* accepts NULL */

/* Evaluates rec on test, excluding train items (train may be NULL: no
 * exclusion, novelty undefined).  rec, train and test must share the item
 * map (checked when the maps are known).  Calls rec->recommend in batches
 * of users (it parallelises inside), then scores the lists in parallel.
 * On success *out is a new result owned by the caller. */
int rp_metrics_evaluate(const rp_recommender *rec, const rp_csr *train, const rp_csr *test,
                        const rp_metrics_opts *o, rp_metrics_result **out, rp_err *err);

/* The same from lists already computed: for users[i] (i < n, ascending,
 * each with a relevant test item), counts[i] items at items[i*k ..]
 * (k = o->k).  pred (may be NULL) holds a prediction per test entry, aligned
 * with test->data, for rmse/mae. */
int rp_metrics_from_lists(const int32_t *users, int32_t n, const int32_t *items,
                          const int32_t *counts, const float *pred, const rp_csr *train,
                          const rp_csr *test, const rp_metrics_opts *o, rp_metrics_result **out,
                          rp_err *err);

/* The users evaluate would score: rows of test with a relevant entry,
 * restricted to o->users when given (ascending, duplicates removed).  *out
 * is a new array owned by the caller (rp_free). */
int rp_metrics_users(const rp_csr *test, const rp_metrics_opts *o, int32_t **out, int32_t *n,
                     rp_err *err);

/* One list's value of a metric that needs only the list's hits
 * (precision, recall, map, ndcg, hit_rate, mrr), computed as evaluate
 * computes it: hit[j] != 0 when the item at rank j + 1 (j < c <= k) is
 * relevant, ntest >= 1 the user's relevant items.  NAN for another metric
 * (auc and novelty need the catalogue), k < 1 or ntest < 1. */
double rp_metrics_list_value(int metric, const uint8_t *hit, int32_t c, int32_t k, int32_t ntest);

/* Checks what evaluate checks before recommending: k in 1..RP_METRICS_MAX_K, a test matrix,
 * train and test on the same id maps.  RP_OK or RP_EINVAL with err set. */
int rp_metrics_check(const rp_csr *train, const rp_csr *test, const rp_metrics_opts *o,
                     rp_err *err);

/* One number for early stopping and tuning: metric@k of rec on test.
 * Same as rp_metrics_evaluate with default options and o.k = k. */
int rp_metrics_score(const rp_recommender *rec, const rp_csr *train, const rp_csr *test, int32_t k,
                     int metric, int threads, double *value, rp_err *err);

/* The statistic of metric over the users at rows idx[0..n) of r (a mean
 * for per-user metrics, sum ratios for precision_pooled, rmse, mae); NAN
 * when undefined.  Not defined for coverage and gini (NAN). */
double rp_metrics_stat(const rp_metrics_result *r, int metric, const int32_t *idx, int32_t n);

/* Percentile bootstrap: B resamples of the evaluated users (with
 * replacement, seeded), level (e.g. 0.95) intervals lo[m], hi[m] for every
 * metric rp_metrics_stat defines that r has (NAN otherwise). */
int rp_metrics_bootstrap(const rp_metrics_result *r, int32_t B, uint64_t seed, double level,
                         int threads, double lo[RP_M_COUNT], double hi[RP_M_COUNT], rp_err *err);

/* The same engine for any statistic that is a ratio of sums over units
 * (users): rows[i * 2 * npairs ..] holds unit i's (numerator, denominator)
 * of each of npairs ratios (a mean over a user's several validation rows
 * is sum(values) / count; a paired difference sum(a - b) / count).  B
 * resamples of the n units (resample b seeded (seed, b)); lo[q], hi[q] the
 * level percentile interval of ratio q (NAN when undefined). */
#define RP_METRICS_MAX_RATIOS (2 * RP_M_COUNT)
int rp_metrics_bootstrap_ratios(const float *rows, int32_t n, int npairs, int32_t B, uint64_t seed,
                                double level, int threads, double *lo, double *hi, rp_err *err);

typedef struct rp_metrics_diff {
  int32_t n;                  /* common users */
  double a, b;                /* statistic of each on the common users */
  double diff, lo, hi;        /* a - b and its bootstrap interval */
  double p;                   /* two-sided bootstrap p-value of diff = 0 */
  int32_t wins, losses, ties; /* users where a > b, a < b, a == b */
} rp_metrics_diff;

/* Paired comparison of metric between two results on their common users
 * (same user indices): the difference a - b with a percentile bootstrap
 * interval (B resamples of the common users, seeded; the same resample
 * applies to both sides).  For a per-user metric the users count where
 * both values are defined, and a, b are the means over those users. */
int rp_metrics_compare(const rp_metrics_result *a, const rp_metrics_result *b, int metric,
                       int32_t B, uint64_t seed, double level, rp_metrics_diff *out, rp_err *err);
/* The same for metrics[0..nm) at once (one pass per resample), results in
 * out[0..nm); threads as elsewhere (0 = all cores). */
int rp_metrics_compare_many(const rp_metrics_result *a, const rp_metrics_result *b,
                            const int *metrics, int nm, int32_t B, uint64_t seed, double level,
                            int threads, rp_metrics_diff *out, rp_err *err);

/* Histogram of a per-user metric over [lo, hi] in nbins bins (values at hi
 * go to the last bin; NAN values are skipped). */
int rp_metrics_histogram(const rp_metrics_result *r, int metric, int32_t nbins, double lo,
                         double hi, int64_t *counts, rp_err *err);

/* Popularity profile: the catalogue sorted by train popularity (most
 * popular first) cut into nbins groups of equal size; per group the share
 * of train interactions and the share of recommendations it gets.  Also
 * the mean train popularity of a recommended item and of a catalogue item. */
int rp_metrics_popularity(const rp_metrics_result *r, int32_t nbins, double *train_share,
                          double *rec_share, double *mean_rec_pop, double *mean_cat_pop,
                          rp_err *err);

#endif
