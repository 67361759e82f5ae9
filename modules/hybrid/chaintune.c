/*
 * chaintune.c -- the core of rp.hybrid.tune_chain: its options (named,
 * defaulted and range-checked here, once), the validation rows (every
 * part's top-depth list of every validation user, asked for once and kept),
 * and per band of history sizes the weight search, the selection and the
 * bootstrap intervals.  hybrid.h describes the method; the Lua side
 * (hybrid_ext.lua) makes the validation folds and builds the parts.
 *
 * Cost.  Scoring is one recommend call per part per validation case.  A
 * candidate then costs, per validation row, a merge of the lists of its
 * non-zero parts (at most max_parts x depth entries) and a top-k: a few
 * microseconds, parallel over rows.  Memory: rows x parts x depth x 8
 * bytes for the kept lists, plus rows x 8 bytes per evaluated candidate.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "hybrid.h"
#include "metrics.h"

/* ---- options ------------------------------------------------------------------ */
const char *const rp_tune_cases_names[] = {"cold", "time", NULL};
/* by RP_M_* value: the metrics computable from a list's hits alone */
static const char *const metric_names[] = {"precision", "recall", "map", "ndcg",
                                           "hit_rate",  "mrr",    NULL};
static const char *const search_names[] = {"auto", "grid", "coordinate", NULL};
static const char *const select_names[] = {"one_se", "best", NULL};
static const char *const norm_names[] = {"rank", "zscore", "none", NULL}; /* RP_BLEND_* */

#define OFF(f) offsetof(rp_tune_opts, f)
#define MAX_SEED 9007199254740992.0 /* 2^53: every integer up to it is a double */
#define MAX_PASSES 10

const rp_tune_opt rp_tune_opt_table[] = {
    {"metric", RP_TOPT_ENUM, OFF(metric), 0, 0, 0, 0, metric_names},
    {"k", RP_TOPT_I32, OFF(k), 0, 0, 1, RP_METRICS_MAX_K, NULL},
    {"folds", RP_TOPT_I32, OFF(folds), 0, 0, 1, 100, NULL},
    {"seed", RP_TOPT_I64, OFF(seed), 0, 0, 0, MAX_SEED, NULL},
    {"bands", RP_TOPT_LIST, OFF(bands), OFF(nbands), RP_TUNE_MAX_BANDS, 0, INT32_MAX, NULL},
    {"reveal", RP_TOPT_LIST, OFF(reveal), OFF(nreveal), RP_TUNE_MAX_REVEAL, 0, INT32_MAX, NULL},
    {"min_events", RP_TOPT_I32, OFF(min_events), 0, 0, 1, INT32_MAX, NULL},
    {"test_fraction", RP_TOPT_NUM, OFF(test_fraction), 0, 0, 0, 1, NULL},
    {"search", RP_TOPT_ENUM, OFF(search), 0, 0, 0, 0, search_names},
    {"steps", RP_TOPT_I32, OFF(steps), 0, 0, 1, 100, NULL},
    {"max_parts", RP_TOPT_I32, OFF(max_parts), 0, 0, 1, RP_TUNE_MAX_PARTS, NULL},
    {"max_candidates", RP_TOPT_I32, OFF(max_candidates), 0, 0, 1, 1000000, NULL},
    {"select", RP_TOPT_ENUM, OFF(select), 0, 0, 0, 0, select_names},
    {"normalize", RP_TOPT_ENUM, OFF(norm), 0, 0, 0, 0, norm_names},
    {"depth", RP_TOPT_I32, OFF(depth), 0, 0, 1, 100000, NULL},
    {"max_users", RP_TOPT_I32, OFF(max_users), 0, 0, 1, INT32_MAX, NULL},
    {"bootstrap", RP_TOPT_I32, OFF(bootstrap), 0, 0, 1, RP_METRICS_MAX_BOOTSTRAP, NULL},
    {"level", RP_TOPT_NUM, OFF(level), 0, 0, 0, 1, NULL},
    {"threads", RP_TOPT_I32, OFF(threads), 0, 0, 0, RP_MAX_THREADS, NULL},
    {"fallback", RP_TOPT_STR, OFF(fallback), 0, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL}};

void rp_tune_opts_init(rp_tune_opts *o) {
  memset(o, 0, sizeof *o);
  o->cases = RP_TUNE_COLD;
  o->metric = RP_M_NDCG;
  o->k = 10;
  o->folds = 3;
  o->seed = 42;
  o->nbands = 4;
  o->bands[0] = 0, o->bands[1] = 1, o->bands[2] = 3, o->bands[3] = 6;
  o->min_events = 1;
  o->test_fraction = 0.2;
  o->search = RP_TUNE_AUTO;
  o->steps = 4;
  o->max_parts = 3;
  o->max_candidates = 500;
  o->select = RP_TUNE_BEST; /* one_se cost NDCG in every test of it (RESULTS.md, hybrid) */
  o->norm = RP_BLEND_RANK;
  o->depth = 100;
  o->max_users = 2000;
  o->bootstrap = 1000;
  o->level = 0.95;
}

static const rp_tune_opt *find_opt(const char *name) {
  for (const rp_tune_opt *d = rp_tune_opt_table; d->name; d++)
    if (strcmp(d->name, name) == 0) return d;
  return NULL;
}

static int unknown_opt(const char *name, rp_err *err) {
  char known[512] = "";
  size_t len = 0;
  for (const rp_tune_opt *d = rp_tune_opt_table; d->name && len + 32 < sizeof known; d++)
    len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", d->name);
  return rp_errf(err, RP_EINVAL, "unknown option '%s' (known: %s)", name, known);
}

