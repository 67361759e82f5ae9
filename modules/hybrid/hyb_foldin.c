/*
 * hyb_foldin.c -- an ALS model answering users it has not seen from their
 * known interactions: x = rp_als_foldin(history) (the exact user half-step
 * of the model's own objective), scores y_i . x for every item.
 *
 * The history is the call's exclude row (what a new user has done so far,
 * which rp.split.cold_users calls `known`) or the request's; the model's
 * own factors are not used for users it knows, so a warm user evaluated
 * with exclude = train gets (almost) its trained vector back.
 */
#include <string.h>

#include "als.h"
#include "hybrid.h"

typedef struct {
  rp_hyb_rec base;
  rp_als_model *m; /* retained */
  int32_t min_history;
} foldin;

static void foldin_destroy(rp_hyb_rec *r) { rp_als_model_free(((foldin *)r)->m); }

/* x . y over f floats in 16 independent lanes. */
static inline float dot(const float *x, const float *y, int32_t f) {
  float lane[16] = {0};
  int32_t c = 0;
  for (; c + 16 <= f; c += 16)
    for (int l = 0; l < 16; l++) lane[l] += x[c + l] * y[c + l];
  float s = 0;
  for (; c < f; c++) s += x[c] * y[c];
  for (int l = 0; l < 16; l++) s += lane[l];
  return s;
}

static int foldin_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                      int32_t *items, float *scores, int32_t *n, rp_err *err) {
  const foldin *fo = (const foldin *)r;
  const rp_als_model *m = fo->m;
  *n = 0;
  if (q->nhist < fo->min_history || q->nhist == 0) return RP_OK;
  float *x = s->work; /* f floats */
  int rc = rp_als_foldin(m, q->hist, q->hval, q->nhist, x, err);
  if (rc) return rc;
  int32_t f = m->factors;
  for (int32_t i = 0; i < m->nitems; i++)
    s->scores[i] = dot(m->item_factors + (size_t)i * (size_t)f, x, f);
  *n = rp_hyb_topk(s->scores, m->nitems, NULL, s->mask, q->allow, q->nallow, k, items, scores);
  return RP_OK;
}

int rp_hyb_foldin_new(struct rp_als_model *m, int32_t min_history, rp_hyb_rec **out, rp_err *err) {
  *out = NULL;
  if (min_history < 1)
    return rp_errf(err, RP_EINVAL, "fold_in: min_history must be positive, got %d", min_history);
  foldin *fo = rp_calloc(1, sizeof *fo);
  if (!fo) return rp_enomem(err, "fold-in");
  rp_hyb_rec *r = &fo->base;
  fo->m = rp_als_model_retain(m);
  fo->min_history = min_history;
  r->destroy = foldin_destroy;
  r->kind = RP_HYB_FOLDIN;
  r->reason = "fold_in";
  r->one = foldin_one;
  r->work_floats = (size_t)m->factors;
  r->api.name = "fold_in";
  r->api.self = r;
  r->api.users = m->users;
  r->api.items = m->items;
  r->api.nusers = m->users ? m->users->n : m->nusers;
  r->api.nitems = m->nitems;
  r->api.recommend = rp_hyb_batch;
  r->api.one = rp_hyb_one;
  *out = r;
  return RP_OK;
}
