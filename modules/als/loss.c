/*
 * loss.c -- the training loss, as implicit's calculate_loss defines it.
 *
 * For implicit models the full objective over every (user, item) pair,
 * computed without visiting the absent pairs:
 *
 *   sum_u [ x^T G x + sum_j ((c_j - 1) t_j - 2 c_j p_j) t_j + c_j ]   (t_j = x.y_j)
 *   + lambda (|X|^2 + |Y|^2)           (frequency mode: lambda n_u |x_u|^2 ...)
 *
 * divided by sum_j c_j + nrows * ncols - nnz, so it reads as a mean
 * weighted squared error.  (Like implicit, the c_j term is added for
 * negative values too although their p is 0: a constant that does not
 * move the minimum.)  Explicit models report the RMSE over the stored
 * values.  Rows are summed in fixed chunks, so the value does not depend on
 * the thread count.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "als_impl.h"

#define LOSS_CHUNK 1024

static int loss_locked(const rp_als_model *model, const rp_csr *m, int threads, double *loss,
                       rp_err *err);

int rp_als_loss(const rp_als_model *model, const rp_csr *m, int threads, double *loss,
                rp_err *err) {
  rp_als_model_rdlock(model);
  int rc = loss_locked(model, m, threads, loss, err);
  rp_als_model_unlock(model);
  return rc;
}

static int loss_locked(const rp_als_model *model, const rp_csr *m, int threads, double *loss,
                       rp_err *err) {
  int32_t f = model->factors;
  const rp_als_opts *o = &model->opts;
  int64_t nchunks = ((int64_t)m->nrows + LOSS_CHUNK - 1) / LOSS_CHUNK;
  double *part = rp_calloc((size_t)(nchunks ? nchunks : 1) * 2, sizeof(double));
  float *buf = rp_malloc(sizeof(float) * (size_t)f * (size_t)rp_threads(threads));
  int64_t *colcount = NULL;
  int rc = RP_OK;
  if (!part || !buf) {
    rc = rp_enomem(err, "loss");
    goto done;
  }
  if (o->implicit && o->reg_mode == RP_ALS_REG_FREQUENCY) {
    /* the model's items, and room for every column of m */
    int32_t nc = m->ncols > model->nitems ? m->ncols : model->nitems;
    if (!(colcount = rp_calloc((size_t)nc + 1, sizeof *colcount))) {
      rc = rp_enomem(err, "column counts");
      goto done;
    }
    rp_csr_col_counts(m, colcount);
  }
  const float *X = model->user_factors, *Y = model->item_factors, *G = model->yty;
  int implicit = o->implicit;
#pragma omp parallel num_threads(rp_threads(threads))
  {
    float *Gx = buf + (size_t)f * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < nchunks; c++) {
      double l = 0, conf = 0;
      int64_t r1 = (c + 1) * LOSS_CHUNK < m->nrows ? (c + 1) * LOSS_CHUNK : m->nrows;
      for (int64_t u = c * LOSS_CHUNK; u < r1; u++) {
        const float *x = u < model->nusers ? X + u * f : NULL;
        if (implicit && x) {
          rp_als_symv(G, x, Gx, f);
          l += (double)rp_als_dot(x, Gx, f);
        }
        for (int64_t e = m->indptr[u]; e < m->indptr[u + 1]; e++) {
          int32_t i = m->indices[e];
          double r = m->data[e];
          double t = x && i < model->nitems ? (double)rp_als_dot(x, Y + (int64_t)i * f, f) : 0.0;
          if (implicit) {
            double cj = rp_als_conf(o, (float)r), bc = r > 0 ? cj : 0.0;
            l += ((cj - 1) * t - 2 * bc) * t + cj;
            conf += cj;
          } else {
            l += (r - t) * (r - t);
          }
        }
      }
      part[2 * c] = l;
      part[2 * c + 1] = conf;
    }
  }
  double l = 0, conf = 0;
  for (int64_t c = 0; c < nchunks; c++) l += part[2 * c], conf += part[2 * c + 1];
  if (!implicit) {
    *loss = m->nnz ? sqrt(l / (double)m->nnz) : 0.0;
    goto done;
  }
  double reg = 0, lambda = o->regularization;
  for (int32_t u = 0; u < model->nusers; u++) {
    double n2 = (double)rp_als_dot(X + (int64_t)u * f, X + (int64_t)u * f, f);
    reg += colcount ? (double)rp_csr_rowlen(m, u) * n2 : n2;
  }
  for (int32_t i = 0; i < model->nitems; i++) {
    double n2 = (double)rp_als_dot(Y + (int64_t)i * f, Y + (int64_t)i * f, f);
    reg += colcount ? (double)colcount[i] * n2 : n2;
  }
  l += lambda * reg;
  double denom = conf + (double)m->nrows * (double)m->ncols - (double)m->nnz;
  *loss = denom > 0 ? l / denom : 0.0;
done:
  rp_free(part);
  rp_free(buf);
  rp_free(colcount);
  return rc;
}
