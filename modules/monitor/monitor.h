/*
 * monitor.h -- drift and health measures of a recommender in production:
 * how two windows of events differ (item popularity, event-type mix,
 * context columns, new users and items, activity per user), how two sets of
 * answers differ (coverage, Gini of exposure, overlap of the top lists,
 * score distribution), and what the serving logs say (click-through,
 * conversion and the hit rate of served lists, by model version and by
 * chain reason, with Wilson intervals).  Every measure has a name, a
 * direction and a default threshold in one table (rp_mon_measure); a
 * measure on the wrong side of its threshold is an alert.
 *
 * Formulas (a = the reference side, b = the current side):
 *   share p_x = c_x / N over the bins x of a categorical variable;
 *   PSI = sum_x (q_x - p_x) ln(q_x / p_x), each share floored at epsilon
 *         (default 1e-4) so empty bins stay finite (PSI >= 0 whatever the
 *         floor: every term has the sign of (q - p) twice);
 *   TV  = 1/2 sum_x |q_x - p_x| (no floor), in [0, 1].
 *   Item popularity and context values are binned: the (bins - 1) values
 *   with the most events in a and b together (ties: the lower index) have
 *   a bin each, all others share one; event types have a bin each.
 *   Activity: events per active user, binned by floor(log2(count)) (1,
 *   2-3, 4-7, ...); PSI over those bins, and the relative change of the
 *   mean and of the median (b / a - 1).
 *   new_users = share of b's distinct users without an event in a (items
 *   alike); volume = N_b / N_a - 1.
 * The details of the list and serving measures are above their functions.
 * All functions are pure: they read their inputs, fill a result, never
 * print, and run in time linear in the input (plus a sort of the distinct
 * values for the binning).
 */
#ifndef RP_MONITOR_H
#define RP_MONITOR_H

#include "events.h"

/* ---- measures, thresholds, alerts ------------------------------------------ */
enum {
  /* two windows of events */
  RP_MON_VOLUME = 0,
  RP_MON_ITEM_PSI,
  RP_MON_ITEM_TV,
  RP_MON_EVENT_PSI,
  RP_MON_EVENT_TV,
  RP_MON_CONTEXT_PSI, /* per context column */
  RP_MON_CONTEXT_TV,
  RP_MON_NEW_USERS,
  RP_MON_NEW_ITEMS,
  RP_MON_ACTIVITY_PSI,
  RP_MON_ACTIVITY_MEAN,
  RP_MON_ACTIVITY_MEDIAN,
  /* two sets of answers */
  RP_MON_COVERAGE,
  RP_MON_GINI,
  RP_MON_JACCARD,
  RP_MON_RBO,
  RP_MON_SCORE_PSI,
  /* serving logs */
  RP_MON_CTR,
  RP_MON_CONVERSION,
  RP_MON_HIT_RATE,
  RP_MON_CTR_DROP,
  RP_MON_CONVERSION_DROP,
  RP_MON_HIT_RATE_DROP,
  RP_MON_N
};

/* How a value crosses its threshold t: above (value > t), below
 * (value < t), or either way (|value| > t, for signed changes). */
enum { RP_MON_ABOVE = 0, RP_MON_BELOW, RP_MON_ABS };
/* Which comparison computes a measure. */
enum { RP_MON_WINDOWS = 0, RP_MON_LISTS, RP_MON_SERVING };

typedef struct rp_mon_measure_info {
  const char *name; /* "item_psi" */
  int family;       /* RP_MON_WINDOWS, _LISTS, _SERVING */
  int direction;    /* RP_MON_ABOVE, _BELOW, _ABS */
  double def;       /* default threshold (NAN: off unless set) */
  double lo, hi;    /* the range a threshold may take */
  const char *what; /* one line for reports and the README */
} rp_mon_measure_info;

