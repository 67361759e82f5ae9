/*
 * train.c -- the ALS training loop.
 *
 * Each iteration solves every user against the item factors, then every
 * item against the new user factors (implicit's order).  A half-iteration:
 * G = Y^T Y with all threads (gram.c), then the rows in parallel, dynamic
 * schedule, each row solved independently into its own factor row with
 * per-thread scratch, so a row's result never depends on which thread
 * computed it or when: the factors are bit-identical for any thread count.
 *
 * Under MPI (dist.h) every rank holds the whole matrix and both factor
 * matrices; a half-step solves only the rank's block of rows (contiguous,
 * cut once by work: the row's values plus a share for its f x f solve),
 * then the blocks are all-gathered, and G is summed by rp_als_gram_dist in
 * the single-process order.  A row's solve reads only G, the other side's
 * factors and its own previous factors, all bit-identical on every rank,
 * so the factors are those of one process for any number of ranks.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "als_impl.h"
#include "dist.h"

/* The initial factors, from a per-row stream (they depend on (seed, side,
 * row) only): implicit mode, implicit's uniform [0, init_scale); explicit
 * mode, Spark's ALS.initialize: Gaussian entries (as floats; their
 * absolute values with nonnegative, a start inside the feasible set), the
 * row scaled to unit norm. */
static void init_rows(float *F, int32_t rows, int32_t f, uint64_t seed, uint64_t side,
                      const rp_als_opts *o) {
  for (int32_t r = 0; r < rows; r++) {
    rp_rng g;
    rp_rng_seed(&g, seed, 2 * (uint64_t)r + side);
    float *x = F + (int64_t)r * f;
    if (o->implicit) {
      for (int32_t d = 0; d < f; d++) x[d] = (float)(rp_rng_uniform(&g) * o->init_scale);
      continue;
    }
    double nrm = 0;
    for (int32_t d = 0; d < f; d++) {
      x[d] = (float)rp_rng_normal(&g);
      if (o->nonnegative) x[d] = fabsf(x[d]);
      nrm += (double)x[d] * (double)x[d];
    }
    double s = nrm > 0 ? 1 / sqrt(nrm) : 0;
    for (int32_t d = 0; d < f; d++) x[d] = (float)((double)x[d] * s);
  }
}

/* Copies rows of a previous model onto ours: by index when both sides use
 * the same map object, by external id otherwise (rows without a match keep
 * their random start). */
static void warm_rows(float *F, int32_t rows, const rp_idmap *map, const float *P, int32_t prows,
                      const rp_idmap *pmap, int32_t f) {
  size_t bytes = sizeof(float) * (size_t)f;
  if (map == pmap || !map || !pmap) {
    int32_t n = rows < prows ? rows : prows;
    memcpy(F, P, bytes * (size_t)n);
    return;
  }
  for (int32_t r = 0; r < rows && r < map->n; r++) {
    size_t len;
    const char *id = rp_idmap_id(map, r, &len);
    int32_t q = rp_idmap_find(pmap, id, len);
    if (q >= 0 && q < prows) memcpy(F + (int64_t)r * f, P + (int64_t)q * f, bytes);
  }
}

typedef struct trainer {
  const rp_als_opts *o;
  int nt;
  rp_als_scratch *sc; /* nt */
  float *G;
  atomic_long bad_row;  /* lowest row whose Cholesky failed + 1 (0 = none) */
  atomic_long nan_row;  /* lowest row solved to a non-finite factor + 1 (0 = none) */
  int size, rank;       /* MPI ranks (1, 0 in one process) */
  int64_t *uoff, *ioff; /* size + 1 row offsets: each rank's block of users, items */
} trainer;

static int all_finite(const float *x, int32_t f) {
  for (int32_t d = 0; d < f; d++)
    if (!isfinite(x[d])) return 0;
  return 1;
}

/* lowers *a to v */
static void atomic_min_long(atomic_long *a, long v) {
  long cur = atomic_load(a);
  while ((cur == 0 || v < cur) && !atomic_compare_exchange_weak(a, &cur, v)) {
  }
}

/* A row solved to a non-finite factor (what float overflow gives when the
 * confidences, lambda or the initial factors are too large for the data):
 * training stops naming the side, the row and the iteration. */
