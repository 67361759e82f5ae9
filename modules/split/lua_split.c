/*
 * lua_split.c -- `recpipe.split` binding: random, by_time, window,
 * time_range, leave_last, per_user_time, one fold of kfold (the kfold
 * and rolling iterators are in split_ext.lua beside this file) and the
 * cold-start splits cold_users and cold_items.  Each returns
 * the Events parts and a summary table of what was kept and dropped.
 */
#include <string.h>

#include "rpl.h"
#include "split.h"

static void setint(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static void push_summary(lua_State *L, const rp_split_report *r) {
  lua_createtable(L, 0, 14);
  setint(L, "input", r->input);
  setint(L, "train", r->train);
  setint(L, "test", r->test);
  setint(L, "dropped", r->dropped);
  setint(L, "dropped_user_events", r->dropped_user_events);
  setint(L, "dropped_item_events", r->dropped_item_events);
  setint(L, "outside", r->outside);
  setint(L, "unknown_users", r->unknown_users);
  setint(L, "unknown_items", r->unknown_items);
  setint(L, "test_users", r->test_users);
  setint(L, "short_users", r->short_users);
  if (r->has_cutoff) setint(L, "cutoff", r->cutoff);
}

/* Pushes two empty Events boxes (train, test) and returns their slots; the
 * core fills them, so a Lua memory error can never leak a result. */
static rp_events **two_boxes(lua_State *L, rp_events ***test) {
  rp_events **train = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  *test = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  return train;
}

static int done(lua_State *L, int rc, const rp_err *err, const rp_split_report *rep) {
  if (rc) return rpL_error(L, err);
  push_summary(L, rep);
  rpL_gcpressure(L);
  return 3;
}

/* An int64 count option saturated to int32 (the descriptors bound it below
 * only, so a huge k says "positive integer" rather than an int32 bound). */
static int32_t sat32(int64_t v) { return v > INT32_MAX ? INT32_MAX : (int32_t)v; }

/* The options at idx through fname's descriptors (split_opts.c: names,
 * defaults and ranges are the core's). */
static void readopts(lua_State *L, int idx, const rp_optdesc *d, rp_split_opts *o) {
  memset(o, 0, sizeof *o);
  rpL_readopts(L, idx, d, o);
}

/* random(ev, {test_fraction = 0.2, seed = 42, by = "pair"}) */
static int split_random(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_random_optdesc, &o);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_random(ev, o.test_fraction, o.seed, o.by, train, test, &rep, &err), &err,
              &rep);
}

/* _fold(ev, {k = 5, fold = 1, seed = 42, by = "pair"}) */
static int split_fold(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_fold_optdesc, &o);
  if (o.fold > o.k)
    return rpL_fielderror(L, 2, "fold", "must be in 1..%lld, got %lld", (long long)o.k,
                          (long long)o.fold);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(
      L, rp_split_kfold(ev, sat32(o.k), sat32(o.fold) - 1, o.seed, o.by, train, test, &rep, &err),
      &err, &rep);
}

/* by_time(ev, {test_fraction = 0.2} or {cutoff = T}, keep_unknown = false) */
static int split_by_time(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_by_time_optdesc, &o);
  int use_cutoff = rpL_hasopt(L, 2, "cutoff");
  if (use_cutoff && rpL_hasopt(L, 2, "test_fraction"))
    return rpL_fielderror(L, 2, "cutoff", "and 'test_fraction' are exclusive: give one");
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L,
              rp_split_by_time(ev, o.test_fraction, o.cutoff, use_cutoff, o.keep_unknown, train,
                               test, &rep, &err),
              &err, &rep);
}

/* window(ev, {train_start, train_end, test_end, keep_unknown = false}) */
static int split_window(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_window_optdesc, &o);
  if (!rpL_hasopt(L, 2, "train_end")) return rpL_fielderror(L, 2, "train_end", "is required");
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L,
              rp_split_window(ev, o.train_start, o.train_end, o.test_end, o.keep_unknown, train,
                              test, &rep, &err),
              &err, &rep);
}

