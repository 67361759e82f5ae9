/*
 * windows.c -- rp_mon_compare_windows: how a window of events differs from
 * a reference (the previous window, or the training data).  One pass over
 * each side counts events per user, per item, per event type and per
 * context value; every measure is then a function of those counts.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

void rp_mon_window_opts_init(rp_mon_window_opts *o) {
  o->item_bins = 100;
  o->context_bins = 50;
  o->epsilon = 1e-4;
}

int rp_mon_window_opts_check(const rp_mon_window_opts *o, rp_err *err) {
  if (o->item_bins < 2 || o->item_bins > 100000000)
    return rp_errf(err, RP_EINVAL, "monitor: 'item_bins' must be in 2..100000000, got %d",
                   o->item_bins);
  if (o->context_bins < 2 || o->context_bins > 100000000)
    return rp_errf(err, RP_EINVAL, "monitor: 'context_bins' must be in 2..100000000, got %d",
                   o->context_bins);
  if (!(o->epsilon > 0 && o->epsilon <= 0.1))
    return rp_errf(err, RP_EINVAL, "monitor: 'epsilon' must be in (0, 0.1], got %g", o->epsilon);
  return RP_OK;
}

/* The median of x[0..n) (n >= 1; x is reordered): the middle value, or the
 * mean of the two middle ones, as numpy's median.  Quickselect (Hoare
 * partition around the middle element's value), O(n) expected. */