static int nonfinite_row(const rp_csr *m, long row, const char *side, int32_t it, rp_err *err) {
  char id[96] = "";
  if (m->rowmap && row < m->rowmap->n) {
    size_t len;
    const char *s = rp_idmap_id(m->rowmap, (int32_t)row, &len);
    snprintf(id, sizeof id, " '%.*s'", (int)(len > 60 ? 60 : len), s);
  }
  return rp_errf(err, RP_EINVAL,
                 "iteration %d: %s%s (row %ld) got non-finite factors: the float arithmetic "
                 "overflowed; lower alpha, regularization or init_scale, or scale the values",
                 (int)it, side, id, row + 1);
}

/* X[rows of m] <- solve against Y (ny x f), this rank's rows off[rank] ..
 * off[rank + 1] then every rank's; side names m's rows and it the
 * iteration, for messages */
static int half_step(trainer *t, const rp_csr *m, float *X, const float *Y, int32_t ny,
                     const int64_t *off, const char *sidename, int32_t it, rp_err *err) {
  const rp_als_opts *o = t->o;
  int32_t f = o->factors;
  if (o->implicit) {
    int rc = t->size > 1 ? rp_als_gram_dist(Y, ny, f, t->nt, t->G, err)
                         : rp_als_gram(Y, ny, f, t->nt, t->G, err);
    if (rc) return rc;
  }
  int32_t lo = (int32_t)off[t->rank], hi = (int32_t)off[t->rank + 1];
  rp_als_side side = {o, f, Y, ny, o->implicit ? t->G : NULL};
  atomic_store(&t->bad_row, 0);
  atomic_store(&t->nan_row, 0);
  int chol = o->solver == RP_ALS_CHOLESKY;
#pragma omp parallel num_threads(t->nt)
  {
    rp_als_scratch *sc = &t->sc[omp_get_thread_num()];
    if (omp_get_thread_num() == 0) rp_als_blas_note();
#pragma omp for schedule(dynamic, 32)
    for (int32_t u = lo; u < hi; u++) {
      int64_t a = m->indptr[u], n = m->indptr[u + 1] - a;
      float *x = X + (int64_t)u * f;
      sc->next = NULL, sc->nnext = 0;
      if (u + 1 < m->nrows) {
        int64_t nn = m->indptr[u + 2] - m->indptr[u + 1];
        sc->next = m->indices + m->indptr[u + 1];
        sc->nnext = nn < RP_ALS_PREFETCH_ROWS ? nn : RP_ALS_PREFETCH_ROWS;
      }
      if (o->nonnegative) {
        int info = rp_als_solve_exact(&side, m->indices + a, m->data + a, n, x, sc);
        if (info < 0) memset(x, 0xff, sizeof(float) * (size_t)f); /* overflow: NaN, below */
        if (info > 0) atomic_min_long(&t->bad_row, (long)u + 1);
      } else if (chol) {
        /* explicit rows are short: their system is solved in double */
        int info = o->implicit ? rp_als_solve_cholesky(&side, m->indices + a, m->data + a, n, x, sc)
                               : rp_als_solve_exact(&side, m->indices + a, m->data + a, n, x, sc);
        if (info < 0) memset(x, 0xff, sizeof(float) * (size_t)f); /* overflow: NaN, below */
        if (info > 0) atomic_min_long(&t->bad_row, (long)u + 1);  /* the lowest, for any threads */
      } else {
        rp_als_solve_cg(&side, m->indices + a, m->data + a, n, x, sc);
      }
      if (!all_finite(x, f)) atomic_min_long(&t->nan_row, (long)u + 1);
    }
  }
  long bad = atomic_load(&t->bad_row);
  if (bad) {
    size_t len = 0;
    const char *id = m->rowmap && bad - 1 < m->rowmap->n
                         ? rp_idmap_id(m->rowmap, (int32_t)(bad - 1), &len)
                         : "?";
    return rp_errf(err, RP_EINVAL,
                   "cholesky failed on row %ld ('%s'): the normal matrix is not positive "
                   "definite; increase regularization",
                   bad, id);
  }
  long nan_row = atomic_load(&t->nan_row);
  if (nan_row) return nonfinite_row(m, nan_row - 1, sidename, it, err);
  if (t->size > 1) return rp_dist_allgather_rows(X, sizeof(float) * (size_t)f, off, err);
  return RP_OK;
}

/* X <- s X, Y <- Y / s with s^2 = sqrt(B / A), A and B the regularization
 * terms of X and Y: the scores stay, the objective's penalty s^2 A + B / s^2
 * is at its minimum over s. */
