/*
 * lua_als.c -- `recpipe.als` binding: rp.als.train, rp.als.load and the
 * recpipe.ALSModel type.  Arguments are checked here; the work is in the
 * als core (als.h).
 *
 * A model box has one user value: the training matrix when the model was
 * trained in this session (used by filter_seen and explain), else nil.
 * Scratch arrays for a call live in Lua userdata so a Lua error cannot
 * leak them.  Factor views (Dense) hold the model (rpl.h, lifetimes).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "als.h"
#include "als_impl.h"
#include "metrics.h"
#include "objcache.h"
#include "dist.h"
#include "rpl.h"

#define RP_ALS_T "recpipe.ALSModel"

static void model_destroy(void *m) { rp_als_model_free(m); }
static rp_recommender *model_rec(lua_State *L, int idx, void *m) {
  return &((rp_als_model *)m)->rec;
}
static const rpL_class model_class = {RP_ALS_T, model_destroy, model_rec};

static rp_als_model *checkmodel(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_ALS_T); }

/* k beyond the candidates gives what there is: no larger scratch than that */
static int32_t capk(lua_Integer k, int32_t limit) { return k < limit ? (int32_t)k : limit; }

/* Raises unless the matrix's maps are the model's (same objects, or one a
 * prefix of the other). */
static void check_maps(lua_State *L, int arg, const rp_als_model *m, const rp_csr *x) {
  if (x && (!rp_als_maps_compatible(m->users, x->rowmap) ||
            !rp_als_maps_compatible(m->items, x->colmap)))
    luaL_argerror(L, arg,
                  "matrix is not on the model's id maps (read it with users = model.users, "
                  "items = model.items)");
}

/* ---- options ------------------------------------------------------------------ */
/* names, defaults and ranges: rp_als_train_optdesc (model.c) */
static void train_opts(lua_State *L, int idx, rp_als_opts *o) {
  memset(o, 0, sizeof *o);
  rpL_readopts(L, idx, rp_als_train_optdesc, o);
}

/* validation = {test, k, metric, patience}: errors name argument idx and
 * the field 'validation.k' */
static void validation_opts(lua_State *L, int idx, rp_als_hooks *h, int implicit) {
  if (!rpL_readsubopts(L, idx, "validation", rp_als_validation_optdesc, h)) return;
  int v = lua_gettop(L); /* stays on the stack, below the test matrix's pin */
  if (!rpL_hasopt(L, v, "test")) rpL_fielderror(L, idx, "validation.test", "is required");
  if (rpL_getopt(L, v, "test") != LUA_TUSERDATA || !rpL_testobj(L, -1, RP_MATRIX_T))
    rpL_fielderror(L, idx, "validation.test", "must be a %s, got %s", RP_MATRIX_T,
                   luaL_typename(L, -1));
  lua_pop(L, 1);
  h->test = rpL_pinopt(L, v, "test", RP_MATRIX_T); /* on_iteration may free it */
  if (rpL_getopt(L, v, "metric") != LUA_TNIL && lua_type(L, -1) != LUA_TSTRING)
    rpL_fielderror(L, idx, "validation.metric", "must be a metric name, got %s",
                   luaL_typename(L, -1));
  const char *name = lua_isnil(L, -1) ? rp_als_default_metric(implicit) : lua_tostring(L, -1);
  lua_pop(L, 1); /* the string stays referenced by the table */
  rp_err err;
  h->metric = rp_metrics_id(name);
  if (h->metric < 0 || rp_als_metric_check(h->metric, implicit, &err))
    rpL_fielderror(L, idx, "validation.metric",
                   "must be one of 'ndcg', 'map', 'precision', 'precision_pooled', 'recall', "
                   "'hit_rate', 'mrr', 'auc' (implicit) or 'rmse', 'mae' (explicit), got '%s'",
                   name);
}

/* ---- training ------------------------------------------------------------------- */
typedef struct cbstate {
  lua_State *L;
  int fn;     /* stack index of on_iteration */
  int errref; /* stack index of a slot for the error */
  const rp_als_iter_info *info;
  int stop;
} cbstate;

