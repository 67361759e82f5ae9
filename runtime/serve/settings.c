/*
 * settings.c -- every setting of `recpipe serve`, named, defaulted and
 * range-checked once, in the table below.  The serve script's settings
 * table, the YAML config and key=value overrides are all read through it;
 * the README's settings table and `recpipe serve --help` print from it.
 */
#include <lauxlib.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

enum {
  T_INT,    /* integer in [lo, hi] */
  T_NUM,    /* number in [lo, hi] */
  T_STR,    /* text (a fixed buffer in the struct) */
  T_CSTR,   /* text, from the YAML config and key=value only: needed before the
               script runs, so its settings table cannot set it */
  T_BOOL,   /* true / false */
  T_ROTATE, /* "daily" | "none" */
  T_TYPES,  /* list of event type names */
  T_SIZE,   /* entries (integer) or bytes ("64MB") */
  T_LUA,    /* a Lua value kept in each worker's state (function, object, table) */
  T_CONFIG  /* a config file's own key (script, model) */
};

typedef struct sdesc {
  const char *name;
  int type;
  size_t off, size; /* field in rp_serve_settings (T_LUA, T_CONFIG: none) */
  double def, lo, hi;
  const char *sdef;
  const char *help;
} sdesc;

#define F(field) offsetof(rp_serve_settings, field), sizeof(((rp_serve_settings *)0)->field)
#define NOF 0, 0

