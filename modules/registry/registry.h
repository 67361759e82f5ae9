/*
 * registry.h -- the run and model registry: one SQLite file (WAL) that
 * records what every pipeline run did and which model version is live.
 *
 *   runs        one row per pipeline run: pipeline, job, config, seed,
 *               start, end, duration, status (running, ok, failed), message,
 *               and the process that owns it (host, boot id, pid and the
 *               pid's start time), with its inputs (path, size, fingerprint),
 *               metrics (value and interval) and log lines;
 *   models      registered model versions (name, version 1, 2, ...) with the
 *               file (copied into <dir of the database>/models/<name>/),
 *               training fingerprint, evaluation report, options, metrics;
 *   live        one live version per name, changed only by a promotion or a
 *               rollback, every decision (refusals too) in `promotions`;
 *   measures    any named number over time (drift, click-through) with its
 *               threshold and whether it crossed it, and `alerts`;
 *   jobs        the scheduler's state per job (the slot it works on, its
 *               attempts, when to retry).
 *
 * Times are Unix seconds (REAL) of the registry clock: RECPIPE_NOW when set
 * (Unix seconds or ISO 8601: a simulated "now" for tests and backfills),
 * else the wall clock.  Durations are always wall-clock seconds.
 *
 * Many processes may read while one writes (WAL, a busy timeout).  Every
 * change is one transaction; a run whose owning process died (crash,
 * kill -9) is marked failed by the next open (or by the scheduler before it
 * starts a job), so a run is never left half-recorded.  The schema is
 * versioned (PRAGMA user_version and meta.schema_version) and migrated on
 * open; a database from a newer recpipe is refused.
 */
#ifndef RP_REGISTRY_H
#define RP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

#define RP_REGISTRY_SCHEMA 1

typedef struct rp_registry rp_registry;

typedef struct rp_registry_opts {
  int readonly; /* open read-only (no recovery, no migration) */
  int busy_ms;  /* wait this long for another writer (default 10000) */
  int check;    /* PRAGMA quick_check on open (default 1) */
  int recover;  /* mark runs of dead processes failed (default 1) */
  int create;   /* create the file (and its directory) when absent (1) */
} rp_registry_opts;

void rp_registry_opts_init(rp_registry_opts *o);

/* Opens (creating when asked) the registry at path.  On success *out is a
 * new handle owned by the caller (rp_registry_close).  Errors: not a
 * recpipe registry, a newer schema, a failed integrity check, I/O. */
int rp_registry_open(const char *path, const rp_registry_opts *o, rp_registry **out, rp_err *err);
void rp_registry_close(rp_registry *r); /* accepts NULL */
/* The database path as opened, its directory, and <dir>/models. */
const char *rp_registry_path(const rp_registry *r);
const char *rp_registry_dir(const rp_registry *r);
/* Runs of dead processes (on this host and boot) still marked running are
 * marked failed; *n (may be NULL) gets how many.  open does this. */
int rp_registry_recover(rp_registry *r, int *n, rp_err *err);
/* PRAGMA quick_check (full: integrity_check, which also checks indexes
 * against tables): RP_OK when "ok", else RP_EFORMAT with the first problem. */
int rp_registry_integrity(rp_registry *r, int full, rp_err *err);

/* The registry clock: RECPIPE_NOW (Unix seconds or ISO 8601) when set, else
 * the wall clock.  RP_EINVAL when RECPIPE_NOW does not parse. */
int rp_registry_now(double *t, rp_err *err);
/* Parses "1717200000", "2024-06-01" or "2024-06-01T12:00:00Z" into Unix
 * seconds: what RECPIPE_NOW and --now accept. */
int rp_registry_parse_time(const char *s, double *t, rp_err *err);

/* Checks a model or job name: 1 to 64 letters, digits, '_', '-', '.', not
 * starting with '.' (names become file names).  what: "model", "job". */
int rp_registry_check_name(const char *what, const char *name, rp_err *err);

/* ---- runs ------------------------------------------------------------------- */
typedef struct rp_run_spec {
  const char *pipeline; /* the script or pipeline name (required) */
  const char *job;      /* the scheduler job, or NULL */
  const char *config;   /* the configuration as JSON or text, or NULL */
  int has_seed;
  int64_t seed;
  /* Adopt this running run instead of creating one (the scheduler starts a
   * run and passes its id to the child in RECPIPE_RUN); 0: a new run. */
  int64_t adopt;
} rp_run_spec;

