/*
 * lua_sparse.c -- `recpipe.sparse` binding: the Matrix (CSR) and Dense types.
 */
#include <string.h>

#include "rpl.h"

/* ---- Matrix ----------------------------------------------------------------- */
static int matrix_free(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_MATRIX_T);
  rp_csr_free(*slot);
  *slot = NULL;
  return 0;
}

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
  rp_csr *m = rpL_checkmatrix(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "nrows") == 0)
    lua_pushinteger(L, m->nrows);
  else if (strcmp(k, "ncols") == 0)
    lua_pushinteger(L, m->ncols);
  else if (strcmp(k, "nnz") == 0)
    lua_pushinteger(L, (lua_Integer)m->nnz);
  else if (strcmp(k, "users") == 0 && m->rowmap)
    rpL_pushidmap(L, m->rowmap);
  else if (strcmp(k, "items") == 0 && m->colmap)
    rpL_pushidmap(L, m->colmap);
  else {
    luaL_getmetatable(L, RP_MATRIX_T);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
  }
  return 1;
}

/* m:row(user_id) -> item ids, values (Lua arrays) */
static int matrix_row(lua_State *L) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  luaL_checkany(L, 2);
  int32_t r = m->rowmap ? rpL_lookup(L, 2, m->rowmap) : -1;
  if (r < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "unknown row id '%s'", luaL_tolstring(L, 2, NULL));
    return 2;
  }
  int64_t a = r < m->nrows ? m->indptr[r] : 0, b = r < m->nrows ? m->indptr[r + 1] : 0;
  lua_createtable(L, (int)(b - a), 0);
  lua_createtable(L, (int)(b - a), 0);
  for (int64_t k = a; k < b; k++) {
    rpL_pushid(L, m->colmap, m->indices[k]);
    lua_rawseti(L, -3, k - a + 1);
    lua_pushnumber(L, m->data[k]);
    lua_rawseti(L, -2, k - a + 1);
  }
  return 2;
}

static int matrix_transpose(lua_State *L) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  rp_err err;
  rp_csr *t = rp_csr_transpose(m, 0, &err);
  if (!t) return rpL_error(L, &err);
  rpL_pushmatrix(L, t);
  return 1;
}

static const luaL_Reg matrix_methods[] = {
    {"row", matrix_row}, {"transpose", matrix_transpose}, {"free", matrix_free}, {NULL, NULL}};
static const luaL_Reg matrix_meta[] = {{"__gc", matrix_free},
                                       {"__close", matrix_free},
                                       {"__tostring", matrix_tostring},
                                       {"__index", matrix_index},
                                       {NULL, NULL}};

void rpL_pushmatrix(lua_State *L, rp_csr *m) {
  rpL_newtype(L, RP_MATRIX_T, matrix_methods, matrix_meta);
  if (!lua_checkstack(L, 2)) {
    rp_csr_free(m);
    luaL_error(L, "stack overflow");
  }
  void **slot = lua_newuserdatauv(L, sizeof(void *), 1);
  *slot = m;
  luaL_setmetatable(L, RP_MATRIX_T);
  rpL_gcpressure(L);
}

rp_csr *rpL_checkmatrix(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_MATRIX_T); }
rp_csr *rpL_testmatrix(lua_State *L, int idx) { return rpL_testobj(L, idx, RP_MATRIX_T); }

/* ---- Dense -------------------------------------------------------------------- */
static int dense_free(lua_State *L) {
  void **slot = rpL_slot(L, 1, RP_DENSE_T);
  rp_dense_free(*slot);
  *slot = NULL;
  return 0;
}

static int dense_tostring(lua_State *L) {
  rp_dense *d = *rpL_slot(L, 1, RP_DENSE_T);
  if (!d)
    lua_pushstring(L, "recpipe.Dense(freed)");
  else
    lua_pushfstring(L, "recpipe.Dense(%I x %d)", (lua_Integer)d->rows, d->cols);
  return 1;
}

/* d.rows, d.cols; d:get(r, c) 1-based; d:row(r) -> array; d:totable() */
static int dense_index(lua_State *L) {
  rp_dense *d = rpL_checkdense(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "rows") == 0)
    lua_pushinteger(L, (lua_Integer)d->rows);
  else if (strcmp(k, "cols") == 0)
    lua_pushinteger(L, d->cols);
  else {
    luaL_getmetatable(L, RP_DENSE_T);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
  }
  return 1;
}

static int dense_get(lua_State *L) {
  rp_dense *d = rpL_checkdense(L, 1);
  lua_Integer r = luaL_checkinteger(L, 2), c = luaL_checkinteger(L, 3);
  luaL_argcheck(L, r >= 1 && r <= d->rows, 2, "row out of range");
  luaL_argcheck(L, c >= 1 && c <= d->cols, 3, "column out of range");
  lua_pushnumber(L, d->data[(r - 1) * d->cols + (c - 1)]);
  return 1;
}

static int dense_row(lua_State *L) {
  rp_dense *d = rpL_checkdense(L, 1);
  lua_Integer r = luaL_checkinteger(L, 2);
  luaL_argcheck(L, r >= 1 && r <= d->rows, 2, "row out of range");
  lua_createtable(L, d->cols, 0);
  for (int32_t c = 0; c < d->cols; c++) {
    lua_pushnumber(L, d->data[(r - 1) * d->cols + c]);
    lua_rawseti(L, -2, c + 1);
  }
  return 1;
}

static int dense_totable(lua_State *L) {
  rp_dense *d = rpL_checkdense(L, 1);
  lua_createtable(L, (int)d->rows, 0);
  for (int64_t r = 0; r < d->rows; r++) {
    lua_createtable(L, d->cols, 0);
    for (int32_t c = 0; c < d->cols; c++) {
      lua_pushnumber(L, d->data[r * d->cols + c]);
      lua_rawseti(L, -2, c + 1);
    }
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

static const luaL_Reg dense_methods[] = {{"get", dense_get},
                                         {"row", dense_row},
                                         {"totable", dense_totable},
                                         {"free", dense_free},
                                         {NULL, NULL}};
static const luaL_Reg dense_meta[] = {{"__gc", dense_free},
                                      {"__close", dense_free},
                                      {"__tostring", dense_tostring},
                                      {"__index", dense_index},
                                      {NULL, NULL}};

void rpL_pushdense(lua_State *L, rp_dense *d, int owner_idx) {
  if (owner_idx) owner_idx = lua_absindex(L, owner_idx);
  rpL_newtype(L, RP_DENSE_T, dense_methods, dense_meta);
  void **slot = lua_newuserdatauv(L, sizeof(void *), 1);
  *slot = d;
  luaL_setmetatable(L, RP_DENSE_T);
  if (owner_idx) {
    lua_pushvalue(L, owner_idx);
    lua_setiuservalue(L, -2, 1);
  }
}

rp_dense *rpL_checkdense(lua_State *L, int idx) { return rpL_checkobj(L, idx, RP_DENSE_T); }

static const luaL_Reg sparse_funcs[] = {{NULL, NULL}};

int luaopen_recpipe_sparse(lua_State *L);
int luaopen_recpipe_sparse(lua_State *L) {
  rpL_newtype(L, RP_MATRIX_T, matrix_methods, matrix_meta);
  rpL_newtype(L, RP_DENSE_T, dense_methods, dense_meta);
  luaL_newlib(L, sparse_funcs);
  return 1;
}