static const sdesc table[] = {
    {"script", T_CONFIG, NOF, 0, 0, 0, "",
     "(YAML) the serve script that builds the recommender, relative to the YAML file"},
    {"model", T_CONFIG, NOF, 0, 0, 0, "",
     "(YAML) an ALS model file to serve as it is, when there is no script"},
    {"host", T_STR, F(host), 0, 0, 0, "127.0.0.1",
     "address to listen on; admin endpoints need admin_token on any but loopback"},
    {"port", T_INT, F(port), 8080, 0, 65535, NULL, "TCP port; 0 picks a free one"},
    {"port_file", T_STR, F(port_file), 0, 0, 0, "",
     "write the port listened on to this file once ready"},
    {"workers", T_INT, F(workers), 0, 0, 256, NULL,
     "worker threads, each with its own Lua state; 0 = one per core"},
    {"admin_token", T_STR, F(admin_token), 0, 0, 0, "",
     "bearer token of /v1/admin/* and /dashboard; else $RECPIPE_ADMIN_TOKEN"},
    {"max_body", T_INT, F(max_body), 1 << 20, 1024, 1 << 30, NULL, "largest request body, bytes"},
    {"max_header", T_INT, F(max_header), 16384, 1024, 1 << 20, NULL,
     "largest request line plus headers, bytes"},
    {"max_k", T_INT, F(max_k), 1000, 1, 1000000, NULL, "largest k a request may ask"},
    {"max_list", T_INT, F(max_list), 1000, 1, 1000000, NULL,
     "most ids in a request's history, items or deny"},
    {"max_batch", T_INT, F(max_batch), 1000, 1, 1000000, NULL,
     "most events in one POST /v1/events"},
    {"max_id", T_INT, F(max_id), 256, 1, 65536, NULL,
     "longest id, attribute or context value, bytes"},
    {"timeout", T_INT, F(timeout), 10, 1, 3600, NULL,
     "seconds a connection may stay idle or slow before it is closed"},
    {"connection_limit", T_INT, F(connection_limit), 1024, 1, 1000000, NULL,
     "most connections at once"},
    {"drain_seconds", T_NUM, F(drain_seconds), 10, 0, 3600, NULL,
     "on SIGTERM, how long running requests may take to finish"},
    {"log_dir", T_STR, F(log_dir), 0, 0, 0, "logs",
     "directory of the impression and event logs; empty: no logs"},
    {"fsync_ms", T_INT, F(fsync_ms), 100, 1, 60000, NULL,
     "group commit: logs are written and fsync'ed at most this often"},
    {"rotate", T_ROTATE, F(rotate), RP_ROTATE_DAILY, 0, 0, "daily",
     "daily: one file per UTC day (impressions-YYYY-MM-DD.csv); none: one file"},
    {"log_backlog", T_INT, F(log_backlog), 64 << 20, 65536, 1e12, NULL,
     "bytes of log lines waiting to be written before new ones are refused"},
    {"event_types", T_TYPES, NOF, 0, 0, 0, "view,click,addtocart,purchase",
     "the event types POST /v1/events accepts"},
    {"cache_capacity", T_SIZE, F(cache_capacity), 0, 0, 0, "100000",
     "answers kept: entries, or bytes with a unit (\"64MB\"); 0: no cache"},
    {"cache_ttl", T_NUM, F(cache_ttl), 60, 0.001, 1e7, NULL, "seconds a cached answer is served"},
    {"k", T_INT, F(k), 10, 1, 1000000, NULL, "items per answer when the request gives no k"},
    {"exclude_seen", T_BOOL, F(exclude_seen), 1, 0, 1, NULL,
     "leave out the user's seen items (the seen matrix, or a chain's train) by default"},
    {"registry", T_CSTR, F(registry), 0, 0, 0, "",
     "(config) a model registry (rp.registry's file): with live, its live model; GET /dashboard"},
    {"live", T_CSTR, F(live), 0, 0, 0, "",
     "(config) serve the registry's live version of this model name, following promotions"},
    {"registry_poll", T_NUM, F(registry_poll), 5, 0.05, 86400, NULL,
     "seconds between two looks at the registry's live version"},
    {"version", T_STR, F(version), 0, 0, 0, "",
     "model_version of the answers; default: NAME-vN when live, else a digest of the files"},
    {"reason", T_STR, F(reason), 0, 0, 0, "",
     "reason of answers that are not a chain's (default: cf for ALS, else the kind)"},
    {"realtime", T_BOOL, F(realtime), 0, 0, 1, NULL,
     "fold a known user's POST /v1/events into their ALS factors before answering the POST"},
    {"realtime_weights", T_STR, F(realtime_weights), 0, 0, 0, "",
     "realtime's event weights, \"purchase=5,addtocart=3,view=1\" (types not named: 1)"},
    {"realtime_session_weight", T_NUM, F(realtime_session_weight), 0.4, 0, 100, NULL,
     "realtime: added to a user's score of an item for each of their events on it; 0: off"},
    {"seen", T_LUA, NOF, 0, 0, 0, "",
     "a Matrix of the users' seen items (YAML: a matrix file) for exclude_seen"},
    {"similar", T_LUA, NOF, 0, 0, 0, "",
     "what answers /v1/similar (anything with similar_items); default: the recommender"},
    {"on_request", T_LUA, NOF, 0, 0, 0, "",
     "(Lua) function(req): change the request table before it is answered"},
    {"filter", T_LUA, NOF, 0, 0, 0, "",
     "(Lua) function(items, scores, req) -> items, scores: a business filter on every answer"},
    {"params", T_LUA, NOF, 0, 0, 0, "",
     "anything for the serve script to read (its ... argument); the server ignores it"},
    {"warm", T_LUA, NOF, 0, 0, 0, "",
     "requests (tables like a POST body) answered into the cache when a model loads"},
    {NULL, 0, NOF, 0, 0, 0, NULL, NULL}};

static const sdesc *find(const char *name) {
  for (const sdesc *d = table; d->name; d++)
    if (strcmp(d->name, name) == 0) return d;
  return NULL;
}

void rp_serve_settings_clear(rp_serve_settings *s) {
  for (int i = 0; i < s->nevent_types; i++) rp_free(s->event_types[i]);
  s->nevent_types = 0;
}

