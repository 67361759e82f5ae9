/*
 * lua_monitor.c -- `recpipe.monitor` binding: rp.monitor.windows (two
 * windows of events), rp.monitor.lists (two sets of recommend_all answers)
 * and rp.monitor.models (the same, asking two recommenders for a sample of
 * users), rp.monitor.measures and rp.monitor.thresholds (the measure table
 * and its defaults, from the C core).  Every comparison returns a report
 * table: the measures, the two sides, `values` (a flat list), `thresholds`
 * and `alerts`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "rpl.h"

/* ---- thresholds -------------------------------------------------------------------- */
/* The defaults, then field 'thresholds' of the options at opt:
 * {measure = number | false (off)}. */
static void readthresholds(lua_State *L, int opt, rp_mon_thresholds *t) {
  rp_mon_thresholds_init(t);
  int ty = rpL_getopt(L, opt, "thresholds");
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (ty != LUA_TTABLE)
    rpL_fielderror(L, opt, "thresholds", "must be a table {measure = number or false}, got %s",
                   luaL_typename(L, -1));
  int tt = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, tt)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      rpL_fielderror(L, opt, "thresholds", "must be keyed by measure names, got a %s key",
                     luaL_typename(L, -2));
    const char *name = lua_tostring(L, -2);
    double v = (double)NAN;
    if (lua_type(L, -1) == LUA_TNUMBER)
      v = lua_tonumber(L, -1);
    else if (!(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
      rpL_fielderror(L, opt, "thresholds", "'%s' must be a number or false (off), got %s", name,
                     luaL_typename(L, -1));
    rp_err err;
    if (rp_mon_threshold_set(t, name, v, &err))
      luaL_argerror(L, opt, lua_pushfstring(L, "field 'thresholds': %s", err.msg + 9));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* ---- report tables -------------------------------------------------------------------- */
static void setnum(lua_State *L, const char *key, double v) {
  if (isnan(v)) return; /* not measured: absent */
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

/* a threshold: the number, or false when off */
static void pushthreshold(lua_State *L, double t) {
  if (isnan(t))
    lua_pushboolean(L, 0);
  else
    lua_pushnumber(L, t);
}

static void setint(lua_State *L, const char *key, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, key);
}

/* Adds values, thresholds (the family's measures; false = off) and alerts
 * to the report on top.  colnames[c]: the name of context column c. */
static void push_checks(lua_State *L, const rp_mon_value *v, int n, const rp_mon_thresholds *t,
                        int family, char *const *colnames) {
  lua_createtable(L, n, 0);
  for (int i = 0, k = 0; i < n; i++) {
    if (isnan(v[i].value)) continue;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, rp_mon_measure(v[i].measure)->name);
    lua_setfield(L, -2, "measure");
    if (v[i].column >= 0) {
      lua_pushstring(L, colnames[v[i].column]);
      lua_setfield(L, -2, "column");
    }
    setnum(L, "value", v[i].value);
    lua_rawseti(L, -2, ++k);
  }
  lua_setfield(L, -2, "values");
  lua_newtable(L);
  for (int m = 0; m < RP_MON_N; m++) {
    if (rp_mon_measure(m)->family != family) continue;
    pushthreshold(L, t->t[m]);
    lua_setfield(L, -2, rp_mon_measure(m)->name);
  }
  lua_setfield(L, -2, "thresholds");
  rp_mon_alert al[RP_MON_MAXVALUES];
  int na = rp_mon_alerts(v, n, t, al);
  lua_createtable(L, na, 0);
  for (int i = 0; i < na; i++) {
    const rp_mon_measure_info *m = rp_mon_measure(al[i].measure);
    const char *col = al[i].column >= 0 ? colnames[al[i].column] : NULL;
    char text[256];
    rp_mon_alert_text(&al[i], col, text, sizeof text);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, m->name);
    lua_setfield(L, -2, "measure");
    if (col) {
      lua_pushstring(L, col);
      lua_setfield(L, -2, "column");
    }
    setnum(L, "value", al[i].value);
    setnum(L, "threshold", al[i].threshold);
    lua_pushstring(L, rp_mon_direction_name(m->direction));
    lua_setfield(L, -2, "direction");
    lua_pushstring(L, text);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "alerts");
}

