/*
 * lua_registry.c -- `recpipe.registry` binding: rp.registry.open(path, opts)
 * -> a recpipe.Registry with the core's calls as methods.  Runs, gated
 * promotion and model objects are wrapped in registry_ext.lua.
 * A run argument may be a run id, a run object (a table with `id`) or nil.
 */
#include <math.h>
#include <string.h>

#include "registry.h"
#include "rpl.h"

#define REG_T "recpipe.Registry"

static rp_registry *checkreg(lua_State *L) { return rpL_checkobj(L, 1, REG_T); }

static int64_t optrun(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "id");
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok) luaL_argerror(L, idx, "a run (object or id) expected");
    return v;
  }
  return luaL_checkinteger(L, idx);
}

static double optnum(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? (double)NAN : luaL_checknumber(L, idx);
}

/* a time option: Unix seconds or ISO 8601 text */
static double opttime(lua_State *L, int idx, const char *field) {
  int t = rpL_getopt(L, idx, field);
  double v = (double)NAN;
  if (t == LUA_TNUMBER) {
    v = lua_tonumber(L, -1);
  } else if (t == LUA_TSTRING) {
    rp_err err;
    if (rp_registry_parse_time(lua_tostring(L, -1), &v, &err))
      rpL_fielderror(L, idx, field, "%s", err.msg);
  } else if (t != LUA_TNIL) {
    rpL_fielderror(L, idx, field, "must be Unix seconds or ISO 8601 text");
  }
  lua_pop(L, 1);
  return v;
}

/* rp.registry.open(path, {readonly, busy_ms, check, recover, create}) */
static int reg_open(lua_State *L) {
  static const char *const known[] = {"readonly", "busy_ms", "check", "recover", "create", NULL};
  const char *path = luaL_checkstring(L, 1);
  rpL_checkopts(L, 2, known);
  rp_registry_opts o;
  rp_registry_opts_init(&o);
  o.readonly = rpL_optboolean(L, 2, "readonly", o.readonly);
  o.busy_ms = (int)rpL_optinteger(L, 2, "busy_ms", o.busy_ms, 0, 86400000);
  o.check = rpL_optboolean(L, 2, "check", o.check);
  o.recover = rpL_optboolean(L, 2, "recover", o.recover);
  o.create = rpL_optboolean(L, 2, "create", o.create);
  void **slot = rpL_newbox(L, REG_T);
  rp_err err;
  rp_registry *r;
  if (rp_registry_open(path, &o, &r, &err)) return rpL_error(L, &err);
  *slot = r;
  return 1;
}

static int reg_close(lua_State *L) {
  void **slot = rpL_slot(L, 1, REG_T);
  rp_registry_close(*slot);
  *slot = NULL;
  return 0;
}

static int reg_tostring(lua_State *L) {
  void **slot = rpL_slot(L, 1, REG_T);
  if (!*slot) return lua_pushstring(L, REG_T "(closed)"), 1;
  lua_pushfstring(L, REG_T "(%s)", rp_registry_path(*slot));
  return 1;
}

/* reg.path, reg.dir, then the methods */
static int reg_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  rp_registry *r = checkreg(L);
  if (strcmp(k, "path") == 0) return lua_pushstring(L, rp_registry_path(r)), 1;
  if (strcmp(k, "dir") == 0) return lua_pushstring(L, rp_registry_dir(r)), 1;
  rpL_method(L, REG_T, k);
  return 1;
}

