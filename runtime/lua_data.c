/*
 * lua_data.c -- the shared data model's Lua types (DESIGN.md "Data model"):
 * IdMap, Matrix (CSR), Dense and Events, with their metatables, methods and
 * the push/check functions every binding uses (rpl.h).  The types belong to
 * the runtime, not to a module: a module's binding takes and returns them
 * whether or not the module that usually makes them (rp.io.read_events,
 * rp.sparse.load) is in the build.  Arguments are checked here; the work is
 * in runtime/core (idmap.c, csr*.c, dense.c, events.c, evops.c).
 */
#include <math.h>
#include <string.h>

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

/* ---- Matrix ----------------------------------------------------------------- */
static void matrix_destroy(void *m) { rp_csr_free(m); }
static const rpL_class matrix_class = {RP_MATRIX_T, matrix_destroy, NULL};

static int matrix_tostring(lua_State *L) {
  rp_csr *m = *rpL_slot(L, 1, RP_MATRIX_T);
  if (!m)
    lua_pushstring(L, "recpipe.Matrix(freed)");
  else
    lua_pushfstring(L, "recpipe.Matrix(%d x %d, %I non-zeros)", m->nrows, m->ncols,
                    (lua_Integer)m->nnz);
  return 1;
}

/* m.nrows, m.ncols, m.nnz, m.users, m.items; other keys are methods */
static int matrix_index(lua_State *L) {
  rpL_slot(L, 1, RP_MATRIX_T);
  const char *k = luaL_checkstring(L, 2);
  /* methods resolve on a freed matrix too (so m:free() twice is fine) */
  if (rpL_method(L, RP_MATRIX_T, k) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  rp_csr *m = rpL_checkmatrix(L, 1);
  if (strcmp(k, "nrows") == 0)
    lua_pushinteger(L, m->nrows);
  else if (strcmp(k, "ncols") == 0)
    lua_pushinteger(L, m->ncols);
  else if (strcmp(k, "nnz") == 0)
    lua_pushinteger(L, (lua_Integer)m->nnz);
  else if ((strcmp(k, "users") == 0 && m->rowmap) || (strcmp(k, "items") == 0 && m->colmap)) {
    lua_settop(L, 2);
    rpL_pin(L, 1, RP_MATRIX_T); /* the box allocation may run a finalizer */
    rpL_pushidmap(L, k[0] == 'u' ? m->rowmap : m->colmap);
  } else
    lua_pushnil(L);
  return 1;
}

/* Pushes an empty Matrix box, runs nothing: the caller builds the matrix
 * and stores it with store_matrix (so a Lua memory error cannot leak). */
static void **new_matrix_box(lua_State *L) { return rpL_newbox(L, RP_MATRIX_T); }

static int store_matrix(lua_State *L, void **slot, rp_csr *m, rp_err *err) {
  if (!m) return rpL_error(L, err);
  *slot = m;
  rpL_gcpressure(L);
  return 1;
}

/* The row index of the user id at idx, or -1 after pushing nil, message. */
static int32_t row_of(lua_State *L, const rp_csr *m, int idx, const char *what) {
  luaL_checkany(L, idx);
  const rp_idmap *map = what[0] == 'u' ? m->rowmap : m->colmap;
  int32_t r = map ? rpL_lookup(L, idx, map) : -1;
  if (r < 0) rpL_nilmsg(L, what[0] == 'u' ? "unknown user id '%s'" : "unknown item id '%s'", idx);
  return r;
}

/* m:row(user_id) -> item ids, values (Lua arrays) | nil, message */
static int matrix_row(lua_State *L) {
  luaL_checkudata(L, 1, RP_MATRIX_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  int32_t r = row_of(L, m, 2, "user");
  if (r < 0) return 2;
  int64_t a = r < m->nrows ? m->indptr[r] : 0;
  rpL_pushlists(L, m->colmap, m->indices + a, m->data + a, (int32_t)rp_csr_rowlen(m, r));
  return 2;
}

/* m:value(user_id, item_id) -> number (0 when not stored) | nil, message
 * (m is borrowed unpinned: nothing here allocates before its last use) */
static int matrix_value(lua_State *L) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  int32_t r = row_of(L, m, 2, "user");
  if (r < 0) return 2;
  int32_t c = row_of(L, m, 3, "item");
  if (c < 0) return 2;
  lua_pushnumber(L, rp_csr_value(m, r, c, NULL));
  return 1;
}

static int matrix_transpose(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"threads", NULL};
  rpL_checkopts(L, 2, known);
  int threads = (int)rpL_optinteger(L, 2, "threads", 0, 0, 1024);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_transpose(m, threads, &err), &err);
}

