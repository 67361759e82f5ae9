/*
 * rec.c -- what every hybrid recommender shares: the request path, the
 * batch path behind rp_recommender (parallel over users, one scratch per
 * thread), top-k selection with exclusions, and history weights from logs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"
#include "selection.h"

void rp_hyb_rec_free(rp_hyb_rec *r) {
  if (!r) return;
  rp_csr_free(r->history);
  rp_free(r->tiebreak);
  rp_free(r->cand);
  if (r->destroy) r->destroy(r);
  rp_free(r);
}

void rp_hyb_rec_refresh(rp_hyb_rec *r) {
  if (r->api.users && r->api.users->n > r->api.nusers) r->api.nusers = r->api.users->n;
}

int rp_hyb_scratch_init(rp_hyb_scratch *s, const rp_hyb_rec *r, rp_err *err) {
  int32_t ni = r->api.nitems;
  memset(s, 0, sizeof *s);
  s->nitems = ni;
  s->scores = rp_malloc((size_t)(ni ? ni : 1) * sizeof *s->scores);
  s->mask = rp_calloc((size_t)(ni ? ni : 1), 1);
  s->work = rp_calloc(r->work_floats ? r->work_floats : 1, sizeof *s->work);
  if (!s->scores || !s->mask || !s->work) {
    rp_hyb_scratch_free(s);
    return rp_enomem(err, "recommend scratch");
  }
  return RP_OK;
}

void rp_hyb_scratch_free(rp_hyb_scratch *s) {
  rp_free(s->scores);
  rp_free(s->mask);
  rp_free(s->work);
  memset(s, 0, sizeof *s);
}

int32_t rp_hyb_topk(const float *scores, int32_t nitems, const float *tiebreak, uint8_t *mask,
                    const int32_t *allow, int32_t nallow, int32_t k, int32_t *items, float *out) {
  if (k <= 0) return 0;
  rp_topk h;
  rp_topk_init(&h, k, items, out);
  h.tiebreak = tiebreak;
  if (allow) {
    /* bit 1 marks an allowed item already offered (duplicates in the list) */
    for (int32_t q = 0; q < nallow; q++) {
      int32_t i = allow[q];
      if (i < 0 || i >= nitems || mask[i]) continue;
      mask[i] |= 2;
      if (isfinite(scores[i])) rp_topk_push(&h, i, scores[i]);
    }
    for (int32_t q = 0; q < nallow; q++)
      if (allow[q] >= 0 && allow[q] < nitems) mask[allow[q]] &= (uint8_t)~2u;
  } else {
    /* once the heap is full, a score below its root cannot enter: one
     * compare per item (NaN compares false and is caught below) */
    float th = -INFINITY;
    for (int32_t i = 0; i < nitems; i++) {
      float s = scores[i];
      if (s < th || mask[i] || !isfinite(s)) continue;
      rp_topk_push(&h, i, s);
      if (h.n == k) th = h.scores[0];
    }
  }
  return rp_topk_finish(&h); /* best first */
}

/* ---- requests ------------------------------------------------------------------ */
static void mark(uint8_t *mask, int32_t ni, const int32_t *ix, int32_t n, uint8_t v) {
  for (int32_t q = 0; q < n; q++)
    if (ix[q] >= 0 && ix[q] < ni) mask[ix[q]] = v;
}

/* Runs r->one for q with the excluded items masked; clears the mask after. */
static int run_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                   int32_t *items, float *scores, int32_t *n, rp_err *err) {
  mark(s->mask, s->nitems, q->excl, q->nexcl, 1);
  if (q->excl_hist) mark(s->mask, s->nitems, q->hist, q->nhist, 1);
  mark(s->mask, s->nitems, q->deny, q->ndeny, 1);
  int rc = r->one(r, q, s, k, items, scores, n, err);
  mark(s->mask, s->nitems, q->excl, q->nexcl, 0);
  if (q->excl_hist) mark(s->mask, s->nitems, q->hist, q->nhist, 0);
  mark(s->mask, s->nitems, q->deny, q->ndeny, 0);
  return rc;
}

static void row_of(const rp_csr *m, int32_t u, const int32_t **ix, const float **v, int32_t *n) {
  if (!m || u < 0 || u >= m->nrows) {
    *ix = NULL, *v = NULL, *n = 0;
    return;
  }
  *ix = m->indices + m->indptr[u];
  *v = m->data + m->indptr[u];
  *n = (int32_t)(m->indptr[u + 1] - m->indptr[u]);
}

/* The history of user u: its row of r->history, else of exclude. */
static void history_of(const rp_hyb_rec *r, int32_t u, const rp_csr *exclude, rp_hyb_req *q) {
  row_of(r->history, u, &q->hist, &q->hval, &q->nhist);
  if (q->nhist == 0) row_of(exclude, u, &q->hist, &q->hval, &q->nhist);
}

int rp_hyb_restrict(rp_hyb_rec *r, const int32_t *items, int32_t n, rp_err *err) {
  if (!items) {
    rp_free(r->cand);
    r->cand = NULL;
    r->ncand = 0;
    return RP_OK;
  }
  int32_t *c = rp_malloc((size_t)(n ? n : 1) * sizeof *c), m = 0;
  if (!c) return rp_enomem(err, "candidates");
  for (int32_t j = 0; j < n; j++)
    if (items[j] >= 0 && items[j] < r->api.nitems) c[m++] = items[j];
  qsort(c, (size_t)m, sizeof *c, rp_cmp_i32);
  int32_t u = 0;
  for (int32_t j = 0; j < m; j++)
    if (!u || c[j] != c[u - 1]) c[u++] = c[j];
  rp_free(r->cand);
  r->cand = c;
  r->ncand = u;
  return RP_OK;
}