/* "one of 'a', 'b', 'c'" into buf */
static const char *choices(const char *const *names, char *buf, size_t cap) {
  size_t len = (size_t)snprintf(buf, cap, "one of ");
  for (int i = 0; names[i] && len + 24 < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", i ? ", " : "", names[i]);
  return buf;
}

/* What a value of option d must be, for messages. */
static const char *must_be(const rp_tune_opt *d, char *buf, size_t cap) {
  switch (d->type) {
    case RP_TOPT_ENUM:
      return choices(d->names, buf, cap);
    case RP_TOPT_I32:
    case RP_TOPT_I64:
      snprintf(buf, cap, "an integer in %.0f..%.0f", d->lo, d->hi);
      break;
    case RP_TOPT_NUM:
      snprintf(buf, cap, "a number in (%g, %g)", d->lo, d->hi);
      break;
    case RP_TOPT_LIST:
      snprintf(buf, cap, "a list of 1 to %d integers in %.0f..%.0f", d->max_count, d->lo, d->hi);
      break;
    default:
      snprintf(buf, cap, "a string of at most %d bytes", RP_TUNE_MAX_NAME - 1);
  }
  return buf;
}

int rp_tune_opts_bad_type(const char *name, const char *got, rp_err *err) {
  const rp_tune_opt *d = find_opt(name);
  if (!d) return unknown_opt(name, err);
  char buf[160];
  return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got %s", name,
                 must_be(d, buf, sizeof buf), got);
}

static int bad_number(const rp_tune_opt *d, double v, rp_err *err) {
  char buf[160];
  return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got %.17g", d->name,
                 must_be(d, buf, sizeof buf), v);
}

/* v is a whole number in d's range (numbers: strictly inside (lo, hi)) */
static int in_range(const rp_tune_opt *d, double v) {
  if (!isfinite(v)) return 0;
  if (d->type == RP_TOPT_NUM) return v > d->lo && v < d->hi;
  return v == floor(v) && v >= d->lo && v <= d->hi;
}

int rp_tune_opts_set_number(rp_tune_opts *o, const char *name, double v, rp_err *err) {
  const rp_tune_opt *d = find_opt(name);
  if (!d) return unknown_opt(name, err);
  char *at = (char *)o + d->offset;
  switch (d->type) {
    case RP_TOPT_I32:
      if (!in_range(d, v)) return bad_number(d, v, err);
      *(int32_t *)(void *)at = (int32_t)v;
      return RP_OK;
    case RP_TOPT_I64:
      if (!in_range(d, v)) return bad_number(d, v, err);
      *(int64_t *)(void *)at = (int64_t)v;
      return RP_OK;
    case RP_TOPT_NUM:
      if (!in_range(d, v)) return bad_number(d, v, err);
      *(double *)(void *)at = v;
      return RP_OK;
    default:
      return rp_tune_opts_bad_type(name, "number", err);
  }
}

int rp_tune_opts_set_string(rp_tune_opts *o, const char *name, const char *v, rp_err *err) {
  const rp_tune_opt *d = find_opt(name);
  if (!d) return unknown_opt(name, err);
  char *at = (char *)o + d->offset, buf[160];
  if (d->type == RP_TOPT_ENUM) {
    for (int i = 0; d->names[i]; i++)
      if (strcmp(d->names[i], v) == 0) {
        *(int *)(void *)at = i;
        return RP_OK;
      }
    return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got '%s'", name,
                   must_be(d, buf, sizeof buf), v);
  }
  if (d->type == RP_TOPT_STR) {
    if (strlen(v) >= RP_TUNE_MAX_NAME)
      return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got '%.40s...'", name,
                     must_be(d, buf, sizeof buf), v);
    strcpy(at, v);
    return RP_OK;
  }
  return rp_tune_opts_bad_type(name, "string", err);
}

int rp_tune_opts_set_list(rp_tune_opts *o, const char *name, const double *v, int n, rp_err *err) {
  const rp_tune_opt *d = find_opt(name);
  if (!d) return unknown_opt(name, err);
  if (d->type != RP_TOPT_LIST) return rp_tune_opts_bad_type(name, "table", err);
  char buf[160];
  if (n < 1 || n > d->max_count)
    return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got %d entries", name,
                   must_be(d, buf, sizeof buf), n);
  for (int i = 0; i < n; i++)
    if (!in_range(d, v[i]))
      return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got %.17g at entry %d", name,
                     must_be(d, buf, sizeof buf), v[i], i + 1);
  int32_t *at = (int32_t *)(void *)((char *)o + d->offset);
  for (int i = 0; i < n; i++) at[i] = (int32_t)v[i];
  *(int *)(void *)((char *)o + d->count_offset) = n;
  return RP_OK;
}

static int cmp_i32(const void *a, const void *b) { return rp_cmp_i32(a, b); }

int rp_tune_opts_check(rp_tune_opts *o, rp_err *err) {
  if (o->cases != RP_TUNE_COLD && o->cases != RP_TUNE_TIME)
    return rp_errf(err, RP_EINVAL, "cases must be 'cold' or 'time'");
  if (o->nbands < 1 || o->bands[0] != 0)
    return rp_errf(err, RP_EINVAL,
                   "option 'bands' must start at 0 (the lower bounds of the "
                   "bands: {0, 1, 3, 6} is 0, 1-2, 3-5, 6 and more)");
  for (int b = 1; b < o->nbands; b++)
    if (o->bands[b] <= o->bands[b - 1])
      return rp_errf(err, RP_EINVAL,
                     "option 'bands' must be ascending, got %d after %d at entry %d", o->bands[b],
                     o->bands[b - 1], b + 1);
  if (o->cases == RP_TUNE_COLD && o->folds < 2)
    return rp_errf(err, RP_EINVAL,
                   "option 'folds' must be at least 2 for cold cases (each fold holds out a "
                   "share of the training users), got %d",
                   o->folds);
  if (o->depth < o->k)
    return rp_errf(err, RP_EINVAL, "option 'depth' (%d) must be at least k (%d)", o->depth, o->k);
  if (o->nreveal == 0) {
    int n = 0;
    for (int b = 0; b < o->nbands; b++) {
      int32_t lo = o->bands[b], hi = b + 1 < o->nbands ? o->bands[b + 1] - 1 : -1;
      int32_t add[3], na = 0;
      if (hi < 0) {
        add[na++] = lo;
        if (lo > 0) add[na++] = 2 * lo;
      } else if (hi - lo < 3) {
        for (int32_t s = lo; s <= hi; s++) add[na++] = s;
      } else {
        add[0] = lo, add[1] = lo + (hi - lo) / 2, add[2] = hi, na = 3;
      }
      for (int q = 0; q < na && n < RP_TUNE_MAX_REVEAL; q++) o->reveal[n++] = add[q];
    }
    o->nreveal = n;
  }
  qsort(o->reveal, (size_t)o->nreveal, sizeof o->reveal[0], cmp_i32);
  for (int r = 1; r < o->nreveal; r++)
    if (o->reveal[r] == o->reveal[r - 1])
      return rp_errf(err, RP_EINVAL, "option 'reveal' lists %d twice", o->reveal[r]);
  return RP_OK;
}

