/*
 * csr_ops.c -- the k-core filter, re-alignment onto other id maps,
 * confidence/weighting transforms and per-row/per-column counts.  Every result is a new matrix on
 * the input's maps and shape.
 */
#include "csr.h"
#include "aggregate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* elementwise loops go parallel past this many entries (results are the
 * same whatever the thread count: every value is computed alone) */
#define PAR_MIN (1 << 16)

/* "row 'u1', column 'i7'" (external ids when the maps are there) */
static const char *where(const rp_csr *m, int32_t i, int32_t j, char *buf, size_t n) {
  char a[96], b[96];
  if (m->rowmap && i < m->rowmap->n)
    snprintf(a, sizeof a, "row '%.80s'", rp_idmap_id(m->rowmap, i, NULL));
  else
    snprintf(a, sizeof a, "row %d", i + 1);
  if (m->colmap && j < m->colmap->n)
    snprintf(b, sizeof b, "column '%.80s'", rp_idmap_id(m->colmap, j, NULL));
  else
    snprintf(b, sizeof b, "column %d", j + 1);
  snprintf(buf, n, "%s, %s", a, b);
  return buf;
}

/* ---- k-core --------------------------------------------------------------------
 * Peeling in rounds.  A row (column) is alive while it has not been removed;
 * cnt holds its number of entries whose column (row) is alive.  Round r
 * removes, at once, every alive row with 0 < cnt < min_row and every alive
 * column with 0 < cnt < min_col; then each removed row decrements the counts
 * of its alive columns and each removed column those of its alive rows.  A
 * count that crosses below its threshold puts the row or column on the next
 * round's list.  Rows find their columns through the CSR arrays; columns
 * find their rows by a sequential pass over the alive rows for the first
 * SCAN_ROUNDS rounds that remove columns (usually all of them: real logs
 * settle in a few rounds, and the pass is cheaper than building an index),
 * then through a column -> rows index, so each entry is visited O(1) times
 * however many rounds there are: O(nnz + nrows + ncols).  This is exactly the textbook loop
 * "recount, drop everything below the thresholds, repeat until nothing changes", rounds included;
 * the core itself is unique (the largest sub-matrix meeting both thresholds). */
typedef struct kc_side {
  int64_t *cnt; /* alive entries */
  uint8_t *dead;
  int32_t *list, nlist; /* candidates for the next round */
  int64_t min;
} kc_side;

/* Moves a side's candidates that still have entries into the current round
 * (marking them dead); returns how many. */
static int32_t kc_take(kc_side *s, int32_t *cur) {
  int32_t n = 0;
  for (int32_t k = 0; k < s->nlist; k++) {
    int32_t x = s->list[k];
    if (!s->dead[x] && s->cnt[x] > 0) {
      s->dead[x] = 1;
      cur[n++] = x;
    }
  }
  s->nlist = 0;
  return n;
}

/* The removed vertices cur[0..n) drop one entry from each alive neighbour
 * (adjacency ptr/idx); neighbours crossing below their threshold become
 * candidates. */
static void kc_drop(const int32_t *cur, int32_t n, const int64_t *ptr, const int32_t *idx,
                    kc_side *other) {
  for (int32_t k = 0; k < n; k++) {
    int32_t x = cur[k];
    for (int64_t q = ptr[x]; q < ptr[x + 1]; q++) {
      int32_t y = idx[q];
      if (other->dead[y]) continue;
      if (--other->cnt[y] == other->min - 1 && other->cnt[y] > 0) other->list[other->nlist++] = y;
    }
  }
}

/* The column -> rows adjacency of m (a transpose without values). */
static int col_adjacency(const rp_csr *m, const int64_t *colcnt, int64_t **ptr_out,
                         int32_t **idx_out, rp_err *err) {
  int64_t *ptr = rp_malloc(((size_t)m->ncols + 2) * sizeof *ptr);
  int32_t *idx = rp_malloc((size_t)(m->nnz ? m->nnz : 1) * sizeof *idx);
  if (!ptr || !idx) {
    rp_free(ptr);
    rp_free(idx);
    return rp_enomem(err, "k-core");
  }
  ptr[0] = 0;
  for (int32_t j = 0; j < m->ncols; j++) ptr[j + 1] = ptr[j] + colcnt[j];
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) idx[ptr[m->indices[q]]++] = i;
  memmove(ptr + 1, ptr, (size_t)m->ncols * sizeof *ptr);
  ptr[0] = 0;
  *ptr_out = ptr;
  *idx_out = idx;
  return RP_OK;
}

