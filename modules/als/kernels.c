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
static inline void prefetch_row_l2(const float *p, int32_t f) {
  for (int32_t d = 0; d < f; d += 16) __builtin_prefetch(p + d, 0, 2);
}

void rp_als_prefetch_rows(const float *Y, const int32_t *idx, int64_t n, int32_t f) {
  for (int64_t j = 0; j < n; j++) prefetch_row_l2(Y + (int64_t)idx[j] * f, f);
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
 * contiguous axpys with no horizontal sums; with AVX-512 a 64-wide slice
 * of y stays in registers for the whole sum, so only G is loaded. */
void rp_als_symv(const float *G, const float *p, float *y, int32_t f) {
#if RP_AVX512
  if ((f & 15) == 0) {
    for (int32_t c = 0; c < f; c += 64) {
      int32_t w = f - c < 64 ? (f - c) / 16 : 4;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int32_t j = 0; j < f; j++) {
        const float *g = G + (int64_t)j * f + c;
        __m512 pj = _mm512_set1_ps(p[j]);
        a0 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(g), a0);
        if (w > 1) a1 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(g + 16), a1);
        if (w > 2) a2 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(g + 32), a2);
        if (w > 3) a3 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(g + 48), a3);
      }
      _mm512_storeu_ps(y + c, a0);
      if (w > 1) _mm512_storeu_ps(y + c + 16, a1);
      if (w > 2) _mm512_storeu_ps(y + c + 32, a2);
      if (w > 3) _mm512_storeu_ps(y + c + 48, a3);
    }
    return;
  }
#endif
  for (int32_t d = 0; d < f; d++) y[d] = 0;
  for (int32_t j = 0; j < f; j++) rp_als_axpy(p[j], G + (int64_t)j * f, y, f);
}

/* ---- Cholesky pieces ------------------------------------------------------
 * The normal matrix lives in the upper triangle of a row-major f x ld
 * array (ld = rp_als_chol_ld(f)); column f holds the right-hand side, so
 * the factorisation also performs the forward substitution U^T y = b and
 * leaves y in column f. */
void rp_als_gather_scale(const float *Y, const int32_t *idx, int64_t n, int32_t f, const float *w,
                         const float *bc, float *B, float *Bw, float *b, const int32_t *next,
                         int64_t nnext) {
  for (int64_t j = 0; j < n; j++) {
    if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
    if (j < nnext) prefetch_row_l2(Y + (int64_t)next[j] * f, f);
    const float *y = Y + (int64_t)idx[j] * f;
    float *dst = B + j * f, *dw = Bw + j * f, wj = w[j], cj = bc[j];
#pragma omp simd
    for (int32_t d = 0; d < f; d++) {
      float v = y[d];
      dst[d] = v;
      dw[d] = wj * v;
      b[d] += cj * v;
    }
  }
}

#if RP_AVX512
/* A[a + r][c + 16 q ..] (+/-)= sum_j Bw[j][a + r] B[j][c + 16 q ..] for
 * r < 4, q < W: four rows of A by up to 64 columns held in 16 registers
 * while the k-block streams past (16 FMAs per 4 loads and 4 broadcasts). */
static inline __attribute__((always_inline)) void syrk_tile(const float *Bw, const float *B,
                                                            int64_t ldb, int64_t n, float *A,
                                                            int64_t lda, int32_t a, int32_t c,
                                                            const int W, const int sub) {
  __m512 acc[4][4];
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
    for (int q = 0; q < W; q++) acc[r][q] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j++) {
    const float *bj = B + j * ldb + c, *wj = Bw + j * ldb + a;
    __m512 v[4];
#pragma GCC unroll 4
    for (int q = 0; q < W; q++) v[q] = _mm512_loadu_ps(bj + 16 * q);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m512 sc = _mm512_set1_ps(wj[r]);
#pragma GCC unroll 4
      for (int q = 0; q < W; q++) acc[r][q] = _mm512_fmadd_ps(sc, v[q], acc[r][q]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
    for (int q = 0; q < W; q++) {
      float *dst = A + (int64_t)(a + r) * lda + c + 16 * q;
      __m512 o = _mm512_loadu_ps(dst);
      _mm512_storeu_ps(dst, sub ? _mm512_sub_ps(o, acc[r][q]) : _mm512_add_ps(o, acc[r][q]));
    }
}

/* rows a0..a1-1 (multiples of 4) of A, columns from the 16-chunk holding
 * the diagonal to cend (a multiple of 16) */
static void syrk_rows(const float *Bw, const float *B, int64_t ldb, int64_t n, float *A,
                      int64_t lda, int32_t a0, int32_t a1, int32_t cend, int sub) {
  for (int32_t a = a0; a < a1; a += 4)
    for (int32_t c = a & ~15; c < cend; c += 64) {
      int w = cend - c < 64 ? (cend - c) / 16 : 4;
      if (sub) switch (w) {
          case 1:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 1, 1);
            break;
          case 2:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 2, 1);
            break;
          case 3:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 3, 1);
            break;
          default:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 4, 1);
            break;
        }
      else
        switch (w) {
          case 1:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 1, 0);
            break;
          case 2:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 2, 0);
            break;
          case 3:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 3, 0);
            break;
          default:
            syrk_tile(Bw, B, ldb, n, A, lda, a, c, 4, 0);
            break;
        }
    }
}
#endif

