/*
 * coldsplit.c -- splits for cold-start evaluation: whole users or whole
 * items held out of training.
 *
 * Cold users: the held-out users' events leave the training log; for each
 * reveal size n, a user's n oldest events are "known" at recommendation
 * time (what a new user has done so far) and the rest are the test set.
 * Cold items: the held-out items' events leave training and all of them
 * are the test set.  Choices come from a seeded shuffle of the eligible
 * ids in index order, so a seed gives the same split on every machine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"

/* The first m of a seeded shuffle of ids[0..n), returned ascending in ids. */
static void choose(int32_t *ids, int32_t n, int32_t m, uint64_t seed, uint64_t stream) {
  rp_rng g;
  rp_rng_seed(&g, seed, stream);
  for (int32_t i = 0; i < m && i < n; i++) {
    int32_t j = i + (int32_t)rp_rng_below(&g, (uint64_t)(n - i));
    int32_t t = ids[i];
    ids[i] = ids[j];
    ids[j] = t;
  }
}

/* Eligible ids (count >= min) and which to take: round(fraction * E) of a
 * seeded shuffle, or its fold-th of folds parts. */
static int pick(const int32_t *col, int64_t nev, int32_t nids, int32_t min, double fraction,
                int32_t folds, int32_t fold, uint64_t seed, uint64_t stream, const char *what,
                int32_t **out, int32_t *nout, uint8_t **flag, rp_err *err) {
  *out = NULL;
  *flag = NULL;
  if (folds > 0 && (folds < 2 || fold < 1 || fold > folds))
    return rp_errf(err, RP_EINVAL, "%s: fold must be in 1..folds with folds >= 2, got %d of %d",
                   what, fold, folds);
  if (folds == 0 && !(fraction > 0 && fraction <= 1))
    return rp_errf(err, RP_EINVAL, "%s: fraction must be in (0, 1], got %g", what, fraction);
  int64_t *cnt = rp_calloc((size_t)(nids ? nids : 1), sizeof *cnt);
  int32_t *ids = rp_malloc((size_t)(nids ? nids : 1) * sizeof *ids);
  uint8_t *fl = rp_calloc((size_t)(nids ? nids : 1), 1);
  if (!cnt || !ids || !fl) {
    rp_free(cnt);
    rp_free(ids);
    rp_free(fl);
    return rp_enomem(err, what);
  }
  for (int64_t i = 0; i < nev; i++) cnt[col[i]]++;
  int32_t ne = 0;
  for (int32_t u = 0; u < nids; u++)
    if (cnt[u] >= (min > 1 ? min : 1)) ids[ne++] = u;
  rp_free(cnt);
  int32_t a = 0, m = folds ? 0 : (int32_t)llround(fraction * ne);
  if (folds) {
    a = (int32_t)((int64_t)ne * (fold - 1) / folds);
    m = (int32_t)((int64_t)ne * fold / folds) - a;
  }
  if (m < 1 || (m >= ne && fraction < 1) || m > ne) {
    rp_free(ids);
    rp_free(fl);
    return rp_errf(err, RP_EINVAL, "%s: holding out %d of the %d eligible ids leaves no %s", what,
                   m, ne, m < 1 ? "test" : "training data");
  }
  choose(ids, ne, folds ? ne : m, seed, stream);
  if (a) memmove(ids, ids + a, (size_t)m * sizeof *ids);
  qsort(ids, (size_t)m, sizeof *ids, rp_cmp_i32);
  for (int32_t j = 0; j < m; j++) fl[ids[j]] = 1;
  *out = ids;
  *nout = m;
  *flag = fl;
  return RP_OK;
}

void rp_split_cold_free(rp_split_cold *c) {
  if (!c) return;
  rp_events_free(c->train);
  for (int r = 0; r < c->nreveal; r++) {
    rp_events_free(c->known[r]);
    rp_events_free(c->test[r]);
  }
  rp_free(c->users);
  memset(c, 0, sizeof *c);
}

/* Orders the events of one user by (time, row). */
static int cmp_time(const void *a, const void *b, void *ctx) {
  const int64_t *t = ctx;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (t && t[x] != t[y]) return t[x] < t[y] ? -1 : 1;
  return (x > y) - (x < y);
}

