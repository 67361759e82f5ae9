/*
 * gen_world.c -- building the hidden world of a generated log: cluster
 * sizes, item popularity and releases, user activity and joins, the alias
 * tables items are drawn from, and the per-day drift of every cluster.
 */
#include <math.h>
#include <string.h>

#include "gen_world.h"

const char *const gen_devices[GEN_NDEVICES] = {"mobile", "desktop", "tablet"};
const char *const gen_countries[GEN_NCOUNTRIES] = {"US", "GB", "DE", "FR", "ES", "IT",
                                                   "NL", "PL", "SE", "BR", "IN", "JP"};
const double gen_country_weights[GEN_NCOUNTRIES] = {0.22, 0.12, 0.12, 0.10, 0.07, 0.07,
                                                    0.05, 0.05, 0.04, 0.06, 0.06, 0.04};

/* Traffic by hour of day (UTC) and by weekday (Monday first): a shop is
 * quiet at night and busiest in the evening, a little busier on Sundays. */
static const double hour_w[24] = {0.45, 0.30, 0.20, 0.15, 0.12, 0.15, 0.25, 0.45,
                                  0.65, 0.80, 0.90, 0.95, 1.00, 0.95, 0.90, 0.90,
                                  0.95, 1.00, 1.10, 1.25, 1.35, 1.30, 1.05, 0.70};
static const double wday_w[7] = {1.00, 0.97, 0.97, 0.98, 0.95, 0.92, 1.08};
#define HOUR_W_MAX 1.35
#define WDAY_W_MAX 1.08

void gen_rng(rp_rng *r, uint64_t seed, int tag, uint64_t index, uint64_t sub) {
  uint64_t stream = rp_hash64(((uint64_t)tag << 56) ^ index) + sub;
  rp_rng_seed(r, seed, stream);
}

/* Index drawn from weights w[0..n) (not normalised; total > 0). */
static int32_t draw_weighted(rp_rng *r, const double *w, int32_t n) {
  double total = 0;
  for (int32_t i = 0; i < n; i++) total += w[i];
  double x = rp_rng_uniform(r) * total;
  for (int32_t i = 0; i < n - 1; i++) {
    if (x < w[i]) return i;
    x -= w[i];
  }
  return n - 1;
}

