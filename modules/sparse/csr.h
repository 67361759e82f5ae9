/*
 * csr.h -- compressed sparse rows: users as rows, items as columns.
 *
 * float32 values, int32 column indices sorted and unique within each row,
 * int64 row offsets (a matrix may pass 2^31 non-zeros).  The id maps travel
 * with the matrix (retained); nrows/ncols may be smaller than the maps when
 * the maps grew after the matrix was built: rows or columns past the end are
 * empty.
 */
#ifndef RP_CSR_H
#define RP_CSR_H

#include "idmap.h"

typedef struct rp_csr {
  int32_t nrows, ncols;
  int64_t nnz;
  int64_t *indptr;           /* nrows + 1 */
  int32_t *indices;          /* nnz */
  float *data;               /* nnz */
  rp_idmap *rowmap, *colmap; /* retained; may be NULL */
} rp_csr;

/* A new matrix with room for nnz entries, indptr zeroed, maps retained.
 * Owned by the caller. */
rp_csr *rp_csr_new(int32_t nrows, int32_t ncols, int64_t nnz, rp_idmap *rowmap, rp_idmap *colmap,
                   rp_err *err);
void rp_csr_free(rp_csr *m); /* accepts NULL */
/* A deep copy (maps shared). */
rp_csr *rp_csr_copy(const rp_csr *m, rp_err *err);

/* Builds a matrix from n triplets (r[k], c[k], v[k]); repeated pairs are
 * combined by agg (RP_AGG_SUM, _MAX, _COUNT, _LAST; LAST keeps the latest by
 * t[k] when t is given, else the last in input order; ties in t keep input
 * order).  Time O(n + nrows + sum of row sort costs), memory O(n). */
rp_csr *rp_csr_build(int32_t nrows, int32_t ncols, const int32_t *r, const int32_t *c,
                     const float *v, const int64_t *t, int64_t n, int agg, rp_idmap *rowmap,
                     rp_idmap *colmap, rp_err *err);
/* The transpose (items as rows); maps swapped.  O(nnz + nrows + ncols). */
rp_csr *rp_csr_transpose(const rp_csr *m, int threads, rp_err *err);
/* Number of entries in row r (0 past the end). */
static inline int64_t rp_csr_rowlen(const rp_csr *m, int32_t r) {
  return r < m->nrows ? m->indptr[r + 1] - m->indptr[r] : 0;
}
/* Bytes held (not the maps). */
size_t rp_csr_bytes(const rp_csr *m);
/* Checks the invariants (offsets monotone, indices sorted, unique, in range,
 * values finite); returns RP_OK or RP_EFORMAT with the first violation. */
int rp_csr_validate(const rp_csr *m, rp_err *err);

#endif
