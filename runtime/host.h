/*
 * host.h -- the recpipe host: one Lua state with every module preloaded,
 * the package's Lua files found relative to the binary, logging and
 * progress wired to stderr.
 */
#ifndef RP_HOST_H
#define RP_HOST_H

#include <lua.h>

typedef struct rp_host_opts {
  int quiet;     /* no progress bars, log level warn */
  int log_level; /* RP_LOG_* */
} rp_host_opts;

/* Creates the state: standard libraries, package.preload for every C
 * module, a searcher for the package's Lua files.  NULL on failure (message
 * printed).  rp_host_init followed by rp_host_state. */
lua_State *rp_host_new(const rp_host_opts *o, const char *argv0);
/* The process-wide part: logging and progress to stderr, the package's
 * directories.  Once, before any state. */
void rp_host_init(const rp_host_opts *o, const char *argv0);
/* One more state like rp_host_new's (a server makes one per worker); any
 * thread may create one.  NULL with msg filled on failure. */
lua_State *rp_host_state(char *msg, size_t size);
/* The message handler scripts run under: the message and a traceback. */
int rp_host_traceback(lua_State *L);
/* Runs argv[at] -- a script file ("-" = standard input) or a YAML config
 * naming a pipeline -- with argv[at + 1..] as its arguments (for a config:
 * key=value overrides) and `arg` built from all of argv as lua.c builds it.
 * Prints the message and a traceback on error.  Returns the process exit
 * status. */
int rp_host_run(lua_State *L, int argc, char **argv, int at);
/* The directories the host resolved, and the binary's own path. */
const char *rp_host_luadir(void);
const char *rp_host_pipelinedir(void);
const char *rp_host_exe(void);

/* `recpipe schedule ARGS` with argv[at..] its arguments (runtime/schedule);
 * `recpipe dashboard REGISTRY -o FILE` likewise.  Return the exit status. */
int rp_schedule_main(int argc, char **argv, int at);
int rp_dashboard_main(int argc, char **argv, int at);

/* luaopen functions of the runtime's own modules */
int luaopen_recpipe_core(lua_State *L);
int luaopen_recpipe_log(lua_State *L);
int luaopen_recpipe_config(lua_State *L);

/* Loads a YAML file into a Lua table pushed on the stack, or raises an
 * error "file:line:column: problem". */
int rp_config_pushfile(lua_State *L, const char *path);
/* Applies "dotted.key=value" overrides to the table at idx (value typed as
 * YAML would type it); raises an error naming the bad override. */
void rp_config_override(lua_State *L, int idx, const char *kv);

#endif
