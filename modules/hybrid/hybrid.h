/*
 * hybrid.h -- attributes, content scoring, segment popularity, projection
 * of attributes onto CF factors, score blending and chain tuning.
 *
 * Every recommender here is an rp_hyb_rec: an rp_recommender (so
 * rp.metrics.evaluate and blends call it from C) plus a per-request entry
 * point used by the Lua binding.  The core owns copies of what it needs
 * (feature rows, history weights, factors), so a recommender never dangles
 * when the objects it was built from are freed; blends borrow their
 * sources (the binding keeps them alive and refreshes the pointers).
 *
 * History.  A user's known interactions are its row of the recommender's
 * own history matrix (built from the training data) when that row is not
 * empty, else its row of the `exclude` matrix of the call: a user held out
 * of training whose first interactions are known at request time (a cold
 * user in rp.split.cold_users) is scored from them, and they are excluded
 * from its list as seen items always are.
 */
#ifndef RP_HYBRID_H
#define RP_HYBRID_H

#include "csr.h"
#include "events.h"
#include "reader.h"
#include "recommender.h"

/* ---- features (features.c) --------------------------------------------------
 * An entity x feature matrix: rows on an entity id map (items or users),
 * columns on a map of feature names "field=value".  Each feature belongs to
 * one field (field_of), which is how segment popularity and ctx.attributes
 * find a user's age bucket or gender. */
#define RP_FEAT_MAX_FIELDS 64

typedef struct rp_features {
  rp_csr *m; /* rowmap: entities (shared); colmap: feature names (own) */
  int nfields;
  char *field_names[RP_FEAT_MAX_FIELDS];
  int16_t *field_of; /* m->ncols entries */
} rp_features;

void rp_features_free(rp_features *f); /* accepts NULL */
/* Index of a field by name, or -1. */
int rp_features_field(const rp_features *f, const char *name);
/* Multiplies every value by idf(j) = ln((1 + N) / (1 + df_j)) + 1, N the
 * number of non-empty rows and df_j those holding feature j (the smoothed
 * form scikit-learn uses). */
int rp_features_tfidf(rp_features *f, rp_err *err);
/* Scales every non-empty row to unit Euclidean length. */
void rp_features_normalize(rp_features *f);
/* Drops the features held by fewer than min_df rows (renumbering the
 * rest in order); *dropped receives how many.  On failure f is unchanged. */
int rp_features_prune(rp_features *f, int32_t min_df, int32_t *dropped, rp_err *err);
/* A new matrix concatenating the features of parts[0..n) (all on the same
 * entity map), each multiplied by weights[i] (NULL = 1); equal feature names
 * add.  Rows are L2-normalised when normalize.  Owned by the caller. */
int rp_features_combine(const rp_features *const *parts, const float *weights, int n, int normalize,
                        rp_features **out, rp_err *err);

/* Items described by the users who took them: a features matrix whose rows
 * are m's columns (items, on m's item map) and whose features are m's rows
 * (users; the feature names are the user ids, field "user"), values 1 when
 * binary else m's.  Content scoring over it is item-based collaborative
 * filtering: the cosine sum over a user's history items.  Owned by the
 * caller. */
int rp_features_from_interactions(const rp_csr *m, int binary, rp_features **out, rp_err *err);

/* ---- attributes reader (attrs.c) -------------------------------------------- */
enum { RP_FIELD_CAT = 0, RP_FIELD_MULTI, RP_FIELD_BUCKETS, RP_FIELD_TOKENS, RP_FIELD_FLAGS };
#define RP_FIELD_MAX_BUCKETS 32
#define RP_FIELD_MAX_FLAGS 64

/* One field: which column(s) it reads and how values become features.
 *  CAT      the value itself: "occupation=writer"
 *  MULTI    values separated by sep: "genres=Comedy", "genres=Drama"
 *  BUCKETS  a number placed between ascending bounds b1 < ... < bn:
 *           "age=<18", "age=[18,25)", ..., "age=>=50"
 *  TOKENS   lower-cased words (runs of letters, digits, bytes >= 0x80):
 *           "title=story"
 *  FLAGS    several 0/1 columns (u.item genres): "genre=Action" for each
 *           listed column whose value is not empty and not 0 */