/* The description of measure id (0 <= id < RP_MON_N), or NULL. */
const rp_mon_measure_info *rp_mon_measure(int id);
/* The id of a measure name, or -1. */
int rp_mon_measure_id(const char *name);
/* "above", "below", "abs" */
const char *rp_mon_direction_name(int direction);

/* One threshold per measure; NAN = off (no alert). */
typedef struct rp_mon_thresholds {
  double t[RP_MON_N];
} rp_mon_thresholds;
/* Every measure at its default. */
void rp_mon_thresholds_init(rp_mon_thresholds *t);
/* Sets the threshold of the measure called name to v (NAN: off).  Errors
 * (RP_EINVAL) name an unknown measure, listing the known ones, or a value
 * outside the measure's range. */
int rp_mon_threshold_set(rp_mon_thresholds *t, const char *name, double v, rp_err *err);

/* One measured value: measure id, the context column it is about (an index
 * into the current side's context columns; -1 for the others), value (NAN
 * when it could not be measured: an empty side, a column one side lacks). */
typedef struct rp_mon_value {
  int measure;
  int column;
  double value;
} rp_mon_value;
#define RP_MON_MAXVALUES (RP_MON_N + 2 * RP_MAX_CONTEXT)

typedef struct rp_mon_alert {
  int measure, column;
  double value, threshold;
} rp_mon_alert;
/* The values v[0..n) that cross their thresholds, in order, into out
 * (room for n); returns how many.  NAN values and NAN thresholds never
 * alert. */
int rp_mon_alerts(const rp_mon_value *v, int n, const rp_mon_thresholds *t, rp_mon_alert *out);

/* One line saying what crossed what: "item_tv 0.312 > 0.15",
 * "context_psi[device] 0.4 > 0.1", "activity_mean -0.41: |change| > 0.25",
 * "ctr 0.011 < 0.02" (column: the context column's name, or NULL). */
void rp_mon_alert_text(const rp_mon_alert *a, const char *column, char *buf, size_t n);

/* ---- the distance between two count vectors ---------------------------------
 * a[0..n) and b[0..n): counts of the same n categories.  With bins > 0 and
 * n > bins, the (bins - 1) categories with the largest a + b (ties: lower
 * index) keep a bin each and the others share the last one; bins <= 0 or
 * n <= bins: a bin per category.  psi and tv as in the header; NAN when a
 * side counts nothing.  Cost O(n), plus a sort of the categories with a
 * count when binning. */
typedef struct rp_mon_dist {
  double psi, tv;
  int32_t bins;   /* bins compared (categories with a count, plus "other") */
  int64_t na, nb; /* totals */
} rp_mon_dist;
int rp_mon_distance(const int64_t *a, const int64_t *b, int32_t n, int32_t bins, double epsilon,
                    rp_mon_dist *out, rp_err *err);

/* ---- two windows of events -------------------------------------------------- */
typedef struct rp_mon_window_opts {
  int32_t item_bins;    /* bins of item popularity (default 100, >= 2) */
  int32_t context_bins; /* bins of a context column (default 50, >= 2) */
  double epsilon;       /* share floor of PSI (default 1e-4, in (0, 0.1]) */
} rp_mon_window_opts;
void rp_mon_window_opts_init(rp_mon_window_opts *o);
int rp_mon_window_opts_check(const rp_mon_window_opts *o, rp_err *err);

typedef struct rp_mon_side {
  int64_t events, users, items;          /* events, distinct users and items */
  double activity_mean, activity_median; /* events per active user (NAN: none) */
} rp_mon_side;

typedef struct rp_mon_windows {
  rp_mon_side side[2]; /* a, b */
  rp_mon_dist item, event, activity;
  int has_event;                   /* both sides have an event type column */
  int ncontext;                    /* context columns both sides have (by name) */
  int context_col[RP_MAX_CONTEXT]; /* their index in b */
  rp_mon_dist context[RP_MAX_CONTEXT];
  double new_users, new_items;             /* shares of b's distinct users / items */
  double new_user_events, new_item_events; /* shares of b's events by them */
  rp_mon_value values[RP_MON_MAXVALUES];   /* the measures above, for rp_mon_alerts */
  int nvalues;
} rp_mon_windows;

