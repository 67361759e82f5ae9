/*
 * model.c -- the ALS model object: options, allocation, reference
 * counting, the caches, the recommender interface, matrix fingerprints.
 */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "als_impl.h"

/* the enum name tables, in the order of the RP_ALS_* values */
const char *const rp_als_confidence_names[] = {"linear", "hu", "log", NULL};
const char *const rp_als_reg_mode_names[] = {"fixed", "frequency", "auto", NULL};
const char *const rp_als_solver_names[] = {"cg", "cholesky", "auto", NULL};

const char *rp_als_confidence_name(int c) {
  return c >= 0 && c <= RP_ALS_CONF_LOG ? rp_als_confidence_names[c] : "?";
}
const char *rp_als_reg_mode_name(int m) {
  return m >= 0 && m <= RP_ALS_REG_AUTO ? rp_als_reg_mode_names[m] : "?";
}
const char *rp_als_solver_name(int s) {
  return s >= 0 && s <= RP_ALS_SOLVER_AUTO ? rp_als_solver_names[s] : "?";
}

/* Options are used in float arithmetic (factors, confidences, lambda), so
 * the ranges are float ones: a value that is finite as a double can still
 * be infinite once it is a float. */
#define O rp_als_opts
#define FLOAT "it is used as a float"
const rp_optdesc rp_als_train_optdesc[] = {
    RP_OPT_I(O, factors, "factors", 100, 1, 4096),
    RP_OPT_NW(O, regularization, "regularization", 0.01, 0, FLT_MAX, 0, FLOAT),
    RP_OPT_I(O, iterations, "iterations", 15, 0, 1000000),
    RP_OPT_NW(O, alpha, "alpha", 1.0, 0, FLT_MAX, RP_OPT_LO_OPEN, FLOAT),
    RP_OPT_E(O, confidence, "confidence", RP_ALS_CONF_LINEAR, rp_als_confidence_names),
    RP_OPT_N(O, eps, "eps", 1.0, 0, HUGE_VAL, RP_OPT_LO_OPEN),
    RP_OPT_E(O, reg_mode, "regularization_mode", RP_ALS_REG_AUTO, rp_als_reg_mode_names),
    RP_OPT_E(O, solver, "solver", RP_ALS_SOLVER_AUTO, rp_als_solver_names),
    RP_OPT_I(O, cg_steps, "cg_steps", 3, 1, 1000),
    RP_OPT_B(O, implicit, "implicit", 1),
    RP_OPT_B(O, nonnegative, "nonnegative", 0),
    RP_OPT_I(O, threads, "threads", 0, 0, 4096),
    RP_OPT_SEED_(O, seed, "seed", 42),
    RP_OPT_N(O, init_scale, "init_scale", 0.01, 0, HUGE_VAL, 0),
    RP_OPT_X("init", "an ALS model whose factors training starts from"),
    RP_OPT_X("validation", "a table {test = Matrix, k = 10, metric, patience = 3}"),
    RP_OPT_X("on_iteration", "a function(iteration, info)"),
    RP_OPT_X("calculate_loss", "a boolean (default: true with on_iteration)"),
    RP_OPT_END};
#undef O
#undef FLOAT

void rp_als_opts_default(rp_als_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_als_train_optdesc, o);
}

void rp_als_opts_resolve(rp_als_opts *o) {
  if (o->reg_mode == RP_ALS_REG_AUTO)
    o->reg_mode = o->implicit ? RP_ALS_REG_FIXED : RP_ALS_REG_FREQUENCY;
  if (o->solver == RP_ALS_SOLVER_AUTO) o->solver = o->implicit ? RP_ALS_CG : RP_ALS_CHOLESKY;
}

int rp_als_opts_check(const rp_als_opts *o, rp_err *err) {
  int rc = rp_opts_check(rp_als_train_optdesc, o, err);
  if (rc) return rc;
  /* the first scores x.y of two initial rows reach factors * init_scale^2 */
  double scale_max = sqrt((double)FLT_MAX / (double)o->factors);
  if (!isfinite(o->init_scale) || o->init_scale < 0 || o->init_scale > scale_max)
    return rp_errf(err, RP_EINVAL,
                   "init_scale must be a number in [0, %.3g] (factors x init_scale^2 must be a "
                   "finite float), got %g",
                   scale_max, o->init_scale);
  return RP_OK;
}

static int model_recommend(void *self, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *exclude, int threads, int32_t *out_items,
                           float *out_scores, int32_t *out_n, rp_err *err) {
  return rp_als_recommend_batch(self, users, n, k, exclude, threads, out_items, out_scores, out_n,
                                err);
}

/* One request: a user with factors is scored from them (its row of
 * exclude skipped); anyone else with a history in the request gets it
 * folded in (the exact half-step of rp_als_foldin) and never gets those
 * items back.  Nothing for a user with neither. */
