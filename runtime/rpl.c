/*
 * rpl.c -- binding helpers shared by every module; see rpl.h.
 */
#include "rpl.h"

#include "iotext.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- boxes and lifetimes (rpl.h) ------------------------------------------- */
#define CLASS_KEY "__rpclass"
#define PIN_T "recpipe.Pin"

static int box_gc(lua_State *L);

rpL_box *rpL_tobox(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (!p || lua_islightuserdata(L, idx) || !lua_getmetatable(L, idx)) return NULL;
  lua_rawgetp(L, -1, CLASS_KEY);
  const rpL_class *cls = lua_touserdata(L, -1);
  lua_pop(L, 2);
  return cls && cls->destroy ? p : NULL;
}

static void release_holds(lua_State *L, int idx);

/* The object of the box at idx is gone from Lua and from every pin: free
 * it, then let go of what it held (after: it may point into them). */
static void destroy(lua_State *L, int idx, rpL_box *b, void *obj) {
  b->cls->destroy(obj);
  release_holds(L, idx);
}

/* Drops one pin of the box at idx; the last one destroys a freed object. */
static void unpin(lua_State *L, int idx, rpL_box *b) {
  if (--b->pins > 0 || !b->kept) return;
  void *obj = b->kept;
  b->kept = NULL;
  destroy(L, idx, b, obj);
}