/* A[a][c] += sum_j Bw[j][a] B[j][c] for c >= a, c < f (with AVX-512 whole
 * 16-column chunks: a few entries left of the diagonal change too; they
 * are never read). */
void rp_als_syrk_upper(const float *Bw, const float *B, int64_t n, int32_t f, float *A,
                       int64_t lda) {
#if RP_AVX512
  if ((f & 15) == 0) {
    /* j in chunks whose rows of B and Bw stay in L1 (about 24 KiB) while
     * every tile of A passes over them */
    int64_t jb = 3072 / f;
    if (jb < 4) jb = 4;
    for (int64_t j = 0; j < n; j += jb)
      syrk_rows(Bw + j * f, B + j * f, f, n - j < jb ? n - j : jb, A, lda, 0, f, f, 0);
    return;
  }
#endif
  for (int64_t j = 0; j < n; j++) {
    const float *bj = B + j * f, *wj = Bw + j * f;
    for (int32_t a = 0; a < f; a++) {
      float sc = wj[a];
      float *row = A + (int64_t)a * lda;
#pragma omp simd
      for (int32_t c = a; c < f; c++) row[c] += sc * bj[c];
    }
  }
}

/* Right-looking Cholesky of the upper triangle, columns up to ncols (the
 * augmented right-hand side included).  Unblocked: row k is scaled by
 * 1/sqrt(pivot), then every later row loses its multiple of row k. */
static int chol_unblocked(float *A, int32_t k0, int32_t k1, int32_t ncols, int64_t lda) {
  for (int32_t k = k0; k < k1; k++) {
    float *uk = A + (int64_t)k * lda;
    float d = uk[k];
    if (!(d > 0)) return k + 1;
    d = sqrtf(d);
    float inv = 1.0f / d;
    uk[k] = d;
#pragma omp simd
    for (int32_t j = k + 1; j < ncols; j++) uk[j] *= inv;
    for (int32_t i = k + 1; i < k1; i++) {
      float sc = uk[i];
      float *ai = A + (int64_t)i * lda;
#pragma omp simd
      for (int32_t j = i; j < ncols; j++) ai[j] -= sc * uk[j];
    }
  }
  return 0;
}

#if RP_AVX512
static inline void panel_chunk(float *A, int64_t lda, int32_t kb, int32_t c, const float *invd) {
  __m512 R[16];
#pragma GCC unroll 16
  for (int r = 0; r < 16; r++) R[r] = _mm512_loadu_ps(A + (int64_t)(kb + r) * lda + c);
#pragma GCC unroll 16
  for (int k = 0; k < 16; k++) {
    const float *uk = A + (int64_t)(kb + k) * lda + kb;
    R[k] = _mm512_mul_ps(_mm512_set1_ps(invd[k]), R[k]);
#pragma GCC unroll 16
    for (int i = k + 1; i < 16; i++) R[i] = _mm512_fnmadd_ps(_mm512_set1_ps(uk[i]), R[k], R[i]);
  }
#pragma GCC unroll 16
  for (int r = 0; r < 16; r++) _mm512_storeu_ps(A + (int64_t)(kb + r) * lda + c, R[r]);
}
#endif

/* In place: the upper triangle of A (row-major, leading dimension lda,
 * symmetric positive definite in its first f columns) becomes U with
 * A = U^T U; columns f..ncols-1 (a right-hand side) become U^-T times
 * themselves.  With AVX-512 blocked by 16: a panel of 16 rows is factored
 * unblocked over 16-column chunks (entries left of the diagonal in a chunk
 * change too and are never read), then the trailing rows lose the panel's
 * rank-16 product, computed in registers as in syrk.  Returns 0, or k + 1
 * when pivot k is not positive (A is not positive definite). */
