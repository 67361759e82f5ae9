/*
 * rpl.c -- binding helpers shared by every module; see rpl.h.
 */
#include "rpl.h"

#include "iotext.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void rpL_newtype(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta) {
  if (!luaL_newmetatable(L, tname)) {
    lua_pop(L, 1);
    return;
  }
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  if (methods) luaL_setfuncs(L, methods, 0);
  /* keep a user __index metamethod if meta provided one */
  lua_getfield(L, -2, "__index");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_setfield(L, -2, "__index");
  } else {
    lua_pop(L, 1);
    lua_setfield(L, -2, "methods");
  }
  lua_pop(L, 1);
}

void **rpL_newbox(lua_State *L, const char *tname) {
  void **slot = lua_newuserdatauv(L, sizeof(void *), 1);
  *slot = NULL;
  luaL_setmetatable(L, tname);
  return slot;
}

int rpL_method(lua_State *L, const char *tname, const char *name) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "methods");
  int t = lua_getfield(L, -1, name);
  lua_replace(L, -3);
  lua_pop(L, 1);
  return t;
}

void **rpL_slot(lua_State *L, int idx, const char *tname) { return luaL_checkudata(L, idx, tname); }

void *rpL_checkobj(lua_State *L, int idx, const char *tname) {
  void **slot = luaL_checkudata(L, idx, tname);
  if (!*slot) luaL_argerror(L, idx, lua_pushfstring(L, "attempt to use a freed %s", tname));
  return *slot;
}

void *rpL_testobj(lua_State *L, int idx, const char *tname) {
  void **slot = luaL_testudata(L, idx, tname);
  if (!slot) return NULL;
  if (!*slot) luaL_argerror(L, idx, lua_pushfstring(L, "attempt to use a freed %s", tname));
  return *slot;
}

int rpL_error(lua_State *L, const rp_err *err) {
  lua_pushstring(L, err->msg);
  return lua_error(L);
}

/* ---- options --------------------------------------------------------------- */
static int hastable(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return 1;
}

int rpL_fielderror(lua_State *L, int idx, const char *field, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return luaL_argerror(L, idx, lua_pushfstring(L, "field '%s' %s", field, buf));
}

static const char *shown(lua_State *L, int vidx) {
  /* a short rendering of the bad value for the message */
  if (lua_type(L, vidx) == LUA_TSTRING) return lua_pushfstring(L, "'%s'", lua_tostring(L, vidx));
  return luaL_tolstring(L, vidx, NULL);
}

static int is_allowed(const char *k, const char *const allowed[]) {
  for (int i = 0; allowed[i]; i++)
    if (strcmp(allowed[i], k) == 0) return 1;
  return 0;
}

/* An options table none of whose (several) keys is an option is most often
 * the second value of another call landing in the options slot:
 * f(m:kcore{...}) passes kcore's report to f.  Say so. */
static const char *misplaced_hint(lua_State *L, int idx, const char *const allowed[]) {
  int n = 0, known = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    n++;
    if (lua_type(L, -1) == LUA_TSTRING && is_allowed(lua_tostring(L, -1), allowed)) known++;
  }
  return n >= 2 && known == 0 ? "; is this the second value returned by another call, such as "
                                "a report? put that call in parentheses to keep only its first"
                              : "";
}

void rpL_checkopts(lua_State *L, int idx, const char *const allowed[]) {
  if (!hastable(L, idx)) return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_argerror(
          L, idx, lua_pushfstring(L, "option keys must be strings, got %s", luaL_typename(L, -1)));
    }
    const char *k = lua_tostring(L, -1);
    if (!is_allowed(k, allowed)) {
      const char *hint = misplaced_hint(L, idx, allowed);
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int i = 0; allowed[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, allowed[i]);
      }
      luaL_pushresult(&b);
      luaL_argerror(
          L, idx,
          lua_pushfstring(L, "unknown option '%s' (known: %s)%s", k, lua_tostring(L, -1), hint));
    }
  }
}

int rpL_getopt(lua_State *L, int idx, const char *field) {
  if (!hastable(L, idx)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, idx, field);
}

int rpL_hasopt(lua_State *L, int idx, const char *field) {
  int t = rpL_getopt(L, idx, field);
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

lua_Integer rpL_optinteger(lua_State *L, int idx, const char *field, lua_Integer def,
                           lua_Integer lo, lua_Integer hi) {
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || t != LUA_TNUMBER) {
    const char *s = shown(L, -1);
    return rpL_fielderror(L, idx, field, "must be an integer, got %s", s);
  }
  if (v < lo || v > hi) {
    if (lo == 1 && hi == LUA_MAXINTEGER)
      return rpL_fielderror(L, idx, field, "must be a positive integer, got %lld", (long long)v);
    if (lo == 0 && hi == LUA_MAXINTEGER)
      return rpL_fielderror(L, idx, field, "must be a non-negative integer, got %lld",
                            (long long)v);
    return rpL_fielderror(L, idx, field, "must be an integer in %lld..%lld, got %lld",
                          (long long)lo, (long long)hi, (long long)v);
  }
  lua_pop(L, 1);
  return v;
}

double rpL_optnumber(lua_State *L, int idx, const char *field, double def, double lo, double hi) {
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TNUMBER) {
    const char *s = shown(L, -1);
    return rpL_fielderror(L, idx, field, "must be a number, got %s", s);
  }
  double v = (double)lua_tonumber(L, -1);
  if (!isfinite(v) || v < lo || v > hi) {
    if (hi == HUGE_VAL)
      return rpL_fielderror(L, idx, field, "must be a finite number >= %g, got %g", lo, v);
    return rpL_fielderror(L, idx, field, "must be a number in [%g, %g], got %g", lo, hi, v);
  }
  lua_pop(L, 1);
  return v;
}