/* runs under lua_pcall with (state, on_iteration): on_iteration(it, info) */
static int call_on_iteration(lua_State *L) {
  cbstate *s = lua_touserdata(L, 1);
  const rp_als_iter_info *in = s->info;
  lua_pushvalue(L, 2);
  lua_pushinteger(L, in->iteration);
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, in->seconds);
  lua_setfield(L, -2, "seconds");
  if (!isnan(in->loss)) lua_pushnumber(L, in->loss), lua_setfield(L, -2, "loss");
  if (!isnan(in->validation)) {
    lua_pushnumber(L, in->validation);
    lua_setfield(L, -2, "validation");
    lua_pushinteger(L, in->best_iteration);
    lua_setfield(L, -2, "best_iteration");
  }
  lua_call(L, 2, 1);
  s->stop = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  return 0;
}

static int on_iteration(const rp_als_iter_info *info, void *ud) {
  cbstate *s = ud;
  lua_State *L = s->L;
  s->info = info;
  lua_pushcfunction(L, call_on_iteration);
  lua_pushlightuserdata(L, s);
  lua_pushvalue(L, s->fn);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_replace(L, s->errref); /* keep the error for after training */
    return 1;
  }
  return s->stop;
}

/* rp.als.train(matrix, opts): what training reads (the matrix, the
 * validation matrix, the init model) is pinned, so on_iteration (Lua) may
 * free it: training ends on it and it goes then. */
static int als_train(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *ui = rpL_pin(L, 1, RP_MATRIX_T);
  rp_als_opts o;
  rp_als_hooks h;
  memset(&h, 0, sizeof h);
  train_opts(L, 2, &o);
  validation_opts(L, 2, &h, o.implicit);
  h.init = rpL_pinopt(L, 2, "init", RP_ALS_T);
  int fn = rpL_getopt(L, 2, "on_iteration") == LUA_TNIL ? 0 : lua_gettop(L);
  if (fn && !lua_isfunction(L, fn)) rpL_fielderror(L, 2, "on_iteration", "must be a function");
  h.want_loss = rpL_optboolean(L, 2, "calculate_loss", fn != 0);
  lua_pushnil(L); /* error slot */
  cbstate s = {L, fn, lua_gettop(L), NULL, 0};
  if (fn) h.on_iteration = on_iteration, h.ud = &s;
  void **slot = rpL_newbox(L, RP_ALS_T);
  rp_err err;
  rp_als_model *m;
  int rc = rp_als_train(ui, &o, &h, &m, &err);
  if (!lua_isnil(L, s.errref)) {
    rp_als_model_free(m);
    lua_pushvalue(L, s.errref);
    return lua_error(L);
  }
  if (rc) return rpL_error(L, &err);
  *slot = m;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  rpL_gcpressure(L);
  return 1;
}

/* Models shared through the process-wide object cache (recpipe serve:
 * every worker's script loads the same file, one copy is kept). */
static void model_retain(void *m) { rp_als_model_retain(m); }
static void model_release(void *m) { rp_als_model_free(m); }
static int model_only_owner(void *m) {
  return atomic_load_explicit(&((rp_als_model *)m)->refs, memory_order_acquire) == 1;
}
static const rp_objtype model_type = {"als model", model_retain, model_release, model_only_owner};

static int als_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  void **slot = rpL_newbox(L, RP_ALS_T);
  rp_err err;
  rp_fileid id = rp_fileid_of(path);
  rp_als_model *m = rp_objcache_get(&model_type, path, id, "");
  if (m) {
    *slot = m;
    return 1;
  }
  if (rp_als_load(path, &m, &err)) return rpL_error(L, &err);
  *slot = m;
  if (rp_objcache_enabled()) {
    if (m->users) m->users->frozen = 1;
    if (m->items) m->items->frozen = 1;
    if (rp_objcache_put(&model_type, path, id, "", m, &err)) return rpL_error(L, &err);
  }
  rpL_gcpressure(L);
  return 1;
}

