/*
 * lua_io.c -- `recpipe.io` binding: read_events, idmap and concat.  The
 * IdMap and Events types they return are the runtime's (runtime/lua_data.c);
 * arguments are checked here, the work is in the io core (reader.c) and
 * runtime/core (idmap.c, events.c, concat.c).
 */
#include <string.h>
#include <sys/stat.h>

#include "reader.h"
#include "rpl.h"

/* rp.io.idmap([ids]) -> a new IdMap holding ids in order (repeats once) */
static int io_idmap(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  rpL_pushidmap(L, NULL); /* 2 */
  void **slot = lua_touserdata(L, 2);
  rp_err err;
  if (!(*slot = rp_idmap_new(&err))) return rpL_error(L, &err);
  rp_idmap *m = rpL_pin(L, 2, RP_IDMAP_T); /* the loop allocates */
  lua_Integer n = lua_isnoneornil(L, 1) ? 0 : (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer k = 1; k <= n; k++) {
    lua_rawgeti(L, 1, k);
    size_t len;
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && !(t == LUA_TNUMBER && lua_isinteger(L, -1)))
      return luaL_argerror(
          L, 1, lua_pushfstring(L, "ids must be strings, got %s at [%I]", luaL_typename(L, -1), k));
    const char *s = lua_tolstring(L, -1, &len); /* an integer becomes its text */
    int32_t i;
    if (rp_idmap_intern(m, s, len, &i, &err)) return rpL_error(L, &err);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, 2);
  return 1;
}

/* ---- read_events ---------------------------------------------------------------- */
static int colref(lua_State *L, int idx, int vidx, const char *field, rp_io_colref *c) {
  int t = lua_type(L, vidx);
  if (t == LUA_TSTRING) {
    c->name = lua_tostring(L, vidx);
    c->pos = 0;
  } else if (t == LUA_TNUMBER && lua_isinteger(L, vidx) && lua_tointeger(L, vidx) >= 1 &&
             lua_tointeger(L, vidx) <= 100000) {
    c->pos = (int)lua_tointeger(L, vidx);
    c->name = NULL;
  } else if (t != LUA_TNIL) {
    return rpL_fielderror(L, idx, field, "must be a column name or a 1-based position, got %s",
                          luaL_tolstring(L, vidx, NULL));
  }
  return t != LUA_TNIL;
}

static void optcol(lua_State *L, const char *field, rp_io_colref *c) {
  rpL_getopt(L, 2, field);
  colref(L, 2, -1, field, c);
  lua_pop(L, 1);
}

