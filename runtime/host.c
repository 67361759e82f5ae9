/*
 * host.c -- the Lua state recpipe runs scripts in.
 *
 * Every C module is registered in package.preload (as linit.c does); a
 * module whose binding is not linked in is simply absent (weak symbols), so
 * adding a module means adding its folder and one line to MODULES below.
 * Lua files of the package (`require "recpipe"`, `require "recpipe.tune"`)
 * are found relative to the binary.  In the build tree the runtime's own
 * (init.lua, tune.lua, ...) are in runtime/lua and each module's Lua
 * extension sits beside its binding (modules/split/split_ext.lua), looked
 * for only in the folders of the modules linked in: a module left out of
 * the build leaves its Lua out too.  `make install` puts them all in one
 * folder, <exe dir>/../share/recpipe/lua.  $RECPIPE_HOME points at either
 * layout (HOME/lua, or HOME/runtime/lua and HOME/modules).
 */

#include "host.h"

#include <lauxlib.h>
#include <lualib.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dist.h"
#include "rio.h"
#include "rp.h"
#include "rpl.h"

#define MODULES(X) \
  X(io)            \
  X(sparse)        \
  X(gen)           \
  X(als)           \
  X(split) X(metrics) X(baseline) X(hybrid) X(cache) X(serve) X(registry) X(monitor) X(dist)
#define DECLARE(m) extern int luaopen_recpipe_##m(lua_State *L) __attribute__((weak));
MODULES(DECLARE)

/* Prints a script's error; under mpirun, as "rank R: message", and ends
 * every rank (the others may be waiting in a collective for this one). */
static void script_error(const char *msg) {
  if (rp_dist_launched()) rp_dist_abort(msg); /* a script's error ends every rank */
  fprintf(stderr, "recpipe: %s\n", msg);
}

static char luadir[4096], moddir[4096], pipedir[4096], exepath[4096];
static double t0;
static int draw_progress;

const char *rp_host_luadir(void) { return luadir; }
const char *rp_host_pipelinedir(void) { return pipedir; }
const char *rp_host_exe(void) { return exepath; }

/* ---- logging and progress to stderr ---------------------------------------- */
static int progress_drawn;

static void clear_progress(void) {
  if (progress_drawn) {
    fputs("\r\033[K", stderr);
    progress_drawn = 0;
  }
}

static void log_to_stderr(int level, const char *msg, void *ud) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  (void)ud;
  clear_progress();
  fprintf(stderr, "[%7.2fs] %s: %s\n", rp_now() - t0, names[level], msg);
}

/* One operation's bar at a time: it starts at the first report of `what`
 * (after a finish or another what) and, when it was drawn at all (it
 * lasted), ends with a one-line summary that stays on the screen. */
static void progress_to_stderr(const char *what, double done, double total, int finish, void *ud) {
  static double last, start;
  static char current[64];
  static int active, shown;
  (void)ud;
  if (!draw_progress) return;
  double now = rp_now();
  if (!active || strncmp(current, what, sizeof current - 1) != 0) {
    snprintf(current, sizeof current, "%s", what);
    start = now, active = 1, shown = 0;
  }
  if (!finish && now - last < 0.1) return;
  last = now;
  char line[256];
  rp_progress_line(line, sizeof line, what, done, total, now - start, finish);
  if (finish) {
    clear_progress();
    if (shown) fprintf(stderr, "%s\n", line);
    active = 0;
    return;
  }
  fprintf(stderr, "\r\033[K%s", line);
  progress_drawn = shown = 1;
}

/* ---- finding the package's files ------------------------------------------------ */
static int isdir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void resolve_dirs(const char *argv0) {
  char exe[3800];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k <= 0) {
    snprintf(exe, sizeof exe, "%s", argv0);
    k = (ssize_t)strlen(exe);
  }
  exe[k] = 0;
  snprintf(exepath, sizeof exepath, "%s", exe);
  char *slash = strrchr(exe, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(exe, sizeof exe, ".");
  const char *home = getenv("RECPIPE_HOME");
  char cand[4096];
  moddir[0] = 0;
  if (home && *home) {
    snprintf(luadir, sizeof luadir, "%s/lua", home);
    if (!isdir(luadir)) {
      snprintf(luadir, sizeof luadir, "%s/runtime/lua", home);
      snprintf(moddir, sizeof moddir, "%s/modules", home);
    }
    snprintf(pipedir, sizeof pipedir, "%s/pipelines", home);
    return;
  }
  /* build tree: the binary sits in the repository root or in build-san */
  const char *ups[] = {"", "/..", NULL};
  for (int i = 0; ups[i]; i++) {
    snprintf(cand, sizeof cand, "%s%s/runtime/lua", exe, ups[i]);
    if (isdir(cand)) {
      snprintf(luadir, sizeof luadir, "%s", cand);
      snprintf(moddir, sizeof moddir, "%s%s/modules", exe, ups[i]);
      snprintf(pipedir, sizeof pipedir, "%s%s/pipelines", exe, ups[i]);
      return;
    }
  }
  snprintf(luadir, sizeof luadir, "%s/../share/recpipe/lua", exe);
  snprintf(pipedir, sizeof pipedir, "%s/../share/recpipe/pipelines", exe);
}

