/*
 * dense.h -- a row-major float32 matrix, 64-byte aligned (factor matrices).
 *
 * `data` either belongs to the Dense (owned = 1) or is a view into storage
 * owned elsewhere (a model's factors); views never free.
 */
#ifndef RP_DENSE_H
#define RP_DENSE_H

#include "rp.h"

typedef struct rp_dense {
  int64_t rows;
  int32_t cols;
  float *data;
  int owned;
} rp_dense;

/* A new zeroed rows x cols matrix owned by the caller. */
rp_dense *rp_dense_new(int64_t rows, int32_t cols, rp_err *err);
/* A view of data (not copied, not freed). */
rp_dense *rp_dense_view(float *data, int64_t rows, int32_t cols, rp_err *err);
void rp_dense_free(rp_dense *d); /* accepts NULL */
static inline float *rp_dense_row(const rp_dense *d, int64_t r) { return d->data + r * d->cols; }

#endif