/* ---- validation rows ------------------------------------------------------------ */
/* The rows of one rp_tuner_add: users, their bands and relevant items, and
 * each part's list (part-major: part p's list of row i at (p * n + i) * depth). */
typedef struct tbatch {
  int32_t n, fold;
  int32_t *user, *band;
  int64_t *roff; /* n + 1 offsets into rel */
  int32_t *rel;  /* relevant items of each row, ascending */
  int32_t *items;
  float *scores;
  int32_t *count; /* P x n */
} tbatch;

struct rp_tuner {
  rp_tune_opts o;
  int P;
  char names[RP_TUNE_MAX_PARTS][RP_TUNE_MAX_NAME];
  int fallback; /* from the options, or -1 (chosen by rp_tuner_run) */
  tbatch *b;
  int nb, capb;
  int32_t nitems;
  int64_t rows;
  double seconds_scoring;
  rp_tune_result res; /* the last run's */
};

static void result_free(rp_tune_result *r);

static void batch_free(tbatch *b) {
  rp_free(b->user);
  rp_free(b->band);
  rp_free(b->roff);
  rp_free(b->rel);
  rp_free(b->items);
  rp_free(b->scores);
  rp_free(b->count);
  memset(b, 0, sizeof *b);
}

void rp_tuner_free(rp_tuner *t) {
  if (!t) return;
  for (int i = 0; i < t->nb; i++) batch_free(&t->b[i]);
  rp_free(t->b);
  result_free(&t->res);
  rp_free(t);
}

const rp_tune_opts *rp_tuner_opts(const rp_tuner *t) { return &t->o; }
int64_t rp_tuner_rows(const rp_tuner *t) { return t->rows; }
int rp_tuner_nparts(const rp_tuner *t) { return t->P; }
const char *rp_tuner_name(const rp_tuner *t, int p) {
  return p >= 0 && p < t->P ? t->names[p] : "";
}

int rp_tuner_new(const rp_tune_opts *o, const char *const *names, int nparts, rp_tuner **out,
                 rp_err *err) {
  *out = NULL;
  if (nparts < 1 || nparts > RP_TUNE_MAX_PARTS)
    return rp_errf(err, RP_EINVAL, "tune_chain: between 1 and %d parts expected, got %d",
                   RP_TUNE_MAX_PARTS, nparts);
  rp_tune_opts oc = *o;
  int rc = rp_tune_opts_check(&oc, err);
  if (rc) return rc;
  int fb = -1;
  for (int p = 0; p < nparts; p++) {
    if (!names[p] || !names[p][0] || strlen(names[p]) >= RP_TUNE_MAX_NAME)
      return rp_errf(err, RP_EINVAL, "tune_chain: part %d needs a name of 1 to %d bytes", p + 1,
                     RP_TUNE_MAX_NAME - 1);
    for (int q = 0; q < p; q++)
      if (strcmp(names[p], names[q]) == 0)
        return rp_errf(err, RP_EINVAL, "tune_chain: part '%s' is named twice", names[p]);
    if (strcmp(names[p], oc.fallback) == 0) fb = p;
  }
  if (oc.fallback[0] && fb < 0)
    return rp_errf(err, RP_EINVAL, "option 'fallback' names no part: '%s'", oc.fallback);
  rp_tuner *t = rp_calloc(1, sizeof *t);
  if (!t) return rp_enomem(err, "tune_chain");
  t->o = oc;
  t->P = nparts;
  t->fallback = fb;
  for (int p = 0; p < nparts; p++) strcpy(t->names[p], names[p]);
  *out = t;
  return RP_OK;
}

static int same_map(const rp_idmap *a, const rp_idmap *b) { return !a || !b || a == b; }

/* Keeps the m users of users[0..n) with the smallest seeded hash (the same
 * users whatever the case, so a user's rows at several reveal sizes stay
 * together), ascending. */
static int sample_users(int32_t *users, int32_t n, int32_t m, uint64_t seed, rp_err *err) {
  uint64_t *key = rp_malloc((size_t)n * sizeof *key);
  if (!key) return rp_enomem(err, "tune_chain");
  for (int32_t i = 0; i < n; i++)
    key[i] = (rp_hash64(seed ^ rp_hash64((uint64_t)users[i] + 1)) & ~(uint64_t)0x7fffffff) |
             (uint64_t)users[i]; /* hash, then the user: distinct keys */
  qsort(key, (size_t)n, sizeof *key, rp_cmp_i64);
  for (int32_t i = 0; i < m; i++) users[i] = (int32_t)(key[i] & 0x7fffffff);
  rp_free(key);
  qsort(users, (size_t)m, sizeof *users, cmp_i32);
  return RP_OK;
}

static int band_of(const rp_tune_opts *o, int32_t hist) {
  int b = 0;
  while (b + 1 < o->nbands && o->bands[b + 1] <= hist) b++;
  return b;
}