static int64_t select_kth(int64_t *x, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t pivot = x[lo + (hi - lo) / 2], i = lo, j = hi;
    while (i <= j) {
      while (x[i] < pivot) i++;
      while (x[j] > pivot) j--;
      if (i <= j) {
        int64_t t = x[i];
        x[i++] = x[j];
        x[j--] = t;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return x[k];
  }
  return x[k];
}

static double median(int64_t *x, int64_t n) {
  int64_t hi = select_kth(x, n, n / 2);
  if (n % 2) return (double)hi;
  int64_t lo = x[0]; /* the largest of the lower half, which select left below n/2 */
  for (int64_t i = 1; i < n / 2; i++)
    if (x[i] > lo) lo = x[i];
  return 0.5 * ((double)lo + (double)hi);
}

/* Per-side counts. */
typedef struct counts {
  int64_t *user, *item; /* events per user / item index */
  int64_t *act;         /* counts of the active users (scratch for the median) */
  int64_t hist[64];     /* active users by floor(log2(events)) */
} counts;

static void count_side(const rp_events *ev, counts *c, rp_mon_side *s) {
  for (int64_t r = 0; r < ev->n; r++) {
    c->user[ev->user[r]]++;
    c->item[ev->item[r]]++;
  }
  int64_t nu = ev->users->n, ni = ev->items->n, k = 0;
  for (int64_t u = 0; u < nu; u++) {
    int64_t x = c->user[u];
    if (!x) continue;
    c->act[k++] = x;
    c->hist[63 - __builtin_clzll((unsigned long long)x)]++;
  }
  s->events = ev->n;
  s->users = k;
  s->items = 0;
  for (int64_t i = 0; i < ni; i++) s->items += c->item[i] > 0;
  s->activity_mean = k ? (double)ev->n / (double)k : (double)NAN;
  s->activity_median = k ? median(c->act, k) : (double)NAN;
}

/* Counts of codes col[0..n) (int16 when wide == 0, else int32) into cnt,
 * each code moved to remap[code] when remap is given. */
static void count_codes(const void *col, int wide, int64_t n, const int32_t *remap, int64_t *cnt) {
  for (int64_t r = 0; r < n; r++) {
    int32_t c = wide ? ((const int32_t *)col)[r] : ((const int16_t *)col)[r];
    cnt[remap ? remap[c] : c]++;
  }
}

/* The distance between two coded columns whose dictionaries may differ:
 * categories are a's codes, then b's names a lacks. */
static int coded_distance(const rp_events *a, const void *ca, const rp_idmap *da,
                          const rp_events *b, const void *cb, const rp_idmap *db, int wide,
                          int32_t bins, double eps, rp_mon_dist *out, rp_err *err) {
  int32_t na = da->n, nb = db->n, total = na;
  int32_t *remap = rp_malloc(((size_t)nb + 1) * sizeof *remap);
  if (!remap) return rp_enomem(err, "monitor");
  for (int32_t j = 0; j < nb; j++) {
    size_t len;
    const char *name = rp_idmap_id(db, j, &len);
    int32_t i = da == db ? j : rp_idmap_find(da, name, len);
    remap[j] = i >= 0 ? i : total++;
  }
  int64_t *c = rp_calloc(2 * ((size_t)total + 1), sizeof *c);
  if (!c) {
    rp_free(remap);
    return rp_enomem(err, "monitor");
  }
  count_codes(ca, wide, a->n, NULL, c);
  count_codes(cb, wide, b->n, remap, c + total + 1);
  int rc = rp_mon_distance(c, c + total + 1, total, bins, eps, out, err);
  rp_free(c);
  rp_free(remap);
  return rc;
}

static void put(rp_mon_windows *w, int measure, int column, double v) {
  w->values[w->nvalues++] = (rp_mon_value){measure, column, v};
}

static double rel_change(double b, double a) { return a > 0 ? b / a - 1 : (double)NAN; }

int rp_mon_compare_windows(const rp_events *a, const rp_events *b, const rp_mon_window_opts *o,
                           rp_mon_windows *out, rp_err *err) {
  memset(out, 0, sizeof *out);
  int rc = rp_mon_window_opts_check(o, err);
  if (rc) return rc;
  if (a->users != b->users || a->items != b->items)
    return rp_errf(err, RP_EINVAL,
                   "monitor: the two windows must share their user and item maps (windows of "
                   "one log do; read a second file with users = ev.users, items = ev.items)");
  size_t nu = (size_t)a->users->n, ni = (size_t)a->items->n;
  counts c[2];
  memset(c, 0, sizeof c);
  /* per side: events per user and per item; then one block of active
   * users' counts the two sides take turns with (a's median is done
   * before b is counted) */
  int64_t *mem = rp_calloc(2 * (nu + ni) + nu + 1, sizeof *mem);
  if (!mem) return rp_enomem(err, "monitor counts");
  for (int s = 0; s < 2; s++) {
    c[s].user = mem + (size_t)s * (nu + ni);
    c[s].item = c[s].user + nu;
    c[s].act = mem + 2 * (nu + ni);
  }
  count_side(a, &c[0], &out->side[0]);
  count_side(b, &c[1], &out->side[1]);
  rc =
      rp_mon_distance(c[0].item, c[1].item, (int32_t)ni, o->item_bins, o->epsilon, &out->item, err);
  if (!rc) rc = rp_mon_distance(c[0].hist, c[1].hist, 64, 0, o->epsilon, &out->activity, err);
  if (!rc && a->event && b->event) {
    out->has_event = 1;
    rc = coded_distance(a, a->event, a->event_names, b, b->event, b->event_names, 0, 0, o->epsilon,
                        &out->event, err);
  }
  for (int j = 0; j < b->ncontext && !rc; j++) {
    int i = rp_events_context_index(a, b->context_names[j]);
    if (i < 0) continue;
    int k = out->ncontext++;
    out->context_col[k] = j;
    rc = coded_distance(a, a->context[i], a->context_dicts[i], b, b->context[j],
                        b->context_dicts[j], 1, o->context_bins, o->epsilon, &out->context[k], err);
  }
  if (rc) {
    rp_free(mem);
    return rc;
  }
  /* new users and items: present in b, absent from a */
  int64_t nusers = 0, nuser_ev = 0, nitems = 0, nitem_ev = 0;
  for (size_t u = 0; u < nu; u++)
    if (c[1].user[u] && !c[0].user[u]) nusers++, nuser_ev += c[1].user[u];
  for (size_t i = 0; i < ni; i++)
    if (c[1].item[i] && !c[0].item[i]) nitems++, nitem_ev += c[1].item[i];
  const rp_mon_side *sa = &out->side[0], *sb = &out->side[1];
  double nan = (double)NAN;
  out->new_users = sb->users ? (double)nusers / (double)sb->users : nan;
  out->new_items = sb->items ? (double)nitems / (double)sb->items : nan;
  out->new_user_events = sb->events ? (double)nuser_ev / (double)sb->events : nan;
  out->new_item_events = sb->events ? (double)nitem_ev / (double)sb->events : nan;
  rp_free(mem);

  put(out, RP_MON_VOLUME, -1, rel_change((double)sb->events, (double)sa->events));
  put(out, RP_MON_ITEM_PSI, -1, out->item.psi);
  put(out, RP_MON_ITEM_TV, -1, out->item.tv);
  put(out, RP_MON_EVENT_PSI, -1, out->has_event ? out->event.psi : nan);
  put(out, RP_MON_EVENT_TV, -1, out->has_event ? out->event.tv : nan);
  for (int k = 0; k < out->ncontext; k++) {
    put(out, RP_MON_CONTEXT_PSI, out->context_col[k], out->context[k].psi);
    put(out, RP_MON_CONTEXT_TV, out->context_col[k], out->context[k].tv);
  }
  put(out, RP_MON_NEW_USERS, -1, out->new_users);
  put(out, RP_MON_NEW_ITEMS, -1, out->new_items);
  put(out, RP_MON_ACTIVITY_PSI, -1, out->activity.psi);
  put(out, RP_MON_ACTIVITY_MEAN, -1, rel_change(sb->activity_mean, sa->activity_mean));
  put(out, RP_MON_ACTIVITY_MEDIAN, -1, rel_change(sb->activity_median, sa->activity_median));
  return RP_OK;
}
