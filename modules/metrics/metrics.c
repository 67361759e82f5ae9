/*
 * metrics.c -- scoring top-k lists against a test matrix; see metrics.h for
 * the definitions.
 *
 * The evaluated users are processed in batches: the recommender fills the
 * batch's lists (it parallelises inside), then the lists are scored in
 * parallel over fixed chunks of CHUNK users.  Every per-user value is
 * stored; sums (means, curves) are taken in user order, chunk by chunk, so
 * nothing depends on the thread count.
 */
#include "metrics.h"
#include "dist.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

#define CHUNK 256
/* columns of the curve sums: the per-user metrics, then hits, m and the
 * counts of users where auc and novelty are defined */
enum { C_HITS = RP_M_NPER, C_M, C_NAUC, C_NNOV, C_COLS };

static const char *const names[RP_M_COUNT] = {
    "precision", "recall",           "map",      "ndcg", "hit_rate", "mrr", "auc",
    "novelty",   "precision_pooled", "coverage", "gini", "rmse",     "mae"};

const char *rp_metrics_name(int metric) {
  return metric >= 0 && metric < RP_M_COUNT ? names[metric] : NULL;
}

int rp_metrics_id(const char *name) {
  for (int m = 0; m < RP_M_COUNT; m++)
    if (strcmp(names[m], name) == 0) return m;
  return -1;
}

#define E rp_metrics_eval_opts
const rp_optdesc rp_metrics_eval_optdesc[] = {
    RP_OPT_I(E, base.k, "k", 10, 1, RP_METRICS_MAX_K),
    RP_OPT_X("metrics", "a list of metric names, one name, or \"all\""),
    RP_OPT_X("users", "a list of user ids to evaluate (default: every test user)"),
    RP_OPT_B(E, per_user, "per_user", 0),
    {"bootstrap", RP_OPT_INT, RP_OPTF_(E, bootstrap), 0, NULL, 1, RP_METRICS_MAX_BOOTSTRAP,
     RP_OPT_NODEFAULT, NULL, "resamples for intervals; absent or false: none"},
    RP_OPT_SEED_(E, seed, "seed", 42),
    RP_OPT_N(E, level, "level", 0.95, 0, 1, RP_OPT_LO_OPEN | RP_OPT_HI_OPEN),
    RP_OPT_I(E, base.threads, "threads", 0, 0, 4096),
    RP_OPT_B(E, base.curve, "curve", 0),
    RP_OPT_N(E, base.threshold, "threshold", 0, -HUGE_VAL, HUGE_VAL, 0),
    RP_OPT_B(E, base.exclude_train, "exclude", 1),
    RP_OPT_I(E, base.batch, "batch", 0, 0, INT32_MAX),
    RP_OPT_X("name", "a string (the report's model name; default: the model's)"),
    RP_OPT_END};
#undef E

#define C rp_metrics_compare_opts
const rp_optdesc rp_metrics_compare_optdesc[] = {
    RP_OPT_X("metrics", "a list of metric names (default: the first report's)"),
    RP_OPT_I(C, bootstrap, "bootstrap", 1000, 1, RP_METRICS_MAX_BOOTSTRAP),
    RP_OPT_SEED_(C, seed, "seed", 42),
    RP_OPT_N(C, level, "level", 0.95, 0, 1, RP_OPT_LO_OPEN | RP_OPT_HI_OPEN),
    RP_OPT_I(C, threads, "threads", 0, 0, 4096),
    RP_OPT_END};
#undef C

void rp_metrics_opts_init(rp_metrics_opts *o) {
  rp_metrics_eval_opts e;
  memset(&e, 0, sizeof e);
  rp_opts_init(rp_metrics_eval_optdesc, &e);
  *o = e.base;
}

void rp_metrics_result_free(rp_metrics_result *r) {
  if (!r) return;
  rp_free(r->users);
  rp_free(r->per_user);
  rp_free(r->hits);
  rp_free(r->m);
  rp_free(r->se);
  rp_free(r->ae);
  rp_free(r->nrated);
  rp_free(r->curve);
  rp_free(r->rec_count);
  rp_free(r->pop);
  rp_free(r);
}

