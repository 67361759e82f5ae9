/*
 * csr.c -- CSR construction from triplets, transpose, validation, queries.
 *
 * rp_csr_build works in three passes over the triplets:
 *   1. check every entry and count entries per row (the input cut into one
 *      chunk per thread, each with its own counts);
 *   2. scatter (column, value) pairs, packed into one 64-bit word, into
 *      their row's segment of a scratch array: a stable counting sort by
 *      row, chunk k's entries of a row placed after chunk k-1's, so within
 *      a row entries keep input order whatever the thread count;
 *   3. per row, in parallel: combine repeated columns with a sparse
 *      accumulator (a per-thread column -> slot table stamped with the row
 *      number, so it is never cleared), visiting entries in input order,
 *      which is exactly what SUM/MAX/COUNT/LAST need; then sort the row's
 *      distinct entries by column (the packed word sorts by column first,
 *      and columns are distinct, so any sort gives the same result).
 * A final pass copies the rows into arrays of the exact size.  Nothing
 * depends on the number of threads: each row is combined in input order
 * by one thread.
 */
#include "csr.h"
#include "aggregate.h"

#include <math.h>
#include <omp.h>
#include <string.h>

rp_csr *rp_csr_new(int32_t nrows, int32_t ncols, int64_t nnz, rp_idmap *rowmap, rp_idmap *colmap,
                   rp_err *err) {
  if (nrows < 0 || ncols < 0 || nnz < 0)
    return rp_errf(err, RP_EINVAL, "negative matrix shape (%d x %d, %lld non-zeros)", nrows, ncols,
                   (long long)nnz),
           NULL;
  rp_csr *m = rp_calloc(1, sizeof *m);
  if (!m) return rp_enomem(err, "matrix"), NULL;
  m->nrows = nrows;
  m->ncols = ncols;
  m->nnz = nnz;
  int ok = 1;
  size_t ib = rp_mulsize((size_t)(nnz ? nnz : 1), sizeof *m->indices, &ok);
  if (!ok) {
    rp_free(m);
    return rp_errf(err, RP_EINVAL, "matrix too large (%lld non-zeros)", (long long)nnz), NULL;
  }
  m->indptr = rp_calloc((size_t)nrows + 1, sizeof *m->indptr);
  m->indices = rp_malloc(ib);
  m->data = rp_malloc(ib);
  if (!m->indptr || !m->indices || !m->data) {
    rp_csr_free(m);
    return rp_enomem(err, "matrix"), NULL;
  }
  m->rowmap = rp_idmap_retain(rowmap);
  m->colmap = rp_idmap_retain(colmap);
  return m;
}

rp_csr *rp_csr_retain(rp_csr *m) {
  __atomic_add_fetch(&m->shares, 1, __ATOMIC_RELAXED);
  return m;
}

