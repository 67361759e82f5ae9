/*
 * serve.c -- `recpipe serve SCRIPT.lua|CONFIG.yaml [key=value...]`: load
 * the first generation, open the logs, listen, then wait in the main
 * thread for signals: SIGHUP (or POST /v1/admin/reload, which wakes it with
 * SIGUSR1) reloads, SIGTERM / SIGINT drain and stop.
 *
 * Every thread blocks these signals; only the main thread takes them, with
 * sigtimedwait, so no handler runs inside a worker.  Drain: stop accepting
 * connections, let the requests already running finish (at most
 * drain_seconds), stop the HTTP threads, commit and fsync both logs.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "host.h"
#include "objcache.h"
#include "registry.h"
#include "rio.h"
#include "serve.h"

double rp_unix_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void rp_server_request_id(rp_server *s, char *buf) {
  uint64_t n = atomic_fetch_add(&s->id_counter, 1);
  snprintf(buf, 17, "%016llx", (unsigned long long)rp_hash64(s->id_seed + n));
}

static void *json_malloc(size_t n) { return rp_malloc(n); }
static void json_free(void *p) { rp_free(p); }

static int write_port_file(const char *path, int port) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%.1000s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%d\n", port);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

int rp_serve_registry_open(const char *path, struct rp_registry **out, rp_err *err) {
  rp_registry_opts o;
  rp_registry_opts_init(&o);
  o.readonly = 1;
  o.check = 0;
  o.recover = 0;
  o.create = 0;
  return rp_registry_open(path, &o, out, err);
}

static void server_free(rp_server *s) {
  rp_registry_close(s->reg);
  s->reg = NULL;
  rp_gen_free(rp_hazard_peek(&s->gens));
  rp_acache_free(s->cache);
  rp_realtime_free(s->realtime);
  rp_slog_close(s->impressions);
  rp_slog_close(s->events);
  if (s->workers)
    for (int i = 0; i < s->nworkers; i++) {
      rp_arena_free(&s->workers[i].arena);
      rp_jbuf_free(&s->workers[i].out);
      rp_jbuf_free(&s->workers[i].line);
      rp_jbuf_free(&s->workers[i].key);
    }
  if (s->workers)
    for (int i = 0; i < s->nworkers; i++) {
      rp_free(s->workers[i].batch);
      rp_free(s->workers[i].susp);
    }
  rp_free(s->workers);
  rp_hazard_free(&s->gens);
  rp_free(s->wm);
  rp_serve_settings_clear(&s->set);
  rp_objcache_enable(0);
}

/* What the first load decided for the whole process: logs, cache,
 * workers' scratch, limits. */
static int setup(rp_server *s, rp_err *err) {
  s->lim = rp_serve_limits(&s->set);
  const char *env = getenv("RECPIPE_ADMIN_TOKEN");
  snprintf(s->admin_token, sizeof s->admin_token, "%s",
           s->set.admin_token[0] ? s->set.admin_token
           : env                 ? env
                                 : "");
  s->wm = rp_calloc((size_t)s->nworkers + 1, sizeof *s->wm);
  s->workers = rp_calloc((size_t)s->nworkers, sizeof *s->workers);
  if (!s->wm || !s->workers) return rp_enomem(err, "server");
  for (int i = 0; i < s->nworkers; i++) {
    s->workers[i].id = i;
    /* a request's parsed form: bounded by what its body can hold */
    rp_arena_init(&s->workers[i].arena, (size_t)s->set.max_body * 8 + (8u << 20));
  }
  if (!(s->cache = rp_acache_new(&s->set, err)) && strcmp(s->set.cache_capacity, "0") != 0)
    return err->status;
  if (!(s->realtime = rp_realtime_new(err))) return err->status;
  if (s->set.log_dir[0]) {
    if (rp_slog_open(&s->impressions, s->set.log_dir, "impressions",
                     "request_id,timestamp,user_id,item_id,position,score,model_version,reason\n",
                     &s->set, err) ||
        rp_slog_open(&s->events, s->set.log_dir, "events",
                     "user_id,item_id,event,timestamp,request_id\n", &s->set, err))
      return err->status;
    rp_slog *logs[2] = {s->impressions, s->events};
    if (rp_slog_start(logs, 2, s->set.fsync_ms, err)) return err->status;
  }
  /* the live pointer's polls (and a check that the registry opens) */
  if (s->set.registry[0] && rp_serve_registry_open(s->set.registry, &s->reg, err))
    return err->status;
  return RP_OK;
}

/* The main thread's look at the registry (setting live): a live version
 * other than the one serving (and other than one whose load failed) is
 * loaded and swapped in like any reload; a rollback is the same. */
static void poll_live(rp_server *s) {
  static char last_error[sizeof((rp_err *)0)->msg];
  rp_err e = {0, ""};
  int64_t v = 0;
  if (rp_registry_live(s->reg, s->set.live, &v, NULL, &e)) {
    atomic_fetch_add(&s->registry_errors, 1);
    if (strcmp(e.msg, last_error) != 0) /* said once, not every poll */
      rp_log(RP_LOG_WARN, "serve: the registry's live '%s' cannot be read (%s): serving on",
             s->set.live, e.msg);
    memcpy(last_error, e.msg, sizeof last_error);
    return;
  }
  last_error[0] = 0;
  rp_gen *cur = rp_hazard_peek(&s->gens);
  if (!v || v == cur->live_version || v == s->live_failed) return;
  char why[160];
  snprintf(why, sizeof why, "the registry's live %.64s is v%lld, serving v%lld", s->set.live,
           (long long)v, (long long)cur->live_version);
  if (rp_server_reload(s, why, &e)) {
    s->live_failed = v;
  } else {
    s->live_failed = 0;
  }
}

