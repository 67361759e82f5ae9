/*
 * split.c -- train/test splits of an event log; see split.h.
 *
 * Each split fills one label per event (DROP, TRAIN, TEST), then `finish`
 * drops test events of users/items unknown to train (when asked), counts,
 * and copies both parts out with rp_events_take in input order.
 */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DROP = 0, TRAIN = 1, TEST = 2 };

/* A uniform draw in [0, 1) from a 64-bit key: the top 53 bits of a
 * SplitMix64-style hash of (seed, key).  Independent of order and threads. */
static double draw(uint64_t seed, uint64_t key) {
  uint64_t h = rp_hash64(rp_hash64(seed ^ 0x9e3779b97f4a7c15ULL) ^ key);
  return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t unit_key(const rp_events *ev, int64_t i, int by) {
  if (by == RP_SPLIT_BY_EVENT) return (uint64_t)i;
  return ((uint64_t)(uint32_t)ev->user[i] << 32) | (uint32_t)ev->item[i];
}

static void report_init(rp_split_report *rep, const rp_events *ev) {
  memset(rep, 0, sizeof *rep);
  rep->input = ev->n;
}

/* Copies the rows labelled want into a new Events. */
static rp_events *take_label(const rp_events *ev, const uint8_t *label, uint8_t want, int64_t n,
                             rp_err *err) {
  int64_t *idx = rp_malloc((size_t)(n ? n : 1) * sizeof *idx);
  if (!idx) return rp_enomem(err, "split"), NULL;
  int64_t k = 0;
  for (int64_t i = 0; i < ev->n; i++)
    if (label[i] == want) idx[k++] = i;
  rp_events *r = rp_events_take(ev, idx, k, err);
  rp_free(idx);
  return r;
}

/* Marks which users/items have a train event, drops (unless keep_unknown)
 * test events of the others, counts everything and builds the two parts.
 * Consumes nothing: label stays owned by the caller. */
static int finish(const rp_events *ev, uint8_t *label, int keep_unknown, rp_events **train,
                  rp_events **test, rp_split_report *rep, rp_err *err) {
  int32_t nu = ev->users->n, ni = ev->items->n;
  uint8_t *useen = rp_calloc((size_t)nu + 1, 1), *iseen = rp_calloc((size_t)ni + 1, 1);
  if (!useen || !iseen) {
    rp_free(useen);
    rp_free(iseen);
    return rp_enomem(err, "split");
  }
  /* bit 1: has a train event; bit 2: counted as unknown; bit 4: test user */
  for (int64_t i = 0; i < ev->n; i++)
    if (label[i] == TRAIN) {
      useen[ev->user[i]] = 1;
      iseen[ev->item[i]] = 1;
    }
  for (int64_t i = 0; i < ev->n; i++) {
    if (label[i] != TEST) continue;
    int32_t u = ev->user[i], it = ev->item[i];
    int uk = !(useen[u] & 1), ik = !(iseen[it] & 1);
    if (uk && !(useen[u] & 2)) useen[u] |= 2, rep->unknown_users++;
    if (ik && !(iseen[it] & 2)) iseen[it] |= 2, rep->unknown_items++;
    if (!keep_unknown && (uk || ik)) {
      label[i] = DROP;
      rep->dropped++;
      rep->dropped_user_events += uk;
      rep->dropped_item_events += ik;
    }
  }
  for (int64_t i = 0; i < ev->n; i++) {
    if (label[i] == TRAIN) rep->train++;
    if (label[i] == TEST) {
      rep->test++;
      if (!(useen[ev->user[i]] & 4)) useen[ev->user[i]] |= 4, rep->test_users++;
    }
  }
  rp_free(useen);
  rp_free(iseen);
  *train = take_label(ev, label, TRAIN, rep->train, err);
  if (!*train) return err->status;
  *test = take_label(ev, label, TEST, rep->test, err);
  if (!*test) {
    rp_events_free(*train);
    *train = NULL;
    return err->status;
  }
  return RP_OK;
}

static uint8_t *new_labels(const rp_events *ev, rp_err *err) {
  uint8_t *l = rp_malloc((size_t)(ev->n ? ev->n : 1));
  if (!l) rp_enomem(err, "split labels");
  return l;
}

static int check_common(const rp_events *ev, rp_events **train, rp_events **test,
                        rp_split_report *rep, rp_err *err) {
  *train = NULL;
  if (test) *test = NULL;
  if (!ev) return rp_errf(err, RP_EINVAL, "no events");
  report_init(rep, ev);
  return RP_OK;
}

/* The start of every split: err and rep may be NULL (stand-ins on the
 * split's stack take their place), the outputs are cleared and the report
 * initialised; the split returns at once when there are no events. */
#define SPLIT_BEGIN(ev, out1, out2) \
  rp_err ebuf_;                     \
  rp_split_report rbuf_;            \
  if (!err) err = &ebuf_;           \
  if (!rep) rep = &rbuf_;           \
  if (check_common(ev, out1, out2, rep, err)) return err->status

static int check_fraction(double f, const char *what, rp_err *err) {
  if (!(f > 0 && f < 1)) return rp_errf(err, RP_EINVAL, "%s must be in (0, 1), got %g", what, f);
  return RP_OK;
}

int rp_split_random(const rp_events *ev, double test_fraction, uint64_t seed, int by,
                    rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (check_fraction(test_fraction, "test_fraction", err)) return err->status;
  uint8_t *label = new_labels(ev, err);
  if (!label) return err->status;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < ev->n; i++)
    label[i] = draw(seed, unit_key(ev, i, by)) < test_fraction ? TEST : TRAIN;
  int rc = finish(ev, label, 1, train, test, rep, err);
  rp_free(label);
  return rc;
}

