/*
 * lua_sparse.c -- `recpipe.sparse` binding: rp.sparse.load and
 * rp.sparse.from_triplets.  The Matrix and Dense types they return (and
 * their methods) are the runtime's (runtime/lua_data.c); the work is in
 * runtime/core (csr.c, csr_io.c).
 */
#include "objcache.h"
#include "rpl.h"

/* Pushes an empty Matrix box, runs nothing: the caller builds the matrix
 * and stores it with store_matrix (so a Lua memory error cannot leak). */
static void **new_matrix_box(lua_State *L) { return rpL_newbox(L, RP_MATRIX_T); }

static int store_matrix(lua_State *L, void **slot, rp_csr *m, rp_err *err) {
  if (!m) return rpL_error(L, err);
  *slot = m;
  rpL_gcpressure(L);
  return 1;
}

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
  luaL_newlib(L, sparse_funcs);
  return 1;
}