/* Compares window b with reference a (events on the same user and item
 * maps: RP_EINVAL otherwise; event types and context values are matched by
 * name, context columns by name).  Cost: O(N_a + N_b + users + items) and
 * a sort of the categories with events; memory 8 bytes per user and per
 * item of the maps, twice. */
int rp_mon_compare_windows(const rp_events *a, const rp_events *b, const rp_mon_window_opts *o,
                           rp_mon_windows *out, rp_err *err);

/* ---- two sets of answers ----------------------------------------------------
 * Two sets of top-k lists for the same n users (user i of a is user i of
 * b): list i has len[i] items at items[i*k ..] (best first, no repeats;
 * len -1: the user has no list on that side; 0: an empty list) and, when
 * scores is not NULL, their scores.  Items are indices < nitems (the
 * catalogue).
 *   coverage_x = share of the catalogue in some list of side x; the
 *     measure is the relative change coverage_b / coverage_a - 1;
 *   gini_x = Gini index of how often each catalogue item is listed
 *     (sum_i (2i - n - 1) c_(i) / (n sum c), counts ascending); the
 *     measure is gini_b - gini_a;
 *   jaccard = mean over users with a list on both sides, not both empty,
 *     of |A n B| / |A u B|;
 *   rbo = mean over the same users of the extrapolated rank-biased overlap
 *     of Webber, Moffat & Zobel (2010, eq. 32) at depth d = min(|A|, |B|):
 *     X_j = |A[1..j] n B[1..j]|, RBO = X_d/d p^d + (1 - p)/p sum_{j<=d}
 *     X_j/j p^j (1 for identical lists, 0 for disjoint ones; 0 when one
 *     list is empty);
 *   score_psi = PSI of b's scores over the bins cut at the distinct
 *     deciles (score_bins - 1 inner quantiles) of a's scores. */
typedef struct rp_mon_lists {
  int32_t n, k;
  const int32_t *items; /* n * k */
  const float *scores;  /* n * k, or NULL */
  const int32_t *len;   /* n */
  /* for messages only (may be NULL): the ids of users 0..n-1 and items */
  const rp_idmap *user_ids, *item_ids;
} rp_mon_lists;

typedef struct rp_mon_lists_opts {
  double rbo_p;       /* persistence of RBO (default 0.9, in (0, 1)) */
  int32_t score_bins; /* quantile bins of the score PSI (default 10, 2..1000) */
  double epsilon;     /* share floor of PSI (default 1e-4) */
} rp_mon_lists_opts;
void rp_mon_lists_opts_init(rp_mon_lists_opts *o);
int rp_mon_lists_opts_check(const rp_mon_lists_opts *o, rp_err *err);

typedef struct rp_mon_lists_result {
  int32_t users[2]; /* users with a list on each side */
  int32_t common;   /* users compared by jaccard and rbo */
  double coverage[2], gini[2], score_mean[2];
  double jaccard, rbo, score_psi;
  rp_mon_value values[RP_MON_MAXVALUES];
  int nvalues;
} rp_mon_lists_result;

int rp_mon_compare_lists(const rp_mon_lists *a, const rp_mon_lists *b, int32_t nitems,
                         const rp_mon_lists_opts *o, rp_mon_lists_result *out, rp_err *err);

/* k distinct indices of 0..n-1 in ascending order into out (all n when
 * k >= n; returns how many), drawn uniformly with the seeded generator
 * (Knuth's selection sampling: one pass, the same sample for the same
 * seed on every platform). */
int32_t rp_mon_sample(int32_t n, int32_t k, uint64_t seed, int32_t *out);

