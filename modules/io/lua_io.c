/*
 * lua_io.c -- `recpipe.io` binding: read_events, and the IdMap and Events
 * types.  Arguments are checked here; the work is in the io core.
 */
#include <string.h>

#include "reader.h"
#include "rpl.h"

/* ---- IdMap -------------------------------------------------------------- */
static int idmap_gc(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_IDMAP_T);
  rp_idmap_release(*slot);
  *slot = NULL;
  return 0;
}

static int idmap_len(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  lua_pushinteger(L, m->n);
  return 1;
}

/* map:index(id) -> 1-based index or nil */
static int idmap_index(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  luaL_checkany(L, 2);
  int32_t i = rpL_lookup(L, 2, m);
  if (i < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)i + 1);
  return 1;
}

/* map:id(i) -> external id (1-based i) */
static int idmap_id(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  lua_Integer i = luaL_checkinteger(L, 2);
  luaL_argcheck(L, i >= 1 && i <= m->n, 2,
                lua_pushfstring(L, "index out of range 1..%d, got %I", m->n, i));
  rpL_pushid(L, m, (int32_t)(i - 1));
  return 1;
}

/* map:ids() -> array copy of all ids */
static int idmap_ids(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  lua_createtable(L, m->n, 0);
  for (int32_t i = 0; i < m->n; i++) {
    rpL_pushid(L, m, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int idmap_tostring(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  lua_pushfstring(L, "recpipe.IdMap(%d ids)", m->n);
  return 1;
}

static int idmap_eq(lua_State *L) {
  void **a = luaL_testudata(L, 1, RP_IDMAP_T), **b = luaL_testudata(L, 2, RP_IDMAP_T);
  lua_pushboolean(L, a && b && *a == *b);
  return 1;
}

static const luaL_Reg idmap_methods[] = {
    {"index", idmap_index}, {"id", idmap_id}, {"ids", idmap_ids}, {NULL, NULL}};
static const luaL_Reg idmap_meta[] = {{"__gc", idmap_gc},
                                      {"__len", idmap_len},
                                      {"__tostring", idmap_tostring},
                                      {"__eq", idmap_eq},
                                      {NULL, NULL}};

void rpL_pushidmap(lua_State *L, rp_idmap *m) {
  rpL_newtype(L, RP_IDMAP_T, idmap_methods, idmap_meta);
  void **slot = rpL_newbox(L, RP_IDMAP_T);
  *slot = rp_idmap_retain(m);
}

rp_idmap *rpL_checkidmap(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_IDMAP_T); }

/* ---- Events ------------------------------------------------------------------ */
static int events_free(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_EVENTS_T);
  rp_events_free(*slot);
  *slot = NULL;
  return 0;
}

static int events_len(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  lua_pushinteger(L, ev->n);
  return 1;
}

static int events_tostring(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_EVENTS_T);
  rp_events *ev = *slot;
  if (!ev) {
    lua_pushstring(L, "recpipe.Events(freed)");
    return 1;
  }
  lua_pushfstring(L, "recpipe.Events(%I events, %d users, %d items)", (lua_Integer)ev->n,
                  ev->users->n, ev->items->n);
  return 1;
}

/* ev.users, ev.items; other keys are methods */
static int events_index(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "users") == 0) {
    rpL_pushidmap(L, ev->users);
    return 1;
  }
  if (strcmp(k, "items") == 0) {
    rpL_pushidmap(L, ev->items);
    return 1;
  }
  luaL_getmetatable(L, RP_EVENTS_T);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, k);
  return 1;
}

static const char *const agg_names[] = {"sum", "max", "count", "last", NULL};

/* ev:to_matrix{aggregate = "sum"} -> Matrix on the shared maps */
static int events_to_matrix(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  static const char *const known[] = {"aggregate", NULL};
  rpL_checkopts(L, 2, known);
  int agg = rpL_optenum(L, 2, "aggregate", RP_AGG_SUM, agg_names);
  rp_err err;
  rp_csr *m = rp_csr_build(ev->users->n, ev->items->n, ev->user, ev->item, ev->value, ev->time,
                           ev->n, agg, ev->users, ev->items, &err);
  if (!m) return rpL_error(L, &err);
  rpL_pushmatrix(L, m);
  return 1;
}