int rp_als_cholesky_upper(float *A, int32_t f, int32_t ncols, int64_t lda) {
#if RP_AVX512
  if ((f & 15) == 0 && lda >= ((ncols + 15) & ~15)) {
    int32_t cend = (ncols + 15) & ~15;
    for (int32_t kb = 0; kb < f; kb += 16) {
      /* the 16 x 16 diagonal block, unblocked */
      float invd[16];
      for (int32_t k = kb; k < kb + 16; k++) {
        float *uk = A + (int64_t)k * lda;
        float d = uk[k];
        if (!(d > 0)) return k + 1;
        d = sqrtf(d);
        invd[k - kb] = 1.0f / d;
        _mm512_storeu_ps(uk + kb,
                         _mm512_mul_ps(_mm512_set1_ps(invd[k - kb]), _mm512_loadu_ps(uk + kb)));
        uk[k] = d;
        for (int32_t i = k + 1; i < kb + 16; i++) {
          float *ai = A + (int64_t)i * lda;
          _mm512_storeu_ps(ai + kb,
                           _mm512_fnmadd_ps(_mm512_set1_ps(uk[i]), _mm512_loadu_ps(uk + kb),
                                            _mm512_loadu_ps(ai + kb)));
        }
      }
      /* the panel's other chunks: the same operations with the 16 rows of
       * the chunk held in registers (U11^-T applied to A12) */
      for (int32_t c = kb + 16; c < cend; c += 16) panel_chunk(A, lda, kb, c, invd);
      if (kb + 16 < f) {
        const float *P = A + (int64_t)kb * lda;
        syrk_rows(P, P, lda, 16, A, lda, kb + 16, f, cend, 1);
      }
    }
    return 0;
  }
#endif
  return chol_unblocked(A, 0, f, ncols, lda);
}

/* x = U^-1 y for the factor in A (upper, leading dimension lda); x and y
 * may not overlap. */
void rp_als_chol_backward(const float *U, int32_t f, int64_t lda, const float *y, float *x) {
#if RP_AVX512
  if ((f & 15) == 0) {
    /* x is only ever read and written as whole aligned vectors, so each
     * new component reaches the next dot product by store forwarding */
    for (int32_t d = 0; d < f; d += 16) _mm512_storeu_ps(x + d, _mm512_setzero_ps());
    for (int32_t k = f - 1; k >= 0; k--) {
      const float *uk = U + (int64_t)k * lda;
      int32_t c = k & ~15;
      __m512 acc = _mm512_mul_ps(_mm512_maskz_loadu_ps((__mmask16)(0xFFFEu << (k & 15)), uk + c),
                                 _mm512_loadu_ps(x + c));
      for (int32_t j = c + 16; j < f; j += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(uk + j), _mm512_loadu_ps(x + j), acc);
      float xk = (y[k] - _mm512_reduce_add_ps(acc)) / uk[k];
      _mm512_storeu_ps(x + c, _mm512_mask_mov_ps(_mm512_loadu_ps(x + c),
                                                 (__mmask16)(1u << (k & 15)), _mm512_set1_ps(xk)));
    }
    return;
  }
#endif
  for (int32_t k = f - 1; k >= 0; k--) {
    const float *uk = U + (int64_t)k * lda;
    float s = y[k];
    for (int32_t j = k + 1; j < f; j++) s -= uk[j] * x[j];
    x[k] = s / uk[k];
  }
}

/* Solves U^T U x = z in place (any right-hand side: fold-in, explain). */
void rp_als_chol_solve(const float *U, int32_t f, int64_t lda, float *z) {
  for (int32_t k = 0; k < f; k++) {
    const float *uk = U + (int64_t)k * lda;
    float zk = z[k] / uk[k];
    z[k] = zk;
    for (int32_t j = k + 1; j < f; j++) z[j] -= zk * uk[j];
  }
  for (int32_t k = f - 1; k >= 0; k--) {
    const float *uk = U + (int64_t)k * lda;
    float s = z[k];
    for (int32_t j = k + 1; j < f; j++) s -= uk[j] * z[j];
    z[k] = s / uk[k];
  }
}

/* ---- CG pieces -------------------------------------------------------------
 * With AVX-512 and f = 16 W <= 128, x (or p) and the accumulated r (or Ap)
 * live in registers for the whole pass and each row is loaded once: a dot
 * product, a horizontal sum, W FMAs. */