typedef struct rp_field_spec {
  const char *name;   /* field (prefix of its feature names) */
  const char *column; /* column it reads; NULL = name (unused by FLAGS) */
  int kind;
  const char *sep; /* MULTI */
  int nbuckets;    /* BUCKETS */
  double buckets[RP_FIELD_MAX_BUCKETS];
  int nflags; /* FLAGS: column names */
  const char *flags[RP_FIELD_MAX_FLAGS];
  int lower;    /* lower-case values (TOKENS always are) */
  float weight; /* multiplies the field's features (0 = 1) */
} rp_field_spec;

typedef struct rp_attr_opts {
  const char *sep;          /* NULL = detect from line 1, as read_events */
  int header;               /* 1 = first line names the columns */
  const char *const *names; /* column names of a header-less file (else "1", "2", ...) */
  int nnames;
  rp_io_colref id; /* the entity id column */
  int nfields;
  rp_field_spec fields[RP_FEAT_MAX_FIELDS];
  rp_idmap *map; /* rows aligned to this map (borrowed; NULL = new map) */
  int extend;    /* ids not in map are added to it (new items) */
  int on_error;  /* RP_ONERR_STOP / RP_ONERR_SKIP for malformed lines */
  int tfidf, normalize;
  int32_t min_df;         /* drop features held by fewer entities (<= 1: keep all) */
  int64_t max_line_bytes; /* longest line accepted (default RP_READ_MAX_LINE, 64 MiB) */
} rp_attr_opts;

#define RP_ATTR_FIRST 5
typedef struct rp_attr_report {
  int64_t lines;       /* data lines (not header, not blank) */
  int64_t used;        /* lines that gave an entity row */
  int64_t skipped;     /* malformed lines skipped (on_error = skip) */
  int64_t unknown;     /* lines whose id is not in the map (extend off) */
  int32_t unknown_ids; /* distinct such ids */
  int32_t added;       /* ids added to the map (extend on) */
  int32_t entities;    /* rows with at least one line in the file */
  int32_t missing;     /* map ids with no line: empty rows */
  int64_t empty;       /* empty field values */
  int32_t features;    /* columns of the result */
  int32_t dropped;     /* features under min_df */
  int nfirst;
  char first[RP_ATTR_FIRST][256]; /* first skipped lines and unknown ids */
} rp_attr_report;

void rp_attr_opts_init(rp_attr_opts *o);
/* Reads an attribute file into a new rp_features owned by the caller.
 * Lines naming the same id add up (tags.csv has one line per tag).  A
 * column missing from the header, a malformed line (field count, bad
 * number, empty id) or a bad option is an error naming the file and line;
 * with on_error = skip, malformed lines are skipped and counted instead. */
int rp_attr_read(const char *path, const rp_attr_opts *o, rp_features **out, rp_attr_report *rep,
                 rp_err *err);

/* ---- recommenders (rec.c) ------------------------------------------------- */
enum {
  RP_HYB_CONTENT = 1,
  RP_HYB_SEGMENT,
  RP_HYB_PROJECT,
  RP_HYB_BLEND,
  RP_HYB_TRENDING,
  RP_HYB_FOLDIN
};

/* One request: user (index on the recommender's user map, or -1), its
 * history when the caller supplies it (else looked up), items never to
 * return and the candidates (NULL = all). */
typedef struct rp_hyb_req {
  int32_t user;
  const int32_t *hist;
  const float *hval; /* NULL = 1 each */
  int32_t nhist;
  const int32_t *excl; /* seen items (a row of exclude) */
  int32_t nexcl;
  const int32_t *deny; /* more items never to return */
  int32_t ndeny;
  const int32_t *allow;
  int32_t nallow;  /* allow == NULL: every item */
  int excl_hist;   /* exclude the history items too (a history given in the request) */
  int32_t segment; /* segment popularity: the segment of a user without one (request-time
                      attributes, rp_hyb_segment_find), -1 = none */
} rp_hyb_req;

/* Per-thread work space. */
typedef struct rp_hyb_scratch {
  float *scores; /* nitems (+ what a kind asks for) */
  uint8_t *mask; /* nitems, all zero between requests */
  float *work;   /* kind-specific */
  int32_t nitems;
} rp_hyb_scratch;

