/*
 * lua_baseline.c -- `recpipe.baseline` binding: popularity, random and
 * item_knn constructors, and the `recpipe.Baseline` type with the
 * recommender protocol (recommend, recommend_all, __recommender) and
 * similar_items for item-kNN.
 */
#include <math.h>
#include <string.h>

#include "baseline.h"
#include "rpl.h"

#define RP_BASELINE_T "recpipe.Baseline"

static void base_destroy(void *b) { rp_baseline_free(b); }
static rp_recommender *base_rec(lua_State *L, int idx, void *b) { return &((rp_baseline *)b)->rec; }
static const rpL_class base_class = {RP_BASELINE_T, base_destroy, base_rec};

static void **newbox(lua_State *L) { return rpL_newbox(L, RP_BASELINE_T); }

static int done(lua_State *L, int rc, const rp_err *err) {
  if (rc) return rpL_error(L, err);
  rpL_gcpressure(L);
  return 1;
}

/* ---- constructors ------------------------------------------------------------ */
/* popularity(train_events_or_matrix, {half_life_days, now, by = "users"}) */
static int base_popularity(lua_State *L) {
  rp_pop_opts o = {0};
  rpL_readopts(L, 2, rp_pop_optdesc, &o);
  double hl = rpL_optnumber(L, 2, "half_life_days", 0, 0, HUGE_VAL);
  if (rpL_hasopt(L, 2, "half_life_days") && !(hl > 0))
    rpL_fielderror(L, 2, "half_life_days", "must be a positive number of days, got %g", hl);
  o.half_life = hl * 86400.0;
  o.has_now = rpL_hasopt(L, 2, "now");
  o.now = rpL_optinteger(L, 2, "now", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  lua_settop(L, 2);
  int isev = luaL_testudata(L, 1, RP_EVENTS_T) != NULL;
  if (!isev && !luaL_testudata(L, 1, RP_MATRIX_T))
    return luaL_typeerror(L, 1, "recpipe.Events or recpipe.Matrix");
  rp_events *ev = isev ? rpL_pin(L, 1, RP_EVENTS_T) : NULL;
  rp_csr *m = isev ? NULL : rpL_pin(L, 1, RP_MATRIX_T);
  void **slot = newbox(L);
  rp_err err;
  int rc = ev ? rp_popularity_fit_events(ev, &o, (rp_popularity **)slot, &err)
              : rp_popularity_fit_matrix(m, &o, (rp_popularity **)slot, &err);
  return done(L, rc, &err);
}

/* random(train_matrix, {seed = 42}) */
static int base_random(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  rp_randrec_opts o;
  rpL_readopts(L, 2, rp_randrec_optdesc, &o);
  void **slot = newbox(L);
  rp_err err;
  return done(L, rp_randrec_fit(m, o.seed, (rp_randrec **)slot, &err), &err);
}

/* item_knn(train_matrix, {k = 50, similarity = "cosine", shrink, k1, b, threads}) */
static int base_item_knn(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  rp_knn_opts o;
  rpL_readopts(L, 2, rp_knn_optdesc, &o);
  void **slot = newbox(L);
  rp_err err;
  return done(L, rp_itemknn_fit(m, &o, (rp_itemknn **)slot, &err), &err);
}

/* ---- the recommender protocol --------------------------------------------------- */
/* One request of b:recommend (rpL_recommend); item-kNN has nothing for a
 * user without history. */
static int recommend_one(lua_State *L, const rp_recommender *rec, rpL_recreq *q, int32_t *items,
                         float *scores, int32_t *n, const char **why, rp_err *err) {
  const rp_baseline *b = rec->self;
  if ((q->user < 0 || q->user >= rec->nusers) && b->kind == RP_BASE_ITEMKNN)
    return *why = "unknown user '%s'", RP_OK;
  return rp_baseline_recommend_for(b, q->user, q->k, q->exclude, q->deny, q->ndeny, q->allow,
                                   q->nallow, items, scores, n, err);
}

/* every user on the map is listed, even when everything was excluded */
static int on_map(const rp_recommender *rec, int32_t u) { return 1; }

static const char *const rec_known[] = {"k", "exclude", "items", "deny", NULL};
static const rpL_recspec rec_spec = {RP_BASELINE_T, rec_known, recommend_one, NULL,
                                     on_map,        1,         NULL,          NULL};

/* b:recommend(user_id, {k = 10, exclude = matrix, items = allow, deny = list})
 * -> items, scores  |  nil, message (item-kNN: a user it has no history for) */
static int base_recommend(lua_State *L) { return rpL_recommend(L, &rec_spec); }

/* b:recommend_all{users = ids or nil (all), k = 10, exclude = matrix, threads}
 * -> {user_id = items}, {user_id = scores} */
static int base_recommend_all(lua_State *L) { return rpL_recommend_all(L, &rec_spec); }

/* b:similar_items(item_id, {k = 10}) -> items, scores (item-kNN only) */
static int base_similar_items(lua_State *L) {
  luaL_checkudata(L, 1, RP_BASELINE_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 3);
  rp_baseline *b = rpL_pin(L, 1, RP_BASELINE_T);
  static const char *const known[] = {"k", NULL};
  rpL_checkopts(L, 3, known);
  int32_t k = (int32_t)rpL_optinteger(L, 3, "k", 10, 1, 1 << 24);
  if (b->kind != RP_BASE_ITEMKNN)
    return luaL_error(L, "similar_items needs an item-kNN model (this is '%s')", b->rec.name);
  int32_t it = b->rec.items ? rpL_lookup(L, 2, b->rec.items) : -1;
  if (it < 0 || it >= b->nitems) return rpL_nilmsg(L, "unknown item '%s'", 2);
  int32_t *items = lua_newuserdatauv(L, (size_t)k * sizeof *items, 0), n;
  float *scores = lua_newuserdatauv(L, (size_t)k * sizeof *scores, 0);
  rp_err err;
  if (rp_itemknn_similar((rp_itemknn *)b, it, k, items, scores, &n, &err))
    return rpL_error(L, &err);
  rpL_pushlists(L, b->rec.items, items, scores, n);
  return 2;
}

static int base_tostring(lua_State *L) {
  rp_baseline *b = *rpL_slot(L, 1, RP_BASELINE_T);
  if (!b)
    lua_pushstring(L, "recpipe.Baseline(freed)");
  else if (b->kind == RP_BASE_ITEMKNN)
    lua_pushfstring(L, "recpipe.Baseline(item_knn, %d items, %I neighbours)", b->nitems,
                    (lua_Integer)((rp_itemknn *)b)->sim->nnz);
  else
    lua_pushfstring(L, "recpipe.Baseline(%s, %d items)", b->rec.name, b->nitems);
  return 1;
}

/* b.name, b.items (catalogue size), b.neighbours (item-kNN); other keys are methods */
static int base_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  rp_baseline *b = rpL_indexobj(L, RP_BASELINE_T, k);
  if (!b) return 1; /* a method of a freed object (free) */
  if (strcmp(k, "name") == 0) {
    lua_pushstring(L, b->rec.name);
  } else if (strcmp(k, "nitems") == 0) {
    lua_pushinteger(L, b->nitems);
  } else if (strcmp(k, "neighbours") == 0 && b->kind == RP_BASE_ITEMKNN) {
    lua_pushinteger(L, (lua_Integer)((rp_itemknn *)b)->sim->nnz);
  } else if (strcmp(k, "fit_seconds") == 0 && b->kind == RP_BASE_ITEMKNN) {
    lua_pushnumber(L, ((rp_itemknn *)b)->seconds);
  } else {
    rpL_method(L, RP_BASELINE_T, k);
  }
  return 1;
}

static const luaL_Reg base_methods[] = {{"recommend", base_recommend},
                                        {"recommend_all", base_recommend_all},
                                        {"similar_items", base_similar_items},
                                        {NULL, NULL}};
static const luaL_Reg base_meta[] = {
    {"__tostring", base_tostring}, {"__index", base_index}, {NULL, NULL}};

static const luaL_Reg baseline_funcs[] = {{"popularity", base_popularity},
                                          {"random", base_random},
                                          {"item_knn", base_item_knn},
                                          {NULL, NULL}};

int luaopen_recpipe_baseline(lua_State *L);
int luaopen_recpipe_baseline(lua_State *L) {
  static const rpL_optset sets[] = {{"popularity", rp_pop_optdesc},
                                    {"random", rp_randrec_optdesc},
                                    {"item_knn", rp_knn_optdesc},
                                    {NULL, NULL}};
  rpL_newtype(L, &base_class, base_methods, base_meta);
  luaL_newlib(L, baseline_funcs);
  rpL_setoptions(L, -1, sets);
  return 1;
}