/* ---- users --------------------------------------------------------------- */
static int32_t relevant_count(const rp_csr *test, int32_t u, float thr) {
  if (u < 0 || u >= test->nrows) return 0;
  int32_t t = 0;
  for (int64_t p = test->indptr[u]; p < test->indptr[u + 1]; p++) t += test->data[p] > thr;
  return t;
}

int rp_metrics_users(const rp_csr *test, const rp_metrics_opts *o, int32_t **out, int32_t *n,
                     rp_err *err) {
  *out = NULL;
  *n = 0;
  int32_t cap = o->users ? o->nusers : test->nrows;
  int32_t *u = rp_malloc((size_t)(cap > 0 ? cap : 1) * sizeof *u);
  if (!u) return rp_enomem(err, "evaluated users");
  int32_t k = 0;
  if (o->users) {
    memcpy(u, o->users, (size_t)cap * sizeof *u);
    qsort(u, (size_t)cap, sizeof *u, rp_cmp_i32);
    for (int32_t i = 0; i < cap; i++)
      if ((k == 0 || u[i] != u[k - 1]) && relevant_count(test, u[i], o->threshold) > 0)
        u[k++] = u[i];
  } else {
    for (int32_t r = 0; r < test->nrows; r++)
      if (relevant_count(test, r, o->threshold) > 0) u[k++] = r;
  }
  *out = u;
  *n = k;
  return RP_OK;
}

/* ---- the evaluation state ---------------------------------------------------- */
typedef struct state {
  const rp_csr *train, *test;
  rp_metrics_opts o;
  rp_metrics_result *r;
  double *disc;      /* k: 1/log2(r+1) for r = 1..k */
  double *idcg;      /* k: cumulative sums of disc */
  double *selfinfo;  /* nitems: -log2(p_i), RP_NAN without train users */
  double *sums;      /* C_COLS x k curve sums (running, in chunk order) */
  double *chunk;     /* nchunks-per-batch x C_COLS x k */
  int32_t *poscount; /* k x nitems when curve: recommendations at each position */
} state;

static void state_free(state *s) {
  rp_free(s->disc);
  rp_free(s->idcg);
  rp_free(s->selfinfo);
  rp_free(s->sums);
  rp_free(s->chunk);
  rp_free(s->poscount);
}

static int check_maps(const rp_idmap *a, const rp_idmap *b, const char *what, rp_err *err) {
  if (a && b && a != b)
    return rp_errf(err, RP_EINVAL,
                   "%s are not on the same id maps (read the test log with users = ev.users, "
                   "items = ev.items, or split one log)",
                   what);
  return RP_OK;
}

static int32_t catalogue_size(const rp_csr *train, const rp_csr *test) {
  int32_t n = test->ncols;
  if (test->colmap && test->colmap->n > n) n = test->colmap->n;
  if (train && train->ncols > n) n = train->ncols;
  if (train && train->colmap && train->colmap->n > n) n = train->colmap->n;
  return n;
}

