/*
 * lua_hybrid.c -- `recpipe.hybrid` binding: attribute files (Features),
 * content / segment popularity / projection / blend recommenders (Hybrid)
 * and chain tuning.  Arguments are checked here; the work is in the hybrid core.  chain, fold_in
 * and the Lua side of blend live in hybrid_ext.lua.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "hybrid.h"
#include "rpl.h"

#define RP_FEATURES_T "recpipe.Features"
#define RP_HYBRID_T "recpipe.Hybrid"

/* ---- small helpers ------------------------------------------------------------ */
static void setint(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void setnum(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* ---- Features ------------------------------------------------------------------ */
static void features_destroy(void *f) { rp_features_free(f); }
static const rpL_class features_class = {RP_FEATURES_T, features_destroy, NULL};

static rp_features *checkfeatures(lua_State *L, int idx) {
  return rpL_checkobj(L, idx, RP_FEATURES_T);
}

static int features_tostring(lua_State *L) {
  rp_features *f = *rpL_slot(L, 1, RP_FEATURES_T);
  if (!f)
    lua_pushstring(L, "recpipe.Features(freed)");
  else
    lua_pushfstring(L, "recpipe.Features(%d entities x %d features, %d fields)", f->m->nrows,
                    f->m->ncols, f->nfields);
  return 1;
}

static int features_len(lua_State *L) {
  lua_pushinteger(L, checkfeatures(L, 1)->m->nrows);
  return 1;
}

/* f:names() -> array of feature names ("field=value"), column order */
static int features_names(lua_State *L) {
  lua_settop(L, 1);
  rp_features *f = rpL_pin(L, 1, RP_FEATURES_T);
  lua_createtable(L, f->m->ncols, 0);
  for (int32_t j = 0; j < f->m->ncols; j++) {
    rpL_pushid(L, f->m->colmap, j);
    lua_rawseti(L, -2, j + 1);
  }
  return 1;
}

/* f:fields() -> array of field names */
static int features_fields(lua_State *L) {
  lua_settop(L, 1);
  rp_features *f = rpL_pin(L, 1, RP_FEATURES_T);
  lua_createtable(L, f->nfields, 0);
  for (int i = 0; i < f->nfields; i++) {
    lua_pushstring(L, f->field_names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* Row index of the entity id at idx, or -1. */
static int32_t feature_row(lua_State *L, rp_features *f, int idx) {
  luaL_checkany(L, idx);
  return f->m->rowmap ? rpL_lookup(L, idx, f->m->rowmap) : -1;
}

/* f:row(id) -> names, values (empty for an entity without attributes);
 * nil, message for an id not on the map */
static int features_row(lua_State *L) {
  luaL_checkudata(L, 1, RP_FEATURES_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  rp_features *f = rpL_pin(L, 1, RP_FEATURES_T);
  int32_t r = feature_row(L, f, 2);
  if (r < 0) {
    return rpL_nilmsg(L, "unknown id '%s'", 2);
  }
  int64_t a = r < f->m->nrows ? f->m->indptr[r] : 0;
  rpL_pushlists(L, f->m->colmap, f->m->indices + a, f->m->data + a,
                (int32_t)rp_csr_rowlen(f->m, r));
  return 2;
}

/* f:attributes(id) -> {field = value or {values...}} (nil for an unknown id) */
static int features_attributes(lua_State *L) {
  luaL_checkudata(L, 1, RP_FEATURES_T); /* self first */
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  rp_features *f = rpL_pin(L, 1, RP_FEATURES_T);
  int32_t r = feature_row(L, f, 2);
  if (r < 0) return lua_pushnil(L), 1;
  lua_newtable(L);
  for (int64_t k = r < f->m->nrows ? f->m->indptr[r] : 0;
       r < f->m->nrows && k < f->m->indptr[r + 1]; k++) {
    int32_t j = f->m->indices[k];
    const char *field = f->field_names[f->field_of[j]];
    size_t len, fl = strlen(field);
    const char *name = rp_idmap_id(f->m->colmap, j, &len);
    const char *v = len > fl && name[fl] == '=' ? name + fl + 1 : name;
    size_t vn = (size_t)(name + len - v);
    int t = lua_getfield(L, -1, field);
    if (t == LUA_TNIL) { /* first value: a string */
      lua_pop(L, 1);
      lua_pushlstring(L, v, vn);
      lua_setfield(L, -2, field);
    } else if (t == LUA_TSTRING) { /* second: becomes a list */
      lua_createtable(L, 2, 0);
      lua_insert(L, -2);
      lua_rawseti(L, -2, 1);
      lua_pushlstring(L, v, vn);
      lua_rawseti(L, -2, 2);
      lua_setfield(L, -2, field);
    } else {
      lua_pushlstring(L, v, vn);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      lua_pop(L, 1);
    }
  }
  return 1;
}

/* f:matrix() -> a Matrix copy (entities x features) */
static int features_matrix(lua_State *L) {
  rp_features *f = checkfeatures(L, 1);
  rp_err err;
  rp_csr *m = rp_csr_copy(f->m, &err);
  if (!m) return rpL_error(L, &err);
  rpL_pushmatrix(L, m);
  return 1;
}

/* f.nrows, f.nfeatures, f.entities (IdMap), f.report; others are methods */
static int features_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  rp_features *f = rpL_indexobj(L, RP_FEATURES_T, k);
  if (!f) return 1; /* a method of a freed object (free) */
  if (strcmp(k, "nrows") == 0)
    lua_pushinteger(L, f->m->nrows);
  else if (strcmp(k, "nfeatures") == 0)
    lua_pushinteger(L, f->m->ncols);
  else if (strcmp(k, "nnz") == 0)
    lua_pushinteger(L, (lua_Integer)f->m->nnz);
  else if (strcmp(k, "entities") == 0 && f->m->rowmap)
    rpL_pushidmap(L, f->m->rowmap);
  else if (strcmp(k, "report") == 0)
    lua_getiuservalue(L, 1, 1);
  else {
    rpL_method(L, RP_FEATURES_T, k);
  }
  return 1;
}

static const luaL_Reg features_methods[] = {
    {"names", features_names},           {"fields", features_fields}, {"row", features_row},
    {"attributes", features_attributes}, {"matrix", features_matrix}, {NULL, NULL}};
static const luaL_Reg features_meta[] = {{"__len", features_len},
                                         {"__tostring", features_tostring},
                                         {"__index", features_index},
                                         {NULL, NULL}};

static void **newfeatures(lua_State *L) { return rpL_newbox(L, RP_FEATURES_T); }

/* ---- attributes(path, opts) ----------------------------------------------------------- */
static const char *const field_keys[] = {"column", "sep",   "buckets", "tokens",
                                         "flags",  "lower", "weight",  NULL};

/* Reads one field spec (value at the top of the stack) named name. */
static void field_spec(lua_State *L, int arg, const char *name, rp_field_spec *fs) {
  memset(fs, 0, sizeof *fs);
  fs->name = name;
  fs->kind = RP_FIELD_CAT;
  int t = lua_type(L, -1);
  if (t == LUA_TBOOLEAN && lua_toboolean(L, -1)) return;
  if (t != LUA_TTABLE)
    rpL_fielderror(L, arg, "fields", "entry '%s' must be true or a table, got %s", name,
                   luaL_typename(L, -1));
  int spec = lua_gettop(L), kinds = 0;
  rpL_checkopts(L, spec, field_keys);
  fs->column = rpL_optstring(L, spec, "column", NULL);
  fs->lower = rpL_optboolean(L, spec, "lower", 0);
  fs->weight = (float)rpL_optnumber(L, spec, "weight", 1.0, 0.0, HUGE_VAL);
  if ((fs->sep = rpL_optstring(L, spec, "sep", NULL))) fs->kind = RP_FIELD_MULTI, kinds++;
  if (rpL_optboolean(L, spec, "tokens", 0)) fs->kind = RP_FIELD_TOKENS, kinds++;
  if (rpL_getopt(L, spec, "buckets") != LUA_TNIL) {
    luaL_argcheck(L, lua_istable(L, -1), arg, "fields.<name>.buckets must be a list of numbers");
    fs->kind = RP_FIELD_BUCKETS, kinds++;
    fs->nbuckets = (int)luaL_len(L, -1);
    if (fs->nbuckets > RP_FIELD_MAX_BUCKETS) fs->nbuckets = RP_FIELD_MAX_BUCKETS + 1;
    for (int b = 0; b < fs->nbuckets && b < RP_FIELD_MAX_BUCKETS; b++) {
      lua_geti(L, -1, b + 1);
      if (!lua_isnumber(L, -1))
        rpL_fielderror(L, arg, "fields", "entry '%s': buckets must be numbers", name);
      fs->buckets[b] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (rpL_getopt(L, spec, "flags") != LUA_TNIL) {
    luaL_argcheck(L, lua_istable(L, -1), arg, "fields.<name>.flags must be a list of columns");
    fs->kind = RP_FIELD_FLAGS, kinds++;
    fs->nflags = (int)luaL_len(L, -1);
    if (fs->nflags > RP_FIELD_MAX_FLAGS) fs->nflags = RP_FIELD_MAX_FLAGS + 1;
    for (int q = 0; q < fs->nflags && q < RP_FIELD_MAX_FLAGS; q++) {
      lua_geti(L, -1, q + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        rpL_fielderror(L, arg, "fields", "entry '%s': flags must be column names", name);
      fs->flags[q] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (kinds > 1)
    rpL_fielderror(L, arg, "fields",
                   "entry '%s': choose one of sep, buckets, tokens, flags (got %d)", name, kinds);
}

static int cmp_fields(const void *a, const void *b) {
  return strcmp(((const rp_field_spec *)a)->name, ((const rp_field_spec *)b)->name);
}

/* Fills o->fields from opts.fields: {name = true | spec, ...} or {"a", "b"}. */
static void field_specs(lua_State *L, int arg, rp_attr_opts *o) {
  if (rpL_getopt(L, arg, "fields") != LUA_TTABLE)
    rpL_fielderror(L, arg, "fields", "must be a table of field specifications");
  int tbl = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, tbl)) {
    const char *name;
    if (lua_type(L, -2) == LUA_TSTRING) {
      name = lua_tostring(L, -2);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      name = lua_tostring(L, -1);
      lua_pushboolean(L, 1);
      lua_replace(L, -2);
    } else {
      return (void)rpL_fielderror(L, arg, "fields", "keys must be field names");
    }
    if (o->nfields == RP_FEAT_MAX_FIELDS)
      rpL_fielderror(L, arg, "fields", "at most %d fields", RP_FEAT_MAX_FIELDS);
    field_spec(L, arg, name, &o->fields[o->nfields++]);
    lua_pop(L, 1);
  }
  /* a stable order (table traversal is not) */
  qsort(o->fields, (size_t)o->nfields, sizeof o->fields[0], cmp_fields);
  lua_pop(L, 1); /* the strings stay referenced by the options table */
}

static void push_attr_report(lua_State *L, const rp_attr_report *rep) {
  lua_createtable(L, 0, 13);
  setint(L, "lines", rep->lines);
  setint(L, "used", rep->used);
  setint(L, "skipped", rep->skipped);
  setint(L, "unknown", rep->unknown);
  setint(L, "unknown_ids", rep->unknown_ids);
  setint(L, "added", rep->added);
  setint(L, "entities", rep->entities);
  setint(L, "missing", rep->missing);
  setint(L, "empty", rep->empty);
  setint(L, "features", rep->features);
  setint(L, "dropped_features", rep->dropped);
  lua_createtable(L, rep->nfirst, 0);
  for (int i = 0; i < rep->nfirst; i++) {
    lua_pushstring(L, rep->first[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "first");
}

static void attr_opts(lua_State *L, rp_attr_opts *o) {
  static const char *const known[] = {
      "id",        "map",    "fields",   "sep",    "header",         "names", "tfidf",
      "normalize", "extend", "on_error", "min_df", "max_line_bytes", NULL};
  rpL_checkopts(L, 2, known);
  rp_attr_opts_init(o);
  o->sep = rpL_optstring(L, 2, "sep", NULL);
  o->header = rpL_optboolean(L, 2, "header", 1);
  int t = rpL_getopt(L, 2, "id");
  if (t == LUA_TSTRING)
    o->id.name = lua_tostring(L, -1);
  else if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1)
    o->id.name = NULL, o->id.pos = (int)lua_tointeger(L, -1);
  else if (t != LUA_TNIL)
    rpL_fielderror(L, 2, "id", "must be a column name or a 1-based position");
  lua_pop(L, 1);
  o->map = rpL_pinopt(L, 2, "map", RP_IDMAP_T);
  if (rpL_getopt(L, 2, "names") != LUA_TNIL) {
    luaL_argcheck(L, lua_istable(L, -1), 2, "field 'names' must be a list of column names");
    int n = (int)luaL_len(L, -1);
    const char **names = rpL_scratch(L, (size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
      lua_geti(L, -2, i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) rpL_fielderror(L, 2, "names", "must hold strings");
      names[i] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    o->names = names, o->nnames = n;
    lua_replace(L, -2); /* keep the array (referenced from the stack until return) */
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  o->tfidf = rpL_optboolean(L, 2, "tfidf", 0);
  o->normalize = rpL_optboolean(L, 2, "normalize", 0);
  o->extend = rpL_optboolean(L, 2, "extend", 0);
  static const char *const onerr[] = {"stop", "skip", NULL};
  o->on_error = rpL_optenum(L, 2, "on_error", RP_ONERR_STOP, onerr);
  o->min_df = (int32_t)rpL_optinteger(L, 2, "min_df", 1, 1, INT32_MAX);
  /* range checked by the core */
  o->max_line_bytes = (int64_t)rpL_optinteger(L, 2, "max_line_bytes", o->max_line_bytes,
                                              LUA_MININTEGER, LUA_MAXINTEGER);
  field_specs(L, 2, o);
}

/* rp.hybrid.attributes(path, opts) -> Features, report */
static int hybrid_attributes(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  rp_attr_opts o;
  attr_opts(L, &o); /* leaves the names array (or nil) on the stack */
  void **slot = newfeatures(L);
  rp_attr_report rep;
  rp_err err;
  if (rp_attr_read(path, &o, (rp_features **)slot, &rep, &err)) return rpL_error(L, &err);
  push_attr_report(L, &rep);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 1);
  rpL_gcpressure(L);
  return 2;
}

/* rp.hybrid.combine{ {features, weight}, ..., normalize = true } -> Features */
static int hybrid_combine(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 32, 1, "expected 1 to 32 {features, weight} entries");
  luaL_checkstack(L, 2 * n + 8, NULL);
  lua_settop(L, 1);
  const rp_features *parts[32];
  float w[32];
  for (int i = 0; i < n; i++) { /* each part pinned (the entries stay below the guards) */
    lua_geti(L, 1, i + 1);
    if (lua_istable(L, -1)) {
      lua_geti(L, -1, 2);
      w[i] = (float)luaL_optnumber(L, -1, 1.0);
      lua_pop(L, 1);
      lua_geti(L, -1, 1);
    } else {
      w[i] = 1.0f;
    }
    parts[i] = rpL_pintop(L, 1, RP_FEATURES_T);
  }
  lua_getfield(L, 1, "normalize");
  int normalize = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
  lua_pop(L, 1);
  void **slot = newfeatures(L);
  rp_err err;
  if (rp_features_combine(parts, w, n, normalize, (rp_features **)slot, &err))
    return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* ---- Hybrid recommenders ------------------------------------------------------------- */
static rp_recommender *rec_api(lua_State *L, int idx, void *r);
static void rec_destroy(void *r) { rp_hyb_rec_free(r); }
static const rpL_class hybrid_class = {RP_HYBRID_T, rec_destroy, rec_api};

static int rec_tostring(lua_State *L) {
  rp_hyb_rec *r = *rpL_slot(L, 1, RP_HYBRID_T);
  if (!r)
    lua_pushstring(L, "recpipe.Hybrid(freed)");
  else
    lua_pushfstring(L, "recpipe.Hybrid(%s, %d users x %d items)", r->reason, r->api.nusers,
                    r->api.nitems);
  return 1;
}

/* The uservalue table of the box at idx (sources, info). */
static void getuv(lua_State *L, int idx) { lua_getiuservalue(L, idx, 1); }

/* Brings r (in the box at idx) up to date before use: its sizes (maps
 * grow), and a blend's view of its sources (held boxes, refreshed first). */
static void refresh(lua_State *L, int idx, rp_hyb_rec *r) {
  rp_hyb_rec_refresh(r);
  if (r->kind != RP_HYB_BLEND) return;
  rp_recommender *src[16];
  for (int s = 0; s < 16 && rpL_held(L, idx, s + 1) != LUA_TNIL; s++) {
    src[s] = rpL_heldrec(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  rp_hyb_blend_set_sources(r, src);
}

/* The class's recommender: r refreshed */
static rp_recommender *rec_api(lua_State *L, int idx, void *obj) {
  rp_hyb_rec *r = obj;
  refresh(L, idx, r);
  return &r->api;
}

/* The request's history (and its values) from the options (the arrays
 * stay on the stack). */
static void request_history(lua_State *L, int opt, const rp_hyb_rec *r, rp_hyb_req *q) {
  int32_t nh, *hist = rpL_optidlist(L, opt, "history", r->api.items, &nh);
  if (!hist) return;
  q->hist = hist, q->nhist = nh, q->excl_hist = 1;
  if (rpL_getopt(L, opt, "values") == LUA_TNIL) return;
  int v = lua_gettop(L);
  luaL_checktype(L, v, LUA_TTABLE);
  rpL_getopt(L, opt, "history");
  int h = lua_gettop(L);
  int32_t n = (int32_t)luaL_len(L, h), j = 0;
  float *val = rpL_scratch(L, (size_t)n, sizeof *val);
  for (int32_t i = 0; i < n; i++) {
    lua_geti(L, h, i + 1);
    int known = r->api.items && rpL_lookup(L, -1, r->api.items) >= 0;
    lua_geti(L, v, i + 1);
    if (known) val[j++] = (float)luaL_checknumber(L, -1);
    lua_pop(L, 2);
  }
  q->hval = val;
}

/* opts.attributes ({field = value}): the segment of a user without one. */
static void request_segment(lua_State *L, int opt, const rp_hyb_rec *r, rp_hyb_req *q) {
  if (rpL_getopt(L, opt, "attributes") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    rpL_fielderror(L, opt, "attributes", "must be a table of field = value, got %s",
                   luaL_typename(L, -1));
  int t = lua_gettop(L), n = 0;
  const char *keys[64], *vals[64];
  lua_pushnil(L);
  while (n < 64 && lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      keys[n] = lua_tostring(L, -2); /* both stay referenced by the table */
      vals[n++] = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
  }
  q->segment = rp_hyb_segment_find(r, keys, vals, n);
  lua_pop(L, 1);
}

/* One request of obj:recommend (rpL_recommend): the user's history, else
 * one given in the options; allow lists stay within the restriction. */
static int recommend_one(lua_State *L, const rp_recommender *rec, rpL_recreq *rq, int32_t *items,
                         float *scores, int32_t *n, const char **why, rp_err *err) {
  const rp_hyb_rec *r = rec->self;
  luaL_argcheck(L, r->one, 1, "a blend answers single requests from Lua (hybrid_ext)");
  rp_hyb_req q;
  rp_hyb_req_user(r, rq->user, rq->exclude, &q);
  request_history(L, rq->opt, r, &q);
  if (rq->allow) /* within the restriction, if any */
    q.allow = rq->allow, q.nallow = rp_hyb_intersect(r, rq->allow, rq->nallow, rq->allow);
  if (rq->deny) q.deny = rq->deny, q.ndeny = rq->ndeny;
  request_segment(L, rq->opt, r, &q);
  if (rq->user < 0 && !q.hist && q.segment < 0) return *why = "unknown user '%s'", RP_OK;
  int rc = rp_hyb_recommend_one(r, &q, rq->k, items, scores, n, err);
  if (!rc && *n == 0)
    *why = lua_pushfstring(L, "%s: nothing to recommend for user '%%s'", r->reason);
  return rc;
}

static const char *const rec_known[] = {"k",       "exclude", "items",      "deny",
                                        "history", "values",  "attributes", NULL};
static const rpL_recspec rec_spec = {RP_HYBRID_T, rec_known, recommend_one, NULL,
                                     NULL,        0,         NULL,          NULL};

/* obj:recommend(user, {k, exclude, items, deny, history, values}) -> items, scores */
static int rec_recommend(lua_State *L) { return rpL_recommend(L, &rec_spec); }

/* obj:recommend_all{users, k, exclude, threads} -> items_by_user, scores_by_user */
static int rec_recommend_all(lua_State *L) { return rpL_recommend_all(L, &rec_spec); }

/* Fields: kind / reason / name ("content", ...), info, users, items,
 * item_factors / user_factors (projection); other keys are methods */
static int rec_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  rp_hyb_rec *r = rpL_indexobj(L, RP_HYBRID_T, k);
  if (!r) return 1; /* a method of a freed object (free) */
  if (strcmp(k, "kind") == 0 || strcmp(k, "reason") == 0 || strcmp(k, "name") == 0) {
    lua_pushstring(L, r->reason);
  } else if (strcmp(k, "info") == 0) {
    getuv(L, 1);
    lua_getfield(L, -1, "info");
  } else if (r->kind == RP_HYB_PROJECT &&
             (strcmp(k, "item_factors") == 0 || strcmp(k, "user_factors") == 0)) {
    lua_settop(L, 2);
    rpL_pin(L, 1, RP_HYBRID_T);
    float *U, *V;
    int32_t nu, ni, f;
    rp_hyb_project_factors(r, &U, &nu, &V, &ni, &f);
    rp_err err;
    rp_dense *d = k[0] == 'i' ? rp_dense_view(V, ni, f, &err) : rp_dense_view(U, nu, f, &err);
    if (!d) return rpL_error(L, &err);
    rpL_pushdense(L, d, 1); /* the view holds the recommender */
  } else if (strcmp(k, "users") == 0 && r->api.users) {
    rpL_pushidmap(L, r->api.users);
  } else if (strcmp(k, "items") == 0 && r->api.items) {
    rpL_pushidmap(L, r->api.items);
  } else {
    rpL_method(L, RP_HYBRID_T, k);
  }
  return 1;
}

/* obj:restrict(item_ids or nil) -> obj: answers only among these items */
static int rec_restrict(lua_State *L) {
  lua_settop(L, 2);
  rp_hyb_rec *r = rpL_pin(L, 1, RP_HYBRID_T);
  int32_t n = 0, *ix = NULL;
  if (!lua_isnoneornil(L, 2)) ix = rpL_idlist(L, 2, r->api.items, &n);
  rp_err err;
  if (rp_hyb_restrict(r, ix, n, &err)) return rpL_error(L, &err);
  lua_pushvalue(L, 1);
  return 1;
}

/* seg:segment_of(user) -> segment name or nil (r borrowed unpinned: nothing
 * allocates before the name is copied) */
static int rec_segment_of(lua_State *L) {
  rp_hyb_rec *r = rpL_checkobj(L, 1, RP_HYBRID_T);
  luaL_argcheck(L, r->kind == RP_HYB_SEGMENT, 1, "not a segment popularity model");
  int32_t u = r->api.users ? rpL_lookup(L, 2, r->api.users) : -1;
  int32_t s = rp_hyb_segment_of(r, u, NULL);
  if (s < 0) return lua_pushnil(L), 1;
  lua_pushstring(L, rp_hyb_segment_name(r, s));
  return 1;
}

static const luaL_Reg rec_methods[] = {{"recommend", rec_recommend},
                                       {"recommend_all", rec_recommend_all},
                                       {"segment_of", rec_segment_of},
                                       {"restrict", rec_restrict},
                                       {NULL, NULL}};
static const luaL_Reg rec_meta[] = {
    {"__tostring", rec_tostring}, {"__index", rec_index}, {NULL, NULL}};

/* Pushes an empty Hybrid box with a fresh uservalue table; returns its slot. */
static void **newrec(lua_State *L) {
  void **slot = rpL_newbox(L, RP_HYBRID_T);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  return slot;
}

/* The history weights of a training argument: Events (weighted and decayed
 * here) or a Matrix (copied as is).  Returns a new matrix. */
static rp_csr *train_weights(lua_State *L, int idx, int opt, int binary_default) {
  double hl = rpL_optnumber(L, opt, "half_life_days", 0, 0, HUGE_VAL);
  lua_Integer now = rpL_optinteger(L, opt, "now", 0, 0, LUA_MAXINTEGER);
  int binary = rpL_optboolean(L, opt, "binary", binary_default);
  rp_err err;
  rp_csr *m = NULL;
  rp_events *ev = rpL_testobj(L, idx, RP_EVENTS_T); /* (used before any allocation) */
  if (ev) {
    if (rp_hyb_weights(ev, hl, (int64_t)now, binary, &m, &err)) rpL_error(L, &err);
    return m;
  }
  rp_csr *src = rpL_testmatrix(L, idx);
  if (!src) luaL_typeerror(L, idx, "recpipe.Events or recpipe.Matrix");
  if (hl > 0) luaL_argerror(L, opt, "half_life_days needs Events (a Matrix has no times)");
  if (!(m = rp_csr_copy(src, &err))) rpL_error(L, &err);
  if (binary)
    for (int64_t t = 0; t < m->nnz; t++) m->data[t] = 1.0f;
  return m;
}

/* Pushes a weights matrix as a Matrix (so an error below cannot leak it). */
static rp_csr *pushed_weights(lua_State *L, int idx, int opt, int binary_default) {
  rp_csr *m = train_weights(L, idx, opt, binary_default);
  rpL_pushmatrix(L, m);
  return m;
}

/* rp.hybrid.content(train, item_features, opts) */
static int hybrid_content(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 3);
  rp_features *items = rpL_pin(L, 2, RP_FEATURES_T);
  static const char *const known[] = {"half_life_days", "now", "binary", "popularity_ties", NULL};
  rpL_checkopts(L, 3, known);
  rp_content_opts o = {0, rpL_optboolean(L, 3, "popularity_ties", 1)};
  rp_csr *w = pushed_weights(L, 1, 3, 0);
  void **slot = newrec(L);
  rp_err err;
  if (rp_hyb_content_new(w, items, &o, (rp_hyb_rec **)slot, &err)) return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* rp.hybrid.trending(train_events, {half_life_days, at = events, now, binary}) */
static int hybrid_trending(lua_State *L) {
  lua_settop(L, 2);
  rp_events *ev = rpL_pin(L, 1, RP_EVENTS_T);
  static const char *const known[] = {"half_life_days", "at", "now", "binary", NULL};
  rpL_checkopts(L, 2, known);
  double hl = rpL_optnumber(L, 2, "half_life_days", 30, 1e-9, HUGE_VAL);
  lua_Integer now = rpL_optinteger(L, 2, "now", 0, 0, LUA_MAXINTEGER);
  int binary = rpL_optboolean(L, 2, "binary", 1);
  rp_events *at = rpL_pinopt(L, 2, "at", RP_EVENTS_T);
  void **slot = newrec(L);
  rp_err err;
  if (rp_hyb_trending_new(ev, hl, at, (int64_t)now, binary, (rp_hyb_rec **)slot, &err))
    return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* rp.hybrid.interaction_features(matrix, {binary = true}) -> Features
 * (items described by their users: content over it is item-kNN) */
static int hybrid_interaction_features(lua_State *L) {
  lua_settop(L, 2);
  rp_csr *m = rpL_pin(L, 1, RP_MATRIX_T);
  static const char *const known[] = {"binary", NULL};
  rpL_checkopts(L, 2, known);
  int binary = rpL_optboolean(L, 2, "binary", 1);
  void **slot = newfeatures(L);
  rp_err err;
  if (rp_features_from_interactions(m, binary, (rp_features **)slot, &err))
    return rpL_error(L, &err);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  rpL_gcpressure(L);
  return 1;
}

/* opts.field: a field name or a list of them -> indices into users' fields */
static void segment_fields(lua_State *L, int opt, const rp_features *users, rp_segment_opts *o) {
  int t = rpL_getopt(L, opt, "field");
  int n = t == LUA_TTABLE ? (int)luaL_len(L, -1) : t == LUA_TSTRING ? 1 : 0;
  if (!users && n > 0) rpL_fielderror(L, opt, "field", "needs user features (argument #2)");
  if (users && (n < 1 || n > 8))
    rpL_fielderror(L, opt, "field", "must name 1 to 8 fields of the user features");
  for (int i = 0; i < n; i++) {
    if (t == LUA_TTABLE)
      lua_geti(L, -1, i + 1);
    else
      lua_pushvalue(L, -1);
    const char *name = lua_tostring(L, -1);
    int fi = name ? rp_features_field(users, name) : -1;
    if (fi < 0)
      rpL_fielderror(L, opt, "field", "'%s' is not a field of the user features",
                     name ? name : "?");
    o->fields[o->nfields++] = fi;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* rp.hybrid.segment_popularity(train, user_features or nil, opts) */
static int hybrid_segment(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 3);
  rp_features *users = lua_isnil(L, 2) ? NULL : rpL_pin(L, 2, RP_FEATURES_T);
  static const char *const known[] = {"field",     "half_life_days", "now", "binary",
                                      "shrinkage", "strict",         NULL};
  rpL_checkopts(L, 3, known);
  rp_segment_opts o;
  memset(&o, 0, sizeof o);
  segment_fields(L, 3, users, &o);
  o.shrinkage = rpL_optnumber(L, 3, "shrinkage", 10, 0, HUGE_VAL);
  o.strict = rpL_optboolean(L, 3, "strict", 0);
  rp_csr *w = pushed_weights(L, 1, 3, 1);
  void **slot = newrec(L);
  rp_err err;
  if (rp_hyb_segment_new(w, users, &o, (rp_hyb_rec **)slot, &err)) return rpL_error(L, &err);
  rpL_gcpressure(L);
  return 1;
}

/* A Dense or IdMap field of the object at idx, pinned (nothing pushed and
 * NULL when the field is something else). */
static void *pinfield(lua_State *L, int idx, const char *field, const char *tname) {
  lua_getfield(L, idx, field);
  if (!luaL_testudata(L, -1, tname)) return lua_pop(L, 1), NULL;
  return rpL_pintop(L, idx, tname);
}

/* The factors of a model: its user_factors / item_factors (Dense) and its
 * users / items maps (else the maps of fallback features or train), pinned
 * (getting a field of a Lua object may run any Lua code). */
static void factor_view(lua_State *L, int idx, rp_factor_view *fm) {
  memset(fm, 0, sizeof *fm);
  rp_dense *U = pinfield(L, idx, "user_factors", RP_DENSE_T);
  rp_dense *V = pinfield(L, idx, "item_factors", RP_DENSE_T);
  if (!U || !V)
    luaL_argerror(L, idx, "expected a model with user_factors and item_factors (Dense)");
  if (U->cols != V->cols) luaL_argerror(L, idx, "user and item factors differ in width");
  fm->U = U->data, fm->nu = (int32_t)U->rows, fm->V = V->data, fm->ni = (int32_t)V->rows;
  fm->f = V->cols;
  fm->users = pinfield(L, idx, "users", RP_IDMAP_T);
  fm->items = pinfield(L, idx, "items", RP_IDMAP_T);
}

static void push_project_info(lua_State *L, const rp_project_info *in) {
  lua_createtable(L, 0, 11);
  setint(L, "warm_items", in->warm_items);
  setint(L, "projected_items", in->projected_items);
  setint(L, "unplaced_items", in->unplaced_items);
  setint(L, "warm_users", in->warm_users);
  setint(L, "projected_users", in->projected_users);
  setint(L, "item_features", in->item_features);
  setint(L, "user_features", in->user_features);
  setnum(L, "fit_seconds", in->fit_seconds);
  setnum(L, "item_r2", in->item_r2);
  setnum(L, "user_r2", in->user_r2);
  setint(L, "cg_iterations", in->cg_iterations);
}

/* rp.hybrid.project(model, item_features or nil, opts) */
static int hybrid_project(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 3);
  rp_features *items = lua_isnil(L, 2) ? NULL : rpL_pin(L, 2, RP_FEATURES_T);
  rp_project_opts o;
  rp_project_opts_init(&o);
  rpL_readopts(L, 3, rp_project_optdesc, &o);
  rp_features *users = rpL_pinopt(L, 3, "user_features", RP_FEATURES_T);
  o.train = rpL_pinopt(L, 3, "train", RP_MATRIX_T);
  luaL_argcheck(L, items || users, 2, "item features or opts.user_features expected");
  rp_factor_view fm;
  factor_view(L, 1, &fm);
  if (!fm.items) fm.items = items ? items->m->rowmap : o.train ? o.train->colmap : NULL;
  if (!fm.users) fm.users = users ? users->m->rowmap : o.train ? o.train->rowmap : NULL;
  void **slot = newrec(L);
  rp_project_info info;
  rp_err err;
  if (rp_hyb_project_new(&fm, items, users, &o, (rp_hyb_rec **)slot, &info, &err))
    return rpL_error(L, &err);
  getuv(L, -1);
  push_project_info(L, &info);
  lua_setfield(L, -2, "info");
  lua_pop(L, 1);
  rpL_gcpressure(L);
  return 1;
}

/* rp.hybrid.fold_in(als_model, {min_history = 1}) */
static int hybrid_fold_in(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 2);
  static const char *const known[] = {"min_history", NULL};
  rpL_checkopts(L, 2, known);
  int32_t minh = (int32_t)rpL_optinteger(L, 2, "min_history", 1, 1, INT32_MAX);
  rp_recommender *rec = NULL;
  if (rpL_tobox(L, 1) || lua_istable(L, 1)) rec = rpL_pinrec(L, 1); /* the core retains the model */
  if (!rec || !rec->name || strcmp(rec->name, "als") != 0)
    return luaL_argerror(L, 1, "an ALS model (rp.als.train or rp.als.load) expected");
  void **slot = newrec(L);
  rp_err err;
  if (rp_hyb_foldin_new((rp_als_model *)rec->self, minh, (rp_hyb_rec **)slot, &err))
    return rpL_error(L, &err);
  getuv(L, -1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "model");
  lua_pop(L, 1);
  return 1;
}

/* rp.hybrid._blend({src...}, {w...}, norm, depth): the C core of blend
 * (every source must have __recommender).  The blend holds its sources:
 * they live as long as it does, whatever frees them (rpl.h). */
static int hybrid_blend(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const norms[] = {"rank", "zscore", "none", NULL};
  int norm = luaL_checkoption(L, 3, "rank", norms);
  lua_Integer depth = luaL_optinteger(L, 4, 100);
  luaL_argcheck(L, depth >= 1 && depth <= RP_HYB_MAX_DEPTH, 4,
                lua_pushfstring(L, "field 'depth' must be an integer in 1..%d, got %I",
                                RP_HYB_MAX_DEPTH, depth));
  int n = (int)luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 16, 1, "1 to 16 sources expected");
  lua_settop(L, 4);
  void **slot = newrec(L); /* 5: holds the sources from the first one on */
  rp_recommender *src[16];
  float w[16];
  for (int s = 0; s < n; s++) {
    lua_geti(L, 2, s + 1);
    w[s] = (float)luaL_checknumber(L, -1);
    lua_geti(L, 1, s + 1);
    if (!rpL_tobox(L, -1) && !lua_istable(L, -1))
      return luaL_error(L, "blend: source %d has no __recommender", s + 1);
    src[s] = rpL_holdrec(L, 5, -1);
    lua_settop(L, 5);
  }
  rp_err err;
  if (rp_hyb_blend_new(src, w, n, norm, (int32_t)depth, (rp_hyb_rec **)slot, &err))
    return rpL_error(L, &err);
  return 1;
}

/* rp.hybrid.history_count(matrix, user) -> interactions in the user's row (0 when absent) */
static int hybrid_history_count(lua_State *L) {
  rp_csr *m = rpL_checkmatrix(L, 1);
  luaL_checkany(L, 2);
  int32_t u = m->rowmap ? rpL_lookup(L, 2, m->rowmap) : -1;
  lua_pushinteger(L, u >= 0 ? (lua_Integer)rp_csr_rowlen(m, u) : 0);
  return 1;
}

/* ---- chain tuning (rp.hybrid.tune_chain; the driver is in hybrid_ext.lua) ---------------- */
#define RP_TUNER_T "recpipe.ChainTuner"
static void tuner_destroy(void *t) { rp_tuner_free(t); }
static const rpL_class tuner_class = {RP_TUNER_T, tuner_destroy, NULL};

/* The options table at idx through the core's setters: the names, defaults
 * and ranges are the core's (rp_tune_opt_table). */
static void tune_opts(lua_State *L, int idx, rp_tune_opts *o) {
  rp_tune_opts_init(o);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  rp_err err;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_argerror(L, idx, "option names must be strings");
    const char *k = lua_tostring(L, -2);
    int rc, t = lua_type(L, -1);
    if (t == LUA_TNUMBER) {
      rc = rp_tune_opts_set_number(o, k, lua_tonumber(L, -1), &err);
    } else if (t == LUA_TSTRING) {
      rc = rp_tune_opts_set_string(o, k, lua_tostring(L, -1), &err);
    } else if (t == LUA_TTABLE) {
      double v[RP_TUNE_MAX_REVEAL + 1];
      lua_Integer n = luaL_len(L, -1);
      int m = n > RP_TUNE_MAX_REVEAL ? RP_TUNE_MAX_REVEAL + 1 : (int)n;
      for (int i = 0; i < m; i++) {
        if (lua_geti(L, -1, i + 1) != LUA_TNUMBER) {
          rp_tune_opts_bad_type(k, lua_pushfstring(L, "a list holding a %s", luaL_typename(L, -1)),
                                &err);
          luaL_argerror(L, idx, err.msg);
        }
        v[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      rc = rp_tune_opts_set_list(o, k, v, m, &err);
    } else {
      rc = rp_tune_opts_bad_type(k, luaL_typename(L, -1), &err);
    }
    if (rc) luaL_argerror(L, idx, err.msg);
    lua_pop(L, 1);
  }
}

/* rp.hybrid._tuner({part names}, train, cases, opts) -> a tuner (the
 * arguments in tune_chain's positions, so errors name them right) */
static int hybrid_tuner(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rpL_checkobj(L, 2, RP_EVENTS_T);
  int cases = luaL_checkoption(L, 3, "cold", rp_tune_cases_names);
  lua_settop(L, 4);
  rp_tune_opts o;
  tune_opts(L, 4, &o);
  o.cases = cases;
  int n = (int)luaL_len(L, 1);
  const char *names[RP_TUNE_MAX_PARTS];
  luaL_argcheck(L, n >= 1 && n <= RP_TUNE_MAX_PARTS, 1, "1 to 16 part names expected");
  for (int p = 0; p < n; p++) {
    lua_geti(L, 1, p + 1); /* the strings stay referenced by the table */
    names[p] = luaL_checkstring(L, -1);
    lua_pop(L, 1);
  }
  void **slot = rpL_newbox(L, RP_TUNER_T);
  rp_err err;
  if (rp_tuner_new(&o, names, n, (rp_tuner **)slot, &err)) return rpL_error(L, &err);
  return 1;
}

/* tuner:options() -> every option's checked value (defaults filled, the
 * reveal sizes derived), and cases */
static int tuner_options(lua_State *L) {
  const rp_tuner *t = rpL_checkobj(L, 1, RP_TUNER_T);
  const rp_tune_opts *o = rp_tuner_opts(t);
  rp_tune_opts copy = *o; /* Lua allocations below cannot free t, but keep the values */
  lua_newtable(L);
  for (const rp_tune_opt *d = rp_tune_opt_table; d->name; d++) {
    const char *at = (const char *)&copy + d->offset;
    switch (d->type) {
      case RP_TOPT_ENUM:
        lua_pushstring(L, d->names[*(const int *)(const void *)at]);
        break;
      case RP_TOPT_I32:
        lua_pushinteger(L, *(const int32_t *)(const void *)at);
        break;
      case RP_TOPT_I64:
        lua_pushinteger(L, *(const int64_t *)(const void *)at);
        break;
      case RP_TOPT_NUM:
        lua_pushnumber(L, *(const double *)(const void *)at);
        break;
      case RP_TOPT_STR:
        lua_pushstring(L, at);
        break;
      default: {
        int n = *(const int *)(const void *)((const char *)&copy + d->count_offset);
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
          lua_pushinteger(L, ((const int32_t *)(const void *)at)[i]);
          lua_rawseti(L, -2, i + 1);
        }
      }
    }
    lua_setfield(L, -2, d->name);
  }
  lua_pushstring(L, rp_tune_cases_names[copy.cases]);
  lua_setfield(L, -2, "cases");
  return 1;
}

/* tuner:add(fold, {rec or false, ...}, known or nil, test) -> rows so far */
static int tuner_add(lua_State *L) {
  lua_settop(L, 5);
  rp_tuner *t = rpL_pin(L, 1, RP_TUNER_T);
  int32_t fold = (int32_t)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  rp_csr *known = lua_isnil(L, 4) ? NULL : rpL_pin(L, 4, RP_MATRIX_T);
  rp_csr *test = rpL_pin(L, 5, RP_MATRIX_T);
  int P = rp_tuner_nparts(t);
  rp_recommender *parts[RP_TUNE_MAX_PARTS];
  luaL_checkstack(L, 2 * P + 4, NULL);
  for (int p = 0; p < P; p++) {
    lua_geti(L, 3, p + 1);
    int top = lua_gettop(L);
    parts[p] = lua_toboolean(L, -1) ? rpL_pinrec(L, top) : NULL; /* its guard stays above */
  }
  rp_err err;
  if (rp_tuner_add(t, fold, parts, known, test, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, (lua_Integer)rp_tuner_rows(t));
  return 1;
}

/* {weights = {name = w}, parts = n, score, se} */
static void push_cand(lua_State *L, const rp_tuner *t, const rp_tune_cand *c) {
  lua_createtable(L, 0, 6);
  lua_newtable(L);
  for (int p = 0; p < rp_tuner_nparts(t); p++)
    if (c->w[p] > 0) setnum(L, rp_tuner_name(t, p), (double)c->w[p]);
  lua_setfield(L, -2, "weights");
  setint(L, "parts", c->nparts);
  setnum(L, "score", c->score);
  setnum(L, "se", c->se);
}

static void push_band(lua_State *L, const rp_tuner *t, const rp_tune_band *b) {
  lua_createtable(L, 0, 12);
  setint(L, "lo", b->lo);
  if (b->hi >= 0) setint(L, "hi", b->hi);
  setint(L, "rows", b->rows);
  setint(L, "users", b->users);
  if (b->from >= 0) setint(L, "from", b->from + 1);
  if (b->chosen < 0) return;
  lua_pushstring(L, b->search == RP_TUNE_GRID ? "grid" : "coordinate");
  lua_setfield(L, -2, "search");
  push_cand(L, t, &b->cand[b->chosen]);
  setnum(L, "lo", b->lo_ci);
  setnum(L, "hi", b->hi_ci);
  lua_setfield(L, -2, "chosen");
  push_cand(L, t, &b->cand[b->best]);
  lua_setfield(L, -2, "best");
  if (b->runner_up >= 0) {
    push_cand(L, t, &b->cand[b->runner_up]);
    setnum(L, "diff", b->ru_diff);
    setnum(L, "diff_lo", b->ru_lo);
    setnum(L, "diff_hi", b->ru_hi);
    lua_setfield(L, -2, "runner_up");
  }
  lua_newtable(L);
  for (int p = 0; p < rp_tuner_nparts(t); p++) {
    if (isnan(b->single[p])) continue;
    lua_createtable(L, 0, 4);
    setnum(L, "score", b->single[p]);
    setnum(L, "lo", b->single_lo[p]);
    setnum(L, "hi", b->single_hi[p]);
    setint(L, "answered", b->answered[p]);
    lua_setfield(L, -2, rp_tuner_name(t, p));
  }
  lua_setfield(L, -2, "singles");
  lua_createtable(L, b->ncand, 0);
  for (int c = 0; c < b->ncand; c++) {
    push_cand(L, t, &b->cand[c]);
    lua_rawseti(L, -2, c + 1);
  }
  lua_setfield(L, -2, "candidates");
}

/* tuner:run() -> {bands = {...}, fallback, rows, users, seconds_scoring, seconds_search} */
static int tuner_run(lua_State *L) {
  lua_settop(L, 1);
  rp_tuner *t = rpL_pin(L, 1, RP_TUNER_T);
  const rp_tune_result *r;
  rp_err err;
  if (rp_tuner_run(t, &r, &err)) return rpL_error(L, &err);
  lua_newtable(L); /* (the result is the tuner's: a memory error here leaks nothing) */
  int res = lua_gettop(L);
  lua_createtable(L, r->nbands, 0);
  for (int b = 0; b < r->nbands; b++) {
    push_band(L, t, &r->band[b]);
    lua_rawseti(L, -2, b + 1);
  }
  lua_setfield(L, res, "bands");
  if (r->fallback >= 0) {
    lua_pushstring(L, rp_tuner_name(t, r->fallback));
    lua_setfield(L, res, "fallback");
  }
  setint(L, "rows", r->rows);
  setint(L, "users", r->users);
  setnum(L, "seconds_scoring", r->seconds_scoring);
  setnum(L, "seconds_search", r->seconds_search);
  return 1;
}

static const luaL_Reg tuner_methods[] = {
    {"options", tuner_options}, {"add", tuner_add}, {"run", tuner_run}, {NULL, NULL}};

static const luaL_Reg hybrid_funcs[] = {{"attributes", hybrid_attributes},
                                        {"combine", hybrid_combine},
                                        {"content", hybrid_content},
                                        {"segment_popularity", hybrid_segment},
                                        {"project", hybrid_project},
                                        {"trending", hybrid_trending},
                                        {"fold_in", hybrid_fold_in},
                                        {"interaction_features", hybrid_interaction_features},
                                        {"history_count", hybrid_history_count},
                                        {"_blend", hybrid_blend},
                                        {"_tuner", hybrid_tuner},
                                        {NULL, NULL}};

int luaopen_recpipe_hybrid(lua_State *L);
int luaopen_recpipe_hybrid(lua_State *L) {
  rpL_newtype(L, &features_class, features_methods, features_meta);
  rpL_newtype(L, &hybrid_class, rec_methods, rec_meta);
  rpL_newtype(L, &tuner_class, tuner_methods, NULL);
  luaL_newlib(L, hybrid_funcs);
  static const rpL_optset sets[] = {{"project", rp_project_optdesc}, {NULL, NULL}};
  rpL_setoptions(L, -1, sets);
  lua_pushinteger(L, RP_HYB_MAX_DEPTH); /* blend's depth bound, for hybrid_ext's option check */
  lua_setfield(L, -2, "_max_depth");
  return 1;
}
