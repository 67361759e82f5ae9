/*
 * schedule.c -- `recpipe schedule [--once] [--list] [--now=TIME] SCHEDULE.yaml`.
 *
 * Reads the schedule (YAML through the host's config loader, checked
 * against the keys of sched.c), opens the registry it names, and runs the
 * jobs that are due as child processes (`recpipe run PIPELINE key=value...`),
 * one run per job at a time, each with its limits.  The state lives in the
 * registry, so a restarted scheduler neither loses nor repeats a slot.
 *
 * The clock: --now=TIME (or RECPIPE_NOW) sets "now" at start; it then
 * advances with the wall clock.  Children get RECPIPE_NOW (the scheduler's
 * now when they start), RECPIPE_REGISTRY, RECPIPE_RUN and RECPIPE_JOB.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "iotext.h"
#include "rio.h"
#include "schedule.h"

typedef struct schedule {
  char *path;     /* the YAML file */
  char *dir;      /* its directory */
  char *registry; /* resolved registry path */
  double stop_grace, poll;
  rp_sched_job *jobs;
  int njobs;
} schedule;

static void job_free(rp_sched_job *j) {
  rp_free(j->name);
  rp_free(j->pipeline);
  rp_free(j->target);
  rp_free(j->cron_text);
  for (int i = 0; i < j->nargs; i++) rp_free(j->args[i]);
  rp_free(j->args);
  rp_buf_free(&j->pending);
}

static void schedule_free(schedule *s) {
  for (int i = 0; i < s->njobs; i++) job_free(&s->jobs[i]);
  rp_free(s->jobs);
  rp_free(s->path);
  rp_free(s->dir);
  rp_free(s->registry);
  memset(s, 0, sizeof *s);
}

/* ---- reading the YAML (inside lua_pcall: errors are Lua errors) -------------------------- */
static char *xstrdup(lua_State *L, const char *s) {
  char *p = rp_strdup(s);
  if (!p) luaL_error(L, "not enough memory");
  return p;
}

/* path relative to the schedule's directory (absolute stays) */
static char *relative(lua_State *L, const schedule *s, const char *p) {
  if (p[0] == '/') return xstrdup(L, p);
  char buf[PATH_MAX * 2];
  snprintf(buf, sizeof buf, "%s/%s", s->dir, p);
  return xstrdup(L, buf);
}

/* Checks the keys of the table at idx against keys; where names the table. */
static void check_keys(lua_State *L, int idx, const rp_sched_key *keys, const char *where) {
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!k || !rp_sched_key_find(keys, k)) {
      char names[512];
      rp_sched_key_names(keys, names, sizeof names);
      luaL_error(L, "%s: unknown key '%s' (known: %s)", where,
                 k ? k : lua_typename(L, lua_type(L, -2)), names);
    }
  }
}

/* The value of key as text (default when absent; NULL when no default):
 * strings as they are, numbers as numbers. */
static const char *textval(lua_State *L, int idx, const rp_sched_key *keys, const char *key,
                           const char *where) {
  const rp_sched_key *k = rp_sched_key_find(keys, key);
  int t = lua_getfield(L, idx, key);
  const char *v = k->def;
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    v = lua_tostring(L, -1);
  } else if (t != LUA_TNIL) {
    luaL_error(L, "%s: '%s' must be text or a number, got %s", where, key, lua_typename(L, t));
  }
  lua_pop(L, 1); /* the string stays referenced by the table */
  return v;
}

static double duration(lua_State *L, int idx, const rp_sched_key *keys, const char *key,
                       const char *where) {
  const char *v = textval(L, idx, keys, key, where);
  double d;
  rp_err err;
  if (!v) return 0;
  if (strcmp(v, "0") == 0) return 0;
  if (rp_sched_parse_duration(v, &d, &err)) luaL_error(L, "%s: '%s': %s", where, key, err.msg);
  return d;
}

/* YAML text of a scalar or a list/map (flow style), for key=value overrides */
static void yaml_value(lua_State *L, int idx, rp_buf *b, int depth);