void gen_shuffle(rp_rng *r, int32_t *a, int32_t n) {
  for (int32_t i = n - 1; i > 0; i--) {
    int32_t j = (int32_t)rp_rng_below(r, (uint64_t)i + 1), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* Vose's alias method over p[0..n) (not normalised): prob[k] is the chance
 * of keeping slot k, alias[k] the slot taken otherwise.  prob may be p (the
 * total is taken first).  work: 2n ints. */
static void build_alias(const double *p, int32_t n, double *prob, int32_t *alias, int32_t *work) {
  double total = 0;
  for (int32_t i = 0; i < n; i++) total += p[i];
  int32_t *small = work, *large = work + n;
  int32_t ns = 0, nl = 0;
  for (int32_t i = 0; i < n; i++) {
    prob[i] = p[i] * n / total;
    alias[i] = i;
    if (prob[i] < 1.0)
      small[ns++] = i;
    else
      large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    int32_t s = small[--ns], l = large[--nl];
    alias[s] = l;
    prob[l] = (prob[l] + prob[s]) - 1.0;
    if (prob[l] < 1.0)
      small[ns++] = l;
    else
      large[nl++] = l;
  }
  while (nl > 0) prob[large[--nl]] = 1.0;
  while (ns > 0) prob[small[--ns]] = 1.0; /* rounding leftovers */
}

void gen_world_free(gen_world *w) {
  if (!w) return;
  void *ptrs[] = {w->csize,     w->cmass,   w->anchor,  w->icluster, w->ipop,     w->irelease,
                  w->cstart,    w->members, w->aprob,   w->aalias,   w->uc1,      w->uc2,
                  w->uact,      w->ujoin,   w->uage,    w->udevice,  w->ucountry, w->ubudget,
                  w->drift,     w->gcdf,    w->traits,  w->s_tilt,   w->s_uc1,    w->s_uc2,
                  w->s_changed, w->s_ipop,  w->s_cmass, w->s_aprob,  w->s_gcdf,   w->s_aalias};
  for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) rp_free(ptrs[i]);
  memset(w, 0, sizeof *w);
}

static int alloc_all(gen_world *w) {
  size_t K = (size_t)w->K, ni = (size_t)w->ni, nu = (size_t)w->nu, nd = (size_t)w->ndays;
  int ok = 1;
  size_t dk = rp_mulsize(nd, K, &ok);
  if (!ok) return 0;
  w->csize = rp_malloc(K * sizeof(double));
  w->cmass = rp_calloc(K, sizeof(double));
  w->anchor = rp_malloc(K * sizeof(int32_t));
  w->icluster = rp_malloc(ni * sizeof(int32_t));
  w->ipop = rp_malloc(ni * sizeof(double));
  w->irelease = rp_malloc(ni * sizeof(uint32_t));
  w->cstart = rp_calloc(K + 1, sizeof(int32_t));
  w->members = rp_malloc(ni * sizeof(int32_t));
  w->aprob = rp_malloc(ni * sizeof(double));
  w->aalias = rp_malloc(ni * sizeof(int32_t));
  w->uc1 = rp_malloc(nu * sizeof(int32_t));
  w->uc2 = rp_malloc(nu * sizeof(int32_t));
  w->uact = rp_malloc(nu * sizeof(double));
  w->ujoin = rp_malloc(nu * sizeof(uint32_t));
  w->uage = rp_malloc(nu);
  w->udevice = rp_malloc(nu);
  w->ucountry = rp_malloc(nu);
  w->ubudget = rp_malloc(nu * sizeof(int64_t));
  w->drift = rp_malloc(rp_mulsize(dk, sizeof(double), &ok));
  w->gcdf = rp_malloc(rp_mulsize(dk, sizeof(double), &ok));
  w->traits = rp_malloc(K * sizeof(gen_traits));
  return ok && w->csize && w->cmass && w->anchor && w->icluster && w->ipop && w->irelease &&
         w->cstart && w->members && w->aprob && w->aalias && w->uc1 && w->uc2 && w->uact &&
         w->ujoin && w->uage && w->udevice && w->ucountry && w->ubudget && w->drift && w->gcdf &&
         w->traits;
}

/* Cluster sizes (log-normal, so some tastes are niche) and drift waves: the
 * popularity of cluster c on day d is exp(drift * sin(2 pi d / P_c + phi_c))
 * with a period P_c of 0.75 to 2.5 times the log's length (at least 30
 * days), so shares rise and fall slowly over months. */
static void build_clusters(gen_world *w) {
  const rp_gen_opts *o = w->o;
  rp_rng r;
  gen_rng(&r, o->seed, GEN_S_WORLD, 0, 0);
  for (int32_t c = 0; c < w->K; c++) w->csize[c] = exp(0.5 * rp_rng_normal(&r));
  double span = w->ndays < 30 ? 30.0 : (double)w->ndays;
  for (int32_t c = 0; c < w->K; c++) {
    double period = span * (0.75 + 1.75 * rp_rng_uniform(&r));
    double phase = 6.283185307179586 * rp_rng_uniform(&r);
    for (int32_t d = 0; d < w->ndays; d++)
      w->drift[(size_t)d * w->K + c] = exp(o->drift * sin(6.283185307179586 * d / period + phase));
  }
  w->wmax = exp(o->drift) * HOUR_W_MAX * WDAY_W_MAX;
  for (int32_t c = 0; c < w->K; c++) gen_cluster_traits(o, c, &w->traits[c]);
}

/* Items: a cluster drawn by cluster size (the first K items of a shuffled
 * order seed every cluster, so none is empty), a release time for a share
 * new_items of them, and a popularity rank within the cluster (a random
 * order): weight rank^-popularity.  Ranking within clusters keeps one
 * global hit from taking most of its cluster's views; the catalogue as a
 * whole is still Zipf-like (K items share each rank).  The rank-1 item of
 * each cluster is its anchor, always released at 0, so a draw from any
 * cluster at any time has an item to return. */
static void build_items(gen_world *w, int32_t *work) {
  const rp_gen_opts *o = w->o;
  int32_t ni = w->ni, K = w->K;
  rp_rng r;
  gen_rng(&r, o->seed, GEN_S_WORLD, 1, 0);
  int32_t *perm = work; /* ni */
  for (int32_t i = 0; i < ni; i++) perm[i] = i;
  gen_shuffle(&r, perm, ni);
  for (int32_t i = 0; i < ni; i++) w->icluster[i] = -1;
  for (int32_t c = 0; c < K; c++) w->icluster[perm[c]] = c;
  for (int32_t i = 0; i < ni; i++) {
    rp_rng ri;
    gen_rng(&ri, o->seed, GEN_S_ITEM, (uint64_t)i, 0);
    int32_t c = draw_weighted(&ri, w->csize, K);
    if (w->icluster[i] < 0) w->icluster[i] = c;
    double u = rp_rng_uniform(&ri), when = rp_rng_uniform(&ri);
    w->irelease[i] = u < o->new_items ? (uint32_t)((0.05 + 0.85 * when) * (double)w->T) : 0;
  }
  /* group by cluster, rank within it, build the alias tables */
  for (int32_t i = 0; i < ni; i++) w->cstart[w->icluster[i] + 1]++;
  for (int32_t c = 0; c < K; c++) w->cstart[c + 1] += w->cstart[c];
  int32_t *fill = work; /* K, reuses perm */
  for (int32_t c = 0; c < K; c++) fill[c] = w->cstart[c];
  for (int32_t i = 0; i < ni; i++) w->members[fill[w->icluster[i]]++] = i;
  double *p = w->aprob; /* popularity of members, then overwritten by alias probs */
  for (int32_t c = 0; c < K; c++) {
    int32_t a = w->cstart[c], n = w->cstart[c + 1] - a;
    gen_shuffle(&r, w->members + a, n); /* members[a + k] has rank k + 1 */
    for (int32_t k = 0; k < n; k++) {
      int32_t it = w->members[a + k];
      w->ipop[it] = pow((double)(k + 1), -o->popularity);
      w->cmass[c] += w->ipop[it];
      p[a + k] = w->ipop[it];
    }
    w->anchor[c] = w->members[a];
    w->irelease[w->anchor[c]] = 0;
    build_alias(p + a, n, p + a, w->aalias + a, work);
  }
}

/* Users: a main cluster drawn by cluster size, a different second one, an
 * age (the cluster has a typical age), a preferred device (younger users
 * lean to mobile), a country (each cluster has a home country that is three
 * times likelier), a log-normal activity and a join time for a share
 * new_users of them. */
static void build_users(gen_world *w) {
  const rp_gen_opts *o = w->o;
  for (int32_t u = 0; u < w->nu; u++) {
    rp_rng r;
    gen_rng(&r, o->seed, GEN_S_USER, (uint64_t)u, 0);
    int32_t c1 = draw_weighted(&r, w->csize, w->K);
    int32_t c2 = c1;
    if (w->K > 1) c2 = (c1 + 1 + (int32_t)rp_rng_below(&r, (uint64_t)w->K - 1)) % w->K;
    w->uc1[u] = c1;
    w->uc2[u] = c2;
    w->uact[u] = exp(o->activity * rp_rng_normal(&r));
    double jn = rp_rng_uniform(&r), when = rp_rng_uniform(&r);
    w->ujoin[u] = jn < o->new_users ? (uint32_t)(0.9 * when * (double)w->T) : 0;
    const gen_traits tr = w->traits[c1];
    double age = tr.age_mean + 8 * rp_rng_normal(&r);
    if (age < 16) age = 16;
    if (age > 85) age = 85;
    w->uage[u] = (uint8_t)lround(age);
    double pm = 0.75 - 0.008 * (age - 16); /* mobile share falls with age */
    double dw[GEN_NDEVICES] = {pm, (1 - pm) * 0.72, (1 - pm) * 0.28};
    w->udevice[u] = (uint8_t)draw_weighted(&r, dw, GEN_NDEVICES);
    double cw[GEN_NCOUNTRIES];
    for (int32_t k = 0; k < GEN_NCOUNTRIES; k++)
      cw[k] = gen_country_weights[k] * (k == tr.home ? 3.0 : 1.0);
    w->ucountry[u] = (uint8_t)draw_weighted(&r, cw, GEN_NCOUNTRIES);
  }
}

/* Splits o->events over users by activity times active share of the period,
 * systematically (cumulative rounding), so the budgets add up exactly; when
 * there are at least as many events as users, each user gets one first. */
static void build_budgets(gen_world *w) {
  int64_t E = w->o->events, nu = w->nu;
  int64_t base = E >= nu ? 1 : 0, rest = E - base * nu;
  double total = 0;
  for (int32_t u = 0; u < w->nu; u++)
    total += w->uact[u] * (double)(w->T - w->ujoin[u]) / (double)w->T;
  double cum = 0;
  int64_t prev = 0;
  for (int32_t u = 0; u < w->nu; u++) {
    cum += w->uact[u] * (double)(w->T - w->ujoin[u]) / (double)w->T;
    int64_t upto = u == w->nu - 1 ? rest : (int64_t)floor((double)rest * (cum / total));
    if (upto > rest) upto = rest;
    if (upto < prev) upto = prev;
    w->ubudget[u] = base + (upto - prev);
    prev = upto;
  }
}

/* Per-day cumulative mass over clusters for draws from the whole
 * catalogue into gcdf: cluster c weighs its popularity mass cmass[c] times
 * its drift (times tilt[c] when tilt is given: the taste shift). */
static void build_gcdf(gen_world *w, const double *cmass, const double *tilt, double *gcdf) {
  for (int32_t d = 0; d < w->ndays; d++) {
    double acc = 0;
    for (int32_t c = 0; c < w->K; c++) {
      acc += cmass[c] * (tilt ? tilt[c] : 1.0) * w->drift[(size_t)d * w->K + c];
      gcdf[(size_t)d * w->K + c] = acc;
    }
  }
}

/* The taste shift.  Cluster c's weight is multiplied by exp(tilt z_c);
 * in each cluster every item is picked with probability shift_items and
 * the picked ones swap popularity weights by a random permutation (their
 * alias table is rebuilt); each user, with probability shift_users, gets a
 * new main cluster drawn from the tilted sizes among the clusters other
 * than the old one, and a new second cluster (any other).  World-level
 * draws come from stream (SHIFT, 0), a user's from (SHIFT, 1 + u). */
static int build_shift(gen_world *w, int32_t *work) {
  const rp_gen_opts *o = w->o;
  size_t K = (size_t)w->K, ni = (size_t)w->ni, nu = (size_t)w->nu;
  int ok = 1;
  size_t dk = rp_mulsize((size_t)w->ndays, K, &ok);
  w->s_tilt = rp_malloc(K * sizeof(double));
  w->s_cmass = rp_calloc(K, sizeof(double));
  w->s_ipop = rp_malloc(ni * sizeof(double));
  w->s_aprob = rp_malloc(ni * sizeof(double));
  w->s_aalias = rp_malloc(ni * sizeof(int32_t));
  w->s_uc1 = rp_malloc(nu * sizeof(int32_t));
  w->s_uc2 = rp_malloc(nu * sizeof(int32_t));
  w->s_changed = rp_calloc(nu, 1);
  w->s_gcdf = rp_malloc(rp_mulsize(dk, sizeof(double), &ok));
  double *weights = rp_malloc(K * sizeof(double));
  if (!ok || !w->s_tilt || !w->s_cmass || !w->s_ipop || !w->s_aprob || !w->s_aalias || !w->s_uc1 ||
      !w->s_uc2 || !w->s_changed || !w->s_gcdf || !weights) {
    rp_free(weights);
    return 0;
  }
  w->has_shift = 1;
  w->sat = (uint32_t)(o->shift_at - o->start);
  rp_rng r;
  gen_rng(&r, o->seed, GEN_S_SHIFT, 0, 0);
  for (size_t c = 0; c < K; c++) w->s_tilt[c] = exp(o->shift_tilt * rp_rng_normal(&r));
  memcpy(w->s_ipop, w->ipop, ni * sizeof(double));
  for (int32_t c = 0; c < w->K; c++) {
    int32_t a = w->cstart[c], n = w->cstart[c + 1] - a, m = 0;
    int32_t *pick = work + w->ni; /* positions within the cluster */
    for (int32_t k = 0; k < n; k++)
      if (rp_rng_uniform(&r) < o->shift_items) pick[m++] = k;
    for (int32_t j = 0; j < m; j++) work[j] = pick[j];
    gen_shuffle(&r, work, m); /* position pick[j] takes the weight of work[j] */
    for (int32_t j = 0; j < m; j++)
      w->s_ipop[w->members[a + pick[j]]] = w->ipop[w->members[a + work[j]]];
    for (int32_t k = 0; k < n; k++) {
      w->s_aprob[a + k] = w->s_ipop[w->members[a + k]];
      w->s_cmass[c] += w->s_aprob[a + k];
    }
    build_alias(w->s_aprob + a, n, w->s_aprob + a, w->s_aalias + a, work);
  }
  for (int32_t u = 0; u < w->nu; u++) {
    w->s_uc1[u] = w->uc1[u];
    w->s_uc2[u] = w->uc2[u];
    rp_rng ru;
    gen_rng(&ru, o->seed, GEN_S_SHIFT, 1 + (uint64_t)u, 0);
    if (w->K < 2 || !(rp_rng_uniform(&ru) < o->shift_users)) continue;
    for (int32_t c = 0; c < w->K; c++)
      weights[c] = c == w->uc1[u] ? 0.0 : w->csize[c] * w->s_tilt[c];
    int32_t c1 = draw_weighted(&ru, weights, w->K);
    w->s_uc1[u] = c1;
    w->s_uc2[u] = (c1 + 1 + (int32_t)rp_rng_below(&ru, (uint64_t)w->K - 1)) % w->K;
    w->s_changed[u] = 1;
  }
  build_gcdf(w, w->s_cmass, w->s_tilt, w->s_gcdf);
  rp_free(weights);
  return 1;
}

int gen_world_build(gen_world *w, const rp_gen_opts *o, rp_err *err) {
  memset(w, 0, sizeof *w);
  w->o = o;
  w->nu = o->users;
  w->ni = o->items;
  w->K = o->clusters > 0 ? o->clusters : (o->items < 16 ? o->items : 16);
  w->ndays = o->days;
  w->T = (int64_t)o->days * 86400;
  int32_t *work = NULL;
  if (!alloc_all(w)) goto nomem;
  work = rp_malloc(2 * (size_t)(w->ni > w->K ? w->ni : w->K) * sizeof(int32_t));
  if (!work) goto nomem;
  build_clusters(w);
  build_items(w, work);
  build_users(w);
  build_budgets(w);
  build_gcdf(w, w->cmass, NULL, w->gcdf);
  if (o->shift_at >= 0 && !build_shift(w, work)) goto nomem;
  rp_free(work);
  return RP_OK;
nomem:
  rp_free(work);
  gen_world_free(w);
  return rp_enomem(err, "generator world");
}

double gen_time_weight(const gen_world *w, int32_t c, uint32_t t) {
  int64_t abs = w->o->start + (int64_t)t;
  int32_t d = (int32_t)(t / 86400);
  if (d >= w->ndays) d = w->ndays - 1;
  int hour = (int)((abs % 86400) / 3600);
  int wday = (int)((abs / 86400 + 3) % 7); /* 1970-01-01 was a Thursday */
  return w->drift[(size_t)d * w->K + c] * hour_w[hour] * wday_w[wday];
}

int32_t gen_draw_item(const gen_world *w, rp_rng *r, int32_t c, uint32_t t, int uniform) {
  int32_t a = w->cstart[c], n = w->cstart[c + 1] - a;
  int after = w->has_shift && t >= w->sat;
  const double *aprob = after ? w->s_aprob : w->aprob;
  const int32_t *aalias = after ? w->s_aalias : w->aalias;
  for (int tries = 0; tries < 32; tries++) {
    double x = rp_rng_uniform(r) * n;
    int32_t k = (int32_t)x;
    if (k >= n) k = n - 1;
    if (!uniform && x - k >= aprob[a + k]) k = aalias[a + k];
    int32_t it = w->members[a + k];
    if (w->irelease[it] <= t) return it;
  }
  return w->anchor[c];
}

int32_t gen_draw_cluster(const gen_world *w, rp_rng *r, uint32_t t) {
  int32_t d = (int32_t)(t / 86400);
  if (d >= w->ndays) d = w->ndays - 1;
  const double *cdf = (w->has_shift && t >= w->sat ? w->s_gcdf : w->gcdf) + (size_t)d * w->K;
  double x = rp_rng_uniform(r) * cdf[w->K - 1];
  int32_t lo = 0, hi = w->K - 1;
  while (lo < hi) {
    int32_t mid = (lo + hi) / 2;
    if (cdf[mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

char *gen_put_uint(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

char *gen_put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}