static int fail(rp_server *s, const char *msg) {
  fprintf(stderr, "recpipe: %s\n", msg);
  rp_slog_stop();
  server_free(s);
  return 1;
}

int rp_serve_main(int argc, char **argv, int at, const char *argv0) {
  (void)argv0;
  static rp_server srv; /* one per process: signals are process-wide */
  rp_server *s = &srv;
  memset(s, 0, sizeof *s);
  const char *path = argv[at];
  if (rp_has_suffix(path, ".yaml") || rp_has_suffix(path, ".yml"))
    snprintf(s->config, sizeof s->config, "%s", path);
  else
    snprintf(s->script, sizeof s->script, "%s", path);
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "recpipe: cannot open '%s': %s\n", path, strerror(errno));
    return 1;
  }
  s->argc = argc - at - 1;
  s->argv = argv + at + 1;
  for (int i = 0; i < s->argc; i++)
    if (!strchr(s->argv[i], '=') || s->argv[i][0] == '=') {
      fprintf(stderr,
              "recpipe: bad argument '%s': serve takes key=value settings after the "
              "script or config\n",
              s->argv[i]);
      return 1;
    }
  pthread_mutex_init(&s->reload_lock, NULL);
  pthread_mutex_init(&s->status_lock, NULL);
  pthread_mutex_init(&s->reasons_lock, NULL);
  pthread_mutex_init(&s->wait_lock, NULL);
  s->started_unix = rp_unix_now();
  s->id_seed = rp_hash64((uint64_t)getpid() ^ (uint64_t)(s->started_unix * 1e6));
  s->main_thread = pthread_self();
  /* signals: only this thread takes them, synchronously */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* freed blocks of a retired model go back to the system */
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  cJSON_Hooks hooks = {json_malloc, json_free};
  cJSON_InitHooks(&hooks);
  rp_objcache_enable(1);

  rp_err err = {0, ""};
  rp_serve_settings_defaults(&s->set);
  rp_gen *g = rp_gen_load(s, &s->set, &err);
  if (!g) return fail(s, err.msg);
  if (rp_hazard_init(&s->gens, s->nworkers, &err)) {
    rp_gen_free(g);
    return fail(s, err.msg);
  }
  rp_hazard_swap(&s->gens, g); /* the first: nothing to wait for */
  if (setup(s, &err)) return fail(s, err.msg);
  rp_answer_warm(s, g);
  if (rp_http_start(s, &err)) return fail(s, err.msg);
  if (s->set.port_file[0] && write_port_file(s->set.port_file, s->port) != 0) {
    rp_http_stop(s);
    return fail(s, "cannot write port_file");
  }
  rp_log(RP_LOG_INFO, "serve: listening on http://%s:%d (%d workers, model %s%s%s)", s->set.host,
         s->port, s->nworkers, g->version, s->set.log_dir[0] ? ", logs in " : "", s->set.log_dir);

  /* The main thread: signals and reload requests, and every registry_poll
   * seconds (setting live) a look at the registry's live pointer. */
  int stop = 0;
  double next_poll = rp_now() + s->set.registry_poll;
  while (!stop) {
    double wait = 1.0;
    if (s->set.live[0]) {
      double now = rp_now();
      if (now >= next_poll) {
        poll_live(s);
        next_poll = rp_now() + s->set.registry_poll;
      }
      if (next_poll - rp_now() < wait) wait = next_poll - rp_now();
      if (wait < 0.001) wait = 0.001;
    }
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SIGHUP || sig == SIGUSR1) {
      rp_err e = {0, ""};
      int rc = rp_server_reload(s, sig == SIGHUP ? "SIGHUP" : "POST /v1/admin/reload", &e);
      if (rc == 0) s->live_failed = 0;
      rp_gen *cur = rp_hazard_peek(&s->gens);
      char msg[700];
      if (rc)
        snprintf(msg, sizeof msg, "reload failed, model %.127s keeps serving: %.500s", cur->version,
                 e.msg);
      else
        snprintf(msg, sizeof msg, "%s", cur->version);
      rp_http_reload_done(s, rc == 0, msg);
    } else if (sig == SIGTERM || sig == SIGINT) {
      stop = 1;
    }
  }
  rp_log(RP_LOG_INFO, "serve: draining (%lld requests running)",
         (long long)atomic_load(&s->in_flight));
  atomic_store(&s->draining, 1); /* the workers stop accepting connections */
  double until = rp_now() + s->set.drain_seconds;
  while (atomic_load(&s->in_flight) > 0 && rp_now() < until) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  rp_http_stop(s);
  rp_slog_stop();
  rp_slog_stats st[2];
  rp_slog_stats_get(s->impressions, &st[0]);
  rp_slog_stats_get(s->events, &st[1]);
  server_free(s);
  rp_log(RP_LOG_INFO, "serve: stopped (%llu impressions and %llu events logged)",
         (unsigned long long)st[0].lines, (unsigned long long)st[1].lines);
  return 0;
}