static int plain_ok(const char *s) {
  static const char *const typed[] = {"true", "false", "null", "yes", "no", "on", "off", NULL};
  if (!*s || !(isalpha((unsigned char)*s) || *s == '/' || *s == '_')) return 0;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || strchr("_./-", *p))) return 0;
  for (int i = 0; typed[i]; i++)
    if (strcasecmp(s, typed[i]) == 0) return 0;
  return 1;
}

static void yaml_value(lua_State *L, int idx, rp_buf *b, int depth) {
  idx = lua_absindex(L, idx);
  if (depth > 16) luaL_error(L, "config: nesting too deep");
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      rp_buf_printf(b, "%s", lua_toboolean(L, idx) ? "true" : "false");
      return;
    case LUA_TNUMBER: {
      char num[64];
      if (lua_isinteger(L, idx))
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
      else {
        double d = lua_tonumber(L, idx);
        if (isnan(d))
          snprintf(num, sizeof num, ".nan");
        else if (isinf(d))
          snprintf(num, sizeof num, d > 0 ? ".inf" : "-.inf");
        else {
          snprintf(num, sizeof num, "%.17g", d);
          if (!strpbrk(num, ".e")) strcat(num, ".0");
        }
      }
      rp_buf_printf(b, "%s", num);
      return;
    }
    case LUA_TSTRING: {
      const char *s = lua_tostring(L, idx);
      if (plain_ok(s)) {
        rp_buf_printf(b, "%s", s);
        return;
      }
      rp_buf_add(b, "'", 1);
      for (const char *p = s; *p; p++) {
        if (*p == '\'') rp_buf_add(b, "'", 1);
        rp_buf_add(b, p, 1);
      }
      rp_buf_add(b, "'", 1);
      return;
    }
    case LUA_TTABLE: {
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      if (n > 0) {
        rp_buf_add(b, "[", 1);
        for (lua_Integer i = 1; i <= n; i++) {
          if (i > 1) rp_buf_printf(b, "%s", ", ");
          lua_rawgeti(L, idx, i);
          yaml_value(L, -1, b, depth + 1);
          lua_pop(L, 1);
        }
        rp_buf_add(b, "]", 1);
        return;
      }
      rp_buf_add(b, "{", 1);
      int first = 1;
      for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (!first) rp_buf_printf(b, "%s", ", ");
        first = 0;
        lua_pushvalue(L, -2);
        yaml_value(L, -1, b, depth + 1);
        lua_pop(L, 1);
        rp_buf_printf(b, "%s", ": ");
        yaml_value(L, -1, b, depth + 1);
      }
      rp_buf_add(b, "}", 1);
      return;
    }
    default:
      luaL_error(L, "config: cannot pass a %s", luaL_typename(L, idx));
  }
}

static int cmpstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Flattens the map at idx into "prefix.key=value" strings (maps nest, lists
 * and scalars are values), appended to j->args. */
static void flatten(lua_State *L, int idx, const char *prefix, rp_sched_job *j, int depth) {
  idx = lua_absindex(L, idx);
  if (depth > 16) luaL_error(L, "job '%s': config nests too deep", j->name);
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "job '%s': config keys must be names", j->name);
    char key[1024];
    snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", lua_tostring(L, -2));
    if (lua_istable(L, -1) && lua_rawlen(L, -1) == 0 && (lua_pushnil(L), lua_next(L, -2))) {
      lua_pop(L, 2);
      flatten(L, -1, key, j, depth + 1);
      continue;
    }
    char **args = rp_realloc(j->args, sizeof(char *) * (size_t)(j->nargs + 1));
    if (!args) luaL_error(L, "not enough memory");
    j->args = args;
    /* the text is the job's while it is built: an error frees it with the job */
    rp_buf *b = &j->pending;
    rp_buf_printf(b, "%s=", key);
    yaml_value(L, -1, b, 0);
    if (b->failed) luaL_error(L, "not enough memory");
    j->args[j->nargs++] = b->data;
    memset(b, 0, sizeof *b);
  }
}

