/*
 * features.c -- operations on entity x feature matrices: document
 * frequency pruning, TF-IDF, row normalisation, concatenation.
 */
#include <math.h>
#include <string.h>

#include "hybrid.h"

void rp_features_free(rp_features *f) {
  if (!f) return;
  rp_csr_free(f->m);
  for (int i = 0; i < f->nfields; i++) rp_free(f->field_names[i]);
  rp_free(f->field_of);
  rp_free(f);
}

int rp_features_field(const rp_features *f, const char *name) {
  for (int i = 0; i < f->nfields; i++)
    if (strcmp(f->field_names[i], name) == 0) return i;
  return -1;
}

/* df[j] = number of rows holding feature j (caller frees). */
static int32_t *doc_freq(const rp_csr *m) {
  int32_t *df = rp_calloc((size_t)m->ncols + 1, sizeof *df);
  if (!df) return NULL;
  for (int64_t k = 0; k < m->nnz; k++) df[m->indices[k]]++;
  return df;
}

int rp_features_tfidf(rp_features *f, rp_err *err) {
  rp_csr *m = f->m;
  int32_t *df = doc_freq(m);
  if (!df) return rp_enomem(err, "tf-idf");
  int32_t nonempty = 0;
  for (int32_t r = 0; r < m->nrows; r++) nonempty += m->indptr[r + 1] > m->indptr[r];
  for (int64_t k = 0; k < m->nnz; k++) {
    double idf = log((1.0 + nonempty) / (1.0 + df[m->indices[k]])) + 1.0;
    m->data[k] = (float)((double)m->data[k] * idf);
  }
  rp_free(df);
  return RP_OK;
}

void rp_features_normalize(rp_features *f) {
  rp_csr *m = f->m;
  for (int32_t r = 0; r < m->nrows; r++) {
    double s = 0;
    for (int64_t k = m->indptr[r]; k < m->indptr[r + 1]; k++)
      s += (double)m->data[k] * (double)m->data[k];
    if (s <= 0) continue;
    double inv = 1.0 / sqrt(s);
    for (int64_t k = m->indptr[r]; k < m->indptr[r + 1]; k++)
      m->data[k] = (float)((double)m->data[k] * inv);
  }
}

