/*
 * lua_dist.c -- `recpipe.dist` binding: rank, size, barrier, the values a
 * script exchanges (gather, sum) and the range of a list a rank handles.
 * Lua values cross as bytes in a small tagged encoding (nil, booleans,
 * integers, floats, strings, tables of these); the exchange is the core's.
 */
#include <string.h>

#include "dist.h"
#include "rpl.h"

enum { T_NIL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STR, T_TABLE };
#define MAX_DEPTH 64

/* the encoder runs twice: once to measure (b->out NULL), once to write */
typedef struct enc {
  char *out;
  size_t n;
} enc;

static void put(enc *b, const void *p, size_t n) {
  if (b->out) memcpy(b->out + b->n, p, n);
  b->n += n;
}

/* encodes the value at idx into b */
static void encode(lua_State *L, int idx, enc *b, int depth, const char *fn) {
  uint8_t tag;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      tag = T_NIL, put(b, &tag, 1);
      return;
    case LUA_TBOOLEAN:
      tag = lua_toboolean(L, idx) ? T_TRUE : T_FALSE, put(b, &tag, 1);
      return;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        int64_t v = (int64_t)lua_tointeger(L, idx);
        tag = T_INT, put(b, &tag, 1), put(b, &v, sizeof v);
      } else {
        double v = (double)lua_tonumber(L, idx);
        tag = T_FLOAT, put(b, &tag, 1), put(b, &v, sizeof v);
      }
      return;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      uint64_t len = n;
      tag = T_STR, put(b, &tag, 1), put(b, &len, sizeof len), put(b, s, n);
      return;
    }
    case LUA_TTABLE: {
      if (depth >= MAX_DEPTH) luaL_error(L, "%s: tables nested deeper than %d", fn, MAX_DEPTH);
      uint64_t count = 0;
      idx = lua_absindex(L, idx);
      lua_pushnil(L);
      while (lua_next(L, idx)) count++, lua_pop(L, 1);
      tag = T_TABLE, put(b, &tag, 1), put(b, &count, sizeof count);
      luaL_checkstack(L, 4, "dist");
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        encode(L, -2, b, depth + 1, fn);
        encode(L, -1, b, depth + 1, fn);
        lua_pop(L, 1);
      }
      return;
    }
    default:
      luaL_error(L,
                 "%s: a %s cannot be sent to other processes (nil, booleans, numbers, strings "
                 "and tables of these can)",
                 fn, luaL_typename(L, idx));
  }
}

/* decodes one value from *p (end e) and pushes it */
static void decode(lua_State *L, const char **p, const char *e) {
  luaL_checkstack(L, 4, "dist");
  if (*p >= e) luaL_error(L, "rp.dist: truncated message");
  uint8_t tag = (uint8_t) * (*p)++;
  switch (tag) {
    case T_NIL:
      lua_pushnil(L);
      return;
    case T_FALSE:
      lua_pushboolean(L, 0);
      return;
    case T_TRUE:
      lua_pushboolean(L, 1);
      return;
    case T_INT:
    case T_FLOAT: {
      if (e - *p < 8) luaL_error(L, "rp.dist: truncated message");
      if (tag == T_INT) {
        int64_t v;
        memcpy(&v, *p, 8);
        lua_pushinteger(L, (lua_Integer)v);
      } else {
        double v;
        memcpy(&v, *p, 8);
        lua_pushnumber(L, (lua_Number)v);
      }
      *p += 8;
      return;
    }
    case T_STR:
    case T_TABLE: {
      uint64_t n;
      if (e - *p < 8) luaL_error(L, "rp.dist: truncated message");
      memcpy(&n, *p, 8);
      *p += 8;
      if (tag == T_STR) {
        if ((uint64_t)(e - *p) < n) luaL_error(L, "rp.dist: truncated message");
        lua_pushlstring(L, *p, (size_t)n);
        *p += n;
        return;
      }
      lua_newtable(L);
      for (uint64_t k = 0; k < n; k++) {
        decode(L, p, e);
        decode(L, p, e);
        if (lua_isnil(L, -2)) luaL_error(L, "rp.dist: nil table key");
        lua_rawset(L, -3);
      }
      return;
    }
    default:
      luaL_error(L, "rp.dist: bad message tag %d", (int)tag);
  }
}

