/*
 * validate.c -- the metric behind early stopping (rp_als_hooks.test): the
 * evaluation module's own computation (rp_metrics_score), so a validation
 * figure is the figure rp.metrics.evaluate reports for the same model.
 */
#include "als_impl.h"
#include "metrics.h"

int rp_als_validate_metric(const rp_als_model *m, const rp_csr *train, const rp_csr *test,
                           int32_t k, int metric, int threads, double *out, rp_err *err) {
  return rp_metrics_score(&m->rec, train, test, k, metric, threads, out, err);
}

int rp_als_metric_lower_is_better(int metric) { return metric == RP_M_RMSE || metric == RP_M_MAE; }

int rp_als_metric_check(int metric, int implicit, rp_err *err) {
  const char *name = rp_metrics_name(metric);
  if (!name || metric == RP_M_COVERAGE || metric == RP_M_GINI || metric == RP_M_NOVELTY)
    return rp_errf(err, RP_EINVAL, "validation metric %d cannot drive early stopping", metric);
  if (implicit && rp_als_metric_lower_is_better(metric))
    return rp_errf(err, RP_EINVAL, "validation metric '%s' does not fit implicit ALS", name);
  return RP_OK;
}

#define H rp_als_hooks
const rp_optdesc rp_als_validation_optdesc[] = {
    RP_OPT_X("test", "a Matrix on the training matrix's id maps"),
    RP_OPT_I(H, k, "k", 10, 1, 1 << 20),
    RP_OPT_X("metric", "a metric name (default ndcg; rmse for explicit models)"),
    RP_OPT_I(H, patience, "patience", 3, 1, 1000000), RP_OPT_END};
#undef H

const char *rp_als_default_metric(int implicit) { return implicit ? "ndcg" : "rmse"; }