int rp_tuner_add(rp_tuner *t, int32_t fold, rp_recommender *const *parts, const rp_csr *known,
                 const rp_csr *test, rp_err *err) {
  const rp_tune_opts *o = &t->o;
  if (!test) return rp_errf(err, RP_EINVAL, "tune_chain: a test matrix is required");
  if (known && (!same_map(known->rowmap, test->rowmap) || !same_map(known->colmap, test->colmap)))
    return rp_errf(err, RP_EINVAL,
                   "tune_chain: the known and test matrices are not on the same "
                   "id maps");
  for (int p = 0; p < t->P; p++)
    if (parts[p] &&
        (!same_map(parts[p]->users, test->rowmap) || !same_map(parts[p]->items, test->colmap)))
      return rp_errf(err, RP_EINVAL,
                     "tune_chain: part '%s' is not on the id maps of the validation data "
                     "(build the parts from the events tune_chain passes)",
                     t->names[p]);
  if (t->nb == t->capb) {
    int cap = t->capb ? 2 * t->capb : 16;
    tbatch *nbuf = rp_realloc(t->b, (size_t)cap * sizeof *nbuf);
    if (!nbuf) return rp_enomem(err, "tune_chain");
    t->b = nbuf, t->capb = cap;
  }
  double t0 = rp_now();
  rp_metrics_opts mo;
  rp_metrics_opts_init(&mo);
  int32_t *users = NULL, n = 0;
  int rc = rp_metrics_users(test, &mo, &users, &n, err);
  if (rc) return rc;
  if (n > o->max_users) {
    rc = sample_users(users, n, o->max_users, (uint64_t)o->seed, err);
    n = o->max_users;
  }
  tbatch b = {0};
  b.n = n, b.fold = fold, b.user = users;
  int32_t P = t->P, D = o->depth;
  int ok = 1;
  size_t nl = rp_mulsize(rp_mulsize((size_t)P, (size_t)(n ? n : 1), &ok), (size_t)D, &ok);
  if (!rc) {
    b.band = rp_malloc((size_t)(n ? n : 1) * sizeof *b.band);
    b.roff = rp_malloc((size_t)(n + 1) * sizeof *b.roff);
    b.count = rp_calloc((size_t)P * (size_t)(n ? n : 1), sizeof *b.count);
    b.items = ok ? rp_malloc(nl * sizeof *b.items) : NULL;
    b.scores = ok ? rp_malloc(nl * sizeof *b.scores) : NULL;
    if (!b.band || !b.roff || !b.count || !b.items || !b.scores)
      rc = ok ? rp_enomem(err, "tune_chain: validation lists")
              : rp_errf(err, RP_EINVAL, "tune_chain: %d users x %d parts x depth %d is too many", n,
                        P, D);
  }
  int64_t nrel = 0;
  for (int32_t i = 0; i < n && !rc; i++) {
    int32_t u = users[i];
    for (int64_t q = test->indptr[u]; q < test->indptr[u + 1]; q++) nrel += test->data[q] > 0;
    int32_t hist = known && u < known->nrows ? (int32_t)rp_csr_rowlen(known, u) : 0;
    b.band[i] = band_of(o, hist);
  }
  if (!rc && !(b.rel = rp_malloc((size_t)(nrel ? nrel : 1) * sizeof *b.rel)))
    rc = rp_enomem(err, "tune_chain");
  if (!rc) {
    int64_t at = 0;
    for (int32_t i = 0; i < n; i++) {
      int32_t u = users[i];
      b.roff[i] = at;
      for (int64_t q = test->indptr[u]; q < test->indptr[u + 1]; q++)
        if (test->data[q] > 0) b.rel[at++] = test->indices[q];
    }
    b.roff[n] = at;
  }
  for (int p = 0; p < P && !rc && n > 0; p++) {
    if (!parts[p]) continue;
    size_t off = (size_t)p * (size_t)n;
    rc = parts[p]->recommend(parts[p]->self, users, n, D, known, o->threads,
                             b.items + off * (size_t)D, b.scores + off * (size_t)D, b.count + off,
                             err);
    if (!rc && parts[p]->nitems > t->nitems) t->nitems = parts[p]->nitems;
  }
  if (rc) {
    batch_free(&b);
    return rc;
  }
  if (test->ncols > t->nitems) t->nitems = test->ncols;
  if (known && known->ncols > t->nitems) t->nitems = known->ncols;
  t->b[t->nb++] = b;
  t->rows += n;
  t->seconds_scoring += rp_now() - t0;
  return RP_OK;
}

/* ---- scoring candidates ------------------------------------------------------------- */
typedef struct twork {
  rp_hyb_merge_ws ws;
  int32_t *list;
  float *lsc;
  uint8_t *hit;
} twork;

/* The validation rows of one band, and its units (users) for the
 * standard errors and the bootstrap. */
typedef struct bandrows {
  int32_t n;
  const tbatch **b;
  int32_t *i;
  int32_t *unit; /* row -> unit */
  int32_t nunits;
  int32_t *unit_rows; /* rows per unit */
} bandrows;

static void bandrows_free(bandrows *br) {
  rp_free(br->b);
  rp_free(br->i);
  rp_free(br->unit);
  rp_free(br->unit_rows);
  memset(br, 0, sizeof *br);
}

