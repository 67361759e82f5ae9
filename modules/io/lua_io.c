/*
 * lua_io.c -- `recpipe.io` binding: read_events, idmap, and the IdMap and
 * Events types.  Arguments are checked here; the work is in the io core
 * (reader.c, events.c, evops.c, idmap.c).
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "dist.h"
#include "reader.h"
#include "rpl.h"

#define RP_ROW_T "recpipe.EventsRow"

/* ---- IdMap -------------------------------------------------------------- */
static void idmap_destroy(void *m) { rp_idmap_release(m); }
static const rpL_class idmap_class = {RP_IDMAP_T, idmap_destroy, NULL};

static int idmap_len(lua_State *L) {
  rp_idmap *m = rpL_checkidmap(L, 1);
  lua_pushinteger(L, m->n);
  return 1;
}

/* an id argument: a string, or an integer taken as its decimal text */
static void checkid(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && !(t == LUA_TNUMBER && lua_isinteger(L, idx)))
    luaL_argerror(L, idx, lua_pushfstring(L, "id must be a string, got %s", luaL_typename(L, idx)));
}

/* map:index(id) -> 1-based index or nil (m borrowed unpinned: rpL_lookup
 * allocates nothing) */
static int idmap_index(lua_State *L) {
  luaL_checkudata(L, 1, RP_IDMAP_T); /* self first */
  checkid(L, 2);
  rp_idmap *m = rpL_checkidmap(L, 1);
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
  lua_settop(L, 1);
  rp_idmap *m = rpL_pin(L, 1, RP_IDMAP_T);
  lua_createtable(L, m->n, 0);
  for (int32_t i = 0; i < m->n; i++) {
    rpL_pushid(L, m, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* map:add(id) -> 1-based index (existing or new) */
static int idmap_add(lua_State *L) {
  luaL_checkudata(L, 1, RP_IDMAP_T); /* self first */
  checkid(L, 2);
  lua_settop(L, 2);
  lua_pushvalue(L, 2); /* an integer becomes its text in the copy */
  size_t len;
  const char *s = lua_tolstring(L, 3, &len);
  rp_idmap *m = rpL_checkidmap(L, 1); /* borrowed after the last allocation */
  int32_t i;
  rp_err err;
  if (rp_idmap_intern(m, s, len, &i, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, (lua_Integer)i + 1);
  return 1;
}

static int idmap_tostring(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_IDMAP_T);
  if (!*slot)
    lua_pushstring(L, "recpipe.IdMap(freed)");
  else
    lua_pushfstring(L, "recpipe.IdMap(%d ids)", ((rp_idmap *)*slot)->n);
  return 1;
}

static int idmap_eq(lua_State *L) {
  void **a = luaL_testudata(L, 1, RP_IDMAP_T), **b = luaL_testudata(L, 2, RP_IDMAP_T);
  lua_pushboolean(L, a && b && *a == *b);
  return 1;
}

static const luaL_Reg idmap_methods[] = {
    {"index", idmap_index}, {"id", idmap_id}, {"ids", idmap_ids}, {"add", idmap_add}, {NULL, NULL}};
static const luaL_Reg idmap_meta[] = {
    {"__len", idmap_len}, {"__tostring", idmap_tostring}, {"__eq", idmap_eq}, {NULL, NULL}};

static int newbox_idmap(lua_State *L) {
  rpL_newtype(L, &idmap_class, idmap_methods, idmap_meta);
  rpL_newbox(L, RP_IDMAP_T);
  return 1;
}

/* The reference is taken before the box is allocated: a finalizer run by
 * that allocation may drop the map's last other holder. */
void rpL_pushidmap(lua_State *L, rp_idmap *m) {
  rp_idmap_retain(m);
  lua_pushcfunction(L, newbox_idmap);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    rp_idmap_release(m);
    lua_error(L);
  }
  *(void **)lua_touserdata(L, -1) = m;
}

rp_idmap *rpL_checkidmap(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_IDMAP_T); }

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

/* ---- Events: basics ------------------------------------------------------------- */
static void events_destroy(void *ev) { rp_events_free(ev); }
static const rpL_class events_class = {RP_EVENTS_T, events_destroy, NULL};

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
  lua_pushfstring(L, "recpipe.Events(%I events, %d users, %d items%s%s)", (lua_Integer)ev->n,
                  ev->users->n, ev->items->n, ev->time ? ", time" : "",
                  ev->event ? ", event types" : "");
  return 1;
}

