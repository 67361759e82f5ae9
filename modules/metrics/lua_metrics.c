/*
 * lua_metrics.c -- `recpipe.metrics` binding: runs an evaluation (through a
 * recommender's C interface, or from lists a Lua recommender produced) into
 * a `recpipe.Evaluation` holding every per-user value in C memory, and
 * reads it back: means, curves, bootstrap intervals, paired comparisons,
 * histograms, popularity profile.  `rp.metrics.evaluate` and `compare`
 * (metrics_ext.lua) assemble the report tables from these.
 */
#include <string.h>

#include "metrics.h"
#include "rpl.h"

#define RP_EVAL_T "recpipe.Evaluation"

static void eval_destroy(void *r) { rp_metrics_result_free(r); }
static const rpL_class eval_class = {RP_EVAL_T, eval_destroy, NULL};

static rp_metrics_result *checkeval(lua_State *L, int idx) {
  return rpL_checkobj(L, idx, RP_EVAL_T);
}

static int checkmetric(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int m = rp_metrics_id(name);
  if (m < 0) luaL_argerror(L, idx, lua_pushfstring(L, "unknown metric '%s'", name));
  return m;
}

/* the evaluation options of _run, _users and _from_lists: evaluate's
 * (rp_metrics_eval_optdesc), as _check resolved them */
static void readopts(lua_State *L, int idx, rp_metrics_opts *o) {
  rp_metrics_eval_opts e;
  memset(&e, 0, sizeof e);
  rpL_readopts(L, idx, rp_metrics_eval_optdesc, &e);
  *o = e.base;
}

/* An empty Evaluation box remembering the test matrix's user map. */
static void **newevalbox(lua_State *L, const rp_csr *test) {
  void **slot = rpL_newbox(L, RP_EVAL_T);
  if (test->rowmap) {
    rpL_pushidmap(L, test->rowmap);
    lua_setiuservalue(L, -2, 1);
  }
  return slot;
}

/* _check(opts) -> resolved: raises naming the field when an option of
 * evaluate is unknown or out of range (before any work); returns every
 * option's value, defaults filled in (bootstrap: false or absent = none). */
static int metrics_check(lua_State *L) {
  lua_settop(L, 1);
  rp_metrics_eval_opts e;
  memset(&e, 0, sizeof e);
  int nobs = rpL_getopt(L, 1, "bootstrap") == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (nobs) { /* bootstrap = false: a copy without it */
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, 2);
    }
    lua_pushnil(L);
    lua_setfield(L, 2, "bootstrap");
    lua_replace(L, 1);
  }
  rpL_readopts(L, 1, rp_metrics_eval_optdesc, &e);
  rpL_pushoptvalues(L, rp_metrics_eval_optdesc, &e);
  return 1;
}

/* _check_compare(opts) -> resolved: compare's options checked, defaults in */
static int metrics_check_compare(lua_State *L) {
  lua_settop(L, 1);
  rp_metrics_compare_opts c;
  rpL_readopts(L, 1, rp_metrics_compare_optdesc, &c);
  rpL_pushoptvalues(L, rp_metrics_compare_optdesc, &c);
  return 1;
}

/* The train matrix at idx (nil: none), pinned. */
static rp_csr *opttrain(lua_State *L, int idx) {
  return lua_isnil(L, idx) ? NULL : rpL_pin(L, idx, RP_MATRIX_T);
}

/* _run(recommender, train_or_nil, test, opts[, users[, ratings]]) -> Evaluation: the
 * recommender (or the object its __recommender() names) and the matrices
 * are pinned for the evaluation */