/* ---- recommend ---------------------------------------------------------------------- */
/* The training matrix kept by the box at 1 (pinned), or raises. */
static rp_csr *seen_matrix(lua_State *L, const char *why) {
  lua_getiuservalue(L, 1, 1);
  rpL_box *b = luaL_testudata(L, -1, RP_MATRIX_T);
  if (!b) luaL_error(L, "%s needs the training matrix: pass it explicitly (model was loaded)", why);
  if (!b->obj)
    luaL_error(L, "%s needs the training matrix, which was freed: pass it explicitly", why);
  return rpL_pin(L, -1, RP_MATRIX_T);
}

/* An id list (rpL_optidlist) as the top-k wants it: sorted, unique. */
static rp_als_list sorted_list(int32_t *idx, int32_t n) {
  rp_als_list l = {idx, rp_als_sort_unique(idx, n)};
  return l;
}

static int topk_push(lua_State *L, const rp_als_model *m, const float *x, int32_t k,
                     const rp_als_list *ex, int nex, const rp_als_list *allow, int flags) {
  int32_t *items = rpL_scratch(L, (size_t)k, sizeof(int32_t));
  float *scores = rpL_scratch(L, (size_t)k, sizeof(float));
  int32_t n;
  rp_err err;
  if (rp_als_topk_flags(m, x, k, ex, nex, allow, flags, items, scores, &n, &err))
    return rpL_error(L, &err);
  rpL_pushlists(L, m->items, items, scores, n);
  return 2;
}

static void check_exclude(lua_State *L, int opt, const rp_recommender *rec, const rp_csr *x) {
  check_maps(L, opt, rec->self, x);
}

static int knows_user(const rp_recommender *rec, int32_t u) {
  return rp_als_model_knows_user(rec->self, u);
}

/* opts.include_untrained (default false): may items without factors be
 * recommended? */
static int untrained_flag(lua_State *L, int opt) {
  return rpL_optboolean(L, opt, "include_untrained", 0) ? RP_ALS_UNTRAINED : 0;
}

/* One request of model:recommend (rpL_recommend): exclude's row (else, with
 * filter_seen, the training row), deny and the allow list. */
static int recommend_one(lua_State *L, const rp_recommender *rec, rpL_recreq *q, int32_t *items,
                         float *scores, int32_t *n, const char **why, rp_err *err) {
  const rp_als_model *m = rec->self;
  int32_t u = q->user;
  if (u < 0) return *why = "unknown user '%s'", RP_OK;
  if (!rp_als_model_knows_user(m, u))
    return *why = "user '%s' has no interactions in the model's training data", RP_OK;
  const rp_csr *x = q->exclude;
  if (!x && rpL_optboolean(L, q->opt, "filter_seen", 0))
    check_maps(L, q->opt, m, x = seen_matrix(L, "filter_seen"));
  rp_als_list ex[RP_ALS_MAX_EXCL], allow;
  int nex = 0;
  if (x && u < x->nrows) {
    ex[nex].idx = x->indices + x->indptr[u];
    ex[nex++].n = x->indptr[u + 1] - x->indptr[u];
  }
  if (q->deny) ex[nex++] = sorted_list(q->deny, q->ndeny);
  if (q->allow) allow = sorted_list(q->allow, q->nallow);
  return rp_als_recommend_user_flags(m, u, q->k, ex, nex, q->allow ? &allow : NULL,
                                     untrained_flag(L, q->opt), items, scores, n, err);
}

/* model:recommend_all's batch: include_untrained and the candidates
 * (items) read from its options */
static int recommend_batch(lua_State *L, int opt, const rp_recommender *rec, const int32_t *users,
                           int32_t n, int32_t k, const rp_csr *exclude, int threads, int32_t *items,
                           float *scores, int32_t *cnt, rp_err *err) {
  int32_t na;
  int32_t *al = rpL_optidlist(L, opt, "items", rec->items, &na);
  rp_als_list allow;
  if (al) allow = sorted_list(al, na);
  return rp_als_recommend_batch_allow(rec->self, users, n, k, exclude, threads,
                                      untrained_flag(L, opt), al ? &allow : NULL, items, scores,
                                      cnt, err);
}

static const char *const rec_known[] = {"k",           "exclude",           "items", "deny",
                                        "filter_seen", "include_untrained", NULL};