int32_t rp_hyb_intersect(const rp_hyb_rec *r, const int32_t *allow, int32_t n, int32_t *out) {
  int32_t m = 0;
  for (int32_t j = 0; j < n; j++) {
    if (!r->cand) {
      out[m++] = allow[j];
      continue;
    }
    if (bsearch(&allow[j], r->cand, (size_t)r->ncand, sizeof *r->cand, rp_cmp_i32))
      out[m++] = allow[j];
  }
  return m;
}

void rp_hyb_req_user(const rp_hyb_rec *r, int32_t u, const rp_csr *exclude, rp_hyb_req *q) {
  memset(q, 0, sizeof *q);
  q->user = u;
  q->segment = -1;
  if (r->cand) q->allow = r->cand, q->nallow = r->ncand;
  history_of(r, u, exclude, q);
  const float *v;
  row_of(exclude, u, &q->excl, &v, &q->nexcl);
}

int rp_hyb_recommend_one(const rp_hyb_rec *r, const rp_hyb_req *q, int32_t k, int32_t *items,
                         float *scores, int32_t *n, rp_err *err) {
  *n = 0;
  if (!r->one) return rp_errf(err, RP_EINVAL, "%s: no single-request path", r->reason);
  if (k < 1) return rp_errf(err, RP_EINVAL, "recommend: k must be positive, got %d", k);
  rp_hyb_scratch s;
  int rc = rp_hyb_scratch_init(&s, r, err);
  if (rc) return rc;
  rc = run_one(r, q, &s, k, items, scores, n, err);
  rp_hyb_scratch_free(&s);
  return rc;
}

int rp_hyb_one(void *self, const rp_rec_query *rq, int32_t k, int32_t *items, float *scores,
               int32_t *n, rp_err *err) {
  const rp_hyb_rec *r = self;
  rp_hyb_req q;
  *n = 0;
  rp_hyb_req_user(r, rq->user, rq->exclude, &q);
  if (rq->nhist > 0) q.hist = rq->hist, q.hval = rq->hval, q.nhist = rq->nhist, q.excl_hist = 1;
  if (rq->nattrs) q.segment = rp_hyb_segment_find(r, rq->attr_keys, rq->attr_vals, rq->nattrs);
  if (rq->user < 0 && !q.nhist && q.segment < 0) return RP_OK;
  if (rq->deny) q.deny = rq->deny, q.ndeny = rq->ndeny;
  int32_t *allow = NULL;
  if (rq->allow) { /* within the restriction, if any */
    allow = rp_malloc((size_t)(rq->nallow ? rq->nallow : 1) * sizeof *allow);
    if (!allow) return rp_enomem(err, "allow list");
    q.allow = allow, q.nallow = rp_hyb_intersect(r, rq->allow, rq->nallow, allow);
  }
  int rc = rp_hyb_recommend_one(r, &q, k, items, scores, n, err);
  rp_free(allow);
  return rc;
}

int rp_hyb_batch(void *self, const int32_t *users, int32_t n, int32_t k, const rp_csr *exclude,
                 int threads, int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err) {
  const rp_hyb_rec *r = self;
  if (k < 1) return rp_errf(err, RP_EINVAL, "recommend: k must be positive, got %d", k);
  for (int32_t i = 0; i < n; i++) out_n[i] = 0;
  int nt = rp_threads(threads);
  if (nt > n / 8 + 1) nt = n / 8 + 1;
  int rc = RP_OK;
  rp_err e1 = {0};
#pragma omp parallel num_threads(nt)
  {
    rp_hyb_scratch s;
    rp_err e;
    int mine = rp_hyb_scratch_init(&s, r, &e);
#pragma omp for schedule(dynamic, 16)
    for (int32_t i = 0; i < n; i++) {
      if (mine) continue;
      rp_hyb_req q;
      rp_hyb_req_user(r, users[i], exclude, &q);
      mine = run_one(r, &q, &s, k, out_items + (int64_t)i * k, out_scores + (int64_t)i * k,
                     &out_n[i], &e);
    }
    if (mine) {
#pragma omp critical(rp_hyb_batch_err)
      if (!rc) {
        rc = mine;
        e1 = e;
      }
    }
    rp_hyb_scratch_free(&s);
  }
  if (rc && err) *err = e1;
  return rc;
}

/* ---- history weights ------------------------------------------------------------ */
int rp_hyb_weights(const rp_events *ev, double half_life_days, int64_t now, int binary,
                   rp_csr **out, rp_err *err) {
  *out = NULL;
  if (half_life_days < 0 || !isfinite(half_life_days))
    return rp_errf(err, RP_EINVAL, "half_life_days must be a positive number, got %g",
                   half_life_days);
  if (half_life_days > 0 && !ev->time)
    return rp_errf(err, RP_EINVAL, "half_life_days needs a log with a time column");
  float *v = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *v);
  if (!v) return rp_enomem(err, "history weights");
  if (half_life_days > 0 && now <= 0) {
    int64_t lo, hi;
    now = rp_events_time_range(ev, &lo, &hi) ? hi : 0;
  }
  double rate = half_life_days > 0 ? 1.0 / (half_life_days * 86400.0) : 0;
  for (int64_t i = 0; i < ev->n; i++) {
    double w = binary ? 1.0 : (double)ev->value[i];
    if (rate > 0) w *= exp2(-(double)(now - ev->time[i]) * rate);
    v[i] = (float)w;
  }
  *out = rp_csr_build(ev->users->n, ev->items->n, ev->user, ev->item, v, NULL, ev->n, RP_AGG_SUM,
                      ev->users, ev->items, err);
  rp_free(v);
  return *out ? RP_OK : (err ? err->status : RP_ENOMEM);
}
