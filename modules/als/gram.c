/*
 * gram.c -- G = Y^T Y once per half-iteration, and the BLAS thread guard.
 *
 * The rows of Y are cut into chunks of a fixed size (independent of the
 * thread count); each chunk's Y_c^T Y_c is one single-threaded ssyrk, run
 * in parallel; a group of RP_GRAM_ROUND chunks is added in chunk order
 * into a group sum, and the group sums in group order into G.  So G has
 * the same bits with 1 or 64 threads, which a multi-threaded BLAS call over
 * the whole of Y would not promise, and with 1 or N processes under MPI
 * (rp_als_gram_dist: each rank sums a block of the groups).
 */
#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include "als_impl.h"
#include "dist.h"

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

/* S = the sum of the Yc^T Yc of the chunks of group g (RP_GRAM_ROUND
 * chunks; fewer in the last), in chunk order from zero; upper triangle
 * (column-major) only.  part: room for RP_GRAM_ROUND f x f matrices. */
static void group_sum(const float *Y, int64_t n, int32_t f, int64_t g, int nt, float *part,
                      float *S) {
  size_t ff = (size_t)f * (size_t)f;
  int64_t nchunks = (n + RP_GRAM_CHUNK - 1) / RP_GRAM_CHUNK;
  int64_t c0 = g * RP_GRAM_ROUND, c1 = c0 + RP_GRAM_ROUND < nchunks ? c0 + RP_GRAM_ROUND : nchunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t c = c0; c < c1; c++) {
    int64_t r0 = c * RP_GRAM_CHUNK, r1 = r0 + RP_GRAM_CHUNK < n ? r0 + RP_GRAM_CHUNK : n;
    float *P = part + (size_t)(c - c0) * ff;
    /* the row-major chunk is a column-major f x rows matrix: P = Yc Yc^T */
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, f, (int)(r1 - r0), 1.0f, Y + r0 * f, f,
                0.0f, P, f);
  }
  memset(S, 0, sizeof(float) * ff);
  for (int64_t c = c0; c < c1; c++) {
    const float *P = part + (size_t)(c - c0) * ff;
    for (size_t e = 0; e < ff; e++) S[e] += P[e];
  }
}

/* ssyrk filled the column-major upper triangle, i.e. G[j*f + i] for
 * i <= j; mirror it so G holds both triangles */
static void mirror(float *G, int32_t f) {
  for (int32_t j = 0; j < f; j++)
    for (int32_t i = 0; i < j; i++) G[(int64_t)i * f + j] = G[(int64_t)j * f + i];
}

/* G = the sum over groups, in group order from zero, of group_sum: with
 * dist, each rank computes a block of the groups, the group sums are
 * all-gathered and every rank adds them in the same order, so G has the
 * bits of one process whatever the number of ranks (and of threads). */
static int gram(const float *Y, int64_t n, int32_t f, int threads, int dist, float *G,
                rp_err *err) {
  size_t ff = (size_t)f * (size_t)f;
  memset(G, 0, sizeof(float) * ff);
  int64_t nchunks = (n + RP_GRAM_CHUNK - 1) / RP_GRAM_CHUNK;
  int64_t ngroups = (nchunks + RP_GRAM_ROUND - 1) / RP_GRAM_ROUND;
  if (ngroups == 0) return RP_OK;
  int nt = rp_threads(threads);
  int size = dist ? rp_dist_size() : 1, me = dist ? rp_dist_rank() : 0;
  int ok = 1;
  /* one group sum at a time with one process; all of them with several */
  size_t nS = size > 1 ? (size_t)ngroups : 1;
  float *part = rp_calloc(rp_mulsize(ff, RP_GRAM_ROUND + nS, &ok), sizeof(float));
  int64_t *off = rp_malloc(((size_t)size + 1) * sizeof *off);
  if (!part || !off || !ok) {
    rp_free(part);
    rp_free(off);
    return rp_enomem(err, "gram matrix");
  }
  float *S = part + RP_GRAM_ROUND * ff;
  int rc = RP_OK;
  if (size == 1) {
    for (int64_t g = 0; g < ngroups; g++) {
      group_sum(Y, n, f, g, nt, part, S);
      for (size_t e = 0; e < ff; e++) G[e] += S[e];
    }
  } else {
    rp_dist_blocks(ngroups, NULL, size, off);
    for (int64_t g = off[me]; g < off[me + 1]; g++)
      group_sum(Y, n, f, g, nt, part, S + (size_t)g * ff);
    rc = rp_dist_allgather_rows(S, ff * sizeof(float), off, err);
    for (int64_t g = 0; rc == RP_OK && g < ngroups; g++)
      for (size_t e = 0; e < ff; e++) G[e] += S[(size_t)g * ff + e];
  }
  rp_free(part);
  rp_free(off);
  if (rc == RP_OK) mirror(G, f);
  return rc;
}

int rp_als_gram(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err) {
  return gram(Y, n, f, threads, 0, G, err);
}

int rp_als_gram_dist(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err) {
  return gram(Y, n, f, threads, 1, G, err);
}
