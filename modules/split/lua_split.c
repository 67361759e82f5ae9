/*
 * lua_split.c -- `recpipe.split` binding: random, by_time, window,
 * time_range, leave_last, per_user_time and one fold of kfold (the kfold
 * and rolling iterators are in modules/lua/split_ext.lua).  Each returns
 * the Events parts and a summary table of what was kept and dropped.
 */
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

static const char *const by_names[] = {"pair", "event", NULL};

/* A fraction strictly between 0 and 1. */
static double optfraction(lua_State *L, int idx, const char *field, double def) {
  double f = rpL_optnumber(L, idx, field, def, 0, 1);
  if (!(f > 0 && f < 1)) rpL_fielderror(L, idx, field, "must be in (0, 1), got %g", f);
  return f;
}

/* A count >= lo, saturated at INT32_MAX (so the message says "positive"
 * or "non-negative" rather than naming an int32 bound). */
static int32_t optcount(lua_State *L, int idx, const char *field, int32_t def, int32_t lo) {
  lua_Integer v = rpL_optinteger(L, idx, field, def, lo, LUA_MAXINTEGER);
  return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

static uint64_t optseed(lua_State *L, int idx) {
  return (uint64_t)rpL_optinteger(L, idx, "seed", 42, LUA_MININTEGER, LUA_MAXINTEGER);
}

/* random(ev, {test_fraction = 0.2, seed = 42, by = "pair"}) */
static int split_random(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"test_fraction", "seed", "by", NULL};
  rpL_checkopts(L, 2, known);
  double f = optfraction(L, 2, "test_fraction", 0.2);
  uint64_t seed = optseed(L, 2);
  int by = rpL_optenum(L, 2, "by", RP_SPLIT_BY_PAIR, by_names);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_random(ev, f, seed, by, train, test, &rep, &err), &err, &rep);
}

/* _fold(ev, {k = 5, fold = 1, seed = 42, by = "pair"}) */
static int split_fold(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"k", "fold", "seed", "by", NULL};
  rpL_checkopts(L, 2, known);
  int32_t k = (int32_t)rpL_optinteger(L, 2, "k", 5, 2, INT32_MAX);
  int32_t fold = (int32_t)rpL_optinteger(L, 2, "fold", 1, 1, k);
  uint64_t seed = optseed(L, 2);
  int by = rpL_optenum(L, 2, "by", RP_SPLIT_BY_PAIR, by_names);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_kfold(ev, k, fold - 1, seed, by, train, test, &rep, &err), &err, &rep);
}

/* by_time(ev, {test_fraction = 0.2} or {cutoff = T}, keep_unknown = false) */
static int split_by_time(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"test_fraction", "cutoff", "keep_unknown", NULL};
  rpL_checkopts(L, 2, known);
  int use_cutoff = rpL_hasopt(L, 2, "cutoff");
  if (use_cutoff && rpL_hasopt(L, 2, "test_fraction"))
    return rpL_fielderror(L, 2, "cutoff", "and 'test_fraction' are exclusive: give one");
  double f = optfraction(L, 2, "test_fraction", 0.2);
  int64_t cutoff = rpL_optinteger(L, 2, "cutoff", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  int keep = rpL_optboolean(L, 2, "keep_unknown", 0);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_by_time(ev, f, cutoff, use_cutoff, keep, train, test, &rep, &err), &err,
              &rep);
}

/* window(ev, {train_start, train_end, test_end, keep_unknown = false}) */
static int split_window(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"train_start", "train_end", "test_end", "keep_unknown", NULL};
  rpL_checkopts(L, 2, known);
  int64_t a = rpL_optinteger(L, 2, "train_start", LUA_MININTEGER, LUA_MININTEGER, LUA_MAXINTEGER);
  if (!rpL_hasopt(L, 2, "train_end")) return rpL_fielderror(L, 2, "train_end", "is required");
  int64_t b = rpL_optinteger(L, 2, "train_end", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  int64_t c = rpL_optinteger(L, 2, "test_end", LUA_MAXINTEGER, LUA_MININTEGER, LUA_MAXINTEGER);
  int keep = rpL_optboolean(L, 2, "keep_unknown", 0);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_window(ev, a, b, c, keep, train, test, &rep, &err), &err, &rep);
}

/* time_range(ev, {from, to}) -> events, summary */
static int split_time_range(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"from", "to", NULL};
  rpL_checkopts(L, 2, known);
  int64_t a = rpL_optinteger(L, 2, "from", LUA_MININTEGER, LUA_MININTEGER, LUA_MAXINTEGER);
  int64_t b = rpL_optinteger(L, 2, "to", LUA_MAXINTEGER, LUA_MININTEGER, LUA_MAXINTEGER);
  rp_events **out = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  rp_split_report rep;
  rp_err err;
  if (rp_split_time_range(ev, a, b, out, &rep, &err)) return rpL_error(L, &err);
  push_summary(L, &rep);
  rpL_gcpressure(L);
  return 2;
}

/* leave_last(ev, {k = 1, min_history = 2}) */
static int split_leave_last(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"k", "min_history", NULL};
  rpL_checkopts(L, 2, known);
  int32_t k = optcount(L, 2, "k", 1, 1);
  int32_t mh = optcount(L, 2, "min_history", 2, 0);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_leave_last(ev, k, mh, train, test, &rep, &err), &err, &rep);
}

/* per_user_time(ev, {test_fraction = 0.1, min_history = 2}) */
static int split_per_user_time(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T); /* options may run Lua code */
  static const char *const known[] = {"test_fraction", "min_history", NULL};
  rpL_checkopts(L, 2, known);
  double f = optfraction(L, 2, "test_fraction", 0.1);
  int32_t mh = optcount(L, 2, "min_history", 2, 0);
  rp_events **test, **train = two_boxes(L, &test);
  rp_split_report rep;
  rp_err err;
  return done(L, rp_split_per_user_time(ev, f, mh, train, test, &rep, &err), &err, &rep);
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
                                       {"by_time", split_by_time},
                                       {"window", split_window},
                                       {"time_range", split_time_range},
                                       {"leave_last", split_leave_last},
                                       {"per_user_time", split_per_user_time},
                                       {NULL, NULL}};

int luaopen_recpipe_split(lua_State *L);
int luaopen_recpipe_split(lua_State *L) {
  luaL_newlib(L, split_funcs);
  return 1;
}
