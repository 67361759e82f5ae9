/*
 * popularity.c -- the global popularity baseline, optionally time-decayed:
 * every user gets the most popular items they may see.
 *
 * Decay: an event at time t weighs 2^(-(now - t) / half_life), so an item
 * bought by 100 users a half-life ago counts like 50 bought today.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_impl.h"

const char *const rp_pop_by_names[] = {"users", "events", "value", NULL};

#define O rp_pop_opts
const rp_optdesc rp_pop_optdesc[] = {
    RP_OPT_E(O, by, "by", RP_POP_USERS, rp_pop_by_names),
    RP_OPT_X("half_life_days", "a number > 0 (days; absent: no decay; needs Events)"),
    RP_OPT_X("now", "Unix seconds (the decay's reference; default: the latest event)"), RP_OPT_END};
#undef O

#define O rp_randrec_opts
const rp_optdesc rp_randrec_optdesc[] = {RP_OPT_SEED_(O, seed, "seed", 42), RP_OPT_END};
#undef O

static int cmp_score(const void *a, const void *b, void *ctx) {
  const double *s = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  if (s[x] != s[y]) return s[x] > s[y] ? -1 : 1;
  return (x > y) - (x < y);
}

/* A model with nitems zero scores, or NULL. */
static rp_popularity *pop_new(int32_t nitems, rp_idmap *users, rp_idmap *items, rp_err *err) {
  rp_popularity *p = rp_calloc(1, sizeof *p);
  if (!p) return rp_enomem(err, "popularity"), NULL;
  rp_base_init(&p->base, RP_BASE_POPULARITY, "popularity", INT32_MAX, nitems, users, items);
  p->score = rp_calloc((size_t)nitems + 1, sizeof *p->score);
  p->order = rp_malloc(((size_t)nitems + 1) * sizeof *p->order);
  if (!p->score || !p->order) {
    rp_baseline_free(&p->base);
    return rp_enomem(err, "popularity"), NULL;
  }
  return p;
}

/* Orders the items with a positive score, best first. */
static void pop_order(rp_popularity *p) {
  int32_t n = 0;
  for (int32_t i = 0; i < p->base.nitems; i++)
    if (p->score[i] > 0) p->order[n++] = i;
  qsort_r(p->order, (size_t)n, sizeof *p->order, cmp_score, p->score);
  p->norder = n;
}

int rp_popularity_fit_events(const rp_events *ev, const rp_pop_opts *o, rp_popularity **out,
                             rp_err *err) {
  *out = NULL;
  if (o->half_life < 0 || !isfinite(o->half_life))
    return rp_errf(err, RP_EINVAL, "half_life_days must be a positive number");
  int decay = o->half_life > 0;
  if (decay && !ev->time)
    return rp_errf(err, RP_EINVAL,
                   "half_life_days needs event times: read the log with a time column");
  int64_t now = o->now;
  if (decay && !o->has_now) {
    int64_t lo;
    if (!rp_events_time_range(ev, &lo, &now)) now = 0;
  }
  rp_popularity *p = pop_new(ev->items->n, ev->users, ev->items, err);
  if (!p) return RP_ENOMEM;
  p->now = decay ? now : 0;
  float *w = rp_malloc((size_t)(ev->n + 1) * sizeof *w);
  if (!w) {
    rp_baseline_free(&p->base);
    return rp_enomem(err, "popularity");
  }
  for (int64_t i = 0; i < ev->n; i++) {
    double age = decay ? (double)(now - ev->time[i]) : 0;
    w[i] = decay && age > 0 ? (float)exp2(-age / o->half_life) : 1.0f;
  }
  if (o->by == RP_POP_USERS) {
    /* one weight per (user, item) pair: its latest event's (the largest) */
    rp_csr *m = rp_csr_build(ev->users->n, ev->items->n, ev->user, ev->item, w, NULL, ev->n,
                             RP_AGG_MAX, NULL, NULL, err);
    if (!m) {
      rp_free(w);
      rp_baseline_free(&p->base);
      return err ? err->status : RP_ENOMEM;
    }
    for (int64_t q = 0; q < m->nnz; q++) p->score[m->indices[q]] += (double)m->data[q];
    rp_csr_free(m);
  } else {
    for (int64_t i = 0; i < ev->n; i++)
      p->score[ev->item[i]] += (double)w[i] * (o->by == RP_POP_VALUE ? (double)ev->value[i] : 1.0);
  }
  rp_free(w);
  pop_order(p);
  *out = p;
  return RP_OK;
}

int rp_popularity_fit_matrix(const rp_csr *m, const rp_pop_opts *o, rp_popularity **out,
                             rp_err *err) {
  *out = NULL;
  if (o->half_life > 0)
    return rp_errf(err, RP_EINVAL,
                   "half_life_days needs event times: pass the Events, not a Matrix");
  if (o->by == RP_POP_EVENTS)
    return rp_errf(err, RP_EINVAL, "by = 'events' needs Events (a matrix has one entry per pair)");
  int32_t ni = m->ncols;
  if (m->colmap && m->colmap->n > ni) ni = m->colmap->n;
  rp_popularity *p = pop_new(ni, m->rowmap, m->colmap, err);
  if (!p) return RP_ENOMEM;
  for (int64_t q = 0; q < m->nnz; q++)
    p->score[m->indices[q]] += o->by == RP_POP_VALUE ? (double)m->data[q] : 1.0;
  pop_order(p);
  *out = p;
  return RP_OK;
}

int32_t rp_pop_user(const rp_popularity *p, int32_t k, const rp_filter *f, int32_t *items,
                    float *scores) {
  int32_t c = 0;
  for (int32_t j = 0; j < p->norder && c < k; j++) {
    int32_t it = p->order[j];
    if (!rp_filter_allows(f, it)) continue;
    items[c] = it;
    scores[c++] = (float)p->score[it];
  }
  return c;
}
