/*
 * lua_log.c -- `recpipe.log`: rp.log.info/warn/debug/error to stderr with
 * elapsed time (formatted as string.format when given more arguments), the
 * level, and a progress bar drawn only on a terminal.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "rp.h"

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static int emit(lua_State *L, int level) {
  if (level > rp_log_level()) return 0;
  int n = lua_gettop(L);
  if (n > 1) {
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    lua_insert(L, 1);
    lua_pop(L, 1);
    if (lua_pcall(L, n, 1, 0) != LUA_OK) {
      /* the arguments are ours: "bad argument #2 to 'info'", not 'format' */
      const char *msg = luaL_tolstring(L, -1, NULL);
      char name[16];
      snprintf(name, sizeof name, "'%s'", levels[level]);
      luaL_gsub(L, luaL_gsub(L, msg, "'string.format'", name), "'format'", name);
      return lua_error(L);
    }
  } else {
    luaL_tolstring(L, 1, NULL);
  }
  rp_log(level, "%s", lua_tostring(L, -1));
  return 0;
}

static int log_error(lua_State *L) { return emit(L, RP_LOG_ERROR); }
static int log_warn(lua_State *L) { return emit(L, RP_LOG_WARN); }
static int log_info(lua_State *L) { return emit(L, RP_LOG_INFO); }
static int log_debug(lua_State *L) { return emit(L, RP_LOG_DEBUG); }

/* rp.log.level() -> name; rp.log.level(name) sets it */
static int log_level(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    int lv = luaL_checkoption(L, 1, NULL, levels);
    rp_log_set_level(lv);
  }
  lua_pushstring(L, levels[rp_log_level()]);
  return 1;
}

/* rp.log.progress(what, done, total[, finish]) */
static int log_progress(lua_State *L) {
  const char *what = luaL_checkstring(L, 1);
  double done = (double)luaL_checknumber(L, 2);
  double total = (double)luaL_optnumber(L, 3, 0);
  rp_progress(what, done, total, lua_toboolean(L, 4));
  return 0;
}

static const luaL_Reg funcs[] = {
    {"error", log_error}, {"warn", log_warn},         {"info", log_info}, {"debug", log_debug},
    {"level", log_level}, {"progress", log_progress}, {NULL, NULL}};

int luaopen_recpipe_log(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
