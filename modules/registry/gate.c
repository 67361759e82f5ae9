/*
 * gate.c -- the promotion gate's options and rule (registry.h).
 */
#include "reg_impl.h"

#include <stdio.h>
#include <string.h>

#include "metrics.h"

void rp_gate_opts_init(rp_gate_opts *o) {
  memset(o, 0, sizeof *o);
  o->metric = "ndcg";
  o->k = 10;
  o->tolerance = 0.0;
  o->bootstrap = 1000;
  o->level = 0.95;
  o->seed = 42;
  o->window_days = 7;
  o->min_users = 20;
}

static int lower_is_better(int m) { return m == RP_M_RMSE || m == RP_M_MAE; }

int rp_gate_opts_check(const rp_gate_opts *o, rp_err *err) {
  int m = o->metric ? rp_metrics_id(o->metric) : -1;
  if (m < 0 || m == RP_M_COVERAGE || m == RP_M_GINI)
    return rp_errf(err, RP_EINVAL,
                   "gate: metric must be a per-user metric (ndcg, map, precision, recall, "
                   "hit_rate, mrr, auc, ...), got '%s'",
                   o->metric ? o->metric : "");
  if (o->k < 1 || o->k > 100000)
    return rp_errf(err, RP_EINVAL, "gate: k must be in 1..100000, got %d", o->k);
  if (!(o->tolerance >= 0) || o->tolerance > 1e9)
    return rp_errf(err, RP_EINVAL, "gate: tolerance must be >= 0, got %g", o->tolerance);
  if (o->bootstrap < 10 || o->bootstrap > 1000000)
    return rp_errf(err, RP_EINVAL, "gate: bootstrap must be in 10..1000000, got %d", o->bootstrap);
  if (!(o->level > 0 && o->level < 1))
    return rp_errf(err, RP_EINVAL, "gate: level must be in (0, 1), got %g", o->level);
  if (!(o->window_days > 0) || o->window_days > 36500)
    return rp_errf(err, RP_EINVAL, "gate: window_days must be in (0, 36500], got %g",
                   o->window_days);
  if (o->min_users < 1)
    return rp_errf(err, RP_EINVAL, "gate: min_users must be >= 1, got %d", o->min_users);
  return RP_OK;
}

int rp_gate_decide(const rp_gate_opts *o, double diff, double lo, double hi, int32_t users,
                   int *accept, char *reason, size_t reason_size, rp_err *err) {
  if (rp_gate_opts_check(o, err)) return err->status;
  int m = rp_metrics_id(o->metric);
  *accept = 0;
  if (users < o->min_users) {
    snprintf(reason, reason_size, "refused: only %d users to compare on (min_users %d)", users,
             o->min_users);
    return RP_OK;
  }
  if (isnan(diff) || isnan(lo) || isnan(hi)) {
    snprintf(reason, reason_size, "refused: %s@%d is undefined on the window", o->metric, o->k);
    return RP_OK;
  }
  int worse = lower_is_better(m) ? lo > o->tolerance : hi < -o->tolerance;
  *accept = !worse;
  snprintf(reason, reason_size, "%s: %s@%d candidate - live = %+.4f [%+.4f, %+.4f] on %d users, %s",
           worse ? "refused" : "accepted", o->metric, o->k, diff, lo, hi, users,
           worse
               ? (lower_is_better(m) ? "entirely above the tolerance" : "entirely below -tolerance")
               : "not worse beyond the tolerance");
  return RP_OK;
}