/* metric value of weights w on row i of batch b */
static double row_value(const rp_tuner *t, const tbatch *b, int32_t i, const float *w, int fb,
                        twork *tw) {
  const int32_t *it[RP_TUNE_MAX_PARTS];
  const float *sc[RP_TUNE_MAX_PARTS];
  int32_t cnt[RP_TUNE_MAX_PARTS], D = t->o.depth, k = t->o.k;
  float ww[RP_TUNE_MAX_PARTS];
  int ns = 0;
  for (int p = 0; p < t->P; p++) {
    if (!(w[p] > 0)) continue;
    size_t off = ((size_t)p * (size_t)b->n + (size_t)i) * (size_t)D;
    it[ns] = b->items + off, sc[ns] = b->scores + off;
    cnt[ns] = b->count[(size_t)p * (size_t)b->n + (size_t)i];
    ww[ns++] = w[p];
  }
  const int32_t *list = tw->list;
  int32_t c;
  if (ns == 1) { /* a single part answers with its own list (a chain rule uses it as is) */
    list = it[0];
    c = cnt[0] < k ? cnt[0] : k;
  } else {
    c = rp_hyb_blend_merge(ns, it, sc, cnt, ww, t->o.norm, D, k, &tw->ws, tw->list, tw->lsc);
  }
  if (c == 0 && fb >= 0) { /* the chain's last rule */
    list = b->items + ((size_t)fb * (size_t)b->n + (size_t)i) * (size_t)D;
    c = b->count[(size_t)fb * (size_t)b->n + (size_t)i];
    if (c > k) c = k;
  }
  const int32_t *rel = b->rel + b->roff[i];
  size_t nrel = (size_t)(b->roff[i + 1] - b->roff[i]);
  for (int32_t j = 0; j < c; j++)
    tw->hit[j] = bsearch(&list[j], rel, nrel, sizeof *rel, cmp_i32) != NULL;
  return rp_metrics_list_value(t->o.metric, tw->hit, c, k, (int32_t)nrel);
}

/* The candidates of one band and their per-row values. */
typedef struct candset {
  rp_tune_cand *c;
  double *vals; /* ncand x rows */
  int n, cap;
} candset;

static void candset_free(candset *cs) {
  rp_free(cs->c);
  rp_free(cs->vals);
  memset(cs, 0, sizeof *cs);
}

static int same_weights(const float *a, const float *b, int P) {
  for (int p = 0; p < P; p++)
    if (fabsf(a[p] - b[p]) > 1e-6f) return 0;
  return 1;
}

/* Evaluates the weight vectors W[q * RP_TUNE_MAX_PARTS ..], q < nw, on
 * every row of br: idx[q] receives the candidate's index (one seen before
 * is not evaluated again).  The new candidates are split into tasks of
 * CAND_ROWS rows, all in one parallel region: a search is a few regions,
 * not one per candidate (each region's barrier costs much when the cores
 * are shared).  RP_ENOMEM on allocation failure. */
#define CAND_ROWS 256
static int eval_many(const rp_tuner *t, const bandrows *br, candset *cs, const float *W, int nw,
                     int fb, twork *tw, int nt, int *idx) {
  int P = t->P, first = cs->n;
  for (int q = 0; q < nw; q++) {
    const float *w = W + (size_t)q * RP_TUNE_MAX_PARTS;
    int found = -1;
    for (int c = 0; c < cs->n && found < 0; c++)
      if (same_weights(cs->c[c].w, w, P)) found = c;
    if (found < 0) {
      if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 64;
        while (cap < cs->n + 1) cap *= 2;
        rp_tune_cand *nc = rp_realloc(cs->c, (size_t)cap * sizeof *nc);
        if (!nc) return RP_ENOMEM;
        cs->c = nc;
        double *nv = rp_realloc(cs->vals, (size_t)cap * (size_t)(br->n ? br->n : 1) * sizeof *nv);
        if (!nv) return RP_ENOMEM;
        cs->vals = nv, cs->cap = cap;
      }
      rp_tune_cand *c = &cs->c[cs->n];
      memset(c, 0, sizeof *c);
      for (int p = 0; p < P; p++) c->w[p] = w[p], c->nparts += w[p] > 0;
      found = cs->n++;
    }
    idx[q] = found;
  }
  int64_t chunks = (br->n + CAND_ROWS - 1) / CAND_ROWS, tasks = chunks * (cs->n - first);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t k = 0; k < tasks; k++) {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    int c = first + (int)(k / chunks);
    int32_t r0 = (int32_t)(k % chunks) * CAND_ROWS, r1 = r0 + CAND_ROWS;
    if (r1 > br->n) r1 = br->n;
    double *v = cs->vals + (size_t)c * (size_t)br->n;
    for (int32_t r = r0; r < r1; r++)
      v[r] = row_value(t, br->b[r], br->i[r], cs->c[c].w, fb, &tw[tid]);
  }
  for (int c = first; c < cs->n; c++) { /* sums in row order: thread-count free */
    const double *v = cs->vals + (size_t)c * (size_t)br->n;
    double sum = 0;
    for (int32_t r = 0; r < br->n; r++) sum += v[r];
    cs->c[c].score = br->n ? sum / br->n : RP_NAN;
  }
  return RP_OK;
}

/* ---- search ------------------------------------------------------------------------ */
/* Grid points: counts cnt[] over the parts avail[0..na) summing to steps
 * with at most max_parts non-zero, appended to W as weights (W NULL:
 * counted only). */
typedef struct gridwalk {
  const int *avail;
  int na, max_parts, steps, P;
  int32_t cnt[RP_TUNE_MAX_PARTS];
  int64_t count;
  float *W;
} gridwalk;

static void grid_rec(gridwalk *g, int j, int rem, int m) {
  if (rem == 0) {
    if (g->W)
      for (int p = 0; p < g->P; p++)
        g->W[(size_t)g->count * RP_TUNE_MAX_PARTS + (size_t)p] =
            (float)((double)g->cnt[p] / g->steps);
    g->count++;
    return;
  }
  if (j == g->na || m == g->max_parts) return;
  int p = g->avail[j];
  for (int c = rem; c >= 1; c--) {
    g->cnt[p] = c;
    grid_rec(g, j + 1, rem - c, m + 1);
  }
  g->cnt[p] = 0;
  grid_rec(g, j + 1, rem, m);
}

typedef struct searchctx {
  const rp_tuner *t;
  const bandrows *br;
  candset *cs;
  int fb, nt;
  twork *tw;
} searchctx;

static int grid_search(searchctx *x, gridwalk *g) {
  float *W = rp_malloc((size_t)(g->count ? g->count : 1) * RP_TUNE_MAX_PARTS * sizeof *W);
  int *idx = rp_malloc((size_t)(g->count ? g->count : 1) * sizeof *idx);
  int rc = W && idx ? RP_OK : RP_ENOMEM;
  if (!rc) {
    memset(W, 0, (size_t)g->count * RP_TUNE_MAX_PARTS * sizeof *W);
    memset(g->cnt, 0, sizeof g->cnt);
    int64_t n = g->count;
    g->count = 0, g->W = W;
    grid_rec(g, 0, g->steps, 0);
    g->W = NULL;
    rc = eval_many(x->t, x->br, x->cs, W, (int)n, x->fb, x->tw, x->nt, idx);
  }
  rp_free(W);
  rp_free(idx);
  return rc;
}

