/*
 * lua_cache.c -- `recpipe.cache` binding: rp.cache.new / shared and the
 * Cache methods (get, put, fetch, invalidate, clear, stats).
 *
 * Values cross as bytes: a Lua string is stored as its bytes (kind
 * RP_CACHE_BYTES, what C readers such as the server see); numbers, booleans
 * and tables of those are encoded by cache_codec (kind RP_CACHE_LUA), so a
 * value put from one Lua state is read back by another.  The walk over a
 * Lua value is here (it needs the Lua API); the format is in the core.
 *
 * Nothing leaks on a Lua error: an encoding in progress lives in a
 * userdata whose __gc frees it, and a value being pushed is held in the
 * Cache box (`hold`) until it is on the stack.
 */
#include <string.h>

#include "cache.h"
#include "cache_codec.h"
#include "rpl.h"

#define CACHE_T "recpipe.Cache"
#define BUF_T "recpipe.cache.buffer"
#define MAX_DEPTH 100 /* nesting of tables in a value */

typedef struct cbox {
  rp_cache *c;        /* first: rpL_checkobj reads it */
  rp_cache_val *hold; /* a value being pushed */
} cbox;

static cbox *checkbox(lua_State *L, int idx) {
  rpL_checkobj(L, idx, CACHE_T);
  return lua_touserdata(L, idx);
}

static void hold(cbox *b, rp_cache_val *v) {
  rp_cache_val_release(b->hold);
  b->hold = v;
}

static const char *checkkey(lua_State *L, int idx, size_t *n) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "key must be a string, got %s", luaL_typename(L, idx)));
  const char *k = lua_tolstring(L, idx, n);
  if (*n > RP_CACHE_KEY_MAX)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "key of %I bytes is longer than the limit of %d bytes",
                                  (lua_Integer)*n, RP_CACHE_KEY_MAX));
  return k;
}

/* ---- options: names, defaults and ranges are the core's ---------------------------- */
static void checkoptions(lua_State *L, int idx, rp_cache_opts *o) {
  rp_cache_opts_init(o);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(
          L, idx, lua_pushfstring(L, "option keys must be strings, got %s", luaL_typename(L, -2)));
    const char *k = lua_tostring(L, -2);
    rp_err err;
    int rc, t = lua_type(L, -1);
    if (t == LUA_TNUMBER)
      rc = rp_cache_opts_set_number(o, k, (double)lua_tonumber(L, -1), &err);
    else if (t == LUA_TSTRING)
      rc = rp_cache_opts_set_string(o, k, lua_tostring(L, -1), &err);
    else
      rc = rp_cache_opts_bad_type(k, luaL_typename(L, -1), &err);
    if (rc) luaL_argerror(L, idx, err.msg);
    lua_pop(L, 1);
  }
}

/* opts.ttl of put/fetch at idx: RP_CACHE_TTL_DEFAULT when absent (the
 * range is the core's to check) */
static double checkttl(lua_State *L, int idx) {
  static const char *const known[] = {"ttl", NULL};
  rpL_checkopts(L, idx, known);
  return rpL_optnumber(L, idx, "ttl", RP_CACHE_TTL_DEFAULT, -HUGE_VAL, HUGE_VAL);
}

/* ---- encoding a Lua value ------------------------------------------------------------ */
typedef struct enc {
  lua_State *L;
  rp_cache_buf *b;
  int arg;  /* argument number for messages; 0 = fetch's function result */
  int seen; /* stack index of the tables-being-encoded set, 0 until needed */
  int depth;
  int path[MAX_DEPTH + 1]; /* per level: stack index of the key, or -i for index i */
} enc;

static int is_name(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9')) return 0;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9')))
      return 0;
  return 1;
}

