/*
 * csr.h -- compressed sparse rows: users as rows, items as columns.
 *
 * float32 values, int32 column indices sorted and unique within each row,
 * int64 row offsets (a matrix may pass 2^31 non-zeros).  The id maps travel
 * with the matrix (retained); nrows/ncols may be smaller than the maps when
 * the maps grew after the matrix was built: rows or columns past the end are
 * empty.  Every function below that returns a new matrix keeps the maps and
 * the shape of its input (filters leave removed rows/columns empty), so
 * matrices derived from one log stay aligned.
 *
 * Files: csr.c (construction, transpose, validation, queries), csr_ops.c
 * (k-core filter, weighting transforms, counts), csr_io.c (binary files).
 */
#ifndef RP_CSR_H
#define RP_CSR_H

#include "dense.h"
#include "aggregate.h"
#include "idmap.h"

typedef struct rp_csr {
  int32_t nrows, ncols;
  int64_t nnz;
  int64_t *indptr;           /* nrows + 1 */
  int32_t *indices;          /* nnz */
  float *data;               /* nnz */
  rp_idmap *rowmap, *colmap; /* retained; may be NULL */
  int shares;                /* extra owners (rp_csr_retain), atomic; 0 = one owner */
} rp_csr;

/* ---- construction (csr.c) ----------------------------------------------- */

/* A new matrix with room for nnz entries, indptr zeroed, maps retained
 * (either may be NULL).  Owned by the caller. */
rp_csr *rp_csr_new(int32_t nrows, int32_t ncols, int64_t nnz, rp_idmap *rowmap, rp_idmap *colmap,
                   rp_err *err);
/* Drops one owner; frees the matrix when it was the last (accepts NULL). */
void rp_csr_free(rp_csr *m);
/* Adds an owner (a read-only matrix shared by threads, such as a server's
 * seen-items matrix); each owner calls rp_csr_free once.  Returns m. */
rp_csr *rp_csr_retain(rp_csr *m);
/* A deep copy (maps shared).  Owned by the caller. */
rp_csr *rp_csr_copy(const rp_csr *m, rp_err *err);

/* Builds a matrix from n triplets (r[k], c[k], v[k]) (v NULL = all 1);
 * repeated (row, column) pairs are combined by agg: RP_AGG_SUM, _MAX,
 * _COUNT (number of events; v ignored) or _LAST (the value of the latest
 * event by t[k] when t is given, else the last in input order; among equal
 * times the later in input order wins).  Indices outside the shape and
 * non-finite values are errors naming the entry.  Borrows the arrays,
 * retains the maps; returns a new matrix owned by the caller.
 * Time O(n + nrows + T*ncols + sum over rows of u log u) where u is the
 * number of distinct columns of a row and T the thread count; memory 8n
 * bytes of scratch (16n for LAST with times) + 8*T*ncols + the result. */
rp_csr *rp_csr_build(int32_t nrows, int32_t ncols, const int32_t *r, const int32_t *c,
                     const float *v, const int64_t *t, int64_t n, int agg, rp_idmap *rowmap,
                     rp_idmap *colmap, rp_err *err);

/* The transpose (items as rows); maps swapped.  threads <= 0 means all
 * cores; the result does not depend on it (it is only used when the matrix
 * is large enough to pay).  Returns a new matrix owned by the caller.
 * Time O(nnz + nrows + T*ncols), scratch 8*T*ncols bytes. */
rp_csr *rp_csr_transpose(const rp_csr *m, int threads, rp_err *err);

/* Number of entries in row r (0 past the end). */
static inline int64_t rp_csr_rowlen(const rp_csr *m, int32_t r) {
  return r < m->nrows ? m->indptr[r + 1] - m->indptr[r] : 0;
}
/* Bytes held (not the maps). */
size_t rp_csr_bytes(const rp_csr *m);
/* Checks the invariants (offsets monotone, indices sorted, unique, in range,
 * values finite, maps at least as long as the shape); returns RP_OK or
 * RP_EFORMAT with the first violation. */
int rp_csr_validate(const rp_csr *m, rp_err *err);

/* Value at (r, c): binary search in row r; 0 when not stored or out of
 * the shape.  *found (may be NULL) says whether an entry is stored. */
float rp_csr_value(const rp_csr *m, int32_t r, int32_t c, int *found);
/* Sum of all values (double, fixed order). */
double rp_csr_sum(const rp_csr *m);
/* Smallest and largest stored value (both 0 when there is none). */
void rp_csr_minmax(const rp_csr *m, float *lo, float *hi);
/* Number of rows and of columns holding at least one entry (either pointer
 * may be NULL; counting columns needs ncols/8 bytes of scratch). */