static const char *const all_known[] = {"users", "k", "exclude", "threads", "include_untrained",
                                        "items", NULL};
static const rpL_recspec rec_spec = {RP_ALS_T,   rec_known, recommend_one, check_exclude,
                                     knows_user, 0,         all_known,     recommend_batch};

/* model:recommend(user, {k, exclude, items, deny, filter_seen}) -> items, scores */
static int model_recommend(lua_State *L) { return rpL_recommend(L, &rec_spec); }

/* model:recommend_new(items, {values, k, exclude?, items, deny, filter_seen = true}) */
static int model_recommend_new(lua_State *L) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  static const char *const known[] = {
      "values", "k", "items", "deny", "filter_seen", "include_untrained", NULL};
  rpL_checkopts(L, 3, known);
  int32_t k = capk(rpL_optinteger(L, 3, "k", 10, 0, 1 << 24), m->nitems);
  lua_Integer n = luaL_len(L, 2);
  int32_t *items = rpL_scratch(L, (size_t)n, sizeof(int32_t));
  float *vals = rpL_scratch(L, (size_t)n, sizeof(float));
  int has_values = rpL_getopt(L, 3, "values") != LUA_TNIL;
  if (has_values && (!lua_istable(L, -1) || luaL_len(L, -1) != n))
    rpL_fielderror(L, 3, "values", "must be an array as long as the items (%d)", (int)n);
  for (lua_Integer a = 1; a <= n; a++) {
    lua_rawgeti(L, 2, a);
    items[a - 1] = m->items ? rpL_lookup(L, -1, m->items) : -1;
    lua_pop(L, 1);
    vals[a - 1] = 1.0f;
    if (has_values) {
      lua_rawgeti(L, -1, a);
      if (!lua_isnumber(L, -1))
        rpL_fielderror(L, 3, "values", "must hold numbers (entry %d)", (int)a);
      vals[a - 1] = (float)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  float *x = rpL_scratch(L, (size_t)m->factors, sizeof(float));
  rp_err err;
  if (rp_als_foldin(m, items, vals, n, x, &err)) return rpL_error(L, &err);
  rp_als_list ex[RP_ALS_MAX_EXCL], allow;
  int32_t nd, na, nex = 0;
  int32_t *deny = rpL_optidlist(L, 3, "deny", m->items, &nd);
  int32_t *al = rpL_optidlist(L, 3, "items", m->items, &na);
  if (deny) ex[nex++] = sorted_list(deny, nd);
  if (al) allow = sorted_list(al, na);
  if (rpL_optboolean(L, 3, "filter_seen", 1)) {
    int32_t *given = rpL_scratch(L, (size_t)n, sizeof(int32_t));
    memcpy(given, items, sizeof(int32_t) * (size_t)n);
    ex[nex].idx = given;
    ex[nex].n = rp_als_sort_unique(given, n);
    nex++;
  }
  return topk_push(L, m, x, k, ex, nex, al ? &allow : NULL, untrained_flag(L, 3));
}

/* model:recommend_all{users = list|nil, k, exclude, threads} -> {user = items}, {user = scores} */
static int model_recommend_all(lua_State *L) { return rpL_recommend_all(L, &rec_spec); }

/* ---- similar, explain ------------------------------------------------------------------ */
/* The candidates option of similar (field "items" or "users") at opt as a
 * sorted list on map; NULL when absent. */
static const rp_als_list *candidates(lua_State *L, int opt, int which, const rp_idmap *map,
                                     rp_als_list *out) {
  int32_t n;
  int32_t *c = rpL_optidlist(L, opt, which ? "users" : "items", map, &n);
  if (!c) return NULL;
  *out = sorted_list(c, n);
  return out;
}

/* model:similar_items(item, {k, include_self, items}) / similar_users(user,
 * {k, include_self, users}) */
static int similar(lua_State *L, int which) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 3);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  static const char *const known_items[] = {"k", "include_self", "items", NULL};
  static const char *const known_users[] = {"k", "include_self", "users", NULL};
  rpL_checkopts(L, 3, which ? known_users : known_items);
  int self = rpL_optboolean(L, 3, "include_self", 1);
  const rp_idmap *map = which ? m->users : m->items;
  int32_t k = capk(rpL_optinteger(L, 3, "k", 10, 0, 1 << 24), which ? m->nusers : m->nitems);
  rp_als_list cl;
  const rp_als_list *cand = candidates(L, 3, which, map, &cl);
  int32_t i = map ? rpL_lookup(L, 2, map) : -1;
  if (i < 0 || i >= (which ? m->nusers : m->nitems))
    return rpL_nilmsg(L, which ? "unknown user '%s'" : "unknown item '%s'", 2);
  int32_t *idx = rpL_scratch(L, (size_t)k, sizeof(int32_t)), n;
  float *scores = rpL_scratch(L, (size_t)k, sizeof(float));
  rp_err err;
  if (rp_als_similar_in(m, which, i, k, self, cand, idx, scores, &n, &err))
    return rpL_error(L, &err);
  if (n == 0 && cand && rp_als_model_has_factors(m, which, i))
    return rpL_pushlists(L, map, idx, scores, 0), 2;
  if (n == 0 && k > 0)
    return rpL_nilmsg(L,
                      which ? "user '%s' has no interactions in training"
                            : "item '%s' has no interactions in training",
                      2);
  rpL_pushlists(L, map, idx, scores, n);
  return 2;
}
static int model_similar_items(lua_State *L) { return similar(L, 0); }
static int model_similar_users(lua_State *L) { return similar(L, 1); }