static int metrics_run(lua_State *L) {
  lua_settop(L, 6);
  const rp_recommender *rec = rpL_pinrec(L, 1);
  rp_csr *train = opttrain(L, 2);
  rp_csr *test = rpL_pin(L, 3, RP_MATRIX_T);
  rp_metrics_opts o;
  readopts(L, 4, &o);
  o.ratings = lua_toboolean(L, 6);
  if (!lua_isnoneornil(L, 5)) o.users = rpL_idlist(L, 5, test->rowmap, &o.nusers);
  void **slot = newevalbox(L, test);
  rp_err err;
  if (rp_metrics_evaluate(rec, train, test, &o, (rp_metrics_result **)slot, &err))
    return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* _users(train_or_nil, test, opts[, users]) -> array of the user ids
 * evaluate scores (after the checks evaluate makes) */
static int metrics_users(lua_State *L) {
  lua_settop(L, 4);
  rp_csr *train = opttrain(L, 1);
  rp_csr *test = rpL_pin(L, 2, RP_MATRIX_T);
  rp_metrics_opts o;
  readopts(L, 3, &o);
  if (!lua_isnoneornil(L, 4)) o.users = rpL_idlist(L, 4, test->rowmap, &o.nusers);
  int32_t *u, n;
  rp_err err;
  if (rp_metrics_check(train, test, &o, &err) || rp_metrics_users(test, &o, &u, &n, &err))
    return rpL_error(L, &err);
  rpL_pushids(L, test->rowmap, u, n);
  rp_free(u);
  return 1;
}

/* Converts lists[user_id] (arrays of item ids) for users (array of ids, in
 * evaluation order) into item indices: the work buffers are userdata left
 * on the stack. */
static void readlists(lua_State *L, int users_idx, int lists_idx, const rp_csr *test, int32_t k,
                      int32_t **uidx, int32_t **items, int32_t **counts, int32_t *n) {
  int32_t nu = (int32_t)luaL_len(L, users_idx);
  *uidx = lua_newuserdatauv(L, (size_t)(nu ? nu : 1) * sizeof **uidx, 0);
  *items = lua_newuserdatauv(L, (size_t)(nu ? nu : 1) * (size_t)k * sizeof **items, 0);
  *counts = lua_newuserdatauv(L, (size_t)(nu ? nu : 1) * sizeof **counts, 0);
  for (int32_t i = 0; i < nu; i++) {
    lua_rawgeti(L, users_idx, i + 1);
    (*uidx)[i] = rpL_lookup(L, -1, test->rowmap);
    lua_gettable(L, lists_idx); /* lists[user id] */
    int32_t c = 0;
    if (lua_istable(L, -1)) {
      int32_t len = (int32_t)luaL_len(L, -1);
      for (int32_t j = 1; j <= len && c < k; j++) {
        lua_rawgeti(L, -1, j);
        int32_t it = rpL_lookup(L, -1, test->colmap);
        if (it < 0)
          luaL_error(L, "recommend_all returned item '%s', not in the item map",
                     luaL_tolstring(L, -1, NULL));
        (*items)[(size_t)i * k + c++] = it;
        lua_pop(L, 1);
      }
    }
    (*counts)[i] = c;
    lua_pop(L, 1);
  }
  *n = nu;
}

/* Predictions aligned with test->data from preds[user_id] = array in the
 * order of the user's test row (metrics_ext.lua builds it from predict). */
static float *readpreds(lua_State *L, int idx, const rp_csr *test, const int32_t *users,
                        int32_t n) {
  float *p = lua_newuserdatauv(L, (size_t)(test->nnz + 1) * sizeof *p, 0);
  memset(p, 0, (size_t)(test->nnz + 1) * sizeof *p);
  for (int32_t i = 0; i < n; i++) {
    rpL_pushid(L, test->rowmap, users[i]);
    lua_gettable(L, idx);
    for (int64_t q = test->indptr[users[i]]; q < test->indptr[users[i] + 1]; q++) {
      lua_rawgeti(L, -1, q - test->indptr[users[i]] + 1);
      p[q] = (float)luaL_optnumber(L, -1, 0);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return p;
}

/* _from_lists(train_or_nil, test, user_ids, lists, opts[, preds]) -> Evaluation */
static int metrics_from_lists(lua_State *L) {
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  lua_settop(L, 6);
  rp_csr *train = opttrain(L, 1);
  rp_csr *test = rpL_pin(L, 2, RP_MATRIX_T); /* the lists' metamethods may free it */
  if (!test->rowmap || !test->colmap) return luaL_argerror(L, 2, "test matrix has no id maps");
  rp_metrics_opts o;
  readopts(L, 5, &o);
  int32_t *u, *items, *counts, n;
  readlists(L, 3, 4, test, o.k, &u, &items, &counts, &n);
  float *pred = lua_istable(L, 6) ? readpreds(L, 6, test, u, n) : NULL;
  void **slot = newevalbox(L, test);
  rp_err err;
  if (rp_metrics_from_lists(u, n, items, counts, pred, train, test, &o, (rp_metrics_result **)slot,
                            &err))
    return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* ---- Evaluation methods ------------------------------------------------------- */
static void setnum(lua_State *L, const char *k, double v) {
  if (isnan(v)) return; /* undefined: absent */
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* ev:summary() -> {k, users, catalogue, ..., means by metric name} */
static int eval_summary(lua_State *L) {
  lua_settop(L, 1);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  lua_createtable(L, 0, RP_M_COUNT + 10);
  for (int m = 0; m < RP_M_COUNT; m++) setnum(L, rp_metrics_name(m), r->mean[m]);
  setint(L, "k", r->k);
  setint(L, "users", r->n);
  setint(L, "catalogue", r->nitems);
  setint(L, "train_users", r->train_users);
  setint(L, "unknown_users", r->unknown_users);
  setint(L, "short_lists", r->short_lists);
  setnum(L, "seconds_recommend", r->seconds_recommend);
  setnum(L, "seconds_metrics", r->seconds_metrics);
  return 1;
}

/* ev:curve() -> {metric = {v1..vk}} (nil when not computed) */
static int eval_curve(lua_State *L) {
  lua_settop(L, 1);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  if (!r->curve) return 0;
  lua_createtable(L, 0, RP_M_COUNT);
  for (int m = 0; m < RP_M_COUNT; m++) {
    if (isnan(r->curve[m * r->k])) continue;
    lua_createtable(L, r->k, 0);
    for (int32_t j = 0; j < r->k; j++) {
      lua_pushnumber(L, r->curve[m * r->k + j]);
      lua_rawseti(L, -2, j + 1);
    }
    lua_setfield(L, -2, rp_metrics_name(m));
  }
  return 1;
}

/* ev:bootstrap(B, seed, level, threads) -> {metric = {lo, hi}} */
static int eval_bootstrap(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVAL_T); /* self first */
  lua_Integer nb = luaL_checkinteger(L, 2);
  luaL_argcheck(L, nb >= 1 && nb <= RP_METRICS_MAX_BOOTSTRAP, 2, "resamples out of range");
  int32_t B = (int32_t)nb;
  uint64_t seed = (uint64_t)luaL_optinteger(L, 3, 42);
  double level = luaL_optnumber(L, 4, 0.95);
  int threads = (int)luaL_optinteger(L, 5, 0);
  double lo[RP_M_COUNT], hi[RP_M_COUNT];
  rp_err err;
  rp_metrics_result *r = checkeval(L, 1); /* the results are copied out before any allocation */
  if (rp_metrics_bootstrap(r, B, seed, level, threads, lo, hi, &err)) return rpL_error(L, &err);
  lua_createtable(L, 0, RP_M_COUNT);
  for (int m = 0; m < RP_M_COUNT; m++) {
    if (isnan(lo[m])) continue;
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, lo[m]);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, hi[m]);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, rp_metrics_name(m));
  }
  return 1;
}

/* ev:compare(other, {metric, ...}, B, seed, level, threads) -> {metric = {...}} */
static int eval_compare(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVAL_T); /* self first */
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 7);
  rp_metrics_result *a = rpL_pin(L, 1, RP_EVAL_T), *b = rpL_pin(L, 2, RP_EVAL_T);
  int nm = (int)luaL_len(L, 3), ms[RP_M_COUNT];
  luaL_argcheck(L, nm >= 1 && nm <= RP_M_COUNT, 3, "1 to 13 metric names");
  for (int q = 0; q < nm; q++) {
    lua_rawgeti(L, 3, q + 1);
    ms[q] = checkmetric(L, -1);
    lua_pop(L, 1);
  }
  lua_Integer nb = luaL_optinteger(L, 4, 1000);
  luaL_argcheck(L, nb >= 1 && nb <= RP_METRICS_MAX_BOOTSTRAP, 4, "resamples out of range");
  int32_t B = (int32_t)nb;
  uint64_t seed = (uint64_t)luaL_optinteger(L, 5, 42);
  double level = luaL_optnumber(L, 6, 0.95);
  int threads = (int)luaL_optinteger(L, 7, 0);
  rp_metrics_diff d[RP_M_COUNT];
  rp_err err;
  if (rp_metrics_compare_many(a, b, ms, nm, B, seed, level, threads, d, &err))
    return rpL_error(L, &err);
  lua_createtable(L, 0, nm);
  for (int q = 0; q < nm; q++) {
    lua_createtable(L, 0, 10);
    setint(L, "users", d[q].n);
    setnum(L, "a", d[q].a);
    setnum(L, "b", d[q].b);
    setnum(L, "diff", d[q].diff);
    setnum(L, "lo", d[q].lo);
    setnum(L, "hi", d[q].hi);
    setnum(L, "p", d[q].p);
    if (ms[q] < RP_M_NPER) {
      setint(L, "wins", d[q].wins);
      setint(L, "losses", d[q].losses);
      setint(L, "ties", d[q].ties);
    }
    lua_setfield(L, -2, rp_metrics_name(ms[q]));
  }
  return 1;
}