int rp_split_kfold(const rp_events *ev, int32_t k, int32_t fold, uint64_t seed, int by,
                   rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (k < 2) return rp_errf(err, RP_EINVAL, "k must be at least 2, got %d", k);
  if (fold < 0 || fold >= k)
    return rp_errf(err, RP_EINVAL, "fold must be in 1..%d, got %d", k, fold + 1);
  uint8_t *label = new_labels(ev, err);
  if (!label) return err->status;
  double lo = (double)fold / k, hi = (double)(fold + 1) / k;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < ev->n; i++) {
    double u = draw(seed, unit_key(ev, i, by));
    label[i] = (u >= lo && u < hi) ? TEST : TRAIN;
  }
  int rc = finish(ev, label, 1, train, test, rep, err);
  rp_free(label);
  return rc;
}

/* ---- time-based ------------------------------------------------------------ */
static int need_time(const rp_events *ev, const char *split, rp_err *err) {
  if (!ev->time)
    return rp_errf(err, RP_EINVAL, "%s needs a time column (read the log with time = ...)", split);
  return RP_OK;
}

/* k-th smallest (0-based) of a[0..n): quickselect, median of three. */
static int64_t select_kth(int64_t *a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (hi > lo) {
    int64_t mid = lo + (hi - lo) / 2;
    int64_t x = a[lo], y = a[mid], z = a[hi];
    int64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        int64_t t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return a[k];
  }
  return a[k];
}

int rp_split_window(const rp_events *ev, int64_t train_start, int64_t train_end, int64_t test_end,
                    int keep_unknown, rp_events **train, rp_events **test, rp_split_report *rep,
                    rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (need_time(ev, "a time window split", err)) return err->status;
  if (!(train_start <= train_end && train_end <= test_end))
    return rp_errf(err, RP_EINVAL,
                   "window bounds must satisfy train_start <= train_end <= test_end, got %lld, "
                   "%lld, %lld",
                   (long long)train_start, (long long)train_end, (long long)test_end);
  uint8_t *label = new_labels(ev, err);
  if (!label) return err->status;
  int64_t outside = 0;
  for (int64_t i = 0; i < ev->n; i++) {
    int64_t t = ev->time[i];
    label[i] = t < train_start ? DROP : t < train_end ? TRAIN : t < test_end ? TEST : DROP;
    outside += label[i] == DROP;
  }
  int rc = finish(ev, label, keep_unknown, train, test, rep, err);
  rep->outside = outside;
  rep->cutoff = train_end;
  rep->has_cutoff = 1;
  rp_free(label);
  return rc;
}

int rp_split_by_time(const rp_events *ev, double test_fraction, int64_t cutoff, int use_cutoff,
                     int keep_unknown, rp_events **train, rp_events **test, rp_split_report *rep,
                     rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (need_time(ev, "by_time", err)) return err->status;
  if (!use_cutoff) {
    if (check_fraction(test_fraction, "test_fraction", err)) return err->status;
    if (ev->n == 0) {
      cutoff = 0;
    } else {
      /* the event at position n_train in time order opens the test part */
      int64_t ntrain = (int64_t)floor((1.0 - test_fraction) * (double)ev->n + 1e-9);
      if (ntrain >= ev->n) ntrain = ev->n - 1;
      int64_t *t = rp_malloc((size_t)ev->n * sizeof *t);
      if (!t) return rp_enomem(err, "by_time");
      memcpy(t, ev->time, (size_t)ev->n * sizeof *t);
      cutoff = select_kth(t, ev->n, ntrain);
      rp_free(t);
    }
  }
  return rp_split_window(ev, INT64_MIN, cutoff, INT64_MAX, keep_unknown, train, test, rep, err);
}

