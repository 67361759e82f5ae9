/*
 * als_impl.h -- what the files of the als module share and nobody else
 * needs: the confidence transform, the vector kernels, the per-row solvers,
 * the Gram matrix, the BLAS thread guard.  Unit tests include it to test
 * the pieces against naive references.
 */
#ifndef RP_ALS_IMPL_H
#define RP_ALS_IMPL_H

#include <math.h>

#include "als.h"
#include "selection.h"

/* Rows of a gather block per thread: rows longer than this are processed in
 * chunks (Cholesky) or read in place (CG).  4 MiB of floats at most, and at
 * least 1024 rows. */
#define RP_ALS_BLOCK_BYTES ((size_t)4 << 20)
/* training threads beyond this are not used (each holds a gather block) */
#define RP_ALS_MAX_THREADS 64
static inline int64_t rp_als_block_rows(int32_t f) {
  int64_t r = (int64_t)(RP_ALS_BLOCK_BYTES / (sizeof(float) * (size_t)f));
  return r < 1024 ? 1024 : r;
}

/* Exclusion lists a top-k scan walks: the caller's, plus the items
 * without factors. */
#define RP_ALS_EXCL_SLOTS (RP_ALS_MAX_EXCL + 1)

/* The sorted list of items without factors (zero rows of Y), built once
 * per model (thread-safe; dropped with the other caches); NULL (err set)
 * when out of memory. */
const rp_als_list *rp_als_untrained(const rp_als_model *m, rp_err *err);
void rp_als_untrained_free(void *list); /* accepts NULL */

/* A new model (refs = 1) that takes ownership of user_factors (nusers x
 * factors) and item_factors (nitems x factors), blocks from rp_malloc of at
 * least that size, which it frees on failure too; maps retained (may be
 * NULL).  For loaders, which read the factors before the model exists. */
rp_als_model *rp_als_model_adopt(int32_t nusers, int32_t nitems, int32_t factors, rp_idmap *users,
                                 rp_idmap *items, float *user_factors, float *item_factors,
                                 rp_err *err);

/* A factor array replaced when the model grew (partial.c), kept until the
 * model is freed. */
typedef struct rp_als_retired {
  struct rp_als_retired *next;
  void *p;
} rp_als_retired;

/* The versions of the query functions for a caller that holds the model's
 * read lock (rp_als_model_rdlock): a read lock is never taken twice. */
int rp_als_knows_user_locked(const rp_als_model *m, int32_t u);
/* rp_als_recommend_user_flags for a caller holding the read lock (the
 * user's session boosts applied); nothing for a user without factors. */
int rp_als_user_topk_locked(const rp_als_model *m, int32_t u, int32_t k, const rp_als_list *excl,
                            int nexcl, const rp_als_list *allow, int flags, int32_t *out_items,
                            float *out_scores, int32_t *out_n, rp_err *err);
/* Frees the sessions (model free). */
void rp_als_sessions_free(void *sessions);
int rp_als_topk_locked(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                       int nexcl, const rp_als_list *allow, int32_t *out_items, float *out_scores,
                       int32_t *out_n, rp_err *err);
int rp_als_foldin_locked(const rp_als_model *m, const int32_t *items, const float *values,
                         int64_t n, float *x, rp_err *err);

/* ---- confidence ------------------------------------------------------------
 * For a stored value r: the weight w = c - 1 of y y^T added to Y^T Y, and
 * the coefficient bc = c p of y in the right-hand side (implicit); for
 * explicit ratings w = 1 and bc = r.  c >= 0 always (|r| is used), so the
 * normal matrix Y^T Y + sum w y y^T + lambda I = sum_i c_ui y_i y_i^T +
 * lambda I stays positive definite for lambda > 0. */
static inline float rp_als_conf(const rp_als_opts *o, float r) {
  float a = fabsf(r);
  switch (o->confidence) {
    case RP_ALS_CONF_HU:
      return (float)(1.0 + o->alpha * (double)a);
    case RP_ALS_CONF_LOG:
      return (float)(1.0 + o->alpha * log1p((double)a / o->eps));
    default:
      return (float)(o->alpha * (double)a);
  }
}
/* the right-hand-side coefficient alone */
static inline float rp_als_bc(const rp_als_opts *o, float r) {
  if (!o->implicit) return r;
  return r > 0 ? rp_als_conf(o, r) : 0.0f;
}
static inline void rp_als_weights(const rp_als_opts *o, const float *val, int64_t n, float *w,
                                  float *bc) {
  if (!o->implicit) {
    for (int64_t j = 0; j < n; j++) w[j] = 1.0f, bc[j] = val[j];
    return;
  }
  for (int64_t j = 0; j < n; j++) {
    float c = rp_als_conf(o, val[j]);
    w[j] = c - 1.0f;
    bc[j] = val[j] > 0 ? c : 0.0f;
  }
}
/* lambda for a row with n stored values */
static inline float rp_als_lambda(const rp_als_opts *o, int64_t n) {
  return (float)(o->reg_mode == RP_ALS_REG_FREQUENCY ? o->regularization * (double)n
                                                     : o->regularization);
}