/* Allocates the result for users[0..n) (copied) and the shared tables. */
static int state_init(state *s, const rp_csr *train, const rp_csr *test, const rp_metrics_opts *o,
                      const int32_t *users, int32_t n, int32_t batch, rp_err *err) {
  memset(s, 0, sizeof *s);
  s->train = train;
  s->test = test;
  s->o = *o;
  int32_t k = o->k, ni = catalogue_size(train, test);
  rp_metrics_result *r = s->r = rp_calloc(1, sizeof *r);
  if (!r) return rp_enomem(err, "metrics");
  r->k = k;
  r->n = n;
  r->nitems = ni;
  for (int m = 0; m < RP_M_COUNT; m++) r->mean[m] = RP_NAN;
  size_t nn = (size_t)(n > 0 ? n : 1), nk = (size_t)k;
  r->users = rp_malloc(nn * sizeof *r->users);
  r->per_user = rp_malloc(nn * RP_M_NPER * sizeof *r->per_user);
  r->hits = rp_malloc(nn * sizeof *r->hits);
  r->m = rp_malloc(nn * sizeof *r->m);
  r->rec_count = rp_calloc((size_t)ni + 1, sizeof *r->rec_count);
  r->pop = rp_calloc((size_t)ni + 1, sizeof *r->pop);
  s->disc = rp_malloc(nk * sizeof *s->disc);
  s->idcg = rp_malloc(nk * sizeof *s->idcg);
  s->selfinfo = rp_malloc(((size_t)ni + 1) * sizeof *s->selfinfo);
  int ok = r->users && r->per_user && r->hits && r->m && r->rec_count && r->pop && s->disc &&
           s->idcg && s->selfinfo;
  if (ok && o->ratings) {
    r->se = rp_calloc(nn, sizeof *r->se);
    r->ae = rp_calloc(nn, sizeof *r->ae);
    r->nrated = rp_calloc(nn, sizeof *r->nrated);
    ok = r->se && r->ae && r->nrated;
  }
  if (ok && o->curve) {
    int32_t nch = (batch + CHUNK - 1) / CHUNK;
    r->curve = rp_malloc((size_t)RP_M_COUNT * nk * sizeof *r->curve);
    s->sums = rp_calloc((size_t)C_COLS * nk, sizeof *s->sums);
    s->chunk = rp_malloc((size_t)nch * C_COLS * nk * sizeof *s->chunk);
    int ok2 = 1;
    size_t pc = rp_mulsize(nk, (size_t)ni + 1, &ok2);
    s->poscount = ok2 ? rp_calloc(pc, sizeof *s->poscount) : NULL;
    ok = r->curve && s->sums && s->chunk && s->poscount;
  }
  if (!ok) return rp_enomem(err, "metrics");
  if (n) memcpy(r->users, users, (size_t)n * sizeof *users);
  double c = 0;
  for (int32_t j = 0; j < k; j++) {
    s->disc[j] = 1.0 / log2((double)j + 2.0);
    c += s->disc[j];
    s->idcg[j] = c;
  }
  /* train popularity: users per item */
  if (train) {
    for (int32_t u = 0; u < train->nrows; u++) {
      int64_t a = train->indptr[u], b = train->indptr[u + 1];
      r->train_users += b > a;
      for (int64_t p = a; p < b; p++) r->pop[train->indices[p]]++;
    }
  }
  for (int32_t i = 0; i < ni; i++)
    s->selfinfo[i] = r->train_users > 0
                         ? -log2((double)(r->pop[i] > 0 ? r->pop[i] : 1) / (double)r->train_users)
                         : RP_NAN;
  return RP_OK;
}

/* Is item in the relevant part of test row [a, b)?  (binary search) */
static int is_relevant(const rp_csr *t, int64_t a, int64_t b, int32_t item, float thr) {
  int64_t end = b;
  while (a < b) {
    int64_t mid = a + (b - a) / 2;
    if (t->indices[mid] < item)
      a = mid + 1;
    else
      b = mid;
  }
  return a < end && t->indices[a] == item && t->data[a] > thr;
}

/* The metrics of a list that need only its hits (ranks 1..J, h hits, tn
 * relevant items, mj = min(J, tn), ap and dcg summed over the hits, idcg
 * the ideal dcg of mj hits, first the rank of the first hit or 0). */
static void list_values(double *v, int32_t J, int32_t h, int32_t tn, int32_t mj, double ap,
                        double dcg, double idcg, int32_t first) {
  v[RP_M_PRECISION] = (double)h / J;
  v[RP_M_RECALL] = (double)h / tn;
  v[RP_M_MAP] = ap / mj;
  v[RP_M_NDCG] = dcg / idcg;
  v[RP_M_HIT_RATE] = h > 0;
  v[RP_M_MRR] = first ? 1.0 / first : 0.0;
}