/* Raises "<what> at value.a[2]<hint>", naming where in the value it is. */
static void enc_fail(enc *e, const char *what, const char *hint) {
  lua_State *L = e->L;
  luaL_checkstack(L, e->depth + 8, "cache value");
  int base = lua_gettop(L);
  lua_pushfstring(L, "%s at value", what);
  for (int d = 0; d < e->depth; d++) {
    int k = e->path[d];
    if (k < 0) {
      lua_pushfstring(L, "[%d]", -k);
    } else if (lua_type(L, k) == LUA_TSTRING) {
      const char *ks = lua_tostring(L, k);
      lua_pushfstring(L, is_name(ks) ? ".%s" : "[\"%s\"]", ks);
    } else {
      lua_pushfstring(L, "[%s]", luaL_tolstring(L, k, NULL));
      lua_remove(L, -2);
    }
  }
  lua_pushstring(L, hint);
  lua_concat(L, lua_gettop(L) - base);
  const char *msg = lua_tostring(L, -1);
  if (e->arg) luaL_argerror(L, e->arg, msg);
  luaL_error(L, "fetch: the function's value: %s", msg);
}

static void enc_check(enc *e, int rc) {
  if (rc) luaL_error(e->L, "not enough memory (cache value)");
}

static void enc_value(enc *e, int idx);

static void enc_key(enc *e, int idx) {
  int t = lua_type(e->L, idx);
  if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
    enc_fail(e, lua_pushfstring(e->L, "cannot store a %s as a table key", luaL_typename(e->L, idx)),
             " (keys are strings, numbers and booleans)");
  enc_value(e, idx);
}

static void enc_table(enc *e, int idx) {
  lua_State *L = e->L;
  if (e->depth >= MAX_DEPTH)
    enc_fail(e, lua_pushfstring(L, "tables nested deeper than %d", MAX_DEPTH), "");
  luaL_checkstack(L, 6, "cache value");
  if (!e->seen) {
    lua_newtable(L);
    e->seen = lua_gettop(L);
  }
  if (lua_rawgetp(L, e->seen, lua_topointer(L, idx)) != LUA_TNIL)
    enc_fail(e, "cannot store a cycle: the table", " is inside itself");
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, e->seen, lua_topointer(L, idx));
  /* a sequence (keys exactly 1..n) is written without its keys */
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), pairs = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    pairs++;
  }
  int seq = pairs == n;
  for (lua_Integer i = 1; seq && i <= n; i++) {
    seq = lua_rawgeti(L, idx, i) != LUA_TNIL;
    lua_pop(L, 1);
  }
  e->depth++;
  if (seq) {
    enc_check(e, rp_cache_enc_array(e->b, (uint64_t)n));
    for (lua_Integer i = 1; i <= n; i++) {
      e->path[e->depth - 1] = (int)-(i > 1000000000 ? 1000000000 : i);
      lua_rawgeti(L, idx, i);
      enc_value(e, lua_gettop(L));
      lua_pop(L, 1);
    }
  } else {
    enc_check(e, rp_cache_enc_table(e->b, (uint64_t)pairs));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      e->path[e->depth - 1] = lua_gettop(L) - 1;
      enc_key(e, lua_gettop(L) - 1);
      enc_value(e, lua_gettop(L));
      lua_pop(L, 1);
    }
  }
  e->depth--;
  lua_pushnil(L);
  lua_rawsetp(L, e->seen, lua_topointer(L, idx));
}

static void enc_value(enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      enc_check(e, rp_cache_enc_bool(e->b, lua_toboolean(L, idx)));
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        enc_check(e, rp_cache_enc_int(e->b, (int64_t)lua_tointeger(L, idx)));
      else
        enc_check(e, rp_cache_enc_float(e->b, (double)lua_tonumber(L, idx)));
      break;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      enc_check(e, rp_cache_enc_str(e->b, s, n));
      break;
    }
    case LUA_TTABLE:
      enc_table(e, idx);
      break;
    default:
      enc_fail(e, lua_pushfstring(L, "cannot store a %s", luaL_typename(L, idx)),
               " (values are strings, numbers, booleans and tables of those)");
  }
}

static int buf_gc(lua_State *L) {
  rp_cache_buf_free(luaL_checkudata(L, 1, BUF_T));
  return 0;
}

/* The value at idx (not nil) as a new rp_cache_val owned by the caller;
 * raises on a value that cannot be stored.  Leaves the stack as it was. */
static rp_cache_val *tovalue(lua_State *L, int idx, int arg) {
  idx = lua_absindex(L, idx);
  rp_err err;
  rp_cache_val *v;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    v = rp_cache_val_new(s, n, RP_CACHE_BYTES, &err);
  } else {
    int top = lua_gettop(L);
    rp_cache_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    rp_cache_buf_init(b);
    luaL_setmetatable(L, BUF_T);
    enc e = {.L = L, .b = b, .arg = arg};
    enc_value(&e, idx);
    v = rp_cache_buf_finish(b, &err);
    lua_settop(L, top);
  }
  if (!v) rpL_error(L, &err);
  return v;
}