static int matrix_copy(lua_State *L) {
  lua_settop(L, 1);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_copy(m, &err), &err);
}

static void setint(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* m:kcore{min_user = 3, min_item = 5} -> matrix, report */
static int matrix_kcore(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"min_user", "min_item", NULL};
  rpL_checkopts(L, 2, known);
  lua_Integer mu = rpL_optinteger(L, 2, "min_user", 1, 0, LUA_MAXINTEGER);
  lua_Integer mi = rpL_optinteger(L, 2, "min_item", 1, 0, LUA_MAXINTEGER);
  void **slot = new_matrix_box(L);
  rp_err err;
  rp_kcore_report rep;
  store_matrix(L, slot, rp_csr_kcore(m, mu, mi, &rep, &err), &err);
  lua_createtable(L, 0, 7);
  setint(L, "users_removed", rep.rows_removed);
  setint(L, "items_removed", rep.cols_removed);
  setint(L, "interactions_removed", rep.nnz_removed);
  setint(L, "users", rep.rows);
  setint(L, "items", rep.cols);
  setint(L, "nnz", rep.nnz);
  setint(L, "rounds", rep.rounds);
  return 2;
}

static int push_counts(lua_State *L, int axis) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  rp_err err;
  rp_dense *d = rp_csr_counts_dense(m, axis, &err);
  if (!d) return rpL_error(L, &err);
  rpL_pushdense(L, d, 0);
  return 1;
}
static int matrix_row_counts(lua_State *L) { return push_counts(L, 0); }
static int matrix_col_counts(lua_State *L) { return push_counts(L, 1); }

/* A number argument at idx: finite and > lo (or >= lo when closed). */
static double checkparam(lua_State *L, int idx, const char *name, double def, double lo,
                         int closed) {
  if (lua_isnoneornil(L, idx)) return def;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return luaL_argerror(
        L, idx, lua_pushfstring(L, "%s must be a number, got %s", name, luaL_typename(L, idx)));
  double x = (double)lua_tonumber(L, idx);
  if (!isfinite(x) || (closed ? x < lo : x <= lo))
    return luaL_argerror(L, idx,
                         lua_pushfstring(L, "%s must be a %s number, got %f", name,
                                         closed ? "non-negative" : "positive", (LUAI_UACNUMBER)x));
  return x;
}

static int matrix_scale(lua_State *L) {
  luaL_checkudata(L, 1, RP_MATRIX_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  double alpha = checkparam(L, 2, "alpha", 1.0, 0.0, 0);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_scale(m, alpha, &err), &err);
}

static int matrix_log1p(lua_State *L) {
  lua_settop(L, 3);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  double alpha = checkparam(L, 2, "alpha", 1.0, 0.0, 0);
  double eps = checkparam(L, 3, "eps", 1.0, 0.0, 0);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_log1p(m, alpha, eps, &err), &err);
}

static int matrix_bm25(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"k1", "b", NULL};
  rpL_checkopts(L, 2, known);
  double k1 = rpL_optnumber(L, 2, "k1", 1.2, 0.0, HUGE_VAL);
  double b = rpL_optnumber(L, 2, "b", 0.75, 0.0, 1.0);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_bm25(m, k1, b, &err), &err);
}