double rp_metrics_list_value(int metric, const uint8_t *hit, int32_t c, int32_t k, int32_t ntest) {
  if (metric < RP_M_PRECISION || metric > RP_M_MRR || k < 1 || ntest < 1) return RP_NAN;
  int32_t h = 0, first = 0, mj = k < ntest ? k : ntest;
  double ap = 0, dcg = 0, idcg = 0;
  for (int32_t j = 0; j < k; j++) {
    double disc = 1.0 / log2((double)j + 2.0); /* as state_init's table */
    if (j < mj) idcg += disc;
    if (j < c && hit[j]) {
      h++;
      ap += (double)h / (j + 1);
      dcg += disc;
      if (!first) first = j + 1;
    }
  }
  double v[RP_M_NPER];
  list_values(v, k, h, ntest, mj, ap, dcg, idcg, first);
  return v[metric];
}

/* Scores one user's list (c items of the k): fills pu[RP_M_NPER], *hits,
 * *m, and when cs is given adds metric@j for j = 1..k into cs. */
static void score_user(const state *s, int32_t u, const int32_t *list, int32_t c, double *pu,
                       int32_t *hits_out, int32_t *m_out, double *cs) {
  const rp_csr *t = s->test;
  int32_t k = s->o.k;
  float thr = s->o.threshold;
  int64_t a = t->indptr[u], b = t->indptr[u + 1];
  int32_t tn = relevant_count(t, u, thr);
  double nneg = (double)s->r->nitems - tn;
  int32_t h = 0, first = 0;
  double ap = 0, dcg = 0, aucm = 0, nov = 0;
  for (int32_t j = 0; j < k; j++) {
    int32_t item = j < c ? list[j] : -1;
    if (item >= 0 && is_relevant(t, a, b, item, thr)) {
      h++;
      ap += (double)h / (j + 1);
      dcg += s->disc[j];
      if (!first) first = j + 1;
    } else {
      aucm += h; /* a miss ranked below h hits */
    }
    if (j < c) nov += s->selfinfo[item];
    if (cs || j == k - 1) {
      int32_t J = j + 1, mj = J < tn ? J : tn, len = J < c ? J : c;
      double v[RP_M_NPER];
      list_values(v, J, h, tn, mj, ap, dcg, s->idcg[mj - 1], first);
      v[RP_M_AUC] = nneg > 0 ? (aucm + (h + tn) / 2.0 * (nneg - (J - h))) / (tn * nneg) : RP_NAN;
      v[RP_M_NOVELTY] = len > 0 ? nov / len : RP_NAN;
      if (cs) {
        for (int m = 0; m < RP_M_NPER; m++)
          if (!isnan(v[m])) cs[m * k + j] += v[m];
        cs[C_HITS * k + j] += h;
        cs[C_M * k + j] += mj;
        cs[C_NAUC * k + j] += !isnan(v[RP_M_AUC]);
        cs[C_NNOV * k + j] += !isnan(v[RP_M_NOVELTY]);
      }
      if (j == k - 1) {
        memcpy(pu, v, sizeof v);
        *hits_out = h;
        *m_out = mj;
      }
    }
  }
}