/* Column removals without the adjacency: one sequential pass over the alive
 * rows, decrementing each for its entries in columns that died this round
 * (marked 2 in C->dead).  Cheaper than building the adjacency for the first
 * few rounds; kcore switches to the adjacency past SCAN_ROUNDS, so the
 * total stays O(nnz). */
#define SCAN_ROUNDS 4
static void kc_scan(const rp_csr *m, const kc_side *C, kc_side *R) {
  for (int32_t i = 0; i < m->nrows; i++) {
    if (R->dead[i] || R->cnt[i] == 0) continue;
    int64_t drop = 0;
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) drop += C->dead[m->indices[q]] == 2;
    if (drop && R->cnt[i] >= R->min && R->cnt[i] - drop < R->min && R->cnt[i] - drop > 0)
      R->list[R->nlist++] = i;
    R->cnt[i] -= drop;
  }
}

rp_csr *rp_csr_kcore(const rp_csr *m, int64_t min_row, int64_t min_col, rp_kcore_report *rep,
                     rp_err *err) {
  if (min_row < 0 || min_col < 0)
    return rp_errf(err, RP_EINVAL, "k-core thresholds must be non-negative (got %lld, %lld)",
                   (long long)min_row, (long long)min_col),
           NULL;
  int32_t nr = m->nrows, nc = m->ncols;
  rp_csr *out = NULL;
  kc_side R = {0}, C = {0};
  R.min = min_row;
  C.min = min_col;
  R.cnt = rp_malloc(((size_t)nr + 1) * sizeof *R.cnt);
  C.cnt = rp_calloc((size_t)nc + 1, sizeof *C.cnt);
  R.dead = rp_calloc((size_t)nr + 1, 1);
  C.dead = rp_calloc((size_t)nc + 1, 1);
  R.list = rp_malloc(((size_t)nr + 1) * sizeof *R.list);
  C.list = rp_malloc(((size_t)nc + 1) * sizeof *C.list);
  int32_t *curr = rp_malloc(((size_t)nr + 1) * sizeof *curr);
  int32_t *curc = rp_malloc(((size_t)nc + 1) * sizeof *curc);
  int64_t *colptr = NULL;
  int32_t *rowidx = NULL;
  if (!R.cnt || !C.cnt || !R.dead || !C.dead || !R.list || !C.list || !curr || !curc) {
    rp_enomem(err, "k-core");
    goto done;
  }
  int32_t rows0 = 0, cols0 = 0;
  for (int32_t i = 0; i < nr; i++) {
    R.cnt[i] = m->indptr[i + 1] - m->indptr[i];
    rows0 += R.cnt[i] > 0;
  }
  for (int64_t q = 0; q < m->nnz; q++) C.cnt[m->indices[q]]++;
  for (int32_t j = 0; j < nc; j++) cols0 += C.cnt[j] > 0;

  /* round 1's candidates: everything below its threshold */
  for (int32_t i = 0; i < nr; i++)
    if (R.cnt[i] > 0 && R.cnt[i] < min_row) R.list[R.nlist++] = i;
  for (int32_t j = 0; j < nc; j++)
    if (C.cnt[j] > 0 && C.cnt[j] < min_col) C.list[C.nlist++] = j;
  int32_t rounds = 0, scans = 0;
  for (;;) {
    int32_t nrr = kc_take(&R, curr), ncc = kc_take(&C, curc);
    if (nrr == 0 && ncc == 0) break;
    rounds++;
    kc_drop(curr, nrr, m->indptr, m->indices, &C);
    if (ncc == 0) continue;
    if (!colptr && scans < SCAN_ROUNDS) {
      for (int32_t k = 0; k < ncc; k++) C.dead[curc[k]] = 2;
      kc_scan(m, &C, &R);
      for (int32_t k = 0; k < ncc; k++) C.dead[curc[k]] = 1;
      scans++;
      continue;
    }
    /* the adjacency counts every original entry: kc_drop skips dead rows,
     * and each column dies once, so earlier rounds are not counted twice */
    if (!colptr) {
      int64_t *cc = rp_calloc((size_t)nc + 1, sizeof *cc);
      if (!cc) {
        rp_enomem(err, "k-core");
        goto done;
      }
      rp_csr_col_counts(m, cc);
      int rc = col_adjacency(m, cc, &colptr, &rowidx, err);
      rp_free(cc);
      if (rc) goto done;
    }
    kc_drop(curc, ncc, colptr, rowidx, &R);
  }

  /* the surviving entries */
  int64_t nnz = 0;
  int32_t rows1 = 0, cols1 = 0;
  for (int32_t i = 0; i < nr; i++)
    if (!R.dead[i]) {
      nnz += R.cnt[i];
      rows1 += R.cnt[i] > 0;
    }
  for (int32_t j = 0; j < nc; j++) cols1 += !C.dead[j] && C.cnt[j] > 0;
  out = rp_csr_new(nr, nc, nnz, m->rowmap, m->colmap, err);
  if (!out) goto done;
  int64_t d = 0;
  for (int32_t i = 0; i < nr; i++) {
    if (!R.dead[i] && R.cnt[i] > 0)
      for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++)
        if (!C.dead[m->indices[q]]) {
          out->indices[d] = m->indices[q];
          out->data[d++] = m->data[q];
        }
    out->indptr[i + 1] = d;
  }
  if (rep) {
    rep->rows_removed = rows0 - rows1;
    rep->cols_removed = cols0 - cols1;
    rep->nnz_removed = m->nnz - nnz;
    rep->rows = rows1;
    rep->cols = cols1;
    rep->nnz = nnz;
    rep->rounds = rounds;
  }