/* ---- serving logs -------------------------------------------------------------
 * The impression log of `recpipe serve` (one line per served item:
 * request id, time, user, item, position, score, model version, reason;
 * read as Events with those three as context columns) and the feedback
 * events (user, item, event type, time, request id).  A request -- one
 * served list -- is the set of impression lines with one request id (or,
 * without a request id column, consecutive lines of one user and time);
 * its time, version and reason are its first line's.  For a request of
 * user u at time t with items L:
 *   click      an event of a click type by u on an item of L at a time in
 *              [t, t + horizon]; an event that carries the request id of
 *              an impression counts only for that request (an empty or
 *              unknown request id counts as none);
 *   conversion the same with the conversion types;
 *   hit        any event of the `hits` log (default: the feedback events)
 *              by u on an item of L in [t, t + hit_horizon] (prequential
 *              quality of the served lists).
 * ctr, conversion and hit_rate are the shares of the requests of a window
 * (from <= t < to) with a click / conversion / hit, with Wilson score
 * intervals at `level`:
 *   (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n);
 * the drops compare them with a reference window: 1 - rate_b / rate_a.
 * Events after `to` still count for requests before it (the horizon). */
typedef struct rp_mon_rate {
  int64_t n, x;        /* requests, requests with the outcome */
  double rate, lo, hi; /* x / n and its Wilson interval (NAN when n = 0) */
} rp_mon_rate;

/* x successes of n: the rate and its Wilson interval at z. */
void rp_mon_wilson(int64_t x, int64_t n, double z, rp_mon_rate *out);
/* The standard normal quantile z with P(|Z| <= z) = level (0 < level < 1). */
double rp_mon_z(double level);

typedef struct rp_mon_serving_opts {
  int64_t horizon;     /* seconds a click or conversion may follow (default 86400) */
  int64_t hit_horizon; /* seconds a hit may follow (default 7 days) */
  double level;        /* interval level (default 0.95) */
  int64_t from, to;    /* the window of request times; to <= from: every request */
  int has_reference;   /* also the reference window ref_from <= t < ref_to */
  int64_t ref_from, ref_to;
  const char *const *click_types; /* event type names (default {"click"}) */
  int nclick;
  const char *const *conversion_types; /* default {"purchase"} */
  int nconversion;
  const char *request_column; /* in both logs (default "request_id") */
  const char *version_column; /* in the impressions (default "model_version") */
  const char *reason_column;  /* in the impressions (default "reason") */
} rp_mon_serving_opts;
void rp_mon_serving_opts_init(rp_mon_serving_opts *o);
int rp_mon_serving_opts_check(const rp_mon_serving_opts *o, rp_err *err);

typedef struct rp_mon_group {
  int32_t code; /* the value's code in the impressions' column dictionary */
  rp_mon_rate ctr, conversion, hit;
} rp_mon_group;

typedef struct rp_mon_serving {
  rp_mon_rate ctr[2], conversion[2], hit[2]; /* [0] reference, [1] current */
  int64_t requests[2], lines[2];             /* requests and impression lines */
  int has_clicks, has_conversions;           /* the feedback log has a click / conversion type */
  int32_t nversion, nreason;                 /* groups of the current window, by code */
  rp_mon_group *by_version, *by_reason;      /* owned */
  int version_col, reason_col;               /* context columns of the impressions (-1: none) */
  rp_mon_value values[RP_MON_MAXVALUES];
  int nvalues;
} rp_mon_serving;

/* Measures the serving logs: impressions imp (with a time column), feedback
 * events fb (time and event type columns) and the hits log (NULL: fb), all
 * on the same user and item maps.  Fills out (free with
 * rp_mon_serving_free, also after an error).  Cost: the impression lines
 * sorted by (user, item, time) within each user, then one binary search
 * per event (plus the lines it reaches); memory about 50 bytes per
 * impression line. */
int rp_mon_serving_compute(const rp_events *imp, const rp_events *fb, const rp_events *hits,
                           const rp_mon_serving_opts *o, rp_mon_serving *out, rp_err *err);
void rp_mon_serving_free(rp_mon_serving *s);

#endif
