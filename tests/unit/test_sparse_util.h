/*
 * test_sparse_util.h -- helpers shared by the sparse Check tests: random
 * triplets, maps with generated ids, dense references and comparisons.
 */
#ifndef RP_TEST_SPARSE_UTIL_H
#define RP_TEST_SPARSE_UTIL_H

#include <math.h>

#include "csr.h"
#include "events.h"
#include "rptest.h"

/* Exact float comparison without -Wdouble-promotion noise. */
#define ck_feq(x, y)                                                    \
  do {                                                                  \
    double x_ = (double)(x), y_ = (double)(y);                          \
    ck_assert_msg(x_ == y_, "%s: got %.9g, expected %.9g", #x, x_, y_); \
  } while (0)

/* A map holding ids prefix0..prefix(n-1). */
static inline rp_idmap *tmap(const char *prefix, int32_t n) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  ck_assert_ptr_nonnull(m);
  for (int32_t i = 0; i < n; i++) {
    char b[64];
    int len = snprintf(b, sizeof b, "%s%d", prefix, i);
    int32_t k;
    ck_assert_int_eq(rp_idmap_intern(m, b, (size_t)len, &k, &err), RP_OK);
    ck_assert_int_eq(k, i);
  }
  return m;
}

typedef struct trip {
  int64_t n;
  int32_t *r, *c;
  float *v;
  int64_t *t;
} trip;

/* n random triplets in nrows x ncols, values in {0.5, 1, 2, ...}, times
 * with many ties. */
static inline trip trip_random(uint64_t seed, int32_t nrows, int32_t ncols, int64_t n) {
  trip x;
  rp_rng g;
  rp_rng_seed(&g, seed, 0);
  x.n = n;
  x.r = malloc((size_t)(n + 1) * sizeof *x.r);
  x.c = malloc((size_t)(n + 1) * sizeof *x.c);
  x.v = malloc((size_t)(n + 1) * sizeof *x.v);
  x.t = malloc((size_t)(n + 1) * sizeof *x.t);
  for (int64_t k = 0; k < n; k++) {
    x.r[k] = (int32_t)rp_rng_below(&g, (uint64_t)nrows);
    x.c[k] = (int32_t)rp_rng_below(&g, (uint64_t)ncols);
    x.v[k] = (float)(1 + rp_rng_below(&g, 8)) * 0.5f;
    x.t[k] = (int64_t)rp_rng_below(&g, 5);
  }
  return x;
}

static inline void trip_free(trip *x) {
  free(x->r);
  free(x->c);
  free(x->v);
  free(x->t);
}

/* Dense image of m (row-major, nrows x ncols) with a stored-entry mask. */
typedef struct dmat {
  int32_t nr, nc;
  double *v;
  unsigned char *has;
} dmat;

static inline dmat dmat_new(int32_t nr, int32_t nc) {
  dmat d = {nr, nc, calloc((size_t)nr * nc + 1, sizeof(double)), calloc((size_t)nr * nc + 1, 1)};
  return d;
}
static inline void dmat_free(dmat *d) {
  free(d->v);
  free(d->has);
}
static inline dmat dmat_of(const rp_csr *m) {
  dmat d = dmat_new(m->nrows, m->ncols);
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) {
      size_t at = (size_t)i * m->ncols + (size_t)m->indices[q];
      ck_assert_msg(!d.has[at], "duplicate entry at (%d, %d)", i, m->indices[q]);
      d.has[at] = 1;
      d.v[at] = (double)m->data[q];
    }
  return d;
}

/* m equals d exactly (same stored cells, values within tol). */
static inline void check_matrix_eq_dense(const rp_csr *m, const dmat *d, double tol) {
  rp_err err;
  ck_assert_msg(rp_csr_validate(m, &err) == RP_OK, "invalid: %s", err.msg);
  ck_assert_int_eq(m->nrows, d->nr);
  ck_assert_int_eq(m->ncols, d->nc);
  dmat e = dmat_of(m);
  for (size_t k = 0; k < (size_t)d->nr * d->nc; k++) {
    ck_assert_msg(e.has[k] == d->has[k], "cell (%zu, %zu): stored %d, expected %d", k / d->nc,
                  k % d->nc, e.has[k], d->has[k]);
    if (d->has[k])
      ck_assert_msg(fabs(e.v[k] - d->v[k]) <= tol * fmax(1.0, fabs(d->v[k])),
                    "cell (%zu, %zu): %.9g, expected %.9g", k / d->nc, k % d->nc, e.v[k], d->v[k]);
  }
  dmat_free(&e);
}

/* Two matrices are identical (shape, structure, bit-equal values). */
static inline void check_same(const rp_csr *a, const rp_csr *b) {
  ck_assert_int_eq(a->nrows, b->nrows);
  ck_assert_int_eq(a->ncols, b->ncols);
  ck_assert_int_eq(a->nnz, b->nnz);
  ck_assert(memcmp(a->indptr, b->indptr, ((size_t)a->nrows + 1) * sizeof *a->indptr) == 0);
  ck_assert(memcmp(a->indices, b->indices, (size_t)a->nnz * sizeof *a->indices) == 0);
  ck_assert(memcmp(a->data, b->data, (size_t)a->nnz * sizeof *a->data) == 0);
}

/* A random matrix (density about p) built through rp_csr_build. */
static inline rp_csr *random_matrix(uint64_t seed, int32_t nr, int32_t nc, double p, rp_idmap *rows,
                                    rp_idmap *cols) {
  int64_t n = (int64_t)(p * nr * nc) + 1;
  trip x = trip_random(seed, nr, nc, n);
  rp_err err;
  rp_csr *m = rp_csr_build(nr, nc, x.r, x.c, x.v, NULL, n, RP_AGG_MAX, rows, cols, &err);
  ck_assert_msg(m != NULL, "%s", err.msg);
  trip_free(&x);
  return m;
}

#endif
