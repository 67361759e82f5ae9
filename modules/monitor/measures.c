/*
 * measures.c -- the table of monitor measures (name, direction, default
 * threshold, range), thresholds and alerts, and the distance between two
 * count vectors (PSI and total variation) every comparison uses.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

#define OFF ((double)NAN)

/* Defaults are calibrated on generated shop logs (README, "Drift checks";
 * tests/bench/RESULTS.md, monitor): weekly windows of a few tens of
 * thousands of events stay well below them from week to week, and a taste
 * shift crosses them in the first week after it. */
static const rp_mon_measure_info measures[RP_MON_N] = {
    {"volume", RP_MON_WINDOWS, RP_MON_ABS, 0.5, 0, 1e9,
     "relative change in the number of events, N_b / N_a - 1"},
    {"item_psi", RP_MON_WINDOWS, RP_MON_ABOVE, 0.25, 0, 1e9,
     "PSI of item popularity (item_bins bins: the most popular items, then the rest)"},
    {"item_tv", RP_MON_WINDOWS, RP_MON_ABOVE, 0.15, 0, 1,
     "total-variation distance of item popularity over the same bins"},
    {"event_psi", RP_MON_WINDOWS, RP_MON_ABOVE, 0.1, 0, 1e9, "PSI of the event-type mix"},
    {"event_tv", RP_MON_WINDOWS, RP_MON_ABOVE, 0.05, 0, 1,
     "total-variation distance of the event-type mix"},
    {"context_psi", RP_MON_WINDOWS, RP_MON_ABOVE, 0.1, 0, 1e9,
     "PSI of a context column's values (each column)"},
    {"context_tv", RP_MON_WINDOWS, RP_MON_ABOVE, 0.15, 0, 1,
     "total-variation distance of a context column's values (each column)"},
    {"new_users", RP_MON_WINDOWS, RP_MON_ABOVE, 0.5, 0, 1,
     "share of the current window's users without an event in the reference"},
    {"new_items", RP_MON_WINDOWS, RP_MON_ABOVE, 0.2, 0, 1,
     "share of the current window's items without an event in the reference"},
    {"activity_psi", RP_MON_WINDOWS, RP_MON_ABOVE, 0.1, 0, 1e9,
     "PSI of events per active user, binned by powers of two"},
    {"activity_mean", RP_MON_WINDOWS, RP_MON_ABS, 0.25, 0, 1e9,
     "relative change of the mean events per active user"},
    {"activity_median", RP_MON_WINDOWS, RP_MON_ABS, 0.5, 0, 1e9,
     "relative change of the median events per active user"},
    {"coverage", RP_MON_LISTS, RP_MON_ABS, 0.25, 0, 1e9,
     "relative change of catalogue coverage, coverage_b / coverage_a - 1"},
    {"gini", RP_MON_LISTS, RP_MON_ABS, 0.1, 0, 1, "change of the Gini index of exposure, b - a"},
    {"jaccard", RP_MON_LISTS, RP_MON_BELOW, 0.2, 0, 1,
     "mean Jaccard overlap of a user's two lists"},
    {"rbo", RP_MON_LISTS, RP_MON_BELOW, 0.3, 0, 1,
     "mean rank-biased overlap of a user's two lists (extrapolated, persistence rbo_p)"},
    {"score_psi", RP_MON_LISTS, RP_MON_ABOVE, 0.25, 0, 1e9,
     "PSI of the scores over the reference's score deciles"},
    {"ctr", RP_MON_SERVING, RP_MON_BELOW, OFF, 0, 1,
     "share of impressions with a click on a served item within the horizon"},
    {"conversion", RP_MON_SERVING, RP_MON_BELOW, OFF, 0, 1,
     "share of impressions with a conversion of a served item within the horizon"},
    {"hit_rate", RP_MON_SERVING, RP_MON_BELOW, OFF, 0, 1,
     "share of impressions whose user had any event on a served item within the horizon"},
    {"ctr_drop", RP_MON_SERVING, RP_MON_ABOVE, 0.25, 0, 1e9,
     "relative drop of click-through against the reference, 1 - ctr_b / ctr_a"},
    {"conversion_drop", RP_MON_SERVING, RP_MON_ABOVE, 0.25, 0, 1e9,
     "relative drop of conversion against the reference"},
    {"hit_rate_drop", RP_MON_SERVING, RP_MON_ABOVE, 0.25, 0, 1e9,
     "relative drop of the hit rate against the reference"},
};

const rp_mon_measure_info *rp_mon_measure(int id) {
  return id >= 0 && id < RP_MON_N ? &measures[id] : NULL;
}

int rp_mon_measure_id(const char *name) {
  for (int i = 0; i < RP_MON_N; i++)
    if (strcmp(measures[i].name, name) == 0) return i;
  return -1;
}

const char *rp_mon_direction_name(int direction) {
  static const char *const names[] = {"above", "below", "abs"};
  return direction >= 0 && direction < 3 ? names[direction] : "?";
}