/* ev.users, ev.items; other keys are methods (found on a freed log too,
 * so ev:free() twice is harmless) */
static int events_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "users") == 0 || strcmp(k, "items") == 0) {
    rp_events *ev = rpL_checkevents(L, 1);
    rpL_pushidmap(L, k[0] == 'u' ? ev->users : ev->items);
    return 1;
  }
  rpL_method(L, RP_EVENTS_T, k);
  return 1;
}

static void pushnames(lua_State *L, const rp_idmap *m) {
  lua_createtable(L, m ? m->n : 0, 0);
  for (int32_t i = 0; m && i < m->n; i++) {
    rpL_pushid(L, m, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* ev:event_types() -> names in code order ({} without an event column) */
static int events_event_types(lua_State *L) {
  lua_settop(L, 1);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  pushnames(L, ev->event_names);
  return 1;
}

static int events_has_time(lua_State *L) {
  lua_pushboolean(L, rpL_checkevents(L, 1)->time != NULL);
  return 1;
}

static int events_context_names(lua_State *L) {
  lua_settop(L, 1);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  lua_createtable(L, ev->ncontext, 0);
  for (int c = 0; c < ev->ncontext; c++) {
    lua_pushstring(L, ev->context_names[c]);
    lua_rawseti(L, -2, c + 1);
  }
  return 1;
}

/* ev:bytes() -> bytes held by the columns, bytes of the id maps */
static int events_bytes(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  size_t maps =
      rp_idmap_bytes(ev->users) + (ev->items != ev->users ? rp_idmap_bytes(ev->items) : 0);
  lua_pushinteger(L, (lua_Integer)rp_events_bytes(ev));
  lua_pushinteger(L, (lua_Integer)maps);
  return 2;
}

/* ev:time_range() -> tmin, tmax (nil, nil without a time column or rows) */
static int events_time_range(lua_State *L) {
  rp_events *ev = rpL_checkevents(L, 1);
  int64_t lo, hi;
  if (!rp_events_time_range(ev, &lo, &hi)) {
    lua_pushnil(L);
    lua_pushnil(L);
  } else {
    lua_pushinteger(L, lo);
    lua_pushinteger(L, hi);
  }
  return 2;
}

/* pushes field `k` of row i; returns 0 when ev has no such field */
static int pushfield(lua_State *L, const rp_events *ev, int64_t i, const char *k) {
  if (strcmp(k, "user") == 0)
    rpL_pushid(L, ev->users, ev->user[i]);
  else if (strcmp(k, "item") == 0)
    rpL_pushid(L, ev->items, ev->item[i]);
  else if (strcmp(k, "value") == 0)
    lua_pushnumber(L, (lua_Number)ev->value[i]);
  else if (strcmp(k, "time") == 0 && ev->time)
    lua_pushinteger(L, ev->time[i]);
  else if (strcmp(k, "event") == 0 && ev->event)
    rpL_pushid(L, ev->event_names, ev->event[i]);
  else if (strcmp(k, "index") == 0)
    lua_pushinteger(L, i + 1);
  else {
    int c = rp_events_context_index(ev, k);
    if (c < 0) return 0;
    rpL_pushid(L, ev->context_dicts[c], ev->context[c][i]);
  }
  return 1;
}

static void pushrow(lua_State *L, const rp_events *ev, int64_t i) {
  lua_createtable(L, 0, 5 + ev->ncontext);
  static const char *const base[] = {"user", "item", "value", "time", "event"};
  for (int k = 0; k < 5; k++)
    if (pushfield(L, ev, i, base[k])) lua_setfield(L, -2, base[k]);
  for (int c = 0; c < ev->ncontext; c++) {
    rpL_pushid(L, ev->context_dicts[c], ev->context[c][i]);
    lua_setfield(L, -2, ev->context_names[c]);
  }
}

/* ev:row(i) -> {user=, item=, value=, time=, event=, <context>=} */
static int events_row(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVENTS_T); /* self first */
  lua_Integer i = luaL_checkinteger(L, 2);
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  luaL_argcheck(L, i >= 1 && i <= ev->n, 2,
                lua_pushfstring(L, "row out of range 1..%I, got %I", (lua_Integer)ev->n, i));
  pushrow(L, ev, i - 1);
  return 1;
}

/* ---- Events: filter (Lua predicate over a reusable row view) -------------------- */
/* A row view reads the log the filter pinned; the filter's return or error
 * closes it (it is a to-be-closed slot), so a view kept past its call is
 * refused rather than read. */
typedef struct rowview {
  const rp_events *ev; /* NULL once the filter ended */
  int64_t i;
} rowview;

static rowview *checkrow(lua_State *L) {
  rowview *v = luaL_checkudata(L, 1, RP_ROW_T);
  if (!v->ev) luaL_error(L, "a row view is valid only inside the filter call that passed it");
  return v;
}

static void fieldlist(lua_State *L, const rp_events *ev) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "user, item, value, index");
  if (ev->time) luaL_addstring(&b, ", time");
  if (ev->event) luaL_addstring(&b, ", event");
  for (int c = 0; c < ev->ncontext; c++) {
    luaL_addstring(&b, ", ");
    luaL_addstring(&b, ev->context_names[c]);
  }
  luaL_pushresult(&b);
}