int rp_csr_nonempty(const rp_csr *m, int32_t *rows, int32_t *cols, rp_err *err);

/* m re-expressed on the maps rows and cols (either NULL = keep m's): every
 * id of m's map is interned into the given one (ids it lacks are appended,
 * as reading a second log onto a map does) and rows/columns move to their
 * index there.  When the given map holds m's ids at the same indices (maps
 * that share a history: one is a prefix of the other) nothing moves and
 * this is a copy.  Needs m to have the maps it replaces.  Returns a new
 * matrix owned by the caller; on failure the given maps may have gained
 * ids but nothing else changed. */
rp_csr *rp_csr_align(const rp_csr *m, rp_idmap *rows, rp_idmap *cols, rp_err *err);

/* ---- filters, transforms, counts (csr_ops.c) --------------------------------- */

typedef struct rp_kcore_report {
  int32_t rows_removed, cols_removed; /* non-empty rows/columns emptied */
  int64_t nnz_removed;                /* entries removed */
  int32_t rows, cols;                 /* non-empty rows/columns left */
  int64_t nnz;                        /* entries left */
  int32_t rounds;                     /* removal rounds (0 = nothing to remove) */
} rp_kcore_report;

/* The (min_row, min_col) k-core: repeatedly removes every row with fewer
 * than min_row entries and every column with fewer than min_col entries
 * (counted among what is left) until both hold; a threshold of 0 or 1
 * removes nothing by itself.  One round removes, simultaneously, every row
 * and column below its threshold at the start of the round; the core is
 * the same whatever the order.  Returns a new matrix on the same maps and
 * shape (removed rows/columns empty), owned by the caller; fills rep when
 * not NULL.  Time O(nnz + nrows + ncols) whatever the number of rounds;
 * scratch 17*(nrows + ncols) bytes, plus 4*nnz + 16*ncols when more than
 * 4 rounds remove columns (then a column -> rows index pays). */
rp_csr *rp_csr_kcore(const rp_csr *m, int64_t min_row, int64_t min_col, rp_kcore_report *rep,
                     rp_err *err);

/* New matrices (same maps and shape) with transformed values; a non-finite
 * result is an error naming the entry.  Owned by the caller.
 *   scale:    alpha * r
 *   log1p:    1 + alpha * log(1 + r / eps)           (Hu, Koren & Volinsky)
 *   bm25:     r (k1 + 1) / (k1 L_u + r) * idf_i, L_u = 1 - b + b s_u / mean(s),
 *             idf_i = log(nrows) - log(1 + df_i)  (implicit's bm25_weight:
 *             s_u the row's value sum, mean over all nrows rows, df_i the
 *             column's number of entries)
 *   binarize: 1 for entries with r > threshold; the others are removed. */
rp_csr *rp_csr_scale(const rp_csr *m, double alpha, rp_err *err);
rp_csr *rp_csr_log1p(const rp_csr *m, double alpha, double eps, rp_err *err);
rp_csr *rp_csr_bm25(const rp_csr *m, double k1, double b, rp_err *err);
rp_csr *rp_csr_binarize(const rp_csr *m, double threshold, rp_err *err);

/* Entries per row (out[nrows]) and per column (out[ncols]). */
void rp_csr_row_counts(const rp_csr *m, int64_t *out);
void rp_csr_col_counts(const rp_csr *m, int64_t *out);
/* The same as a new n x 1 Dense (float32) owned by the caller; axis 0 =
 * per row, 1 = per column. */
rp_dense *rp_csr_counts_dense(const rp_csr *m, int axis, rp_err *err);

/* ---- files (csr_io.c) -------------------------------------------------------------
 * A versioned little-endian binary format with both id maps and CRC32s
 * (layout in README "File formats"); ".gz" names are gzip-compressed. */

#define RP_CSR_FORMAT_VERSION 1

/* Writes m to path through a temporary file renamed into place: on any
 * error nothing is left behind and an existing file is untouched.  A ".gz"
 * path is compressed at gzip level 1 (these arrays gain ~10% from level 6
 * at 8 times the time); rp_csr_save_level chooses (1..9). */
int rp_csr_save(const rp_csr *m, const char *path, rp_err *err);
int rp_csr_save_level(const rp_csr *m, const char *path, int gzip_level, rp_err *err);
/* Reads a matrix written by rp_csr_save (plain or gzip, detected by
 * content) with fresh id maps.  Rejects foreign, truncated, corrupted
 * (CRC mismatch) and newer-version files with a message saying which.
 * Streams into the final arrays: extra memory is a read buffer and one id.
 * Returns a new matrix owned by the caller. */
rp_csr *rp_csr_load(const char *path, rp_err *err);

#endif