int rp_split_time_range(const rp_events *ev, int64_t from, int64_t to, rp_events **out,
                        rp_split_report *rep, rp_err *err) {
  SPLIT_BEGIN(ev, out, NULL);
  if (need_time(ev, "time_range", err)) return err->status;
  uint8_t *label = new_labels(ev, err);
  if (!label) return err->status;
  for (int64_t i = 0; i < ev->n; i++) {
    label[i] = ev->time[i] >= from && ev->time[i] < to ? TRAIN : DROP;
    rep->train += label[i] == TRAIN;
  }
  rep->outside = ev->n - rep->train;
  *out = take_label(ev, label, TRAIN, rep->train, err);
  rp_free(label);
  return *out ? RP_OK : err->status;
}

/* ---- per user ---------------------------------------------------------------- */
/* Groups event indices by user (counting sort, stable: input order within a
 * user), then sorts each user's events by time (stable via the index). */
typedef struct {
  int64_t *off; /* nusers + 1 */
  int64_t *idx; /* n */
} by_user;

static int cmp_time(const void *a, const void *b, void *ctx) {
  const int64_t *t = ctx;
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  if (t[x] != t[y]) return t[x] < t[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

static int group_users(const rp_events *ev, by_user *g, rp_err *err) {
  int32_t nu = ev->users->n;
  g->off = rp_calloc((size_t)nu + 2, sizeof *g->off);
  g->idx = rp_malloc((size_t)(ev->n ? ev->n : 1) * sizeof *g->idx);
  if (!g->off || !g->idx) {
    rp_free(g->off);
    rp_free(g->idx);
    return rp_enomem(err, "split by user");
  }
  for (int64_t i = 0; i < ev->n; i++) g->off[ev->user[i] + 2]++;
  for (int32_t u = 0; u < nu; u++) g->off[u + 2] += g->off[u + 1];
  for (int64_t i = 0; i < ev->n; i++) g->idx[g->off[ev->user[i] + 1]++] = i;
  if (ev->time) {
    const int64_t *t = ev->time;
#pragma omp parallel for schedule(dynamic, 256)
    for (int32_t u = 0; u < nu; u++) {
      int64_t a = g->off[u], b = g->off[u + 1];
      int sorted = 1;
      for (int64_t j = a + 1; j < b && sorted; j++) sorted = t[g->idx[j - 1]] <= t[g->idx[j]];
      if (!sorted) qsort_r(g->idx + a, (size_t)(b - a), sizeof *g->idx, cmp_time, (void *)t);
    }
  }
  return RP_OK;
}

/* ntest(n_u) per user: k latest (mode 0) or round(f * n_u) (mode 1). */
static int per_user_split(const rp_events *ev, int mode, int32_t k, double f, int32_t min_history,
                          rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err) {
  by_user g;
  if (group_users(ev, &g, err)) return err->status;
  uint8_t *label = new_labels(ev, err);
  if (!label) {
    rp_free(g.off);
    rp_free(g.idx);
    return err->status;
  }
  int32_t nu = ev->users->n;
  for (int32_t u = 0; u < nu; u++) {
    int64_t a = g.off[u], b = g.off[u + 1], n = b - a;
    if (n == 0) continue;
    int64_t nt = mode == 0 ? k : (int64_t)floor(f * (double)n + 0.5 + 1e-9);
    if (n < min_history) {
      nt = 0;
      rep->short_users++;
    }
    if (nt > n - 1) nt = n - 1;
    for (int64_t j = a; j < b; j++) label[g.idx[j]] = j >= b - nt ? TEST : TRAIN;
  }
  rp_free(g.off);
  rp_free(g.idx);
  int rc = finish(ev, label, 1, train, test, rep, err);
  rp_free(label);
  return rc;
}

int rp_split_leave_last(const rp_events *ev, int32_t k, int32_t min_history, rp_events **train,
                        rp_events **test, rp_split_report *rep, rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (k < 1) return rp_errf(err, RP_EINVAL, "k must be a positive integer, got %d", k);
  if (min_history < 0)
    return rp_errf(err, RP_EINVAL, "min_history must be >= 0, got %d", min_history);
  return per_user_split(ev, 0, k, 0, min_history, train, test, rep, err);
}

int rp_split_per_user_time(const rp_events *ev, double test_fraction, int32_t min_history,
                           rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err) {
  SPLIT_BEGIN(ev, train, test);
  if (check_fraction(test_fraction, "test_fraction", err)) return err->status;
  if (min_history < 0)
    return rp_errf(err, RP_EINVAL, "min_history must be >= 0, got %d", min_history);
  return per_user_split(ev, 1, 0, test_fraction, min_history, train, test, rep, err);
}
