/*
 * trending.c -- popularity as of the moment of the request: each past event
 * counts 2^(-age / half_life), age measured back from the user's request
 * time; events after it do not count (they have not happened yet).
 *
 * A user's request time is its earliest event in the `at` log when given
 * (for an evaluation: when its test period starts), else `now` (by default
 * the latest training event: what a production request sees).
 *
 * Batch path.  Users are sorted by request time and the events swept once
 * in time order into v_i = sum w_e 2^((t_e - ref) / h), so a user's scores
 * are v_i 2^(-(t_u - ref) / h); ref moves forward (v rescaled) before the
 * exponent can overflow.  Threads take contiguous runs of the sorted users
 * and each sweeps from the first event, so the state at every event, and
 * hence every result, is the same whatever the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define NO_TIME INT64_MIN
#define MAX_EXP 400.0 /* renormalise before 2^400 */

typedef struct {
  rp_hyb_rec base;
  int64_t *t; /* event times, ascending */
  int32_t *item;
  float *w;
  int64_t n;
  double rate; /* 1 / half-life in seconds */
  int64_t now;
  int64_t *at; /* per user; NO_TIME = use now */
  int32_t nat;
} trending;

static void trending_destroy(rp_hyb_rec *r) {
  trending *g = (trending *)r;
  rp_free(g->t);
  rp_free(g->item);
  rp_free(g->w);
  rp_free(g->at);
}

static int64_t time_of(const trending *g, int32_t u) {
  return u >= 0 && u < g->nat && g->at[u] != NO_TIME ? g->at[u] : g->now;
}

/* The sweep state: v in units of 2^((t - ref) / h), next event p. */
typedef struct {
  double *v;
  int64_t ref, p;
} sweep;

static void advance(const trending *g, sweep *s, int64_t tu, int32_t ni) {
  for (; s->p < g->n && g->t[s->p] <= tu; s->p++) {
    double e = (double)(g->t[s->p] - s->ref) * g->rate;
    if (e > MAX_EXP) {
      double f = exp2(-e);
      for (int32_t i = 0; i < ni; i++) s->v[i] *= f;
      s->ref = g->t[s->p];
      e = 0;
    }
    s->v[g->item[s->p]] += (double)g->w[s->p] * exp2(e);
  }
}

/* Scores of the swept state at time tu into sc. */
static void scores_at(const trending *g, const sweep *s, int64_t tu, int32_t ni, float *sc) {
  double f = exp2(-(double)(tu - s->ref) * g->rate), mx = 0;
  if (f == 0) { /* far past every event: keep the order, scale by the max */
    for (int32_t i = 0; i < ni; i++)
      if (s->v[i] > mx) mx = s->v[i];
    f = mx > 0 ? 1 / mx : 1;
  }
  /* items nobody took before tu are not candidates */
  for (int32_t i = 0; i < ni; i++) sc[i] = s->v[i] > 0 ? (float)(s->v[i] * f) : -INFINITY;
}

static int trending_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                        int32_t *items, float *scores, int32_t *n, rp_err *err) {
  const trending *g = (const trending *)r;
  int32_t ni = r->api.nitems;
  sweep sw = {rp_calloc((size_t)(ni ? ni : 1), sizeof(double)), g->n ? g->t[0] : 0, 0};
  if (!sw.v) return rp_enomem(err, "trending");
  int64_t tu = time_of(g, q->user);
  advance(g, &sw, tu, ni);
  scores_at(g, &sw, tu, ni, s->scores);
  rp_free(sw.v);
  *n = rp_hyb_topk(s->scores, ni, r->tiebreak, s->mask, q->allow, q->nallow, k, items, scores);
  return RP_OK;
}

typedef struct {
  int64_t t;
  int32_t i; /* position in the batch */
} req_t;

