/*
 * serve.h -- `recpipe serve`: the parts of the server and how they meet.
 *
 *   settings.c  the settings: every key named, defaulted and range-checked
 *               once (a descriptor table), read from the serve script's
 *               settings, the YAML config and key=value overrides
 *   request.c   request bodies and parameters into C structs (request.h)
 *   model.c     generations: a recommender built by the serve script in
 *               one Lua state per worker, swapped in atomically, retired
 *               when no worker uses it any more
 *   answer.c    answering one request: the C path (an rp_recommender
 *               with `one`) or the Lua path (chains, Lua objects, hooks),
 *               the answer cache, JSON out
 *   http.c      libmicrohttpd: the daemon, routing, bodies, limits, errors
 *   logs.c      the impression and feedback-event logs (group commit,
 *               daily files)
 *   metrics.c   counters and histograms, Prometheus text exposition
 *   serve.c     the command: load, listen, signals, reload, drain
 *
 * Threads.  libmicrohttpd runs W worker threads (its internal thread pool,
 * one epoll loop each); worker w answers every request of its connections
 * with its own Lua state of the current generation, so Lua runs on every
 * core at once without a process-wide lock.  Heavy C objects (models,
 * matrices) are loaded once per process through the object cache
 * (runtime/core/objcache.h) and shared read-only by the W states.  The
 * main thread waits for signals and reload requests; one more thread
 * commits the logs.
 */
#ifndef RP_SERVE_H
#define RP_SERVE_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hazard.h"
#include "jbuf.h"
#include "recommender.h"
#include "request.h"
#include "rp.h"

/* ---- settings (settings.c) -------------------------------------------------- */
enum { RP_ROTATE_DAILY = 0, RP_ROTATE_NONE };

typedef struct rp_serve_settings {
  /* the process: fixed at start (a reload that changes them is warned about) */
  char host[256];
  int port;
  char port_file[1024];
  int workers;
  char admin_token[256];
  int64_t max_body;
  int max_header, max_k, max_list, max_batch, max_id;
  int timeout, connection_limit;
  double drain_seconds;
  char log_dir[1024];
  int fsync_ms, rotate;
  int64_t log_backlog;
  char *event_types[64];
  int nevent_types;
  char cache_capacity[32]; /* entries ("100000") or bytes ("64MB"); "0": no cache */
  double cache_ttl;
  char registry[1024], live[65]; /* the registry's live model (process: from the first load) */
  double registry_poll;
  /* the model: read again at every reload */
  int k, exclude_seen;
  char version[128], reason[64];
  int realtime;                   /* fold known users' events into their factors */
  char realtime_weights[256];     /* "type=weight,..." for realtime */
  double realtime_session_weight; /* realtime: score added per event to the user's items */
} rp_serve_settings;

void rp_serve_settings_defaults(rp_serve_settings *s);
void rp_serve_settings_clear(rp_serve_settings *s); /* frees the event type names */
/* Checks that every key of the table at idx is a setting (source names the
 * table in the message: "serve.yaml", "the serve script's settings");
 * lua_only: functions and objects are allowed (seen, similar, on_request,
 * filter); config_only: script and model are allowed.  Raises a Lua error
 * naming the key and listing the known ones. */
void rp_serve_settings_check(lua_State *L, int idx, const char *source, int from_script);
/* Reads every setting present in the table at idx into s, checking types
 * and ranges (raises "setting 'port' must be an integer in 0..65535, got
 * 70000"). */
void rp_serve_settings_read(lua_State *L, int idx, rp_serve_settings *s);
/* The limits requests are checked against. */
rp_slimits rp_serve_limits(const rp_serve_settings *s);
/* Prints the settings table of the README (help text). */
const char *rp_serve_settings_help(void);

/* ---- metrics (metrics.c) -------------------------------------------------- */
enum {
  EP_RECOMMEND = 0,
  EP_SIMILAR,
  EP_EVENTS,
  EP_HEALTHZ,
  EP_READYZ,
  EP_METRICS,
  EP_RELOAD,
  EP_DASHBOARD,
  EP_OTHER,
  EP_N
};
#define RP_NSTATUS 13
#define RP_NBUCKETS 16
#define RP_NREASONS 32
#define RP_NEVTYPES 64