static int model_one(void *self, const rp_rec_query *q, int32_t k, int32_t *items, float *scores,
                     int32_t *n, rp_err *err) {
  const rp_als_model *m = self;
  rp_als_list ex[RP_ALS_MAX_EXCL], allow = {q->allow, q->nallow};
  int nex = 0, rc;
  *n = 0;
  if (q->deny) ex[nex].idx = q->deny, ex[nex++].n = q->ndeny;
  rp_als_model_rdlock(m);
  if (rp_als_knows_user_locked(m, q->user)) {
    const rp_csr *x = q->exclude;
    if (x && q->user < x->nrows) {
      ex[nex].idx = x->indices + x->indptr[q->user];
      ex[nex++].n = x->indptr[q->user + 1] - x->indptr[q->user];
    }
    rc = rp_als_user_topk_locked(m, q->user, k, ex, nex, q->allow ? &allow : NULL, 0, items, scores,
                                 n, err);
    rp_als_model_unlock(m);
    return rc;
  }
  rp_als_model_unlock(m);
  if (q->nhist <= 0) return RP_OK;
  float *x = rp_malloc(sizeof(float) * (size_t)m->factors);
  int32_t *seen = rp_malloc(sizeof(int32_t) * (size_t)q->nhist);
  if (!x || !seen) {
    rc = rp_enomem(err, "fold-in");
  } else {
    rp_als_model_rdlock(m);
    if (!(rc = rp_als_foldin_locked(m, q->hist, q->hval, q->nhist, x, err))) {
      memcpy(seen, q->hist, sizeof(int32_t) * (size_t)q->nhist);
      ex[nex].idx = seen, ex[nex++].n = rp_als_sort_unique(seen, q->nhist);
      rc = rp_als_topk_locked(m, x, k, ex, nex, q->allow ? &allow : NULL, items, scores, n, err);
    }
    rp_als_model_unlock(m);
  }
  rp_free(x);
  rp_free(seen);
  return rc;
}

/* Factor rows are read in random order (the gathers of training, fold-in):
 * with 4 KiB pages nearly every row costs a TLB miss once the matrix passes
 * a few MiB, so ask for transparent huge pages on the aligned interior of
 * big blocks (a hint: nothing changes where THP is off). */
static void want_hugepages(void *p, size_t n) {
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), b = ((uintptr_t)p + n) & ~(huge - 1);
  if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
}

static int model_predict(void *self, const int32_t *users, const int32_t *items, int64_t n,
                         int threads, float *out, rp_err *err) {
  const rp_als_model *m = self;
  (void)err;
  int32_t f = m->factors;
  rp_als_model_rdlock(m);
#pragma omp parallel for schedule(static) num_threads(rp_threads(threads)) if (n > 4096)
  for (int64_t a = 0; a < n; a++) {
    int32_t u = users[a], i = items[a];
    out[a] = u >= 0 && u < m->nusers && i >= 0 && i < m->nitems
                 ? rp_als_dot(m->user_factors + (int64_t)u * f, m->item_factors + (int64_t)i * f, f)
                 : 0.0f;
  }
  rp_als_model_unlock(m);
  return RP_OK;
}

rp_als_model *rp_als_model_new(int32_t nusers, int32_t nitems, int32_t factors, rp_idmap *users,
                               rp_idmap *items, rp_err *err) {
  if (nusers < 0 || nitems < 0 || factors < 1) {
    rp_errf(err, RP_EINVAL, "bad model shape %d x %d, %d factors", (int)nusers, (int)nitems,
            (int)factors);
    return NULL;
  }
  int ok = 1;
  size_t nu = rp_mulsize((size_t)nusers, (size_t)factors, &ok);
  size_t ni = rp_mulsize((size_t)nitems, (size_t)factors, &ok);
  float *uf = ok ? rp_calloc(nu ? nu : 1, sizeof(float)) : NULL;
  float *itf = ok ? rp_calloc(ni ? ni : 1, sizeof(float)) : NULL;
  if (!uf || !itf) {
    rp_free(uf);
    rp_free(itf);
    rp_enomem(err, "als factors");
    return NULL;
  }
  return rp_als_model_adopt(nusers, nitems, factors, users, items, uf, itf, err);
}

rp_als_model *rp_als_model_adopt(int32_t nusers, int32_t nitems, int32_t factors, rp_idmap *users,
                                 rp_idmap *items, float *user_factors, float *item_factors,
                                 rp_err *err) {
  size_t nu = (size_t)nusers * (size_t)factors, ni = (size_t)nitems * (size_t)factors;
  rp_als_model *m = rp_calloc(1, sizeof *m);
  float *yty = rp_calloc((size_t)factors * (size_t)factors, sizeof(float));
  if (!m || !yty) {
    rp_free(user_factors);
    rp_free(item_factors);
    rp_free(yty);
    rp_free(m);
    rp_enomem(err, "als factors");
    return NULL;
  }
  m->user_factors = user_factors;
  m->item_factors = item_factors;
  m->yty = yty;
  want_hugepages(m->user_factors, sizeof(float) * nu);
  want_hugepages(m->item_factors, sizeof(float) * ni);
  pthread_mutex_init(&m->lock, NULL);
  /* writer-preferring: glibc's default lock lets a stream of readers
   * (recommend calls of every worker) starve a refit waiting to write */
  pthread_rwlockattr_t rwa;
  pthread_rwlockattr_init(&rwa);
#ifdef __GLIBC__
  pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  pthread_rwlock_init(&m->rw, &rwa);
  pthread_rwlockattr_destroy(&rwa);
  pthread_mutex_init(&m->wlock, NULL);
  m->user_cap = nusers;
  m->item_cap = nitems;
  m->factors = factors;
  m->nusers = nusers;
  m->nitems = nitems;
  m->users = users ? rp_idmap_retain(users) : NULL;
  m->items = items ? rp_idmap_retain(items) : NULL;
  rp_als_opts_default(&m->opts);
  rp_als_opts_resolve(&m->opts); /* a model holds a resolved mode */
  m->opts.factors = factors;
  m->loss = NAN;
  atomic_init(&m->refs, 1);
  m->rec.name = "als";
  m->rec.self = m;
  m->rec.users = m->users;
  m->rec.items = m->items;
  m->rec.nusers = nusers;
  m->rec.nitems = nitems;
  m->rec.recommend = model_recommend;
  m->rec.predict = model_predict;
  m->rec.one = model_one;
  return m;
}

