/*
 * gram.c -- G = Y^T Y once per half-iteration, and the BLAS thread guard.
 *
 * The rows of Y are cut into chunks of a fixed size (independent of the
 * thread count); each chunk's Y_c^T Y_c is computed in parallel, a group of
 * RP_GRAM_ROUND chunks is added in chunk order into a group sum, and the
 * group sums in group order into G.  So G has the same bits with 1 or 64
 * threads and with 1 or N processes under MPI (rp_als_gram_dist: each rank
 * sums a block of the groups).
 *
 * The order of every sum is fixed by this file alone: each entry is a
 * float sum of the products of 64 rows in row order (plain C, vector
 * extensions across the entries, never across the rows; -ffp-contract=off),
 * those are added in double, and G is rounded to float once at the end.
 * So G has the same bits on every machine and every -march.  A BLAS ssyrk
 * does not promise that: OpenBLAS picks its kernel by CPU at load time
 * (0.3.21 falls back to its Prescott kernel on CPUs newer than it knows)
 * and the kernels sum in different orders, which moved printed figures
 * between two machines of the same kind.  Cost (tests/bench/bench_gram.sh):
 * 1.6x OpenBLAS's AVX-512 ssyrk, faster than the kernel it picks here;
 * about 5% of an ALS iteration at f = 64.
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

typedef float rp_v16f __attribute__((vector_size(64)));

/* Rows summed in float at a time (RP_GRAM_SUB x fp floats stay in L1),
 * before the block's float sums are added into the double running sum. */
#define RP_GRAM_SUB 64
#define RP_GRAM_PAD(f) (((f) + 15) & ~15)

/* P = Yc^T Yc of rows [r0, r1), full (both triangles) f x f.  RP_GRAM_SUB
 * rows at a time are copied into D (fp = f rounded up to 16, zero padded);
 * for each 8 x 16 block on or above the diagonal, eight vector
 * accumulators sum the float products of these rows in row order, and the
 * block is added into the double running sum W (fp x fp).  Every entry is
 * so the same sequence of IEEE operations whatever the vector width. */
static void chunk_gram(const float *Y, int64_t r0, int64_t r1, int32_t f, float *D, double *W,
                       double *P) {
  int32_t fp = RP_GRAM_PAD(f);
  memset(W, 0, sizeof(double) * (size_t)fp * (size_t)fp);
  for (int64_t s0 = r0; s0 < r1; s0 += RP_GRAM_SUB) {
    int64_t rows = r1 - s0 < RP_GRAM_SUB ? r1 - s0 : RP_GRAM_SUB;
    for (int64_t r = 0; r < rows; r++) {
      memcpy(D + r * fp, Y + (s0 + r) * f, sizeof(float) * (size_t)f);
      memset(D + r * fp + f, 0, sizeof(float) * (size_t)(fp - f));
    }
    for (int32_t i0 = 0; i0 < fp; i0 += 8)
      for (int32_t j0 = i0 & ~15; j0 < fp; j0 += 16) {
        rp_v16f a[8] = {{0}};
        for (int64_t r = 0; r < rows; r++) {
          const float *d = D + r * fp;
          rp_v16f v;
          memcpy(&v, d + j0, sizeof v);
          a[0] += d[i0] * v, a[1] += d[i0 + 1] * v;
          a[2] += d[i0 + 2] * v, a[3] += d[i0 + 3] * v;
          a[4] += d[i0 + 4] * v, a[5] += d[i0 + 5] * v;
          a[6] += d[i0 + 6] * v, a[7] += d[i0 + 7] * v;
        }
        for (int k = 0; k < 8; k++) {
          double *w = W + (size_t)(i0 + k) * fp + j0;
          for (int c = 0; c < 16; c++) w[c] += (double)a[k][c];
        }
      }
  }
  for (int32_t i = 0; i < f; i++)
    for (int32_t j = i; j < f; j++)
      P[(int64_t)i * f + j] = P[(int64_t)j * f + i] = W[(size_t)i * fp + j];
}

/* what chunk_gram needs per thread: W (fp x fp doubles), then D */
static size_t work_doubles(int32_t f) {
  size_t fp = (size_t)RP_GRAM_PAD(f);
  return fp * fp + (RP_GRAM_SUB * fp + 1) / 2;
}

/* S = the sum of the Yc^T Yc of the chunks of group g (RP_GRAM_ROUND
 * chunks; fewer in the last), in chunk order from zero.  part: room for
 * RP_GRAM_ROUND f x f matrices; work: work_doubles(f) per thread. */
static void group_sum(const float *Y, int64_t n, int32_t f, int64_t g, int nt, double *part,
                      double *work, double *S) {
  size_t ff = (size_t)f * (size_t)f, fp = (size_t)RP_GRAM_PAD(f), dw = work_doubles(f);
  int64_t nchunks = (n + RP_GRAM_CHUNK - 1) / RP_GRAM_CHUNK;
  int64_t c0 = g * RP_GRAM_ROUND, c1 = c0 + RP_GRAM_ROUND < nchunks ? c0 + RP_GRAM_ROUND : nchunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t c = c0; c < c1; c++) {
    int64_t r0 = c * RP_GRAM_CHUNK, r1 = r0 + RP_GRAM_CHUNK < n ? r0 + RP_GRAM_CHUNK : n;
    double *W = work + (size_t)omp_get_thread_num() * dw;
    chunk_gram(Y, r0, r1, f, (float *)(W + fp * fp), W, part + (size_t)(c - c0) * ff);
  }
  memset(S, 0, sizeof(double) * ff);
  for (int64_t c = c0; c < c1; c++) {
    const double *P = part + (size_t)(c - c0) * ff;
    for (size_t e = 0; e < ff; e++) S[e] += P[e];
  }
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
  /* one group sum at a time with one process; all of them with several;
   * then the double total, and chunk_gram's work room per thread */
  size_t nS = size > 1 ? (size_t)ngroups : 1;
  size_t dw = work_doubles(f);
  size_t nparts = rp_mulsize(ff, RP_GRAM_ROUND + nS + 1, &ok);
  double *part = rp_calloc(nparts + rp_mulsize(dw, (size_t)nt, &ok), sizeof(double));
  int64_t *off = rp_malloc(((size_t)size + 1) * sizeof *off);
  if (!part || !off || !ok) {
    rp_free(part);
    rp_free(off);
    return rp_enomem(err, "gram matrix");
  }
  double *S = part + RP_GRAM_ROUND * ff, *T = S + nS * ff, *work = T + ff;
  int rc = RP_OK;
  if (size == 1) {
    for (int64_t g = 0; g < ngroups; g++) {
      group_sum(Y, n, f, g, nt, part, work, S);
      for (size_t e = 0; e < ff; e++) T[e] += S[e];
    }
  } else {
    rp_dist_blocks(ngroups, NULL, size, off);
    for (int64_t g = off[me]; g < off[me + 1]; g++)
      group_sum(Y, n, f, g, nt, part, work, S + (size_t)g * ff);
    rc = rp_dist_allgather_rows(S, ff * sizeof(double), off, err);
    for (int64_t g = 0; rc == RP_OK && g < ngroups; g++)
      for (size_t e = 0; e < ff; e++) T[e] += S[(size_t)g * ff + e];
  }
  if (rc == RP_OK)
    for (size_t e = 0; e < ff; e++) G[e] = (float)T[e];
  rp_free(part);
  rp_free(off);
  return rc;
}

int rp_als_gram(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err) {
  return gram(Y, n, f, threads, 0, G, err);
}

int rp_als_gram_dist(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err) {
  return gram(Y, n, f, threads, 1, G, err);
}