/* ---- rp.monitor.measures(), rp.monitor.thresholds(overrides) --------------------------- */
static int monitor_measures(lua_State *L) {
  static const char *const families[] = {"windows", "lists", "serving"};
  lua_createtable(L, RP_MON_N, 0);
  for (int i = 0; i < RP_MON_N; i++) {
    const rp_mon_measure_info *m = rp_mon_measure(i);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, m->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, families[m->family]);
    lua_setfield(L, -2, "family");
    lua_pushstring(L, rp_mon_direction_name(m->direction));
    lua_setfield(L, -2, "direction");
    pushthreshold(L, m->def);
    lua_setfield(L, -2, "default");
    lua_pushstring(L, m->what);
    lua_setfield(L, -2, "what");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* thresholds([overrides]) -> {measure = number | false} for every measure */
static int monitor_thresholds(lua_State *L) {
  lua_settop(L, 1);
  if (!lua_isnil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_createtable(L, 0, 1); /* {thresholds = overrides} in place of the argument */
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "thresholds");
  lua_replace(L, 1);
  rp_mon_thresholds t;
  readthresholds(L, 1, &t);
  lua_newtable(L);
  for (int m = 0; m < RP_MON_N; m++) {
    pushthreshold(L, t.t[m]);
    lua_setfield(L, -2, rp_mon_measure(m)->name);
  }
  return 1;
}

/* ---- rp.monitor.windows(reference, current, opts) -------------------------------------- */
static void push_side(lua_State *L, const rp_mon_side *s) {
  lua_createtable(L, 0, 5);
  setint(L, "events", s->events);
  setint(L, "users", s->users);
  setint(L, "items", s->items);
  setnum(L, "activity_mean", s->activity_mean);
  setnum(L, "activity_median", s->activity_median);
}

static void push_dist(lua_State *L, const rp_mon_dist *d) {
  lua_createtable(L, 0, 3);
  setnum(L, "psi", d->psi);
  setnum(L, "tv", d->tv);
  setint(L, "bins", d->bins);
}

static int monitor_windows(lua_State *L) {
  static const char *const known[] = {"item_bins", "context_bins", "epsilon", "thresholds", NULL};
  rp_events *a = rpL_checkevents(L, 1), *b = rpL_checkevents(L, 2);
  rpL_checkopts(L, 3, known);
  rp_mon_window_opts o;
  rp_mon_window_opts_init(&o);
  o.item_bins = (int32_t)rpL_optinteger(L, 3, "item_bins", o.item_bins, INT32_MIN, INT32_MAX);
  o.context_bins =
      (int32_t)rpL_optinteger(L, 3, "context_bins", o.context_bins, INT32_MIN, INT32_MAX);
  o.epsilon = rpL_optnumber(L, 3, "epsilon", o.epsilon, -HUGE_VAL, HUGE_VAL);
  rp_mon_thresholds t;
  readthresholds(L, 3, &t);
  rp_mon_windows w;
  rp_err err;
  if (rp_mon_compare_windows(a, b, &o, &w, &err)) return rpL_error(L, &err);
  lua_createtable(L, 0, 24);
  for (int i = 0; i < w.nvalues; i++)
    if (w.values[i].column < 0)
      setnum(L, rp_mon_measure(w.values[i].measure)->name, w.values[i].value);
  /* context_psi / _tv: the largest over the columns, each column below */
  double cmax[2] = {(double)NAN, (double)NAN};
  lua_createtable(L, 0, w.ncontext);
  for (int k = 0; k < w.ncontext; k++) {
    push_dist(L, &w.context[k]);
    lua_setfield(L, -2, b->context_names[w.context_col[k]]);
    if (!(w.context[k].psi <= cmax[0])) cmax[0] = w.context[k].psi;
    if (!(w.context[k].tv <= cmax[1])) cmax[1] = w.context[k].tv;
  }
  lua_setfield(L, -2, "context");
  setnum(L, "context_psi", cmax[0]);
  setnum(L, "context_tv", cmax[1]);
  setnum(L, "new_user_events", w.new_user_events);
  setnum(L, "new_item_events", w.new_item_events);
  push_side(L, &w.side[0]);
  lua_setfield(L, -2, "reference");
  push_side(L, &w.side[1]);
  lua_setfield(L, -2, "current");
  lua_createtable(L, 0, 3);
  push_dist(L, &w.item);
  lua_setfield(L, -2, "item");
  if (w.has_event) {
    push_dist(L, &w.event);
    lua_setfield(L, -2, "event");
  }
  push_dist(L, &w.activity);
  lua_setfield(L, -2, "activity");
  lua_setfield(L, -2, "distributions");
  push_checks(L, w.values, w.nvalues, &t, RP_MON_WINDOWS, b->context_names);
  return 1;
}

/* ---- answer sets ------------------------------------------------------------------------ */
/* The conversion of two recommend_all results into rp_mon_lists: users
 * (the keys of both tables, as text) on a scratch map, sorted so the
 * result does not depend on the tables' traversal order; items on the
 * catalogue map, or on a scratch map of the ids the lists name. */
typedef struct conv {
  rp_idmap *users, *items;   /* scratch maps (owned by IdMap boxes on the stack) */
  const rp_idmap *catalogue; /* look-ups only, or NULL */
  int32_t k;
} conv;

/* Pushes an IdMap box holding a new empty map; returns the map. */
static rp_idmap *scratchmap(lua_State *L) {
  rp_err err;
  rp_idmap *m = rp_idmap_new(&err);
  if (!m) rpL_error(L, &err);
  rpL_pushidmap(L, m); /* retains */
  rp_idmap_release(m);
  return m;
}

/* Interns the key at the top of the stack (a string or a number, kept as
 * its text) into m, leaving the stack as it was; returns its index. */
static int32_t internkey(lua_State *L, rp_idmap *m) {
  lua_pushvalue(L, -1);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  int32_t i = -1;
  rp_err err;
  if (!s || rp_idmap_intern(m, s, len, &i, &err)) {
    lua_pop(L, 1);
    if (!s) luaL_error(L, "user ids must be strings or numbers, got %s", luaL_typename(L, -1));
    rpL_error(L, &err);
  }
  lua_pop(L, 1);
  return i;
}

/* Pass 1 over the lists table at idx (argument number argn): the users
 * and the longest list. */
static void scan(lua_State *L, int idx, int argn, conv *c) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (!lua_istable(L, -1)) {
      const char *got = luaL_typename(L, -1);
      lua_pushvalue(L, -2);
      const char *who = luaL_tolstring(L, -1, NULL);
      luaL_argerror(L, argn,
                    lua_pushfstring(L, "the list of user '%s' must be an array of item ids, got %s",
                                    who, got));
    }
    lua_Integer len = luaL_len(L, -1);
    if (len > INT32_MAX / 2) luaL_argerror(L, argn, "a list is too long");
    if (len > c->k) c->k = (int32_t)len;
    lua_pop(L, 1);
    internkey(L, c->users);
  }
}