typedef struct rp_hyb_rec rp_hyb_rec;
typedef int (*rp_hyb_one_fn)(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                             int32_t *items, float *scores, int32_t *n, rp_err *err);

struct rp_hyb_rec {
  rp_recommender api; /* api.self == this */
  int kind;
  const char *reason; /* "content", "segment", "projection", "blend" */
  rp_csr *history;    /* users' known interactions (owned; may be NULL) */
  float *tiebreak;    /* item popularity breaking score ties (owned; may be NULL) */
  int32_t *cand;      /* candidate items (owned, ascending; NULL = all) */
  int32_t ncand;
  rp_hyb_one_fn one; /* NULL: batch only (blend) */
  void (*destroy)(rp_hyb_rec *r);
  size_t work_floats; /* per-thread work the kind needs */
};

void rp_hyb_rec_free(rp_hyb_rec *r); /* accepts NULL */
/* Updates api.nusers / api.nitems to the maps' current sizes (maps grow
 * after a recommender is built; users past the history are scored from
 * the call's exclude matrix). */
void rp_hyb_rec_refresh(rp_hyb_rec *r);
/* Restricts r's answers to items[0..n) (copied; duplicates and ids out of
 * range dropped; n = 0 with items NULL lifts the restriction): a shelf of
 * new arrivals, or the cold items of an evaluation. */
int rp_hyb_restrict(rp_hyb_rec *r, const int32_t *items, int32_t n, rp_err *err);
/* The request's allow list intersected with r's candidates, written to out
 * (room for n); returns the count. */
int32_t rp_hyb_intersect(const rp_hyb_rec *r, const int32_t *allow, int32_t n, int32_t *out);
/* Fills q for user u (-1 = not on the map): its history (row of r's own
 * history, else of exclude), its seen items (row of exclude) and r's
 * candidates as the allow list. */
void rp_hyb_req_user(const rp_hyb_rec *r, int32_t u, const rp_csr *exclude, rp_hyb_req *q);
/* Answers one request (top k, best first); *n < k when fewer candidates
 * exist, 0 when the recommender cannot answer (no history, no segment). */
int rp_hyb_recommend_one(const rp_hyb_rec *r, const rp_hyb_req *q, int32_t k, int32_t *items,
                         float *scores, int32_t *n, rp_err *err);
/* rp_recommender.one of every kind with `one`: the request's history (when
 * given) instead of the user's, its deny and allow lists (within r's
 * candidates); nothing for a visitor without history. */
int rp_hyb_one(void *self, const rp_rec_query *q, int32_t k, int32_t *items, float *scores,
               int32_t *n, rp_err *err);
/* The rp_recommender entry of every kind with `one`: history from r's own
 * matrix or exclude, parallel over users with per-thread scratch. */
int rp_hyb_batch(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *exclude,
                 int threads, int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err);

/* Scratch for one thread (freed with rp_hyb_scratch_free). */
int rp_hyb_scratch_init(rp_hyb_scratch *s, const rp_hyb_rec *r, rp_err *err);
void rp_hyb_scratch_free(rp_hyb_scratch *s);
/* Top k of scores[0..nitems) (or of the allow list) leaving out masked items
 * (mask[i] != 0) and non-finite scores; ties go to the higher tiebreak
 * (when given), then to the lower index.  The mask is used as scratch and
 * left as it was.  Returns the count written. */
int32_t rp_hyb_topk(const float *scores, int32_t nitems, const float *tiebreak, uint8_t *mask,
                    const int32_t *allow, int32_t nallow, int32_t k, int32_t *items, float *out);

/* The weights a history matrix holds: each event adds (binary ? 1 : value)
 * times 2^(-(now - t) / half_life) when half_life_days > 0 (now <= 0: the
 * latest event time; a log without times is not decayed and is an error
 * when a half life is asked).  A new users x items matrix on ev's maps. */
int rp_hyb_weights(const rp_events *ev, double half_life_days, int64_t now, int binary,
                   rp_csr **out, rp_err *err);

/* ---- content (content.c) ---------------------------------------------------- */
typedef struct rp_content_opts {
  int binary;          /* history weights 1 instead of the values */
  int popularity_ties; /* break ties by item popularity in the history */
} rp_content_opts;