static int nonzero(const float *w, int P) {
  int m = 0;
  for (int p = 0; p < P; p++) m += w[p] > 0;
  return m;
}

/* Coordinate ascent from the best single part (see hybrid.h); the shares
 * tried for one part are evaluated together. */
static int coord_search(searchctx *x, const int *avail, int na) {
  const rp_tuner *t = x->t;
  int P = t->P, S = t->o.steps, cur = -1, nmax = na > S ? na : S;
  float *W = rp_calloc((size_t)nmax * RP_TUNE_MAX_PARTS, sizeof *W);
  int *idx = rp_malloc((size_t)nmax * sizeof *idx);
  int rc = W && idx ? RP_OK : RP_ENOMEM;
  for (int a = 0; a < na && !rc; a++) W[(size_t)a * RP_TUNE_MAX_PARTS + (size_t)avail[a]] = 1;
  if (!rc) rc = eval_many(t, x->br, x->cs, W, na, x->fb, x->tw, x->nt, idx); /* the singles */
  for (int a = 0; a < na && !rc; a++)
    if (cur < 0 || x->cs->c[idx[a]].score > x->cs->c[cur].score) cur = idx[a];
  for (int pass = 0; pass < MAX_PASSES && !rc; pass++) {
    int changed = 0;
    for (int a = 0; a < na && !rc; a++) {
      int p = avail[a], best = cur, nw = 0;
      float base[RP_TUNE_MAX_PARTS];
      memcpy(base, x->cs->c[cur].w, sizeof base);
      double rest = 1.0 - (double)base[p];
      if (!(rest > 1e-9)) continue; /* p alone: other parts come in on their turn */
      for (int s = 0; s < S; s++) {
        float *w = W + (size_t)nw * RP_TUNE_MAX_PARTS;
        double share = (double)s / S;
        for (int q = 0; q < P; q++) w[q] = (float)((double)base[q] / rest * (1.0 - share));
        w[p] = (float)share;
        if (nonzero(w, P) <= t->o.max_parts && !same_weights(w, base, P)) nw++;
      }
      rc = eval_many(t, x->br, x->cs, W, nw, x->fb, x->tw, x->nt, idx);
      for (int q = 0; q < nw && !rc; q++)
        if (x->cs->c[idx[q]].score > x->cs->c[best].score + 1e-12) best = idx[q];
      if (best != cur) cur = best, changed = 1;
    }
    if (!changed) break;
  }
  rp_free(W);
  rp_free(idx);
  return rc;
}

/* ---- selection and intervals -------------------------------------------------------- */
/* Standard error of mean(a) - mean(b) over the band's rows, users as units
 * (the linearised variance of a ratio of sums). */
static double paired_se(const bandrows *br, const double *a, const double *b, double *us) {
  int32_t U = br->nunits, N = br->n;
  if (U < 2 || N < 1) return 0;
  memset(us, 0, (size_t)U * sizeof *us);
  double tot = 0;
  for (int32_t r = 0; r < N; r++) us[br->unit[r]] += a[r] - b[r], tot += a[r] - b[r];
  double mean = tot / N, v = 0;
  for (int32_t u = 0; u < U; u++) {
    double d = us[u] - mean * br->unit_rows[u];
    v += d * d;
  }
  return sqrt(v * U / (U - 1)) / N;
}

static int simpler_or_better(const rp_tune_cand *a, const rp_tune_cand *b) {
  if (a->nparts != b->nparts) return a->nparts < b->nparts;
  return a->score > b->score;
}

static int select_band(const rp_tuner *t, const bandrows *br, candset *cs, rp_tune_band *bd,
                       rp_err *err) {
  int best = 0;
  for (int c = 1; c < cs->n; c++) {
    const rp_tune_cand *x = &cs->c[c], *y = &cs->c[best];
    if (x->score > y->score || (x->score == y->score && x->nparts < y->nparts)) best = c;
  }
  double *us = rp_malloc((size_t)(br->nunits ? br->nunits : 1) * sizeof *us);
  if (!us) return rp_enomem(err, "tune_chain");
  const double *vb = cs->vals + (size_t)best * (size_t)br->n;
  int chosen = best;
  for (int c = 0; c < cs->n; c++) {
    cs->c[c].se = paired_se(br, cs->vals + (size_t)c * (size_t)br->n, vb, us);
    if (t->o.select == RP_TUNE_ONE_SE && cs->c[c].score >= cs->c[best].score - cs->c[c].se &&
        simpler_or_better(&cs->c[c], &cs->c[chosen]))
      chosen = c;
  }
  rp_free(us);
  int ru = -1;
  for (int c = 0; c < cs->n; c++)
    if (c != chosen && (ru < 0 || cs->c[c].score > cs->c[ru].score)) ru = c;
  bd->chosen = chosen, bd->best = best, bd->runner_up = ru;
  return RP_OK;
}

/* Intervals by the users-as-units bootstrap: the chosen's score, the
 * runner-up's paired difference, each single part's score. */