static int cmp_ids(const void *x, const void *y, void *map) {
  size_t lx, ly;
  const char *a = rp_idmap_id(map, *(const int32_t *)x, &lx),
             *b = rp_idmap_id(map, *(const int32_t *)y, &ly);
  int c = memcmp(a, b, lx < ly ? lx : ly);
  return c ? c : (lx > ly) - (lx < ly);
}

/* Pass 2: fills side s (n users, stride c->k) from the lists at idx and
 * the scores at sidx (0: none); row[u] is user u's row. */
static void fill(lua_State *L, int idx, int sidx, int argn, conv *c, const int32_t *row,
                 rp_mon_lists *s, int32_t *items, float *scores, int32_t *len) {
  int32_t n = c->users->n;
  for (int32_t u = 0; u < n; u++) len[u] = -1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    int32_t u = row[internkey(L, c->users)];
    lua_pop(L, 1);
    int32_t m = (int32_t)luaL_len(L, -1);
    int32_t *it = items + (size_t)u * (size_t)c->k;
    for (int32_t j = 0; j < m; j++) {
      lua_rawgeti(L, -1, j + 1);
      size_t l;
      const char *id = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                           ? lua_tolstring(L, -1, &l)
                           : NULL;
      if (!id)
        luaL_argerror(L, argn,
                      lua_pushfstring(L, "item %d of a list is a %s, not an item id", (int)j + 1,
                                      luaL_typename(L, -1)));
      rp_err err;
      if (c->catalogue) {
        it[j] = rp_idmap_find(c->catalogue, id, l);
        if (it[j] < 0)
          luaL_argerror(L, argn, lua_pushfstring(L, "item '%s' is not in the catalogue", id));
      } else if (rp_idmap_intern(c->items, id, l, &it[j], &err)) {
        rpL_error(L, &err);
      }
      lua_pop(L, 1);
    }
    len[u] = m;
    if (sidx) {
      lua_pushvalue(L, -2);
      lua_gettable(L, sidx);
      if (!lua_istable(L, -1) || luaL_len(L, -1) != m)
        luaL_argerror(L, 3, "field 'scores_*' must hold a score array as long as each list");
      for (int32_t j = 0; j < m; j++) {
        lua_rawgeti(L, -1, j + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
          luaL_argerror(L, 3, "field 'scores_*' must hold arrays of numbers");
        scores[(size_t)u * (size_t)c->k + j] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  s->n = n, s->k = c->k, s->items = items, s->scores = sidx ? scores : NULL, s->len = len;
}

static void push_listside(lua_State *L, const rp_mon_lists_result *r, int s) {
  lua_createtable(L, 0, 4);
  setint(L, "users", r->users[s]);
  setnum(L, "coverage", r->coverage[s]);
  setnum(L, "gini", r->gini[s]);
  setnum(L, "score_mean", r->score_mean[s]);
}

/* Compares the lists at ia, ib (scores at sa, sb; 0 = none) with the
 * options at 3; pushes the report. */
static int compare_lists(lua_State *L, int ia, int ib, int sa, int sb, int cat) {
  rp_mon_lists_opts o;
  rp_mon_lists_opts_init(&o);
  o.rbo_p = rpL_optnumber(L, 3, "rbo_p", o.rbo_p, -HUGE_VAL, HUGE_VAL);
  o.score_bins = (int32_t)rpL_optinteger(L, 3, "score_bins", o.score_bins, INT32_MIN, INT32_MAX);
  o.epsilon = rpL_optnumber(L, 3, "epsilon", o.epsilon, -HUGE_VAL, HUGE_VAL);
  rp_mon_thresholds t;
  readthresholds(L, 3, &t);
  conv c = {scratchmap(L), scratchmap(L), NULL, 0};
  int32_t nitems = -1;
  if (cat && (c.catalogue = rpL_testobj(L, cat, RP_IDMAP_T)) == NULL) {
    if (!lua_isinteger(L, cat) || lua_tointeger(L, cat) < 0 || lua_tointeger(L, cat) > INT32_MAX)
      rpL_fielderror(L, 3, "catalogue", "must be an IdMap or a number of items, got %s",
                     luaL_tolstring(L, cat, NULL));
    nitems = (int32_t)lua_tointeger(L, cat);
  }
  scan(L, ia, 1, &c);
  scan(L, ib, 2, &c);
  int32_t n = c.users->n;
  int32_t *order = rpL_scratch(L, (size_t)n, sizeof *order);
  int32_t *row = rpL_scratch(L, (size_t)n, sizeof *row);
  for (int32_t u = 0; u < n; u++) order[u] = u;
  qsort_r(order, (size_t)n, sizeof *order, cmp_ids, c.users);
  for (int32_t r = 0; r < n; r++) row[order[r]] = r;
  /* the users in row order, for messages */
  rp_idmap *rowids = scratchmap(L);
  for (int32_t r = 0; r < n; r++) {
    size_t len;
    const char *id = rp_idmap_id(c.users, order[r], &len);
    int32_t j;
    rp_err e;
    if (rp_idmap_intern(rowids, id, len, &j, &e)) return rpL_error(L, &e);
  }
  size_t nk = (size_t)n * (size_t)c.k;
  rp_mon_lists la, lb;
  int32_t *items = rpL_scratch(L, 2 * nk, sizeof *items), *len = rpL_scratch(L, 2 * (size_t)n, 4);
  float *scores = rpL_scratch(L, 2 * nk, sizeof *scores);
  fill(L, ia, sa, 1, &c, row, &la, items, scores, len);
  fill(L, ib, sb, 2, &c, row, &lb, items + nk, scores + nk, len + n);
  la.user_ids = lb.user_ids = rowids;
  la.item_ids = lb.item_ids = c.catalogue ? c.catalogue : c.items;
  if (c.catalogue)
    nitems = c.catalogue->n;
  else if (nitems < c.items->n) {
    if (nitems >= 0)
      rpL_fielderror(L, 3, "catalogue", "is %d items, but the lists name %d", nitems, c.items->n);
    nitems = c.items->n;
  }
  rp_mon_lists_result r;
  rp_err err;
  if (rp_mon_compare_lists(&la, &lb, nitems, &o, &r, &err)) return rpL_error(L, &err);
  lua_createtable(L, 0, 12);
  for (int i = 0; i < r.nvalues; i++)
    setnum(L, rp_mon_measure(r.values[i].measure)->name, r.values[i].value);
  setint(L, "users", r.common);
  setint(L, "catalogue", nitems);
  push_listside(L, &r, 0);
  lua_setfield(L, -2, "reference");
  push_listside(L, &r, 1);
  lua_setfield(L, -2, "current");
  push_checks(L, r.values, r.nvalues, &t, RP_MON_LISTS, NULL);
  return 1;
}

static const char *const LIST_OPTS[] = {"scores_a",   "scores_b", "catalogue",  "rbo_p",
                                        "score_bins", "epsilon",  "thresholds", NULL};

/* lists(items_a, items_b, {scores_a, scores_b, catalogue, rbo_p, score_bins, epsilon,
 * thresholds}) -> report */
static int monitor_lists(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  rpL_checkopts(L, 3, LIST_OPTS);
  int sc[2];
  for (int s = 0; s < 2; s++) {
    const char *f = s ? "scores_b" : "scores_a";
    int t = rpL_getopt(L, 3, f);
    if (t != LUA_TNIL && t != LUA_TTABLE)
      rpL_fielderror(L, 3, f, "must be a table of score arrays (recommend_all's second result)");
    sc[s] = t == LUA_TNIL ? 0 : lua_gettop(L);
  }
  int cat = rpL_getopt(L, 3, "catalogue") == LUA_TNIL ? 0 : lua_gettop(L);
  return compare_lists(L, 1, 2, sc[0], sc[1], cat);
}

/* The rp_recommender of the object at idx, pinned until the running C
 * function ends (rpL_pinrec), or NULL when it has none. */
static const rp_recommender *getrec(lua_State *L, int idx) {
  int t = lua_getfield(L, idx, "__recommender");
  lua_pop(L, 1);
  return t == LUA_TFUNCTION ? rpL_pinrec(L, idx) : NULL;
}

/* models(a, b, {users = ids | n, k = 10, exclude, threads, seed = 42, + lists' options})
 * -> report, answers_a, answers_b */
static int monitor_models(lua_State *L) {
  static const char *const known[] = {"users",   "k",          "exclude", "threads",
                                      "seed",    "catalogue",  "rbo_p",   "score_bins",
                                      "epsilon", "thresholds", NULL};
  lua_settop(L, 3);
  rpL_checkopts(L, 3, known);
  for (int i = 1; i <= 2; i++) {
    int t = lua_type(L, i);
    if ((t != LUA_TTABLE && t != LUA_TUSERDATA) ||
        lua_getfield(L, i, "recommend_all") != LUA_TFUNCTION)
      luaL_argerror(L, i, "a recommender (an object with recommend_all) expected");
    lua_pop(L, 1);
  }
  const rp_recommender *ra = getrec(L, 1);
  int ut = rpL_getopt(L, 3, "users"), users = lua_gettop(L);
  if (ut == LUA_TNIL || ut == LUA_TNUMBER) {
    if (!ra || !ra->users)
      rpL_fielderror(L, 3, "users", "is required: the first recommender has no user map");
    lua_Integer want =
        ut == LUA_TNIL ? ra->users->n : rpL_optinteger(L, 3, "users", 0, 0, INT32_MAX);
    uint64_t seed = (uint64_t)rpL_optinteger(L, 3, "seed", 42, LUA_MININTEGER, LUA_MAXINTEGER);
    int32_t *pick = rpL_scratch(L, (size_t)ra->users->n, sizeof *pick);
    int32_t m = rp_mon_sample(ra->users->n, (int32_t)want, seed, pick);
    rpL_pushids(L, ra->users, pick, m);
    lua_replace(L, users);
    lua_pop(L, 1); /* the scratch */
  } else if (ut != LUA_TTABLE) {
    rpL_fielderror(L, 3, "users", "must be a list of user ids or a number to sample, got %s",
                   luaL_typename(L, users));
  }
  /* each side's recommend_all{users, k, exclude, threads} */
  int res[4];
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, i + 1, "recommend_all");
    lua_pushvalue(L, i + 1);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, users);
    lua_setfield(L, -2, "users");
    static const char *const pass[] = {"k", "exclude", "threads"};
    for (int j = 0; j < 3; j++) {
      rpL_getopt(L, 3, pass[j]);
      lua_setfield(L, -2, pass[j]);
    }
    lua_call(L, 2, 2);
    if (!lua_istable(L, -2))
      luaL_argerror(L, i + 1, "recommend_all did not return a table of lists");
    res[2 * i] = lua_gettop(L) - 1;
    res[2 * i + 1] = lua_istable(L, -1) ? lua_gettop(L) : 0;
  }
  int cat = rpL_getopt(L, 3, "catalogue") == LUA_TNIL ? 0 : lua_gettop(L);
  if (!cat && ra && ra->items) {
    rpL_pushidmap(L, ra->items);
    cat = lua_gettop(L);
  }
  compare_lists(L, res[0], res[2], res[1], res[3], cat);
  lua_pushvalue(L, res[0]);
  lua_pushvalue(L, res[2]);
  return 3;
}

