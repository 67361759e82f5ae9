/*
 * dense.c -- allocation of Dense matrices and views.
 */
#include "dense.h"

#include <string.h>

rp_dense *rp_dense_new(int64_t rows, int32_t cols, rp_err *err) {
  if (rows < 0 || cols < 0) return rp_errf(err, RP_EINVAL, "negative dense shape"), NULL;
  int ok = 1;
  size_t n = rp_mulsize(rp_mulsize((size_t)rows, (size_t)cols, &ok), sizeof(float), &ok);
  if (!ok) return rp_errf(err, RP_EINVAL, "dense matrix too large"), NULL;
  rp_dense *d = rp_malloc(sizeof *d);
  float *data = rp_malloc(n ? n : 1);
  if (!d || !data) {
    rp_free(d);
    rp_free(data);
    return rp_enomem(err, "dense matrix"), NULL;
  }
  memset(data, 0, n);
  d->rows = rows;
  d->cols = cols;
  d->data = data;
  d->owned = 1;
  return d;
}

rp_dense *rp_dense_view(float *data, int64_t rows, int32_t cols, rp_err *err) {
  rp_dense *d = rp_malloc(sizeof *d);
  if (!d) return rp_enomem(err, "dense view"), NULL;
  d->rows = rows;
  d->cols = cols;
  d->data = data;
  d->owned = 0;
  return d;
}

void rp_dense_free(rp_dense *d) {
  if (!d) return;
  if (d->owned) rp_free(d->data);
  rp_free(d);
}
