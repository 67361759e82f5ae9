/*
 * lua_sparse.c -- `recpipe.sparse` binding: the Matrix (CSR) and Dense
 * types, rp.sparse.load and rp.sparse.from_triplets.  Arguments are checked
 * here; the work is in csr.c, csr_ops.c and csr_io.c.
 */
#include <math.h>
#include <string.h>

#include "objcache.h"
#include "rpl.h"

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

static int matrix_align(lua_State *L);
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

/* ---- module functions --------------------------------------------------------------- */

/* The IdMap in opts[field] (pinned), or NULL when absent. */
static rp_idmap *optmap(lua_State *L, int opts, const char *field) {
  return rpL_pinopt(L, opts, field, RP_IDMAP_T);
}

/* Matrices shared through the process-wide object cache (recpipe serve:
 * every worker's script loads the same file, one copy is kept). */
static void csr_retain(void *m) { rp_csr_retain(m); }
static void csr_release(void *m) { rp_csr_free(m); }
static int csr_only_owner(void *m) {
  return __atomic_load_n(&((rp_csr *)m)->shares, __ATOMIC_ACQUIRE) == 0;
}
static const rp_objtype csr_type = {"matrix", csr_retain, csr_release, csr_only_owner};

/* rp.sparse.load(path[, {users = map, items = map}]) -> Matrix; with its own
 * id maps, or re-aligned onto the given ones */
static int sparse_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  static const char *const known[] = {"users", "items", NULL};
  lua_settop(L, 2);
  rpL_checkopts(L, 2, known);
  rp_idmap *um = optmap(L, 2, "users"), *im = optmap(L, 2, "items"); /* before the work */
  int aligned = um || im;
  void **slot = new_matrix_box(L);
  rp_err err;
  rp_fileid id = rp_fileid_of(path);
  if (!aligned && (*slot = rp_objcache_get(&csr_type, path, id, ""))) return 1;
  store_matrix(L, slot, rp_csr_load(path, &err), &err);
  if (!aligned) {
    if (rp_objcache_enabled()) { /* a matrix aligned onto given maps is not shared */
      rp_csr *m = *slot;
      if (m->rowmap) m->rowmap->frozen = 1;
      if (m->colmap) m->colmap->frozen = 1;
      if (rp_objcache_put(&csr_type, path, id, "", m, &err)) return rpL_error(L, &err);
    }
    return 1;
  }
  rp_csr *a = rp_csr_align(*slot, um, im, &err);
  if (!a) return rpL_error(L, &err);
  rp_csr_free(*slot);
  *slot = a;
  return 1;
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
static rp_idmap *triplet_map(lua_State *L, int opts, const char *field) {
  rp_idmap *m = optmap(L, opts, field);
  if (m) return m;
  rpL_pushidmap(L, NULL);
  rp_err err;
  if (!(m = rp_idmap_new(&err))) return rpL_error(L, &err), NULL;
  *(void **)lua_touserdata(L, -1) = m;
  return m;
}

/* Interns the id at stack index idx (string or number). */
static int32_t triplet_id(lua_State *L, int idx, rp_idmap *map, lua_Integer row, int col) {
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && t != LUA_TNUMBER)
    luaL_error(L,
               "bad argument #1 to 'from_triplets' (entry %I: %s id must be a string or a "
               "number, got %s)",
               row, col == 1 ? "user" : "item", lua_typename(L, t));
  size_t len;
  lua_pushvalue(L, idx); /* a number becomes its text in the copy (no metamethods) */
  const char *s = lua_tolstring(L, -1, &len);
  int32_t k;
  rp_err err;
  if (rp_idmap_intern(map, s, len, &k, &err)) rpL_error(L, &err);
  lua_pop(L, 1);
  return k;
}

/* rp.sparse.from_triplets({{user, item[, value]}, ...}, {users =, items =,
 * aggregate = "sum"}) -> Matrix */
static int sparse_from_triplets(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  static const char *const known[] = {"users", "items", "aggregate", NULL};
  rpL_checkopts(L, 2, known);
  int agg = rpL_optenum(L, 2, "aggregate", RP_AGG_SUM, rp_agg_names);
  rp_idmap *um = triplet_map(L, 2, "users"), *im = triplet_map(L, 2, "items");
  lua_Integer n = (lua_Integer)luaL_len(L, 1);
  int32_t *r = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *r, 0);
  int32_t *c = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *c, 0);
  float *v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
  for (lua_Integer k = 1; k <= n; k++) {
    if (lua_rawgeti(L, 1, k) != LUA_TTABLE)
      luaL_error(L,
                 "bad argument #1 to 'from_triplets' (entry %I must be a table {user, item[, "
                 "value]})",
                 k);
    lua_rawgeti(L, -1, 1);
    r[k - 1] = triplet_id(L, -1, um, k, 1);
    lua_rawgeti(L, -2, 2);
    c[k - 1] = triplet_id(L, -1, im, k, 2);
    int isnum = 1;
    v[k - 1] = lua_rawgeti(L, -3, 3) == LUA_TNIL ? 1.0f : (float)lua_tonumberx(L, -1, &isnum);
    if (!isnum)
      luaL_error(L, "bad argument #1 to 'from_triplets' (entry %I: value must be a number)", k);
    lua_pop(L, 4);
  }
  void **slot = new_matrix_box(L);
  rp_err err;
  return store_matrix(L, slot, rp_csr_build(um->n, im->n, r, c, v, NULL, n, agg, um, im, &err),
                      &err);
}

static const luaL_Reg sparse_funcs[] = {
    {"load", sparse_load}, {"from_triplets", sparse_from_triplets}, {NULL, NULL}};

int luaopen_recpipe_sparse(lua_State *L);
int luaopen_recpipe_sparse(lua_State *L) {
  rpL_newtype(L, &matrix_class, matrix_methods, matrix_meta);
  rpL_newtype(L, &dense_class, dense_methods, dense_meta);
  luaL_newlib(L, sparse_funcs);
  return 1;
}
