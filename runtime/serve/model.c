/*
 * model.c -- generations: what the serve script built, once per worker,
 * and the hot swap from one generation to the next.
 *
 * The serve script runs in a fresh Lua state per worker (sequentially, in
 * the reloading thread): each state holds its own recommender object,
 * hooks and rules, so every worker runs Lua without sharing a state.  The
 * heavy C objects behind them are one copy: the loaders go through the
 * object cache (runtime/core/objcache.h).
 *
 * Swap.  s->gens (runtime/core/hazard.h) points at the newest generation.
 * A worker publishes the generation it answers with in its slot (a hazard
 * pointer: store, then re-read the current one, retry if it moved) and
 * clears it when the request is done.  A swap exchanges the current
 * generation, then waits until no slot holds the old one -- at most the
 * time of the requests already running on it -- and frees it: its states close, the objects only it
 * used are released, the object cache drops what nobody references, and
 * malloc gives the memory back.  A worker never waits for a swap.
 */
#include <lauxlib.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "als.h"
#include "host.h"
#include "objcache.h"
#include "registry.h"
#include "rpl.h"
#include "serve.h"

/* The script a YAML config without `script:` stands for. */
static const char model_chunk[] =
    "local cfg = ...\n"
    "return require('recpipe').als.load(cfg.model)\n";

/* The reason of answers from a recommender that is not a chain: the
 * object's reason, kind or name field, "cf" for an ALS model. */
static const char reason_chunk[] =
    "local R = ...\n"
    "local function f(n)\n"
    "  local ok, v = pcall(function() return R[n] end)\n"
    "  if ok and type(v) == 'string' then return v end\n"
    "end\n"
    "local r = f('reason') or f('kind') or f('name')\n"
    "if r then return r end\n"
    "if tostring(R):find('ALSModel', 1, true) then return 'cf' end\n"
    "return 'model'\n";

static void wstate_clear(rp_wstate *w) {
  if (w->L) lua_close(w->L);
  rp_free(w->rules);
  memset(w, 0, sizeof *w);
}

void rp_gen_free(rp_gen *g) {
  if (!g) return;
  for (int i = 0; i < g->nworkers; i++) wstate_clear(&g->w[i]);
  rp_free(g);
}

/* ---- building one worker's state ---------------------------------------------- */
/* The registry's live version a generation serves (settings registry and
 * live): looked up once, by worker 0's state, and used by every worker. */
typedef struct livepick {
  int64_t version; /* 0: not live */
  char path[4096];
} livepick;

typedef struct loadctx {
  rp_server *s;
  rp_serve_settings *set; /* filled from worker 0's settings */
  rp_wstate *w;
  int first; /* worker 0 */
  livepick *pick;
} loadctx;

/* Looks up the live version of model name in the registry file at path
 * (opened read-only, closed again) into p; raises when there is none. */
static void pick_live(lua_State *L, const char *path, const char *name, livepick *p) {
  rp_registry *r;
  rp_err err;
  char *file = NULL;
  int64_t v = 0;
  if (rp_registry_check_name("model", name, &err)) luaL_error(L, "setting 'live': %s", err.msg);
  if (rp_serve_registry_open(path, &r, &err)) luaL_error(L, "setting 'registry': %s", err.msg);
  int rc = rp_registry_live(r, name, &v, &file, &err);
  rp_registry_close(r);
  if (rc) luaL_error(L, "setting 'live': %s", err.msg);
  if (!v || !file) {
    rp_free(file);
    luaL_error(L,
               "setting 'live': the registry '%s' has no live version of '%s' (register and "
               "promote one with rp.registry)",
               path, name);
  }
  snprintf(p->path, sizeof p->path, "%s", file);
  p->version = v;
  rp_free(file);
}

/* The config table: the YAML file (or an empty table) with the key=value
 * overrides applied. */
static void push_config(lua_State *L, rp_server *s) {
  if (s->config[0]) {
    rp_config_pushfile(L, s->config);
    lua_pushstring(L, s->config);
    lua_setfield(L, -2, "_config_file");
  } else {
    lua_newtable(L);
  }
  for (int i = 0; i < s->argc; i++) rp_config_override(L, -1, s->argv[i]);
}

static int is_box(lua_State *L, int idx, const char *tname) {
  return luaL_testudata(L, idx, tname) != NULL;
}