#if RP_AVX512
static inline __attribute__((always_inline)) void gather_residual_w(
    const float *Y, const int32_t *idx, int64_t n, const float *w, const float *bc, const float *x,
    float *B, float *r, const int32_t *next, int64_t nnext, const int W) {
  const int32_t f = 16 * W;
  __m512 xv[8], rv[8];
#pragma GCC unroll 8
  for (int q = 0; q < W; q++)
    xv[q] = _mm512_loadu_ps(x + 16 * q), rv[q] = _mm512_loadu_ps(r + 16 * q);
  for (int64_t j = 0; j < n; j++) {
    if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
    if (j < nnext) prefetch_row_l2(Y + (int64_t)next[j] * f, f);
    const float *y = Y + (int64_t)idx[j] * f;
    __m512 yv[8];
#pragma GCC unroll 8
    for (int q = 0; q < W; q++) yv[q] = _mm512_loadu_ps(y + 16 * q);
    __m512 acc = _mm512_mul_ps(yv[0], xv[0]);
#pragma GCC unroll 8
    for (int q = 1; q < W; q++) acc = _mm512_fmadd_ps(yv[q], xv[q], acc);
    __m512 c = _mm512_set1_ps(bc[j] - w[j] * _mm512_reduce_add_ps(acc));
#pragma GCC unroll 8
    for (int q = 0; q < W; q++) rv[q] = _mm512_fmadd_ps(c, yv[q], rv[q]);
    if (B) {
#pragma GCC unroll 8
      for (int q = 0; q < W; q++) _mm512_storeu_ps(B + j * f + 16 * q, yv[q]);
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < W; q++) _mm512_storeu_ps(r + 16 * q, rv[q]);
}

static inline __attribute__((always_inline)) void block_apply_w(const float *B, const float *Y,
                                                                const int32_t *idx, int64_t n,
                                                                const float *w, const float *p,
                                                                float *Ap, const int W) {
  const int32_t f = 16 * W;
  __m512 pv[8], av[8];
#pragma GCC unroll 8
  for (int q = 0; q < W; q++)
    pv[q] = _mm512_loadu_ps(p + 16 * q), av[q] = _mm512_loadu_ps(Ap + 16 * q);
  for (int64_t j = 0; j < n; j++) {
    const float *y;
    if (B)
      y = B + j * f;
    else {
      if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
      y = Y + (int64_t)idx[j] * f;
    }
    __m512 yv[8];
#pragma GCC unroll 8
    for (int q = 0; q < W; q++) yv[q] = _mm512_loadu_ps(y + 16 * q);
    __m512 acc = _mm512_mul_ps(yv[0], pv[0]);
#pragma GCC unroll 8
    for (int q = 1; q < W; q++) acc = _mm512_fmadd_ps(yv[q], pv[q], acc);
    __m512 c = _mm512_set1_ps(w[j] * _mm512_reduce_add_ps(acc));
#pragma GCC unroll 8
    for (int q = 0; q < W; q++) av[q] = _mm512_fmadd_ps(c, yv[q], av[q]);
  }
#pragma GCC unroll 8
  for (int q = 0; q < W; q++) _mm512_storeu_ps(Ap + 16 * q, av[q]);
}

#define RP_DISPATCH_W(f, CALL) \
  switch ((f) / 16) {          \
    case 1:                    \
      CALL(1);                 \
      return;                  \
    case 2:                    \
      CALL(2);                 \
      return;                  \
    case 3:                    \
      CALL(3);                 \
      return;                  \
    case 4:                    \
      CALL(4);                 \
      return;                  \
    case 5:                    \
      CALL(5);                 \
      return;                  \
    case 6:                    \
      CALL(6);                 \
      return;                  \
    case 7:                    \
      CALL(7);                 \
      return;                  \
    case 8:                    \
      CALL(8);                 \
      return;                  \
    default:                   \
      break;                   \
  }
#endif

void rp_als_gather_residual(const float *Y, const int32_t *idx, int64_t n, int32_t f,
                            const float *w, const float *bc, const float *x, float *B, float *r,
                            const int32_t *next, int64_t nnext) {
#if RP_AVX512
  if ((f & 15) == 0 && f <= 128) {
#define GR(W) gather_residual_w(Y, idx, n, w, bc, x, B, r, next, nnext, W)
    RP_DISPATCH_W(f, GR)
#undef GR
  }
#endif
  for (int64_t j = 0; j < n; j++) {
    if (j + PF_ROWS < n) prefetch_row(Y + (int64_t)idx[j + PF_ROWS] * f, f);
    if (j < nnext) prefetch_row_l2(Y + (int64_t)next[j] * f, f);
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
  if ((f & 15) == 0 && f <= 128) {
#define BA(W) block_apply_w(B, Y, idx, n, w, p, Ap, W)
    RP_DISPATCH_W(f, BA)
#undef BA
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
