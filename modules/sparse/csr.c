/*
 * csr.c -- CSR construction from triplets, transpose, validation.
 *
 * rp_csr_build is an LSD radix sort: a stable counting sort of the triplets
 * by column, then a stable counting sort by row, leaves every row's entries
 * ordered by column with repeats in input order; one pass then combines
 * repeats.  For RP_AGG_LAST with times, a stable sort by time comes first,
 * so "last" is the latest event (input order among equal times).
 */
#include "csr.h"
#include "events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

rp_csr *rp_csr_new(int32_t nrows, int32_t ncols, int64_t nnz, rp_idmap *rowmap, rp_idmap *colmap,
                   rp_err *err) {
  if (nrows < 0 || ncols < 0 || nnz < 0)
    return rp_errf(err, RP_EINVAL, "negative matrix shape"), NULL;
  rp_csr *m = rp_calloc(1, sizeof *m);
  if (!m) return rp_enomem(err, "matrix"), NULL;
  m->nrows = nrows;
  m->ncols = ncols;
  m->nnz = nnz;
  m->indptr = rp_calloc((size_t)nrows + 1, sizeof *m->indptr);
  m->indices = rp_malloc((size_t)(nnz ? nnz : 1) * sizeof *m->indices);
  m->data = rp_malloc((size_t)(nnz ? nnz : 1) * sizeof *m->data);
  if (!m->indptr || !m->indices || !m->data) {
    rp_csr_free(m);
    return rp_enomem(err, "matrix"), NULL;
  }
  m->rowmap = rp_idmap_retain(rowmap);
  m->colmap = rp_idmap_retain(colmap);
  return m;
}

void rp_csr_free(rp_csr *m) {
  if (!m) return;
  rp_free(m->indptr);
  rp_free(m->indices);
  rp_free(m->data);
  rp_idmap_release(m->rowmap);
  rp_idmap_release(m->colmap);
  rp_free(m);
}

rp_csr *rp_csr_copy(const rp_csr *m, rp_err *err) {
  rp_csr *r = rp_csr_new(m->nrows, m->ncols, m->nnz, m->rowmap, m->colmap, err);
  if (!r) return NULL;
  memcpy(r->indptr, m->indptr, ((size_t)m->nrows + 1) * sizeof *r->indptr);
  memcpy(r->indices, m->indices, (size_t)m->nnz * sizeof *r->indices);
  memcpy(r->data, m->data, (size_t)m->nnz * sizeof *r->data);
  return r;
}

size_t rp_csr_bytes(const rp_csr *m) {
  return ((size_t)m->nrows + 1) * sizeof(int64_t) +
         (size_t)m->nnz * (sizeof(int32_t) + sizeof(float));
}

/* Stable counting sort of perm[0..n) by key[perm[k]] in [0, nkeys). */
static int counting_pass(int64_t *perm, int64_t *tmp, int64_t n, const int32_t *key, int32_t nkeys,
                         rp_err *err) {
  int64_t *cnt = rp_calloc((size_t)nkeys + 1, sizeof *cnt);
  if (!cnt) return rp_enomem(err, "matrix build");
  for (int64_t k = 0; k < n; k++) cnt[key[perm[k]] + 1]++;
  for (int32_t j = 0; j < nkeys; j++) cnt[j + 1] += cnt[j];
  for (int64_t k = 0; k < n; k++) tmp[cnt[key[perm[k]]]++] = perm[k];
  memcpy(perm, tmp, (size_t)n * sizeof *perm);
  rp_free(cnt);
  return RP_OK;
}

static const int64_t *sort_times;
static int cmp_time(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int64_t tx = sort_times[x], ty = sort_times[y];
  if (tx != ty) return tx < ty ? -1 : 1;
  return x < y ? -1 : x > y;
}