/* Scores users pos..pos+bn of the result from lists[i*k ..], counts[i]. */
static int score_batch(state *s, int32_t pos, int32_t bn, const int32_t *lists,
                       const int32_t *counts, int threads, rp_err *err) {
  rp_metrics_result *r = s->r;
  int32_t k = s->o.k, ni = r->nitems;
  /* check the lists first: an item outside the catalogue is the caller's bug */
  for (int64_t i = 0; i < bn; i++) {
    if (counts[i] < 0 || counts[i] > k)
      return rp_errf(err, RP_EINVAL, "list of user %d has %d items (k = %d)", r->users[pos + i],
                     counts[i], k);
    for (int32_t j = 0; j < counts[i]; j++) {
      int32_t it = lists[i * k + j];
      if (it < 0 || it >= ni)
        return rp_errf(err, RP_EINVAL,
                       "recommendation for user %d: item index %d outside the catalogue (0..%d)",
                       r->users[pos + i], it, ni - 1);
    }
  }
  int32_t nch = (bn + CHUNK - 1) / CHUNK;
  size_t cw = (size_t)C_COLS * (size_t)k;
  if (s->chunk) memset(s->chunk, 0, (size_t)nch * cw * sizeof *s->chunk);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int32_t c = 0; c < nch; c++) {
    int32_t lo = c * CHUNK, hi = lo + CHUNK < bn ? lo + CHUNK : bn;
    double *cs = s->chunk ? s->chunk + (size_t)c * cw : NULL;
    for (int32_t i = lo; i < hi; i++) {
      int32_t g = pos + i;
      score_user(s, r->users[g], lists + (size_t)i * k, counts[i],
                 r->per_user + (size_t)g * RP_M_NPER, &r->hits[g], &r->m[g], cs);
    }
  }
  /* in user order: curve sums, recommendation counts, short lists */
  for (int32_t c = 0; c < nch && s->chunk; c++)
    for (size_t x = 0; x < cw; x++) s->sums[x] += s->chunk[(size_t)c * cw + x];
  for (int32_t i = 0; i < bn; i++) {
    r->short_lists += counts[i] < k;
    for (int32_t j = 0; j < counts[i]; j++) {
      int32_t it = lists[(size_t)i * k + j];
      r->rec_count[it]++;
      if (s->poscount) s->poscount[(size_t)j * (size_t)(ni + 1) + it]++;
    }
  }
  return RP_OK;
}

/* Means, aggregates and curves once every batch is scored. */
static int finalize(state *s, rp_err *err) {
  rp_metrics_result *r = s->r;
  int32_t k = s->o.k, ni = r->nitems;
  int32_t *all = rp_malloc((size_t)(r->n > 0 ? r->n : 1) * sizeof *all);
  int64_t *tmp = rp_malloc(((size_t)ni + 1) * sizeof *tmp);
  if (!all || !tmp) {
    rp_free(all);
    rp_free(tmp);
    return rp_enomem(err, "metrics");
  }
  for (int32_t i = 0; i < r->n; i++) all[i] = i;
  for (int m = 0; m < RP_M_COUNT; m++)
    if (m != RP_M_COVERAGE && m != RP_M_GINI) r->mean[m] = rp_metrics_stat(r, m, all, r->n);
  int64_t covered = 0;
  for (int32_t i = 0; i < ni; i++) covered += r->rec_count[i] > 0;
  r->mean[RP_M_COVERAGE] = ni > 0 ? (double)covered / ni : RP_NAN;
  r->mean[RP_M_GINI] = rp_gini(r->rec_count, ni, tmp);
  if (r->curve) {
    int64_t *cum = rp_calloc((size_t)ni + 1, sizeof *cum);
    if (!cum) {
      rp_free(all);
      rp_free(tmp);
      return rp_enomem(err, "metrics");
    }
    covered = 0;
    for (int32_t j = 0; j < k; j++) {
      double *sj = s->sums;
      for (int m = 0; m < RP_M_NPER; m++) {
        double cnt = m == RP_M_AUC       ? sj[C_NAUC * k + j]
                     : m == RP_M_NOVELTY ? sj[C_NNOV * k + j]
                                         : r->n;
        r->curve[m * k + j] = cnt > 0 ? sj[m * k + j] / cnt : RP_NAN;
      }
      r->curve[RP_M_PRECISION_POOLED * k + j] =
          sj[C_M * k + j] > 0 ? sj[C_HITS * k + j] / sj[C_M * k + j] : RP_NAN;
      const int32_t *pc = s->poscount + (size_t)j * (size_t)(ni + 1);
      for (int32_t i = 0; i < ni; i++) {
        if (pc[i] && !cum[i]) covered++;
        cum[i] += pc[i];
      }
      r->curve[RP_M_COVERAGE * k + j] = ni > 0 ? (double)covered / ni : RP_NAN;
      r->curve[RP_M_GINI * k + j] = rp_gini(cum, ni, tmp);
      r->curve[RP_M_RMSE * k + j] = r->mean[RP_M_RMSE];
      r->curve[RP_M_MAE * k + j] = r->mean[RP_M_MAE];
    }
    rp_free(cum);
  }
  rp_free(all);
  rp_free(tmp);
  return RP_OK;
}

