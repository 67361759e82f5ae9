/*
 * gram.c -- G = Y^T Y once per half-iteration, and the BLAS thread guard.
 *
 * The rows of Y are cut into chunks of a fixed size (independent of the
 * thread count); each chunk's Y_c^T Y_c is one single-threaded ssyrk, run
 * in parallel, and the partial matrices are added in chunk order, a round
 * of RP_GRAM_ROUND chunks at a time.  So G has the same bits with 1 or 64
 * threads, which a multi-threaded BLAS call over the whole of Y would not
 * promise.
 */
#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include "als_impl.h"

#define RP_GRAM_CHUNK 4096
#define RP_GRAM_ROUND 16

static atomic_int blas_seen;

int rp_als_blas_begin(void) {
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  return saved;
}

void rp_als_blas_end(int saved) {
  if (saved > 1) openblas_set_num_threads(saved);
}

void rp_als_blas_note(void) {
  int n = openblas_get_num_threads(), cur = atomic_load(&blas_seen);
  while (n > cur && !atomic_compare_exchange_weak(&blas_seen, &cur, n)) {
  }
}
int rp_als_blas_seen(void) { return atomic_load(&blas_seen); }
void rp_als_blas_seen_reset(void) { atomic_store(&blas_seen, 0); }

int rp_als_gram(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err) {
  size_t ff = (size_t)f * (size_t)f;
  memset(G, 0, sizeof(float) * ff);
  int64_t nchunks = (n + RP_GRAM_CHUNK - 1) / RP_GRAM_CHUNK;
  int round = nchunks < RP_GRAM_ROUND ? (int)nchunks : RP_GRAM_ROUND;
  if (round == 0) return RP_OK;
  float *part = rp_calloc(ff * (size_t)round, sizeof(float));
  if (!part) return rp_enomem(err, "gram matrix");
  int nt = rp_threads(threads);
  for (int64_t c0 = 0; c0 < nchunks; c0 += round) {
    int64_t c1 = c0 + round < nchunks ? c0 + round : nchunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = c0; c < c1; c++) {
      int64_t r0 = c * RP_GRAM_CHUNK, r1 = r0 + RP_GRAM_CHUNK < n ? r0 + RP_GRAM_CHUNK : n;
      float *P = part + (size_t)(c - c0) * ff;
      /* the row-major chunk is a column-major f x rows matrix: P = Yc Yc^T */
      cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, f, (int)(r1 - r0), 1.0f, Y + r0 * f, f,
                  0.0f, P, f);
    }
    for (int64_t c = c0; c < c1; c++) {
      const float *P = part + (size_t)(c - c0) * ff;
      for (size_t e = 0; e < ff; e++) G[e] += P[e];
    }
  }
  rp_free(part);
  /* ssyrk filled the column-major upper triangle, i.e. G[j*f + i] for
   * i <= j; mirror it so G holds both triangles */
  for (int32_t j = 0; j < f; j++)
    for (int32_t i = 0; i < j; i++) G[(int64_t)i * f + j] = G[(int64_t)j * f + i];
  return RP_OK;
}