/* A content recommender: a user's profile is the weighted sum of the
 * L2-normalised feature rows of its history items; items are scored by
 * cosine with it.  history: users x items weights (copied); features:
 * rows on the same item map (copied).  Owned by the caller. */
int rp_hyb_content_new(const rp_csr *history, const rp_features *items, const rp_content_opts *o,
                       rp_hyb_rec **out, rp_err *err);

/* ---- segment popularity (segment.c) --------------------------------------------
 * Users are grouped by the set of their features in the chosen fields (age
 * bucket, or age x gender).  An item's score for a segment s is the
 * smoothed share (c_s(i) + m * c(i) / N) / (N_s + m): c_s(i) the summed
 * history weight of i among the segment's N_s users, c(i) and N over all
 * users, m = shrinkage (pseudo-users drawn from the global population).  A
 * user with no feature in the fields gets global popularity. */
typedef struct rp_segment_opts {
  int nfields;
  int fields[8]; /* indices into users' fields; 0 fields = global */
  double shrinkage;
  int strict; /* users without a segment get nothing (else global popularity) */
} rp_segment_opts;

int rp_hyb_segment_new(const rp_csr *history, const rp_features *users, const rp_segment_opts *o,
                       rp_hyb_rec **out, rp_err *err);
/* Segment of user u (-1 none) and the number of segments; a segment's
 * name (borrowed from r; "" when out of range). */
int32_t rp_hyb_segment_of(const rp_hyb_rec *r, int32_t u, int32_t *nsegments);
/* The segment of a user described by attributes keys[i] = vals[i] (i < n;
 * a value matches the feature named "field=value", so categorical fields),
 * or -1 when they name no known segment (or r is not segment popularity).
 * Attributes of other fields are ignored. */
int32_t rp_hyb_segment_find(const rp_hyb_rec *r, const char *const *keys, const char *const *vals,
                            int32_t n);
const char *rp_hyb_segment_name(const rp_hyb_rec *r, int32_t s);

/* ---- trending (trending.c) -------------------------------------------------------
 * Popularity as of each user's request time: past events count
 * 2^(-age / half_life), later ones not at all.  A user's request time is its
 * earliest event in `at` (NULL: none), else now (<= 0: the latest event of
 * ev).  binary: each event counts 1, else its value.  Owned by the caller. */
int rp_hyb_trending_new(const rp_events *ev, double half_life_days, const rp_events *at,
                        int64_t now, int binary, rp_hyb_rec **out, rp_err *err);

/* ---- fold-in (hyb_foldin.c) --------------------------------------------------------
 * An ALS model answering from a user's known interactions: the user's
 * history (the call's exclude row, or the request's) is folded into the
 * model (rp_als_foldin: one exact half-step) and items are scored by the
 * dot product with the folded-in vector.  Users with fewer than
 * min_history known interactions get nothing.  The model is retained. */
struct rp_als_model;
int rp_hyb_foldin_new(struct rp_als_model *m, int32_t min_history, rp_hyb_rec **out, rp_err *err);

/* ---- projection (project.c) ----------------------------------------------------- */
enum { RP_PROJ_RIDGE = 0, RP_PROJ_RANDOM };

/* A factor model seen from outside (an ALS model's factors). */
typedef struct rp_factor_view {
  const float *U, *V; /* nu x f, ni x f row-major */
  int32_t nu, ni, f;
  rp_idmap *users, *items;
} rp_factor_view;

typedef struct rp_project_opts {
  double regularization; /* ridge lambda on the feature weights (not on the intercept) */
  int method;            /* RP_PROJ_RIDGE or RP_PROJ_RANDOM (baseline) */
  uint64_t seed;
  int max_direct;      /* features above which CG replaces Cholesky (0 = 4096) */
  const rp_csr *train; /* marks warm users/items (NULL: non-zero factor rows) */
} rp_project_opts;
/* rp.hybrid.project's options (opts.h): regularization 1, ridge, seed 42,
 * max_direct 4096 */
extern const rp_optdesc rp_project_optdesc[];
extern const char *const rp_project_method_names[];
void rp_project_opts_init(rp_project_opts *o);