/* Rating errors per evaluated user from pred (aligned with test->data). */
static void score_ratings(state *s, const float *pred) {
  rp_metrics_result *r = s->r;
  const rp_csr *t = s->test;
  for (int32_t i = 0; i < r->n; i++) {
    int32_t u = r->users[i];
    for (int64_t p = t->indptr[u]; p < t->indptr[u + 1]; p++) {
      double e = (double)pred[p] - (double)t->data[p];
      r->se[i] += e * e;
      r->ae[i] += fabs(e);
      r->nrated[i]++;
    }
  }
}

int rp_metrics_check(const rp_csr *train, const rp_csr *test, const rp_metrics_opts *o,
                     rp_err *err) {
  if (!test) return rp_errf(err, RP_EINVAL, "no test matrix");
  if (o->k < 1 || o->k > RP_METRICS_MAX_K)
    return rp_errf(err, RP_EINVAL, "k must be an integer in 1..%d, got %d", RP_METRICS_MAX_K, o->k);
  if (train && check_maps(train->colmap, test->colmap, "train and test items", err))
    return err->status;
  if (train && check_maps(train->rowmap, test->rowmap, "train and test users", err))
    return err->status;
  return RP_OK;
}

int rp_metrics_from_lists(const int32_t *users, int32_t n, const int32_t *items,
                          const int32_t *counts, const float *pred, const rp_csr *train,
                          const rp_csr *test, const rp_metrics_opts *o, rp_metrics_result **out,
                          rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  *out = NULL;
  if (rp_metrics_check(train, test, o, err)) return err->status;
  for (int32_t i = 0; i < n; i++)
    if (users[i] < 0 || users[i] >= test->nrows || (i && users[i] <= users[i - 1]) ||
        relevant_count(test, users[i], o->threshold) == 0)
      return rp_errf(err, RP_EINVAL,
                     "users must be ascending rows of test with a relevant item (user %d)",
                     users[i]);
  rp_metrics_opts oo = *o;
  oo.ratings = pred != NULL;
  int32_t bn = n > 0 ? n : 1;
  state s;
  int threads = rp_threads(o->threads);
  double t0 = rp_now();
  if (state_init(&s, train, test, &oo, users, n, bn, err) ||
      (n && score_batch(&s, 0, n, items, counts, threads, err))) {
    rp_metrics_result_free(s.r);
    state_free(&s);
    return err->status;
  }
  if (pred) score_ratings(&s, pred);
  if (finalize(&s, err)) {
    rp_metrics_result_free(s.r);
    state_free(&s);
    return err->status;
  }
  s.r->seconds_metrics = rp_now() - t0;
  *out = s.r;
  state_free(&s);
  return RP_OK;
}

