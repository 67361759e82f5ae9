/*
 * partial.c -- incremental updates: implicit 0.7's partial_fit_users and
 * partial_fit_items.
 *
 * A call recomputes the named rows of one side exactly (rp_als_solve_exact:
 * the normal equations of the half-step accumulated as training does, then
 * solved in double) against the other side's current factors, and writes
 * them into the model, growing it for rows past its end.
 *
 * Concurrency (als.h): writers take m->wlock for the whole call, so the
 * factors they read (the other side) and the counts do not move under
 * them; queries take the read side of m->rw.  The solves run holding only
 * wlock, so queries go on meanwhile; the write lock is held while the
 * solved rows are copied in, the arrays grown, and the caches that depend
 * on the changed side (Y^T Y, the norms, the screening copy) replaced.
 * For an item update the new Y^T Y is computed before, on a copy of Y with
 * the new rows, so it has exactly the bits rp_als_gram gives the updated
 * model.  Arrays replaced when the model grows are kept until the model is
 * freed (capacity doubles, so they add up to less than the live ones).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "als_impl.h"
#include "screen.h"

static const char *side_name(int which) { return which ? "item" : "user"; }

/* a label for index r of map (or the 1-based number), for messages */
static void label(const rp_idmap *map, int32_t r, char *buf, size_t cap) {
  if (map && r >= 0 && r < map->n) {
    size_t len;
    const char *s = rp_idmap_id(map, r, &len);
    snprintf(buf, cap, "'%.*s'", (int)(len > 60 ? 60 : len), s);
  } else {
    snprintf(buf, cap, "%lld", (long long)r + 1);
  }
}