typedef struct rp_project_info {
  int32_t warm_items, projected_items, unplaced_items;
  int32_t warm_users, projected_users;
  int32_t item_features, user_features;
  double fit_seconds, item_r2, user_r2; /* r2 of the fit on warm rows */
  int cg_iterations;
} rp_project_info;

/* Fits the ridge map from item features to item factors on warm items (and
 * from user features to user factors when users != NULL), then builds a
 * recommender scoring user x item by the dot product of completed factors:
 * warm rows keep the model's factors, cold rows with features get projected
 * ones, cold rows without features cannot be scored.  Copies what it needs.
 * Owned by the caller. */
int rp_hyb_project_new(const rp_factor_view *fm, const rp_features *items, const rp_features *users,
                       const rp_project_opts *o, rp_hyb_rec **out, rp_project_info *info,
                       rp_err *err);
/* The completed factor matrices (borrowed from r) and the factor count. */
void rp_hyb_project_factors(const rp_hyb_rec *r, float **U, int32_t *nu, float **V, int32_t *ni,
                            int32_t *f);
/* The ridge fit behind the projection, exposed for tests: rows r < n with
 * keep[r] != 0 of the sparse X (rows past its end are empty) against the
 * targets Y (n x f); W receives (d + 1) x f, the last row the intercept.
 * Cholesky up to max_direct (0 = 4096) unknowns, conjugate gradient beyond
 * (*cg_iters iterations). */
int rp_hyb_ridge(const rp_csr *X, int32_t n, const uint8_t *keep, const float *Y, int32_t f,
                 double lambda, int max_direct, float *W, int *cg_iters, rp_err *err);

/* ---- blend (blend.c) ------------------------------------------------------------ */
enum { RP_BLEND_RANK = 0, RP_BLEND_ZSCORE, RP_BLEND_NONE };
/* The deepest list a blend asks its sources for (the bound of a recommend's k). */
#define RP_HYB_MAX_DEPTH (1 << 24)

/* A weighted sum of the normalised scores of sources' top-depth lists.
 * rank: rank r (1-based) scores 1 - (r - 1) / depth, absent items 0;
 * zscore: (s - mean) / sd over the source's list, absent items the list's
 * lowest z-score; none: raw scores, absent items the list's lowest score.
 * depth is in 1..RP_HYB_MAX_DEPTH.  Sources are borrowed (the caller keeps
 * them alive: the Lua binding's blend holds them) and must share the id
 * maps.  Owned by the caller. */
int rp_hyb_blend_new(rp_recommender *const *src, const float *weights, int n, int norm,
                     int32_t depth, rp_hyb_rec **out, rp_err *err);
/* Replaces the borrowed source pointers (same count). */
void rp_hyb_blend_set_sources(rp_hyb_rec *r, rp_recommender *const *src);

/* One thread's work space for rp_hyb_blend_merge: lists over nitems items,
 * at most depth long, from at most n sources. */
typedef struct rp_hyb_merge_ws {
  double *acc, *val;
  float *fsc;
  uint8_t *mask; /* all zero between merges */
  int32_t *touched;
  int32_t nitems;
} rp_hyb_merge_ws;
int rp_hyb_merge_ws_init(rp_hyb_merge_ws *ws, int32_t nitems, int32_t depth, int n, rp_err *err);
void rp_hyb_merge_ws_free(rp_hyb_merge_ws *ws); /* accepts a zeroed or freed one */
/* The blend of one user: source s's list is items[s][0..count[s]) with
 * scores[s][..] (its top depth, best first; count 0 = nothing to say),
 * normalised by norm and summed with weights w[s] in source order, then
 * the best k (ties to the lower index) into out_items/out_scores; returns
 * the count.  A blend answers every user through this, and the chain tuner
 * scores weight candidates through it, so a tuned weight means what it
 * means in the blend that ships. */
int32_t rp_hyb_blend_merge(int n, const int32_t *const *items, const float *const *scores,
                           const int32_t *count, const float *w, int norm, int32_t depth, int32_t k,
                           rp_hyb_merge_ws *ws, int32_t *out_items, float *out_scores);