/* Keeps the value at the top in the state's registry; LUA_NOREF for nil. */
static int keep(lua_State *L) {
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return LUA_NOREF;
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int has_method(lua_State *L, int idx, const char *name) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx) && !lua_isuserdata(L, idx)) return 0;
  /* fields of userdata may raise on unknown names: ask under pcall */
  luaL_loadstring(L, "local o, n = ... return o[n] ~= nil");
  lua_pushvalue(L, idx);
  lua_pushstring(L, name);
  int ok = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok;
}

/* ---- what the worker keeps across requests ------------------------------------
 * The worker uses C objects of its state's boxes (the recommender, a
 * chain's rules, the seen and train matrices, the ALS model of
 * /v1/similar) on every request, long after the C call that looked them up
 * has returned.  A registry reference keeps a box from the GC, but not its
 * object from obj:free() (rpl.h, lifetimes): a hook that frees the model
 * would leave the worker a dangling pointer.  So each state has a holder
 * box (in its registry) that holds every object the worker borrows
 * (rpL_hold); they go when the generation's state closes, whatever the
 * script did with their boxes. */
static const char holder_key = 0;
static void holder_destroy(void *obj) { (void)obj; }
static const rpL_class holder_class = {"recpipe.ServeHolder", holder_destroy, NULL};

static void new_holder(lua_State *L) {
  rpL_newtype(L, &holder_class, NULL, NULL);
  void **slot = rpL_newbox(L, holder_class.name);
  *slot = (void *)&holder_class; /* any non-NULL: the holder is alive */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &holder_key);
}

/* hold_call(holder, value, tname|nil) -> the object of the tname box value,
 * or (nil) the recommender of value, held by holder.  A C function of its
 * own: the pins it takes on the way end when it returns. */
static int hold_call(lua_State *L) {
  void *p;
  if (lua_isnil(L, 3)) {
    p = rpL_holdrec(L, 1, 2);
  } else {
    p = rpL_pin(L, 2, lua_tostring(L, 3));
    rpL_hold(L, 1, 2);
  }
  lua_pushlightuserdata(L, p);
  return 1;
}

/* The object of the tname box at idx, or (tname NULL) the rp_recommender of
 * the value at idx (a recommender box, or an object whose __recommender()
 * returns one), valid while the state lives.  Raises as rpL_pin does. */
static void *hold(lua_State *L, int idx, const char *tname) {
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, hold_call);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &holder_key);
  lua_pushvalue(L, idx);
  if (tname)
    lua_pushstring(L, tname);
  else
    lua_pushnil(L);
  lua_call(L, 3, 1);
  void *p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

/* The C recommender behind the object at idx (itself, or what its
 * __recommender() returns), held, when it answers single requests; else
 * NULL (a Lua object: answered through its recommend). */
static const rp_recommender *c_recommender(lua_State *L, int idx) {
  if (!has_method(L, idx, "__recommender")) return NULL;
  const rp_recommender *r = hold(L, idx, NULL);
  return r && r->one ? r : NULL;
}

/* A rp.hybrid.chain: its rules' C recommenders and labels, so a request
 * runs the rules' `when` in Lua and is scored in C (batched with others
 * when it can be). */
static void chain_rules(lua_State *L, int rec, rp_wstate *w) {
  if (!lua_getmetatable(L, rec)) return;
  lua_getfield(L, -1, "__name");
  int chain = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "recpipe.Chain") == 0;
  lua_pop(L, 2);
  if (!chain || lua_getfield(L, rec, "rules") != LUA_TTABLE) {
    if (chain) lua_pop(L, 1);
    return;
  }
  int rules = lua_gettop(L), n = (int)luaL_len(L, rules);
  if (n > 0 && !(w->rules = rp_calloc((size_t)n, sizeof *w->rules)))
    luaL_error(L, "not enough memory");
  w->nrules = n;
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, rules, i + 1);
    lua_getfield(L, -1, "use");
    w->rules[i].rec = c_recommender(L, -1);
    w->rules[i].hist = is_box(L, -1, "recpipe.Hybrid");
    lua_getfield(L, -2, "label");
    snprintf(w->rules[i].label, sizeof w->rules[i].label, "%s",
             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "rule");
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, rec, "train") == LUA_TUSERDATA && is_box(L, -1, RP_MATRIX_T))
    w->train = hold(L, -1, RP_MATRIX_T);
  lua_pop(L, 1);
}

/* Runs in protected mode in the new state: the script, the settings, the
 * references the worker needs.  Stack: 1 = loadctx (light userdata). */
