/*
 * config.c -- `recpipe.config`: YAML (libyaml) into Lua tables.
 *
 * Scalars are typed by the YAML 1.2 core schema when plain (unquoted):
 * null (~, null, empty), booleans (true/false), integers (decimal, 0x, 0o),
 * floats (incl. .inf, .nan), else strings; quoted or !!str-tagged scalars are
 * strings.  A null map value leaves the key absent; a null list element is
 * skipped.  Anchors and aliases are supported (an alias shares the table).
 * Errors name the file, line and column.  Nesting is limited to
 * RP_YAML_MAX_DEPTH levels: parse_node recurses once a level, and 30,000
 * levels (60 KB of "[[[[...") would overflow the C stack.
 */
#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "host.h"

/* Sequences and mappings nest at most this deep (a config needs a few). */
#define RP_YAML_MAX_DEPTH 256

typedef struct {
  yaml_parser_t parser;
  const char *name;
  int anchors; /* stack index of the anchor table */
  int root;    /* event type of the document's root node */
  int depth;   /* sequences and mappings open around the current node */
} yctx;

static int ystrcmp_any(const char *s, const char *const *opts) {
  for (int i = 0; opts[i]; i++)
    if (strcmp(s, opts[i]) == 0) return 1;
  return 0;
}

/* Pushes the typed value of a plain scalar; returns 0 for null (pushes nil). */
static int push_plain(lua_State *L, const char *s, size_t len) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const trues[] = {"true", "True", "TRUE", NULL};
  static const char *const falses[] = {"false", "False", "FALSE", NULL};
  static const char *const infs[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
  static const char *const ninfs[] = {"-.inf", "-.Inf", "-.INF", NULL};
  static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
  if (ystrcmp_any(s, nulls)) {
    lua_pushnil(L);
    return 0;
  }
  if (ystrcmp_any(s, trues)) return lua_pushboolean(L, 1), 1;
  if (ystrcmp_any(s, falses)) return lua_pushboolean(L, 0), 1;
  if (ystrcmp_any(s, infs)) return lua_pushnumber(L, HUGE_VAL), 1;
  if (ystrcmp_any(s, ninfs)) return lua_pushnumber(L, -HUGE_VAL), 1;
  if (ystrcmp_any(s, nans)) return lua_pushnumber(L, NAN), 1;
  /* integers */
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p[2]) {
    int base = p[1] == 'x' ? 16 : 8;
    char *end;
    errno = 0;
    long long v = strtoll(p + 2, &end, base);
    if (*end == 0 && errno == 0) return lua_pushinteger(L, s[0] == '-' ? -v : v), 1;
  }
  int digits = 0, ok = 1;
  for (const char *q = p; *q; q++) {
    if (isdigit((unsigned char)*q))
      digits++;
    else
      ok = 0;
  }
  if (ok && digits) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == 0 && errno == 0) return lua_pushinteger(L, v), 1;
  }
  /* floats: [-+]?(.digits|digits(.digits*)?)([eE][-+]?digits)? */
  {
    const char *q = p;
    int d1 = 0, d2 = 0, good = 1;
    while (isdigit((unsigned char)*q)) q++, d1++;
    if (*q == '.') {
      q++;
      while (isdigit((unsigned char)*q)) q++, d2++;
    }
    if (d1 + d2 == 0) good = 0;
    if (good && (*q == 'e' || *q == 'E')) {
      q++;
      if (*q == '+' || *q == '-') q++;
      int d3 = 0;
      while (isdigit((unsigned char)*q)) q++, d3++;
      if (!d3) good = 0;
    }
    if (good && *q == 0) return lua_pushnumber(L, strtod(s, NULL)), 1;
  }
  lua_pushlstring(L, s, len);
  return 1;
}

/* "file:line:column: problem", and where the construct it broke began when
 * libyaml knows ("... while parsing a flow sequence started at 1:4"). */