void rp_csr_free(rp_csr *m) {
  if (!m || __atomic_fetch_sub(&m->shares, 1, __ATOMIC_ACQ_REL) > 0) return;
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

/* ---- build ------------------------------------------------------------------ */

static inline uint64_t pack(int32_t c, float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return (uint64_t)(uint32_t)c << 32 | b;
}
static inline int32_t pk_col(uint64_t e) { return (int32_t)(e >> 32); }
static inline float pk_val(uint64_t e) {
  uint32_t b = (uint32_t)e;
  float v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* Introsort of 64-bit keys (keys distinct within a row). */
static void isort_u64(uint64_t *a, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    uint64_t x = a[i];
    int64_t j = i;
    while (j > 0 && a[j - 1] > x) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

static void sift_u64(uint64_t *a, int64_t i, int64_t n) {
  uint64_t x = a[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && a[c + 1] > a[c]) c++;
    if (a[c] <= x) break;
    a[i] = a[c];
    i = c;
  }
  a[i] = x;
}

static void hsort_u64(uint64_t *a, int64_t n) {
  for (int64_t i = n / 2 - 1; i >= 0; i--) sift_u64(a, i, n);
  for (int64_t i = n - 1; i > 0; i--) {
    uint64_t x = a[0];
    a[0] = a[i];
    a[i] = x;
    sift_u64(a, 0, i);
  }
}

static void qsort_u64(uint64_t *a, int64_t n, int depth) {
  while (n > 24) {
    if (depth-- == 0) {
      hsort_u64(a, n);
      return;
    }
    /* median of three as pivot, Hoare partition */
    uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
    uint64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int64_t i = -1, j = n;
    for (;;) {
      do i++;
      while (a[i] < p);
      do j--;
      while (a[j] > p);
      if (i >= j) break;
      uint64_t t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    /* recurse into the smaller half, loop on the larger */
    if (j + 1 < n - j - 1) {
      qsort_u64(a, j + 1, depth);
      a += j + 1;
      n -= j + 1;
    } else {
      qsort_u64(a + j + 1, n - j - 1, depth);
      n = j + 1;
    }
  }
  isort_u64(a, n);
}

static void sort_u64(uint64_t *a, int64_t n) {
  int depth = 0;
  for (int64_t k = n; k > 1; k >>= 1) depth += 2;
  qsort_u64(a, n, depth);
}

/* Combines repeated columns of one row segment e[0..len) in place (input
 * order), then sorts the distinct entries; returns their number.  stamp and
 * slot are the thread's accumulator, stamp[c] == row marks c as seen. */
static int64_t combine_row(uint64_t *e, int64_t *tt, int64_t len, int agg, int32_t row,
                           int32_t *stamp, int32_t *slot) {
  int64_t w = 0;
  for (int64_t k = 0; k < len; k++) {
    uint64_t x = e[k];
    int32_t c = pk_col(x);
    if (stamp[c] != row) {
      stamp[c] = row;
      slot[c] = (int32_t)w;
      e[w] = agg == RP_AGG_COUNT ? pack(c, 1.0f) : x;
      if (tt) tt[w] = tt[k];
      w++;
      continue;
    }
    int64_t j = slot[c];
    float a = pk_val(e[j]), b = pk_val(x);
    switch (agg) {
      case RP_AGG_SUM:
        e[j] = pack(c, a + b);
        break;
      case RP_AGG_MAX:
        e[j] = pack(c, b > a ? b : a);
        break;
      case RP_AGG_COUNT:
        e[j] = pack(c, a + 1.0f);
        break;
      default: /* LAST: the latest time wins, ties to the later input */
        if (!tt || tt[k] >= tt[j]) {
          e[j] = x;
          if (tt) tt[j] = tt[k];
        }
    }
  }
  if (w < 32)
    isort_u64(e, w);
  else
    sort_u64(e, w);
  return w;
}

/* Threads for a pass over n items: one below ~64k items, else up to the
 * cores (OpenMP's default). */
static int pass_threads(int64_t n, int req) {
  int t = req > 0 ? req : omp_get_max_threads();
  if (n < (1 << 16)) t = 1;
  return t < 1 ? 1 : t;
}

/* First bad entry of k in [lo, hi) (out of the shape or non-finite), or hi;
 * counts the good ones per row into cnt until then. */
static int64_t count_chunk(const int32_t *r, const int32_t *c, const float *v, int64_t lo,
                           int64_t hi, int32_t nrows, int32_t ncols, int64_t *cnt) {
  for (int64_t k = lo; k < hi; k++) {
    if ((uint32_t)r[k] >= (uint32_t)nrows || (uint32_t)c[k] >= (uint32_t)ncols ||
        (v && !isfinite(v[k])))
      return k;
    cnt[r[k]]++;
  }
  return hi;
}

/* Scatters entries [lo, hi) to their rows at the cursors cur (stable). */
static void scatter_chunk(const int32_t *r, const int32_t *c, const float *v, const int64_t *t,
                          int64_t lo, int64_t hi, int64_t *cur, uint64_t *e, int64_t *tt) {
  if (!v)
    for (int64_t k = lo; k < hi; k++) e[cur[r[k]]++] = pack(c[k], 1.0f);
  else if (!t)
    for (int64_t k = lo; k < hi; k++) e[cur[r[k]]++] = pack(c[k], v[k]);
  else
    for (int64_t k = lo; k < hi; k++) {
      int64_t p = cur[r[k]]++;
      e[p] = pack(c[k], v[k]);
      tt[p] = t[k];
    }
}

rp_csr *rp_csr_build(int32_t nrows, int32_t ncols, const int32_t *r, const int32_t *c,
                     const float *v, const int64_t *t, int64_t n, int agg, rp_idmap *rowmap,
                     rp_idmap *colmap, rp_err *err) {
  if (nrows < 0 || ncols < 0 || n < 0)
    return rp_errf(err, RP_EINVAL, "negative matrix shape or entry count"), NULL;
  if (agg < RP_AGG_SUM || agg > RP_AGG_LAST)
    return rp_errf(err, RP_EINVAL, "unknown aggregation %d", agg), NULL;
  if (agg != RP_AGG_LAST) t = NULL;
  /* passes 1-2 cut the input into S chunks, one per thread, each with its
   * own row cursors; chunk order is kept within every row, so the scatter
   * is as stable as a serial one.  The accumulator of pass 3 costs 8 bytes
   * per column and thread: use no more threads than keep it within the
   * scratch size. */
  int S = pass_threads(n, 0), T = S;
  if (S > 64) S = 64;
  if ((int64_t)S * nrows > n) S = 1;
  if (ncols > 0 && (int64_t)T * ncols > n) T = (int)(n / ncols > 1 ? n / ncols : 1);
  size_t stride = (size_t)nrows + 1;
  int64_t *cnt = rp_calloc((size_t)S * stride, sizeof *cnt);
  int64_t *ptr = rp_malloc(stride * sizeof *ptr), bad[64];
  if (!cnt || !ptr) {
    rp_free(cnt);
    rp_free(ptr);
    return rp_enomem(err, "matrix build"), NULL;
  }
  /* pass 1: check and count per row and chunk */
#pragma omp parallel num_threads(S)
  {
    int q = omp_get_thread_num();
    bad[q] = count_chunk(r, c, v, n * q / S, n * (q + 1) / S, nrows, ncols, cnt + q * stride);
  }
  for (int q = 0; q < S; q++)
    if (bad[q] < n * (q + 1) / S) {
      int64_t k = bad[q];
      rp_free(cnt);
      rp_free(ptr);
      if (v && !isfinite(v[k]))
        return rp_errf(err, RP_EINVAL, "entry %lld: non-finite value %g", (long long)k + 1,
                       (double)v[k]),
               NULL;
      return rp_errf(err, RP_EINVAL, "entry %lld: (%d, %d) outside a %d x %d matrix",
                     (long long)k + 1, r[k], c[k], nrows, ncols),
             NULL;
    }
  /* row starts, and each chunk's cursor inside each row */
  int64_t run = 0;
  for (int32_t i = 0; i < nrows; i++) {
    ptr[i] = run;
    for (int q = 0; q < S; q++) {
      int64_t x = cnt[q * stride + (size_t)i];
      cnt[q * stride + (size_t)i] = run;
      run += x;
    }
  }
  ptr[nrows] = run;

  rp_csr *m = NULL;
  uint64_t *e = rp_malloc((size_t)(n ? n : 1) * sizeof *e);
  int64_t *tt = t ? rp_malloc((size_t)(n ? n : 1) * sizeof *tt) : NULL;
  int64_t *uniq = rp_malloc(((size_t)nrows + 1) * sizeof *uniq);
  int32_t *stamp = rp_malloc(((size_t)T * (size_t)ncols + 1) * sizeof *stamp);
  int32_t *slot = rp_malloc(((size_t)T * (size_t)ncols + 1) * sizeof *slot);
  if (!e || (t && !tt) || !uniq || !stamp || !slot) {
    rp_enomem(err, "matrix build");
    goto done;
  }
  memset(stamp, 0xff, ((size_t)T * (size_t)ncols + 1) * sizeof *stamp);

  /* pass 2: stable scatter by row */
#pragma omp parallel num_threads(S)
  {
    int q = omp_get_thread_num();
    scatter_chunk(r, c, v, t, n * q / S, n * (q + 1) / S, cnt + q * stride, e, tt);
  }

  /* pass 3: combine and sort each row */
#pragma omp parallel num_threads(T)
  {
    int id = omp_get_thread_num();
    int32_t *st = stamp + (size_t)id * (size_t)ncols;
    int32_t *sl = slot + (size_t)id * (size_t)ncols;
#pragma omp for schedule(dynamic, 1024)
    for (int32_t i = 0; i < nrows; i++) {
      int64_t a = ptr[i], len = ptr[i + 1] - a;
      if (len <= 1) {
        if (len == 1 && agg == RP_AGG_COUNT) e[a] = pack(pk_col(e[a]), 1.0f);
        uniq[i] = len;
      } else {
        uniq[i] = combine_row(e + a, tt ? tt + a : NULL, len, agg, i, st, sl);
      }
    }
  }
  int64_t nnz = 0;
  for (int32_t i = 0; i < nrows; i++) nnz += uniq[i];
  m = rp_csr_new(nrows, ncols, nnz, rowmap, colmap, err);
  if (!m) goto done;
  for (int32_t i = 0; i < nrows; i++) m->indptr[i + 1] = m->indptr[i] + uniq[i];
    /* pass 4: unpack into the exact-size arrays */
#pragma omp parallel for num_threads(T) schedule(dynamic, 1024)
  for (int32_t i = 0; i < nrows; i++) {
    const uint64_t *src = e + ptr[i];
    int64_t d = m->indptr[i];
    for (int64_t k = 0; k < uniq[i]; k++) {
      m->indices[d + k] = pk_col(src[k]);
      m->data[d + k] = pk_val(src[k]);
    }
  }
done:
  rp_free(cnt);
  rp_free(ptr);
  rp_free(e);
  rp_free(tt);
  rp_free(uniq);
  rp_free(stamp);
  rp_free(slot);
  return m;
}

/* ---- transpose ------------------------------------------------------------------
 * A counting sort of the entries by column.  With T threads the rows are cut
 * into T chunks of about nnz/T entries; thread k counts its chunk's entries
 * per column, the counts are turned into per-(column, chunk) cursors in
 * chunk order, and each thread scatters its chunk: every column's rows come
 * out ascending, exactly as the serial loop would leave them. */
rp_csr *rp_csr_transpose(const rp_csr *m, int threads, rp_err *err) {
  int T = pass_threads(m->nnz, threads);
  if (T > 1 && (int64_t)T * m->ncols > m->nnz) T = 1; /* cursors would cost more than they save */
  rp_csr *t = rp_csr_new(m->ncols, m->nrows, m->nnz, m->colmap, m->rowmap, err);
  if (!t) return NULL;
  int64_t *cur = rp_calloc((size_t)T * ((size_t)m->ncols + 1), sizeof *cur);
  int32_t *cut = rp_malloc(((size_t)T + 1) * sizeof *cut);
  if (!cur || !cut) {
    rp_free(cur);
    rp_free(cut);
    rp_csr_free(t);
    return rp_enomem(err, "transpose"), NULL;
  }
  /* chunk k is rows cut[k]..cut[k+1]-1 */
  cut[0] = 0;
  for (int k = 1; k < T; k++) {
    int64_t want = m->nnz / T * k;
    int32_t lo = cut[k - 1], hi = m->nrows;
    while (lo < hi) { /* first row whose start reaches want */
      int32_t mid = lo + (hi - lo) / 2;
      if (m->indptr[mid] < want)
        lo = mid + 1;
      else
        hi = mid;
    }
    cut[k] = lo;
  }
  cut[T] = m->nrows;
  size_t stride = (size_t)m->ncols + 1;
#pragma omp parallel num_threads(T)
  {
    int k = omp_get_thread_num();
    int64_t *cnt = cur + (size_t)k * stride;
    for (int64_t q = m->indptr[cut[k]]; q < m->indptr[cut[k + 1]]; q++) cnt[m->indices[q]]++;
#pragma omp barrier
#pragma omp single
    {
      int64_t run = 0;
      for (int32_t j = 0; j < m->ncols; j++) {
        t->indptr[j] = run;
        for (int q = 0; q < T; q++) {
          int64_t x = cur[(size_t)q * stride + (size_t)j];
          cur[(size_t)q * stride + (size_t)j] = run;
          run += x;
        }
      }
      t->indptr[m->ncols] = run;
    }
    for (int32_t i = cut[k]; i < cut[k + 1]; i++)
      for (int64_t q = m->indptr[i]; q < m->indptr[i + 1]; q++) {
        int64_t d = cnt[m->indices[q]]++;
        t->indices[d] = i;
        t->data[d] = m->data[q];
      }
  }
  rp_free(cur);
  rp_free(cut);
  return t;
}

/* ---- validation and queries ------------------------------------------------------ */
int rp_csr_validate(const rp_csr *m, rp_err *err) {
  if (m->nrows < 0 || m->ncols < 0 || m->nnz < 0)
    return rp_errf(err, RP_EFORMAT, "negative matrix shape");
  if (m->rowmap && m->rowmap->n < m->nrows)
    return rp_errf(err, RP_EFORMAT, "%d rows but only %d row ids", m->nrows, m->rowmap->n);
  if (m->colmap && m->colmap->n < m->ncols)
    return rp_errf(err, RP_EFORMAT, "%d columns but only %d column ids", m->ncols, m->colmap->n);
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
        return rp_errf(err, RP_EFORMAT, "row %d: columns not sorted and unique (%d after %d)", i,
                       m->indices[k], m->indices[k - 1]);
      if (!isfinite(m->data[k]))
        return rp_errf(err, RP_EFORMAT, "row %d, column %d: non-finite value", i, m->indices[k]);
    }
  }
  if (m->indptr[m->nrows] != m->nnz)
    return rp_errf(err, RP_EFORMAT, "row offsets end at %lld, expected %lld",
                   (long long)m->indptr[m->nrows], (long long)m->nnz);
  return RP_OK;
}

float rp_csr_value(const rp_csr *m, int32_t r, int32_t c, int *found) {
  if (found) *found = 0;
  if (r < 0 || r >= m->nrows || c < 0 || c >= m->ncols) return 0.0f;
  int64_t lo = m->indptr[r], hi = m->indptr[r + 1];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->indices[mid] < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < m->indptr[r + 1] && m->indices[lo] == c) {
    if (found) *found = 1;
    return m->data[lo];
  }
  return 0.0f;
}

