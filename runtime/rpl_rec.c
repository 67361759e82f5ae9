/*
 * rpl_rec.c -- the Lua recommender protocol, once for every binding whose
 * objects hold an rp_recommender (ALS models, baselines, hybrids):
 * recommend(user, opts) and recommend_all(opts).  See rpl.h.  The object
 * and the exclude matrix are pinned for the call: the options' metamethods
 * and finalizers run by its allocations may free them.
 */
#include "rpl.h"

/* opts.k, capped at the catalogue: no list is longer, so no larger scratch */
static int32_t optk(lua_State *L, int opt, const rp_recommender *rec) {
  lua_Integer k = rpL_optinteger(L, opt, "k", 10, 1, 1 << 24);
  return k < rec->nitems ? (int32_t)k : rec->nitems > 0 ? rec->nitems : 1;
}

/* opts.exclude (pinned), or NULL */
static const rp_csr *optexclude(lua_State *L, int opt, const rp_recommender *rec,
                                const rpL_recspec *spec) {
  int t = rpL_getopt(L, opt, "exclude");
  /* false says "exclude nothing" (a chain's default exclusion included) */
  int none = t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1));
  if (!none && !luaL_testudata(L, -1, RP_MATRIX_T))
    rpL_fielderror(L, opt, "exclude", "must be a recpipe.Matrix or false, got %s",
                   luaL_typename(L, -1));
  lua_pop(L, 1);
  if (none) return NULL;
  rp_csr *x = rpL_pinopt(L, opt, "exclude", RP_MATRIX_T);
  if (x && spec->check_exclude) spec->check_exclude(L, opt, rec, x);
  return x;
}

int rpL_recommend(lua_State *L, const rpL_recspec *spec) {
  luaL_checkany(L, 2);
  lua_settop(L, 3); /* the options stay at 3 whatever is pushed */
  luaL_checkudata(L, 1, spec->tname);
  const rp_recommender *rec = rpL_pinrec(L, 1);
  rpL_checkopts(L, 3, spec->known);
  rpL_recreq q = {3, -1, optk(L, 3, rec), optexclude(L, 3, rec, spec), NULL, 0, NULL, 0};
  q.user = rec->users ? rpL_lookup(L, 2, rec->users) : -1;
  q.deny = rpL_optidlist(L, 3, "deny", rec->items, &q.ndeny);
  q.allow = rpL_optidlist(L, 3, "items", rec->items, &q.nallow);
  int32_t *items = rpL_scratch(L, (size_t)q.k, sizeof *items), n = 0;
  float *scores = rpL_scratch(L, (size_t)q.k, sizeof *scores);
  const char *why = NULL;
  rp_err err;
  if (spec->one(L, rec, &q, items, scores, &n, &why, &err)) return rpL_error(L, &err);
  if (why) return rpL_nilmsg(L, why, 2);
  rpL_pushlists(L, rec->items, items, scores, n);
  return 2;
}

int rpL_recommend_all(lua_State *L, const rpL_recspec *spec) {
  static const char *const known[] = {"users", "k", "exclude", "threads", NULL};
  lua_settop(L, 2); /* the options stay at 2 whatever is pushed */
  luaL_checkudata(L, 1, spec->tname);
  const rp_recommender *rec = rpL_pinrec(L, 1);
  rpL_checkopts(L, 2, spec->known_all ? spec->known_all : known);
  int32_t k = optk(L, 2, rec);
  int threads = (int)rpL_optinteger(L, 2, "threads", 0, 0, 4096);
  const rp_csr *x = optexclude(L, 2, rec, spec);
  luaL_argcheck(L, rec->users || spec->strangers, 1, "the recommender has no user map");
  int given = rpL_getopt(L, 2, "users") != LUA_TNIL, ul = lua_gettop(L);
  if (given && !lua_istable(L, ul))
    rpL_fielderror(L, 2, "users", "must be a list of ids, got %s", luaL_typename(L, ul));
  lua_Integer len = given ? luaL_len(L, ul) : rec->users ? rec->users->n : 0;
  /* users[i]: the index asked; at[i]: its position in the list given */
  int32_t *users = rpL_scratch(L, (size_t)len, sizeof *users), n = 0;
  int32_t *at = rpL_scratch(L, (size_t)len, sizeof *at);
  for (lua_Integer i = 0; i < len; i++) {
    int32_t u = (int32_t)i;
    if (given) {
      lua_rawgeti(L, ul, i + 1);
      u = rec->users ? rpL_lookup(L, -1, rec->users) : -1;
      lua_pop(L, 1);
    }
    if (u < 0 && !spec->strangers) continue;
    users[n] = u, at[n++] = (int32_t)i + 1;
  }
  size_t nk = (size_t)n * (size_t)k;
  int32_t *items = rpL_scratch(L, nk, sizeof *items), *cnt = rpL_scratch(L, (size_t)n, sizeof *cnt);
  float *scores = rpL_scratch(L, nk, sizeof *scores);
  rp_err err;
  if (spec->batch ? spec->batch(L, 2, rec, users, n, k, x, threads, items, scores, cnt, &err)
                  : rec->recommend(rec->self, users, n, k, x, threads, items, scores, cnt, &err))
    return rpL_error(L, &err);
  lua_createtable(L, 0, n);
  lua_createtable(L, 0, n);
  lua_Integer listed = 0;
  for (int32_t i = 0; i < n; i++) {
    if (cnt[i] == 0 && !(users[i] >= 0 && spec->listed && spec->listed(rec, users[i]))) continue;
    listed++;
    if (given)
      lua_rawgeti(L, ul, at[i]);
    else
      rpL_pushid(L, rec->users, users[i]);
    rpL_pushlists(L, rec->items, items + (size_t)i * k, scores + (size_t)i * k, cnt[i]);
    lua_pushvalue(L, -3); /* key, items, scores, key */
    lua_insert(L, -2);
    lua_settable(L, -5); /* scores table */
    lua_settable(L, -4); /* items table */
  }
  lua_pushinteger(L, len - listed);
  return 3;
}