/* ---- rp.monitor.serving(impressions, feedback, opts) ---------------------------------- */
#define SERVING_T "recpipe.monitor.serving"

static int serving_gc(lua_State *L) {
  rp_mon_serving_free(luaL_checkudata(L, 1, SERVING_T));
  return 0;
}

static void push_rate(lua_State *L, const rp_mon_rate *r) {
  lua_createtable(L, 0, 5);
  setint(L, "n", r->n);
  setint(L, "x", r->x);
  setnum(L, "rate", r->rate);
  setnum(L, "lo", r->lo);
  setnum(L, "hi", r->hi);
}

static void push_rates(lua_State *L, int64_t requests, int64_t lines, const rp_mon_rate *ctr,
                       const rp_mon_rate *cv, const rp_mon_rate *hit) {
  lua_createtable(L, 0, 5);
  setint(L, "requests", requests);
  if (lines >= 0) setint(L, "lines", lines);
  push_rate(L, ctr);
  lua_setfield(L, -2, "ctr");
  push_rate(L, cv);
  lua_setfield(L, -2, "conversion");
  push_rate(L, hit);
  lua_setfield(L, -2, "hit_rate");
}

static void push_groups(lua_State *L, const rp_mon_group *g, int32_t n, const rp_idmap *dict) {
  lua_createtable(L, 0, n);
  for (int32_t i = 0; i < n; i++) {
    size_t len;
    const char *name = rp_idmap_id(dict, g[i].code, &len);
    lua_pushlstring(L, name, len);
    push_rates(L, g[i].ctr.n, -1, &g[i].ctr, &g[i].conversion, &g[i].hit);
    lua_settable(L, -3);
  }
}