rp_csr *rp_csr_build(int32_t nrows, int32_t ncols, const int32_t *r, const int32_t *c,
                     const float *v, const int64_t *t, int64_t n, int agg, rp_idmap *rowmap,
                     rp_idmap *colmap, rp_err *err) {
  for (int64_t k = 0; k < n; k++) {
    if (r[k] < 0 || r[k] >= nrows || c[k] < 0 || c[k] >= ncols)
      return rp_errf(err, RP_EINVAL, "entry %lld: (%d, %d) outside a %d x %d matrix",
                     (long long)k + 1, r[k], c[k], nrows, ncols),
             NULL;
  }
  int64_t *perm = rp_malloc((size_t)(n ? n : 1) * sizeof *perm);
  int64_t *tmp = rp_malloc((size_t)(n ? n : 1) * sizeof *tmp);
  rp_csr *m = NULL;
  if (!perm || !tmp) {
    rp_enomem(err, "matrix build");
    goto done;
  }
  for (int64_t k = 0; k < n; k++) perm[k] = k;
  if (agg == RP_AGG_LAST && t) {
    int sorted = 1;
    for (int64_t k = 1; k < n && sorted; k++) sorted = t[k - 1] <= t[k];
    if (!sorted) {
      /* qsort is not stable; the comparator breaks ties by index */
      sort_times = t;
      qsort(perm, (size_t)n, sizeof *perm, cmp_time);
      sort_times = NULL;
    }
  }
  if (counting_pass(perm, tmp, n, c, ncols, err) || counting_pass(perm, tmp, n, r, nrows, err))
    goto done;
  /* count distinct pairs */
  int64_t nnz = 0;
  for (int64_t k = 0; k < n; k++)
    if (k == 0 || r[perm[k]] != r[perm[k - 1]] || c[perm[k]] != c[perm[k - 1]]) nnz++;
  m = rp_csr_new(nrows, ncols, nnz, rowmap, colmap, err);
  if (!m) goto done;
  int64_t j = -1;
  for (int64_t k = 0; k < n; k++) {
    int64_t p = perm[k];
    float x = v ? v[p] : 1.0f;
    if (k == 0 || r[p] != r[perm[k - 1]] || c[p] != c[perm[k - 1]]) {
      j++;
      m->indices[j] = c[p];
      m->indptr[r[p] + 1]++;
      m->data[j] = agg == RP_AGG_COUNT ? 1.0f : x;
    } else if (agg == RP_AGG_SUM) {
      m->data[j] += x;
    } else if (agg == RP_AGG_MAX) {
      if (x > m->data[j]) m->data[j] = x;
    } else if (agg == RP_AGG_COUNT) {
      m->data[j] += 1.0f;
    } else {
      m->data[j] = x; /* LAST: later in (time, input) order wins */
    }
  }
  for (int32_t i = 0; i < nrows; i++) m->indptr[i + 1] += m->indptr[i];
done:
  rp_free(perm);
  rp_free(tmp);
  return m;
}

rp_csr *rp_csr_transpose(const rp_csr *m, int threads, rp_err *err) {
  (void)threads;
  rp_csr *t = rp_csr_new(m->ncols, m->nrows, m->nnz, m->colmap, m->rowmap, err);
  if (!t) return NULL;
  for (int64_t k = 0; k < m->nnz; k++) t->indptr[m->indices[k] + 1]++;
  for (int32_t j = 0; j < m->ncols; j++) t->indptr[j + 1] += t->indptr[j];
  int64_t *next = rp_malloc(((size_t)m->ncols + 1) * sizeof *next);
  if (!next) {
    rp_csr_free(t);
    return rp_enomem(err, "transpose"), NULL;
  }
  memcpy(next, t->indptr, ((size_t)m->ncols + 1) * sizeof *next);
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t k = m->indptr[i]; k < m->indptr[i + 1]; k++) {
      int64_t d = next[m->indices[k]]++;
      t->indices[d] = i;
      t->data[d] = m->data[k];
    }
  rp_free(next);
  return t;
}

int rp_csr_validate(const rp_csr *m, rp_err *err) {
  if (m->indptr[0] != 0) return rp_errf(err, RP_EFORMAT, "row offsets do not start at 0");
  for (int32_t i = 0; i < m->nrows; i++) {
    int64_t a = m->indptr[i], b = m->indptr[i + 1];
    if (b < a || b > m->nnz)
      return rp_errf(err, RP_EFORMAT, "row %d: offsets %lld..%lld out of order", i, (long long)a,
                     (long long)b);
    for (int64_t k = a; k < b; k++) {
      if (m->indices[k] < 0 || m->indices[k] >= m->ncols)
        return rp_errf(err, RP_EFORMAT, "row %d: column %d outside 0..%d", i, m->indices[k],
                       m->ncols - 1);
      if (k > a && m->indices[k] <= m->indices[k - 1])
        return rp_errf(err, RP_EFORMAT, "row %d: columns not sorted and unique", i);
      if (!isfinite(m->data[k])) return rp_errf(err, RP_EFORMAT, "row %d: non-finite value", i);
    }
  }
  if (m->indptr[m->nrows] != m->nnz)
    return rp_errf(err, RP_EFORMAT, "row offsets end at %lld, expected %lld",
                   (long long)m->indptr[m->nrows], (long long)m->nnz);
  return RP_OK;
}