/* Predictions for the test entries of the evaluated users (others 0). */
static int predict_all(const rp_recommender *rec, state *s, int threads, float **out, rp_err *err) {
  const rp_csr *t = s->test;
  rp_metrics_result *r = s->r;
  int64_t np = 0;
  for (int32_t i = 0; i < r->n; i++) np += t->indptr[r->users[i] + 1] - t->indptr[r->users[i]];
  float *pred = rp_calloc((size_t)t->nnz + 1, sizeof *pred);
  int32_t *pu = rp_malloc((size_t)(np + 1) * sizeof *pu),
          *pi = rp_malloc((size_t)(np + 1) * sizeof *pi);
  float *pv = rp_malloc((size_t)(np + 1) * sizeof *pv);
  if (!pred || !pu || !pi || !pv) {
    rp_free(pred), rp_free(pu), rp_free(pi), rp_free(pv);
    return rp_enomem(err, "predictions");
  }
  int64_t q = 0;
  for (int32_t i = 0; i < r->n; i++)
    for (int64_t p = t->indptr[r->users[i]]; p < t->indptr[r->users[i] + 1]; p++)
      pu[q] = r->users[i], pi[q++] = t->indices[p];
  int rc = rec->predict(rec->self, pu, pi, np, threads, pv, err);
  if (rc == RP_OK) {
    q = 0;
    for (int32_t i = 0; i < r->n; i++)
      for (int64_t p = t->indptr[r->users[i]]; p < t->indptr[r->users[i] + 1]; p++)
        pred[p] = pv[q++];
    *out = pred;
  } else {
    rp_free(pred);
  }
  rp_free(pu), rp_free(pi), rp_free(pv);
  return rc;
}

/* The lists of users[0..n): under MPI (dist.h) each rank recommends for
 * its block of the users and the lists are all-gathered, so every rank
 * scores the same lists in the same order: the report of one process. */
static int recommend_batch(const rp_recommender *rec, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *excl, int threads, int32_t *items, float *scores,
                           int32_t *counts, rp_err *err) {
  int size = rp_dist_size();
  if (size == 1)
    return rec->recommend(rec->self, users, n, k, excl, threads, items, scores, counts, err);
  int me = rp_dist_rank();
  int64_t *off = rp_malloc(((size_t)size + 1) * sizeof *off);
  if (!off) return rp_enomem(err, "recommendation blocks");
  rp_dist_blocks(n, NULL, size, off);
  int32_t lo = (int32_t)off[me], cnt = (int32_t)(off[me + 1] - off[me]);
  int rc = cnt > 0 ? rec->recommend(rec->self, users + lo, cnt, k, excl, threads,
                                    items + (size_t)lo * (size_t)k, scores + (size_t)lo * (size_t)k,
                                    counts + lo, err)
                   : RP_OK;
  if (rc == RP_OK) rc = rp_dist_allgather_rows(items, sizeof(int32_t) * (size_t)k, off, err);
  if (rc == RP_OK) rc = rp_dist_allgather_rows(counts, sizeof(int32_t), off, err);
  rp_free(off);
  return rc;
}