/* The file of module name ("recpipe" or "recpipe.x.y") under dir: dir/init.lua
 * or dir/x/y.lua, into path; 1 when it is readable. */
static int module_file(char *path, size_t size, const char *dir, const char *name) {
  if (strcmp(name, "recpipe") == 0)
    snprintf(path, size, "%s/init.lua", dir);
  else
    snprintf(path, size, "%s/%s.lua", dir, name + 8);
  for (char *p = path + strlen(dir) + 1; *p; p++)
    if (*p == '.' && strcmp(p, ".lua") != 0) *p = '/';
  return access(path, R_OK) == 0;
}

/* The file of "recpipe.x" in the folder of module m (a module linked in),
 * into path; 1 when it is readable, else adds "no file" to tried. */
static int in_module(char *path, size_t size, const char *m, const char *name, luaL_Buffer *b) {
  char dir[4400];
  snprintf(dir, sizeof dir, "%s/%s", moddir, m);
  if (!isdir(dir)) return 0;
  if (module_file(path, size, dir, name)) return 1;
  luaL_addstring(b, "\n\tno file '");
  luaL_addstring(b, path);
  luaL_addstring(b, "'");
  return 0;
}

/* searcher: "recpipe" -> <luadir>/init.lua, "recpipe.x" -> <luadir>/x.lua,
 * else (build tree) <moddir>/<m>/x.lua for each module m linked in */