static void balance(rp_als_model *m, const rp_csr *ui, const rp_csr *iu, const rp_als_opts *o) {
  int32_t f = m->factors;
  double A = 0, B = 0;
  for (int32_t u = 0; u < m->nusers; u++) {
    double w = (double)rp_als_lambda(o, rp_csr_rowlen(ui, u));
    A += w *
         (double)rp_als_dot(m->user_factors + (int64_t)u * f, m->user_factors + (int64_t)u * f, f);
  }
  for (int32_t i = 0; i < m->nitems; i++) {
    double w = (double)rp_als_lambda(o, rp_csr_rowlen(iu, i));
    B += w *
         (double)rp_als_dot(m->item_factors + (int64_t)i * f, m->item_factors + (int64_t)i * f, f);
  }
  if (!(A > 0) || !(B > 0)) return;
  double s = sqrt(sqrt(B / A));
  for (int64_t e = 0; e < (int64_t)m->nusers * f; e++)
    m->user_factors[e] = (float)((double)m->user_factors[e] * s);
  for (int64_t e = 0; e < (int64_t)m->nitems * f; e++)
    m->item_factors[e] = (float)((double)m->item_factors[e] / s);
}

/* off[0..size]: blocks of m's rows of about equal work per rank */
static int row_blocks(const rp_csr *m, int32_t f, int size, int64_t *off, rp_err *err) {
  if (size == 1) {
    off[0] = 0, off[1] = m->nrows;
    return RP_OK;
  }
  int64_t *work = rp_malloc(((size_t)m->nrows + 1) * sizeof *work);
  if (!work) return rp_enomem(err, "als row blocks");
  for (int32_t r = 0; r < m->nrows; r++) work[r] = 2 * rp_csr_rowlen(m, r) + f;
  rp_dist_blocks(m->nrows, work, size, off);
  rp_free(work);
  return RP_OK;
}

/* The model's creation time: now, or SOURCE_DATE_EPOCH when set to Unix
 * seconds (the reproducible-builds convention), so that two trainings of
 * the same data, on 1 or N processes, write byte-identical model files. */
static int64_t created_time(void) {
  const char *s = getenv("SOURCE_DATE_EPOCH");
  if (s && *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*end && !errno && v >= 0) return (int64_t)v;
    rp_log(RP_LOG_WARN, "als: SOURCE_DATE_EPOCH '%.40s' is not Unix seconds; using the time now",
           s);
  }
  return (int64_t)time(NULL);
}

/* the most values in a row or a column of ui */
static int64_t longest_line(const rp_csr *ui) {
  int64_t longest = 0;
  for (int32_t r = 0; r < ui->nrows; r++)
    if (rp_csr_rowlen(ui, r) > longest) longest = rp_csr_rowlen(ui, r);
  int64_t *cnt = rp_malloc(((size_t)ui->ncols + 1) * sizeof *cnt);
  if (!cnt) return ui->nnz; /* a bound */
  rp_csr_col_counts(ui, cnt);
  for (int32_t c = 0; c < ui->ncols; c++)
    if (cnt[c] > longest) longest = cnt[c];
  rp_free(cnt);
  return longest;
}

static int check_input(const rp_csr *ui, const rp_als_opts *o, const rp_als_hooks *h, rp_err *err) {
  int rc = rp_als_opts_check(o, err);
  if (rc) return rc;
  if (ui->nrows < 1 || ui->ncols < 1)
    return rp_errf(err, RP_EINVAL, "cannot train on an empty %d x %d matrix", (int)ui->nrows,
                   (int)ui->ncols);
  float vmax = 0;
  for (int64_t e = 0; e < ui->nnz; e++) {
    if (!isfinite(ui->data[e]))
      return rp_errf(err, RP_EINVAL, "matrix value %lld is not finite", (long long)e);
    if (fabsf(ui->data[e]) > vmax) vmax = fabsf(ui->data[e]);
  }
  /* the options against the data, in float as the solvers use them */
  if (o->implicit && !isfinite(rp_als_conf(o, vmax)))
    return rp_errf(err, RP_EINVAL,
                   "alpha %g with confidence '%s' overflows float: the matrix's largest value "
                   "%g gets an infinite confidence",
                   o->alpha, rp_als_confidence_name(o->confidence), (double)vmax);
  if (o->reg_mode == RP_ALS_REG_FREQUENCY &&
      (double)o->regularization * (double)ui->nnz > (double)FLT_MAX) {
    int64_t longest = longest_line(ui);
    if (!isfinite(rp_als_lambda(o, longest)))
      return rp_errf(err, RP_EINVAL,
                     "regularization %g overflows float with regularization_mode 'frequency': "
                     "times the %lld values of the longest row or column it is infinite",
                     o->regularization, (long long)longest);
  }
  if (o->solver == RP_ALS_CHOLESKY && o->regularization == 0 && !o->implicit)
    rp_log(RP_LOG_WARN, "als: explicit Cholesky without regularization may fail on short rows");
  if (!h) return RP_OK;
  if (h->init && h->init->factors != o->factors)
    return rp_errf(err, RP_EINVAL, "init model has %d factors, training asks for %d",
                   (int)h->init->factors, (int)o->factors);
  if (h->test) {
    if (h->k < 1) return rp_errf(err, RP_EINVAL, "validation k must be >= 1, got %d", (int)h->k);
    if (h->patience < 1)
      return rp_errf(err, RP_EINVAL, "validation patience must be >= 1, got %d", (int)h->patience);
    if ((rc = rp_als_metric_check(h->metric, o->implicit, err))) return rc;
  }
  return RP_OK;
}