const char *rpL_optstring(lua_State *L, int idx, const char *field, const char *def) {
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TSTRING) {
    const char *s = shown(L, -1);
    return rpL_fielderror(L, idx, field, "must be a string, got %s", s), NULL;
  }
  const char *v = lua_tostring(L, -1);
  lua_pop(L, 1); /* the string stays referenced by the table */
  return v;
}

int rpL_optboolean(lua_State *L, int idx, const char *field, int def) {
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TBOOLEAN) {
    const char *s = shown(L, -1);
    return rpL_fielderror(L, idx, field, "must be a boolean, got %s", s);
  }
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

int rpL_optenum(lua_State *L, int idx, const char *field, int def, const char *const names[]) {
  const char *s = rpL_optstring(L, idx, field, NULL);
  if (!s) return def;
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; names[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addchar(&b, '\'');
    luaL_addstring(&b, names[i]);
    luaL_addchar(&b, '\'');
  }
  luaL_pushresult(&b);
  return rpL_fielderror(L, idx, field, "must be one of %s, got '%s'", lua_tostring(L, -1), s);
}

/* ---- memory ---------------------------------------------------------------- */
void *rpL_scratch(lua_State *L, size_t count, size_t size) {
  return lua_newuserdatauv(L, (count ? count : 1) * size, 0);
}

static size_t after_last_gc;

void rpL_gcpressure(lua_State *L) {
  size_t now = rp_mem_current();
  if (now > 2 * after_last_gc + ((size_t)64 << 20)) {
    lua_gc(L, LUA_GCCOLLECT);
    after_last_gc = rp_mem_current();
  }
}

/* ---- ids --------------------------------------------------------------------- */
int32_t rpL_lookup(lua_State *L, int idx, const rp_idmap *map) {
  size_t len;
  const char *s;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    /* numbers are accepted as their text: 17 -> "17" */
    s = luaL_tolstring(L, idx, &len);
    int32_t r = rp_idmap_find(map, s, len);
    lua_pop(L, 1);
    return r;
  }
  s = luaL_checklstring(L, idx, &len);
  return rp_idmap_find(map, s, len);
}

void rpL_pushid(lua_State *L, const rp_idmap *map, int32_t i) {
  size_t len;
  const char *s = rp_idmap_id(map, i, &len);
  lua_pushlstring(L, s, len);
}

int32_t *rpL_idlist(lua_State *L, int idx, const rp_idmap *map, int32_t *n) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer len = luaL_len(L, idx);
  int32_t *ix = rpL_scratch(L, (size_t)(len > 0 ? len : 0), sizeof *ix);
  *n = 0;
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, idx, i);
    int32_t j = map ? rpL_lookup(L, -1, map) : -1;
    lua_pop(L, 1);
    if (j >= 0) ix[(*n)++] = j;
  }
  return ix;
}

int32_t *rpL_optidlist(lua_State *L, int opt, const char *field, const rp_idmap *map, int32_t *n) {
  *n = 0;
  int t = rpL_getopt(L, opt, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TTABLE) {
    const char *s = shown(L, -1);
    rpL_fielderror(L, opt, field, "must be a list of ids, got %s", s);
  }
  int32_t *ix = rpL_idlist(L, -1, map, n);
  lua_remove(L, -2); /* the list stays referenced by the options */
  return ix;
}

void rpL_pushids(lua_State *L, const rp_idmap *map, const int32_t *idx, int32_t n) {
  lua_createtable(L, n, 0);
  for (int32_t a = 0; a < n; a++) {
    if (map)
      rpL_pushid(L, map, idx[a]);
    else
      lua_pushinteger(L, (lua_Integer)idx[a] + 1);
    lua_rawseti(L, -2, a + 1);
  }
}

void rpL_pushlists(lua_State *L, const rp_idmap *map, const int32_t *idx, const float *scores,
                   int32_t n) {
  rpL_pushids(L, map, idx, n);
  lua_createtable(L, n, 0);
  for (int32_t a = 0; a < n; a++) {
    lua_pushnumber(L, scores[a]);
    lua_rawseti(L, -2, a + 1);
  }
}

int rpL_nilmsg(lua_State *L, const char *fmt, int idx) {
  const char *id = luaL_tolstring(L, idx, NULL);
  lua_pushnil(L);
  lua_pushfstring(L, fmt, id);
  return 2;
}

/* ---- times ------------------------------------------------------------------- */
int64_t rpL_checktime(lua_State *L, int idx, int vidx, const char *field) {
  if (lua_type(L, vidx) == LUA_TNUMBER) {
    if (lua_isinteger(L, vidx)) return lua_tointeger(L, vidx);
    double d = floor(lua_tonumber(L, vidx));
    if (d >= -9.2e18 && d <= 9.2e18) return (int64_t)d;
  } else if (lua_type(L, vidx) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, vidx, &n);
    int64_t t;
    if (rp_parse_time_slow(s, n, RP_TIME_SECONDS, &t) == RP_PARSE_OK) return t;
  }
  return rpL_fielderror(L, idx, field, "must be Unix seconds or ISO 8601 text, got %s",
                        luaL_tolstring(L, vidx, NULL));
}