static int row_index(lua_State *L) {
  rowview *v = checkrow(L);
  const rp_events *ev = v->ev;
  const char *k = luaL_checkstring(L, 2);
  if (pushfield(L, ev, v->i, k)) return 1;
  fieldlist(L, ev);
  return luaL_error(L, "row has no field '%s' (fields: %s)", k, lua_tostring(L, -1));
}

static int row_tostring(lua_State *L) {
  rowview *v = luaL_checkudata(L, 1, RP_ROW_T);
  if (!v->ev)
    lua_pushstring(L, "recpipe.EventsRow(expired)");
  else
    lua_pushfstring(L, "recpipe.EventsRow(%I)", (lua_Integer)v->i + 1);
  return 1;
}

static int row_close(lua_State *L) {
  ((rowview *)luaL_checkudata(L, 1, RP_ROW_T))->ev = NULL;
  return 0;
}

/* ev:filter(fn) -> a new Events (same maps) with the rows where fn(row) is
 * true; row is one view object reused for every row.  The log is pinned:
 * fn may free it (the filter ends on it, then it goes). */
static int events_filter(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVENTS_T); /* self first */
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);                           /* 3 */
  void **out = rpL_newbox(L, RP_EVENTS_T);                              /* 4 */
  uint8_t *keep = lua_newuserdatauv(L, (size_t)(ev->n ? ev->n : 1), 0); /* 5 */
  static const luaL_Reg meta[] = {
      {"__index", row_index}, {"__tostring", row_tostring}, {"__close", row_close}, {NULL, NULL}};
  if (luaL_newmetatable(L, RP_ROW_T)) luaL_setfuncs(L, meta, 0);
  lua_pop(L, 1);
  rowview *v = lua_newuserdatauv(L, sizeof *v, 0); /* 6 */
  v->ev = NULL;
  luaL_setmetatable(L, RP_ROW_T);
  lua_toclose(L, 6);
  v->ev = ev;
  for (int64_t i = 0; i < ev->n; i++) {
    v->i = i;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 6);
    lua_call(L, 1, 1);
    keep[i] = (uint8_t)lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  v->ev = NULL;
  rp_err err;
  if (!(*out = rp_events_select(ev, keep, &err))) return rpL_error(L, &err);
  lua_pushvalue(L, 4);
  rpL_gcpressure(L);
  return 1;
}

/* ---- Events: where (fast C filters) ------------------------------------------------ */
/* a mask over map m from field `field` (one value or a list); strict:
 * values not in m are an error, else they are ignored */