/* mat's columns must be rows of the other side, its values finite */
static int check_matrix(const rp_als_model *m, int which, const rp_csr *mat, rp_err *err) {
  int32_t nother = which ? m->nusers : m->nitems;
  const char *other = side_name(!which);
  for (int32_t r = 0; r < mat->nrows; r++)
    for (int64_t e = mat->indptr[r]; e < mat->indptr[r + 1]; e++) {
      int32_t c = mat->indices[e];
      char id[80];
      if (c < 0 || c >= nother) {
        label(mat->colmap, c, id, sizeof id);
        return rp_errf(err, RP_EINVAL,
                       "matrix row %d: column %s is not %s %s of the model (it has %d %ss)",
                       (int)r + 1, id, which ? "a" : "an", other, (int)nother, other);
      }
      if (!isfinite(mat->data[e])) {
        label(mat->colmap, c, id, sizeof id);
        return rp_errf(err, RP_EINVAL, "matrix row %d, column %s: value is not finite", (int)r + 1,
                       id);
      }
    }
  return RP_OK;
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* rows must be >= 0 and distinct */
static int check_rows(const rp_als_model *m, int which, const int32_t *rows, int32_t n,
                      rp_err *err) {
  const rp_idmap *map = which ? m->items : m->users;
  for (int32_t r = 0; r < n; r++)
    if (rows[r] < 0 || rows[r] == INT32_MAX)
      return rp_errf(err, RP_EINVAL, "%s index %d (row %d) out of range", side_name(which),
                     (int)rows[r], (int)r + 1);
  int32_t *s = rp_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  if (!s) return rp_enomem(err, "partial fit");
  memcpy(s, rows, sizeof(int32_t) * (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp_i32);
  int rc = RP_OK;
  for (int32_t r = 1; r < n && !rc; r++)
    if (s[r] == s[r - 1]) {
      char id[80];
      label(map, s[r], id, sizeof id);
      rc = rp_errf(err, RP_EINVAL, "%s %s is given twice", side_name(which), id);
    }
  rp_free(s);
  return rc;
}

/* Solves rows r of mat into out (n x f) against Y (ny x f) and G. */
static int solve_rows(const rp_als_model *m, int which, const rp_csr *mat, const float *Y,
                      int32_t ny, const float *G, int threads, float *out, rp_err *err) {
  int32_t f = m->factors, n = mat->nrows;
  int64_t longest = 1;
  for (int32_t r = 0; r < n; r++)
    if (rp_csr_rowlen(mat, r) > longest) longest = rp_csr_rowlen(mat, r);
  int64_t cap = rp_als_block_rows(f);
  if (longest < cap) cap = longest;
  int nt = rp_threads(threads);
  if (nt > RP_ALS_MAX_THREADS) nt = RP_ALS_MAX_THREADS;
  if (nt > n) nt = n > 0 ? n : 1;
  rp_als_scratch *sc = rp_calloc((size_t)nt, sizeof *sc);
  if (!sc) return rp_enomem(err, "partial fit scratch");
  int rc = RP_OK;
  for (int t = 0; t < nt && !rc; t++) rc = rp_als_scratch_init(&sc[t], f, cap, err);
  long bad = 0; /* lowest failing row + 1 */
  int bad_info = 0;
  if (!rc) {
    rp_als_side side = {&m->opts, f, Y, ny, G};
    /* the row solves call no BLAS (own kernels): no BLAS thread guard, whose
     * openblas_set_num_threads calls cost more than a row */
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt) if (nt > 1)
    for (int32_t r = 0; r < n; r++) {
      rp_als_scratch *s = &sc[omp_get_thread_num()];
      int64_t a = mat->indptr[r];
      float *x = out + (int64_t)r * f;
      int info =
          rp_als_solve_exact(&side, mat->indices + a, mat->data + a, rp_csr_rowlen(mat, r), x, s);
      int finite = 1;
      for (int32_t d = 0; d < f && !info; d++) finite &= isfinite(x[d]) != 0;
      if (info || !finite) {
#pragma omp critical(rp_als_partial_bad)
        if (!bad || r + 1 < bad) bad = r + 1, bad_info = info ? info : -1;
      }
    }
  }
  for (int t = 0; t < nt; t++) rp_als_scratch_free(&sc[t]);
  rp_free(sc);
  if (rc || !bad) return rc;
  if (bad_info > 0)
    return rp_errf(err, RP_EINVAL,
                   "partial fit: matrix row %ld: the normal matrix is not positive definite "
                   "(regularization %g)",
                   bad, m->opts.regularization);
  return rp_errf(err, RP_EINVAL,
                 "partial fit: matrix row %ld got non-finite factors (float overflow: alpha %g, "
                 "regularization %g)",
                 bad, m->opts.alpha, m->opts.regularization);
}

/* Makes room for `need` rows in *F (rows *cap, nrows used); the old array
 * is retired.  Called under the write lock. */
static int grow(rp_als_model *m, float **F, int32_t *cap, int32_t nrows, int32_t need,
                rp_err *err) {
  if (need <= *cap) return RP_OK;
  size_t f = (size_t)m->factors;
  int64_t nc = (int64_t)*cap * 2;
  if (nc < need) nc = need;
  if (nc > INT32_MAX) nc = INT32_MAX;
  int ok = 1;
  size_t bytes = rp_mulsize(rp_mulsize((size_t)nc, f, &ok), sizeof(float), &ok);
  rp_als_retired *ret = rp_malloc(sizeof *ret);
  float *nf = ok ? rp_malloc(bytes) : NULL;
  if (!nf || !ret) {
    rp_free(nf);
    rp_free(ret);
    return rp_enomem(err, "growing the model");
  }
  size_t used = sizeof(float) * f * (size_t)nrows;
  memcpy(nf, *F, used);
  memset((char *)nf + used, 0, bytes - used);
  ret->p = *F;
  ret->next = m->retired;
  m->retired = ret;
  *F = nf;
  *cap = (int32_t)nc;
  return RP_OK;
}

static int fit(rp_als_model *m, int which, const int32_t *rows_in, const char *const *ids,
               const size_t *lens, const rp_csr *mat, int threads, rp_err *err) {
  int32_t f = m->factors, n = mat->nrows;
  rp_idmap *map = which ? m->items : m->users;
  int32_t *rows = NULL;
  float *out = NULL, *G = NULL, *Ynew = NULL, *Gnew = NULL;
  pthread_mutex_lock(&m->wlock);
  int rc = check_matrix(m, which, mat, err);
  if (rc) goto done;
  rows = rp_malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
  out = rp_malloc(sizeof(float) * (size_t)f * (size_t)(n > 0 ? n : 1));
  if (!rows || !out) {
    rc = rp_enomem(err, "partial fit");
    goto done;
  }
  if (ids) {
    if (!map) {
      rc = rp_errf(err, RP_EINVAL, "the model has no %s ids (it was built without an id map)",
                   side_name(which));
      goto done;
    }
    int fresh = 0;
    for (int32_t r = 0; r < n; r++) fresh |= (rows[r] = rp_idmap_find(map, ids[r], lens[r])) < 0;
    if (fresh) {
      /* new ids go on the map under the write lock: queries look ids up
       * while holding the read side */
      pthread_rwlock_wrlock(&m->rw);
      rp_err e2;
      for (int32_t r = 0; r < n && !rc; r++)
        if (rows[r] < 0 && (rc = rp_idmap_intern(map, ids[r], lens[r], &rows[r], &e2)))
          rc = rp_errf(err, rc, "%s '%.*s' is new and cannot be added to the model's map: %s",
                       side_name(which), (int)(lens[r] > 60 ? 60 : lens[r]), ids[r], e2.msg);
      pthread_rwlock_unlock(&m->rw);
      if (rc) goto done;
    }
  } else {
    memcpy(rows, rows_in, sizeof(int32_t) * (size_t)n);
  }
  if ((rc = check_rows(m, which, rows, n, err))) goto done;
  int32_t nrows = which ? m->nitems : m->nusers, need = nrows;
  for (int32_t r = 0; r < n; r++)
    if (rows[r] + 1 > need) need = rows[r] + 1;

  /* the other side and its Gram matrix (implicit) */
  const float *Y = which ? m->user_factors : m->item_factors;
  int32_t ny = which ? m->nusers : m->nitems;
  const float *Gs = NULL;
  if (m->opts.implicit) {
    if (which) {
      if (!(G = rp_malloc(sizeof(float) * (size_t)f * (size_t)f))) {
        rc = rp_enomem(err, "partial fit");
        goto done;
      }
      int saved = rp_als_blas_begin();
      rc = rp_als_gram(Y, ny, f, threads, G, err);
      rp_als_blas_end(saved);
      if (rc) goto done;
      Gs = G;
    } else {
      Gs = m->yty;
    }
  }
  if ((rc = solve_rows(m, which, mat, Y, ny, Gs, threads, out, err))) goto done;

  /* an item update changes Y^T Y: computed on a copy of the new Y */
  if (which) {
    size_t rowb = sizeof(float) * (size_t)f;
    Ynew = rp_calloc((size_t)need * (size_t)f + 1, sizeof(float));
    Gnew = rp_malloc(sizeof(float) * (size_t)f * (size_t)f);
    if (!Ynew || !Gnew) {
      rc = rp_enomem(err, "partial fit");
      goto done;
    }
    memcpy(Ynew, m->item_factors, rowb * (size_t)m->nitems);
    for (int32_t r = 0; r < n; r++) memcpy(Ynew + (int64_t)rows[r] * f, out + (int64_t)r * f, rowb);
    int saved = rp_als_blas_begin();
    rc = rp_als_gram(Ynew, need, f, threads, Gnew, err);
    rp_als_blas_end(saved);
    if (rc) goto done;
  }

  pthread_rwlock_wrlock(&m->rw);
  if (which)
    rc = grow(m, &m->item_factors, &m->item_cap, m->nitems, need, err);
  else
    rc = grow(m, &m->user_factors, &m->user_cap, m->nusers, need, err);
  if (!rc) {
    float *F = which ? m->item_factors : m->user_factors;
    for (int32_t r = 0; r < n; r++)
      memcpy(F + (int64_t)rows[r] * f, out + (int64_t)r * f, sizeof(float) * (size_t)f);
    if (which) {
      m->nitems = m->rec.nitems = need;
      memcpy(m->yty, Gnew, sizeof(float) * (size_t)f * (size_t)f);
      rp_free(m->item_norms);
      m->item_norms = NULL;
      rp_als_screen_free(m->screen);
      m->screen = NULL;
      /* the items without factors are found again at the next query (no
       * reader holds the list: every one runs under the read lock) */
      rp_als_untrained_free(m->untrained);
      m->untrained = NULL;
    } else {
      m->nusers = m->rec.nusers = need;
      rp_free(m->user_norms);
      m->user_norms = NULL;
    }
  }
  pthread_rwlock_unlock(&m->rw);

done:
  pthread_mutex_unlock(&m->wlock);
  rp_free(rows);
  rp_free(out);
  rp_free(G);
  rp_free(Ynew);
  rp_free(Gnew);
  return rc;
}

int rp_als_partial_fit(rp_als_model *m, int which, const int32_t *rows, const rp_csr *mat,
                       int threads, rp_err *err) {
  return fit(m, which != 0, rows, NULL, NULL, mat, threads, err);
}

int rp_als_partial_fit_ids(rp_als_model *m, int which, const char *const *ids, const size_t *lens,
                           const rp_csr *mat, int threads, rp_err *err) {
  return fit(m, which != 0, NULL, ids, lens, mat, threads, err);
}