done:
  rp_free(R.cnt);
  rp_free(C.cnt);
  rp_free(R.dead);
  rp_free(C.dead);
  rp_free(R.list);
  rp_free(C.list);
  rp_free(curr);
  rp_free(curc);
  rp_free(colptr);
  rp_free(rowidx);
  return out;
}

/* ---- align ------------------------------------------------------------------------- */

/* remap[i] = index in `to` of id i of `from` (interned); *ident says whether
 * that is i for every i < n; *extent is 1 + the largest remap[i], i < n. */
static int remap_ids(const rp_idmap *from, rp_idmap *to, int32_t n, int32_t *remap, int *ident,
                     int32_t *extent, rp_err *err) {
  *ident = 1;
  *extent = 0;
  for (int32_t i = 0; i < from->n; i++) {
    size_t len;
    const char *s = rp_idmap_id(from, i, &len);
    if (rp_idmap_intern(to, s, len, &remap[i], err)) return err->status;
    if (i < n) {
      *ident &= remap[i] == i;
      if (remap[i] + 1 > *extent) *extent = remap[i] + 1;
    }
  }
  return RP_OK;
}

rp_csr *rp_csr_align(const rp_csr *m, rp_idmap *rows, rp_idmap *cols, rp_err *err) {
  if (rows == m->rowmap) rows = NULL;
  if (cols == m->colmap) cols = NULL;
  if ((rows && !m->rowmap) || (cols && !m->colmap))
    return rp_errf(err, RP_EINVAL, "align: the matrix has no %s ids to align",
                   rows && !m->rowmap ? "row" : "column"),
           NULL;
  int32_t *rr = rows ? rp_malloc(((size_t)m->rowmap->n + 1) * sizeof *rr) : NULL;
  int32_t *cr = cols ? rp_malloc(((size_t)m->colmap->n + 1) * sizeof *cr) : NULL;
  int32_t *ti = NULL, *tc = NULL;
  rp_csr *out = NULL;
  int ri = 1, ci = 1;
  int32_t nr = m->nrows, nc = m->ncols;
  if ((rows && !rr) || (cols && !cr)) {
    rp_enomem(err, "align");
    goto done;
  }
  if ((rows && remap_ids(m->rowmap, rows, m->nrows, rr, &ri, &nr, err)) ||
      (cols && remap_ids(m->colmap, cols, m->ncols, cr, &ci, &nc, err)))
    goto done;
  rp_idmap *rm = rows ? rows : m->rowmap, *cm = cols ? cols : m->colmap;
  if (ri && ci) { /* nothing moves: a copy on the new maps */
    out = rp_csr_new(m->nrows, m->ncols, m->nnz, rm, cm, err);
    if (!out) goto done;
    memcpy(out->indptr, m->indptr, ((size_t)m->nrows + 1) * sizeof *out->indptr);
    memcpy(out->indices, m->indices, (size_t)m->nnz * sizeof *out->indices);
    memcpy(out->data, m->data, (size_t)m->nnz * sizeof *out->data);
    goto done;
  }
  /* rows and columns move: rebuild from triplets (the remaps are one to
   * one, so no two entries meet) */
  ti = rp_malloc((size_t)(m->nnz ? m->nnz : 1) * sizeof *ti);
  tc = rp_malloc((size_t)(m->nnz ? m->nnz : 1) * sizeof *tc);
  if (!ti || !tc) {
    rp_enomem(err, "align");
    goto done;
  }
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) {
      ti[q] = rr ? rr[i] : i;
      tc[q] = cr ? cr[m->indices[q]] : m->indices[q];
    }
  out = rp_csr_build(nr, nc, ti, tc, m->data, NULL, m->nnz, RP_AGG_SUM, rm, cm, err);