/* model:similar_items_all{items = {...} or nil, k = 10, include_self = true,
 * candidates = {...}, threads = 0} (and similar_users_all with users):
 * tables keyed by id of the lists and of the scores, as recommend_all */
static int similar_all(lua_State *L, int which) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) lua_newtable(L), lua_replace(L, 2);
  luaL_checktype(L, 2, LUA_TTABLE);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  static const char *const known_items[] = {"items",      "k",       "include_self",
                                            "candidates", "threads", NULL};
  static const char *const known_users[] = {"users",      "k",       "include_self",
                                            "candidates", "threads", NULL};
  rpL_checkopts(L, 2, which ? known_users : known_items);
  const char *field = which ? "users" : "items";
  const rp_idmap *map = which ? m->users : m->items;
  if (!map) return luaL_argerror(L, 1, "the model has no id map");
  int32_t rows = which ? m->nusers : m->nitems;
  int32_t k = capk(rpL_optinteger(L, 2, "k", 10, 0, 1 << 24), rows);
  int self = rpL_optboolean(L, 2, "include_self", 1);
  int threads = (int)rpL_optinteger(L, 2, "threads", 0, 0, 4096);
  rp_als_list cl;
  int32_t nc;
  int32_t *c = rpL_optidlist(L, 2, "candidates", map, &nc);
  if (c) cl = sorted_list(c, nc);
  int given = rpL_getopt(L, 2, field) != LUA_TNIL, ql = lua_gettop(L);
  if (given && !lua_istable(L, ql))
    rpL_fielderror(L, 2, field, "must be a list of ids, got %s", luaL_typename(L, ql));
  lua_Integer len = given ? luaL_len(L, ql) : rows;
  int32_t *q = rpL_scratch(L, (size_t)len, sizeof *q), n = 0;
  int32_t *at = rpL_scratch(L, (size_t)len, sizeof *at);
  for (lua_Integer a = 0; a < len; a++) {
    int32_t r = (int32_t)a;
    if (given) {
      lua_rawgeti(L, ql, a + 1);
      r = rpL_lookup(L, -1, map);
      lua_pop(L, 1);
    }
    if (r < 0 || r >= rows) continue;
    q[n] = r, at[n++] = (int32_t)a + 1;
  }
  size_t nk = (size_t)n * (size_t)k;
  int32_t *idx = rpL_scratch(L, nk, sizeof *idx), *cnt = rpL_scratch(L, (size_t)n, sizeof *cnt);
  float *scores = rpL_scratch(L, nk, sizeof *scores);
  rp_err err;
  if (rp_als_similar_batch(m, which, q, n, k, self, c ? &cl : NULL, threads, idx, scores, cnt,
                           &err))
    return rpL_error(L, &err);
  lua_createtable(L, 0, n);
  lua_createtable(L, 0, n);
  for (int32_t a = 0; a < n; a++) {
    if (!rp_als_model_has_factors(m, which, q[a])) continue;
    if (given)
      lua_rawgeti(L, ql, at[a]);
    else
      rpL_pushid(L, map, q[a]);
    rpL_pushlists(L, map, idx + (size_t)a * k, scores + (size_t)a * k, cnt[a]);
    lua_pushvalue(L, -3); /* key, ids, scores, key */
    lua_insert(L, -2);
    lua_settable(L, -5); /* scores table */
    lua_settable(L, -4); /* ids table */
  }
  return 2;
}
static int model_similar_items_all(lua_State *L) { return similar_all(L, 0); }
static int model_similar_users_all(lua_State *L) { return similar_all(L, 1); }