/* ev:per_user({metric, ...}) -> Dense (users x metrics), in user-index order */
static int eval_per_user(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVAL_T); /* self first */
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  int nm = (int)luaL_len(L, 2), ms[RP_M_NPER];
  luaL_argcheck(L, nm >= 1 && nm <= RP_M_NPER, 2, "1 to 8 per-user metrics");
  for (int j = 0; j < nm; j++) {
    lua_rawgeti(L, 2, j + 1);
    ms[j] = checkmetric(L, -1);
    if (ms[j] >= RP_M_NPER)
      luaL_error(L,
                 "'%s' has no per-user values (per-user metrics: precision, recall, map, "
                 "ndcg, hit_rate, mrr, auc, novelty)",
                 rp_metrics_name(ms[j]));
    lua_pop(L, 1);
  }
  void **slot = rpL_newbox(L, RP_DENSE_T);
  rp_err err;
  rp_dense *d = rp_dense_new(r->n, nm, &err);
  if (!d) return rpL_error(L, &err);
  *slot = d;
  for (int32_t i = 0; i < r->n; i++)
    for (int j = 0; j < nm; j++)
      d->data[(size_t)i * nm + j] = (float)r->per_user[(size_t)i * RP_M_NPER + ms[j]];
  return 1;
}

/* The user IdMap kept as the Evaluation's user value (pinned; raises
 * without maps). */