void rp_mon_thresholds_init(rp_mon_thresholds *t) {
  for (int i = 0; i < RP_MON_N; i++) t->t[i] = measures[i].def;
}

int rp_mon_threshold_set(rp_mon_thresholds *t, const char *name, double v, rp_err *err) {
  int id = rp_mon_measure_id(name);
  if (id < 0) {
    char known[1024];
    size_t n = 0;
    known[0] = 0;
    for (int i = 0; i < RP_MON_N && n < sizeof known; i++)
      n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", measures[i].name);
    return rp_errf(err, RP_EINVAL, "monitor: unknown measure '%s' (known: %s)", name, known);
  }
  const rp_mon_measure_info *m = &measures[id];
  if (!isnan(v) && !(v >= m->lo && v <= m->hi))
    return rp_errf(err, RP_EINVAL, "monitor: the threshold of '%s' must be in [%g, %g], got %g",
                   name, m->lo, m->hi, v);
  t->t[id] = v;
  return RP_OK;
}

int rp_mon_alerts(const rp_mon_value *v, int n, const rp_mon_thresholds *t, rp_mon_alert *out) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    int id = v[i].measure;
    if (id < 0 || id >= RP_MON_N) continue;
    double x = v[i].value, th = t->t[id];
    if (isnan(x) || isnan(th)) continue;
    int dir = measures[id].direction;
    int fires = dir == RP_MON_ABOVE ? x > th : dir == RP_MON_BELOW ? x < th : fabs(x) > th;
    if (fires) out[k++] = (rp_mon_alert){id, v[i].column, x, th};
  }
  return k;
}

void rp_mon_alert_text(const rp_mon_alert *a, const char *column, char *buf, size_t n) {
  const rp_mon_measure_info *m = rp_mon_measure(a->measure);
  if (!m) {
    snprintf(buf, n, "?");
    return;
  }
  char name[160];
  if (column)
    snprintf(name, sizeof name, "%s[%.64s]", m->name, column);
  else
    snprintf(name, sizeof name, "%s", m->name);
  if (m->direction == RP_MON_ABS)
    snprintf(buf, n, "%s %.4g: |change| > %.4g", name, a->value, a->threshold);
  else
    snprintf(buf, n, "%s %.4g %s %.4g", name, a->value, m->direction == RP_MON_ABOVE ? ">" : "<",
             a->threshold);
}

/* ---- PSI and total variation ------------------------------------------------------ */
typedef struct ranked {
  int64_t sum;
  int32_t idx;
} ranked;

static int by_sum_desc(const void *x, const void *y) {
  const ranked *a = x, *b = y;
  if (a->sum != b->sum) return a->sum > b->sum ? -1 : 1;
  return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The PSI and TV terms of one bin with counts ca, cb of totals na, nb. */
static void add_bin(double ca, double cb, double na, double nb, double eps, double *psi,
                    double *tv) {
  double p = ca / na, q = cb / nb;
  *tv += fabs(q - p);
  double pf = p > eps ? p : eps, qf = q > eps ? q : eps;
  *psi += (qf - pf) * log(qf / pf);
}

int rp_mon_distance(const int64_t *a, const int64_t *b, int32_t n, int32_t bins, double epsilon,
                    rp_mon_dist *out, rp_err *err) {
  memset(out, 0, sizeof *out);
  int64_t na = 0, nb = 0, m = 0;
  for (int32_t i = 0; i < n; i++) {
    na += a[i], nb += b[i];
    m += a[i] + b[i] > 0;
  }
  out->na = na, out->nb = nb;
  out->psi = out->tv = (double)NAN;
  if (na == 0 || nb == 0) {
    out->bins = (int32_t)m;
    return RP_OK;
  }
  double psi = 0, tv = 0, dna = (double)na, dnb = (double)nb;
  if (bins <= 0 || m <= bins) {
    for (int32_t i = 0; i < n; i++)
      if (a[i] + b[i] > 0) add_bin((double)a[i], (double)b[i], dna, dnb, epsilon, &psi, &tv);
    out->bins = (int32_t)m;
  } else {
    ranked *r = rp_malloc((size_t)m * sizeof *r);
    if (!r) return rp_enomem(err, "monitor bins");
    int64_t j = 0;
    for (int32_t i = 0; i < n; i++)
      if (a[i] + b[i] > 0) r[j++] = (ranked){a[i] + b[i], i};
    qsort(r, (size_t)m, sizeof *r, by_sum_desc);
    int64_t oa = na, ob = nb; /* what falls in "other" */
    for (int32_t k = 0; k < bins - 1; k++) {
      int32_t i = r[k].idx;
      add_bin((double)a[i], (double)b[i], dna, dnb, epsilon, &psi, &tv);
      oa -= a[i], ob -= b[i];
    }
    add_bin((double)oa, (double)ob, dna, dnb, epsilon, &psi, &tv);
    out->bins = bins;
    rp_free(r);
  }
  out->psi = psi;
  out->tv = 0.5 * tv;
  return RP_OK;
}
