/*
 * schedule.h -- `recpipe schedule`: jobs on a schedule, run as child processes
 * of recpipe itself with wall-time and memory limits, their state in the
 * registry.
 *
 * Plain C (no Lua): the schedule's keys, durations and sizes, cron
 * expressions, when a job is due, and the child processes.  The command
 * (schedule.c) reads the YAML and runs the loop.
 */
#ifndef RP_SCHEDULE_H
#define RP_SCHEDULE_H

#include <stdint.h>

#include "registry.h"
#include "rp.h"

/* ---- the schedule's keys, defined once --------------------------------------------- */
enum { RP_SK_STRING = 0, RP_SK_DURATION, RP_SK_SIZE, RP_SK_INT, RP_SK_TIME, RP_SK_MAP, RP_SK_LIST };

typedef struct rp_sched_key {
  const char *name;
  int type;
  const char *def; /* default as text (NULL: none) */
  const char *help;
} rp_sched_key;

/* Top-level keys and job keys, NULL-terminated. */
extern const rp_sched_key rp_sched_top_keys[];
extern const rp_sched_key rp_sched_job_keys[];
/* The key named name in keys, or NULL. */
const rp_sched_key *rp_sched_key_find(const rp_sched_key *keys, const char *name);
/* "a, b, c": the names of keys (into buf). */
void rp_sched_key_names(const rp_sched_key *keys, char *buf, size_t size);

/* ---- durations and sizes -------------------------------------------------------------- */
/* "7d", "12h", "1h30m", "45s", "2w", "90" (seconds) -> seconds (> 0 unless
 * allow_zero and "0"). */
int rp_sched_parse_duration(const char *s, double *out, rp_err *err);
/* "512M", "2G", "1.5GiB", "4096" (bytes) -> bytes; K, M, G, T are powers of
 * 1024 (KB, KiB alike). */
int rp_sched_parse_size(const char *s, int64_t *out, rp_err *err);
/* "7d" / "1h30m" for seconds into buf. */
void rp_sched_format_duration(double s, char *buf, size_t size);

/* ---- cron ---------------------------------------------------------------------------- */
/* Five fields, UTC: minute hour day-of-month month day-of-week, each `*`, a
 * number, a range a-b, a list a,b,c and steps (every n: STAR/n, a-b/n, STAR meaning `*`); month and
 * weekday names (jan, mon; weekday 0 or 7 is Sunday); @hourly, @daily,
 * @weekly (Sunday 00:00), @monthly, @yearly.  When both day fields are
 * restricted, a day matching either runs (Vixie cron). */
typedef struct rp_cron {
  uint64_t minute; /* bit m: minute m */
  uint32_t hour, dom, month;
  uint8_t dow;
  int dom_star, dow_star;
} rp_cron;

int rp_cron_parse(const char *expr, rp_cron *c, rp_err *err);
/* The first matching minute strictly after t, or NAN within 5 years. */
double rp_cron_next(const rp_cron *c, double t);
/* The last matching minute at or before t, or NAN within 5 years. */
double rp_cron_prev(const rp_cron *c, double t);

/* ---- jobs ----------------------------------------------------------------------------- */
typedef struct rp_sched_job {
  char *name;
  char *pipeline; /* as written */
  char *target;   /* the script or YAML config the child runs */
  char **args;    /* "key=value" overrides (nargs) */
  int nargs;
  int is_cron;
  rp_cron cron;
  char *cron_text;
  double every;   /* seconds */
  double start;   /* anchor of `every` slots (Unix seconds) */
  double timeout; /* wall-time limit, seconds (0: none) */
  int64_t memory; /* resident memory limit, bytes (0: none) */
  int retries;    /* further attempts after a failure */
  double backoff; /* first retry after this many seconds, doubling */
  int alert_exit; /* exit status meaning "ok, an alert was raised" (0: none) */
  rp_buf pending; /* an override being built (freed with the job) */
} rp_sched_job;

/* The latest slot at or before now (NAN: none yet) and the first after t. */
double rp_sched_slot_at(const rp_sched_job *j, double now);
double rp_sched_slot_after(const rp_sched_job *j, double t);

enum { RP_DUE_NO = 0, RP_DUE_RUN, RP_DUE_GIVE_UP };

typedef struct rp_sched_due {
  int what;    /* RP_DUE_NO, RP_DUE_RUN (attempt slot now), RP_DUE_GIVE_UP (slot
                  failed past its retries: finish it as failed) */
  double slot; /* the slot to attempt or give up */
  double next; /* when to look again (NAN: never) */
  const char *why;
} rp_sched_due;

/* When is job j due, given its registry state st, at time now.  Slots
 * missed while nobody ran collapse into the latest one; an unfinished slot
 * (failed, or its run crashed) is attempted again once retry_at has come,
 * until attempts exceed retries. */
void rp_sched_due_at(const rp_sched_job *j, const rp_job_state *st, double now, rp_sched_due *d);

/* ---- child processes ------------------------------------------------------------------- */
typedef struct rp_child {
  int pid;
  double started;   /* monotonic seconds */
  double deadline;  /* monotonic; 0: none */
  int64_t memory;   /* RSS limit in bytes, 0: none */
  int64_t peak_rss; /* the largest RSS polled */
  int killed;       /* 0, or why the scheduler killed it: RP_KILL_* */
  double term_at;   /* monotonic time SIGTERM was sent (0: not yet) */
} rp_child;

enum { RP_KILL_NONE = 0, RP_KILL_TIMEOUT, RP_KILL_MEMORY, RP_KILL_STOP };

/* Starts argv[0] with argv, the variables env ("NAME=value", NULL-ended)
 * added to the environment, stdout and stderr appended to log_path, in a
 * process group of its own, killed when the caller dies (PR_SET_PDEATHSIG).
 * Fills c (pid, started; the caller sets deadline and memory). */
int rp_child_spawn(char *const argv[], char *const env[], const char *log_path, rp_child *c,
                   rp_err *err);
/* The resident set size of pid in bytes (VmRSS of /proc/PID/status), -1
 * when the process is gone. */
int64_t rp_child_rss(int pid);
/* Enforces c's limits at monotonic time now: over the wall time, SIGTERM
 * to the group, SIGKILL 5 s later; over the memory, SIGKILL at once.
 * Returns 1 when a signal was sent. */
int rp_child_check(rp_child *c, double now);
/* Sends sig to c's process group. */
void rp_child_signal(rp_child *c, int sig);
/* "exit status 3", "killed by signal 9 (memory limit 512M: resident 530M)"... */
void rp_child_describe(const rp_child *c, int wstatus, char *buf, size_t size);

#endif