static rp_idmap *usermap(lua_State *L, int idx) {
  if (lua_getiuservalue(L, idx, 1) == LUA_TNIL) luaL_error(L, "this evaluation has no user id map");
  return rpL_pin(L, -1, RP_IDMAP_T); /* (debug.getuservalue reaches it) */
}

/* ev:values(metric) -> {user_id = value} (a Lua table: asked for) */
static int eval_values(lua_State *L) {
  lua_settop(L, 2);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  int m = checkmetric(L, 2);
  if (m >= RP_M_NPER)
    return luaL_argerror(L, 2,
                         lua_pushfstring(L, "'%s' has no per-user values", rp_metrics_name(m)));
  rp_idmap *users = usermap(L, 1);
  lua_createtable(L, 0, r->n);
  for (int32_t i = 0; i < r->n; i++) {
    rpL_pushid(L, users, r->users[i]);
    lua_pushnumber(L, r->per_user[(size_t)i * RP_M_NPER + m]);
    lua_settable(L, -3);
  }
  return 1;
}

/* ev:user_ids() -> array of the evaluated users' ids, in row order */
static int eval_user_ids(lua_State *L) {
  lua_settop(L, 1);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  rp_idmap *users = usermap(L, 1);
  rpL_pushids(L, users, r->users, r->n);
  return 1;
}