/* Unpins every box the box at idx holds (once). */
static void release_holds(lua_State *L, int idx) {
  if (!lua_checkstack(L, 4)) return; /* (a leak beats a crash in a finalizer) */
  idx = lua_absindex(L, idx);
  if (lua_getiuservalue(L, idx, 2) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_pushnil(L);
  lua_setiuservalue(L, idx, 2);
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    rpL_box *h = rpL_tobox(L, -1);
    if (h) unpin(L, lua_gettop(L), h);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static rpL_box *checkbox(lua_State *L, int idx) {
  rpL_box *b = rpL_tobox(L, idx);
  if (!b) luaL_typeerror(L, idx, "recpipe object");
  return b;
}

int rpL_free(lua_State *L) {
  rpL_box *b = checkbox(L, 1);
  void *obj = b->obj;
  if (!obj) return 0; /* freed before (or still empty): harmless */
  b->obj = NULL;
  if (b->pins)
    b->kept = obj; /* an operation or another object still uses it */
  else
    destroy(L, 1, b, obj);
  return 0;
}

/* __gc: as free; an empty box also lets go of what it held (a blend whose
 * construction failed).  Pins from dead coroutines end in their guards' own
 * __gc. */
static int box_gc(lua_State *L) {
  rpL_box *b = checkbox(L, 1);
  if (b->obj) return rpL_free(L);
  if (!b->pins && !b->kept) release_holds(L, 1);
  return 0;
}

/* __recommender(): the object itself (checked alive); rpL_pinrec takes it */
static int box_recommender(lua_State *L) {
  rpL_box *b = checkbox(L, 1);
  if (!b->obj) luaL_argerror(L, 1, lua_pushfstring(L, "attempt to use a freed %s", b->cls->name));
  lua_settop(L, 1);
  return 1;
}

static int has_field(const luaL_Reg *l, const char *name) {
  for (; l && l->name; l++)
    if (strcmp(l->name, name) == 0) return 1;
  return 0;
}

void rpL_newtype(lua_State *L, const rpL_class *cls, const luaL_Reg *methods,
                 const luaL_Reg *meta) {
  if (!luaL_newmetatable(L, cls->name)) {
    lua_pop(L, 1);
    return;
  }
  lua_pushlightuserdata(L, (void *)cls);
  lua_rawsetp(L, -2, CLASS_KEY);
  if (meta) luaL_setfuncs(L, meta, 0);
  static const luaL_Reg life[] = {{"__gc", box_gc}, {"__close", rpL_free}, {NULL, NULL}};
  for (const luaL_Reg *l = life; cls->destroy && l->name; l++)
    if (!has_field(meta, l->name)) lua_pushcfunction(L, l->func), lua_setfield(L, -2, l->name);
  lua_newtable(L);
  if (methods) luaL_setfuncs(L, methods, 0);
  if (cls->destroy && !has_field(methods, "free"))
    lua_pushcfunction(L, rpL_free), lua_setfield(L, -2, "free");
  if (cls->recommender && !has_field(methods, "__recommender"))
    lua_pushcfunction(L, box_recommender), lua_setfield(L, -2, "__recommender");
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
  rpL_box *b = lua_newuserdatauv(L, sizeof *b, 2);
  memset(b, 0, sizeof *b);
  if (luaL_getmetatable(L, tname) != LUA_TTABLE) luaL_error(L, "type %s is not registered", tname);
  lua_rawgetp(L, -1, CLASS_KEY);
  b->cls = lua_touserdata(L, -1);
  lua_pop(L, 1);
  lua_setmetatable(L, -2);
  return &b->obj;
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

static int freed_error(lua_State *L, int idx, const char *tname) {
  return luaL_argerror(L, idx, lua_pushfstring(L, "attempt to use a freed %s", tname));
}

void *rpL_checkobj(lua_State *L, int idx, const char *tname) {
  rpL_box *b = luaL_checkudata(L, idx, tname);
  if (!b->obj) freed_error(L, idx, tname);
  return b->obj;
}

void *rpL_testobj(lua_State *L, int idx, const char *tname) {
  rpL_box *b = luaL_testudata(L, idx, tname);
  if (!b) return NULL;
  if (!b->obj) freed_error(L, idx, tname);
  return b->obj;
}

void *rpL_indexobj(lua_State *L, const char *tname, const char *k) {
  rpL_box *b = luaL_checkudata(L, 1, tname);
  if (b->obj) return b->obj;
  if (rpL_method(L, tname, k) == LUA_TNIL) freed_error(L, 1, tname);
  return NULL;
}

void *rpL_liveobj(lua_State *L, int idx) {
  rpL_box *b = rpL_tobox(L, idx);
  return !b ? NULL : b->obj ? b->obj : b->kept;
}

/* ---- pins ---------------------------------------------------------------------- */
typedef struct pin {
  rpL_box *box;
} pin;

static const char pin_key = 0; /* the guards' metatable in the registry */

/* __close and __gc of a guard: the operation ended (or its coroutine died) */
static int pin_close(lua_State *L) {
  pin *p = lua_touserdata(L, 1);
  if (!p || !p->box) return 0;
  rpL_box *b = p->box;
  p->box = NULL;
  lua_getiuservalue(L, 1, 1);
  unpin(L, lua_gettop(L), b);
  return 0;
}

/* Pushes a to-be-closed guard pinning the box b at idx and returns its
 * object; with CONSUME, the box (at the top, below the new guard) is taken
 * off the stack: the guard references it.  The guard's allocation may run a
 * finalizer that frees the box: that is checked after it (raising as a use
 * of a freed object of argument arg), and the pin taken only then. */
enum { CONSUME = 1 };
static void *pushguard(lua_State *L, int idx, rpL_box *b, int flags, int arg) {
  idx = lua_absindex(L, idx);
  pin *p = lua_newuserdatauv(L, sizeof *p, 1);
  p->box = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pin_key) != LUA_TTABLE) { /* once per state */
    lua_pop(L, 1);
    luaL_newmetatable(L, PIN_T);
    lua_pushcfunction(L, pin_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, pin_close);
    lua_setfield(L, -2, "__gc");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pin_key);
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, -2, 1);
  if (!b->obj) freed_error(L, arg, b->cls->name);
  if (flags & CONSUME) lua_remove(L, idx);
  p->box = b;
  b->pins++;
  lua_toclose(L, -1);
  return b->obj;
}

void *rpL_pin(lua_State *L, int idx, const char *tname) {
  rpL_checkobj(L, idx, tname);
  rpL_box *b = rpL_tobox(L, idx);
  if (!b) luaL_error(L, "%s has no lifetime of the box layer (rpL_class.destroy)", tname);
  return pushguard(L, idx, b, 0, idx);
}

void *rpL_pinopt(lua_State *L, int opt, const char *field, const char *tname) {
  if (rpL_getopt(L, opt, field) == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  rpL_box *b = luaL_testudata(L, -1, tname);
  if (!b) rpL_fielderror(L, opt, field, "must be a %s, got %s", tname, luaL_typename(L, -1));
  if (!b->obj)
    luaL_argerror(L, opt,
                  lua_pushfstring(L, "field '%s': attempt to use a freed %s", field, tname));
  return pushguard(L, -1, b, CONSUME, opt);
}

void *rpL_pintop(lua_State *L, int arg, const char *tname) {
  rpL_box *b = luaL_testudata(L, -1, tname);
  if (!b)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, luaL_typename(L, -1)));
  if (!b->obj) freed_error(L, arg, tname);
  return pushguard(L, -1, b, CONSUME, arg);
}