int rp_features_prune(rp_features *f, int32_t min_df, int32_t *dropped, rp_err *err) {
  rp_csr *m = f->m;
  if (dropped) *dropped = 0;
  if (min_df <= 1) return RP_OK;
  int32_t *df = doc_freq(m);
  int32_t *keep = rp_malloc((size_t)(m->ncols ? m->ncols : 1) * sizeof *keep);
  int32_t *newidx = rp_malloc((size_t)(m->ncols ? m->ncols : 1) * sizeof *newidx);
  rp_idmap *names = NULL;
  int rc = RP_OK;
  if (!df || !keep || !newidx) {
    rc = rp_enomem(err, "feature pruning");
    goto done;
  }
  int32_t nk = 0;
  for (int32_t j = 0; j < m->ncols; j++) {
    newidx[j] = df[j] >= min_df ? nk : -1;
    if (df[j] >= min_df) keep[nk++] = j;
  }
  if (nk == m->ncols) goto done;
  if (!(names = rp_idmap_subset(m->colmap, keep, nk, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  /* nothing below allocates: the matrix shrinks in place */
  int64_t w = 0;
  for (int32_t r = 0; r < m->nrows; r++) {
    int64_t a = m->indptr[r], b = m->indptr[r + 1];
    m->indptr[r] = w;
    for (int64_t k = a; k < b; k++)
      if (newidx[m->indices[k]] >= 0) {
        m->indices[w] = newidx[m->indices[k]];
        m->data[w++] = m->data[k];
      }
  }
  m->indptr[m->nrows] = w;
  m->nnz = w;
  for (int32_t q = 0; q < nk; q++) f->field_of[q] = f->field_of[keep[q]];
  if (dropped) *dropped = m->ncols - nk;
  m->ncols = nk;
  rp_idmap_release(m->colmap);
  m->colmap = names;
  names = NULL;
done:
  rp_free(df);
  rp_free(keep);
  rp_free(newidx);
  rp_idmap_release(names);
  return rc;
}

int rp_features_combine(const rp_features *const *parts, const float *weights, int n, int normalize,
                        rp_features **out, rp_err *err) {
  *out = NULL;
  if (n < 1) return rp_errf(err, RP_EINVAL, "combine: no feature matrices");
  rp_idmap *rows = parts[0]->m->rowmap;
  int32_t nrows = 0;
  int64_t nnz = 0;
  int nfields = 0;
  const char *fnames[RP_FEAT_MAX_FIELDS];
  for (int p = 0; p < n; p++) {
    const rp_features *f = parts[p];
    if (f->m->rowmap != rows)
      return rp_errf(err, RP_EINVAL, "combine: feature matrix %d is on another id map", p + 1);
    if (weights && (!isfinite(weights[p]) || weights[p] < 0))
      return rp_errf(err, RP_EINVAL, "combine: weight %d must be a non-negative number", p + 1);
    if (f->m->nrows > nrows) nrows = f->m->nrows;
    nnz += f->m->nnz;
    for (int i = 0; i < f->nfields; i++) {
      int found = 0;
      for (int q = 0; q < nfields; q++) found |= strcmp(fnames[q], f->field_names[i]) == 0;
      if (!found) {
        if (nfields == RP_FEAT_MAX_FIELDS)
          return rp_errf(err, RP_EINVAL, "combine: more than %d fields", RP_FEAT_MAX_FIELDS);
        fnames[nfields++] = f->field_names[i];
      }
    }
  }
  if (rows && rows->n > nrows) nrows = rows->n;
  int rc = RP_OK;
  rp_features *F = rp_calloc(1, sizeof *F);
  rp_idmap *names = rp_idmap_new(err);
  int32_t *r = rp_malloc((size_t)(nnz ? nnz : 1) * sizeof *r);
  int32_t *c = rp_malloc((size_t)(nnz ? nnz : 1) * sizeof *c);
  float *v = rp_malloc((size_t)(nnz ? nnz : 1) * sizeof *v);
  int16_t *fo = NULL;
  int32_t fo_cap = 0;
  if (!F || !names || !r || !c || !v) {
    rc = rp_enomem(err, "combine");
    goto fail;
  }
  int64_t t = 0;
  for (int p = 0; p < n; p++) {
    const rp_csr *m = parts[p]->m;
    float wt = weights ? weights[p] : 1.0f;
    for (int32_t row = 0; row < m->nrows; row++)
      for (int64_t k = m->indptr[row]; k < m->indptr[row + 1]; k++) {
        size_t len;
        const char *s = rp_idmap_id(m->colmap, m->indices[k], &len);
        int32_t j, before = names->n;
        if ((rc = rp_idmap_intern(names, s, len, &j, err))) goto fail;
        if (names->n > before) {
          if (names->n > fo_cap) {
            int32_t cap = fo_cap ? fo_cap * 2 : 256;
            int16_t *nf = rp_realloc(fo, (size_t)cap * sizeof *nf);
            if (!nf) {
              rc = rp_enomem(err, "combine");
              goto fail;
            }
            fo = nf;
            fo_cap = cap;
          }
          const char *fname = parts[p]->field_names[parts[p]->field_of[m->indices[k]]];
          for (int q = 0; q < nfields; q++)
            if (strcmp(fnames[q], fname) == 0) fo[j] = (int16_t)q;
        }
        r[t] = row;
        c[t] = j;
        v[t++] = m->data[k] * wt;
      }
  }
  if (!(F->m = rp_csr_build(nrows, names->n, r, c, v, NULL, t, RP_AGG_SUM, rows, names, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto fail;
  }
  F->field_of = fo ? fo : rp_malloc(sizeof *fo);
  fo = NULL;
  if (!F->field_of) {
    rc = rp_enomem(err, "combine");
    goto fail;
  }
  for (int q = 0; q < nfields; q++) {
    if (!(F->field_names[q] = rp_strdup(fnames[q]))) {
      F->nfields = q;
      rc = rp_enomem(err, "combine");
      goto fail;
    }
  }
  F->nfields = nfields;
  if (normalize) rp_features_normalize(F);
  *out = F;
  F = NULL;
fail:
  rp_features_free(F);
  rp_free(fo);
  rp_free(r);
  rp_free(c);
  rp_free(v);
  rp_idmap_release(names);
  return rc;
}

int rp_features_from_interactions(const rp_csr *m, int binary, rp_features **out, rp_err *err) {
  *out = NULL;
  rp_features *F = rp_calloc(1, sizeof *F);
  if (!F) return rp_enomem(err, "interaction features");
  if (!(F->m = rp_csr_transpose(m, 0, err))) {
    rp_free(F);
    return err ? err->status : RP_ENOMEM;
  }
  F->field_of = rp_calloc((size_t)(F->m->ncols ? F->m->ncols : 1), sizeof *F->field_of);
  F->field_names[0] = rp_strdup("user");
  F->nfields = 1;
  if (!F->field_of || !F->field_names[0] || (!F->m->colmap && F->m->ncols)) {
    int bad_map = F->field_of && F->field_names[0];
    rp_features_free(F);
    return bad_map ? rp_errf(err, RP_EINVAL, "interaction features: the matrix has no user map")
                   : rp_enomem(err, "interaction features");
  }
  if (binary)
    for (int64_t k = 0; k < F->m->nnz; k++) F->m->data[k] = 1.0f;
  *out = F;
  return RP_OK;
}