/* pushes a table {v_rank0, v_rank1, ...} of the value at 1 from every rank */
static void gather(lua_State *L, const char *fn) {
  lua_settop(L, 1);
  enc b = {NULL, 0};
  encode(L, 1, &b, 0, fn);
  size_t n = b.n;
  char *mine = lua_newuserdatauv(L, n + 1, 0);
  b.out = mine, b.n = 0;
  encode(L, 1, &b, 0, fn);
  int size = rp_dist_size();
  size_t *sizes = rpL_scratch(L, (size_t)size, sizeof *sizes);
  char *all = NULL;
  rp_err err;
  if (rp_dist_allgather_bytes(mine, n, &all, sizes, &err)) rpL_error(L, &err);
  /* decoded from a Lua copy, so an error while decoding leaks nothing */
  size_t total = 0;
  for (int r = 0; r < size; r++) total += sizes[r];
  lua_pushlstring(L, all, total);
  rp_free(all);
  const char *p = lua_tostring(L, -1);
  lua_createtable(L, size, 0);
  for (int r = 0; r < size; r++) {
    const char *e = p + sizes[r];
    decode(L, &p, e);
    if (p != e) luaL_error(L, "%s: bad message from rank %d", fn, r);
    lua_rawseti(L, -2, r + 1);
  }
}

/* rp.dist.gather(v) -> {v of rank 0, v of rank 1, ...} on every rank */
static int dist_gather(lua_State *L) {
  luaL_checkany(L, 1);
  gather(L, "rp.dist.gather");
  return 1;
}

/* acc (at -2) + v (at -1) -> the sum replaces both; numbers add (integers
 * stay integers), tables add key by key (a key missing on one side counts
 * as absent) */
static void add(lua_State *L, int rank, const char *path) {
  int ta = lua_type(L, -2), tv = lua_type(L, -1);
  if (tv != LUA_TNUMBER && tv != LUA_TTABLE)
    luaL_error(L, "rp.dist.sum: rank %d gave a %s%s (numbers or tables of numbers expected)", rank,
               luaL_typename(L, -1), path);
  if (ta == LUA_TNIL) {
    if (tv == LUA_TNUMBER) {
      lua_remove(L, -2);
      return;
    }
    lua_newtable(L); /* a fresh accumulator: the values given stay as they are */
    lua_replace(L, -3);
    ta = LUA_TTABLE;
  }
  if (ta != tv)
    luaL_error(L, "rp.dist.sum: rank %d gave a %s%s where a lower rank gave a %s", rank,
               luaL_typename(L, -1), path, lua_typename(L, ta));
  if (tv == LUA_TNUMBER) {
    lua_arith(L, LUA_OPADD);
    return;
  }
  luaL_checkstack(L, 6, "rp.dist.sum");
  int acc = lua_absindex(L, -2), v = lua_absindex(L, -1);
  lua_pushnil(L);
  while (lua_next(L, v)) {
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -1);
    lua_rawget(L, acc);
    lua_pushvalue(L, -3);
    add(L, rank, " in a table");
    lua_rawset(L, acc);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* rp.dist.sum(v) -> the sum over ranks, folded in rank order on every rank */
static int dist_sum(lua_State *L) {
  luaL_checkany(L, 1);
  gather(L, "rp.dist.sum");
  int all = lua_gettop(L);
  int size = (int)lua_rawlen(L, all);
  lua_pushnil(L);
  for (int r = 0; r < size; r++) {
    lua_rawgeti(L, all, r + 1);
    add(L, r, "");
  }
  return 1;
}

static int dist_rank(lua_State *L) {
  lua_pushinteger(L, rp_dist_rank());
  return 1;
}

static int dist_size(lua_State *L) {
  lua_pushinteger(L, rp_dist_size());
  return 1;
}

static int dist_launched(lua_State *L) {
  lua_pushboolean(L, rp_dist_launched());
  return 1;
}

static int dist_barrier(lua_State *L) {
  rp_err err;
  if (rp_dist_barrier(&err)) return rpL_error(L, &err);
  return 0;
}

/* rp.dist.range(n) -> first, last: this rank's share of 1..n (contiguous,
 * in rank order; empty when last < first) */
static int dist_range(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0, 1, "a count >= 0 expected");
  int size = rp_dist_size(), r = rp_dist_rank();
  int64_t *off = rpL_scratch(L, (size_t)size + 1, sizeof *off);
  rp_dist_blocks((int64_t)n, NULL, size, off);
  lua_pushinteger(L, (lua_Integer)off[r] + 1);
  lua_pushinteger(L, (lua_Integer)off[r + 1]);
  return 2;
}

/* rp.dist.stats() -> {bytes_sent = ...} */
static int dist_stats(lua_State *L) {
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, (lua_Integer)rp_dist_bytes_sent());
  lua_setfield(L, -2, "bytes_sent");
  return 1;
}

static const luaL_Reg dist_funcs[] = {
    {"rank", dist_rank},       {"size", dist_size},     {"launched", dist_launched},
    {"barrier", dist_barrier}, {"gather", dist_gather}, {"sum", dist_sum},
    {"range", dist_range},     {"stats", dist_stats},   {NULL, NULL}};

int luaopen_recpipe_dist(lua_State *L);
int luaopen_recpipe_dist(lua_State *L) {
  luaL_newlib(L, dist_funcs);
  return 1;
}