/* The name of the value at idx's type for messages (its __name when it has
 * one: "recpipe.Matrix"). */
static const char *type_name(lua_State *L, int idx) {
  if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) return lua_tostring(L, -1);
  return luaL_typename(L, idx);
}

/* The box of the recommender at idx (itself, or what its __recommender()
 * returns, pushed: *at says where it is), alive; raises otherwise. */
static rpL_box *resolve_rec(lua_State *L, int idx, int *at) {
  idx = lua_absindex(L, idx);
  *at = idx;
  rpL_box *b = rpL_tobox(L, idx);
  if (!b && lua_type(L, idx) == LUA_TTABLE &&
      lua_getfield(L, idx, "__recommender") == LUA_TFUNCTION) {
    /* a Lua object wrapping a C recommender (a blend) names it */
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    *at = lua_gettop(L);
    b = rpL_tobox(L, *at);
  }
  if (!b || !b->cls->recommender)
    luaL_argerror(L, idx,
                  lua_pushfstring(L,
                                  "a recommender expected (a model, baseline or hybrid, or an "
                                  "object whose __recommender() returns one), got %s",
                                  type_name(L, *at)));
  if (!b->obj) freed_error(L, idx, b->cls->name);
  return b;
}

rp_recommender *rpL_pinrec(lua_State *L, int idx) {
  int at;
  rpL_box *b = resolve_rec(L, idx, &at);
  void *obj = pushguard(L, at, b, 0, lua_absindex(L, idx));
  return b->cls->recommender(L, at, obj);
}

rp_recommender *rpL_holdrec(lua_State *L, int holder, int idx) {
  holder = lua_absindex(L, holder);
  int at;
  rpL_box *b = resolve_rec(L, idx, &at);
  void *obj = pushguard(L, at, b, 0, lua_absindex(L, idx)); /* alive while the hold is made */
  rpL_hold(L, holder, at);
  return b->cls->recommender(L, at, obj);
}

rp_recommender *rpL_heldrec(lua_State *L, int idx) {
  rpL_box *b = rpL_tobox(L, idx);
  void *obj = b ? (b->obj ? b->obj : b->kept) : NULL;
  if (!obj || !b->cls->recommender) luaL_error(L, "a held recommender is gone");
  return b->cls->recommender(L, lua_absindex(L, idx), obj);
}

/* ---- holds ---------------------------------------------------------------------- */
void rpL_hold(lua_State *L, int holder, int held) {
  holder = lua_absindex(L, holder);
  held = lua_absindex(L, held);
  rpL_box *h = checkbox(L, held);
  if (!h->pins) luaL_error(L, "rpL_hold: the held %s must be pinned", h->cls->name);
  if (lua_getiuservalue(L, holder, 2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, holder, 2);
  }
  lua_pushvalue(L, held);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  h->pins++; /* after the allocations: a memory error leaves no pin behind */
}