/* model:explain(user, item, {k = 10, history = matrix}) -> items, contributions, total */
static int model_explain(lua_State *L) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  lua_settop(L, 4);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  static const char *const known[] = {"k", "history", NULL};
  rpL_checkopts(L, 4, known);
  int32_t k = capk(rpL_optinteger(L, 4, "k", 10, 0, 1 << 24), m->nitems);
  rp_csr *hist = rpL_pinopt(L, 4, "history", RP_MATRIX_T);
  if (!hist) hist = seen_matrix(L, "explain");
  check_maps(L, 4, m, hist);
  int32_t u = m->users ? rpL_lookup(L, 2, m->users) : -1;
  int32_t i = m->items ? rpL_lookup(L, 3, m->items) : -1;
  if (u < 0) return rpL_nilmsg(L, "unknown user '%s'", 2);
  if (i < 0 || i >= m->nitems) return rpL_nilmsg(L, "unknown item '%s'", 3);
  int64_t a = u < hist->nrows ? hist->indptr[u] : 0, n = rp_csr_rowlen(hist, u);
  int32_t *items = rpL_scratch(L, (size_t)k, sizeof(int32_t)), cnt;
  float *contrib = rpL_scratch(L, (size_t)k, sizeof(float));
  double total;
  rp_err err;
  if (rp_als_explain(m, hist->indices + a, hist->data + a, n, i, k, items, contrib, &cnt, &total,
                     &err))
    return rpL_error(L, &err);
  rpL_pushlists(L, m->items, items, contrib, cnt);
  lua_pushnumber(L, total);
  return 3;
}

/* ---- incremental updates -------------------------------------------------------- */
/* model:partial_fit_users(ids, matrix) / model:partial_fit_items(ids, matrix):
 * row r of matrix holds the interactions of ids[r]; its columns are on the
 * model's other map.  Returns the model. */
static int partial_fit(lua_State *L, int which) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  rp_csr *x = rpL_pin(L, 3, RP_MATRIX_T);
  const char *side = which ? "item" : "user";
  const rp_idmap *other = which ? m->users : m->items;
  if (!rp_als_maps_compatible(other, x->colmap))
    luaL_argerror(
        L, 3,
        lua_pushfstring(L,
                        "matrix columns are not on the model's %s map (read it with "
                        "%ss = model.%ss)",
                        which ? "user" : "item", which ? "user" : "item", which ? "user" : "item"));
  lua_Integer n = luaL_len(L, 2);
  if (n != x->nrows)
    luaL_argerror(L, 3,
                  lua_pushfstring(L, "matrix has %d rows, expected one per %s id (%d)",
                                  (int)x->nrows, side, (int)n));
  const char **ids = rpL_scratch(L, (size_t)n, sizeof(char *));
  size_t *lens = rpL_scratch(L, (size_t)n, sizeof(size_t));
  lua_createtable(L, (int)n, 0); /* keeps the id strings alive */
  int keep = lua_gettop(L);
  for (lua_Integer a = 1; a <= n; a++) {
    int t = lua_rawgeti(L, 2, a);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
      lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, -1));
      lua_replace(L, -2);
    } else if (t != LUA_TSTRING) {
      return luaL_argerror(L, 2,
                           lua_pushfstring(L, "%s id %d must be a string or an integer, got %s",
                                           side, (int)a, luaL_typename(L, -1)));
    }
    ids[a - 1] = lua_tolstring(L, -1, &lens[a - 1]);
    lua_rawseti(L, keep, a);
  }
  rp_err err;
  if (rp_als_partial_fit_ids(m, which, ids, lens, x, m->opts.threads, &err))
    return rpL_error(L, &err);
  lua_settop(L, 1);
  return 1;
}
static int model_partial_fit_users(lua_State *L) { return partial_fit(L, 0); }
static int model_partial_fit_items(lua_State *L) { return partial_fit(L, 1); }