static int matrix_binarize(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"threshold", NULL};
  rpL_checkopts(L, 2, known);
  double th = rpL_optnumber(L, 2, "threshold", 0.0, -HUGE_VAL, HUGE_VAL);
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_binarize(m, th, &err), &err);
}

static int matrix_sum(lua_State *L) {
  lua_pushnumber(L, rp_csr_sum(rpL_checkmatrix(L, 1)));
  return 1;
}

static double density(const rp_csr *m) {
  double cells = (double)m->nrows * (double)m->ncols;
  return cells > 0 ? (double)m->nnz / cells : 0.0;
}

static int matrix_density(lua_State *L) {
  lua_pushnumber(L, density(rpL_checkmatrix(L, 1)));
  return 1;
}

/* m:nonempty() -> users with an entry, items with an entry */
static int matrix_nonempty(lua_State *L) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  int32_t r, c;
  rp_err err;
  if (rp_csr_nonempty(m, &r, &c, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, r);
  lua_pushinteger(L, c);
  return 2;
}

/* m:stats() -> {nrows, ncols, nnz, users, items, density, sum, min, max, mean} */
static int matrix_stats(lua_State *L) {
  lua_settop(L, 1);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  int32_t r, c;
  rp_err err;
  if (rp_csr_nonempty(m, &r, &c, &err)) return rpL_error(L, &err);
  float lo, hi;
  rp_csr_minmax(m, &lo, &hi);
  double sum = rp_csr_sum(m);
  lua_createtable(L, 0, 10);
  setint(L, "nrows", m->nrows);
  setint(L, "ncols", m->ncols);
  setint(L, "nnz", (lua_Integer)m->nnz);
  setint(L, "users", r);
  setint(L, "items", c);
  lua_pushnumber(L, density(m));
  lua_setfield(L, -2, "density");
  lua_pushnumber(L, sum);
  lua_setfield(L, -2, "sum");
  if (m->nnz > 0) {
    lua_pushnumber(L, lo);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, hi);
    lua_setfield(L, -2, "max");
    lua_pushnumber(L, sum / (double)m->nnz);
    lua_setfield(L, -2, "mean");
  }
  return 1;
}

/* m:totable() -> {[user_id] = {[item_id] = value}} (non-empty rows only) */
static int matrix_totable(lua_State *L) {
  lua_settop(L, 1);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  if (!m->rowmap || !m->colmap) return luaL_error(L, "totable: the matrix has no id maps");
  lua_newtable(L);
  for (int32_t i = 0; i < m->nrows; i++) {
    int64_t a = m->indptr[i], b = m->indptr[i + 1];
    if (a == b) continue;
    rpL_pushid(L, m->rowmap, i);
    lua_createtable(L, 0, (int)(b - a));
    for (int64_t k = a; k < b; k++) {
      rpL_pushid(L, m->colmap, m->indices[k]);
      lua_pushnumber(L, m->data[k]);
      lua_rawset(L, -3);
    }
    lua_rawset(L, -3);
  }
  return 1;
}

/* m:save(path[, {level = 1}]) -> true */
static int matrix_save(lua_State *L) {
  luaL_checkudata(L, 1, RP_MATRIX_T); /* self first */
  const char *path = luaL_checkstring(L, 2);
  lua_settop(L, 3);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"level", NULL};
  rpL_checkopts(L, 3, known);
  int level = (int)rpL_optinteger(L, 3, "level", 1, 1, 9);
  rp_err err;
  if (rp_csr_save_level(m, path, level, &err)) return rpL_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* The IdMap in opts[field] (pinned), or NULL when absent. */
static rp_idmap *optmap(lua_State *L, int opts, const char *field) {
  return rpL_pinopt(L, opts, field, RP_IDMAP_T);
}