/* gather blocks as long as the longest row (either orientation), capped */
static int64_t block_cap(const rp_csr *ui, const rp_csr *iu, int32_t f) {
  int64_t longest = 0;
  for (int32_t r = 0; r < ui->nrows; r++)
    if (rp_csr_rowlen(ui, r) > longest) longest = rp_csr_rowlen(ui, r);
  if (iu) {
    for (int32_t r = 0; r < iu->nrows; r++)
      if (rp_csr_rowlen(iu, r) > longest) longest = rp_csr_rowlen(iu, r);
  } else {
    int64_t *cnt = rp_malloc(((size_t)ui->ncols + 1) * sizeof *cnt);
    if (cnt) {
      rp_csr_col_counts(ui, cnt);
      for (int32_t c = 0; c < ui->ncols; c++)
        if (cnt[c] > longest) longest = cnt[c];
      rp_free(cnt);
    }
  }
  int64_t cap = rp_als_block_rows(f);
  return longest < cap ? (longest > 0 ? longest : 1) : cap;
}

size_t rp_als_train_memory(const rp_csr *ui, const rp_als_opts *o, int validation) {
  size_t f = (size_t)o->factors, nt = (size_t)rp_threads(o->threads);
  if (nt > RP_ALS_MAX_THREADS) nt = RP_ALS_MAX_THREADS;
  size_t rows = (size_t)ui->nrows, cols = (size_t)ui->ncols, nnz = (size_t)ui->nnz;
  int ok = 1;
  size_t transpose = 8 * (cols + 1) + 8 * nnz + 8 * nt * (cols + 1); /* + its counting buffer */
  size_t factors = 4 * f * (rows + cols);
  size_t scratch = 4 * nt * rp_als_scratch_floats(o->factors, block_cap(ui, NULL, o->factors), &ok);
  size_t small = 4 * f * f * (1 + 1 + 17) + sizeof(rp_als_model); /* yty, G, Gram partials */
  return transpose + factors + scratch + small + (validation ? factors : 0);
}