static void set_types(rp_serve_settings *s, const char *csv) {
  rp_serve_settings_clear(s);
  const char *p = csv;
  while (*p && s->nevent_types < 64) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    char *t = rp_malloc(n + 1);
    if (!t) break;
    memcpy(t, p, n);
    t[n] = 0;
    s->event_types[s->nevent_types++] = t;
    if (!c) break;
    p = c + 1;
  }
}

void rp_serve_settings_defaults(rp_serve_settings *s) {
  memset(s, 0, sizeof *s);
  for (const sdesc *d = table; d->name; d++) {
    char *f = (char *)s + d->off;
    switch (d->type) {
      case T_INT:
      case T_BOOL:
      case T_ROTATE:
        if (d->size == sizeof(int64_t))
          *(int64_t *)f = (int64_t)d->def;
        else
          *(int *)f = (int)d->def;
        break;
      case T_NUM:
        *(double *)f = d->def;
        break;
      case T_STR:
      case T_CSTR:
      case T_SIZE:
        snprintf(f, d->size, "%s", d->sdef);
        break;
      case T_TYPES:
        set_types(s, d->sdef);
        break;
      default:
        break;
    }
  }
}

static const char *known_list(lua_State *L, int config) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int first = 1;
  for (const sdesc *d = table; d->name; d++) {
    if ((d->type == T_CONFIG || d->type == T_CSTR) && !config) continue;
    if (!first) luaL_addstring(&b, ", ");
    luaL_addstring(&b, d->name);
    first = 0;
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

void rp_serve_settings_check(lua_State *L, int idx, const char *source, int from_script) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    luaL_error(L, "%s: settings must be a table, got %s", source, luaL_typename(L, idx));
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: setting names must be strings, got %s", source, luaL_typename(L, -1));
    const char *k = lua_tostring(L, -1);
    if (k[0] == '_') continue; /* _config_file and other private keys */
    const sdesc *d = find(k);
    if (!d || ((d->type == T_CONFIG || d->type == T_CSTR) && from_script))
      luaL_error(L, "%s: unknown setting '%s' (known: %s)", source, k, known_list(L, !from_script));
  }
}

static void bad(lua_State *L, const sdesc *d, const char *what, int v) {
  const char *shown = lua_type(L, v) == LUA_TSTRING ? lua_pushfstring(L, "'%s'", lua_tostring(L, v))
                                                    : luaL_tolstring(L, v, NULL);
  luaL_error(L, "setting '%s' must be %s, got %s", d->name, what, shown);
}