static const luaL_Reg events_methods[] = {
    {"to_matrix", events_to_matrix}, {"free", events_free}, {NULL, NULL}};
static const luaL_Reg events_meta[] = {{"__gc", events_free},     {"__close", events_free},
                                       {"__len", events_len},     {"__tostring", events_tostring},
                                       {"__index", events_index}, {NULL, NULL}};

void rpL_pushevents(lua_State *L, rp_events *ev) {
  rpL_newtype(L, RP_EVENTS_T, events_methods, events_meta);
  void **slot = rpL_newbox(L, RP_EVENTS_T);
  *slot = ev;
  rpL_gcpressure(L);
}

rp_events *rpL_checkevents(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_EVENTS_T); }

/* ---- read_events ---------------------------------------------------------------- */
static void colref(lua_State *L, int idx, const char *field, rp_colref *c) {
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TSTRING) {
    c->name = lua_tostring(L, -1);
    c->pos = 0;
  } else if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
    c->pos = (int)lua_tointeger(L, -1);
    c->name = NULL;
  } else if (t != LUA_TNIL) {
    rpL_fielderror(L, idx, field, "must be a column name or a 1-based position");
  }
  lua_pop(L, 1);
}

static int io_read_events(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  static const char *const known[] = {"sep",   "header", "user",      "item",     "value",
                                      "time",  "event",  "time_unit", "on_error", "unknown",
                                      "users", "items",  NULL};
  rpL_checkopts(L, 2, known);
  rp_read_opts o;
  rp_read_opts_init(&o);
  o.sep = rpL_optstring(L, 2, "sep", NULL);
  o.header = rpL_optboolean(L, 2, "header", 1);
  if (!o.header) {
    o.user.name = NULL, o.user.pos = 1;
    o.item.name = NULL, o.item.pos = 2;
  }
  colref(L, 2, "user", &o.user);
  colref(L, 2, "item", &o.item);
  colref(L, 2, "value", &o.value);
  colref(L, 2, "time", &o.time);
  colref(L, 2, "event", &o.event);
  static const char *const units[] = {"auto", "s", "ms", NULL};
  o.time_unit = rpL_optenum(L, 2, "time_unit", RP_TIME_AUTO, units);
  static const char *const onerr[] = {"stop", "skip", NULL};
  o.on_error = rpL_optenum(L, 2, "on_error", RP_ONERR_STOP, onerr);
  static const char *const unk[] = {"add", "drop", NULL};
  o.unknown = rpL_optenum(L, 2, "unknown", RP_UNKNOWN_ADD, unk);
  if (rpL_getopt(L, 2, "users") != LUA_TNIL) o.users = rpL_checkidmap(L, -1);
  lua_pop(L, 1);
  if (rpL_getopt(L, 2, "items") != LUA_TNIL) o.items = rpL_checkidmap(L, -1);
  lua_pop(L, 1);
  rp_events **slot;
  rpL_newtype(L, RP_EVENTS_T, events_methods, events_meta);
  slot = (rp_events **)rpL_newbox(L, RP_EVENTS_T);
  rp_read_report rep;
  rp_err err;
  if (rp_read_events(path, &o, slot, &rep, &err)) return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

static const luaL_Reg io_funcs[] = {{"read_events", io_read_events}, {NULL, NULL}};

int luaopen_recpipe_io(lua_State *L);
int luaopen_recpipe_io(lua_State *L) {
  rpL_newtype(L, RP_IDMAP_T, idmap_methods, idmap_meta);
  rpL_newtype(L, RP_EVENTS_T, events_methods, events_meta);
  luaL_newlib(L, io_funcs);
  return 1;
}