static int cmp_req(const void *a, const void *b) {
  const req_t *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

static void mark(uint8_t *mask, int32_t ni, const rp_csr *m, int32_t u, uint8_t v) {
  if (!m || u < 0 || u >= m->nrows) return;
  for (int64_t t = m->indptr[u]; t < m->indptr[u + 1]; t++)
    if (m->indices[t] < ni) mask[m->indices[t]] = v;
}

static int trending_batch(void *self, const int32_t *users, int32_t n, int32_t k,
                          const rp_csr *exclude, int threads, int32_t *out_items, float *out_scores,
                          int32_t *out_n, rp_err *err) {
  const trending *g = self;
  if (k < 1) return rp_errf(err, RP_EINVAL, "recommend: k must be positive, got %d", k);
  int32_t ni = g->base.api.nitems;
  req_t *rq = rp_malloc((size_t)(n ? n : 1) * sizeof *rq);
  if (!rq) return rp_enomem(err, "trending");
  for (int32_t i = 0; i < n; i++) {
    rq[i].t = time_of(g, users[i]);
    rq[i].i = i;
    out_n[i] = 0;
  }
  qsort(rq, (size_t)n, sizeof *rq, cmp_req);
  int nt = rp_threads(threads);
  if (nt > n / 64 + 1) nt = n / 64 + 1;
  int failed = 0;
#pragma omp parallel num_threads(nt)
  {
    int tid = 0, T = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    T = omp_get_num_threads();
#endif
    int32_t a = (int32_t)((int64_t)n * tid / T), b = (int32_t)((int64_t)n * (tid + 1) / T);
    sweep sw = {rp_calloc((size_t)(ni ? ni : 1), sizeof(double)), g->n ? g->t[0] : 0, 0};
    float *sc = rp_malloc((size_t)(ni ? ni : 1) * sizeof *sc);
    uint8_t *mask = rp_calloc((size_t)(ni ? ni : 1), 1);
    if (!sw.v || !sc || !mask) {
#pragma omp atomic write
      failed = 1;
    } else {
      for (int32_t j = a; j < b; j++) {
        int32_t i = rq[j].i;
        advance(g, &sw, rq[j].t, ni);
        scores_at(g, &sw, rq[j].t, ni, sc);
        mark(mask, ni, exclude, users[i], 1);
        out_n[i] = rp_hyb_topk(sc, ni, g->base.tiebreak, mask, NULL, 0, k,
                               out_items + (int64_t)i * k, out_scores + (int64_t)i * k);
        mark(mask, ni, exclude, users[i], 0);
      }
    }
    rp_free(sw.v);
    rp_free(sc);
    rp_free(mask);
  }
  rp_free(rq);
  return failed ? rp_enomem(err, "trending") : RP_OK;
}

static int cmp_time(const void *a, const void *b, void *ctx) {
  const int64_t *t = ctx;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (t[x] != t[y]) return t[x] < t[y] ? -1 : 1;
  return (x > y) - (x < y);
}

int rp_hyb_trending_new(const rp_events *ev, double half_life_days, const rp_events *at,
                        int64_t now, int binary, rp_hyb_rec **out, rp_err *err) {
  *out = NULL;
  if (!ev->time) return rp_errf(err, RP_EINVAL, "trending: the training log has no time column");
  if (!(half_life_days > 0) || !isfinite(half_life_days))
    return rp_errf(err, RP_EINVAL, "trending: half_life_days must be a positive number, got %g",
                   half_life_days);
  if (at && !at->time) return rp_errf(err, RP_EINVAL, "trending: the 'at' log has no time column");
  if (at && at->users != ev->users)
    return rp_errf(err, RP_EINVAL, "trending: the 'at' log is not on the training user map");
  trending *g = rp_calloc(1, sizeof *g);
  if (!g) return rp_enomem(err, "trending");
  rp_hyb_rec *r = &g->base;
  r->destroy = trending_destroy;
  r->kind = RP_HYB_TRENDING;
  r->reason = "trending";
  r->one = trending_one;
  int32_t ni = ev->items->n;
  int64_t n = ev->n, *perm = rp_malloc((size_t)(n ? n : 1) * sizeof *perm);
  g->t = rp_malloc((size_t)(n ? n : 1) * sizeof *g->t);
  g->item = rp_malloc((size_t)(n ? n : 1) * sizeof *g->item);
  g->w = rp_malloc((size_t)(n ? n : 1) * sizeof *g->w);
  g->nat = ev->users->n;
  g->at = rp_malloc((size_t)(g->nat ? g->nat : 1) * sizeof *g->at);
  r->tiebreak = rp_calloc((size_t)(ni ? ni : 1), sizeof *r->tiebreak);
  if (!perm || !g->t || !g->item || !g->w || !g->at || !r->tiebreak) {
    rp_free(perm);
    rp_hyb_rec_free(r);
    return rp_enomem(err, "trending");
  }
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  qsort_r(perm, (size_t)n, sizeof *perm, cmp_time, ev->time);
  int64_t latest = n ? ev->time[perm[n - 1]] : 0;
  for (int64_t j = 0; j < n; j++) {
    int64_t i = perm[j];
    g->t[j] = ev->time[i];
    g->item[j] = ev->item[i];
    g->w[j] = binary ? 1.0f : ev->value[i];
    r->tiebreak[ev->item[i]] += 1.0f;
  }
  rp_free(perm);
  g->n = n;
  g->rate = 1.0 / (half_life_days * 86400.0);
  g->now = now > 0 ? now : latest;
  for (int32_t u = 0; u < g->nat; u++) g->at[u] = NO_TIME;
  if (at)
    for (int64_t i = 0; i < at->n; i++) {
      int32_t u = at->user[i];
      if (u < g->nat && (g->at[u] == NO_TIME || at->time[i] < g->at[u])) g->at[u] = at->time[i];
    }
  r->api.name = "trending";
  r->api.self = r;
  r->api.users = ev->users;
  r->api.items = ev->items;
  r->api.nusers = ev->users->n;
  r->api.nitems = ni;
  r->api.recommend = trending_batch;
  r->api.one = rp_hyb_one;
  *out = r;
  return RP_OK;
}