static void read_one(lua_State *L, const sdesc *d, int v, rp_serve_settings *s) {
  char *f = (char *)s + d->off;
  char what[128];
  switch (d->type) {
    case T_INT: {
      int isint = 0;
      lua_Integer x = lua_tointegerx(L, v, &isint);
      snprintf(what, sizeof what, "an integer in %.0f..%.0f", d->lo, d->hi);
      if (!isint || lua_type(L, v) != LUA_TNUMBER || (double)x < d->lo || (double)x > d->hi)
        bad(L, d, what, v);
      if (d->size == sizeof(int64_t))
        *(int64_t *)f = (int64_t)x;
      else
        *(int *)f = (int)x;
      break;
    }
    case T_NUM: {
      double x = lua_tonumber(L, v);
      snprintf(what, sizeof what, "a number in [%g, %g]", d->lo, d->hi);
      if (lua_type(L, v) != LUA_TNUMBER || !isfinite(x) || x < d->lo || x > d->hi)
        bad(L, d, what, v);
      *(double *)f = x;
      break;
    }
    case T_BOOL:
      if (!lua_isboolean(L, v)) bad(L, d, "true or false", v);
      *(int *)f = lua_toboolean(L, v);
      break;
    case T_STR:
    case T_CSTR: {
      size_t n;
      if (lua_type(L, v) != LUA_TSTRING) bad(L, d, "a string", v);
      const char *x = lua_tolstring(L, v, &n);
      snprintf(what, sizeof what, "a string of at most %zu bytes", d->size - 1);
      if (n >= d->size || strlen(x) != n) bad(L, d, what, v);
      memcpy(f, x, n + 1);
      break;
    }
    case T_ROTATE: {
      const char *x = lua_type(L, v) == LUA_TSTRING ? lua_tostring(L, v) : "";
      if (strcmp(x, "daily") == 0)
        *(int *)f = RP_ROTATE_DAILY;
      else if (strcmp(x, "none") == 0)
        *(int *)f = RP_ROTATE_NONE;
      else
        bad(L, d, "'daily' or 'none'", v);
      break;
    }
    case T_SIZE: {
      char buf[40];
      if (lua_type(L, v) == LUA_TNUMBER) {
        int isint = 0;
        lua_Integer x = lua_tointegerx(L, v, &isint);
        if (!isint || x < 0) bad(L, d, "a number of entries (>= 0) or a size (\"64MB\")", v);
        snprintf(buf, sizeof buf, "%lld", (long long)x);
      } else if (lua_type(L, v) == LUA_TSTRING && lua_rawlen(L, v) < sizeof buf) {
        snprintf(buf, sizeof buf, "%s", lua_tostring(L, v));
      } else {
        bad(L, d, "a number of entries (>= 0) or a size (\"64MB\")", v);
      }
      snprintf(f, d->size, "%s", buf);
      break;
    }
    case T_TYPES: {
      if (!lua_istable(L, v)) bad(L, d, "a list of event type names", v);
      lua_Integer n = luaL_len(L, v);
      if (n < 1 || n > 64) bad(L, d, "a list of 1 to 64 event type names", v);
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, v, i);
        size_t len;
        const char *t = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || !rp_sid_ok(t, len, 64) || strchr(t, ','))
          luaL_error(L,
                     "setting 'event_types' must hold names (text without commas, at most 64 "
                     "bytes), entry %d is not one",
                     (int)i);
        lua_pop(L, 1);
        if (i > 1) luaL_addchar(&b, ',');
        luaL_addlstring(&b, t, len);
      }
      luaL_pushresult(&b);
      set_types(s, lua_tostring(L, -1));
      lua_pop(L, 1);
      break;
    }
    default:
      break;
  }
}

void rp_serve_settings_read(lua_State *L, int idx, rp_serve_settings *s) {
  idx = lua_absindex(L, idx);
  for (const sdesc *d = table; d->name; d++) {
    if (d->type == T_LUA || d->type == T_CONFIG) continue;
    if (lua_getfield(L, idx, d->name) != LUA_TNIL) read_one(L, d, lua_gettop(L), s);
    lua_pop(L, 1);
  }
  if (s->k > s->max_k) luaL_error(L, "setting 'k' (%d) must not exceed max_k (%d)", s->k, s->max_k);
}

rp_slimits rp_serve_limits(const rp_serve_settings *s) {
  rp_slimits l;
  l.max_k = s->max_k;
  l.max_list = s->max_list;
  l.max_pairs = 64;
  l.max_id = s->max_id;
  l.max_batch = s->max_batch;
  return l;
}

const char *rp_serve_settings_help(void) {
  static char buf[8192];
  if (buf[0]) return buf;
  size_t n = 0;
  for (const sdesc *d = table; d->name && n + 200 < sizeof buf; d++) {
    char def[64];
    if (d->type == T_INT)
      snprintf(def, sizeof def, "%.0f", d->def);
    else if (d->type == T_NUM)
      snprintf(def, sizeof def, "%g", d->def);
    else if (d->type == T_BOOL)
      snprintf(def, sizeof def, "%s", d->def ? "true" : "false");
    else
      snprintf(def, sizeof def, "%s", d->sdef && *d->sdef ? d->sdef : "-");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "  %-17s %-13s %s\n", d->name, def, d->help);
  }
  return buf;
}