/* ---- decoding ------------------------------------------------------------------------- */
static int dec_value(lua_State *L, rp_cache_dec *d, int depth, int key, rp_err *err) {
  rp_cache_item it;
  if (rp_cache_dec_next(d, &it, err)) return err->status;
  switch (it.type) {
    case RP_CACHE_T_BOOL:
      lua_pushboolean(L, (int)it.i);
      return RP_OK;
    case RP_CACHE_T_INT:
      lua_pushinteger(L, (lua_Integer)it.i);
      return RP_OK;
    case RP_CACHE_T_FLOAT:
      if (key && it.d != it.d) return rp_errf(err, RP_EFORMAT, "cache value has a NaN table key");
      lua_pushnumber(L, (lua_Number)it.d);
      return RP_OK;
    case RP_CACHE_T_STR:
      lua_pushlstring(L, it.s, (size_t)it.n);
      return RP_OK;
    default:
      break;
  }
  if (key) return rp_errf(err, RP_EFORMAT, "cache value has a table as a table key");
  if (depth >= MAX_DEPTH)
    return rp_errf(err, RP_EFORMAT, "cache value is nested deeper than %d tables", MAX_DEPTH);
  luaL_checkstack(L, 4, "cache value");
  int arr = it.type == RP_CACHE_T_ARRAY;
  int n = it.n > (uint64_t)INT32_MAX ? INT32_MAX : (int)it.n;
  lua_createtable(L, arr ? n : 0, arr ? 0 : n);
  for (uint64_t i = 0; i < it.n; i++) {
    int rc;
    if (!arr && (rc = dec_value(L, d, depth + 1, 1, err))) return rc;
    if ((rc = dec_value(L, d, depth + 1, 0, err))) return rc;
    if (arr)
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    else
      lua_rawset(L, -3);
  }
  return RP_OK;
}

/* Pushes v (a new reference, taken over: released here, even on a Lua
 * error, through the box's hold slot); nil when v is NULL. */
static void pushvalue(lua_State *L, cbox *b, rp_cache_val *v) {
  if (!v) {
    lua_pushnil(L);
    return;
  }
  hold(b, v);
  if (v->kind != RP_CACHE_LUA) {
    lua_pushlstring(L, (const char *)v->data, v->len);
  } else {
    int top = lua_gettop(L);
    rp_cache_dec d;
    rp_err err;
    rp_cache_dec_init(&d, v);
    int rc = dec_value(L, &d, 0, 0, &err);
    if (!rc && !rp_cache_dec_done(&d))
      rc = rp_errf(&err, RP_EFORMAT, "cache value has bytes after its end");
    if (rc) {
      lua_settop(L, top);
      hold(b, NULL);
      rpL_error(L, &err);
    }
  }
  hold(b, NULL);
}

/* ---- functions ------------------------------------------------------------------------- */
static int pushcache(lua_State *L, rp_cache *c, const rp_err *err) {
  if (!c) return rpL_error(L, err);
  cbox *b = lua_touserdata(L, -1);
  b->c = c;
  return 1;
}

static cbox *newbox(lua_State *L) {
  cbox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->c = NULL;
  b->hold = NULL;
  luaL_setmetatable(L, CACHE_T);
  return b;
}

/* rp.cache.new{capacity, capacity_bytes, ttl, shards} */
static int cache_new(lua_State *L) {
  rp_cache_opts o;
  checkoptions(L, 1, &o);
  newbox(L);
  rp_err err;
  rp_cache *c = rp_cache_new(&o, &err);
  if (!c) luaL_argerror(L, 1, err.msg);
  return pushcache(L, c, &err);
}

/* rp.cache.shared(name, opts) */
static int cache_shared(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  rp_cache_opts o;
  int given = !lua_isnoneornil(L, 2);
  checkoptions(L, 2, &o);
  lua_settop(L, 2);
  newbox(L);
  rp_err err;
  rp_cache *c = rp_cache_shared(name, given ? &o : NULL, &err);
  if (!c) luaL_argerror(L, given ? 2 : 1, err.msg);
  return pushcache(L, c, &err);
}

