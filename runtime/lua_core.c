/*
 * lua_core.c -- `recpipe.core`: version, memory accounting, clocks, the
 * package's paths and the allocation fault switch for tests.
 */
#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "rp.h"

/* rp.memory() -> {current = bytes, peak = bytes, lua = bytes} */
static int core_memory(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)rp_mem_current());
  lua_setfield(L, -2, "current");
  lua_pushinteger(L, (lua_Integer)rp_mem_peak());
  lua_setfield(L, -2, "peak");
  lua_pushinteger(L, (lua_Integer)lua_gc(L, LUA_GCCOUNT) * 1024 + lua_gc(L, LUA_GCCOUNTB));
  lua_setfield(L, -2, "lua");
  return 1;
}

static int core_reset_peak(lua_State *L) {
  (void)L;
  rp_mem_reset_peak();
  return 0;
}

/* rp._fail_alloc(n): the n-th core allocation from now fails (0 disarms);
 * returns whether an armed failure fired and the allocations counted. */
static int core_fail_alloc(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int fired = rp_mem_failed();
  long count = rp_mem_count_since_arm();
  rp_mem_fail_after((long)n);
  lua_pushboolean(L, fired);
  lua_pushinteger(L, count);
  return 2;
}

static int core_clock(lua_State *L) {
  lua_pushnumber(L, rp_now());
  return 1;
}

static int core_cores(lua_State *L) {
  lua_pushinteger(L, rp_num_cores());
  return 1;
}

static const luaL_Reg core_funcs[] = {
    {"memory", core_memory}, {"reset_peak", core_reset_peak}, {"_fail_alloc", core_fail_alloc},
    {"clock", core_clock},   {"cores", core_cores},           {NULL, NULL}};

int luaopen_recpipe_core(lua_State *L) {
  luaL_newlib(L, core_funcs);
  lua_pushstring(L, RP_VERSION);
  lua_setfield(L, -2, "version");
  lua_createtable(L, 0, 3);
  lua_pushstring(L, rp_host_exe());
  lua_setfield(L, -2, "exe");
  lua_pushstring(L, rp_host_luadir());
  lua_setfield(L, -2, "lua");
  lua_pushstring(L, rp_host_pipelinedir());
  lua_setfield(L, -2, "pipelines");
  lua_setfield(L, -2, "paths");
  return 1;
}