static void read_job(lua_State *L, int idx, schedule *s, rp_sched_job *j, int pos) {
  char where[160];
  snprintf(where, sizeof where, "%s: jobs[%d]", s->path, pos);
  if (!lua_istable(L, idx)) luaL_error(L, "%s: a job must be a map of keys", where);
  check_keys(L, idx, rp_sched_job_keys, where);
  const char *name = textval(L, idx, rp_sched_job_keys, "name", where);
  if (!name) luaL_error(L, "%s: 'name' is required", where);
  rp_err err;
  if (rp_registry_check_name("job", name, &err)) luaL_error(L, "%s: %s", where, err.msg);
  j->name = xstrdup(L, name);
  snprintf(where, sizeof where, "%s: job '%s'", s->path, name);
  const char *pipe = textval(L, idx, rp_sched_job_keys, "pipeline", where);
  if (!pipe)
    luaL_error(L, "%s: 'pipeline' is required (a name in pipelines/, or a .lua or .yaml)", where);
  j->pipeline = xstrdup(L, pipe);
  if (strchr(pipe, '/') || rp_has_suffix(pipe, ".lua") || rp_has_suffix(pipe, ".yaml") ||
      rp_has_suffix(pipe, ".yml")) {
    j->target = relative(L, s, pipe);
  } else {
    char buf[PATH_MAX * 2];
    snprintf(buf, sizeof buf, "%s/%s.lua", rp_host_pipelinedir(), pipe);
    j->target = xstrdup(L, buf);
  }
  if (access(j->target, R_OK) != 0)
    luaL_error(L, "%s: pipeline '%s' not found (looked for %s)", where, pipe, j->target);
  const char *every = textval(L, idx, rp_sched_job_keys, "every", where);
  const char *cron = textval(L, idx, rp_sched_job_keys, "cron", where);
  if (!every == !cron)
    luaL_error(L, "%s: give exactly one of 'every' (7d) and 'cron' (\"0 3 * * 1\")", where);
  if (every) {
    j->every = duration(L, idx, rp_sched_job_keys, "every", where);
    if (j->every < 60) luaL_error(L, "%s: 'every' must be at least 1m, got '%s'", where, every);
    const char *start = textval(L, idx, rp_sched_job_keys, "start", where);
    if (rp_registry_parse_time(start, &j->start, &err))
      luaL_error(L, "%s: 'start': %s", where, err.msg);
  } else {
    if (lua_getfield(L, idx, "start") != LUA_TNIL)
      luaL_error(L, "%s: 'start' goes with 'every', not with 'cron'", where);
    lua_pop(L, 1);
    j->is_cron = 1;
    j->cron_text = xstrdup(L, cron);
    if (rp_cron_parse(cron, &j->cron, &err)) luaL_error(L, "%s: %s", where, err.msg);
  }
  j->timeout = duration(L, idx, rp_sched_job_keys, "timeout", where);
  const char *mem = textval(L, idx, rp_sched_job_keys, "memory", where);
  if (rp_sched_parse_size(mem, &j->memory, &err)) luaL_error(L, "%s: 'memory': %s", where, err.msg);
  j->backoff = duration(L, idx, rp_sched_job_keys, "backoff", where);
  const char *retries = textval(L, idx, rp_sched_job_keys, "retries", where);
  char *end;
  long r = strtol(retries, &end, 10);
  if (*end || r < 0 || r > 100)
    luaL_error(L, "%s: 'retries' must be an integer in 0..100, got '%s'", where, retries);
  j->retries = (int)r;
  const char *ae = textval(L, idx, rp_sched_job_keys, "alert_exit", where);
  long a = strtol(ae, &end, 10);
  if (*end || a < 0 || a > 255)
    luaL_error(L, "%s: 'alert_exit' must be an exit status in 0..255, got '%s'", where, ae);
  j->alert_exit = (int)a;
  int t = lua_getfield(L, idx, "config");
  if (t == LUA_TTABLE) {
    flatten(L, -1, "", j, 0);
    if (j->nargs > 1) qsort(j->args, (size_t)j->nargs, sizeof *j->args, cmpstr);
  } else if (t != LUA_TNIL) {
    luaL_error(L, "%s: 'config' must be a map of overrides", where);
  }
  lua_pop(L, 1);
}