static int yerror(lua_State *L, yctx *y) {
  yaml_parser_t *p = &y->parser;
  const char *what = p->problem ? p->problem : "malformed YAML";
  if (p->context)
    return luaL_error(L, "%s:%d:%d: %s %s started at %d:%d", y->name, (int)p->problem_mark.line + 1,
                      (int)p->problem_mark.column + 1, what, p->context,
                      (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
  return luaL_error(L, "%s:%d:%d: %s", y->name, (int)p->problem_mark.line + 1,
                    (int)p->problem_mark.column + 1, what);
}

static void next_event(lua_State *L, yctx *y, yaml_event_t *ev) {
  if (!yaml_parser_parse(&y->parser, ev)) yerror(L, y);
}

static void remember_anchor(lua_State *L, yctx *y, const yaml_char_t *anchor) {
  if (!anchor) return;
  lua_pushvalue(L, -1);
  lua_setfield(L, y->anchors, (const char *)anchor);
}

/* Parses one node starting with event ev (consumed); pushes its value.
 * Returns 0 when the value is null. */
static int parse_node(lua_State *L, yctx *y, yaml_event_t *ev);

/* Enters a sequence or mapping starting at ev; raises past the limit. */
static void enter(lua_State *L, yctx *y, yaml_event_t *ev) {
  if (++y->depth <= RP_YAML_MAX_DEPTH) return;
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
  yaml_event_delete(ev);
  luaL_error(L, "%s:%d:%d: YAML nested deeper than %d levels", y->name, line, col,
             RP_YAML_MAX_DEPTH);
}

static int parse_node(lua_State *L, yctx *y, yaml_event_t *ev) {
  luaL_checkstack(L, 8, "YAML nesting too deep");
  int rc = 1;
  switch (ev->type) {
    case YAML_SCALAR_EVENT: {
      const char *s = (const char *)ev->data.scalar.value;
      size_t len = ev->data.scalar.length;
      const char *tag = (const char *)ev->data.scalar.tag;
      if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
          (tag && strcmp(tag, YAML_STR_TAG) == 0)) {
        lua_pushlstring(L, s, len);
      } else {
        rc = push_plain(L, s, len);
      }
      remember_anchor(L, y, ev->data.scalar.anchor);
      yaml_event_delete(ev);
      return rc;
    }
    case YAML_ALIAS_EVENT: {
      int t = lua_getfield(L, y->anchors, (const char *)ev->data.alias.anchor);
      if (t == LUA_TNIL) {
        int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
        yaml_event_delete(ev);
        return luaL_error(L, "%s:%d:%d: unknown alias", y->name, line, col);
      }
      yaml_event_delete(ev);
      return 1;
    }
    case YAML_SEQUENCE_START_EVENT: {
      enter(L, y, ev);
      lua_newtable(L);
      remember_anchor(L, y, ev->data.sequence_start.anchor);
      yaml_event_delete(ev);
      lua_Integer i = 0;
      for (;;) {
        yaml_event_t e;
        next_event(L, y, &e);
        if (e.type == YAML_SEQUENCE_END_EVENT) {
          yaml_event_delete(&e);
          break;
        }
        if (parse_node(L, y, &e))
          lua_rawseti(L, -2, ++i);
        else
          lua_pop(L, 1);
      }
      y->depth--;
      return 1;
    }
    case YAML_MAPPING_START_EVENT: {
      enter(L, y, ev);
      lua_newtable(L);
      remember_anchor(L, y, ev->data.mapping_start.anchor);
      yaml_event_delete(ev);
      for (;;) {
        yaml_event_t e;
        next_event(L, y, &e);
        if (e.type == YAML_MAPPING_END_EVENT) {
          yaml_event_delete(&e);
          break;
        }
        int line = (int)e.start_mark.line + 1, col = (int)e.start_mark.column + 1;
        if (!parse_node(L, y, &e))
          return luaL_error(L, "%s:%d:%d: null mapping key", y->name, line, col);
        if (lua_type(L, -1) == LUA_TTABLE)
          return luaL_error(L, "%s:%d:%d: mapping key must be a scalar", y->name, line, col);
        yaml_event_t v;
        next_event(L, y, &v);
        if (parse_node(L, y, &v))
          lua_rawset(L, -3);
        else
          lua_pop(L, 2);
      }
      y->depth--;
      return 1;
    }
    default: {
      int line = (int)ev->start_mark.line + 1;
      yaml_event_delete(ev);
      return luaL_error(L, "%s:%d: unexpected YAML event", y->name, line);
    }
  }
}

/* Protected body: args (parser userdata-wrapped ctx, name); pushes result. */
static int parse_document(lua_State *L) {
  yctx *y = lua_touserdata(L, 1);
  lua_newtable(L);
  y->anchors = lua_gettop(L);
  yaml_event_t ev;
  next_event(L, y, &ev); /* stream start */
  yaml_event_delete(&ev);
  next_event(L, y, &ev);
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    lua_pushnil(L); /* an empty document is null */
    return 1;
  }
  yaml_event_delete(&ev); /* document start */
  next_event(L, y, &ev);
  y->root = ev.type;
  parse_node(L, y, &ev); /* pushes nil for null */
  yaml_event_t end;
  next_event(L, y, &end); /* document end */
  yaml_event_delete(&end);
  next_event(L, y, &end);
  if (end.type != YAML_STREAM_END_EVENT) {
    int line = (int)end.start_mark.line + 1;
    yaml_event_delete(&end);
    return luaL_error(L, "%s:%d: more than one YAML document", y->name, line);
  }
  yaml_event_delete(&end);
  return 1;
}

/* Parses text (len bytes) named name; pushes the value and returns the
 * event type of its root node (YAML_MAPPING_START_EVENT for a mapping).
 * Raises on error after freeing the parser. */
static int parse_text(lua_State *L, const char *text, size_t len, const char *name) {
  yctx y;
  memset(&y, 0, sizeof y);
  if (!yaml_parser_initialize(&y.parser)) luaL_error(L, "%s: cannot create YAML parser", name);
  y.name = name;
  yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
  lua_pushcfunction(L, parse_document);
  lua_pushlightuserdata(L, &y);
  int rc = lua_pcall(L, 1, 1, 0);
  yaml_parser_delete(&y.parser);
  if (rc != LUA_OK) lua_error(L);
  return y.root;
}