/* Starts a run owned by the calling process (status running); *id gets its
 * id.  Adopting fills pipeline/config/seed of the existing run and makes
 * the caller its owner; RP_EINVAL when that run is not running. */
int rp_registry_run_begin(rp_registry *r, const rp_run_spec *s, int64_t *id, rp_err *err);
/* Records an input file of run: its size and content fingerprint
 * (rp_fingerprint_file); fp (may be NULL) gets the fingerprint text. */
int rp_registry_run_input(rp_registry *r, int64_t run, const char *path, char fp[64], rp_err *err);
/* Records metric name = value with an interval (lo, hi NAN when none) and
 * the model version it is about (model NULL / version 0 when none). */
int rp_registry_run_metric(rp_registry *r, int64_t run, const char *name, double value, double lo,
                           double hi, const char *model, int64_t version, rp_err *err);
/* Appends a log line (level: error, warn, info, debug). */
int rp_registry_run_log(rp_registry *r, int64_t run, const char *level, const char *msg,
                        rp_err *err);
/* Ends a running run: status "ok" or "failed", message (may be NULL),
 * duration from its start.  With force, also overrides an ended run's
 * status (the scheduler: a child that exited non-zero failed whatever it
 * recorded).  An ended run is otherwise left as it is (RP_OK). */
int rp_registry_run_end(rp_registry *r, int64_t run, const char *status, const char *message,
                        int force, rp_err *err);
/* Makes process pid (its start time read from /proc) the owner of run. */
int rp_registry_run_owner(rp_registry *r, int64_t run, int pid, rp_err *err);

/* ---- models ------------------------------------------------------------------- */
typedef struct rp_model_metric {
  const char *name;
  double value, lo, hi; /* lo, hi NAN when no interval */
} rp_model_metric;

typedef struct rp_model_spec {
  const char *training; /* fingerprint of the training data (text), or NULL */
  const char *report;   /* evaluation report (JSON), or NULL */
  const char *options;  /* training options (JSON), or NULL */
  int64_t run;          /* the run that made it, or 0 */
  const rp_model_metric *metrics;
  int nmetrics;
  int move; /* rename file into the registry instead of copying it */
} rp_model_spec;

/* Registers the model file at path as the next version of name (names:
 * letters, digits, '_', '-', '.'; at most 64 bytes; not starting with '.').
 * The file is copied (or moved) to <dir>/models/<name>/v<version><ext>
 * through a temporary name, fsynced and renamed, then recorded in one
 * transaction: a crash leaves either no version or a complete one.
 * *version gets the new version. */
int rp_registry_register(rp_registry *r, const char *name, const char *path, const rp_model_spec *s,
                         int64_t *version, rp_err *err);
/* The live version of name (0 when none) and, when path is not NULL, a new
 * string (rp_free) with the absolute path of its file. */
int rp_registry_live(rp_registry *r, const char *name, int64_t *version, char **path, rp_err *err);
/* The absolute path (rp_free) of a registered version's file. */
int rp_registry_model_path(rp_registry *r, const char *name, int64_t version, char **path,
                           rp_err *err);

enum { RP_PROMO_INITIAL = 0, RP_PROMO_PROMOTE, RP_PROMO_REFUSE, RP_PROMO_ROLLBACK };

typedef struct rp_promotion {
  int action;                   /* RP_PROMO_* (ROLLBACK: use rp_registry_rollback) */
  const char *reason;           /* why (recorded), or NULL */
  const char *metric;           /* the gate's metric, or NULL */
  double diff, lo, hi;          /* candidate - live and its interval (NAN when none) */
  const char *candidate_report; /* JSON, or NULL */
  const char *live_report;      /* JSON, or NULL */
  int64_t run;                  /* the deciding run, or 0 */
  int64_t expect_live;          /* -1: any; else refuse (RP_EINVAL) unless the live
                                   version is still this one (0 = none) */
} rp_promotion;