double rp_csr_sum(const rp_csr *m) {
  double s = 0;
  for (int64_t k = 0; k < m->nnz; k++) s += (double)m->data[k];
  return s;
}

void rp_csr_minmax(const rp_csr *m, float *lo, float *hi) {
  float a = m->nnz ? m->data[0] : 0.0f, b = a;
  for (int64_t k = 1; k < m->nnz; k++) {
    a = m->data[k] < a ? m->data[k] : a;
    b = m->data[k] > b ? m->data[k] : b;
  }
  *lo = a;
  *hi = b;
}

int rp_csr_nonempty(const rp_csr *m, int32_t *rows, int32_t *cols, rp_err *err) {
  if (rows) {
    int32_t n = 0;
    for (int32_t i = 0; i < m->nrows; i++) n += m->indptr[i + 1] > m->indptr[i];
    *rows = n;
  }
  if (cols) {
    /* a bitmap over columns: one bit each */
    uint64_t *bits = rp_calloc(((size_t)m->ncols + 63) / 64 + 1, sizeof *bits);
    if (!bits) return rp_enomem(err, "column count");
    int32_t n = 0;
    for (int64_t k = 0; k < m->nnz; k++) {
      uint32_t j = (uint32_t)m->indices[k];
      uint64_t bit = 1ULL << (j & 63);
      n += !(bits[j >> 6] & bit);
      bits[j >> 6] |= bit;
    }
    rp_free(bits);
    *cols = n;
  }
  return RP_OK;
}