/* model:set_session(user, items, weight): user's recommendations rank each
 * listed item (ids; unknown ones ignored; repeats add up) with weight added
 * to its score (recpipe serve's realtime_session_weight); an empty list
 * clears.  Returns the model. */
static int model_set_session(lua_State *L) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  luaL_checkany(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  double w = luaL_checknumber(L, 4);
  lua_settop(L, 4);
  rp_als_model *m = rpL_pin(L, 1, RP_ALS_T);
  int32_t u = m->users ? rpL_lookup(L, 2, m->users) : -1;
  if (u < 0 || u >= m->nusers)
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown user '%s'", luaL_tolstring(L, 2, NULL)));
  lua_Integer n = luaL_len(L, 3);
  int32_t *items = rpL_scratch(L, (size_t)n, sizeof(int32_t)), k = 0;
  for (lua_Integer a = 1; a <= n; a++) {
    lua_rawgeti(L, 3, a);
    int32_t i = m->items ? rpL_lookup(L, -1, m->items) : -1;
    lua_pop(L, 1);
    if (i >= 0) items[k++] = i;
  }
  rp_err err;
  if (rp_als_set_session(m, u, items, k, (float)w, &err)) return rpL_error(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* ---- the rest ------------------------------------------------------------------------- */
static int model_save(lua_State *L) {
  luaL_checkudata(L, 1, RP_ALS_T); /* self first */
  const char *path = luaL_checkstring(L, 2);
  rp_als_model *m = checkmodel(L, 1); /* borrowed after the last allocation */
  rp_err err;
  /* under MPI every rank holds the same model: rank 0 writes the file and
   * the others wait for it (dist.h) */
  if ((rp_dist_rank() == 0 && rp_als_save(m, path, &err)) || rp_dist_barrier(&err))
    return rpL_error(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int model_loss(lua_State *L) {
  rp_als_model *m = checkmodel(L, 1);
  rp_csr *x = rpL_checkmatrix(L, 2);
  check_maps(L, 2, m, x);
  double loss;
  rp_err err;
  if (rp_als_loss(m, x, m->opts.threads, &loss, &err)) return rpL_error(L, &err);
  lua_pushnumber(L, loss);
  return 1;
}

static int model_tostring(lua_State *L) {
  rp_als_model *m = *rpL_slot(L, 1, RP_ALS_T);
  if (!m) {
    lua_pushstring(L, "recpipe.ALSModel(freed)");
    return 1;
  }
  lua_pushfstring(L, "recpipe.ALSModel(%d users x %d items, %d factors, %s %s, %d iterations)",
                  (int)m->nusers, (int)m->nitems, (int)m->factors,
                  m->opts.implicit ? "implicit" : "explicit", rp_als_solver_name(m->opts.solver),
                  (int)m->iterations_done);
  return 1;
}

static void push_options(lua_State *L, const rp_als_model *m) {
  const rp_als_opts *o = &m->opts;
  lua_createtable(L, 0, 14);
  lua_pushinteger(L, o->factors), lua_setfield(L, -2, "factors");
  lua_pushnumber(L, o->regularization), lua_setfield(L, -2, "regularization");
  lua_pushinteger(L, o->iterations), lua_setfield(L, -2, "iterations");
  lua_pushnumber(L, o->alpha), lua_setfield(L, -2, "alpha");
  lua_pushstring(L, rp_als_confidence_name(o->confidence)), lua_setfield(L, -2, "confidence");
  lua_pushnumber(L, o->eps), lua_setfield(L, -2, "eps");
  lua_pushstring(L, rp_als_reg_mode_name(o->reg_mode));
  lua_setfield(L, -2, "regularization_mode");
  lua_pushstring(L, rp_als_solver_name(o->solver)), lua_setfield(L, -2, "solver");
  lua_pushinteger(L, o->cg_steps), lua_setfield(L, -2, "cg_steps");
  lua_pushboolean(L, o->implicit), lua_setfield(L, -2, "implicit");
  lua_pushboolean(L, o->nonnegative), lua_setfield(L, -2, "nonnegative");
  lua_pushinteger(L, (lua_Integer)o->seed), lua_setfield(L, -2, "seed");
  lua_pushnumber(L, o->init_scale), lua_setfield(L, -2, "init_scale");
}

/* fields: user_factors, item_factors (Dense views), users, items, factors,
 * nusers, nitems, iterations, training_loss, fingerprint, created, options */
static int model_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  rp_als_model *m = rpL_indexobj(L, RP_ALS_T, k);
  if (!m) return 1; /* a method of a freed model (free) */
  rp_err err;
  if (strcmp(k, "user_factors") == 0 || strcmp(k, "item_factors") == 0) {
    lua_settop(L, 2);
    rpL_pin(L, 1, RP_ALS_T);
    int u = k[0] == 'u';
    rp_dense *d = rp_dense_view(u ? m->user_factors : m->item_factors, u ? m->nusers : m->nitems,
                                m->factors, &err);
    if (!d) return rpL_error(L, &err);
    rpL_pushdense(L, d, 1); /* the view holds the model */
  } else if (strcmp(k, "users") == 0 && m->users)
    rpL_pushidmap(L, m->users);
  else if (strcmp(k, "items") == 0 && m->items)
    rpL_pushidmap(L, m->items);
  else if (strcmp(k, "factors") == 0)
    lua_pushinteger(L, m->factors);
  else if (strcmp(k, "nusers") == 0)
    lua_pushinteger(L, m->nusers);
  else if (strcmp(k, "nitems") == 0)
    lua_pushinteger(L, m->nitems);
  else if (strcmp(k, "iterations") == 0)
    lua_pushinteger(L, m->iterations_done);
  else if (strcmp(k, "training_loss") == 0)
    isnan(m->loss) ? lua_pushnil(L) : lua_pushnumber(L, m->loss);
  else if (strcmp(k, "fingerprint") == 0) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)m->fingerprint);
    lua_pushstring(L, hex);
  } else if (strcmp(k, "created") == 0)
    lua_pushinteger(L, m->created);
  else if (strcmp(k, "options") == 0) {
    lua_settop(L, 2);
    rpL_pin(L, 1, RP_ALS_T);
    push_options(L, m);
  } else {
    rpL_method(L, RP_ALS_T, k);
  }
  return 1;
}