typedef struct rp_wmetrics { /* one worker's counters (summed when scraped) */
  _Alignas(64) uint64_t requests[EP_N][RP_NSTATUS];
  uint64_t latency[EP_N][RP_NBUCKETS + 1];
  uint64_t latency_sum_us[EP_N];
  uint64_t reasons[RP_NREASONS];
  uint64_t events[RP_NEVTYPES];
  uint64_t cache_hits, cache_misses;
} rp_wmetrics;

/* Counters have one writer (their worker): a plain add, read atomically by
 * whoever renders /metrics. */
static inline void rp_count(uint64_t *p, uint64_t v) {
  __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* ---- the answer cache (answer.c) ------------------------------------------- */
typedef struct rp_acache rp_acache;

/* ---- logs (logs.c) ------------------------------------------------------------ */
typedef struct rp_slog rp_slog;
/* Opens (creating dir if needed) the log files prefix-YYYY-MM-DD.csv (or
 * prefix.csv without rotation) with header as their first line; a torn
 * last line left by a crash is cut off (and reported).  Lines appended are
 * written and fsync'ed by the committer thread at most every fsync_ms. */
int rp_slog_open(rp_slog **out, const char *dir, const char *prefix, const char *header,
                 const rp_serve_settings *s, rp_err *err);
/* Appends complete lines (text ends in '\n').  Returns 0, or -1 when the
 * backlog is over its limit (the lines are dropped and counted). */
int rp_slog_append(rp_slog *l, const char *text, size_t len);
/* Writes and fsyncs what is pending now (the committer does it on its own;
 * shutdown calls it last). */
int rp_slog_commit(rp_slog *l);
void rp_slog_close(rp_slog *l); /* commits, closes, frees (accepts NULL) */
/* Starts / stops the committer thread over these logs. */
int rp_slog_start(rp_slog **logs, int n, int fsync_ms, rp_err *err);
void rp_slog_stop(void);
typedef struct rp_slog_stats {
  uint64_t lines, committed, bytes, dropped, commits, write_errors, torn_repaired;
  int64_t backlog;
  double last_commit_seconds;
} rp_slog_stats;
void rp_slog_stats_get(rp_slog *l, rp_slog_stats *st);

/* ---- generations (model.c) ----------------------------------------------------- */
typedef struct rp_rule {     /* a chain rule whose recommender is scored in C */
  const rp_recommender *rec; /* NULL: a Lua object, answered through recommend */
  int hist;                  /* it takes history and attributes (hybrids) */
  char label[64];            /* its reason */
} rp_rule;

typedef struct rp_wstate { /* one worker's Lua state of one generation */
  lua_State *L;
  int ref_rec, ref_on_request, ref_filter, ref_similar, ref_opts;
  const rp_recommender *rec; /* the C path (rec->one), else NULL */
  const rp_csr *seen;        /* seen items (borrowed from a box in L), or NULL */
  void *similar_als;         /* an rp_als_model for /v1/similar's C path, or NULL */
  rp_rule *rules;            /* a chain's rules (nrules > 0): Lua picks, C scores */
  int nrules;
  const rp_csr *train; /* the chain's train matrix (its default exclusion) */
} rp_wstate;

typedef struct rp_gen {
  uint64_t serial;      /* 1, 2, ... in load order */
  int64_t live_version; /* the registry version it serves (setting live), else 0 */
  char version[128];    /* model_version of every answer */
  char reason[64];      /* reason of C-path answers */
  double loaded_unix, load_seconds;
  int k, exclude_seen;
  int realtime;                   /* setting realtime: events refit users (realtime.c) */
  char realtime_weights[256];     /* its event weights */
  double realtime_session_weight; /* its session boost (rp_als_set_session) */
  int nworkers;
  rp_wstate w[];
} rp_gen;

/* Real-time signals (issue 13, realtime.c): the events since a generation
 * loaded of the users its ALS models know, kept per user; each call folds
 * the batch's users' events into their factors (partial_fit_users of the
 * seen row plus the weighted events) and sets their session boosts (the
 * items of the events, realtime_session_weight each: rp_als_set_session)
 * before the POST is answered. */
typedef struct rp_realtime rp_realtime;
rp_realtime *rp_realtime_new(rp_err *err);
void rp_realtime_free(rp_realtime *rt); /* accepts NULL */
void rp_realtime_events(rp_realtime *rt, const rp_gen *g, const char *weights, const rp_sevent *ev,
                        int n);

/* ---- the server ---------------------------------------------------------------- */
typedef struct rp_server {
  rp_serve_settings set; /* process settings: from the first load */
  rp_slimits lim;
  int nworkers;
  /* how to build a generation: a script (with the config table passed to
   * it) or a model file named by the YAML config */
  char script[4096]; /* "" when the YAML names a model */
  char config[4096]; /* the YAML file, "" when started from a script */
  int argc;          /* key=value overrides */
  char **argv;
  const char *argv0;
  /* the current generation and the one each worker is using (hazard
   * pointers, runtime/core/hazard.h: a retired generation is freed once no
   * worker's slot holds it) */
  rp_hazard gens; /* one slot per worker */
  uint64_t next_serial;
  pthread_mutex_t reload_lock; /* one reload at a time */
  /* reload results for /metrics */
  _Atomic uint64_t reloads_ok, reloads_failed;
  /* the registry's live pointer (setting live; the main thread polls it) */
  struct rp_registry *reg;
  int64_t live_failed; /* a live version whose load failed: not tried again until it moves */
  _Atomic uint64_t registry_errors;
  pthread_mutex_t status_lock;
  char last_error[512];
  double last_error_unix;
  /* logs, cache, metrics */
  rp_slog *impressions, *events;
  rp_acache *cache;
  rp_realtime *realtime;
  rp_wmetrics *wm; /* nworkers + 1 (the last for threads that are not workers) */
  char reasons[RP_NREASONS][64];
  _Atomic int nreasons;
  pthread_mutex_t reasons_lock;
  _Atomic int64_t in_flight;
  _Atomic int draining;
  double started_unix;
  uint64_t id_seed;
  _Atomic uint64_t id_counter;
  _Atomic uint64_t feedback_epoch; /* bumped by every POST /v1/events */
  int port;                        /* bound */
  char admin_token[256];           /* the setting, else $RECPIPE_ADMIN_TOKEN */
  int loopback;                    /* bound to a loopback address */
  struct rp_worker *workers;       /* nworkers, handed to the pool's threads */
  pthread_t main_thread;           /* woken (SIGUSR1) when a reload is asked for */
  pthread_mutex_t wait_lock;
  struct hconn *reload_waiting; /* POST /v1/admin/reload connections waiting for the next reload */
} rp_server;

/* Builds a generation (runs the script in nworkers new states).  On
 * failure returns NULL with err set; nothing of it remains. */
rp_gen *rp_gen_load(rp_server *s, rp_serve_settings *first, rp_err *err);
void rp_gen_free(rp_gen *g);
/* Installs g as current and frees the previous one once no worker uses
 * it (waits for the requests running on it). */
void rp_gen_swap(rp_server *s, rp_gen *g);
/* The generation worker w answers with: the current one, or the one its
 * requests already hold (a batch in progress keeps one generation until
 * its answers are sent).  Only worker w's thread calls these for w; every
 * acquire has its release. */
rp_gen *rp_gen_acquire(rp_server *s, int w);
void rp_gen_release(rp_server *s, int w);
/* Loads a new generation and swaps it in; on failure the old one keeps
 * serving and the reason is logged and kept for /metrics.  Returns RP_OK
 * or the failure's status with err set. */
int rp_server_reload(rp_server *s, const char *why, rp_err *err);

/* ---- answers (answer.c) ------------------------------------------------------------- */
/* A recommend request waiting for its worker's batch (answer.c). */
typedef struct rp_pending rp_pending;

typedef struct rp_worker { /* one worker: its thread, daemon and scratch */
  int id;
  struct rp_server *srv;
  struct MHD_Daemon *daemon; /* this worker's libmicrohttpd (external epoll loop) */
  pthread_t thread;
  _Atomic int stop;
  int quiesced, started;
  rp_arena arena;
  rp_jbuf out, line;
  rp_jbuf key;
  int pins; /* rp_gen_acquire nesting (requests in a batch hold their generation) */
  rp_gen *held;
  rp_pending **batch; /* requests waiting for this cycle's batch */
  int nbatch, batch_cap;
  void **susp; /* their connections (http.c), suspended until it has run */
  int nsusp, susp_cap;
} rp_worker;

typedef struct rp_reply {
  int status;
  const char *body; /* JSON (the worker's out buffer) */
  size_t len;
} rp_reply;

/* GET|POST /v1/recommend with the parsed request q.  With pending not
 * NULL, a plain request (a known user of a C recommender, no lists, not in
 * the cache) may be put into the worker's batch instead: then r->status is
 * 0, *pending is set, and the caller suspends the connection until
 * rp_answer_batch has run, then calls rp_answer_pending for the answer. */
void rp_answer_recommend(rp_server *s, rp_worker *w, const rp_sreq *q, const char *rid, rp_reply *r,
                         rp_pending **pending);
/* Scores the worker's batch (one rec->recommend call per exclusion
 * matrix: the model's batch kernel reads the items once for several
 * users).  The requests stay in w->batch for the caller to resume. */
void rp_answer_batch(rp_server *s, rp_worker *w);
/* The answer of a pending request whose batch has run; frees p. */
void rp_answer_pending(rp_server *s, rp_worker *w, rp_pending *p, const char *rid, rp_reply *r);
/* Frees a pending request that will never be answered (connection gone). */
void rp_pending_free(rp_server *s, rp_worker *w, rp_pending *p);
/* GET /v1/similar?item= */
void rp_answer_similar(rp_server *s, rp_worker *w, const rp_sreq *q, const char *rid, rp_reply *r);
/* POST /v1/events with events ev[0..n) */
void rp_answer_events(rp_server *s, rp_worker *w, const rp_sevent *ev, int n, const char *rid,
                      rp_reply *r);
/* A JSON error answer. */
void rp_answer_error(rp_worker *w, const rp_serr *e, const char *rid, rp_reply *r);
/* Warms the cache of a new generation from its settings' warm list (run by
 * the reload thread before the swap, in worker 0's state). */
void rp_answer_warm(rp_server *s, rp_gen *g);

rp_acache *rp_acache_new(const rp_serve_settings *set, rp_err *err);
void rp_acache_free(rp_acache *c);
/* Drops the answers of one user (of the serial's generation: feedback
 * arrived) or of a whole generation (it was swapped out). */
void rp_acache_forget_user(rp_acache *c, uint64_t serial, const char *user);
void rp_acache_forget_serial(rp_acache *c, uint64_t serial);
typedef struct rp_acache_stats {
  uint64_t hits, misses, evictions, expired, entries, bytes;
} rp_acache_stats;
void rp_acache_stats_get(rp_acache *c, rp_acache_stats *st);

/* Index of a chain reason for the metrics (registered on first use). */
int rp_server_reason(rp_server *s, const char *reason);

/* ---- metrics (metrics.c) -------------------------------------------------------- */
int rp_metrics_status_index(int status);
void rp_metrics_observe(rp_server *s, int worker, int endpoint, int status, double seconds);
/* The Prometheus text exposition into b (rendered by worker `worker`). */
void rp_metrics_render(rp_server *s, int worker, rp_jbuf *b);

/* ---- http (http.c) ---------------------------------------------------------------- */
/* Starts a daemon and a thread per worker (on failure nothing runs). */
int rp_http_start(rp_server *s, rp_err *err);
/* Stops the workers' threads and daemons (after draining: the workers stop
 * accepting connections themselves once s->draining is set). */
void rp_http_stop(rp_server *s);
/* Resumes connections waiting for a reload's outcome. */
void rp_http_reload_done(rp_server *s, int ok, const char *message);

/* ---- the command (serve.c) --------------------------------------------------------- */
/* recpipe serve SCRIPT.lua|CONFIG.yaml [key=value...]: returns the exit status. */
int rp_serve_main(int argc, char **argv, int at, const char *argv0);
/* Opens the registry file at path read-only, without the checks and the
 * recovery a writer's open does (the server only reads the live pointer
 * and renders /dashboard); *out as rp_registry_open. */
int rp_serve_registry_open(const char *path, struct rp_registry **out, rp_err *err);
/* A new request id (16 hex digits) into buf (at least 17 bytes). */
void rp_server_request_id(rp_server *s, char *buf);
double rp_unix_now(void);

#endif