/* ---- chain tuning (chaintune.c) -------------------------------------------------
 * rp.hybrid.tune_chain chooses, for each band of history sizes (the number
 * of interactions a user has: 0, 1-2, 3-5, 6+ by default), a single part
 * or a weighted blend of parts by a ranking metric on validation users
 * taken from the training data only.  The Lua side makes the validation
 * folds and builds the parts on each fold's training data; this core does
 * the rest.  rp_tuner_add asks every part ONCE for the top-depth list of
 * each validation user (what a blend of that depth merges) and keeps the
 * lists; rp_tuner_run then scores each weight candidate by merging the kept
 * lists through rp_hyb_blend_merge, the blend's own merge: same
 * normalisation, same float weights, same order of sums, so a candidate's
 * validation score is that of the blend that ships.  Weights live on the
 * simplex (a blend's ranking ignores their scale).
 *
 * Search: "grid" evaluates every weight vector whose weights are multiples
 * of 1/steps with at most max_parts non-zero (single parts included);
 * "coordinate" starts from the best single part and, part by part, tries
 * giving it each share a/steps (a = 0 .. steps - 1: 0 drops it) with the
 * others scaled to fill the rest, keeping a change only when it raises the
 * mean, until a pass changes nothing (at most 10 passes); "auto" is grid
 * when the grid has at most max_candidates points, else coordinate.
 * Selection: "best" (default) takes the top mean (ties: fewer parts);
 * "one_se" the simplest candidate (fewest parts, then the higher score)
 * whose mean is within one standard error of the best's, the error being
 * that of the paired difference over validation users (a user seen at
 * several reveal sizes is one unit).  A band without validation users takes
 * the rule of the nearest band below (else above) that has some.  An empty
 * list (a part with nothing to say) is answered by the fallback part, as
 * the chain's last rule does. */
#define RP_TUNE_MAX_REVEAL \
  32 /* reveal sizes of the cold cases (rp.split.cold_users allows as many) */
#define RP_TUNE_MAX_PARTS 16
#define RP_TUNE_MAX_BANDS 16
#define RP_TUNE_MAX_NAME 64
enum { RP_TUNE_COLD = 0, RP_TUNE_TIME };                /* how validation cases are made */
extern const char *const rp_tune_cases_names[];         /* "cold", "time", NULL */
enum { RP_TUNE_AUTO = 0, RP_TUNE_GRID, RP_TUNE_COORD }; /* search */
enum { RP_TUNE_ONE_SE = 0, RP_TUNE_BEST };              /* selection */

/* Every option of tune_chain, named, defaulted and range-checked here
 * (rp_tune_opt_table); the binding passes a Lua table through the setters
 * and reads the checked values back through the same table. */
typedef struct rp_tune_opts {
  int cases;  /* cold (held-out training users, reveal sizes) or time (later windows) */
  int metric; /* RP_M_NDCG, ... (a list-only metric) */
  int32_t k;
  int32_t folds;
  int64_t seed;
  int nbands;
  int32_t bands[RP_TUNE_MAX_BANDS]; /* lower bounds of the bands, ascending from 0 */
  int nreveal;                      /* 0: derived from the bands (rp_tune_opts_check) */
  int32_t reveal[RP_TUNE_MAX_REVEAL];
  int32_t min_events;
  double test_fraction;
  int search;
  int32_t steps, max_parts, max_candidates;
  int select;
  int norm;
  int32_t depth;
  int32_t max_users; /* validation users kept per rp_tuner_add (seeded sample) */
  int32_t bootstrap;
  double level;
  int32_t threads;
  char fallback[RP_TUNE_MAX_NAME]; /* part of the chain's last rule ("" = chosen) */
} rp_tune_opts;

enum { RP_TOPT_ENUM = 1, RP_TOPT_I32, RP_TOPT_I64, RP_TOPT_NUM, RP_TOPT_LIST, RP_TOPT_STR };
typedef struct rp_tune_opt {
  const char *name;
  int type;
  size_t offset;            /* of the value in rp_tune_opts */
  size_t count_offset;      /* LIST: of its int count */
  int max_count;            /* LIST: capacity */
  double lo, hi;            /* numbers and list entries */
  const char *const *names; /* ENUM: names by value */
} rp_tune_opt;
/* The options, NULL-name terminated. */
extern const rp_tune_opt rp_tune_opt_table[];