/* m:align{users = map, items = map} -> Matrix on those maps */
static int matrix_align(lua_State *L) {
  luaL_checkudata(L, 1, RP_MATRIX_T); /* self first */
  static const char *const known[] = {"users", "items", NULL};
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  rpL_checkopts(L, 2, known);
  rp_idmap *um = optmap(L, 2, "users"), *im = optmap(L, 2, "items");
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_align(m, um, im, &err), &err);
}

/* A map for from_triplets: opts[field] when given (pinned), else a new one
 * (pushed in an IdMap box first so a Lua error cannot leak it). */

static const luaL_Reg matrix_methods[] = {{"row", matrix_row},
                                          {"value", matrix_value},
                                          {"transpose", matrix_transpose},
                                          {"copy", matrix_copy},
                                          {"align", matrix_align},
                                          {"kcore", matrix_kcore},
                                          {"row_counts", matrix_row_counts},
                                          {"col_counts", matrix_col_counts},
                                          {"scale", matrix_scale},
                                          {"log1p", matrix_log1p},
                                          {"bm25", matrix_bm25},
                                          {"binarize", matrix_binarize},
                                          {"sum", matrix_sum},
                                          {"density", matrix_density},
                                          {"nonempty", matrix_nonempty},
                                          {"stats", matrix_stats},
                                          {"totable", matrix_totable},
                                          {"save", matrix_save},
                                          {NULL, NULL}};
static const luaL_Reg matrix_meta[] = {
    {"__tostring", matrix_tostring}, {"__index", matrix_index}, {NULL, NULL}};

/* Runs rpL_newbox for rpL_pushmatrix (under lua_pcall: a memory error must
 * free the matrix, not leak it) */
static int newbox_matrix(lua_State *L) {
  rpL_newtype(L, &matrix_class, matrix_methods, matrix_meta);
  rpL_newbox(L, RP_MATRIX_T);
  return 1;
}

void rpL_pushmatrix(lua_State *L, rp_csr *m) {
  if (!lua_checkstack(L, 3)) {
    rp_csr_free(m);
    luaL_error(L, "stack overflow");
  }
  lua_pushcfunction(L, newbox_matrix);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    rp_csr_free(m);
    lua_error(L);
  }
  *(void **)lua_touserdata(L, -1) = m;
  rpL_gcpressure(L);
}

rp_csr *rpL_checkmatrix(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_MATRIX_T); }
rp_csr *rpL_testmatrix(lua_State *L, int idx) { return rpL_testobj(L, idx, RP_MATRIX_T); }

/* ---- Dense -------------------------------------------------------------------- */
static void dense_destroy(void *d) { rp_dense_free(d); }
static const rpL_class dense_class = {RP_DENSE_T, dense_destroy, NULL};

static int dense_tostring(lua_State *L) {
  rp_dense *d = *rpL_slot(L, 1, RP_DENSE_T);
  if (!d)
    lua_pushstring(L, "recpipe.Dense(freed)");
  else
    lua_pushfstring(L, "recpipe.Dense(%I x %d)", (lua_Integer)d->rows, d->cols);
  return 1;
}

static int dense_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)rpL_checkdense(L, 1)->rows);
  return 1;
}