static int load_state(lua_State *L) {
  loadctx *c = lua_touserdata(L, 1);
  rp_server *s = c->s;
  rp_wstate *w = c->w;
  lua_settop(L, 0);
  new_holder(L);
  lua_pushcfunction(L, rp_host_traceback); /* 1 */
  push_config(L, s);                       /* 2: the config table */
  int cfg = 2;
  const char *source = s->config[0] ? s->config : "the command line";
  rp_serve_settings_check(L, cfg, source, 0);
  char registry[sizeof c->set->registry], live[sizeof c->set->live];
  { /* types and ranges of the config's settings, before the script runs */
    rp_serve_settings tmp;
    rp_serve_settings_defaults(&tmp);
    rp_serve_settings_read(L, cfg, &tmp);
    memcpy(registry, tmp.registry, sizeof registry);
    memcpy(live, tmp.live, sizeof live);
    rp_serve_settings_clear(&tmp);
  }
  if (live[0]) { /* the registry's live model: the config's `model` for the script */
    if (!registry[0])
      luaL_error(L, "%s: setting 'live' needs 'registry' (the registry's file)", source);
    if (lua_getfield(L, cfg, "model") != LUA_TNIL)
      luaL_error(L, "%s: give 'model' or 'live', not both", source);
    lua_pop(L, 1);
    if (c->first) pick_live(L, registry, live, c->pick);
    lua_pushstring(L, c->pick->path);
    lua_setfield(L, cfg, "model");
    lua_pushinteger(L, c->pick->version);
    lua_setfield(L, cfg, "live_version");
  }
  char script[8600];
  snprintf(script, sizeof script, "%s", s->script);
  int has_script = !script[0] && lua_getfield(L, cfg, "script") != LUA_TNIL;
  if (!script[0]) lua_pop(L, has_script ? 0 : 1);
  if (has_script) {
    /* a YAML config's script: relative to the YAML file */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: setting 'script' must be a file name", source);
    const char *name = lua_tostring(L, -1), *slash = strrchr(s->config, '/');
    if (name[0] == '/' || !slash)
      snprintf(script, sizeof script, "%s", name);
    else
      snprintf(script, sizeof script, "%.*s%s", (int)(slash - s->config + 1), s->config, name);
    lua_pop(L, 1);
    if (c->first) rp_objcache_trace_file(script, rp_fileid_of(script));
  }
  if (script[0]) {
    if (luaL_loadfile(L, script) != LUA_OK) lua_error(L);
  } else {
    lua_getfield(L, cfg, "model");
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L,
                 "%s: needs 'script: FILE.lua' (a serve script), 'model: FILE' (an ALS model "
                 "file) or 'registry' and 'live' (a registry's live model)",
                 source);
    lua_pop(L, 1);
    luaL_loadbuffer(L, model_chunk, sizeof model_chunk - 1, "=(serve model)");
  }
  lua_pushvalue(L, cfg);
  if (lua_pcall(L, 1, 2, 1) != LUA_OK) lua_error(L);
  int rec = lua_absindex(L, -2), sett = lua_absindex(L, -1);
  if (!script[0]) snprintf(script, sizeof script, "the model");
  if (!has_method(L, rec, "recommend"))
    luaL_error(L,
               "%s must return a recommender (an object with recommend) and optionally a "
               "settings table, got %s",
               script, luaL_typename(L, rec));
  if (!lua_isnil(L, sett)) {
    char src[8700];
    snprintf(src, sizeof src, "%s (its settings)", script);
    rp_serve_settings_check(L, sett, src, 1);
  }
  /* the settings in force: the script's, then the config's over them */
  lua_newtable(L);
  int merged = lua_gettop(L);
  for (int src = 0; src < 2; src++) {
    int t = src ? cfg : sett;
    if (lua_isnil(L, t)) continue;
    lua_pushnil(L);
    while (lua_next(L, t)) {
      const char *k = lua_tostring(L, -2);
      if (k[0] == '_' || strcmp(k, "script") == 0 || strcmp(k, "model") == 0 ||
          strcmp(k, "live_version") == 0) {
        lua_pop(L, 1);
        continue;
      }
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, merged);
    }
  }
  rp_serve_settings_read(L, merged, c->set);
  /* seen: a Matrix, or (YAML) a matrix file loaded through the cache */
  if (lua_getfield(L, merged, "seen") == LUA_TSTRING) {
    luaL_loadstring(L, "return require('recpipe').sparse.load(...)");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, merged, "seen");
  }
  if (!lua_isnil(L, -1)) {
    if (!is_box(L, -1, RP_MATRIX_T))
      luaL_error(L, "setting 'seen' must be a recpipe.Matrix (or, in YAML, a matrix file), got %s",
                 luaL_typename(L, -1));
    w->seen = hold(L, -1, RP_MATRIX_T);
  }
  lua_pop(L, 1);
  /* hooks */
  static const char *const fns[] = {"on_request", "filter", NULL};
  int *refs[] = {&w->ref_on_request, &w->ref_filter};
  for (int i = 0; fns[i]; i++) {
    int t = lua_getfield(L, merged, fns[i]);
    if (t != LUA_TNIL && t != LUA_TFUNCTION)
      luaL_error(L, "setting '%s' must be a function, got %s", fns[i], luaL_typename(L, -1));
    *refs[i] = keep(L);
  }
  if (lua_getfield(L, merged, "warm") != LUA_TNIL && !lua_istable(L, -1))
    luaL_error(L, "setting 'warm' must be a list of requests, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);
  /* /v1/similar: the similar setting, else the recommender */
  if (lua_getfield(L, merged, "similar") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushvalue(L, rec);
  }
  if (is_box(L, -1, "recpipe.ALSModel")) {
    w->similar_als = hold(L, -1, "recpipe.ALSModel");
  } else if (!has_method(L, -1, "similar_items")) {
    int given = lua_rawequal(L, -1, rec) == 0;
    if (given) luaL_error(L, "setting 'similar' must have a similar_items method");
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  w->ref_similar = keep(L);
  /* the C path: an rp_recommender that answers single requests */
  w->rec = c_recommender(L, rec);
  chain_rules(L, rec, w);
  if (c->first) {
    if (!c->set->reason[0]) {
      luaL_loadbuffer(L, reason_chunk, sizeof reason_chunk - 1, "=(serve reason)");
      lua_pushvalue(L, rec);
      lua_call(L, 1, 1);
      snprintf(c->set->reason, sizeof c->set->reason, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pushvalue(L, rec);
  w->ref_rec = keep(L);
  lua_pushvalue(L, merged);
  w->ref_opts = keep(L); /* keeps the seen matrix and the warm list alive */
  return 0;
}

static int build_state(rp_server *s, rp_wstate *w, rp_serve_settings *set, int first,
                       livepick *pick, rp_err *err) {
  char msg[1024];
  memset(w, 0, sizeof *w);
  w->ref_rec = w->ref_on_request = w->ref_filter = w->ref_similar = w->ref_opts = LUA_NOREF;
  if (!(w->L = rp_host_state(msg, sizeof msg))) return rp_errf(err, RP_ENOMEM, "%s", msg);
  lua_State *L = w->L;
  loadctx c = {s, set, w, first, pick};
  lua_pushcfunction(L, load_state);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    rp_errf(err, RP_EINVAL, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
    wstate_clear(w);
    return RP_EINVAL;
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  lua_gc(L, LUA_GCGEN, 0, 0); /* requests make short-lived garbage */
  return RP_OK;
}

rp_gen *rp_gen_load(rp_server *s, rp_serve_settings *first, rp_err *err) {
  double t0 = rp_now();
  rp_serve_settings set;
  rp_serve_settings_defaults(&set);
  rp_objcache_trace_reset();
  if (s->script[0]) rp_objcache_trace_file(s->script, rp_fileid_of(s->script));
  if (s->config[0]) rp_objcache_trace_file(s->config, rp_fileid_of(s->config));
  /* worker 0 first: its settings say how many workers the first load has */
  livepick pick = {0, ""};
  rp_wstate w0;
  if (build_state(s, &w0, &set, 1, &pick, err)) {
    rp_serve_settings_clear(&set);
    return NULL;
  }
  uint64_t h = rp_objcache_trace(); /* the files worker 0's script loaded */
  if (!s->nworkers) s->nworkers = set.workers ? set.workers : rp_num_cores();
  rp_gen *g = rp_calloc(1, sizeof *g + sizeof(rp_wstate) * (size_t)s->nworkers);
  if (!g) {
    wstate_clear(&w0);
    rp_serve_settings_clear(&set);
    return rp_enomem(err, "generation"), NULL;
  }
  g->nworkers = s->nworkers;
  g->w[0] = w0;
  for (int i = 1; i < s->nworkers; i++) {
    rp_serve_settings tmp;
    rp_serve_settings_defaults(&tmp);
    int rc = build_state(s, &g->w[i], &tmp, 0, &pick, err);
    rp_serve_settings_clear(&tmp);
    if (rc) {
      rp_serve_settings_clear(&set);
      rp_gen_free(g);
      return NULL;
    }
  }
  for (int i = 0; i < s->argc; i++)
    for (const char *p = s->argv[i]; *p; p++) h = rp_hash64(h ^ (unsigned char)*p);
  g->live_version = pick.version;
  if (set.version[0])
    snprintf(g->version, sizeof g->version, "%s", set.version);
  else if (pick.version)
    snprintf(g->version, sizeof g->version, "%.64s-v%lld", set.live, (long long)pick.version);
  else
    snprintf(g->version, sizeof g->version, "m-%012llx",
             (unsigned long long)(rp_hash64(h) & 0xffffffffffffULL));
  snprintf(g->reason, sizeof g->reason, "%s", set.reason);
  g->k = set.k;
  g->exclude_seen = set.exclude_seen;
  g->realtime = set.realtime;
  snprintf(g->realtime_weights, sizeof g->realtime_weights, "%s", set.realtime_weights);
  g->realtime_session_weight = set.realtime_session_weight;
  g->serial = ++s->next_serial;
  g->loaded_unix = rp_unix_now();
  g->load_seconds = rp_now() - t0;
  if (first) {
    rp_serve_settings_clear(first);
    *first = set;
  } else {
    rp_serve_settings_clear(&set);
  }
  return g;
}

/* ---- swap ------------------------------------------------------------------------ */
rp_gen *rp_gen_acquire(rp_server *s, int w) {
  rp_worker *wk = &s->workers[w];
  if (wk->pins++ > 0) return wk->held; /* a batch of this worker holds one already */
  return wk->held = rp_hazard_acquire(&s->gens, w);
}

void rp_gen_release(rp_server *s, int w) {
  rp_worker *wk = &s->workers[w];
  if (--wk->pins > 0) return;
  wk->held = NULL;
  rp_hazard_release(&s->gens, w);
}

void rp_gen_swap(rp_server *s, rp_gen *g) {
  rp_gen *old = rp_hazard_swap(&s->gens, g); /* waits for the requests still on it */
  if (!old) return;
  rp_gen_free(old);
  rp_objcache_sweep();
  malloc_trim(0);
}

int rp_server_reload(rp_server *s, const char *why, rp_err *err) {
  pthread_mutex_lock(&s->reload_lock);
  rp_log(RP_LOG_INFO, "serve: reloading (%s)", why);
  rp_serve_settings set;
  rp_serve_settings_defaults(&set);
  rp_gen *g = rp_gen_load(s, &set, err);
  int rc = RP_OK;
  if (!g) {
    rc = err->status ? err->status : RP_EINVAL;
    atomic_fetch_add(&s->reloads_failed, 1);
    pthread_mutex_lock(&s->status_lock);
    snprintf(s->last_error, sizeof s->last_error, "%.511s", err->msg);
    s->last_error_unix = rp_unix_now();
    pthread_mutex_unlock(&s->status_lock);
    rp_log(RP_LOG_ERROR, "serve: reload failed, the model %s keeps serving: %s",
           ((rp_gen *)rp_hazard_peek(&s->gens))->version, err->msg);
    rp_objcache_sweep();
    malloc_trim(0);
  } else {
    if (strcmp(set.host, s->set.host) != 0 || set.port != s->set.port ||
        set.workers != s->set.workers || strcmp(set.log_dir, s->set.log_dir) != 0)
      rp_log(RP_LOG_WARN,
             "serve: host, port, workers and log_dir changes take effect at the next "
             "start, not at a reload");
    rp_answer_warm(s, g);
    rp_gen *old = rp_hazard_peek(&s->gens);
    uint64_t old_serial = old ? old->serial : 0;
    rp_gen_swap(s, g);
    if (s->cache && old_serial) rp_acache_forget_serial(s->cache, old_serial);
    atomic_fetch_add(&s->reloads_ok, 1);
    rp_log(RP_LOG_INFO, "serve: model %s serving (loaded in %.2f s)", g->version, g->load_seconds);
  }
  rp_serve_settings_clear(&set);
  pthread_mutex_unlock(&s->reload_lock);
  return rc;
}