static int band_intervals(const rp_tuner *t, const bandrows *br, const candset *cs,
                          rp_tune_band *bd, uint64_t seed, rp_err *err) {
  int P = t->P, npairs = 2 + P, w = 2 * npairs;
  int single[RP_TUNE_MAX_PARTS];
  for (int p = 0; p < P; p++) single[p] = -1;
  for (int c = 0; c < cs->n; c++)
    if (cs->c[c].nparts == 1)
      for (int p = 0; p < P; p++)
        if (cs->c[c].w[p] > 0) single[p] = c;
  float *rows = rp_calloc((size_t)br->nunits * (size_t)w, sizeof *rows);
  if (!rows) return rp_enomem(err, "tune_chain");
  const double *vc = cs->vals + (size_t)bd->chosen * (size_t)br->n;
  const double *vr = bd->runner_up >= 0 ? cs->vals + (size_t)bd->runner_up * (size_t)br->n : NULL;
  for (int32_t r = 0; r < br->n; r++) {
    float *row = rows + (size_t)br->unit[r] * (size_t)w;
    row[0] += (float)vc[r], row[1] += 1;
    if (vr) row[2] += (float)(vr[r] - vc[r]), row[3] += 1;
    for (int p = 0; p < P; p++)
      if (single[p] >= 0)
        row[4 + 2 * p] += (float)cs->vals[(size_t)single[p] * (size_t)br->n + (size_t)r],
            row[5 + 2 * p] += 1;
  }
  double lo[2 + RP_TUNE_MAX_PARTS], hi[2 + RP_TUNE_MAX_PARTS];
  int rc = rp_metrics_bootstrap_ratios(rows, br->nunits, npairs, t->o.bootstrap, seed, t->o.level,
                                       t->o.threads, lo, hi, err);
  rp_free(rows);
  if (rc) return rc;
  bd->lo_ci = lo[0], bd->hi_ci = hi[0];
  if (vr) {
    bd->ru_diff = cs->c[bd->runner_up].score - cs->c[bd->chosen].score;
    bd->ru_lo = lo[1], bd->ru_hi = hi[1];
  }
  for (int p = 0; p < P; p++) {
    bd->single[p] = single[p] >= 0 ? cs->c[single[p]].score : RP_NAN;
    bd->single_lo[p] = single[p] >= 0 ? lo[2 + p] : RP_NAN;
    bd->single_hi[p] = single[p] >= 0 ? hi[2 + p] : RP_NAN;
  }
  return RP_OK;
}

/* The rows of band bi (every row when bi < 0; batch order, then row
 * order) and their units. */
static int gather_band(const rp_tuner *t, int bi, bandrows *br, rp_err *err) {
  memset(br, 0, sizeof *br);
  int32_t n = 0;
  for (int q = 0; q < t->nb; q++)
    for (int32_t i = 0; i < t->b[q].n; i++) n += bi < 0 || t->b[q].band[i] == bi;
  size_t nn = (size_t)(n ? n : 1);
  br->b = rp_malloc(nn * sizeof *br->b);
  br->i = rp_malloc(nn * sizeof *br->i);
  br->unit = rp_malloc(nn * sizeof *br->unit);
  int64_t *key = rp_malloc(nn * sizeof *key);
  if (!br->b || !br->i || !br->unit || !key) {
    rp_free(key);
    bandrows_free(br);
    return rp_enomem(err, "tune_chain");
  }
  for (int q = 0; q < t->nb; q++)
    for (int32_t i = 0; i < t->b[q].n; i++)
      if (bi < 0 || t->b[q].band[i] == bi) {
        br->b[br->n] = &t->b[q], br->i[br->n] = i;
        key[br->n] = (int64_t)t->b[q].user[i] << 32 | br->n; /* user, then row */
        br->n++;
      }
  qsort(key, (size_t)n, sizeof *key, rp_cmp_i64);
  int32_t U = 0;
  for (int32_t j = 0; j < n; j++) {
    if (j == 0 || key[j] >> 32 != key[j - 1] >> 32) U++;
    br->unit[key[j] & 0xffffffff] = U - 1;
  }
  rp_free(key);
  br->nunits = U;
  br->unit_rows = rp_calloc((size_t)(U ? U : 1), sizeof *br->unit_rows);
  if (!br->unit_rows) {
    bandrows_free(br);
    return rp_enomem(err, "tune_chain");
  }
  for (int32_t r = 0; r < n; r++) br->unit_rows[br->unit[r]]++;
  return RP_OK;
}

/* The part of the last rule: the option's, else the best single part among
 * those that had a list for every validation row (all bands). */
static int choose_fallback(const rp_tuner *t, twork *tw, int nt, int *fb, rp_err *err) {
  *fb = t->fallback;
  if (*fb >= 0) return RP_OK;
  float W[RP_TUNE_MAX_PARTS * RP_TUNE_MAX_PARTS];
  int part[RP_TUNE_MAX_PARTS], idx[RP_TUNE_MAX_PARTS], n = 0;
  memset(W, 0, sizeof W);
  for (int p = 0; p < t->P; p++) {
    int all = 1;
    for (int q = 0; q < t->nb && all; q++)
      for (int32_t i = 0; i < t->b[q].n && all; i++)
        all = t->b[q].count[(size_t)p * (size_t)t->b[q].n + (size_t)i] > 0;
    if (all) W[n * RP_TUNE_MAX_PARTS + p] = 1, part[n++] = p;
  }
  if (n == 0) return RP_OK;
  bandrows br;
  int rc = gather_band(t, -1, &br, err);
  if (rc) return rc;
  candset cs = {0};
  if (eval_many(t, &br, &cs, W, n, -1, tw, nt, idx)) rc = rp_enomem(err, "tune_chain");
  double best = -1;
  for (int q = 0; q < n && !rc; q++)
    if (cs.c[idx[q]].score > best) best = cs.c[idx[q]].score, *fb = part[q];
  candset_free(&cs);
  bandrows_free(&br);
  return rc;
}

static void result_free(rp_tune_result *r) {
  for (int b = 0; b < r->nbands; b++) {
    rp_free(r->band[b].cand);
    r->band[b].cand = NULL;
    r->band[b].ncand = 0;
  }
}