/* Records a decision about version of name and applies it in one
 * transaction: INITIAL and PROMOTE make version live (INITIAL only when
 * name has no live version), REFUSE leaves live as it is. */
int rp_registry_promote(rp_registry *r, const char *name, int64_t version, const rp_promotion *p,
                        rp_err *err);
/* Puts back the version that was live before the current one (to = 0) or
 * version `to`; recorded with reason.  *version gets the new live one. */
int rp_registry_rollback(rp_registry *r, const char *name, int64_t to, const char *reason,
                         int64_t run, int64_t *version, rp_err *err);

/* ---- the promotion gate ------------------------------------------------------------
 * The default gate of reg:promote (registry_ext.lua) evaluates
 * the candidate and the live model on the same window of recent events
 * with rp.metrics.evaluate, pairs them user by user (rp.metrics.compare)
 * and asks rp_gate_decide. */
typedef struct rp_gate_opts {
  const char *metric; /* the metric compared (default "ndcg"; rmse/mae: lower is better) */
  int32_t k;          /* list length (default 10) */
  double tolerance;   /* how much worse is still fine, absolute (default 0.0) */
  int32_t bootstrap;  /* resamples of the paired interval (default 1000) */
  double level;       /* interval level (default 0.95) */
  int64_t seed;       /* bootstrap seed (default 42) */
  double window_days; /* the most recent window of events judged on (default 7) */
  int32_t min_users;  /* fewer evaluated users than this: refuse (default 20) */
} rp_gate_opts;

void rp_gate_opts_init(rp_gate_opts *o);
/* RP_EINVAL naming the first bad option. */
int rp_gate_opts_check(const rp_gate_opts *o, rp_err *err);
/* The gate's rule: with d = candidate - live on the common users and its
 * paired interval [lo, hi], refuse when the whole interval is worse than
 * the tolerance (hi < -tolerance; for rmse/mae, lo > tolerance) or when
 * fewer than min_users were compared; accept otherwise.  *accept and a
 * one-line reason (reason_size bytes) are filled. */
int rp_gate_decide(const rp_gate_opts *o, double diff, double lo, double hi, int32_t users,
                   int *accept, char *reason, size_t reason_size, rp_err *err);

/* ---- measures and alerts --------------------------------------------------------- */
enum { RP_ABOVE = 0, RP_BELOW = 1 };

typedef struct rp_measure {
  const char *name; /* e.g. "psi.item_popularity", "ctr" (required) */
  double value;
  int has_threshold;
  double threshold;
  int direction;     /* RP_ABOVE: crossed when value > threshold; RP_BELOW: < */
  double lo, hi;     /* interval, NAN when none */
  double from, to;   /* the window measured (Unix seconds), NAN when none */
  const char *model; /* model name it is about, or NULL */
  int64_t version;   /* model version, 0 when none */
  const char *label; /* a free label (a chain reason, a segment), or NULL */
  const char *info;  /* anything else (JSON), or NULL */
} rp_measure;

void rp_measure_init(rp_measure *m); /* zeros, NAN intervals and window */

/* Records a measure for run (0: none); *crossed (may be NULL) gets whether
 * it crossed its threshold.  Recording never raises an alert by itself. */
int rp_registry_measure(rp_registry *r, int64_t run, const rp_measure *m, int *crossed,
                        rp_err *err);
/* Records an alert: a measure (or anything) that needs a person. */
int rp_registry_alert(rp_registry *r, int64_t run, const char *name, const char *message,
                      double value, double threshold, rp_err *err);

/* ---- reading ------------------------------------------------------------------------ */
enum { RP_VNULL = 0, RP_VINT, RP_VREAL, RP_VTEXT };
typedef struct rp_value {
  int type;
  int64_t i;
  double d;
  const char *s;
} rp_value;

/* Called once per row with ncol named values; return nonzero to stop. */
typedef int (*rp_row_fn)(void *ud, int ncol, const char *const *names, const rp_value *vals);

typedef struct rp_list_filter {
  const char *name;   /* runs: pipeline; models, promotions, measures, alerts, live:
                         name; jobs: name (NULL: all) */
  const char *job;    /* runs: job */
  const char *status; /* runs: status */
  int64_t run;        /* metrics, logs, inputs, measures, alerts: run (0: all) */
  double since;       /* rows at or after this time (NAN: all) */
  int64_t limit;      /* at most this many, newest first (0: all) */
} rp_list_filter;