/* ev:histogram(metric, bins, lo, hi) -> counts array */
static int eval_histogram(lua_State *L) {
  lua_settop(L, 5);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  int m = checkmetric(L, 2);
  int32_t bins = (int32_t)luaL_optinteger(L, 3, 20);
  luaL_argcheck(L, bins >= 1 && bins <= 100000, 3, "bins must be in 1..100000");
  double lo = luaL_optnumber(L, 4, 0), hi = luaL_optnumber(L, 5, 1);
  int64_t *c = lua_newuserdatauv(L, (size_t)bins * sizeof *c, 0);
  rp_err err;
  if (rp_metrics_histogram(r, m, bins, lo, hi, c, &err)) return rpL_error(L, &err);
  lua_createtable(L, bins, 0);
  for (int32_t b = 0; b < bins; b++) {
    lua_pushinteger(L, (lua_Integer)c[b]);
    lua_rawseti(L, -2, b + 1);
  }
  return 1;
}

/* ev:popularity(bins) -> {train = shares, recommended = shares, mean_rec, mean_catalogue} */
static int eval_popularity(lua_State *L) {
  lua_settop(L, 2);
  rp_metrics_result *r = rpL_pin(L, 1, RP_EVAL_T);
  int32_t bins = (int32_t)luaL_optinteger(L, 2, 10);
  luaL_argcheck(L, bins >= 1 && bins <= 100000, 2, "bins must be in 1..100000");
  double *ts = lua_newuserdatauv(L, (size_t)bins * 2 * sizeof *ts, 0), *rs = ts + bins;
  double mr, mc;
  rp_err err;
  if (rp_metrics_popularity(r, bins, ts, rs, &mr, &mc, &err)) return rpL_error(L, &err);
  lua_createtable(L, 0, 4);
  for (int w = 0; w < 2; w++) {
    lua_createtable(L, bins, 0);
    for (int32_t b = 0; b < bins; b++) {
      lua_pushnumber(L, (w ? rs : ts)[b]);
      lua_rawseti(L, -2, b + 1);
    }
    lua_setfield(L, -2, w ? "recommended" : "train");
  }
  setnum(L, "mean_recommended", mr);
  setnum(L, "mean_catalogue", mc);
  return 1;
}

static int eval_tostring(lua_State *L) {
  rp_metrics_result *r = *rpL_slot(L, 1, RP_EVAL_T);
  if (!r)
    lua_pushstring(L, "recpipe.Evaluation(freed)");
  else
    lua_pushfstring(L, "recpipe.Evaluation(%d users, k = %d)", r->n, r->k);
  return 1;
}

static int eval_len(lua_State *L) {
  lua_pushinteger(L, checkeval(L, 1)->n);
  return 1;
}

static const luaL_Reg eval_methods[] = {
    {"summary", eval_summary},       {"curve", eval_curve},
    {"bootstrap", eval_bootstrap},   {"compare", eval_compare},
    {"per_user", eval_per_user},     {"values", eval_values},
    {"user_ids", eval_user_ids},     {"histogram", eval_histogram},
    {"popularity", eval_popularity}, {NULL, NULL}};
static const luaL_Reg eval_meta[] = {
    {"__tostring", eval_tostring}, {"__len", eval_len}, {NULL, NULL}};

/* _names() -> array of every metric name */
static int metrics_names(lua_State *L) {
  lua_createtable(L, RP_M_COUNT, 0);
  for (int m = 0; m < RP_M_COUNT; m++) {
    lua_pushstring(L, rp_metrics_name(m));
    lua_rawseti(L, -2, m + 1);
  }
  return 1;
}

static const luaL_Reg metrics_funcs[] = {{"_check", metrics_check},
                                         {"_check_compare", metrics_check_compare},
                                         {"_run", metrics_run},
                                         {"_users", metrics_users},
                                         {"_from_lists", metrics_from_lists},
                                         {"_names", metrics_names},
                                         {NULL, NULL}};

int luaopen_recpipe_metrics(lua_State *L);
int luaopen_recpipe_metrics(lua_State *L) {
  static const rpL_optset sets[] = {
      {"evaluate", rp_metrics_eval_optdesc}, {"compare", rp_metrics_compare_optdesc}, {NULL, NULL}};
  rpL_newtype(L, &eval_class, eval_methods, eval_meta);
  luaL_newlib(L, metrics_funcs);
  rpL_setoptions(L, -1, sets);
  return 1;
}
