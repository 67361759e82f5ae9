/*
 * bench_monitor.c -- timings of the monitor core at the size.
 *
 *   build/bench/bench_monitor [runs]
 *
 * Synthetic logs in memory (seeded): 200,000 users (log-normal activity),
 * 50,000 items (Zipf 1.0 popularity), three event types, two context
 * columns (3 and 12 values).  Timed, median of `runs`, one thread:
 *   windows 5M + 5M:   rp_mon_compare_windows of a 5M-event window against a
 *                      5M-event reference (10 million events in all)
 *   windows 10M + 10M: a 10M-event window against a 10M-event reference
 *   lists:             rp_mon_compare_lists, 200,000 users x top 10 on each
 *                      side, scores included
 *   serving:           rp_mon_serving_compute, 1M requests x 10 items
 *                      (10M impression lines) and 1M feedback events
 * The work of a window comparison is one pass over each side (two counter
 * increments per event, plus its event type and context codes), then
 * passes over the users and items and a sort of the items with events.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

enum { NU = 200000, NI = 50000 };

static void die(const rp_err *e) {
  fprintf(stderr, "bench_monitor: %s\n", e ? e->msg : "failed");
  exit(1);
}

static rp_idmap *numbered(const char *prefix, int n) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  if (!m) die(&err);
  char buf[32];
  for (int i = 0; i < n; i++) {
    int32_t j;
    int len = snprintf(buf, sizeof buf, "%s%d", prefix, i);
    if (rp_idmap_intern(m, buf, (size_t)len, &j, &err)) die(&err);
  }
  return m;
}

/* Cumulative weights for inverse-CDF draws. */
static double *cdf(int n, double (*w)(int, rp_rng *), rp_rng *r) {
  double *c = malloc((size_t)n * sizeof *c), acc = 0;
  for (int i = 0; i < n; i++) c[i] = acc += w(i, r);
  for (int i = 0; i < n; i++) c[i] /= acc;
  return c;
}