/* The config file read last (the one a run's configuration comes from),
 * named by configuration errors; registry key. */
#define CONFIG_FILE_KEY "recpipe.config_file"
#define CONFIG_ERROR_T "recpipe.ConfigError"

int rp_config_pushfile(lua_State *L, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return luaL_error(L, "cannot open config '%s': %s", path, strerror(errno));
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[8192];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, k);
  int bad = ferror(f);
  fclose(f);
  if (bad) return luaL_error(L, "cannot read config '%s'", path);
  luaL_pushresult(&b);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  int root = parse_text(L, text, len, path);
  if (lua_isnil(L, -1)) { /* an empty file is an empty config */
    lua_pop(L, 1);
    lua_newtable(L);
  } else if (root != YAML_MAPPING_START_EVENT) {
    return luaL_error(L, "%s: a config must be a YAML mapping (key: value lines)", path);
  }
  lua_remove(L, -2);
  lua_pushstring(L, path);
  lua_setfield(L, LUA_REGISTRYINDEX, CONFIG_FILE_KEY);
  return 1;
}

void rp_config_override(lua_State *L, int idx, const char *kv) {
  idx = lua_absindex(L, idx);
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv)
    luaL_error(L, "bad override '%s': expected key=value (dotted keys nest: als.factors=64)", kv);
  /* value typed as YAML types it */
  char name[300];
  snprintf(name, sizeof name, "override '%s'", kv);
  parse_text(L, eq + 1, strlen(eq + 1), name);
  int val = lua_gettop(L);
  lua_pushvalue(L, idx);
  const char *p = kv;
  for (;;) {
    const char *dot = memchr(p, '.', (size_t)(eq - p));
    const char *end = dot ? dot : eq;
    if (end == p) luaL_error(L, "bad override '%s': empty key", kv);
    /* numeric components index lists */
    int numeric = 1;
    for (const char *q = p; q < end; q++) numeric &= isdigit((unsigned char)*q) != 0;
    if (numeric)
      lua_pushinteger(L, strtoll(p, NULL, 10));
    else
      lua_pushlstring(L, p, (size_t)(end - p));
    if (!dot) {
      lua_pushvalue(L, val);
      lua_settable(L, -3);
      break;
    }
    lua_pushvalue(L, -1);
    int t = lua_gettable(L, -3);
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, -5);
    } else if (t != LUA_TTABLE) {
      luaL_error(L, "bad override '%s': '%s' is not a table", kv,
                 lua_pushlstring(L, kv, (size_t)(end - kv)));
    }
    lua_remove(L, -2);
    lua_remove(L, -2);
    p = dot + 1;
  }
  lua_settop(L, val - 1);
}

/* rp.config.load(path[, overrides]) -> table */
static int cfg_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_settop(L, 2); /* the loaded table goes to 3, never to an absent 2 */
  rp_config_pushfile(L, path);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, 2, i);
      const char *kv = luaL_checkstring(L, -1);
      rp_config_override(L, -2, kv);
      lua_pop(L, 1);
    }
  }
  return 1;
}

/* rp.config.parse(text[, name]) -> value */
static int cfg_parse(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "<string>");
  parse_text(L, text, len, name);
  return 1;
}

/* rp.config.override(tbl, "a.b=value") -> tbl */
static int cfg_override(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  rp_config_override(L, 1, luaL_checkstring(L, 2));
  lua_settop(L, 1);
  return 1;
}

/* rp.config.error(msg[, file]): raises a configuration error, a user's mistake
 * in a config rather than a fault in code: an error object {msg, file}
 * (file: the one given, else the config file read last, if any) whose
 * tostring is "file: msg".
 * The host prints that alone, with no traceback (host.c's handler prints
 * __tostring of error objects as they are). */
static int cfg_error(lua_State *L) {
  const char *msg = luaL_checkstring(L, 1);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, msg);
  lua_setfield(L, -2, "msg");
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "file");
  } else if (lua_getfield(L, LUA_REGISTRYINDEX, CONFIG_FILE_KEY) == LUA_TSTRING)
    lua_setfield(L, -2, "file");
  else
    lua_pop(L, 1);
  luaL_setmetatable(L, CONFIG_ERROR_T);
  return lua_error(L);
}

static int cfgerr_tostring(lua_State *L) {
  lua_settop(L, 1);
  lua_getfield(L, 1, "msg");
  const char *msg = luaL_tolstring(L, 2, NULL); /* at 3 */
  if (lua_getfield(L, 1, "file") == LUA_TSTRING)
    lua_pushfstring(L, "%s: %s", lua_tostring(L, 4), msg);
  else
    lua_settop(L, 3);
  return 1;
}

static const luaL_Reg funcs[] = {{"load", cfg_load},
                                 {"parse", cfg_parse},
                                 {"override", cfg_override},
                                 {"error", cfg_error},
                                 {NULL, NULL}};

int luaopen_recpipe_config(lua_State *L) {
  if (luaL_newmetatable(L, CONFIG_ERROR_T)) {
    lua_pushcfunction(L, cfgerr_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