int rp_als_train(const rp_csr *ui, const rp_als_opts *opts, const rp_als_hooks *hooks,
                 rp_als_model **out, rp_err *err) {
  *out = NULL;
  rp_als_opts o = *opts;
  rp_als_opts_resolve(&o);
  int rc = check_input(ui, &o, hooks, err);
  if (rc) return rc;
  rp_als_hooks none;
  memset(&none, 0, sizeof none);
  const rp_als_hooks *h = hooks ? hooks : &none;
  int32_t f = o.factors;
  trainer t;
  memset(&t, 0, sizeof t);
  t.o = &o;
  t.nt = rp_threads(o.threads);
  if (t.nt > RP_ALS_MAX_THREADS) t.nt = RP_ALS_MAX_THREADS; /* each has its own scratch */
  rp_csr *iu = NULL;
  rp_als_model *m = NULL;
  float *best = NULL;
  int saved = rp_als_blas_begin();

  iu = rp_csr_transpose(ui, o.threads, err);
  if (!iu) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  m = rp_als_model_new(ui->nrows, ui->ncols, f, ui->rowmap, ui->colmap, err);
  if (!m) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  m->opts = o;
  t.G = rp_malloc(sizeof(float) * (size_t)f * (size_t)f);
  t.sc = rp_calloc((size_t)t.nt, sizeof *t.sc);
  if (!t.G || !t.sc) {
    rc = rp_enomem(err, "als training state");
    goto done;
  }
  t.size = rp_dist_size(), t.rank = rp_dist_rank();
  t.uoff = rp_malloc(2 * ((size_t)t.size + 1) * sizeof *t.uoff);
  if (!t.uoff) {
    rc = rp_enomem(err, "als row blocks");
    goto done;
  }
  t.ioff = t.uoff + t.size + 1;
  if ((rc = row_blocks(ui, f, t.size, t.uoff, err)) ||
      (rc = row_blocks(iu, f, t.size, t.ioff, err)))
    goto done;
  int64_t cap = block_cap(ui, iu, f);
  for (int i = 0; i < t.nt; i++)
    if ((rc = rp_als_scratch_init(&t.sc[i], f, cap, err))) goto done;

  init_rows(m->user_factors, m->nusers, f, o.seed, 0, &o);
  init_rows(m->item_factors, m->nitems, f, o.seed, 1, &o);
  if (h->init) {
    warm_rows(m->user_factors, m->nusers, m->users, h->init->user_factors, h->init->nusers,
              h->init->users, f);
    warm_rows(m->item_factors, m->nitems, m->items, h->init->item_factors, h->init->nitems,
              h->init->items, f);
  }
  size_t xbytes = sizeof(float) * (size_t)f * (size_t)m->nusers;
  size_t ybytes = sizeof(float) * (size_t)f * (size_t)m->nitems;
  if (h->test && !(best = rp_malloc(xbytes + ybytes + 1))) {
    rc = rp_enomem(err, "validation copy of the factors");
    goto done;
  }

  int lower_better = rp_als_metric_lower_is_better(h->metric);
  double best_score = NAN;
  int32_t best_it = 0, it;
  for (it = 1; it <= o.iterations; it++) {
    double t0 = rp_now();
    if ((rc = half_step(&t, ui, m->user_factors, m->item_factors, m->nitems, t.uoff, "user", it,
                        err)) ||
        (rc = half_step(&t, iu, m->item_factors, m->user_factors, m->nusers, t.ioff, "item", it,
                        err)))
      goto done;
    if (!o.implicit) balance(m, ui, iu, &o);
    rp_als_iter_info info = {it, rp_now() - t0, NAN, NAN, 0};
    m->iterations_done = it;
    /* the loss needs Y^T Y, validation needs fresh caches */
    if ((h->want_loss || h->test) && (rc = rp_als_model_refresh(m, err))) goto done;
    if (h->want_loss && (rc = rp_als_loss(m, ui, o.threads, &info.loss, err))) goto done;
    m->loss = info.loss;
    int stop = 0;
    if (h->test) {
      rc =
          rp_als_validate_metric(m, ui, h->test, h->k, h->metric, o.threads, &info.validation, err);
      if (rc) goto done;
      int better = isnan(best_score) ||
                   (lower_better ? info.validation < best_score : info.validation > best_score);
      if (better) {
        best_score = info.validation;
        best_it = it;
        memcpy(best, m->user_factors, xbytes);
        memcpy((char *)best + xbytes, m->item_factors, ybytes);
      } else if (it - best_it >= h->patience) {
        stop = 1;
      }
      info.best_iteration = best_it;
    }
    rp_progress("als", it, o.iterations, it == o.iterations);
    if (h->on_iteration && h->on_iteration(&info, h->ud)) stop = 1;
    if (stop) {
      if (it < o.iterations) rp_progress("als", it, o.iterations, 1);
      break;
    }
  }
  if (best && best_it > 0 && best_it != m->iterations_done) {
    memcpy(m->user_factors, best, xbytes);
    memcpy(m->item_factors, (char *)best + xbytes, ybytes);
    m->iterations_done = best_it;
    m->loss = NAN;
    if (h->want_loss && ((rc = rp_als_model_refresh(m, err)) ||
                         (rc = rp_als_loss(m, ui, o.threads, &m->loss, err))))
      goto done;
  }
  m->fingerprint = rp_als_fingerprint(ui);
  m->created = created_time();
  rc = rp_als_model_refresh(m, err);

done:
  rp_als_blas_end(saved);
  if (t.sc)
    for (int i = 0; i < t.nt; i++) rp_als_scratch_free(&t.sc[i]);
  rp_free(t.sc);
  rp_free(t.G);
  rp_free(t.uoff);
  rp_free(best);
  rp_csr_free(iu);
  if (rc) {
    rp_als_model_free(m);
    return rc;
  }
  *out = m;
  return RP_OK;
}