/* d.rows, d.cols; d:get(r, c) 1-based; d:row(r) -> array; d:totable() */
static int dense_index(lua_State *L) {
  rpL_slot(L, 1, RP_DENSE_T);
  const char *k = luaL_checkstring(L, 2);
  if (rpL_method(L, RP_DENSE_T, k) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  rp_dense *d = rpL_checkdense(L, 1);
  if (strcmp(k, "rows") == 0)
    lua_pushinteger(L, (lua_Integer)d->rows);
  else if (strcmp(k, "cols") == 0)
    lua_pushinteger(L, d->cols);
  else
    lua_pushnil(L);
  return 1;
}

static int dense_get(lua_State *L) {
  rp_dense *d = rpL_checkdense(L, 1);
  lua_Integer r = luaL_checkinteger(L, 2), c = luaL_optinteger(L, 3, 1);
  luaL_argcheck(L, r >= 1 && r <= d->rows, 2, "row out of range");
  luaL_argcheck(L, c >= 1 && c <= d->cols, 3, "column out of range");
  lua_pushnumber(L, d->data[(r - 1) * d->cols + (c - 1)]);
  return 1;
}

static int dense_row(lua_State *L) {
  luaL_checkudata(L, 1, RP_DENSE_T); /* self first */
  lua_Integer r = luaL_checkinteger(L, 2);
  lua_settop(L, 2);
  rp_dense *d = rpL_pin(L, 1, RP_DENSE_T);
  luaL_argcheck(L, r >= 1 && r <= d->rows, 2, "row out of range");
  lua_createtable(L, d->cols, 0);
  for (int32_t c = 0; c < d->cols; c++) {
    lua_pushnumber(L, d->data[(r - 1) * d->cols + c]);
    lua_rawseti(L, -2, c + 1);
  }
  return 1;
}

/* d:totable() -> array of row arrays; a one-column Dense gives a flat array */
static int dense_totable(lua_State *L) {
  lua_settop(L, 1);
  rp_dense *d = rpL_pin(L, 1, RP_DENSE_T);
  lua_createtable(L, (int)d->rows, 0);
  for (int64_t r = 0; r < d->rows; r++) {
    if (d->cols == 1) {
      lua_pushnumber(L, d->data[r]);
    } else {
      lua_createtable(L, d->cols, 0);
      for (int32_t c = 0; c < d->cols; c++) {
        lua_pushnumber(L, d->data[r * d->cols + c]);
        lua_rawseti(L, -2, c + 1);
      }
    }
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

static const luaL_Reg dense_methods[] = {
    {"get", dense_get}, {"row", dense_row}, {"totable", dense_totable}, {NULL, NULL}};
static const luaL_Reg dense_meta[] = {
    {"__tostring", dense_tostring}, {"__index", dense_index}, {"__len", dense_len}, {NULL, NULL}};

static int newbox_dense(lua_State *L) {
  rpL_newtype(L, &dense_class, dense_methods, dense_meta);
  rpL_newbox(L, RP_DENSE_T);
  return 1;
}

void rpL_pushdense(lua_State *L, rp_dense *d, int owner_idx) {
  if (owner_idx) owner_idx = lua_absindex(L, owner_idx);
  if (!lua_checkstack(L, 3)) {
    rp_dense_free(d);
    luaL_error(L, "stack overflow");
  }
  lua_pushcfunction(L, newbox_dense);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    rp_dense_free(d);
    lua_error(L);
  }
  *(void **)lua_touserdata(L, -1) = d;
  /* a view keeps its owner (a model, a projection) alive; a memory error
   * here leaves the Dense owned by its box, which frees it */
  if (owner_idx) rpL_hold(L, -1, owner_idx);
}

rp_dense *rpL_checkdense(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_DENSE_T); }

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
int rpL_checkweights(lua_State *L, int arg, const char *field, int tidx, const char **names,
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
    if (n == RP_MAX_WEIGHTS)
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "%shas more than %d entries", prefix, RP_MAX_WEIGHTS));
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
  const char *names[RP_MAX_WEIGHTS];
  float values[RP_MAX_WEIGHTS];
  if (!lua_istable(L, 2))
    rpL_checkweights(L, 2, NULL, 2, names, values); /* raises: "got no value" */
  lua_settop(L, 3);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  int n = rpL_checkweights(L, 2, NULL, 2, names, values);
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

/* ---- registration ------------------------------------------------------------------ */
void rpL_opendata(lua_State *L) {
  rpL_newtype(L, &idmap_class, idmap_methods, idmap_meta);
  rpL_newtype(L, &matrix_class, matrix_methods, matrix_meta);
  rpL_newtype(L, &dense_class, dense_methods, dense_meta);
  rpL_newtype(L, &events_class, events_methods, events_meta);
}