rp_als_model *rp_als_model_retain(rp_als_model *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

#include "screen.h"

static void drop_caches(rp_als_model *m) {
  rp_free(m->user_norms);
  rp_free(m->item_norms);
  rp_als_screen_free(m->screen);
  rp_als_untrained_free(m->untrained);
  m->user_norms = m->item_norms = NULL;
  m->screen = m->untrained = NULL;
}

void rp_als_model_free(rp_als_model *m) {
  if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) > 1) return;
  drop_caches(m);
  rp_als_sessions_free(m->sessions);
  rp_free(m->user_factors);
  rp_free(m->item_factors);
  rp_free(m->yty);
  rp_idmap_release(m->users);
  rp_idmap_release(m->items);
  while (m->retired) {
    rp_als_retired *r = m->retired;
    m->retired = r->next;
    rp_free(r->p);
    rp_free(r);
  }
  pthread_mutex_destroy(&m->lock);
  pthread_rwlock_destroy(&m->rw);
  pthread_mutex_destroy(&m->wlock);
  rp_free(m);
}

int rp_als_model_refresh(rp_als_model *m, rp_err *err) {
  drop_caches(m);
  int saved = rp_als_blas_begin();
  int rc = rp_als_gram(m->item_factors, m->nitems, m->factors, m->opts.threads, m->yty, err);
  rp_als_blas_end(saved);
  return rc;
}

size_t rp_als_model_bytes(const rp_als_model *m) {
  size_t f = (size_t)m->factors;
  size_t b = sizeof *m + sizeof(float) * f * ((size_t)m->nusers + (size_t)m->nitems + f);
  if (m->user_norms) b += sizeof(float) * (size_t)m->nusers;
  if (m->item_norms) b += sizeof(float) * (size_t)m->nitems;
  return b;
}

void rp_als_model_rdlock(const rp_als_model *m) {
  pthread_rwlock_rdlock((pthread_rwlock_t *)&m->rw);
}
void rp_als_model_unlock(const rp_als_model *m) {
  pthread_rwlock_unlock((pthread_rwlock_t *)&m->rw);
}

int rp_als_model_knows_user(const rp_als_model *m, int32_t u) {
  rp_als_model_rdlock(m);
  int r = rp_als_knows_user_locked(m, u);
  rp_als_model_unlock(m);
  return r;
}

int rp_als_model_has_factors(const rp_als_model *m, int which, int32_t r) {
  if (which) return rp_als_model_knows_user(m, r);
  rp_als_model_rdlock(m);
  int has = 0;
  if (r >= 0 && r < m->nitems)
    for (int32_t d = 0; d < m->factors && !has; d++)
      has = m->item_factors[(int64_t)r * m->factors + d] != 0;
  rp_als_model_unlock(m);
  return has;
}

int rp_als_knows_user_locked(const rp_als_model *m, int32_t u) {
  if (u < 0 || u >= m->nusers) return 0;
  const float *x = m->user_factors + (int64_t)u * m->factors;
  for (int32_t d = 0; d < m->factors; d++)
    if (x[d] != 0) return 1;
  return 0;
}

/* FNV-1a over 8-byte words, finished with SplitMix64: fast, and any change
 * of shape, structure or a value's bits changes it (with high probability). */
static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, c + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t rp_als_fingerprint(const rp_csr *m) {
  uint64_t h = 0xcbf29ce484222325ULL;
  int64_t shape[3] = {m->nrows, m->ncols, m->nnz};
  h = mix(h, shape, sizeof shape);
  h = mix(h, m->indptr, sizeof(int64_t) * ((size_t)m->nrows + 1));
  h = mix(h, m->indices, sizeof(int32_t) * (size_t)m->nnz);
  h = mix(h, m->data, sizeof(float) * (size_t)m->nnz);
  return rp_hash64(h);
}

int rp_als_maps_compatible(const rp_idmap *a, const rp_idmap *b) {
  if (!a || !b) return 1;
  return a->n <= b->n ? rp_idmap_is_prefix(a, b) : rp_idmap_is_prefix(b, a);
}