/* ---- kernels (kernels.c) ------------------------------------------------------
 * Plain loops the compiler vectorises, with AVX-512 versions when built with
 * -mavx512f and f is a multiple of 16.  Each has one fixed summation order,
 * so every caller gets the same bits for the same inputs. */
float rp_als_dot(const float *a, const float *b, int32_t f);
/* Prefetches (to L2) the rows Y[idx[j]], j < n.  The gathers also take
 * the next row's first items (next, nnext <= RP_ALS_PREFETCH_ROWS) and
 * prefetch one of them per row they gather: the next row's gather then
 * finds its rows in L2, and the memory system has more misses in flight. */
#define RP_ALS_PREFETCH_ROWS 96
void rp_als_prefetch_rows(const float *Y, const int32_t *idx, int64_t n, int32_t f);
void rp_als_axpy(float a, const float *x, float *y, int32_t f);
/* y = G p for a full (both triangles stored) symmetric f x f G. */
void rp_als_symv(const float *G, const float *p, float *y, int32_t f);
/* One pass over rows j < n of Y[idx[j]]: copies each row to B + j f when B
 * is not NULL, and r += sum_j (bc_j - w_j (y_j . x)) y_j. */
void rp_als_gather_residual(const float *Y, const int32_t *idx, int64_t n, int32_t f,
                            const float *w, const float *bc, const float *x, float *B, float *r,
                            const int32_t *next, int64_t nnext);
/* Ap += sum_j w_j (y_j . p) y_j over rows y_j = B + j f (B given) or
 * Y[idx[j]] (B NULL). */
void rp_als_block_apply(const float *B, const float *Y, const int32_t *idx, int64_t n, int32_t f,
                        const float *w, const float *p, float *Ap);

/* Cholesky pieces.  The normal matrix is kept in the upper triangle of a
 * row-major f x ld array, ld = rp_als_chol_ld(f), the right-hand side in
 * column f.  gather_scale copies rows y_j = Y[idx[j]] to B + j f, w_j y_j
 * to Bw + j f and adds bc_j y_j to b.  syrk_upper adds Bw^T B to the upper
 * triangle (first f columns).  cholesky_upper factors A = U^T U in place,
 * turning columns f..ncols-1 into U^-T times themselves (returns 0, or
 * k + 1 when pivot k is not positive); chol_backward computes x = U^-1 y;
 * chol_solve solves U^T U x = z in place. */
static inline int64_t rp_als_chol_ld(int32_t f) { return (((int64_t)f + 15) & ~(int64_t)15) + 16; }
void rp_als_gather_scale(const float *Y, const int32_t *idx, int64_t n, int32_t f, const float *w,
                         const float *bc, float *B, float *Bw, float *b, const int32_t *next,
                         int64_t nnext);
void rp_als_syrk_upper(const float *Bw, const float *B, int64_t n, int32_t f, float *A,
                       int64_t lda);
int rp_als_cholesky_upper(float *A, int32_t f, int32_t ncols, int64_t lda);
void rp_als_chol_backward(const float *U, int32_t f, int64_t lda, const float *y, float *x);
void rp_als_chol_solve(const float *U, int32_t f, int64_t lda, float *z);

/* ---- per-row solvers (solve.c) ---------------------------------------------- */
typedef struct rp_als_scratch {
  int64_t cap; /* rows of B, Bw, w, bc */
  float *B, *Bw, *w, *bc;
  float *A;                  /* f x rp_als_chol_ld(f) */
  float *r, *p, *Ap, *b, *t; /* f each */
  double *D;                 /* rp_als_scratch_doubles(f): the double solves */
  const int32_t *next;       /* the next row's items to prefetch (set by the caller) */
  int64_t nnext;
} rp_als_scratch;

/* Doubles of the double-precision part of a scratch: an f x f matrix and
 * 8 vectors of f (rp_als_solve_exact, and the NNLS). */
static inline size_t rp_als_scratch_doubles(int32_t f) {
  size_t fa = ((size_t)f + 7) & ~(size_t)7;
  return 2 * fa * fa + 8 * fa;
}
/* Floats of one thread's scratch (ok = 0 on overflow). */
size_t rp_als_scratch_floats(int32_t f, int64_t cap, int *ok);
/* Scratch for factors f and gather blocks of cap rows (one allocation). */
int rp_als_scratch_init(rp_als_scratch *s, int32_t f, int64_t cap, rp_err *err);
void rp_als_scratch_free(rp_als_scratch *s);