int rpL_held(lua_State *L, int holder, int i) {
  if (lua_getiuservalue(L, holder, 2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNIL;
  }
  int t = lua_rawgeti(L, -1, i);
  lua_remove(L, -2);
  return t;
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
    if (hi == LUA_MAXINTEGER)
      return rpL_fielderror(L, idx, field, "must be an integer >= %lld, got %lld", (long long)lo,
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

/* ---- option descriptors ------------------------------------------------------- */
void rpL_checkoptsd(lua_State *L, int idx, const rp_optdesc *d) {
  if (!hastable(L, idx)) return;
  idx = lua_absindex(L, idx);
  size_t n = 0;
  while (d[n].name) n++;
  const char **names = rpL_scratch(L, n + 1, sizeof *names);
  for (size_t i = 0; i < n; i++) names[i] = d[i].name;
  names[n] = NULL;
  rpL_checkopts(L, idx, names);
  lua_pop(L, 1);
}

static lua_Integer ibound(double v) {
  if (v <= (double)LUA_MININTEGER) return LUA_MININTEGER;
  if (v >= (double)LUA_MAXINTEGER) return LUA_MAXINTEGER;
  return (lua_Integer)v;
}

int rpL_totime(lua_State *L, int vidx, int64_t *out) {
  if (lua_type(L, vidx) == LUA_TNUMBER) {
    if (lua_isinteger(L, vidx)) return *out = lua_tointeger(L, vidx), 1;
    double d = floor(lua_tonumber(L, vidx));
    if (d >= -9.2e18 && d <= 9.2e18) return *out = (int64_t)d, 1;
  } else if (lua_type(L, vidx) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, vidx, &n);
    return rp_parse_time_slow(s, n, RP_TIME_SECONDS, out) == RP_PARSE_OK;
  }
  return 0;
}

/* A TIME option (present at idx), within d's range. */
static int64_t opttime(lua_State *L, int idx, const rp_optdesc *d) {
  char want[128];
  rpL_getopt(L, idx, d->name);
  int64_t v = 0;
  if (!rpL_totime(L, -1, &v) || !rp_opt_inrange(d, (double)v)) {
    const char *s = shown(L, -1);
    rpL_fielderror(L, idx, d->name, "must be %s, got %s", rp_opt_expect(d, want, sizeof want), s);
  }
  lua_pop(L, 1);
  return v;
}

void rpL_readopts(lua_State *L, int idx, const rp_optdesc *d, void *o) {
  idx = lua_absindex(L, idx);
  rpL_checkoptsd(L, idx, d);
  rp_opts_init(d, o);
  if (!hastable(L, idx)) return;
  for (; d->name; d++) {
    if (d->type == RP_OPT_OTHER || !rpL_hasopt(L, idx, d->name)) continue;
    switch (d->type) {
      case RP_OPT_INT:
        rp_opt_set_int(d, o, rpL_optinteger(L, idx, d->name, 0, ibound(d->lo), ibound(d->hi)));
        break;
      case RP_OPT_SEED:
        rp_opt_set_int(d, o, rpL_optinteger(L, idx, d->name, 0, LUA_MININTEGER, LUA_MAXINTEGER));
        break;
      case RP_OPT_NUM: {
        double v = rpL_optnumber(L, idx, d->name, 0, -HUGE_VAL, HUGE_VAL);
        if (!rp_opt_inrange(d, v)) {
          char want[128];
          rpL_fielderror(L, idx, d->name, "must be %s, got %g", rp_opt_expect(d, want, sizeof want),
                         v);
        }
        rp_opt_set(d, o, v);
        break;
      }
      case RP_OPT_BOOL:
        rp_opt_set_int(d, o, rpL_optboolean(L, idx, d->name, 0));
        break;
      case RP_OPT_ENUM:
        rp_opt_set_int(d, o, rpL_optenum(L, idx, d->name, 0, d->names));
        break;
      case RP_OPT_STR:
        *(const char **)((char *)o + d->offset) = rpL_optstring(L, idx, d->name, NULL);
        break;
      case RP_OPT_TIME:
        rp_opt_set_int(d, o, opttime(L, idx, d));
        break;
      default:
        break;
    }
  }
}

static int readopts_p(lua_State *L) {
  rpL_readopts(L, 1, lua_touserdata(L, 2), lua_touserdata(L, 3));
  return 0;
}

int rpL_readsubopts(lua_State *L, int idx, const char *field, const rp_optdesc *d, void *o) {
  idx = lua_absindex(L, idx);
  int t = rpL_getopt(L, idx, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    rp_opts_init(d, o);
    return 0;
  }
  if (t != LUA_TTABLE)
    rpL_fielderror(L, idx, field, "must be a table, got %s", luaL_typename(L, -1));
  int sub = lua_gettop(L);
  lua_pushcfunction(L, readopts_p);
  lua_pushvalue(L, sub);
  lua_pushlightuserdata(L, (void *)(uintptr_t)d);
  lua_pushlightuserdata(L, o);
  if (lua_pcall(L, 3, 0, 0) == LUA_OK) return 1;
  /* "bad argument #1 to 'f' (field 'k' must be ...)" or "(unknown option ...)":
   * said again of argument idx, field field.k */
  const char *msg = lua_tostring(L, -1);
  const char *p = msg && strncmp(msg, "bad argument #1 to ", 19) == 0 ? strstr(msg, " (") : NULL;
  if (!p) return lua_error(L);
  p += 2;
  size_t n = strlen(p);
  if (n && p[n - 1] == ')') n--;
  if (strncmp(p, "field '", 7) == 0)
    lua_pushfstring(L, "field '%s.%s", field, lua_pushlstring(L, p + 7, n - 7));
  else
    lua_pushfstring(L, "field '%s': %s", field, lua_pushlstring(L, p, n));
  return luaL_argerror(L, idx, lua_tostring(L, -1));
}

static const char *const type_names[] = {"integer", "integer", "number", "boolean",
                                         "enum",    "string",  "other",  "time"};

static void pushentry(lua_State *L, const rp_optdesc *d) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, d->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, type_names[d->type]);
  lua_setfield(L, -2, "type");
  int hasdef = !(d->flags & RP_OPT_NODEFAULT);
  switch (d->type) {
    case RP_OPT_INT:
    case RP_OPT_SEED:
    case RP_OPT_TIME:
      lua_pushinteger(L, (lua_Integer)d->def);
      break;
    case RP_OPT_NUM:
      lua_pushnumber(L, d->def);
      break;
    case RP_OPT_BOOL:
      lua_pushboolean(L, d->def != 0);
      break;
    case RP_OPT_ENUM:
      lua_pushstring(L, d->names[(int)d->def]);
      break;
    case RP_OPT_STR:
      d->sdef ? lua_pushstring(L, d->sdef) : lua_pushnil(L);
      break;
    default:
      lua_pushnil(L);
  }
  if (!hasdef) lua_pop(L, 1), lua_pushnil(L);
  lua_setfield(L, -2, "default");
  if (d->type == RP_OPT_INT || d->type == RP_OPT_NUM || d->type == RP_OPT_TIME) {
    if (isfinite(d->lo) && d->lo > -9e18) {
      if (d->type != RP_OPT_NUM)
        lua_pushinteger(L, (lua_Integer)d->lo);
      else
        lua_pushnumber(L, d->lo);
      lua_setfield(L, -2, "min");
    }
    if (isfinite(d->hi) && d->hi < 9e18) {
      if (d->type != RP_OPT_NUM)
        lua_pushinteger(L, (lua_Integer)d->hi);
      else
        lua_pushnumber(L, d->hi);
      lua_setfield(L, -2, "max");
    }
    lua_pushboolean(L, (d->flags & RP_OPT_LO_OPEN) != 0);
    lua_setfield(L, -2, "min_open");
  }
  if (d->type == RP_OPT_ENUM) {
    lua_newtable(L);
    for (int i = 0; d->names[i]; i++) {
      lua_pushstring(L, d->names[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "values");
  }
  char want[256];
  lua_pushstring(L, rp_opt_expect(d, want, sizeof want));
  lua_setfield(L, -2, "what");
}

void rpL_pushoptdesc(lua_State *L, const rp_optdesc *d) {
  lua_newtable(L);
  for (int i = 1; d->name; d++, i++) {
    pushentry(L, d);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, d->name);
    lua_rawseti(L, -2, i);
  }
}

void rpL_pushoptvalues(lua_State *L, const rp_optdesc *d, const void *o) {
  lua_newtable(L);
  for (; d->name; d++) {
    if (d->type == RP_OPT_OTHER) continue;
    if (d->type == RP_OPT_STR) {
      const char *v = *(const char *const *)((const char *)o + d->offset);
      if (!v) continue;
      lua_pushstring(L, v);
      lua_setfield(L, -2, d->name);
      continue;
    }
    double v = rp_opt_get(d, o);
    if ((d->flags & RP_OPT_NODEFAULT) && v == d->def) continue; /* absent */
    switch (d->type) {
      case RP_OPT_INT:
      case RP_OPT_TIME:
        lua_pushinteger(L, (lua_Integer)v);
        break;
      case RP_OPT_SEED:
        lua_pushinteger(L, (lua_Integer) * (const uint64_t *)((const char *)o + d->offset));
        break;
      case RP_OPT_NUM:
        lua_pushnumber(L, v);
        break;
      case RP_OPT_BOOL:
        lua_pushboolean(L, v != 0);
        break;
      default: /* RP_OPT_ENUM */
        lua_pushstring(L, d->names[(int)v]);
        break;
    }
    lua_setfield(L, -2, d->name);
  }
}

/* The descriptors of sets' function fname, or a "no function" error at
 * argument 1. */
static const rp_optdesc *findset(lua_State *L, const rpL_optset *sets, const char *f) {
  for (const rpL_optset *s = sets; s->fname; s++)
    if (strcmp(s->fname, f) == 0) return s->d;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const rpL_optset *s = sets; s->fname; s++) {
    if (s != sets) luaL_addstring(&b, ", ");
    luaL_addstring(&b, s->fname);
  }
  luaL_pushresult(&b);
  luaL_argerror(L, 1, lua_pushfstring(L, "no function '%s' (known: %s)", f, lua_tostring(L, -1)));
  return NULL;
}