/* c:get(key) -> value or nil */
static int cache_get(lua_State *L) {
  cbox *b = checkbox(L, 1);
  size_t n;
  const char *k = checkkey(L, 2, &n);
  rp_cache_val *v;
  rp_cache_get(b->c, k, n, &v);
  pushvalue(L, b, v);
  return 1;
}

/* c:put(key, value, {ttl}) -> stored */
static int cache_put(lua_State *L) {
  cbox *b = checkbox(L, 1);
  size_t n;
  const char *k = checkkey(L, 2, &n);
  luaL_argcheck(L, !lua_isnoneornil(L, 3), 3, "value must not be nil (invalidate removes a key)");
  double ttl = checkttl(L, 4);
  rp_cache_val *v = tovalue(L, 3, 3);
  hold(b, v);
  rp_err err;
  int stored = 0, rc = rp_cache_put(b->c, k, n, v, ttl, &stored, &err);
  hold(b, NULL);
  if (rc) return rpL_error(L, &err);
  lua_pushboolean(L, stored);
  return 1;
}

typedef struct fctx {
  lua_State *L;
  cbox *b;
  int fn, key; /* stack indices in cache_fetch's frame */
  int errobj;  /* stack index of fn's error, 0 if none */
  rp_cache_val *v;
  int has_ttl;
  double ttl;
} fctx;

/* under lua_pcall: v, ttl = fn(key); v encoded into f->v */
static int fetch_call(lua_State *L) {
  fctx *f = lua_touserdata(L, 1);
  lua_call(L, 1, 2); /* fn(key), given as arguments 2 and 3 */
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      return luaL_error(L, "fetch: the function's second result (ttl) must be a number, got %s",
                        luaL_typename(L, -1));
    f->ttl = (double)lua_tonumber(L, -1);
    f->has_ttl = 1;
  }
  if (!lua_isnil(L, -2)) {
    rp_cache_val *v = tovalue(L, -2, 0);
    hold(f->b, v);
    f->v = v;
  }
  return 0;
}

static int fetch_compute(void *ud, const void *key, size_t klen, rp_cache_val **out, double *ttl,
                         rp_err *err) {
  fctx *f = ud;
  lua_State *L = f->L;
  (void)key, (void)klen;
  lua_pushcfunction(L, fetch_call);
  lua_pushlightuserdata(L, f);
  lua_pushvalue(L, f->fn);
  lua_pushvalue(L, f->key);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    f->errobj = lua_gettop(L);
    rp_cache_val_release(f->b->hold); /* a value encoded before the error */
    f->b->hold = NULL;
    const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    return rp_errf(err, RP_EINVAL, "%s", m ? m : "(error object is not a string)");
  }
  f->b->hold = NULL; /* f->v's reference goes to the cache */
  *out = f->v;
  if (f->has_ttl) *ttl = f->ttl;
  return RP_OK;
}

/* c:fetch(key, fn, {ttl}) -> value: fn(key) -> value [, ttl] on a miss */
static int cache_fetch(lua_State *L) {
  cbox *b = checkbox(L, 1);
  size_t n;
  const char *k = checkkey(L, 2, &n);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  double ttl = checkttl(L, 4);
  lua_settop(L, 4);
  fctx f = {.L = L, .b = b, .fn = 3, .key = 2};
  rp_cache_val *v;
  rp_err err;
  int rc = rp_cache_fetch(b->c, k, n, ttl, fetch_compute, &f, &v, &err);
  if (rc) {
    if (f.errobj) return lua_error(L); /* fn's own error, as it raised it */
    return rpL_error(L, &err);
  }
  pushvalue(L, b, v);
  return 1;
}

/* c:invalidate(key) or c:invalidate(prefix, {prefix = true}) -> count */
static int cache_invalidate(lua_State *L) {
  cbox *b = checkbox(L, 1);
  size_t n;
  const char *k = checkkey(L, 2, &n);
  static const char *const known[] = {"prefix", NULL};
  rpL_checkopts(L, 3, known);
  size_t removed = rpL_optboolean(L, 3, "prefix", 0) ? rp_cache_invalidate_prefix(b->c, k, n)
                                                     : rp_cache_invalidate(b->c, k, n);
  lua_pushinteger(L, (lua_Integer)removed);
  return 1;
}