/* lua_pcall'd: 1 = the schedule (light userdata) */
static int read_schedule(lua_State *L) {
  schedule *s = lua_touserdata(L, 1);
  rp_config_pushfile(L, s->path);
  int top = lua_gettop(L);
  check_keys(L, top, rp_sched_top_keys, s->path);
  const char *reg = textval(L, top, rp_sched_top_keys, "registry", s->path);
  s->registry = relative(L, s, reg);
  s->stop_grace = duration(L, top, rp_sched_top_keys, "stop_grace", s->path);
  s->poll = duration(L, top, rp_sched_top_keys, "poll", s->path);
  if (s->poll < 0.01) s->poll = 0.01;
  if (lua_getfield(L, top, "jobs") != LUA_TTABLE || lua_rawlen(L, -1) == 0)
    luaL_error(L, "%s: 'jobs' must be a non-empty list of jobs", s->path);
  int n = (int)lua_rawlen(L, -1);
  s->jobs = rp_calloc((size_t)n, sizeof *s->jobs);
  if (!s->jobs) luaL_error(L, "not enough memory");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    s->njobs = i;
    read_job(L, lua_gettop(L), s, &s->jobs[i - 1], i);
    for (int k = 0; k < i - 1; k++)
      if (strcmp(s->jobs[k].name, s->jobs[i - 1].name) == 0)
        luaL_error(L, "%s: two jobs are named '%s'", s->path, s->jobs[k].name);
    lua_pop(L, 1);
  }
  return 0;
}

static int load_schedule(lua_State *L, const char *path, schedule *s) {
  memset(s, 0, sizeof *s);
  s->path = rp_strdup(path);
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    snprintf(dir, sizeof dir, ".");
  s->dir = rp_strdup(dir);
  if (!s->path || !s->dir) {
    fprintf(stderr, "recpipe schedule: not enough memory\n");
    schedule_free(s);
    return 1;
  }
  lua_pushcfunction(L, read_schedule);
  lua_pushlightuserdata(L, s);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "recpipe schedule: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    schedule_free(s);
    return 1;
  }
  return 0;
}

/* ---- the clock --------------------------------------------------------------------------- */
static double clock_base = (double)NAN, mono0;

static double wall(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static double now(void) {
  if (isnan(clock_base)) return wall();
  double t = clock_base + (rp_now() - mono0);
  char buf[32];
  snprintf(buf, sizeof buf, "%.0f", floor(t));
  setenv("RECPIPE_NOW", buf, 1); /* the registry and the children see the same clock */
  return t;
}

static void iso(double t, char *buf, size_t n) {
  if (isnan(t)) {
    snprintf(buf, n, "-");
    return;
  }
  rp_format_iso8601((int64_t)floor(t), buf, n);
}

/* ---- signals ------------------------------------------------------------------------------ */
static int wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  int e = errno;
  if (sig == SIGTERM || sig == SIGINT) stop_requested = 1;
  if (wake_pipe[1] >= 0) {
    ssize_t k = write(wake_pipe[1], "x", 1);
    (void)k;
  }
  errno = e;
}