static uint8_t *checkmask(lua_State *L, int idx, const char *field, const rp_idmap *m, int strict) {
  int vidx = lua_gettop(L);
  uint8_t *mask = lua_newuserdatauv(L, (size_t)(m->n ? m->n : 1), 0);
  memset(mask, 0, (size_t)(m->n ? m->n : 1));
  lua_Integer n = lua_type(L, vidx) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, vidx) : 1;
  for (lua_Integer k = 1; k <= n; k++) {
    if (lua_type(L, vidx) == LUA_TTABLE)
      lua_rawgeti(L, vidx, k);
    else
      lua_pushvalue(L, vidx);
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && !(t == LUA_TNUMBER && lua_isinteger(L, -1)))
      rpL_fielderror(L, idx, field, "must be a string or a list of strings, got %s",
                     luaL_typename(L, -1));
    size_t len;
    const char *s = luaL_tolstring(L, -1, &len);
    int32_t i = rp_idmap_find(m, s, len);
    if (i >= 0) {
      mask[i] = 1;
    } else if (strict) {
      pushnames(L, m);
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int32_t j = 0; j < m->n && j < 20; j++) {
        if (j) luaL_addstring(&b, ", ");
        rpL_pushid(L, m, j);
        luaL_addvalue(&b);
      }
      luaL_pushresult(&b);
      rpL_fielderror(L, idx, field, "has unknown value '%s' (known: %s)", s, lua_tostring(L, -1));
    }
    lua_pop(L, 2);
  }
  return mask; /* left on the stack (kept alive) */
}

static int events_where(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVENTS_T); /* self first */
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  luaL_checkstack(L, 3 * RP_MAX_CONTEXT + 20, NULL);
  const char *known[5 + RP_MAX_CONTEXT + 1] = {"from", "to", "events", "users", "items"};
  for (int c = 0; c < ev->ncontext; c++) known[5 + c] = ev->context_names[c];
  known[5 + ev->ncontext] = NULL;
  rpL_checkopts(L, 2, known);
  rp_events_filter w;
  memset(&w, 0, sizeof w);
  if (rpL_getopt(L, 2, "from") != LUA_TNIL)
    w.has_from = 1, w.from = rpL_checktime(L, 2, -1, "from");
  if (rpL_getopt(L, 2, "to") != LUA_TNIL) w.has_to = 1, w.to = rpL_checktime(L, 2, -1, "to");
  if ((w.has_from || w.has_to) && !ev->time)
    return luaL_error(L, "where: the log has no time column (read it with the 'time' option)");
  if (rpL_getopt(L, 2, "events") != LUA_TNIL) {
    if (!ev->event) return luaL_error(L, "where: the log has no event column");
    w.event_mask = checkmask(L, 2, "events", ev->event_names, 1);
  }
  if (rpL_getopt(L, 2, "users") != LUA_TNIL) w.user_mask = checkmask(L, 2, "users", ev->users, 0);
  if (rpL_getopt(L, 2, "items") != LUA_TNIL) w.item_mask = checkmask(L, 2, "items", ev->items, 0);
  for (int c = 0; c < ev->ncontext; c++)
    if (rpL_getopt(L, 2, ev->context_names[c]) != LUA_TNIL)
      w.ctx_mask[c] = checkmask(L, 2, ev->context_names[c], ev->context_dicts[c], 1);
  void **out = rpL_newbox(L, RP_EVENTS_T);
  rp_err err;
  if (!(*out = rp_events_where(ev, &w, &err))) return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* ---- Events: stats, write, to_matrix ---------------------------------------------- */
static void pushquant(lua_State *L, const double q[RP_NQUANT], double mean) {
  static const char *const names[RP_NQUANT] = {"min", "p25", "median", "p75", "p90", "p99", "max"};
  lua_createtable(L, 0, RP_NQUANT + 1);
  for (int k = 0; k < RP_NQUANT; k++) {
    lua_pushnumber(L, q[k]);
    lua_setfield(L, -2, names[k]);
  }
  lua_pushnumber(L, mean);
  lua_setfield(L, -2, "mean");
}

static void pushcounts(lua_State *L, const rp_idmap *m, const int64_t *cnt) {
  lua_createtable(L, 0, m->n);
  for (int32_t i = 0; i < m->n; i++) {
    if (!cnt[i]) continue;
    rpL_pushid(L, m, i);
    lua_pushinteger(L, cnt[i]);
    lua_rawset(L, -3);
  }
}

