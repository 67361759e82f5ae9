/*
 * kernels.c -- the vector kernels of ALS training and scoring.
 *
 * Where implicit's CG walks a user's scattered item rows with a BLAS-1 dot
 * and a BLAS-1 axpy per row (two passes per CG step, plus the residual),
 * these kernels fuse the two: for each row y_j the dot t = y_j . p and the
 * update Ap += w_j t y_j are done while y_j sits in registers, so each CG
 * step reads every row once; and the first pass copies the rows into a
 * contiguous block that the later steps read from L1/L2 instead of
 * chasing indices through memory.
 *
 * Every kernel has one summation order per (build, f), so the same inputs
 * give the same bits wherever a kernel is called from.
 */
#include "als_impl.h"

#ifdef __AVX512F__
#include <immintrin.h>
#define RP_AVX512 1
#else
#define RP_AVX512 0
#endif

/* distance (in rows) of software prefetches when walking scattered rows */
#define PF_ROWS 6

static inline void prefetch_row(const float *p, int32_t f) {
  for (int32_t d = 0; d < f; d += 16) __builtin_prefetch(p + d, 0, 3);
}

float rp_als_dot(const float *a, const float *b, int32_t f) {
#if RP_AVX512
  if ((f & 15) == 0) {
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b));
    for (int32_t d = 16; d < f; d += 16)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), acc);
    return _mm512_reduce_add_ps(acc);
  }
#endif
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int32_t d = 0; d < f; d++) s += a[d] * b[d];
  return s;
}

void rp_als_axpy(float a, const float *x, float *y, int32_t f) {
#pragma omp simd
  for (int32_t d = 0; d < f; d++) y[d] += a * x[d];
}

/* y = G p: G is symmetric, so y = sum_j p_j G[j, :], a sequence of
 * contiguous axpys with no horizontal sums. */
void rp_als_symv(const float *G, const float *p, float *y, int32_t f) {
  for (int32_t d = 0; d < f; d++) y[d] = 0;
  for (int32_t j = 0; j < f; j++) rp_als_axpy(p[j], G + (int64_t)j * f, y, f);
}

#if RP_AVX512
/* f = 16 m: the row lives in m registers between its dot and its axpy. */
static void gather_residual_avx512(const float *Y, const int32_t *idx, int64_t n, int32_t f,
                                   const float *w, const float *bc, const float *x, float *B,
                                   float *r) {
  for (int64_t j = 0; j < n; j++) {
    if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
    const float *y = Y + (int64_t)idx[j] * f;
    float *dst = B ? B + j * f : NULL;
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(y), _mm512_loadu_ps(x));
    for (int32_t d = 16; d < f; d += 16)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(y + d), _mm512_loadu_ps(x + d), acc);
    float t = _mm512_reduce_add_ps(acc);
    __m512 c = _mm512_set1_ps(bc[j] - w[j] * t);
    for (int32_t d = 0; d < f; d += 16) {
      __m512 v = _mm512_loadu_ps(y + d);
      if (dst) _mm512_storeu_ps(dst + d, v);
      _mm512_storeu_ps(r + d, _mm512_fmadd_ps(c, v, _mm512_loadu_ps(r + d)));
    }
  }
}

static void block_apply_avx512(const float *B, const float *Y, const int32_t *idx, int64_t n,
                               int32_t f, const float *w, const float *p, float *Ap) {
  if (f == 64) { /* the common case: p and Ap stay in registers */
    __m512 p0 = _mm512_loadu_ps(p), p1 = _mm512_loadu_ps(p + 16), p2 = _mm512_loadu_ps(p + 32),
           p3 = _mm512_loadu_ps(p + 48);
    __m512 a0 = _mm512_loadu_ps(Ap), a1 = _mm512_loadu_ps(Ap + 16), a2 = _mm512_loadu_ps(Ap + 32),
           a3 = _mm512_loadu_ps(Ap + 48);
    for (int64_t j = 0; j < n; j++) {
      const float *y;
      if (B)
        y = B + j * 64;
      else {
        if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * 64, 64);
        y = Y + (int64_t)idx[j] * 64;
      }
      __m512 y0 = _mm512_loadu_ps(y), y1 = _mm512_loadu_ps(y + 16), y2 = _mm512_loadu_ps(y + 32),
             y3 = _mm512_loadu_ps(y + 48);
      __m512 acc = _mm512_mul_ps(y0, p0);
      acc = _mm512_fmadd_ps(y1, p1, acc);
      acc = _mm512_fmadd_ps(y2, p2, acc);
      acc = _mm512_fmadd_ps(y3, p3, acc);
      __m512 c = _mm512_set1_ps(w[j] * _mm512_reduce_add_ps(acc));
      a0 = _mm512_fmadd_ps(c, y0, a0);
      a1 = _mm512_fmadd_ps(c, y1, a1);
      a2 = _mm512_fmadd_ps(c, y2, a2);
      a3 = _mm512_fmadd_ps(c, y3, a3);
    }
    _mm512_storeu_ps(Ap, a0);
    _mm512_storeu_ps(Ap + 16, a1);
    _mm512_storeu_ps(Ap + 32, a2);
    _mm512_storeu_ps(Ap + 48, a3);
    return;
  }
  for (int64_t j = 0; j < n; j++) {
    const float *y;
    if (B)
      y = B + j * f;
    else {
      if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
      y = Y + (int64_t)idx[j] * f;
    }
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(y), _mm512_loadu_ps(p));
    for (int32_t d = 16; d < f; d += 16)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(y + d), _mm512_loadu_ps(p + d), acc);
    __m512 c = _mm512_set1_ps(w[j] * _mm512_reduce_add_ps(acc));
    for (int32_t d = 0; d < f; d += 16)
      _mm512_storeu_ps(Ap + d, _mm512_fmadd_ps(c, _mm512_loadu_ps(y + d), _mm512_loadu_ps(Ap + d)));
  }
}
#endif

void rp_als_gather_residual(const float *Y, const int32_t *idx, int64_t n, int32_t f,
                            const float *w, const float *bc, const float *x, float *B, float *r) {
#if RP_AVX512
  if ((f & 15) == 0) {
    gather_residual_avx512(Y, idx, n, f, w, bc, x, B, r);
    return;
  }
#endif
  for (int64_t j = 0; j < n; j++) {
    if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
    const float *y = Y + (int64_t)idx[j] * f;
    if (B) {
      float *dst = B + j * f;
      for (int32_t d = 0; d < f; d++) dst[d] = y[d];
    }
    rp_als_axpy(bc[j] - w[j] * rp_als_dot(y, x, f), y, r, f);
  }
}

void rp_als_block_apply(const float *B, const float *Y, const int32_t *idx, int64_t n, int32_t f,
                        const float *w, const float *p, float *Ap) {
#if RP_AVX512
  if ((f & 15) == 0) {
    block_apply_avx512(B, Y, idx, n, f, w, p, Ap);
    return;
  }
#endif
  for (int64_t j = 0; j < n; j++) {
    const float *y;
    if (B)
      y = B + j * f;
    else {
      if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
      y = Y + (int64_t)idx[j] * f;
    }
    rp_als_axpy(w[j] * rp_als_dot(y, p, f), y, Ap, f);
  }
}