void rp_tune_opts_init(rp_tune_opts *o);
/* Sets option name from a number, a string or a list of numbers; an
 * unknown name, a value out of range or of the wrong kind is an error
 * naming the option, what it must be and what it got. */
int rp_tune_opts_set_number(rp_tune_opts *o, const char *name, double v, rp_err *err);
int rp_tune_opts_set_string(rp_tune_opts *o, const char *name, const char *v, rp_err *err);
int rp_tune_opts_set_list(rp_tune_opts *o, const char *name, const double *v, int n, rp_err *err);
/* The error for a value of another type (got: its type name). */
int rp_tune_opts_bad_type(const char *name, const char *got, rp_err *err);
/* Checks what depends on several options (bands ascending from 0, reveal
 * sizes, folds >= 2 for cold cases, depth >= k) and derives the reveal
 * sizes from the bands when none are given: each band [lo, hi] of at most
 * three sizes gives all of them, a wider one lo, its middle and hi, the
 * open last band lo and 2 lo (0 alone when it starts at 0). */
int rp_tune_opts_check(rp_tune_opts *o, rp_err *err);

typedef struct rp_tune_cand {
  float w[RP_TUNE_MAX_PARTS]; /* on the simplex; 0 = not in the blend */
  int nparts;                 /* non-zero weights */
  double score;               /* mean over the band's validation rows */
  double se;                  /* standard error of score - best's (paired, by user) */
} rp_tune_cand;

typedef struct rp_tune_band {
  int32_t lo, hi;      /* history sizes lo..hi (hi = -1: no upper bound) */
  int32_t rows, users; /* validation rows (user x reveal) and distinct users */
  int from;            /* -1, or the band whose rule this one takes (no rows of its own) */
  int search;          /* RP_TUNE_GRID or RP_TUNE_COORD (what ran) */
  int ncand;
  rp_tune_cand *cand;           /* every candidate evaluated, in order */
  int chosen, best, runner_up;  /* indices into cand, -1 when none */
  double lo_ci, hi_ci;          /* chosen's score interval */
  double ru_diff, ru_lo, ru_hi; /* runner-up - chosen, paired interval */
  double single[RP_TUNE_MAX_PARTS], single_lo[RP_TUNE_MAX_PARTS], single_hi[RP_TUNE_MAX_PARTS];
  int32_t answered[RP_TUNE_MAX_PARTS]; /* rows the part had a list for */
} rp_tune_band;

typedef struct rp_tune_result {
  int nparts, nbands;
  rp_tune_band band[RP_TUNE_MAX_BANDS];
  int fallback; /* part of the last rule, -1 when no part answered every row */
  int64_t rows;
  int32_t users;
  double seconds_scoring, seconds_search;
} rp_tune_result;

typedef struct rp_tuner rp_tuner;
/* A tuner for parts named names[0..nparts) (copied) with checked options
 * o (copied).  Owned by the caller (rp_tuner_free). */
int rp_tuner_new(const rp_tune_opts *o, const char *const *names, int nparts, rp_tuner **out,
                 rp_err *err);
void rp_tuner_free(rp_tuner *t); /* accepts NULL */
const rp_tune_opts *rp_tuner_opts(const rp_tuner *t);
int rp_tuner_nparts(const rp_tuner *t);
const char *rp_tuner_name(const rp_tuner *t, int p); /* part p's name (borrowed) */
/* Adds one validation case of fold `fold`: the users with a relevant
 * (value > 0) entry in test (at most max_users of them: those with the
 * smallest seeded hash), their history the rows of `known` (the band is
 * the row's length; known is also the exclude matrix), and each part's
 * top-depth list (parts[p] NULL: the part is not available, no list).
 * Parts, known and test must share id maps.  Borrows nothing after it
 * returns. */
int rp_tuner_add(rp_tuner *t, int32_t fold, rp_recommender *const *parts, const rp_csr *known,
                 const rp_csr *test, rp_err *err);
/* Validation rows added so far. */
int64_t rp_tuner_rows(const rp_tuner *t);
/* Searches every band; *out points to the result, owned by t (valid until
 * the next run or rp_tuner_free). */
int rp_tuner_run(rp_tuner *t, const rp_tune_result **out, rp_err *err);

#endif