/* ev:stats() -> summary table (see README api-io) */
static int events_stats(lua_State *L) {
  lua_settop(L, 1);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  rp_events_summary st;
  rp_err err;
  if (rp_events_stats(ev, &st, &err)) return rpL_error(L, &err);
  lua_createtable(L, 0, 12);
  lua_pushinteger(L, st.events), lua_setfield(L, -2, "events");
  lua_pushinteger(L, st.users), lua_setfield(L, -2, "users");
  lua_pushinteger(L, st.items), lua_setfield(L, -2, "items");
  lua_pushnumber(L, st.value_sum), lua_setfield(L, -2, "value_sum");
  if (st.has_time) {
    lua_pushinteger(L, st.tmin), lua_setfield(L, -2, "tmin");
    lua_pushinteger(L, st.tmax), lua_setfield(L, -2, "tmax");
  }
  pushquant(L, st.per_user, st.per_user_mean), lua_setfield(L, -2, "per_user");
  pushquant(L, st.per_item, st.per_item_mean), lua_setfield(L, -2, "per_item");
  if (ev->event)
    pushcounts(L, ev->event_names, st.event_counts), lua_setfield(L, -2, "event_types");
  lua_createtable(L, 0, ev->ncontext);
  for (int c = 0; c < ev->ncontext; c++) {
    pushcounts(L, ev->context_dicts[c], st.ctx_counts[c]);
    lua_setfield(L, -2, ev->context_names[c]);
  }
  lua_setfield(L, -2, "contexts");
  lua_pushnumber(L, ev->n && ev->users->n && ev->items->n
                        ? (double)ev->n / ((double)st.users * (double)st.items)
                        : 0);
  lua_setfield(L, -2, "density");
  rp_events_summary_free(&st);
  return 1;
}

/* ev:write(path) */
static int events_write(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVENTS_T); /* self first */
  const char *path = luaL_checkstring(L, 2);
  rp_events *ev = rpL_checkevents(L, 1); /* borrowed after the last allocation */
  rp_err err;
  if (rp_events_write(ev, path, &err)) return rpL_error(L, &err);
  return 0;
}

/* ev:to_matrix{aggregate = "sum", half_life_days = D, now = T} -> Matrix
 * (options: rp_events_matrix_optdesc) */
static int events_to_matrix(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  rp_events_matrix_opts mo;
  rpL_readopts(L, 2, rp_events_matrix_optdesc, &mo);
  int agg = mo.aggregate;
  double hl = mo.half_life_days;
  int64_t now = 0, *nowp = NULL;
  if (rpL_getopt(L, 2, "now") != LUA_TNIL) {
    if (!(hl > 0)) return rpL_fielderror(L, 2, "now", "needs half_life_days");
    now = rpL_checktime(L, 2, -1, "now");
    nowp = &now;
  }
  if (hl > 0 && !ev->time)
    return luaL_error(L,
                      "to_matrix: half_life_days needs a time column in the log "
                      "(read it with the 'time' option)");
  rp_err err;
  rp_csr *m = rp_events_to_csr(ev, agg, hl, nowp, &err);
  if (!m) return rpL_error(L, &err);
  rpL_pushmatrix(L, m);
  return 1;
}

/* Event type weights from the table at tidx, for argument arg (field
 * `field` of it, or the argument itself when field is NULL): the rules of
 * read_events' `weights` and ev:weight alike.  Fills names (borrowed from
 * the table) and values; returns the count (>= 1). */