int rp_metrics_evaluate(const rp_recommender *rec, const rp_csr *train, const rp_csr *test,
                        const rp_metrics_opts *o, rp_metrics_result **out, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  *out = NULL;
  if (!rec || !rec->recommend) return rp_errf(err, RP_EINVAL, "no recommender");
  if (rp_metrics_check(train, test, o, err)) return err->status;
  if (check_maps(rec->items, test->colmap, "the recommender and the test matrix items", err))
    return err->status;
  if (o->ratings && !rec->predict)
    return rp_errf(err, RP_EINVAL,
                   "rmse and mae need a recommender that predicts values ('%s' does not)",
                   rec->name ? rec->name : "?");
  int32_t *users = NULL, n = 0;
  if (rp_metrics_users(test, o, &users, &n, err)) return err->status;
  int32_t k = o->k, batch = o->batch > 0 ? o->batch : 16384;
  batch = (batch + CHUNK - 1) / CHUNK * CHUNK;
  if (batch > n) batch = n > 0 ? n : 1;
  int threads = rp_threads(o->threads);
  state s;
  int32_t *items = NULL, *counts = NULL;
  float *scores = NULL, *pred = NULL;
  int rc = state_init(&s, train, test, o, users, n, batch, err);
  rp_free(users);
  int ok = 1;
  size_t lk = rp_mulsize((size_t)batch, (size_t)k, &ok);
  if (rc == RP_OK) {
    items = ok ? rp_malloc(lk * sizeof *items) : NULL;
    scores = ok ? rp_malloc(lk * sizeof *scores) : NULL;
    counts = rp_malloc((size_t)batch * sizeof *counts);
    if (!items || !scores || !counts) rc = rp_enomem(err, "recommendation lists");
  }
  const rp_csr *excl = o->exclude_train ? train : NULL;
  double trec = 0, tmet = 0;
  for (int32_t pos = 0; rc == RP_OK && pos < n; pos += batch) {
    int32_t bn = n - pos < batch ? n - pos : batch;
    double t0 = rp_now();
    rc =
        recommend_batch(rec, s.r->users + pos, bn, k, excl, o->threads, items, scores, counts, err);
    double t1 = rp_now();
    trec += t1 - t0;
    if (rc == RP_OK) {
      for (int32_t i = 0; i < bn; i++) s.r->unknown_users += s.r->users[pos + i] >= rec->nusers;
      rc = score_batch(&s, pos, bn, items, counts, threads, err);
    }
    tmet += rp_now() - t1;
    rp_progress("evaluate", pos + bn, n, pos + bn >= n);
  }
  if (rc == RP_OK && o->ratings) {
    double t0 = rp_now();
    rc = predict_all(rec, &s, o->threads, &pred, err);
    trec += rp_now() - t0;
    if (rc == RP_OK) score_ratings(&s, pred);
  }
  double t2 = rp_now();
  if (rc == RP_OK) rc = finalize(&s, err);
  tmet += rp_now() - t2;
  rp_free(items);
  rp_free(scores);
  rp_free(counts);
  rp_free(pred);
  if (rc) {
    rp_metrics_result_free(s.r);
    state_free(&s);
    return rc;
  }
  s.r->seconds_recommend = trec;
  s.r->seconds_metrics = tmet;
  *out = s.r;
  state_free(&s);
  return RP_OK;
}

int rp_metrics_score(const rp_recommender *rec, const rp_csr *train, const rp_csr *test, int32_t k,
                     int metric, int threads, double *value, rp_err *err) {
  rp_err ebuf;
  if (!err) err = &ebuf;
  *value = RP_NAN;
  if (metric < 0 || metric >= RP_M_COUNT)
    return rp_errf(err, RP_EINVAL, "unknown metric id %d", metric);
  rp_metrics_opts o;
  rp_metrics_opts_init(&o);
  o.k = k;
  o.threads = threads;
  o.ratings = metric == RP_M_RMSE || metric == RP_M_MAE;
  rp_metrics_result *r;
  if (rp_metrics_evaluate(rec, train, test, &o, &r, err)) return err->status;
  *value = r->mean[metric];
  rp_metrics_result_free(r);
  return RP_OK;
}

/* ---- statistics over subsets of users ---------------------------------------- */
double rp_metrics_stat(const rp_metrics_result *r, int metric, const int32_t *idx, int32_t n) {
  double a = 0, b = 0;
  if (metric >= 0 && metric < RP_M_NPER) {
    for (int32_t j = 0; j < n; j++) {
      double v = r->per_user[(size_t)idx[j] * RP_M_NPER + metric];
      if (!isnan(v)) a += v, b += 1;
    }
    return b > 0 ? a / b : RP_NAN;
  }
  switch (metric) {
    case RP_M_PRECISION_POOLED:
      for (int32_t j = 0; j < n; j++) a += r->hits[idx[j]], b += r->m[idx[j]];
      return b > 0 ? a / b : RP_NAN;
    case RP_M_RMSE:
    case RP_M_MAE:
      if (!r->se) return RP_NAN;
      for (int32_t j = 0; j < n; j++)
        a += metric == RP_M_RMSE ? r->se[idx[j]] : r->ae[idx[j]], b += r->nrated[idx[j]];
      return b > 0 ? (metric == RP_M_RMSE ? sqrt(a / b) : a / b) : RP_NAN;
    default:
      return RP_NAN;
  }
}