/* _checkopts(fname, opts) -> resolved: fname's options read as its binding
 * reads them (unknown keys, types, ranges: errors name argument #2 and the
 * field), returned with the defaults filled in. */
static int checkopts_fn(lua_State *L) {
  const rpL_optset *sets = lua_touserdata(L, lua_upvalueindex(1));
  const rp_optdesc *d = findset(L, sets, luaL_checkstring(L, 1));
  size_t size = 0;
  for (const rp_optdesc *e = d; e->name; e++) {
    size_t end = e->type == RP_OPT_OTHER ? 0 : e->offset + e->size;
    if (e->type == RP_OPT_STR) end = e->offset + sizeof(const char *);
    if (end > size) size = end;
  }
  void *o = rpL_scratch(L, size, 1);
  memset(o, 0, size ? size : 1);
  rpL_readopts(L, 2, d, o);
  rpL_pushoptvalues(L, d, o);
  return 1;
}

static int options_fn(lua_State *L) {
  const rpL_optset *sets = lua_touserdata(L, lua_upvalueindex(1));
  if (!lua_isnoneornil(L, 1)) {
    rpL_pushoptdesc(L, findset(L, sets, luaL_checkstring(L, 1)));
    return 1;
  }
  lua_newtable(L);
  for (const rpL_optset *s = sets; s->fname; s++) {
    rpL_pushoptdesc(L, s->d);
    lua_setfield(L, -2, s->fname);
  }
  return 1;
}