/* One half-step's shared inputs: the other side's factors Y (ny x f) and
 * G = Y^T Y (implicit) or NULL (explicit). */
typedef struct rp_als_side {
  const rp_als_opts *o;
  int32_t f;
  const float *Y;
  int32_t ny;
  const float *G;
} rp_als_side;

/* x <- cg_steps of conjugate gradient on (G + lambda I + Y^T (C-I) Y) x =
 * Y^T C p, warm-started from x (implicit's least_squares_cg).  A row with
 * no values gets x = 0.  Column indices must be < s->ny. */
void rp_als_solve_cg(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                     float *x, rp_als_scratch *sc);
/* x <- exact solution by Cholesky.  Returns 0, or the failing pivot + 1
 * when the normal matrix is not positive definite (x untouched). */
int rp_als_solve_cholesky(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                          float *x, rp_als_scratch *sc);
/* x <- the exact solution with the normal matrix and right-hand side
 * accumulated in float as rp_als_factor_row does (the same kernels, the
 * same bits), then factored and solved in double (Cholesky), as Spark
 * solves its normal equations: used by fold-in, partial fits; with the
 * option nonnegative the minimiser over x >= 0 (rp_als_nnls).  Returns 0,
 * the failing pivot + 1 (x untouched), or -1 when the normal matrix or b
 * overflowed float.  n = 0 gives x = 0. */
int rp_als_solve_exact(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                       float *x, rp_als_scratch *sc);
/* Non-negative least squares in normal-equation form (nnls.c, Lawson &
 * Hanson's active-set method): x = argmin 1/2 x^T A x - b^T x subject to
 * x >= 0, for a symmetric positive definite f x f A (row-major); work holds
 * RP_ALS_NNLS_WORK(f) doubles.  Returns 0 or, when a subsystem is not
 * positive definite, its failing pivot + 1. */
#define RP_ALS_NNLS_WORK(f) ((size_t)(f) * (size_t)(f) + 5 * (size_t)(f) + 1)
int rp_als_nnls(const double *A, const double *b, int32_t f, double *x, double *work);
/* Solves the symmetric positive definite system A x = b in double (A f x f
 * row-major; its upper triangle is read and overwritten by the Cholesky
 * factor U, A = U^T U; b by x).
 * Returns 0 or the failing pivot + 1. */
int rp_als_cholesky_solve_d(double *A, int32_t f, double *b);
/* The Cholesky factor of the row's normal matrix left in sc->A (row-major
 * upper U, A = U^T U, leading dimension rp_als_chol_ld(f)), with column f
 * holding U^-T b (so x = rp_als_chol_backward of it); returns 0, the
 * failing pivot + 1, or -1 when the normal matrix or b overflowed float. */
int rp_als_factor_row(const rp_als_side *s, const int32_t *idx, const float *val, int64_t n,
                      rp_als_scratch *sc);

/* ---- Gram matrix (gram.c) -------------------------------------------------------
 * G = Y^T Y (f x f, both triangles) for Y (n x f), with at most `threads`
 * threads; the same bits whatever the thread count (fixed chunks, summed in
 * a fixed order).  Returns RP_OK or RP_ENOMEM. */
int rp_als_gram(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err);
/* The same G (the same bits) with the groups shared among the MPI ranks
 * (dist.h); every rank must call it, with the same Y. */
int rp_als_gram_dist(const float *Y, int64_t n, int32_t f, int threads, float *G, rp_err *err);

/* ---- BLAS threads ----------------------------------------------------------------
 * rp_als_blas_begin sets OpenBLAS single-threaded and returns the previous
 * count for rp_als_blas_end.  rp_als_blas_note records, from inside a
 * parallel region, the thread count BLAS would use there (tests read the
 * maximum with rp_als_blas_seen; reset with rp_als_blas_seen_reset). */
int rp_als_blas_begin(void);
void rp_als_blas_end(int saved);
void rp_als_blas_note(void);
int rp_als_blas_seen(void);
void rp_als_blas_seen_reset(void);

/* ---- training internals (validate.c) ------------------------------------------ */
/* The early-stopping metric of rp_als_hooks on test, train's items
 * excluded (validate.c). */
int rp_als_validate_metric(const rp_als_model *m, const rp_csr *train, const rp_csr *test,
                           int32_t k, int metric, int threads, double *out, rp_err *err);
/* rmse and mae are minimised, the ranking metrics maximised */
int rp_als_metric_lower_is_better(int metric);
/* Can metric drive early stopping of an (implicit or explicit) model? */
int rp_als_metric_check(int metric, int implicit, rp_err *err);

/* ---- selection ------------------------------------------------------------------
 * Top k goes through runtime/core/selection.h (rp_topk, no tiebreak): higher
 * score wins, ties go to the lower index.  The same order as a predicate: */
static inline int rp_als_better(float s1, int32_t i1, float s2, int32_t i2) {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}

#endif
