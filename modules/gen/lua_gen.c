/*
 * lua_gen.c -- `recpipe.gen` binding: rp.gen.events{...} writes a synthetic
 * e-commerce log (and its attribute and truth files) and returns a report.
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"
#include "iotext.h"
#include "rpl.h"

/* The time at the top of the stack (absent: def): Unix seconds or ISO 8601
 * text ("2024-01-01", "2024-01-01 08:00"); errors name field of the options
 * at 1.  Pops it. */
static int64_t totime(lua_State *L, const char *field, int64_t def) {
  int64_t v = def;
  int t = lua_type(L, -1);
  if (t == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (rp_parse_iso8601(s, n, &v) != RP_PARSE_OK)
      rpL_fielderror(L, 1, field, "must be Unix seconds or an ISO 8601 date, got '%s'", s);
  } else if (t != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
      rpL_fielderror(L, 1, field, "must be Unix seconds or an ISO 8601 date, got %s",
                     luaL_tolstring(L, -1, NULL));
    v = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* shift = {at = time, users, items, tilt}: the keys are read here, the
 * defaults and ranges are rp_gen_opts_init's and rp_gen_check's. */
static void read_shift(lua_State *L, rp_gen_opts *o) {
  static const char *const keys[] = {"at", "users", "items", "tilt", NULL};
  double *nums[] = {NULL, &o->shift_users, &o->shift_items, &o->shift_tilt};
  int t = rpL_getopt(L, 1, "shift");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    rpL_fielderror(L, 1, "shift", "must be a table {at = time, users, items, tilt}, got %s",
                   luaL_typename(L, -1));
  int sub = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, sub)) {
    lua_pop(L, 1);
    int ok = 0;
    for (int i = 0; keys[i] && lua_type(L, -1) == LUA_TSTRING; i++)
      ok = ok || strcmp(keys[i], lua_tostring(L, -1)) == 0;
    if (!ok)
      rpL_fielderror(L, 1, "shift", "has an unknown key '%s' (known: at, users, items, tilt)",
                     luaL_tolstring(L, -1, NULL));
  }
  char name[32];
  if (lua_getfield(L, sub, "at") == LUA_TNIL)
    rpL_fielderror(L, 1, "shift", "needs 'at' (the time of the shift: Unix seconds or ISO 8601)");
  o->shift_at = totime(L, "shift.at", -1);
  for (int i = 1; keys[i]; i++) {
    snprintf(name, sizeof name, "shift.%s", keys[i]);
    int tt = lua_getfield(L, sub, keys[i]);
    if (tt != LUA_TNIL && tt != LUA_TNUMBER)
      rpL_fielderror(L, 1, name, "must be a number, got %s", luaL_typename(L, -1));
    if (tt == LUA_TNUMBER) *nums[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void push_report(lua_State *L, const rp_gen_report *r) {
  struct {
    const char *k;
    int64_t v;
  } f[] = {{"events", r->events},       {"views", r->views},          {"addtocarts", r->carts},
           {"purchases", r->purchases}, {"sessions", r->sessions},    {"pairs", r->pairs},
           {"users", r->users},         {"items", r->items},          {"time_min", r->tmin},
           {"time_max", r->tmax},       {"bytes", (int64_t)r->bytes}, {"clusters", r->clusters}};
  lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].k);
  }
}

/* Reads the options table at 1 into o (defaults for absent fields). */
static void read_opts(lua_State *L, rp_gen_opts *o) {
  static const char *const known[] = {
      "path",     "items_path", "users_path", "truth_path", "users",       "items",
      "clusters", "events",     "seed",       "days",       "start",       "popularity",
      "activity", "affinity",   "secondary",  "session",    "cart_rate",   "purchase_rate",
      "drift",    "new_users",  "new_items",  "revisit",    "time_format", "gzip_level",
      "shift",    NULL};
  static const char *const formats[] = {"unix", "iso", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  rpL_checkopts(L, 1, known);
  rp_gen_opts_init(o);
  o->path = rpL_optstring(L, 1, "path", NULL);
  if (!o->path) rpL_fielderror(L, 1, "path", "is required (the events file to write)");
  o->items_path = rpL_optstring(L, 1, "items_path", NULL);
  o->users_path = rpL_optstring(L, 1, "users_path", NULL);
  o->truth_path = rpL_optstring(L, 1, "truth_path", NULL);
  o->users = (int32_t)rpL_optinteger(L, 1, "users", o->users, 1, 1000000000);
  o->items = (int32_t)rpL_optinteger(L, 1, "items", o->items, 1, 1000000000);
  o->clusters = (int32_t)rpL_optinteger(L, 1, "clusters", o->clusters, 1, 2000);
  o->events = rpL_optinteger(L, 1, "events", o->events, 0, LUA_MAXINTEGER);
  o->seed =
      (uint64_t)rpL_optinteger(L, 1, "seed", (lua_Integer)o->seed, LUA_MININTEGER, LUA_MAXINTEGER);
  o->days = (int32_t)rpL_optinteger(L, 1, "days", o->days, 1, 36500);
  rpL_getopt(L, 1, "start");
  o->start = totime(L, "start", o->start);
  o->popularity = rpL_optnumber(L, 1, "popularity", o->popularity, 0, 10);
  o->activity = rpL_optnumber(L, 1, "activity", o->activity, 0, 5);
  o->affinity = rpL_optnumber(L, 1, "affinity", o->affinity, 0, 1);
  o->secondary = rpL_optnumber(L, 1, "secondary", o->secondary, 0, 1);
  o->session = rpL_optnumber(L, 1, "session", o->session, 1, 50);
  o->cart_rate = rpL_optnumber(L, 1, "cart_rate", o->cart_rate, 0, 1);
  o->purchase_rate = rpL_optnumber(L, 1, "purchase_rate", o->purchase_rate, 0, 1);
  o->drift = rpL_optnumber(L, 1, "drift", o->drift, 0, 5);
  o->new_users = rpL_optnumber(L, 1, "new_users", o->new_users, 0, 1);
  o->new_items = rpL_optnumber(L, 1, "new_items", o->new_items, 0, 1);
  o->revisit = rpL_optnumber(L, 1, "revisit", o->revisit, 0, 1);
  o->gzip_level = (int)rpL_optinteger(L, 1, "gzip_level", o->gzip_level, 1, 9);
  o->time_format = rpL_optenum(L, 1, "time_format", RP_GEN_TIME_UNIX, formats);
  read_shift(L, o);
}

/* rp.gen.events{path = ..., users = ..., ...} -> report */
static int gen_events(lua_State *L) {
  rp_gen_opts o;
  read_opts(L, &o);
  rp_err err;
  rp_gen_report rep;
  if (rp_gen_events(&o, &rep, &err)) return rpL_error(L, &err);
  push_report(L, &rep);
  return 1;
}

static const luaL_Reg gen_funcs[] = {{"events", gen_events}, {NULL, NULL}};

int luaopen_recpipe_gen(lua_State *L);
int luaopen_recpipe_gen(lua_State *L) {
  luaL_newlib(L, gen_funcs);
  return 1;
}