void rpL_setoptions(lua_State *L, int lib, const rpL_optset *sets) {
  lib = lua_absindex(L, lib);
  lua_pushlightuserdata(L, (void *)(uintptr_t)sets);
  lua_pushcclosure(L, options_fn, 1);
  lua_setfield(L, lib, "options");
  lua_pushlightuserdata(L, (void *)(uintptr_t)sets);
  lua_pushcclosure(L, checkopts_fn, 1);
  lua_setfield(L, lib, "_checkopts");
}

/* ---- memory ---------------------------------------------------------------- */
void *rpL_scratch(lua_State *L, size_t count, size_t size) {
  return lua_newuserdatauv(L, (count ? count : 1) * size, 0);
}

/* process-wide, as rp_mem_current is (Lua states on several threads share it) */
static atomic_size_t after_last_gc;

void rpL_gcpressure(lua_State *L) {
  size_t now = rp_mem_current();
  if (now > 2 * atomic_load(&after_last_gc) + ((size_t)64 << 20)) {
    lua_gc(L, LUA_GCCOLLECT);
    atomic_store(&after_last_gc, rp_mem_current());
  }
}

/* ---- ids --------------------------------------------------------------------- */
/* The text of the number at idx as tostring gives it ("17", "1.5", "2.0"),
 * written to buf without allocating or calling metamethods (rpL_lookup runs
 * while bindings hold borrowed objects). */
static size_t numtext(lua_State *L, int idx, char *buf, size_t size) {
  int n;
  if (lua_isinteger(L, idx)) {
    n = snprintf(buf, size, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
  } else {
    n = snprintf(buf, size, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, idx));
    if (n > 0 && (size_t)n + 2 < size && buf[strspn(buf, "-0123456789")] == '\0') {
      buf[n++] = '.'; /* looks like an integer: tostring adds ".0" */
      buf[n++] = '0';
      buf[n] = '\0';
    }
  }
  return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int32_t rpL_lookup(lua_State *L, int idx, const rp_idmap *map) {
  size_t len;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    /* numbers are accepted as their text: 17 -> "17" */
    char buf[64];
    len = numtext(L, idx, buf, sizeof buf);
    return rp_idmap_find(map, buf, len);
  }
  const char *s = luaL_checklstring(L, idx, &len);
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
  int64_t t;
  if (rpL_totime(L, vidx, &t)) return t;
  return rpL_fielderror(L, idx, field, "must be Unix seconds or ISO 8601 text, got %s",
                        luaL_tolstring(L, vidx, NULL));
}
