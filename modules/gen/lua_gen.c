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

/* Reads the options table at 1 into o: names, defaults and ranges are the
 * core's (rp_gen_optdesc); the shift table is read here. */
static void read_opts(lua_State *L, rp_gen_opts *o) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rp_gen_opts_init(o);
  rpL_readopts(L, 1, rp_gen_optdesc, o);
  if (!o->path) rpL_fielderror(L, 1, "path", "is required (the events file to write)");
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
static const rpL_optset gen_sets[] = {{"events", rp_gen_optdesc}, {NULL, NULL}};

int luaopen_recpipe_gen(lua_State *L);
int luaopen_recpipe_gen(lua_State *L) {
  luaL_newlib(L, gen_funcs);
  rpL_setoptions(L, -1, gen_sets);
  return 1;
}