int rp_split_cold_users(const rp_events *ev, const rp_split_cold_opts *o, rp_split_cold *out,
                        rp_err *err) {
  memset(out, 0, sizeof *out);
  const int32_t *reveal = o->reveal;
  int nreveal = o->nreveal, same_test = o->same_test;
  if (nreveal < 1 || nreveal > RP_SPLIT_MAX_REVEAL)
    return rp_errf(err, RP_EINVAL, "cold_users: between 1 and %d reveal sizes expected, got %d",
                   RP_SPLIT_MAX_REVEAL, nreveal);
  int32_t maxrev = 0;
  for (int r = 0; r < nreveal; r++) {
    if (reveal[r] < 0)
      return rp_errf(err, RP_EINVAL, "cold_users: reveal sizes must be >= 0, got %d", reveal[r]);
    if (reveal[r] > maxrev) maxrev = reveal[r];
  }
  uint8_t *cold = NULL, *keep = NULL;
  int64_t *start = NULL, *rows = NULL, *kidx = NULL, *tidx = NULL;
  int32_t nu = ev->users->n;
  int32_t fold = o->folds > 0 && o->fold == 0 ? 1 : o->fold; /* the first by default */
  int rc = pick(ev->user, ev->n, nu, o->min_events, o->fraction, o->folds, fold, o->seed,
                0x636f6c64, "cold_users", &out->users, &out->nusers, &cold, err);
  if (rc) return rc;
  keep = rp_malloc((size_t)(ev->n ? ev->n : 1));
  start = rp_calloc((size_t)nu + 1, sizeof *start);
  rows = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *rows);
  kidx = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *kidx);
  tidx = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *tidx);
  if (!keep || !start || !rows || !kidx || !tidx) {
    rc = rp_enomem(err, "cold_users");
    goto done;
  }
  /* rows of the cold users grouped by user, each group by (time, row) */
  for (int64_t i = 0; i < ev->n; i++) {
    keep[i] = !cold[ev->user[i]];
    if (cold[ev->user[i]]) start[ev->user[i] + 1]++;
  }
  for (int32_t u = 0; u < nu; u++) start[u + 1] += start[u];
  for (int64_t i = 0; i < ev->n; i++)
    if (cold[ev->user[i]]) rows[start[ev->user[i]]++] = i;
  for (int32_t u = nu; u > 0; u--) start[u] = start[u - 1];
  start[0] = 0;
  for (int32_t j = 0; j < out->nusers; j++) {
    int32_t u = out->users[j];
    qsort_r(rows + start[u], (size_t)(start[u + 1] - start[u]), sizeof *rows, cmp_time,
            (void *)ev->time);
  }
  if (!(out->train = rp_events_select(ev, keep, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  out->nreveal = nreveal;
  for (int r = 0; r < nreveal; r++) {
    int64_t nk = 0, nt = 0;
    int32_t tu = 0;
    out->reveal[r] = reveal[r];
    for (int32_t j = 0; j < out->nusers; j++) {
      int32_t u = out->users[j];
      int64_t a = start[u], b = start[u + 1], cut = a + reveal[r], tcut;
      if (cut > b) cut = b;
      tcut = same_test ? (a + maxrev < b ? a + maxrev : b) : cut;
      for (int64_t p = a; p < cut; p++) kidx[nk++] = rows[p];
      for (int64_t p = tcut; p < b; p++) tidx[nt++] = rows[p];
      tu += tcut < b;
    }
    out->test_users[r] = tu;
    /* log order inside known and test */
    qsort(kidx, (size_t)nk, sizeof *kidx, rp_cmp_i64);
    qsort(tidx, (size_t)nt, sizeof *tidx, rp_cmp_i64);
    if (!(out->known[r] = rp_events_take(ev, kidx, nk, err)) ||
        !(out->test[r] = rp_events_take(ev, tidx, nt, err))) {
      rc = err ? err->status : RP_ENOMEM;
      goto done;
    }
  }
done:
  rp_free(cold);
  rp_free(keep);
  rp_free(start);
  rp_free(rows);
  rp_free(kidx);
  rp_free(tidx);
  if (rc) rp_split_cold_free(out);
  return rc;
}

int rp_split_cold_items(const rp_events *ev, double fraction, uint64_t seed, rp_events **train,
                        rp_events **test, int32_t **items, int32_t *nitems, rp_err *err) {
  *train = *test = NULL;
  *items = NULL;
  *nitems = 0;
  uint8_t *cold = NULL;
  int rc = pick(ev->item, ev->n, ev->items->n, 1, fraction, 0, 0, seed, 0x6974656d, "cold_items",
                items, nitems, &cold, err);
  if (rc) return rc;
  uint8_t *keep = rp_malloc((size_t)(ev->n ? ev->n : 1));
  if (!keep) {
    rc = rp_enomem(err, "cold_items");
    goto done;
  }
  for (int64_t i = 0; i < ev->n; i++) keep[i] = !cold[ev->item[i]];
  if (!(*train = rp_events_select(ev, keep, err))) {
    rc = err ? err->status : RP_ENOMEM;
    goto done;
  }
  for (int64_t i = 0; i < ev->n; i++) keep[i] = !keep[i];
  if (!(*test = rp_events_select(ev, keep, err))) rc = err ? err->status : RP_ENOMEM;
done:
  rp_free(cold);
  rp_free(keep);
  if (rc) {
    rp_events_free(*train);
    rp_events_free(*test);
    rp_free(*items);
    *train = *test = NULL;
    *items = NULL;
    *nitems = 0;
  }
  return rc;
}