/* time_range(ev, {from, to}) -> events, summary */
static int split_time_range(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_time_range_optdesc, &o);
  rp_events **out = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  rp_split_report rep;
  rp_err err;
  if (rp_split_time_range(ev, o.from, o.to, out, &rep, &err)) return rpL_error(L, &err);
  push_summary(L, &rep);
  rpL_gcpressure(L);
  return 2;
}

/* leave_last(ev, {k = 1, min_history = 2}) */
static int split_leave_last(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_leave_last_optdesc, &o);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_leave_last(ev, sat32(o.k), sat32(o.min_history), train, test, &rep, &err),
              &err, &rep);
}

/* per_user_time(ev, {test_fraction = 0.1, min_history = 2}) */
static int split_per_user_time(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  rp_split_opts o;
  readopts(L, 2, rp_split_per_user_time_optdesc, &o);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(
      L, rp_split_per_user_time(ev, o.test_fraction, sat32(o.min_history), train, test, &rep, &err),
      &err, &rep);
}

/* ---- cold-start splits ------------------------------------------------------------------ */
/* Reads opts.reveal into reveal[] (absent: o's, the core's default) and
 * points o at it; returns the count. */
static int reveal_sizes(lua_State *L, int opt, int32_t *reveal, rp_split_cold_opts *o) {
  int n = o->nreveal;
  memcpy(reveal, o->reveal, (size_t)n * sizeof *reveal);
  if (rpL_getopt(L, opt, "reveal") != LUA_TNIL) {
    if (!lua_istable(L, -1)) rpL_fielderror(L, opt, "reveal", "must be a list of sizes");
    n = (int)luaL_len(L, -1);
    if (n < 1 || n > RP_SPLIT_MAX_REVEAL)
      rpL_fielderror(L, opt, "reveal", "must list 1 to %d sizes", RP_SPLIT_MAX_REVEAL);
    for (int r = 0; r < n; r++) {
      lua_geti(L, -1, r + 1);
      lua_Integer v = lua_tointeger(L, -1);
      if (!lua_isinteger(L, -1) || v < 0 || v > INT32_MAX)
        rpL_fielderror(L, opt, "reveal", "must hold non-negative integers");
      reveal[r] = (int32_t)v;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  o->reveal = reveal;
  o->nreveal = n;
  return n;
}

/* cold_users(ev, {fraction, folds, fold, reveal, seed, min_events,
 * same_test}) -> train, cases, summary.  Every box and table is made before
 * the split, so the split's results are owned by Lua as soon as they exist. */
static int split_cold_users(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  rp_split_cold_opts o;
  int32_t reveal[RP_SPLIT_MAX_REVEAL];
  rp_split_cold_opts_init(&o); /* reveal: the default list */
  rpL_readopts(L, 2, rp_split_cold_users_optdesc, &o);
  int nrev = reveal_sizes(L, 2, reveal, &o);
  void **train = rpL_newbox(L, RP_EVENTS_T), **known_s[RP_SPLIT_MAX_REVEAL],
       **test_s[RP_SPLIT_MAX_REVEAL];
  lua_createtable(L, nrev, 0);
  for (int r = 0; r < nrev; r++) {
    lua_createtable(L, 0, 4);
    known_s[r] = rpL_newbox(L, RP_EVENTS_T);
    lua_setfield(L, -2, "known");
    test_s[r] = rpL_newbox(L, RP_EVENTS_T);
    lua_setfield(L, -2, "test");
    lua_rawseti(L, -2, r + 1);
  }
  int32_t *copy = rpL_scratch(L, (size_t)ev->users->n, sizeof *copy);
  lua_insert(L, -3); /* below train and cases */
  rp_split_cold c;
  rp_err err;
  if (rp_split_cold_users(ev, &o, &c, &err)) return rpL_error(L, &err);
  *train = c.train;
  for (int r = 0; r < nrev; r++) *known_s[r] = c.known[r], *test_s[r] = c.test[r];
  int32_t *users = c.users, nusers = c.nusers;
  int32_t test_users[RP_SPLIT_MAX_REVEAL];
  memcpy(test_users, c.test_users, sizeof test_users);
  memcpy(copy, users, (size_t)nusers * sizeof *copy);
  rp_free(users);
  for (int r = 0; r < nrev; r++) {
    lua_geti(L, -1, r + 1);
    setint(L, "reveal", reveal[r]);
    setint(L, "test_users", test_users[r]);
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 2);
  rpL_pushids(L, ev->users, copy, nusers);
  lua_setfield(L, -2, "users");
  setint(L, "held_out", nusers);
  lua_remove(L, -4); /* the copy */
  rpL_gcpressure(L);
  return 3;
}

/* cold_items(ev, {fraction, seed}) -> train, test, summary */
static int split_cold_items(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  rp_split_cold_opts o;
  rp_split_cold_opts_init(&o);
  rpL_readopts(L, 2, rp_split_cold_items_optdesc, &o);
  double fraction = o.fraction;
  uint64_t seed = o.seed;
  void **train = rpL_newbox(L, RP_EVENTS_T), **test = rpL_newbox(L, RP_EVENTS_T);
  int32_t *copy = rpL_scratch(L, (size_t)ev->items->n, sizeof *copy);
  int32_t *items = NULL, nitems = 0;
  rp_err err;
  if (rp_split_cold_items(ev, fraction, seed, (rp_events **)train, (rp_events **)test, &items,
                          &nitems, &err))
    return rpL_error(L, &err);
  memcpy(copy, items, (size_t)nitems * sizeof *copy);
  rp_free(items);
  lua_createtable(L, 0, 2);
  rpL_pushids(L, ev->items, copy, nitems);
  lua_setfield(L, -2, "items");
  setint(L, "held_out", nitems);
  lua_remove(L, -2); /* the copy */
  rpL_gcpressure(L);
  return 3;
}

/* time(v) -> Unix seconds of v: an integer, a number (floored) or ISO 8601
 * text ("2024-03-01", "2024-03-01 12:00:00", UTC without an offset) */
static int split_time(lua_State *L) {
  int64_t t;
  luaL_checkany(L, 1);
  if (!rpL_totime(L, 1, &t))
    return luaL_argerror(L, 1,
                         lua_pushfstring(L, "must be Unix seconds or an ISO 8601 date, got %s",
                                         lua_type(L, 1) == LUA_TSTRING
                                             ? lua_pushfstring(L, "'%s'", lua_tostring(L, 1))
                                             : luaL_tolstring(L, 1, NULL)));
  lua_pushinteger(L, (lua_Integer)t);
  return 1;
}

/* _span(ev) -> tmin, tmax (nothing when no time column or no rows) */
static int split_span(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  int64_t a, b;
  if (!rp_events_time_range(ev, &a, &b)) return 0;
  lua_pushinteger(L, (lua_Integer)a);
  lua_pushinteger(L, (lua_Integer)b);
  return 2;
}

static const luaL_Reg split_funcs[] = {{"_span", split_span},
                                       {"random", split_random},
                                       {"_fold", split_fold},
                                       {"time", split_time},
                                       {"by_time", split_by_time},
                                       {"window", split_window},
                                       {"time_range", split_time_range},
                                       {"leave_last", split_leave_last},
                                       {"per_user_time", split_per_user_time},
                                       {"cold_users", split_cold_users},
                                       {"cold_items", split_cold_items},
                                       {NULL, NULL}};

int luaopen_recpipe_split(lua_State *L);
static const rpL_optset split_sets[] = {{"random", rp_split_random_optdesc},
                                        {"kfold", rp_split_kfold_optdesc},
                                        {"by_time", rp_split_by_time_optdesc},
                                        {"window", rp_split_window_optdesc},
                                        {"time_range", rp_split_time_range_optdesc},
                                        {"leave_last", rp_split_leave_last_optdesc},
                                        {"per_user_time", rp_split_per_user_time_optdesc},
                                        {"rolling", rp_split_rolling_optdesc},
                                        {"cold_users", rp_split_cold_users_optdesc},
                                        {"cold_items", rp_split_cold_items_optdesc},
                                        {NULL, NULL}};

int luaopen_recpipe_split(lua_State *L) {
  luaL_newlib(L, split_funcs);
  rpL_setoptions(L, -1, split_sets);
  return 1;
}