/* reg:_begin{pipeline, job, config, seed, adopt} -> run id */
static int reg_begin(lua_State *L) {
  static const char *const known[] = {"pipeline", "job", "config", "seed", "adopt", NULL};
  rp_registry *r = checkreg(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  rpL_checkopts(L, 2, known);
  rp_run_spec s = {0};
  s.pipeline = rpL_optstring(L, 2, "pipeline", NULL);
  s.job = rpL_optstring(L, 2, "job", NULL);
  s.config = rpL_optstring(L, 2, "config", NULL);
  s.has_seed = rpL_hasopt(L, 2, "seed");
  s.seed = rpL_optinteger(L, 2, "seed", 0, LUA_MININTEGER, LUA_MAXINTEGER);
  s.adopt = rpL_optinteger(L, 2, "adopt", 0, 0, LUA_MAXINTEGER);
  rp_err err;
  int64_t id;
  if (rp_registry_run_begin(r, &s, &id, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* reg:_input(run, path) -> fingerprint */
static int reg_input(lua_State *L) {
  rp_registry *r = checkreg(L);
  int64_t run = optrun(L, 2);
  const char *path = luaL_checkstring(L, 3);
  char fp[64];
  rp_err err;
  if (rp_registry_run_input(r, run, path, fp, &err)) return rpL_error(L, &err);
  lua_pushstring(L, fp);
  return 1;
}

/* reg:_metric(run, name, value, lo, hi, model, version) */
static int reg_metric(lua_State *L) {
  rp_registry *r = checkreg(L);
  int64_t run = optrun(L, 2);
  const char *name = luaL_checkstring(L, 3);
  double v = luaL_checknumber(L, 4), lo = optnum(L, 5), hi = optnum(L, 6);
  const char *model = luaL_optstring(L, 7, NULL);
  int64_t version = luaL_optinteger(L, 8, 0);
  rp_err err;
  if (rp_registry_run_metric(r, run, name, v, lo, hi, model, version, &err))
    return rpL_error(L, &err);
  return 0;
}

/* reg:_log(run, level, message) */
static int reg_log(lua_State *L) {
  rp_registry *r = checkreg(L);
  rp_err err;
  if (rp_registry_run_log(r, optrun(L, 2), luaL_checkstring(L, 3), luaL_checkstring(L, 4), &err))
    return rpL_error(L, &err);
  return 0;
}

/* reg:_end(run, status, message, force) */
static int reg_end(lua_State *L) {
  rp_registry *r = checkreg(L);
  rp_err err;
  if (rp_registry_run_end(r, optrun(L, 2), luaL_checkstring(L, 3), luaL_optstring(L, 4, NULL),
                          lua_toboolean(L, 5), &err))
    return rpL_error(L, &err);
  return 0;
}

/* metrics = {name = {value, lo, hi} | value, ...} into a scratch array */
static rp_model_metric *read_metrics(lua_State *L, int idx, int *n) {
  *n = 0;
  if (rpL_getopt(L, idx, "metrics") == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (!lua_istable(L, -1))
    rpL_fielderror(L, idx, "metrics", "must be a table {name = {value, lo, hi}}");
  int t = lua_gettop(L), count = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) count++;
  rp_model_metric *m = rpL_scratch(L, (size_t)count, sizeof *m);
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      rpL_fielderror(L, idx, "metrics", "keys must be metric names");
    rp_model_metric *x = &m[(*n)++];
    x->name = lua_tostring(L, -2);
    x->lo = x->hi = (double)NAN;
    if (lua_isnumber(L, -1)) {
      x->value = lua_tonumber(L, -1);
    } else if (lua_istable(L, -1)) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      lua_rawgeti(L, -3, 3);
      if (!lua_isnumber(L, -3))
        rpL_fielderror(L, idx, "metrics", "'%s' needs {value, lo, hi}", x->name);
      x->value = lua_tonumber(L, -3);
      if (lua_isnumber(L, -2)) x->lo = lua_tonumber(L, -2);
      if (lua_isnumber(L, -1)) x->hi = lua_tonumber(L, -1);
      lua_pop(L, 3);
    } else {
      rpL_fielderror(L, idx, "metrics", "'%s' must be a number or {value, lo, hi}", x->name);
    }
  }
  /* the scratch stays on the stack above the table */
  lua_remove(L, t);
  return m;
}

/* reg:_register(name, path, {training, report, options, run, metrics, move}) -> version */
static int reg_register(lua_State *L) {
  static const char *const known[] = {"training", "report", "options", "run",
                                      "metrics",  "move",   NULL};
  rp_registry *r = checkreg(L);
  const char *name = luaL_checkstring(L, 2), *path = luaL_checkstring(L, 3);
  rpL_checkopts(L, 4, known);
  rp_model_spec s = {0};
  s.training = rpL_optstring(L, 4, "training", NULL);
  s.report = rpL_optstring(L, 4, "report", NULL);
  s.options = rpL_optstring(L, 4, "options", NULL);
  s.move = rpL_optboolean(L, 4, "move", 0);
  if (rpL_getopt(L, 4, "run") != LUA_TNIL) s.run = optrun(L, lua_gettop(L));
  lua_pop(L, 1);
  s.metrics = read_metrics(L, 4, &s.nmetrics);
  rp_err err;
  int64_t v;
  if (rp_registry_register(r, name, path, &s, &v, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, (lua_Integer)v);
  return 1;
}

/* reg:live(name) -> version, path | nil */
static int reg_live(lua_State *L) {
  rp_registry *r = checkreg(L);
  int64_t v;
  char *path;
  rp_err err;
  if (rp_registry_live(r, luaL_checkstring(L, 2), &v, &path, &err)) return rpL_error(L, &err);
  if (v == 0) return lua_pushnil(L), 1;
  lua_pushinteger(L, (lua_Integer)v);
  lua_pushstring(L, path);
  rp_free(path);
  return 2;
}

/* reg:model_path(name, version) -> path */
static int reg_model_path(lua_State *L) {
  rp_registry *r = checkreg(L);
  char *path;
  rp_err err;
  if (rp_registry_model_path(r, luaL_checkstring(L, 2), luaL_checkinteger(L, 3), &path, &err))
    return rpL_error(L, &err);
  lua_pushstring(L, path);
  rp_free(path);
  return 1;
}

/* reg:_decide(name, version, {action, reason, metric, diff, lo, hi,
 *   candidate_report, live_report, run, expect_live}) */
static int reg_decide(lua_State *L) {
  static const char *const known[] = {
      "action",           "reason",      "metric", "diff",        "lo", "hi",
      "candidate_report", "live_report", "run",    "expect_live", NULL};
  static const char *const actions[] = {"initial", "promote", "refuse", NULL};
  rp_registry *r = checkreg(L);
  const char *name = luaL_checkstring(L, 2);
  int64_t version = luaL_checkinteger(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  rpL_checkopts(L, 4, known);
  rp_promotion p = {0};
  p.action = rpL_optenum(L, 4, "action", RP_PROMO_PROMOTE, actions);
  p.reason = rpL_optstring(L, 4, "reason", NULL);
  p.metric = rpL_optstring(L, 4, "metric", NULL);
  p.diff = rpL_optnumber(L, 4, "diff", (double)NAN, -HUGE_VAL, HUGE_VAL);
  p.lo = rpL_optnumber(L, 4, "lo", (double)NAN, -HUGE_VAL, HUGE_VAL);
  p.hi = rpL_optnumber(L, 4, "hi", (double)NAN, -HUGE_VAL, HUGE_VAL);
  p.candidate_report = rpL_optstring(L, 4, "candidate_report", NULL);
  p.live_report = rpL_optstring(L, 4, "live_report", NULL);
  if (rpL_getopt(L, 4, "run") != LUA_TNIL) p.run = optrun(L, lua_gettop(L));
  lua_pop(L, 1);
  p.expect_live = rpL_optinteger(L, 4, "expect_live", -1, -1, LUA_MAXINTEGER);
  rp_err err;
  if (rp_registry_promote(r, name, version, &p, &err)) return rpL_error(L, &err);
  return 0;
}

/* reg:rollback(name, {to, reason, run}) -> the live version */
static int reg_rollback(lua_State *L) {
  static const char *const known[] = {"to", "reason", "run", NULL};
  rp_registry *r = checkreg(L);
  const char *name = luaL_checkstring(L, 2);
  rpL_checkopts(L, 3, known);
  int64_t to = rpL_optinteger(L, 3, "to", 0, 0, LUA_MAXINTEGER);
  const char *reason = rpL_optstring(L, 3, "reason", NULL);
  int64_t run = 0;
  if (rpL_getopt(L, 3, "run") != LUA_TNIL) run = optrun(L, lua_gettop(L));
  lua_pop(L, 1);
  rp_err err;
  int64_t v;
  if (rp_registry_rollback(r, name, to, reason, run, &v, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, (lua_Integer)v);
  return 1;
}

/* reg:record_measure(run, name, value, {threshold, direction, lo, hi, from,
 *   to, model, version, label, info}) -> crossed */
static int reg_measure(lua_State *L) {
  static const char *const known[] = {"threshold", "direction", "lo",    "hi",   "from", "to",
                                      "model",     "version",   "label", "info", NULL};
  static const char *const dirs[] = {"above", "below", NULL};
  rp_registry *r = checkreg(L);
  int64_t run = optrun(L, 2);
  rp_measure m;
  rp_measure_init(&m);
  m.name = luaL_checkstring(L, 3);
  m.value = luaL_checknumber(L, 4);
  rpL_checkopts(L, 5, known);
  m.has_threshold = rpL_hasopt(L, 5, "threshold");
  m.threshold = rpL_optnumber(L, 5, "threshold", (double)NAN, -HUGE_VAL, HUGE_VAL);
  m.direction = rpL_optenum(L, 5, "direction", RP_ABOVE, dirs);
  m.lo = rpL_optnumber(L, 5, "lo", m.lo, -HUGE_VAL, HUGE_VAL);
  m.hi = rpL_optnumber(L, 5, "hi", m.hi, -HUGE_VAL, HUGE_VAL);
  m.from = opttime(L, 5, "from");
  m.to = opttime(L, 5, "to");
  m.model = rpL_optstring(L, 5, "model", NULL);
  m.version = rpL_optinteger(L, 5, "version", 0, 0, LUA_MAXINTEGER);
  m.label = rpL_optstring(L, 5, "label", NULL);
  m.info = rpL_optstring(L, 5, "info", NULL);
  rp_err err;
  int crossed;
  if (rp_registry_measure(r, run, &m, &crossed, &err)) return rpL_error(L, &err);
  lua_pushboolean(L, crossed);
  return 1;
}

/* reg:alert(run, name, message, value, threshold) */
static int reg_alert(lua_State *L) {
  rp_registry *r = checkreg(L);
  rp_err err;
  if (rp_registry_alert(r, optrun(L, 2), luaL_checkstring(L, 3), luaL_optstring(L, 4, NULL),
                        optnum(L, 5), optnum(L, 6), &err))
    return rpL_error(L, &err);
  return 0;
}

static int push_row(void *ud, int ncol, const char *const *names, const rp_value *v) {
  lua_State *L = ud;
  lua_createtable(L, 0, ncol);
  for (int i = 0; i < ncol; i++) {
    switch (v[i].type) {
      case RP_VINT:
        lua_pushinteger(L, (lua_Integer)v[i].i);
        break;
      case RP_VREAL:
        lua_pushnumber(L, v[i].d);
        break;
      case RP_VTEXT:
        lua_pushstring(L, v[i].s);
        break;
      default:
        continue;
    }
    lua_setfield(L, -2, names[i]);
  }
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

/* reg:list(what, {name, job, status, run, since, limit}) -> rows, newest first */
static int reg_list(lua_State *L) {
  static const char *const known[] = {"name", "job", "status", "run", "since", "limit", NULL};
  rp_registry *r = checkreg(L);
  const char *what = luaL_checkstring(L, 2);
  rpL_checkopts(L, 3, known);
  rp_list_filter f;
  rp_list_filter_init(&f);
  f.name = rpL_optstring(L, 3, "name", NULL);
  f.job = rpL_optstring(L, 3, "job", NULL);
  f.status = rpL_optstring(L, 3, "status", NULL);
  if (rpL_getopt(L, 3, "run") != LUA_TNIL) f.run = optrun(L, lua_gettop(L));
  lua_pop(L, 1);
  f.since = opttime(L, 3, "since");
  f.limit = rpL_optinteger(L, 3, "limit", 0, 0, LUA_MAXINTEGER);
  lua_newtable(L);
  rp_err err;
  if (rp_registry_list(r, what, &f, push_row, L, &err)) return rpL_error(L, &err);
  return 1;
}

/* reg:integrity{full = false} -> true, or raises naming the problem */
static int reg_integrity(lua_State *L) {
  static const char *const known[] = {"full", NULL};
  rp_registry *r = checkreg(L);
  rpL_checkopts(L, 2, known);
  rp_err err;
  if (rp_registry_integrity(r, rpL_optboolean(L, 2, "full", 0), &err)) return rpL_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int reg_recover(lua_State *L) {
  rp_err err;
  int n;
  if (rp_registry_recover(checkreg(L), &n, &err)) return rpL_error(L, &err);
  lua_pushinteger(L, n);
  return 1;
}

/* reg:dashboard{title, max_rows, now} -> the HTML page */
static int reg_dashboard(lua_State *L) {
  static const char *const known[] = {"title", "max_rows", "now", NULL};
  rp_registry *r = checkreg(L);
  rpL_checkopts(L, 2, known);
  rp_dashboard_opts o;
  rp_dashboard_opts_init(&o);
  o.title = rpL_optstring(L, 2, "title", o.title);
  o.max_rows = (int)rpL_optinteger(L, 2, "max_rows", o.max_rows, 1, 100000);
  o.now = opttime(L, 2, "now");
  rp_buf b = {0};
  rp_err err;
  if (rp_dashboard_render(r, &o, &b, &err)) {
    rp_buf_free(&b);
    return rpL_error(L, &err);
  }
  lua_pushlstring(L, b.data ? b.data : "", b.len);
  rp_buf_free(&b);
  return 1;
}

/* Reads gate options at idx over the core's defaults and checks them (the
 * defaults and ranges live in gate.c). */
static void read_gate(lua_State *L, int idx, rp_gate_opts *o) {
  static const char *const known[] = {"metric", "k",           "tolerance", "bootstrap", "level",
                                      "seed",   "window_days", "min_users", NULL};
  rpL_checkopts(L, idx, known);
  rp_gate_opts_init(o);
  o->metric = rpL_optstring(L, idx, "metric", o->metric);
  o->k = (int32_t)rpL_optinteger(L, idx, "k", o->k, INT32_MIN, INT32_MAX);
  o->tolerance = rpL_optnumber(L, idx, "tolerance", o->tolerance, -HUGE_VAL, HUGE_VAL);
  o->bootstrap = (int32_t)rpL_optinteger(L, idx, "bootstrap", o->bootstrap, INT32_MIN, INT32_MAX);
  o->level = rpL_optnumber(L, idx, "level", o->level, -HUGE_VAL, HUGE_VAL);
  o->seed = rpL_optinteger(L, idx, "seed", o->seed, LUA_MININTEGER, LUA_MAXINTEGER);
  o->window_days = rpL_optnumber(L, idx, "window_days", o->window_days, -HUGE_VAL, HUGE_VAL);
  o->min_users = (int32_t)rpL_optinteger(L, idx, "min_users", o->min_users, INT32_MIN, INT32_MAX);
  rp_err err;
  if (rp_gate_opts_check(o, &err)) rpL_error(L, &err);
}

/* rp.registry.gate_options(opts) -> every option of the gate, defaults filled in */
static int reg_gate_options(lua_State *L) {
  rp_gate_opts o;
  read_gate(L, 1, &o);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, o.metric);
  lua_setfield(L, -2, "metric");
  lua_pushinteger(L, o.k);
  lua_setfield(L, -2, "k");
  lua_pushnumber(L, o.tolerance);
  lua_setfield(L, -2, "tolerance");
  lua_pushinteger(L, o.bootstrap);
  lua_setfield(L, -2, "bootstrap");
  lua_pushnumber(L, o.level);
  lua_setfield(L, -2, "level");
  lua_pushinteger(L, (lua_Integer)o.seed);
  lua_setfield(L, -2, "seed");
  lua_pushnumber(L, o.window_days);
  lua_setfield(L, -2, "window_days");
  lua_pushinteger(L, o.min_users);
  lua_setfield(L, -2, "min_users");
  return 1;
}

/* rp.registry.gate_decide(opts, diff, lo, hi, users) -> accept, reason */
static int reg_gate_decide(lua_State *L) {
  rp_gate_opts o;
  read_gate(L, 1, &o);
  int accept;
  char reason[256];
  rp_err err;
  if (rp_gate_decide(&o, optnum(L, 2), optnum(L, 3), optnum(L, 4),
                     (int32_t)luaL_optinteger(L, 5, 0), &accept, reason, sizeof reason, &err))
    return rpL_error(L, &err);
  lua_pushboolean(L, accept);
  lua_pushstring(L, reason);
  return 2;
}

/* rp.registry.now() -> Unix seconds of the registry clock (RECPIPE_NOW) */
static int reg_now(lua_State *L) {
  double t;
  rp_err err;
  if (rp_registry_now(&t, &err)) return rpL_error(L, &err);
  lua_pushnumber(L, t);
  return 1;
}

/* rp.registry.parse_time(text) -> Unix seconds */
static int reg_parse_time(lua_State *L) {
  double t;
  rp_err err;
  if (rp_registry_parse_time(luaL_checkstring(L, 1), &t, &err)) return rpL_error(L, &err);
  lua_pushnumber(L, t);
  return 1;
}

/* rp.registry.fingerprint(path) -> "rpfp1:...", size */
static int reg_fingerprint(lua_State *L) {
  char fp[64];
  int64_t size;
  rp_err err;
  if (rp_fingerprint_file(luaL_checkstring(L, 1), fp, &size, &err)) return rpL_error(L, &err);
  lua_pushstring(L, fp);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

static const luaL_Reg reg_methods[] = {{"_begin", reg_begin},
                                       {"_input", reg_input},
                                       {"_metric", reg_metric},
                                       {"_log", reg_log},
                                       {"_end", reg_end},
                                       {"_register", reg_register},
                                       {"_decide", reg_decide},
                                       {"live", reg_live},
                                       {"model_path", reg_model_path},
                                       {"rollback", reg_rollback},
                                       {"record_measure", reg_measure},
                                       {"alert", reg_alert},
                                       {"list", reg_list},
                                       {"integrity", reg_integrity},
                                       {"recover", reg_recover},
                                       {"dashboard", reg_dashboard},
                                       {"close", reg_close},
                                       {NULL, NULL}};

static const luaL_Reg reg_meta[] = {{"__gc", reg_close},
                                    {"__close", reg_close},
                                    {"__tostring", reg_tostring},
                                    {"__index", reg_index},
                                    {NULL, NULL}};

static void reg_destroy(void *r) { rp_registry_close(r); }

static const luaL_Reg funcs[] = {{"open", reg_open},
                                 {"now", reg_now},
                                 {"parse_time", reg_parse_time},
                                 {"fingerprint", reg_fingerprint},
                                 {"gate_options", reg_gate_options},
                                 {"gate_decide", reg_gate_decide},
                                 {NULL, NULL}};

int luaopen_recpipe_registry(lua_State *L);
int luaopen_recpipe_registry(lua_State *L) {
  static const rpL_class reg_class = {REG_T, reg_destroy, NULL};
  rpL_newtype(L, &reg_class, reg_methods, reg_meta);
  luaL_newlib(L, funcs);
  /* the methods table, for the pure-Lua methods of registry_ext.lua */
  luaL_getmetatable(L, REG_T);
  lua_getfield(L, -1, "methods");
  lua_setfield(L, -3, "_methods");
  lua_pop(L, 1);
  return 1;
}