void rp_list_filter_init(rp_list_filter *f);

/* Rows of one table, newest first: what is "runs", "inputs", "metrics",
 * "logs", "models", "model_metrics", "live", "promotions", "measures",
 * "alerts" or "jobs".  The columns are the table's (README, File formats). */
int rp_registry_list(rp_registry *r, const char *what, const rp_list_filter *f, rp_row_fn fn,
                     void *ud, rp_err *err);

/* ---- the scheduler's jobs --------------------------------------------------------------- */
typedef struct rp_job_state {
  int known;        /* the job has a row */
  double slot;      /* the slot it works on or last finished (NAN: none) */
  int done;         /* that slot is finished (ok, or failed past its retries) */
  int attempts;     /* attempts made at that slot */
  double retry_at;  /* next attempt not before (NAN: at once) */
  int64_t last_run; /* the newest run of the job (0: none) */
  char last_status[16];
  double last_end; /* NAN when none */
  int running;     /* a run of the job is running now (owner alive) */
} rp_job_state;

/* The state of job name (after marking its runs of dead processes failed
 * when the registry is writable). */
int rp_registry_job_state(rp_registry *r, const char *name, rp_job_state *st, rp_err *err);
/* Starts an attempt at slot for job name, in one transaction: refuses
 * (*busy = 1, RP_OK) while a run of the job is running with a live owner,
 * and (*busy = 2) when the slot is done already (a run of it ended ok);
 * otherwise creates the run (owner: the caller), moves the job to slot (a
 * newer slot resets the attempts) and counts the attempt.  *run gets the
 * run's id. */
int rp_registry_job_start(rp_registry *r, const char *name, double slot, const char *pipeline,
                          const char *config, int64_t *run, int *busy, rp_err *err);
/* Ends an attempt (the run ended as run_end with force): ok finishes the
 * slot; a failure schedules a retry backoff * 2^(attempts-1) seconds later,
 * or finishes the slot as failed once attempts > retries. */
int rp_registry_job_finish(rp_registry *r, const char *name, int64_t run, int ok,
                           const char *message, int retries, double backoff, rp_err *err);

/* ---- fingerprints ------------------------------------------------------------------------ */
/* A fast content hash of a file: "rpfp1:<16 hex digits>:<size>".  The bytes
 * are read in 32-byte stripes into four 64-bit lanes (lane = rotl(lane +
 * word * P2, 31) * P1 with xxHash64's primes P1 = 0x9E3779B185EBCA87,
 * P2 = 0xC2B2AE3D27D4EB4F, words little-endian; the tail is zero-padded),
 * the lanes merged with rp_hash64 and the length mixed in.  Two files with
 * the same fingerprint have the same bytes with overwhelming likelihood;
 * it is no defence against an adversary. */
int rp_fingerprint_file(const char *path, char out[64], int64_t *size, rp_err *err);
/* The same for a buffer (size = n). */
void rp_fingerprint_buf(const void *buf, size_t n, char out[64]);

/* ---- the dashboard ------------------------------------------------------------------------ */
typedef struct rp_buf {
  char *data; /* NUL-terminated, rp_malloc'd */
  size_t len, cap;
  int failed; /* an allocation failed: the content is incomplete */
} rp_buf;

void rp_buf_free(rp_buf *b);
int rp_buf_add(rp_buf *b, const char *s, size_t n);
int rp_buf_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct rp_dashboard_opts {
  const char *title; /* page title (default "recpipe registry") */
  int max_rows;      /* rows in each table of recent events (default 50) */
  double now;        /* "now" of the page (NAN: the registry clock) */
} rp_dashboard_opts;

void rp_dashboard_opts_init(rp_dashboard_opts *o);

/* Renders the registry as one self-contained HTML page (inline SVG and CSS,
 * no script, nothing fetched) into out (appended; out zeroed or reused).
 * The server serves the same page at /dashboard. */
int rp_dashboard_render(rp_registry *r, const rp_dashboard_opts *o, rp_buf *out, rp_err *err);

#endif