static int draw(const double *c, int n, double x) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (c[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static double zipf(int i, rp_rng *r) {
  (void)r;
  return 1.0 / (i + 1);
}
static double lognormal(int i, rp_rng *r) {
  (void)i;
  return exp(rp_rng_normal(r));
}

/* n events on the maps; seed varies the draws; shift moves popularity. */
static rp_events *window(rp_idmap *users, rp_idmap *items, rp_idmap **dicts, int64_t n,
                         uint64_t seed, const double *ucdf, const double *icdf, int shift) {
  rp_err err;
  const char *cn[] = {"device", "country"};
  rp_events *ev = rp_events_new(users, items, 1, dicts[0], 2, cn, dicts + 1, &err);
  if (!ev || rp_events_reserve(ev, n, &err)) die(&err);
  rp_rng r;
  rp_rng_seed(&r, seed, 0);
  for (int64_t k = 0; k < n; k++) {
    ev->user[k] = draw(ucdf, NU, rp_rng_uniform(&r));
    ev->item[k] = (draw(icdf, NI, rp_rng_uniform(&r)) + shift) % NI;
    ev->value[k] = 1;
    ev->time[k] = 1700000000 + k / 100;
    double e = rp_rng_uniform(&r);
    ev->event[k] = (int16_t)(e < 0.85 ? 0 : e < 0.95 ? 1 : 2);
    ev->context[0][k] = (int32_t)rp_rng_below(&r, 3);
    ev->context[1][k] = (int32_t)rp_rng_below(&r, 12);
  }
  ev->n = n;
  return ev;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_d);
  return t[n / 2];
}

static void bench_windows(const rp_events *a, const rp_events *b, int runs, const char *what) {
  rp_mon_window_opts o;
  rp_mon_window_opts_init(&o);
  rp_mon_windows w;
  rp_err err;
  double t[64];
  for (int i = 0; i < runs; i++) {
    double t0 = rp_now();
    if (rp_mon_compare_windows(a, b, &o, &w, &err)) die(&err);
    t[i] = rp_now() - t0;
  }
  printf("windows %-9s %8.3f s  (%.1f M events/s; item_psi %.4f, item_tv %.4f, new_users %.3f)\n",
         what, median(t, runs), (double)(a->n + b->n) / median(t, runs) / 1e6, w.item.psi,
         w.item.tv, w.new_users);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 5;
  if (runs < 1 || runs > 64) runs = 5;
  rp_rng r;
  rp_rng_seed(&r, 1, 1);
  double *ucdf = cdf(NU, lognormal, &r), *icdf = cdf(NI, zipf, &r);
  rp_idmap *users = numbered("u", NU), *items = numbered("i", NI);
  rp_idmap *dicts[3] = {numbered("type", 3), numbered("dev", 3), numbered("c", 12)};
  double t0 = rp_now();
  rp_events *a10 = window(users, items, dicts, 10000000, 1, ucdf, icdf, 0);
  rp_events *b10 = window(users, items, dicts, 10000000, 2, ucdf, icdf, 7);
  printf("generated 2 x 10M events in %.1f s; %d users, %d items\n", rp_now() - t0, NU, NI);
  uint8_t *half = malloc(10000000);
  for (int64_t k = 0; k < 10000000; k++) half[k] = k % 2 == 0;
  rp_err err;
  rp_events *a5 = rp_events_select(a10, half, &err), *b5 = rp_events_select(b10, half, &err);
  if (!a5 || !b5) die(&err);
  bench_windows(a5, b5, runs, "5M + 5M");
  bench_windows(a10, b10, runs, "10M + 10M");
  rp_events_free(a5);
  rp_events_free(b5);

  /* lists: 200,000 users x 10 on each side */
  int32_t k = 10;
  int32_t *ia = malloc((size_t)NU * k * 4), *ib = malloc((size_t)NU * k * 4);
  float *sa = malloc((size_t)NU * k * 4), *sb = malloc((size_t)NU * k * 4);
  int32_t *len = malloc((size_t)NU * 4);
  for (int32_t u = 0; u < NU; u++) {
    len[u] = k;
    int32_t base = (int32_t)rp_rng_below(&r, NI - 40);
    for (int32_t j = 0; j < k; j++) {
      ia[u * k + j] = base + j;
      ib[u * k + j] = base + 2 * j + (int32_t)rp_rng_below(&r, 2) * (j & 1);
      sa[u * k + j] = (float)(1.0 - 0.05 * j);
      sb[u * k + j] = (float)(1.1 - 0.06 * j);
    }
  }
  rp_mon_lists la = {.n = NU, .k = k, .items = ia, .scores = sa, .len = len},
               lb = {.n = NU, .k = k, .items = ib, .scores = sb, .len = len};
  rp_mon_lists_opts lo;
  rp_mon_lists_opts_init(&lo);
  rp_mon_lists_result lr;
  double t[64];
  for (int i = 0; i < runs; i++) {
    double s = rp_now();
    if (rp_mon_compare_lists(&la, &lb, NI, &lo, &lr, &err)) die(&err);
    t[i] = rp_now() - s;
  }
  printf("lists   200k x 10  %8.3f s  (jaccard %.3f, rbo %.3f, score_psi %.3f)\n", median(t, runs),
         lr.jaccard, lr.rbo, lr.score_psi);

  /* serving: 1M requests x 10 items, 1M feedback events */
  const char *icn[] = {"request_id", "model_version", "reason"};
  rp_events *imp = rp_events_new(users, items, 1, NULL, 3, icn, NULL, &err);
  if (!imp || rp_events_reserve(imp, 10000000, &err)) die(&err);
  rp_idmap *rid = imp->context_dicts[0];
  char buf[32];
  int32_t code;
  for (int v = 0; v < 2; v++) {
    int n = snprintf(buf, sizeof buf, "v%d", v);
    rp_idmap_intern(imp->context_dicts[1], buf, (size_t)n, &code, &err);
  }
  rp_idmap_intern(imp->context_dicts[2], "cf", 2, &code, &err);
  rp_idmap_intern(imp->context_dicts[2], "popularity", 10, &code, &err);
  for (int64_t q = 0; q < 1000000; q++) {
    int n = snprintf(buf, sizeof buf, "r%lld", (long long)q);
    if (rp_idmap_intern(rid, buf, (size_t)n, &code, &err)) die(&err);
    int32_t u = draw(ucdf, NU, rp_rng_uniform(&r));
    for (int j = 0; j < 10; j++) {
      int64_t l = q * 10 + j;
      imp->user[l] = u, imp->item[l] = draw(icdf, NI, rp_rng_uniform(&r)), imp->value[l] = 1;
      imp->time[l] = 1700000000 + q;
      imp->context[0][l] = code, imp->context[1][l] = (int32_t)(q % 2),
      imp->context[2][l] = (int32_t)(q % 3 == 0);
    }
  }
  imp->n = 10000000;
  const char *fcn[] = {"request_id"};
  rp_idmap *fnames = numbered("t", 1);
  rp_idmap_intern(fnames, "click", 5, &code, &err);
  rp_idmap_intern(fnames, "purchase", 8, &code, &err);
  int32_t none; /* the empty request id: an event naming no request */
  if (rp_idmap_intern(rid, "", 0, &none, &err)) die(&err);
  rp_events *fb = rp_events_new(users, items, 1, fnames, 1, fcn, &rid, &err);
  if (!fb || rp_events_reserve(fb, 1000000, &err)) die(&err);
  for (int64_t e = 0; e < 1000000; e++) {
    int64_t l = (int64_t)rp_rng_below(&r, 10000000);
    fb->user[e] = imp->user[l], fb->item[e] = imp->item[l], fb->value[e] = 1;
    fb->time[e] = imp->time[l] + (int64_t)rp_rng_below(&r, 3600);
    fb->event[e] = (int16_t)(1 + (rp_rng_below(&r, 10) == 0));
    fb->context[0][e] = rp_rng_below(&r, 2) ? imp->context[0][l] : none;
  }
  fb->n = 1000000;
  rp_mon_serving_opts so;
  rp_mon_serving_opts_init(&so);
  rp_mon_serving sv;
  for (int i = 0; i < runs; i++) {
    double s = rp_now();
    if (rp_mon_serving_compute(imp, fb, NULL, &so, &sv, &err)) die(&err);
    t[i] = rp_now() - s;
    if (i < runs - 1) rp_mon_serving_free(&sv);
  }
  printf("serving 10M lines + 1M events %8.3f s  (ctr %.4f, conversion %.4f, hit rate %.4f)\n",
         median(t, runs), sv.ctr[1].rate, sv.conversion[1].rate, sv.hit[1].rate);
  rp_mon_serving_free(&sv);
  printf("peak core memory %.0f MB\n", (double)rp_mem_peak() / 1e6);
  rp_events_free(imp);
  rp_events_free(fb);
  rp_events_free(a10);
  rp_events_free(b10);
  rp_idmap_release(fnames);
  for (int i = 0; i < 3; i++) rp_idmap_release(dicts[i]);
  rp_idmap_release(users);
  rp_idmap_release(items);
  free(ucdf), free(icdf), free(half), free(ia), free(ib), free(sa), free(sb), free(len);
  return 0;
}