static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  char path[8400];
  if (strcmp(name, "recpipe") != 0 && strncmp(name, "recpipe.", 8) != 0) return 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int found = module_file(path, sizeof path, luadir, name);
  if (!found) {
    luaL_addstring(&b, "\n\tno file '");
    luaL_addstring(&b, path);
    luaL_addstring(&b, "'");
  }
  if (!found && moddir[0] && strcmp(name, "recpipe") != 0) {
#define IN_MODULE(m) \
  found = found || (luaopen_recpipe_##m && in_module(path, sizeof path, #m, name, &b));
    MODULES(IN_MODULE)
  }
  luaL_pushresult(&b);
  if (!found) return 1;
  lua_pop(L, 1);
  if (luaL_loadfile(L, path) != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, path,
                      lua_tostring(L, -1));
  lua_pushstring(L, path);
  return 2;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int setup(lua_State *L) {
  luaL_openlibs(L);
  rpL_opendata(L); /* the data model's types, before any module */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_recpipe_core);
  lua_setfield(L, -2, "recpipe.core");
  lua_pushcfunction(L, luaopen_recpipe_log);
  lua_setfield(L, -2, "recpipe.log");
  lua_pushcfunction(L, luaopen_recpipe_config);
  lua_setfield(L, -2, "recpipe.config");
#define PRELOAD(m)                             \
  if (luaopen_recpipe_##m) {                   \
    lua_pushcfunction(L, luaopen_recpipe_##m); \
    lua_setfield(L, -2, "recpipe." #m);        \
  }
  MODULES(PRELOAD)
  lua_pop(L, 1);
  /* our searcher goes right after the preload searcher */
  lua_getfield(L, -1, "searchers");
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
  return 0;
}

/* A progress bar is drawn only where a person watches: stderr is a
 * terminal that can move the cursor, not --quiet, not a CI job (whose log
 * may be a pseudo-terminal that records every redraw). */
static int want_progress(int q) {
  const char *ci = getenv("CI"), *term = getenv("TERM");
  if (q || !isatty(2)) return 0;
  if (ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0) return 0;
  return !(term && strcmp(term, "dumb") == 0);
}

void rp_host_init(const rp_host_opts *o, const char *argv0) {
  t0 = rp_now();
  draw_progress = want_progress(o->quiet);
  rp_log_set(log_to_stderr, NULL, o->log_level);
  rp_progress_set(progress_to_stderr, NULL);
  resolve_dirs(argv0);
}

lua_State *rp_host_state(char *msg, size_t size) {
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(msg, size, "cannot create a Lua state: not enough memory");
    return NULL;
  }
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, -2) != LUA_OK) {
    snprintf(msg, size, "%s", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  lua_pop(L, 1);
  return L;
}

lua_State *rp_host_new(const rp_host_opts *o, const char *argv0) {
  rp_host_init(o, argv0);
  char msg[1024];
  lua_State *L = rp_host_state(msg, sizeof msg);
  if (!L) fprintf(stderr, "recpipe: %s\n", msg);
  return L;
}

int rp_host_traceback(lua_State *L) { return traceback(L); }

/* Ctrl-C as lua.c handles it: the first SIGINT sets a hook that raises
 * "interrupted!" at the next Lua instruction (so the script stops with a
 * traceback, and its to-be-closed variables are closed); a call into C runs
 * to its end first, and a second SIGINT kills the process at once. */
static lua_State *running;

static void interrupted(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(running, interrupted, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* Runs script (NULL: standard input) with `arg` set as lua.c sets it:
 * arg[0] the script, arg[1..] argv[script + 1..], negative indices the words
 * before it.  The chunk receives arg[1..] as varargs, or the config table
 * at cfgidx when given. */
static int run_script(lua_State *L, const char *script, int argc, char **argv, int at, int cfgidx) {
  int base = lua_gettop(L);
  lua_pushcfunction(L, traceback);
  lua_createtable(L, argc - at - 1 > 0 ? argc - at - 1 : 0, at + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, i == at ? (script ? script : "-") : argv[i]);
    lua_rawseti(L, -2, i - at);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, script) != LUA_OK) {
    script_error(lua_tostring(L, -1));
    lua_settop(L, base);
    return 1;
  }
  int nargs;
  if (cfgidx) {
    lua_pushvalue(L, cfgidx);
    nargs = 1;
  } else {
    if (!lua_checkstack(L, argc)) {
      fprintf(stderr, "recpipe: too many arguments (%d)\n", argc);
      lua_settop(L, base);
      return 1;
    }
    for (int i = at + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    nargs = argc - at - 1;
  }
  running = L;
  signal(SIGINT, on_sigint);
  int rc = lua_pcall(L, nargs, 0, base + 1);
  signal(SIGINT, SIG_DFL);
  clear_progress();
  if (rc != LUA_OK) script_error(lua_tostring(L, -1));
  lua_settop(L, base);
  return rc != LUA_OK;
}

static int load_config(lua_State *L) {
  const char *path = lua_tostring(L, 1);
  int n = (int)lua_tointeger(L, 2);
  char **kv = lua_touserdata(L, 3);
  rp_config_pushfile(L, path);
  for (int i = 0; i < n; i++) rp_config_override(L, lua_gettop(L), kv[i]);
  return 1;
}

/* The script a YAML config names: `pipeline: NAME` is pipelines/NAME.lua;
 * a name with a slash is a path relative to the YAML file.  Returns 0 and
 * prints why when there is none. */
static int pipeline_script(lua_State *L, int cfg, const char *path, char *script, size_t size) {
  if (lua_getfield(L, cfg, "pipeline") != LUA_TSTRING) {
    fprintf(stderr, "recpipe: %s: missing 'pipeline: NAME' (which pipelines/NAME.lua to run)\n",
            path);
    lua_pop(L, 1);
    return 0;
  }
  const char *name = lua_tostring(L, -1);
  if (strchr(name, '/')) {
    const char *s = strrchr(path, '/');
    if (name[0] == '/')
      snprintf(script, size, "%s", name);
    else
      snprintf(script, size, "%.*s%s", s ? (int)(s - path + 1) : 0, path, name);
  } else {
    snprintf(script, size, "%s/%s.lua", pipedir, name);
  }
  int ok = access(script, R_OK) == 0;
  if (!ok)
    fprintf(stderr, "recpipe: %s: pipeline '%s' not found (looked for %s)\n", path, name, script);
  lua_pop(L, 1);
  return ok;
}

int rp_host_run(lua_State *L, int argc, char **argv, int at) {
  const char *path = argv[at];
  if (rp_has_suffix(path, ".yaml") || rp_has_suffix(path, ".yml")) {
    /* no traceback for config errors: the message names file:line:column */
    lua_pushcfunction(L, load_config);
    lua_pushstring(L, path);
    lua_pushinteger(L, argc - at - 1);
    lua_pushlightuserdata(L, argv + at + 1);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
      fprintf(stderr, "recpipe: %s\n", lua_tostring(L, -1));
      return 1;
    }
    int cfg = lua_gettop(L);
    lua_pushstring(L, path);
    lua_setfield(L, cfg, "_config_file");
    char script[8600];
    if (!pipeline_script(L, cfg, path, script, sizeof script)) return 1;
    return run_script(L, script, argc, argv, at, cfg);
  }
  if (strcmp(path, "-") == 0) return run_script(L, NULL, argc, argv, at, 0);
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "recpipe: cannot open '%s': %s\n", path, strerror(errno));
    return 1;
  }
  return run_script(L, path, argc, argv, at, 0);
}