static const luaL_Reg model_methods[] = {{"recommend", model_recommend},
                                         {"recommend_all", model_recommend_all},
                                         {"recommend_new", model_recommend_new},
                                         {"similar_items", model_similar_items},
                                         {"similar_users", model_similar_users},
                                         {"similar_items_all", model_similar_items_all},
                                         {"similar_users_all", model_similar_users_all},
                                         {"explain", model_explain},
                                         {"partial_fit_users", model_partial_fit_users},
                                         {"set_session", model_set_session},
                                         {"partial_fit_items", model_partial_fit_items},
                                         {"save", model_save},
                                         {"loss", model_loss},
                                         {NULL, NULL}};
static const luaL_Reg model_meta[] = {
    {"__tostring", model_tostring}, {"__index", model_index}, {NULL, NULL}};

static const luaL_Reg als_funcs[] = {{"train", als_train}, {"load", als_load}, {NULL, NULL}};

int luaopen_recpipe_als(lua_State *L);
int luaopen_recpipe_als(lua_State *L) {
  static const rpL_optset sets[] = {
      {"train", rp_als_train_optdesc}, {"validation", rp_als_validation_optdesc}, {NULL, NULL}};
  rpL_newtype(L, &model_class, model_methods, model_meta);
  luaL_newlib(L, als_funcs);
  rpL_setoptions(L, -1, sets);
  return 1;
}