/* c:clear() -> count */
static int cache_clear(lua_State *L) {
  cbox *b = checkbox(L, 1);
  lua_pushinteger(L, (lua_Integer)rp_cache_invalidate_prefix(b->c, "", 0));
  return 1;
}

static void setint(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* c:stats() -> table of counters */
static int cache_stats(lua_State *L) {
  cbox *b = checkbox(L, 1);
  rp_cache_stats s;
  rp_cache_stats_read(b->c, &s);
  lua_createtable(L, 0, 17);
#define PUSH(f) setint(L, #f, (int64_t)s.f);
  RP_CACHE_COUNTERS(PUSH)
#undef PUSH
  setint(L, "entries", s.entries);
  setint(L, "bytes", s.bytes);
  setint(L, "capacity", s.capacity);
  setint(L, "capacity_bytes", s.capacity_bytes);
  setint(L, "shards", s.shards);
  lua_pushnumber(L, (lua_Number)s.ttl);
  lua_setfield(L, -2, "ttl");
  return 1;
}

/* c:_advance(seconds): test hook, moves this cache's clock forward */
static int cache_advance(lua_State *L) {
  cbox *b = checkbox(L, 1);
  lua_Number s = luaL_checknumber(L, 2);
  luaL_argcheck(L, s > 0 && s < 1e9, 2, "seconds must be in (0, 1e9)");
  rp_cache_advance(b->c, (double)s);
  return 0;
}

static int cache_len(lua_State *L) {
  cbox *b = checkbox(L, 1);
  rp_cache_stats s;
  rp_cache_stats_read(b->c, &s);
  lua_pushinteger(L, (lua_Integer)s.entries);
  return 1;
}

static int cache_tostring(lua_State *L) {
  cbox *b = luaL_checkudata(L, 1, CACHE_T);
  if (!b->c) {
    lua_pushliteral(L, "recpipe.Cache (freed)");
    return 1;
  }
  rp_cache_stats s;
  rp_cache_stats_read(b->c, &s);
  lua_pushfstring(L, "recpipe.Cache (%I entries, %I bytes; capacity %I entries, %I bytes)",
                  (lua_Integer)s.entries, (lua_Integer)s.bytes, (lua_Integer)s.capacity,
                  (lua_Integer)s.capacity_bytes);
  return 1;
}

/* __gc, __close and c:free(): drop this state's reference (a shared cache
 * lives on while other states or the registry hold it) */
static int cache_free(lua_State *L) {
  cbox *b = luaL_checkudata(L, 1, CACHE_T);
  hold(b, NULL);
  rp_cache_release(b->c);
  b->c = NULL;
  return 0;
}

static const luaL_Reg cache_methods[] = {{"get", cache_get},
                                         {"put", cache_put},
                                         {"fetch", cache_fetch},
                                         {"invalidate", cache_invalidate},
                                         {"clear", cache_clear},
                                         {"stats", cache_stats},
                                         {"free", cache_free},
                                         {"_advance", cache_advance},
                                         {NULL, NULL}};
static const luaL_Reg cache_meta[] = {{"__gc", cache_free},
                                      {"__close", cache_free},
                                      {"__len", cache_len},
                                      {"__tostring", cache_tostring},
                                      {NULL, NULL}};
static const luaL_Reg buf_meta[] = {{"__gc", buf_gc}, {NULL, NULL}};

static const luaL_Reg cache_funcs[] = {{"new", cache_new}, {"shared", cache_shared}, {NULL, NULL}};

int luaopen_recpipe_cache(lua_State *L);
int luaopen_recpipe_cache(lua_State *L) {
  /* no destroy: the Cache box keeps its own layout (cbox) and lifetime */
  static const rpL_class cache_class = {CACHE_T, NULL, NULL};
  static const rpL_class buf_class = {BUF_T, NULL, NULL};
  rpL_newtype(L, &cache_class, cache_methods, cache_meta);
  rpL_newtype(L, &buf_class, NULL, buf_meta);
  luaL_newlib(L, cache_funcs);
  return 1;
}