/* field (a table {from, to}) of the options at 3 -> *from, *to; 0 when absent */
static int optwindow(lua_State *L, const char *field, int64_t *from, int64_t *to) {
  int t = rpL_getopt(L, 3, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (t != LUA_TTABLE)
    rpL_fielderror(L, 3, field, "must be a table {from = time, to = time}, got %s",
                   luaL_typename(L, -1));
  int w = lua_gettop(L);
  const char *keys[2] = {"from", "to"};
  int64_t *out[2] = {from, to};
  for (int k = 0; k < 2; k++) {
    if (lua_getfield(L, w, keys[k]) == LUA_TNIL)
      rpL_fielderror(L, 3, field, "needs '%s' (Unix seconds or ISO 8601 text)", keys[k]);
    *out[k] = rpL_checktime(L, 3, -1, field);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

/* field (a list of event type names) of the options at 3, in a scratch
 * array of C strings pushed on the stack with the list; *n = -1 when absent */
static const char **opttypes(lua_State *L, const char *field, int *n) {
  *n = -1;
  int t = rpL_getopt(L, 3, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t == LUA_TSTRING) { /* one name */
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
  } else if (t != LUA_TTABLE) {
    rpL_fielderror(L, 3, field, "must be an event type name or a list of them, got %s",
                   luaL_typename(L, -1));
  }
  int list = lua_gettop(L);
  lua_Integer len = luaL_len(L, list);
  const char **names = rpL_scratch(L, (size_t)len, sizeof *names);
  for (lua_Integer i = 0; i < len; i++) {
    if (lua_rawgeti(L, list, i + 1) != LUA_TSTRING)
      rpL_fielderror(L, 3, field, "must list event type names, got %s", luaL_typename(L, -1));
    names[i] = lua_tostring(L, -1); /* kept alive by the list */
    lua_pop(L, 1);
  }
  *n = (int)len;
  return names;
}

static int monitor_serving(lua_State *L) {
  static const char *const known[] = {
      "hits",           "horizon",       "hit_horizon", "level",      "window",
      "reference",      "click",         "conversion",  "thresholds", "request_column",
      "version_column", "reason_column", NULL};
  rp_events *imp = rpL_checkevents(L, 1), *fb = rpL_checkevents(L, 2), *hits = NULL;
  lua_settop(L, 3);
  rpL_checkopts(L, 3, known);
  rp_mon_serving_opts o;
  rp_mon_serving_opts_init(&o);
  if (rpL_getopt(L, 3, "hits") != LUA_TNIL) {
    if (!(hits = rpL_testobj(L, -1, RP_EVENTS_T)))
      rpL_fielderror(L, 3, "hits", "must be a recpipe.Events, got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  o.horizon = rpL_optinteger(L, 3, "horizon", o.horizon, LUA_MININTEGER, LUA_MAXINTEGER);
  o.hit_horizon =
      rpL_optinteger(L, 3, "hit_horizon", o.hit_horizon, LUA_MININTEGER, LUA_MAXINTEGER);
  o.level = rpL_optnumber(L, 3, "level", o.level, -HUGE_VAL, HUGE_VAL);
  optwindow(L, "window", &o.from, &o.to);
  o.has_reference = optwindow(L, "reference", &o.ref_from, &o.ref_to);
  int n;
  const char **names = opttypes(L, "click", &n);
  if (n >= 0) o.click_types = names, o.nclick = n;
  names = opttypes(L, "conversion", &n);
  if (n >= 0) o.conversion_types = names, o.nconversion = n;
  o.request_column = rpL_optstring(L, 3, "request_column", o.request_column);
  o.version_column = rpL_optstring(L, 3, "version_column", o.version_column);
  o.reason_column = rpL_optstring(L, 3, "reason_column", o.reason_column);
  rp_mon_thresholds t;
  readthresholds(L, 3, &t);
  /* the result lives in a userdata whose __gc frees its groups, so a Lua
   * error while the report is built cannot leak them */
  rp_mon_serving *sp = lua_newuserdatauv(L, sizeof *sp, 0);
  memset(sp, 0, sizeof *sp);
  luaL_setmetatable(L, SERVING_T);
  rp_err err;
  if (rp_mon_serving_compute(imp, fb, hits, &o, sp, &err)) return rpL_error(L, &err);
  const rp_mon_serving s = *sp;
  lua_createtable(L, 0, 16);
  for (int i = 0; i < s.nvalues; i++)
    setnum(L, rp_mon_measure(s.values[i].measure)->name, s.values[i].value);
  push_rates(L, s.requests[1], s.lines[1], &s.ctr[1], &s.conversion[1], &s.hit[1]);
  lua_setfield(L, -2, "current");
  if (o.has_reference) {
    push_rates(L, s.requests[0], s.lines[0], &s.ctr[0], &s.conversion[0], &s.hit[0]);
    lua_setfield(L, -2, "reference");
  }
  if (s.version_col >= 0) {
    push_groups(L, s.by_version, s.nversion, imp->context_dicts[s.version_col]);
    lua_setfield(L, -2, "by_version");
  }
  if (s.reason_col >= 0) {
    push_groups(L, s.by_reason, s.nreason, imp->context_dicts[s.reason_col]);
    lua_setfield(L, -2, "by_reason");
  }
  push_checks(L, s.values, s.nvalues, &t, RP_MON_SERVING, NULL);
  return 1;
}

static const luaL_Reg monitor_funcs[] = {{"windows", monitor_windows},
                                         {"lists", monitor_lists},
                                         {"models", monitor_models},
                                         {"serving", monitor_serving},
                                         {"measures", monitor_measures},
                                         {"thresholds", monitor_thresholds},
                                         {NULL, NULL}};

int luaopen_recpipe_monitor(lua_State *L);
int luaopen_recpipe_monitor(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", serving_gc}, {NULL, NULL}};
  static const rpL_class serving_class = {SERVING_T, NULL, NULL};
  rpL_newtype(L, &serving_class, NULL, meta);
  luaL_newlib(L, monitor_funcs);
  return 1;
}