static int search_band(const rp_tuner *t, int bi, int fb, twork *tw, int nt, rp_tune_band *bd,
                       rp_err *err) {
  bandrows br;
  int rc = gather_band(t, bi, &br, err);
  if (rc) return rc;
  bd->rows = br.n, bd->users = br.nunits;
  if (br.n == 0) {
    bandrows_free(&br);
    return RP_OK;
  }
  int avail[RP_TUNE_MAX_PARTS], na = 0;
  for (int p = 0; p < t->P; p++) {
    for (int32_t r = 0; r < br.n; r++)
      bd->answered[p] += br.b[r]->count[(size_t)p * (size_t)br.b[r]->n + (size_t)br.i[r]] > 0;
    if (bd->answered[p] > 0) avail[na++] = p;
  }
  if (na == 0 && fb >= 0) avail[na++] = fb; /* nothing answers: the fallback's zeros */
  if (na == 0) avail[na++] = 0;
  candset cs = {0};
  searchctx x = {t, &br, &cs, fb, nt, tw};
  gridwalk g;
  memset(&g, 0, sizeof g);
  g.avail = avail, g.na = na, g.max_parts = t->o.max_parts, g.steps = t->o.steps, g.P = t->P;
  grid_rec(&g, 0, g.steps, 0); /* counts */
  int grid = t->o.search == RP_TUNE_GRID ||
             (t->o.search == RP_TUNE_AUTO && g.count <= t->o.max_candidates);
  if (grid && g.count > t->o.max_candidates)
    rc = rp_errf(err, RP_EINVAL,
                 "tune_chain: the grid has %lld candidates in band %d, more than max_candidates "
                 "(%d): lower steps or max_parts, raise max_candidates or search 'coordinate'",
                 (long long)g.count, bi + 1, t->o.max_candidates);
  if (!rc && (grid ? grid_search(&x, &g) : coord_search(&x, avail, na)))
    rc = rp_enomem(err, "tune_chain");
  bd->search = grid ? RP_TUNE_GRID : RP_TUNE_COORD;
  if (!rc) rc = select_band(t, &br, &cs, bd, err);
  if (!rc) rc = band_intervals(t, &br, &cs, bd, rp_hash64((uint64_t)t->o.seed + (uint64_t)bi), err);
  if (!rc) {
    bd->cand = cs.c, bd->ncand = cs.n;
    cs.c = NULL;
  }
  candset_free(&cs);
  bandrows_free(&br);
  return rc;
}

int rp_tuner_run(rp_tuner *t, const rp_tune_result **res, rp_err *err) {
  *res = NULL;
  rp_tune_result *out = &t->res;
  result_free(out);
  memset(out, 0, sizeof *out);
  const rp_tune_opts *o = &t->o;
  out->nparts = t->P, out->nbands = o->nbands, out->rows = t->rows;
  out->seconds_scoring = t->seconds_scoring;
  for (int b = 0; b < o->nbands; b++) {
    rp_tune_band *bd = &out->band[b];
    bd->lo = o->bands[b], bd->hi = b + 1 < o->nbands ? o->bands[b + 1] - 1 : -1;
    bd->from = -1, bd->chosen = bd->best = bd->runner_up = -1;
    bd->lo_ci = bd->hi_ci = bd->ru_diff = bd->ru_lo = bd->ru_hi = RP_NAN;
    for (int p = 0; p < t->P; p++) bd->single[p] = bd->single_lo[p] = bd->single_hi[p] = RP_NAN;
  }
  if (t->rows == 0)
    return rp_errf(err, RP_EINVAL,
                   "tune_chain: no validation users (every test set is empty: "
                   "too few events per user for the reveal sizes, or too few "
                   "users for the folds)");
  double t0 = rp_now();
  int nt = rp_threads(o->threads);
  twork *tw = rp_calloc((size_t)nt, sizeof *tw);
  int rc = tw ? RP_OK : rp_enomem(err, "tune_chain");
  for (int q = 0; q < nt && !rc; q++) {
    rc = rp_hyb_merge_ws_init(&tw[q].ws, t->nitems, o->depth, t->P, err);
    tw[q].list = rp_malloc((size_t)o->k * sizeof *tw[q].list);
    tw[q].lsc = rp_malloc((size_t)o->k * sizeof *tw[q].lsc);
    tw[q].hit = rp_malloc((size_t)o->k);
    if (!rc && (!tw[q].list || !tw[q].lsc || !tw[q].hit)) rc = rp_enomem(err, "tune_chain");
  }
  int fb = -1;
  if (!rc) rc = choose_fallback(t, tw, nt, &fb, err);
  out->fallback = fb;
  /* distinct users over all rows */
  if (!rc) {
    int32_t nu = 0;
    for (int q = 0; q < t->nb; q++) nu += t->b[q].n;
    int32_t *all = rp_malloc((size_t)(nu ? nu : 1) * sizeof *all);
    if (!all) rc = rp_enomem(err, "tune_chain");
    for (int q = 0, at = 0; q < t->nb && all; q++)
      for (int32_t i = 0; i < t->b[q].n; i++) all[at++] = t->b[q].user[i];
    if (all) {
      qsort(all, (size_t)nu, sizeof *all, cmp_i32);
      for (int32_t i = 0; i < nu; i++) out->users += i == 0 || all[i] != all[i - 1];
      rp_free(all);
    }
  }
  for (int b = 0; b < o->nbands && !rc; b++) rc = search_band(t, b, fb, tw, nt, &out->band[b], err);
  /* bands without rows take the nearest band's rule, below first */
  for (int b = 0; b < o->nbands && !rc; b++) {
    if (out->band[b].rows > 0) continue;
    for (int d = 1; d < o->nbands && out->band[b].from < 0; d++) {
      if (b - d >= 0 && out->band[b - d].rows > 0)
        out->band[b].from = b - d;
      else if (b + d < o->nbands && out->band[b + d].rows > 0)
        out->band[b].from = b + d;
    }
  }
  for (int q = 0; q < nt && tw; q++) {
    rp_hyb_merge_ws_free(&tw[q].ws);
    rp_free(tw[q].list);
    rp_free(tw[q].lsc);
    rp_free(tw[q].hit);
  }
  rp_free(tw);
  out->seconds_search = rp_now() - t0;
  if (rc)
    result_free(out);
  else
    *res = out;
  return rc;
}