static void optcontext(lua_State *L, rp_io_read_opts *o) {
  int t = rpL_getopt(L, 2, "context");
  if (t == LUA_TNIL) return;
  if (t != LUA_TTABLE || lua_rawlen(L, -1) > RP_MAX_CONTEXT)
    rpL_fielderror(L, 2, "context", "must be a list of at most %d column names or positions",
                   RP_MAX_CONTEXT);
  o->ncontext = (int)lua_rawlen(L, -1);
  for (int k = 0; k < o->ncontext; k++) {
    lua_rawgeti(L, -1, k + 1);
    colref(L, 2, -1, "context", &o->context[k]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* the strings stay referenced by the options table */
}

/* time_context = {"hour", "weekday"} -> RP_TIMECTX_* bits */
static void opttimecontext(lua_State *L, rp_io_read_opts *o) {
  int t = rpL_getopt(L, 2, "time_context");
  if (t != LUA_TNIL) {
    if (t != LUA_TTABLE) rpL_fielderror(L, 2, "time_context", "must be a list of hour, weekday");
    for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, -1); k++) {
      lua_rawgeti(L, -1, k);
      const char *s = lua_tostring(L, -1);
      if (s && strcmp(s, "hour") == 0)
        o->time_context |= RP_TIMECTX_HOUR;
      else if (s && strcmp(s, "weekday") == 0)
        o->time_context |= RP_TIMECTX_WEEKDAY;
      else
        rpL_fielderror(L, 2, "time_context", "must be a list of hour, weekday, got '%s'",
                       s ? s : luaL_typename(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

static void optweights(lua_State *L, rp_io_read_opts *o) {
  if (rpL_getopt(L, 2, "weights") != LUA_TNIL)
    o->nweights =
        rpL_checkweights(L, 2, "weights", lua_gettop(L), o->weight_names, o->weight_values);
  lua_pop(L, 1); /* the strings stay referenced by the options table */
}

/* (pinned: read_events runs on it) */
static rp_idmap *optmap(lua_State *L, const char *field) {
  return rpL_pinopt(L, 2, field, RP_IDMAP_T);
}

/* names, defaults and ranges: rp_io_read_optdesc (reader.c); the columns,
 * weights, context and maps are read here */
static void checkreadopts(lua_State *L, rp_io_read_opts *o) {
  rp_io_read_opts_init(o);
  rpL_readopts(L, 2, rp_io_read_optdesc, o);
  optcol(L, "user", &o->user);
  optcol(L, "item", &o->item);
  optcol(L, "value", &o->value);
  optcol(L, "time", &o->time);
  optcol(L, "event", &o->event);
  optcontext(L, o);
  opttimecontext(L, o);
  optweights(L, o);
  o->users = optmap(L, "users");
  o->items = optmap(L, "items");
}

static void pushreport(lua_State *L, const rp_io_read_report *r) {
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, r->lines), lua_setfield(L, -2, "lines");
  lua_pushinteger(L, r->rows), lua_setfield(L, -2, "rows");
  lua_pushinteger(L, r->skipped), lua_setfield(L, -2, "skipped");
  if (r->torn_line) lua_pushinteger(L, r->torn_line), lua_setfield(L, -2, "torn_line");
  lua_pushinteger(L, r->dropped_unknown), lua_setfield(L, -2, "dropped_unknown");
  lua_pushinteger(L, r->dropped_type), lua_setfield(L, -2, "dropped_type");
  lua_createtable(L, r->nfirst, 0);
  for (int k = 0; k < r->nfirst; k++) {
    lua_pushstring(L, r->first[k]);
    lua_rawseti(L, -2, k + 1);
  }
  lua_setfield(L, -2, "first_errors");
  lua_pushinteger(L, (lua_Integer)r->bytes), lua_setfield(L, -2, "bytes");
  lua_pushnumber(L, r->seconds), lua_setfield(L, -2, "seconds");
  lua_pushstring(L, r->sep), lua_setfield(L, -2, "sep");
  lua_pushinteger(L, r->fields), lua_setfield(L, -2, "fields");
}

/* The files read_events gets at 1: a list of paths, or a glob pattern
 * (a string with * ? or [ naming no existing file); NULL for one path. */
static const char *const *pathlist(lua_State *L, int64_t *n) {
  if (lua_type(L, 1) == LUA_TTABLE) {
    lua_Integer k, len = (lua_Integer)lua_rawlen(L, 1);
    luaL_argcheck(L, len >= 1, 1, "an empty list of files");
    const char **v = rpL_scratch(L, (size_t)len, sizeof *v);
    for (k = 1; k <= len; k++) {
      if (lua_rawgeti(L, 1, k) != LUA_TSTRING)
        luaL_argerror(L, 1,
                      lua_pushfstring(L, "file %I is a %s, not a path", k, luaL_typename(L, -1)));
      v[k - 1] = lua_tostring(L, -1); /* kept alive by the list */
      lua_pop(L, 1);
    }
    *n = len;
    return v;
  }
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (!strpbrk(path, "*?[") || stat(path, &st) == 0) return NULL;
  char **v;
  rp_err err;
  if (rp_io_read_glob(path, &v, n, &err)) rpL_error(L, &err);
  /* the list lives in a Lua string until the read is done */
  size_t bytes = 0;
  for (int64_t k = 0; k < *n; k++) bytes += strlen(v[k]) + 1;
  char *text = lua_newuserdatauv(L, bytes + 1, 0);
  const char **list = rpL_scratch(L, (size_t)*n, sizeof *list);
  for (int64_t k = 0, at = 0; k < *n; k++) {
    size_t len = strlen(v[k]) + 1;
    memcpy(text + at, v[k], len);
    list[k] = text + at;
    at += (int64_t)len;
  }
  rp_free(v);
  return list;
}

/* rp.io.read_events(path | {paths} | glob, opts) -> Events, report */
static int io_read_events(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE) luaL_checkstring(L, 1);
  lua_settop(L, 2);
  rp_io_read_opts o;
  checkreadopts(L, &o);
  int64_t n = 0;
  const char *const *paths = pathlist(L, &n);
  rp_events **slot = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  rp_io_read_report rep;
  rp_err err;
  if (paths ? rp_io_read_events_files(paths, n, &o, slot, &rep, &err)
            : rp_io_read_events(lua_tostring(L, 1), &o, slot, &rep, &err))
    return rpL_error(L, &err);
  pushreport(L, &rep);
  if (paths) lua_pushinteger(L, (lua_Integer)n), lua_setfield(L, -2, "files");
  rpL_gcpressure(L);
  return 2;
}

/* rp.io.concat{ev1, ev2, ...} -> Events (rp_events_concat) */
static int io_concat(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  luaL_argcheck(L, n >= 1 && n <= INT32_MAX, 1, "a non-empty list of recpipe.Events expected");
  rp_events **parts = rpL_scratch(L, (size_t)n, sizeof *parts);
  for (lua_Integer k = 1; k <= n; k++) {
    lua_rawgeti(L, 1, k);
    if (!(parts[k - 1] = rpL_testobj(L, -1, RP_EVENTS_T)))
      return luaL_argerror(
          L, 1,
          lua_pushfstring(L, "item %I is a %s, not a recpipe.Events", k, luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  rp_err err;
  rp_events *ev = rp_events_concat(parts, (int)n, &err);
  if (!ev) return rpL_error(L, &err);
  rpL_pushevents(L, ev);
  rpL_gcpressure(L);
  return 1;
}

static const luaL_Reg io_funcs[] = {
    {"read_events", io_read_events}, {"idmap", io_idmap}, {"concat", io_concat}, {NULL, NULL}};

int luaopen_recpipe_io(lua_State *L);
int luaopen_recpipe_io(lua_State *L) {
  luaL_newlib(L, io_funcs);
  static const rpL_optset sets[] = {
      {"read_events", rp_io_read_optdesc}, {"to_matrix", rp_events_matrix_optdesc}, {NULL, NULL}};
  rpL_setoptions(L, -1, sets);
  return 1;
}