done:
  rp_free(rr);
  rp_free(cr);
  rp_free(ti);
  rp_free(tc);
  return out;
}

/* ---- transforms -------------------------------------------------------------------- */

/* A copy of m whose values are then rewritten by the caller. */
static rp_csr *copy_for(const rp_csr *m, rp_err *err) { return rp_csr_copy(m, err); }

/* Fails with the first non-finite value of t (the transform named what). */
static int check_finite(const rp_csr *t, const rp_csr *src, const char *what, rp_err *err) {
  for (int32_t i = 0; i < t->nrows; i++)
    for (int64_t q = t->indptr[i]; q < t->indptr[i + 1]; q++)
      if (!isfinite(t->data[q])) {
        char buf[256];
        return rp_errf(err, RP_EINVAL, "%s: value %g at %s gives %g (not finite)", what,
                       (double)src->data[q], where(t, i, t->indices[q], buf, sizeof buf),
                       (double)t->data[q]);
      }
  return RP_OK;
}

rp_csr *rp_csr_scale(const rp_csr *m, double alpha, rp_err *err) {
  if (!isfinite(alpha)) return rp_errf(err, RP_EINVAL, "scale: alpha must be finite"), NULL;
  rp_csr *t = copy_for(m, err);
  if (!t) return NULL;
#pragma omp parallel for if (m->nnz > PAR_MIN) schedule(static)
  for (int64_t q = 0; q < m->nnz; q++) t->data[q] = (float)(alpha * (double)m->data[q]);
  if (check_finite(t, m, "scale", err)) {
    rp_csr_free(t);
    return NULL;
  }
  return t;
}

rp_csr *rp_csr_log1p(const rp_csr *m, double alpha, double eps, rp_err *err) {
  if (!isfinite(alpha) || !isfinite(eps) || eps <= 0)
    return rp_errf(err, RP_EINVAL, "log1p: alpha must be finite and eps positive"), NULL;
  rp_csr *t = copy_for(m, err);
  if (!t) return NULL;
#pragma omp parallel for if (m->nnz > PAR_MIN) schedule(static)
  for (int64_t q = 0; q < m->nnz; q++)
    t->data[q] = (float)(1.0 + alpha * log1p((double)m->data[q] / eps));
  if (check_finite(t, m, "log1p", err)) {
    rp_csr_free(t);
    return NULL;
  }
  return t;
}