static int checkweights(lua_State *L, int arg, const char *field, int tidx, const char **names,
                        float *values) {
  const char *prefix = field ? lua_pushfstring(L, "field '%s' ", field) : "";
  if (lua_type(L, tidx) != LUA_TTABLE)
    luaL_argerror(L, arg,
                  lua_pushfstring(L, "%smust be a table {type = number, ...}, got %s", prefix,
                                  luaL_typename(L, tidx)));
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, tidx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER ||
        !isfinite(lua_tonumber(L, -1))) {
      int top = lua_gettop(L);
      const char *k = luaL_tolstring(L, top - 1, NULL);
      const char *v = lua_type(L, top) == LUA_TSTRING
                          ? lua_pushfstring(L, "'%s'", lua_tostring(L, top))
                          : luaL_tolstring(L, top, NULL);
      luaL_argerror(
          L, arg,
          lua_pushfstring(L, "%smust map event type names to finite numbers, got [%s] = %s", prefix,
                          k, v));
    }
    if (n == RP_READ_MAX_WEIGHTS)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "%shas more than %d entries", prefix, RP_READ_MAX_WEIGHTS));
    names[n] = lua_tostring(L, -2);
    values[n++] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  if (!n) luaL_argerror(L, arg, lua_pushfstring(L, "%sis empty", prefix));
  if (field) lua_pop(L, 1);
  return n;
}

/* ev:weight(weights, {multiply = false}) -> a new Events (same maps) whose
 * values are the weights of their event types, and the number of rows
 * dropped (types without a weight) */
static int events_weight(lua_State *L) {
  luaL_checkudata(L, 1, RP_EVENTS_T); /* self first */
  const char *names[RP_READ_MAX_WEIGHTS];
  float values[RP_READ_MAX_WEIGHTS];
  if (!lua_istable(L, 2)) checkweights(L, 2, NULL, 2, names, values); /* raises: "got no value" */
  lua_settop(L, 3);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  int n = checkweights(L, 2, NULL, 2, names, values);
  static const char *const known[] = {"multiply", NULL};
  rpL_checkopts(L, 3, known);
  int multiply = rpL_optboolean(L, 3, "multiply", 0);
  if (!ev->event)
    return luaL_error(L, "weight: the log has no event column (read it with the 'event' option)");
  void **out = rpL_newbox(L, RP_EVENTS_T);
  rp_typeweights w;
  rp_err err;
  int64_t dropped = 0;
  int rc = rp_typeweights_init(&w, n, names, values, &err);
  if (!rc && !(*out = rp_events_weight(ev, &w, multiply, &dropped, &err))) rc = err.status;
  rp_typeweights_free(&w);
  if (rc) return rpL_error(L, &err);
  lua_pushinteger(L, dropped);
  rpL_gcpressure(L);
  return 2;
}

static const luaL_Reg events_methods[] = {{"to_matrix", events_to_matrix},
                                          {"filter", events_filter},
                                          {"where", events_where},
                                          {"weight", events_weight},
                                          {"stats", events_stats},
                                          {"time_range", events_time_range},
                                          {"write", events_write},
                                          {"event_types", events_event_types},
                                          {"context_names", events_context_names},
                                          {"has_time", events_has_time},
                                          {"row", events_row},
                                          {"bytes", events_bytes},
                                          {NULL, NULL}};
static const luaL_Reg events_meta[] = {{"__len", events_len},
                                       {"__tostring", events_tostring},
                                       {"__index", events_index},
                                       {NULL, NULL}};

static int newbox_events(lua_State *L) {
  rpL_newtype(L, &events_class, events_methods, events_meta);
  rpL_newbox(L, RP_EVENTS_T);
  return 1;
}

void rpL_pushevents(lua_State *L, rp_events *ev) {
  lua_pushcfunction(L, newbox_events);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) { /* a memory error: free, not leak */
    rp_events_free(ev);
    lua_error(L);
  }
  *(void **)lua_touserdata(L, -1) = ev;
  rpL_gcpressure(L);
}

rp_events *rpL_checkevents(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_EVENTS_T); }

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
    o->nweights = checkweights(L, 2, "weights", lua_gettop(L), o->weight_names, o->weight_values);
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
  if (rp_dist_glob(path, &v, n, &err)) rpL_error(L, &err);
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
  if (paths ? rp_dist_read_events(paths, n, &o, slot, &rep, &err)
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
  rpL_newtype(L, &idmap_class, idmap_methods, idmap_meta);
  rpL_newtype(L, &events_class, events_methods, events_meta);
  luaL_newlib(L, io_funcs);
  static const rpL_optset sets[] = {
      {"read_events", rp_io_read_optdesc}, {"to_matrix", rp_events_matrix_optdesc}, {NULL, NULL}};
  rpL_setoptions(L, -1, sets);
  return 1;
}