static int setup_signals(void) {
  if (pipe(wake_pipe) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
    fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

/* ---- running jobs ---------------------------------------------------------------------------- */
typedef struct active {
  int on;
  rp_child child;
  int64_t run;
  double slot;
  char log[PATH_MAX];
} active;

typedef struct runner {
  schedule *s;
  rp_registry *reg;
  active *act; /* one per job */
  int failures;
  char regpath[PATH_MAX * 2];
} runner;

static void store_tail(runner *r, int64_t run, const char *log, int failed) {
  FILE *f = fopen(log, "re");
  if (!f) return;
  char buf[4097];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  long from = size > 4096 ? size - 4096 : 0;
  fseek(f, from, SEEK_SET);
  size_t k = fread(buf, 1, 4096, f);
  fclose(f);
  buf[k] = 0;
  if (k == 0) return;
  char *text = buf;
  if (from > 0) { /* start at a line */
    char *nl = strchr(buf, '\n');
    if (nl) text = nl + 1;
  }
  rp_err err;
  rp_registry_run_log(r->reg, run, failed ? "error" : "info", text, &err);
}

static int start_job(runner *r, int ji, double slot) {
  rp_sched_job *j = &r->s->jobs[ji];
  active *a = &r->act[ji];
  rp_err err;
  /* the config as the child will see it: the overrides, as text */
  char config[8192];
  size_t n = (size_t)snprintf(config, sizeof config, "%s", j->target);
  for (int i = 0; i < j->nargs && n < sizeof config; i++)
    n += (size_t)snprintf(config + n, sizeof config - n, " %s", j->args[i]);
  int64_t run;
  int busy;
  if (rp_registry_job_start(r->reg, j->name, slot, j->pipeline, config, &run, &busy, &err)) {
    rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
    return -1;
  }
  if (busy) {
    rp_log(RP_LOG_INFO, "job %s: a run is already running (another scheduler?): skipped", j->name);
    return 0;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/logs", rp_registry_dir(r->reg));
  mkdir(dir, 0755);
  if (snprintf(a->log, sizeof a->log, "%.3900s/%.64s-%lld.log", dir, j->name, (long long)run) < 0)
    a->log[0] = 0;
  char **argv = rp_calloc((size_t)j->nargs + 4, sizeof *argv);
  if (!argv) {
    rp_registry_job_finish(r->reg, j->name, run, 0, "not enough memory", j->retries, j->backoff,
                           &err);
    return -1;
  }
  argv[0] = (char *)rp_host_exe();
  static char run_word[] = "run";
  argv[1] = run_word;
  argv[2] = j->target;
  for (int i = 0; i < j->nargs; i++) argv[3 + i] = j->args[i];
  char e_reg[PATH_MAX * 2 + 32], e_run[64], e_job[128];
  snprintf(e_reg, sizeof e_reg, "RECPIPE_REGISTRY=%s", r->regpath);
  snprintf(e_run, sizeof e_run, "RECPIPE_RUN=%lld", (long long)run);
  snprintf(e_job, sizeof e_job, "RECPIPE_JOB=%s", j->name);
  char *env[] = {e_reg, e_run, e_job, NULL};
  int rc = rp_child_spawn(argv, env, a->log, &a->child, &err);
  rp_free(argv);
  if (rc) {
    rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
    rp_registry_job_finish(r->reg, j->name, run, 0, err.msg, j->retries, j->backoff, &err);
    r->failures++;
    return -1;
  }
  if (rp_registry_run_owner(r->reg, run, a->child.pid, &err))
    rp_log(RP_LOG_WARN, "job %s: %s", j->name, err.msg);
  a->child.deadline = j->timeout > 0 ? a->child.started + j->timeout : 0;
  a->child.memory = j->memory;
  a->on = 1;
  a->run = run;
  a->slot = slot;
  char t[40];
  iso(slot, t, sizeof t);
  rp_log(RP_LOG_INFO, "job %s: run %lld started for the slot of %s (pid %d, log %s)", j->name,
         (long long)run, t, a->child.pid, a->log);
  return 1;
}

static void finish_job(runner *r, int ji, int ws) {
  rp_sched_job *j = &r->s->jobs[ji];
  active *a = &r->act[ji];
  char how[512];
  rp_child_describe(&a->child, ws, how, sizeof how);
  int alerted = j->alert_exit > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == j->alert_exit;
  int ok = WIFEXITED(ws) && (WEXITSTATUS(ws) == 0 || alerted) && !a->child.killed;
  if (alerted) snprintf(how, sizeof how, "exit status %d: ran and raised an alert", j->alert_exit);
  rp_err err;
  now();
  store_tail(r, a->run, a->log, !ok);
  if (a->child.killed == RP_KILL_STOP) {
    /* stopped, not failed: the slot runs again on the next start */
    if (rp_registry_run_end(r->reg, a->run, "failed", how, 1, &err))
      rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
  } else if (rp_registry_job_finish(r->reg, j->name, a->run, ok, ok && !alerted ? NULL : how,
                                    j->retries, j->backoff, &err)) {
    rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
  }
  if (!ok) r->failures++;
  rp_log(ok ? RP_LOG_INFO : RP_LOG_WARN, "job %s: run %lld %s (%s, %.1f s)", j->name,
         (long long)a->run, ok ? "ok" : "failed", how, rp_now() - a->child.started);
  a->on = 0;
}

static void reap(runner *r) {
  for (;;) {
    int ws;
    pid_t pid = waitpid(-1, &ws, WNOHANG);
    if (pid <= 0) return;
    for (int i = 0; i < r->s->njobs; i++)
      if (r->act[i].on && r->act[i].child.pid == pid) finish_job(r, i, ws);
  }
}

static int nactive(const runner *r) {
  int n = 0;
  for (int i = 0; i < r->s->njobs; i++) n += r->act[i].on;
  return n;
}

/* One pass over the jobs: start what is due; returns the earliest time to
 * look again. */
static double scan(runner *r, double t) {
  double next = (double)NAN;
  for (int i = 0; i < r->s->njobs; i++) {
    if (r->act[i].on) continue;
    rp_sched_job *j = &r->s->jobs[i];
    rp_job_state st;
    rp_err err;
    if (rp_registry_job_state(r->reg, j->name, &st, &err)) {
      rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
      continue;
    }
    rp_sched_due d;
    rp_sched_due_at(j, &st, t, &d);
    if (d.what == RP_DUE_GIVE_UP) {
      char msg[128];
      snprintf(msg, sizeof msg, "gave up the slot after %d attempts", st.attempts);
      if (rp_registry_job_finish(r->reg, j->name, st.last_run, 0, msg, j->retries, j->backoff,
                                 &err))
        rp_log(RP_LOG_ERROR, "job %s: %s", j->name, err.msg);
      rp_log(RP_LOG_WARN, "job %s: %s", j->name, msg);
      d.next = rp_sched_slot_after(j, t);
    } else if (d.what == RP_DUE_RUN) {
      start_job(r, i, d.slot);
    } else if (st.running) {
      rp_log(RP_LOG_INFO, "job %s: a run is already running (another scheduler?): skipped",
             j->name);
    }
    if (!isnan(d.next) && (isnan(next) || d.next < next)) next = d.next;
  }
  return next;
}

static void drain_pipe(void) {
  char buf[64];
  while (read(wake_pipe[0], buf, sizeof buf) > 0) {
  }
}

static int run_loop(runner *r, int once) {
  int scanned = 0, stopping = 0;
  double stop_deadline = 0;
  for (;;) {
    double t = now();
    reap(r);
    double mono = rp_now();
    for (int i = 0; i < r->s->njobs; i++)
      if (r->act[i].on) rp_child_check(&r->act[i].child, mono);
    if (stop_requested && !stopping) {
      stopping = 1;
      stop_deadline = mono + r->s->stop_grace;
      rp_log(RP_LOG_INFO, "stopping: %d run(s) get %.0f s to end", nactive(r), r->s->stop_grace);
      for (int i = 0; i < r->s->njobs; i++)
        if (r->act[i].on) {
          r->act[i].child.killed = RP_KILL_STOP;
          rp_child_signal(&r->act[i].child, SIGTERM);
        }
    }
    if (stopping) {
      if (!nactive(r)) return 0;
      if (mono >= stop_deadline)
        for (int i = 0; i < r->s->njobs; i++)
          if (r->act[i].on) rp_child_signal(&r->act[i].child, SIGKILL);
    }
    double next = (double)NAN;
    if (!stopping && !(once && scanned)) {
      next = scan(r, t);
      scanned = 1;
    }
    if (once && scanned && !nactive(r)) return r->failures ? 1 : 0;
    double wait = nactive(r) ? r->s->poll : 60;
    if (!nactive(r) && !isnan(next)) wait = next - t < wait ? next - t : wait;
    if (stopping) wait = 0.1;
    if (wait < 0.01) wait = 0.01;
    struct pollfd p = {wake_pipe[0], POLLIN, 0};
    poll(&p, 1, (int)(wait * 1000));
    drain_pipe();
  }
}

/* ---- --list -------------------------------------------------------------------------------- */
static void list_jobs(runner *r) {
  printf("%-16s %-24s %-44s %s\n", "job", "schedule", "last run", "next");
  double t = now();
  for (int i = 0; i < r->s->njobs; i++) {
    rp_sched_job *j = &r->s->jobs[i];
    char sched[64], last[96], next[64], a[40];
    if (j->is_cron)
      snprintf(sched, sizeof sched, "cron \"%s\"", j->cron_text);
    else {
      char d[32];
      rp_sched_format_duration(j->every, d, sizeof d);
      snprintf(sched, sizeof sched, "every %s", d);
    }
    rp_job_state st;
    rp_err err;
    if (rp_registry_job_state(r->reg, j->name, &st, &err)) {
      printf("%-16s %s\n", j->name, err.msg);
      continue;
    }
    if (st.last_run) {
      iso(st.last_end, a, sizeof a);
      snprintf(last, sizeof last, "#%lld %s %s", (long long)st.last_run, st.last_status, a);
    } else {
      snprintf(last, sizeof last, "never");
    }
    rp_sched_due d;
    rp_sched_due_at(j, &st, t, &d);
    if (d.what != RP_DUE_NO) {
      snprintf(next, sizeof next, "due now (%s)", d.why);
    } else if (st.running) {
      snprintf(next, sizeof next, "running");
    } else {
      iso(d.next, a, sizeof a);
      snprintf(next, sizeof next, "%s%s", a,
               strcmp(d.why, "waiting to retry") == 0 ? " (retry)" : "");
    }
    printf("%-16s %-24s %-44s %s\n", j->name, sched, last, next);
  }
}

/* ---- entry ------------------------------------------------------------------------------------
 */
static const char *usage =
    "usage: recpipe schedule [--once] [--list] [--now=TIME] SCHEDULE.yaml\n"
    "\n"
    "Runs the schedule's jobs when due, each as `recpipe run PIPELINE key=value...`\n"
    "in a child process with its wall-time and memory limits; state in the registry.\n"
    "  --once        run what is due now, wait for it, exit (1 if a run failed)\n"
    "  --list        show each job, its last run and when it runs next\n"
    "  --now=TIME    start the clock at TIME (Unix seconds or ISO 8601; also RECPIPE_NOW)\n"
    "Schedule keys: registry, jobs, stop_grace, poll; job keys: name, pipeline,\n"
    "every | cron, start, config, timeout, memory, retries, backoff, alert_exit\n"
    "(README: Operations).\n";

int rp_schedule_main(int argc, char **argv, int at) {
  int once = 0, list = 0;
  const char *path = NULL, *nowtext = getenv("RECPIPE_NOW");
  for (int i = at; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--once") == 0)
      once = 1;
    else if (strcmp(a, "--list") == 0)
      list = 1;
    else if (strncmp(a, "--now=", 6) == 0)
      nowtext = a + 6;
    else if (strcmp(a, "--now") == 0 && i + 1 < argc)
      nowtext = argv[++i];
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
      return fputs(usage, stdout), 0;
    else if (a[0] == '-' || path) {
      fprintf(stderr, "recpipe schedule: unexpected argument '%s'\n%s", a, usage);
      return 1;
    } else
      path = a;
  }
  if (!path) {
    fprintf(stderr, "recpipe schedule: which schedule? \n%s", usage);
    return 1;
  }
  rp_err err;
  if (nowtext && *nowtext) {
    if (rp_registry_parse_time(nowtext, &clock_base, &err)) {
      fprintf(stderr, "recpipe schedule: --now: %s\n", err.msg);
      return 1;
    }
    mono0 = rp_now();
  }
  rp_host_opts ho = {0, rp_log_level()};
  lua_State *L = rp_host_new(&ho, argv[0]);
  if (!L) return 1;
  schedule s;
  int rc = load_schedule(L, path, &s);
  lua_close(L);
  if (rc) return 1;
  now();
  runner r = {0};
  r.s = &s;
  if (rp_registry_open(s.registry, NULL, &r.reg, &err)) {
    fprintf(stderr, "recpipe schedule: %s\n", err.msg);
    schedule_free(&s);
    return 1;
  }
  const char *base = strrchr(s.registry, '/');
  snprintf(r.regpath, sizeof r.regpath, "%s/%s", rp_registry_dir(r.reg),
           base ? base + 1 : s.registry);
  r.act = rp_calloc((size_t)s.njobs, sizeof *r.act);
  if (!r.act || setup_signals() != 0) {
    fprintf(stderr, "recpipe schedule: cannot set up (%s)\n", strerror(errno));
    rc = 1;
  } else if (list) {
    list_jobs(&r);
  } else {
    rc = run_loop(&r, once);
  }
  rp_free(r.act);
  rp_registry_close(r.reg);
  schedule_free(&s);
  return rc;
}