rp_csr *rp_csr_bm25(const rp_csr *m, double k1, double b, rp_err *err) {
  if (!isfinite(k1) || !isfinite(b))
    return rp_errf(err, RP_EINVAL, "bm25: k1 and b must be finite"), NULL;
  rp_csr *t = copy_for(m, err);
  double *idf = rp_malloc(((size_t)m->ncols + 1) * sizeof *idf);
  if (!t || !idf) {
    if (t) rp_enomem(err, "bm25");
    rp_csr_free(t);
    rp_free(idf);
    return NULL;
  }
  /* idf per column from its number of entries; mean row sum over all rows */
  memset(idf, 0, ((size_t)m->ncols + 1) * sizeof *idf);
  for (int64_t q = 0; q < m->nnz; q++) idf[m->indices[q]] += 1.0;
  double logn = log((double)m->nrows);
  for (int32_t j = 0; j < m->ncols; j++) idf[j] = logn - log1p(idf[j]);
  double total = 0;
  for (int64_t q = 0; q < m->nnz; q++) total += (double)m->data[q];
  double mean = m->nrows ? total / m->nrows : 0;
#pragma omp parallel for if (m->nnz > PAR_MIN) schedule(dynamic, 4096)
  for (int32_t i = 0; i < m->nrows; i++) {
    double s = 0;
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) s += (double)m->data[q];
    double norm = (1.0 - b) + b * s / mean;
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) {
      double x = (double)m->data[q];
      t->data[q] = (float)(x * (k1 + 1.0) / (k1 * norm + x) * idf[m->indices[q]]);
    }
  }
  rp_free(idf);
  if (check_finite(t, m, "bm25", err)) {
    rp_csr_free(t);
    return NULL;
  }
  return t;
}

rp_csr *rp_csr_binarize(const rp_csr *m, double threshold, rp_err *err) {
  if (isnan(threshold)) return rp_errf(err, RP_EINVAL, "binarize: threshold is NaN"), NULL;
  int64_t nnz = 0;
  for (int64_t q = 0; q < m->nnz; q++) nnz += (double)m->data[q] > threshold;
  rp_csr *t = rp_csr_new(m->nrows, m->ncols, nnz, m->rowmap, m->colmap, err);
  if (!t) return NULL;
  int64_t d = 0;
  for (int32_t i = 0; i < m->nrows; i++) {
    for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++)
      if ((double)m->data[q] > threshold) {
        t->indices[d] = m->indices[q];
        t->data[d++] = 1.0f;
      }
    t->indptr[i + 1] = d;
  }
  return t;
}

/* ---- counts ------------------------------------------------------------------------- */
void rp_csr_row_counts(const rp_csr *m, int64_t *out) {
  for (int32_t i = 0; i < m->nrows; i++) out[i] = m->indptr[i + 1] - m->indptr[i];
}

void rp_csr_col_counts(const rp_csr *m, int64_t *out) {
  memset(out, 0, (size_t)m->ncols * sizeof *out);
  for (int64_t q = 0; q < m->nnz; q++) out[m->indices[q]]++;
}

rp_dense *rp_csr_counts_dense(const rp_csr *m, int axis, rp_err *err) {
  int32_t n = axis == 0 ? m->nrows : m->ncols;
  rp_dense *d = rp_dense_new(n, 1, err);
  if (!d) return NULL;
  if (axis == 0) {
    for (int32_t i = 0; i < n; i++) d->data[i] = (float)(m->indptr[i + 1] - m->indptr[i]);
  } else {
    /* float counts are exact up to 2^24 entries per column; count in
     * integers first so larger ones round once */
    int64_t *c = rp_malloc(((size_t)n + 1) * sizeof *c);
    if (!c) {
      rp_dense_free(d);
      return rp_enomem(err, "column counts"), NULL;
    }
    rp_csr_col_counts(m, c);
    for (int32_t j = 0; j < n; j++) d->data[j] = (float)c[j];
    rp_free(c);
  }
  return d;
}
