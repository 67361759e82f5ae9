/*
 * fuzz_yaml.c -- the YAML config loader (runtime/config.c, libyaml into
 * Lua tables).
 *
 * Option byte, then the text:
 *   0  bits 0-1: rp.config.parse(text); rp_config_pushfile on the text as
 *      a file (a config must be a mapping); rp_config_override on an empty
 *      table with the text as "key.path=value"; (3) parse twice, the second
 *      time the text with every byte after the first newline dropped
 *
 * Each input gets its own Lua state whose allocator counts bytes: Lua's
 * peak must stay within what the text's size justifies (anchors and aliases
 * share tables, they never copy them), and closing the state must free
 * everything.  Errors are Lua errors caught here: a message is all a bad
 * config may cause.
 */
#include "fuzz.h"
#include "host.h"

#include <lauxlib.h>
#include <lua.h>

typedef struct counter {
  size_t cur, peak;
} counter;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counter *c = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    c->cur -= osize;
    return NULL;
  }
  if (nsize > osize && c->cur + (nsize - osize) > ((size_t)1 << 30)) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  c->cur += nsize - osize;
  if (c->cur > c->peak) c->peak = c->cur;
  return p;
}

typedef struct job {
  const char *text;
  size_t len;
  const char *path;
  int mode;
} job;

static int run(lua_State *L) {
  const job *j = lua_touserdata(L, 1);
  switch (j->mode) {
    case 1:
      rp_config_pushfile(L, j->path);
      if (!lua_istable(L, -1)) return luaL_error(L, "pushfile gave a %s", luaL_typename(L, -1));
      break;
    case 2:
      lua_newtable(L);
      lua_pushlstring(L, j->text, j->len); /* a NUL-terminated copy */
      rp_config_override(L, -2, lua_tostring(L, -1));
      break;
    default: {
      int n = j->mode == 3 ? 2 : 1;
      for (int k = 0; k < n; k++) {
        luaopen_recpipe_config(L);
        lua_getfield(L, -1, "parse");
        size_t len = j->len;
        if (k == 1) {
          const char *nl = memchr(j->text, '\n', len);
          len = nl ? (size_t)(nl - j->text) : len;
        }
        lua_pushlstring(L, j->text, len);
        lua_call(L, 1, 1);
      }
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned b0 = fz_byte(&in);
  job j = {(const char *)in.p, in.n, NULL, (int)(b0 & 3)};
  fz_file f = {-1, ""};
  if (j.mode == 1) {
    fz_file_open(&f, in.p, in.n);
    j.path = f.path;
  }
  counter c = {0, 0};
  lua_State *L = lua_newstate(count_alloc, &c);
  if (!L) fz_fail("lua_newstate failed");
  size_t base = c.cur;
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &j);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK && rc != LUA_ERRRUN && rc != LUA_ERRMEM)
    fz_fail("lua_pcall returned %d: %s", rc, lua_tostring(L, -1));
  if (rc == LUA_ERRRUN && lua_type(L, -1) != LUA_TSTRING) fz_fail("an error that is not a message");
  fz_note("yaml", rc, rc ? lua_tostring(L, -1) : "");
  lua_close(L);
  fz_file_close(&f);
  if (c.cur != 0) fz_fail("Lua state leaked %zu bytes", c.cur);
  size_t allow = FZ_FIXED + FZ_PER_BYTE * in.n;
  if (c.peak - base > allow)
    fz_fail("parsing %zu bytes of YAML took %zu bytes of Lua memory (allowed %zu)", in.n,
            c.peak - base, allow);
  return 0;
}
