/*
 * validate.c -- the metric behind early stopping (rp_als_hooks.test).
 *
 * Ranking metrics at k over the users with a non-empty test row, each
 * user's training items excluded from the ranking, with the definitions of
 * the evaluation module (issue #4) and of implicit's ranking_metrics_at_k:
 *   ndcg      mean of DCG / IDCG, gain 1/log2(rank + 1), IDCG over
 *             min(k, |T|) hits
 *   map       mean of (sum over hits of precision at the hit) / min(k, |T|)
 *   precision pooled: total hits / sum of min(k, |T|)
 * For explicit models, the RMSE on the test values.
 */
#include <math.h>
#include <string.h>

#include "als_impl.h"

static int in_row(const rp_csr *t, int32_t u, int32_t item) {
  int64_t lo = t->indptr[u], hi = t->indptr[u + 1];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (t->indices[mid] < item)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < t->indptr[u + 1] && t->indices[lo] == item;
}

int rp_als_validate_metric(const rp_als_model *m, const rp_csr *train, const rp_csr *test,
                           int32_t k, int metric, int threads, double *out, rp_err *err) {
  if (metric == RP_ALS_METRIC_RMSE) return rp_als_loss(m, test, threads, out, err);
  int32_t n = 0;
  for (int32_t u = 0; u < test->nrows; u++)
    if (rp_csr_rowlen(test, u) > 0) n++;
  *out = 0;
  if (n == 0) return RP_OK;
  int32_t *users = rp_malloc(sizeof(int32_t) * (size_t)n);
  int32_t *items = rp_malloc(sizeof(int32_t) * (size_t)n * (size_t)k);
  float *scores = rp_malloc(sizeof(float) * (size_t)n * (size_t)k);
  int32_t *cnt = rp_malloc(sizeof(int32_t) * (size_t)n);
  int rc = RP_OK;
  if (!users || !items || !scores || !cnt) {
    rc = rp_enomem(err, "validation");
    goto done;
  }
  n = 0;
  for (int32_t u = 0; u < test->nrows; u++)
    if (rp_csr_rowlen(test, u) > 0) users[n++] = u;
  rc = rp_als_recommend_batch(m, users, n, k, train, threads, items, scores, cnt, err);
  if (rc) goto done;
  double sum = 0, hits_all = 0, div_all = 0;
  for (int32_t a = 0; a < n; a++) {
    int32_t u = users[a];
    int64_t T = rp_csr_rowlen(test, u);
    double lim = (double)(T < k ? T : k), dcg = 0, idcg = 0, ap = 0;
    int32_t hits = 0;
    for (int32_t r = 0; r < cnt[a]; r++) {
      if (!in_row(test, u, items[(int64_t)a * k + r])) continue;
      hits++;
      dcg += 1.0 / log2(r + 2.0);
      ap += (double)hits / (r + 1.0);
    }
    for (int32_t r = 0; r < (int32_t)lim; r++) idcg += 1.0 / log2(r + 2.0);
    if (metric == RP_ALS_METRIC_NDCG) sum += dcg / idcg;
    if (metric == RP_ALS_METRIC_MAP) sum += ap / lim;
    hits_all += hits;
    div_all += lim;
  }
  *out = metric == RP_ALS_METRIC_PRECISION ? hits_all / div_all : sum / n;
done:
  rp_free(users);
  rp_free(items);
  rp_free(scores);
  rp_free(cnt);
  return rc;
}
