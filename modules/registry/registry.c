/*
 * registry.c -- opening the registry (WAL, busy timeout, schema versions and
 * migrations, integrity), the registry clock, process identities, runs.
 *
 * A run is owned by a process (host, boot id, pid and the pid's start time,
 * so a recycled pid is not mistaken for the owner).  Opening the registry
 * marks the running runs whose owner is gone as failed, in one
 * transaction: a crashed run is never left "running" nor half-ended.
 */
#include "reg_impl.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "iotext.h"

#define APP_ID 0x52505247 /* "RPRG" */

/* ---- SQL helpers ----------------------------------------------------------------- */
int rp_reg_error(rp_registry *r, rp_err *err, const char *what) {
  int code = sqlite3_errcode(r->db);
  int st = (code == SQLITE_NOMEM)                              ? RP_ENOMEM
           : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? RP_EFORMAT
                                                               : RP_EIO;
  return rp_errf(err, st, "registry %s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

int rp_reg_exec(rp_registry *r, const char *sql, rp_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    int rc = rp_errf(err, RP_EIO, "registry %s: %s", r->path, msg ? msg : sqlite3_errmsg(r->db));
    sqlite3_free(msg);
    return rc;
  }
  return RP_OK;
}

sqlite3_stmt *rp_reg_prep(rp_registry *r, rp_err *err, const char *sql, const char *types, ...) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
    rp_reg_error(r, err, "preparing a statement");
    return NULL;
  }
  va_list ap;
  va_start(ap, types);
  int rc = SQLITE_OK;
  for (int i = 0; types && types[i] && rc == SQLITE_OK; i++) {
    int k = i + 1;
    switch (types[i]) {
      case 't': {
        const char *s = va_arg(ap, const char *);
        rc = s ? sqlite3_bind_text(st, k, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, k);
        break;
      }
      case 'i':
        rc = sqlite3_bind_int64(st, k, (sqlite3_int64)va_arg(ap, int64_t));
        break;
      case 'd': {
        double v = va_arg(ap, double);
        rc = isnan(v) ? sqlite3_bind_null(st, k) : sqlite3_bind_double(st, k, v);
        break;
      }
      default: /* 'n': an int64_t argument bound as NULL */
        (void)va_arg(ap, int64_t);
        rc = sqlite3_bind_null(st, k);
    }
  }
  va_end(ap);
  if (rc != SQLITE_OK) {
    rp_reg_error(r, err, "binding a value");
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

int rp_reg_run(rp_registry *r, sqlite3_stmt *st, rp_err *err) {
  if (!st) return err ? err->status : RP_EIO;
  int rc = sqlite3_step(st);
  int out = RP_OK;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) out = rp_reg_error(r, err, "writing");
  sqlite3_finalize(st);
  return out;
}

int rp_reg_begin(rp_registry *r, rp_err *err) {
  if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return rp_reg_error(r, err, "taking the write lock");
  return RP_OK;
}

int rp_reg_commit(rp_registry *r, rp_err *err) {
  if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    int rc = rp_reg_error(r, err, "committing");
    rp_reg_rollback(r);
    return rc;
  }
  return RP_OK;
}

void rp_reg_rollback(rp_registry *r) {
  if (!sqlite3_get_autocommit(r->db)) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

int rp_reg_writable(rp_registry *r, const char *what, rp_err *err) {
  if (r->readonly)
    return rp_errf(err, RP_EINVAL, "registry %s is open read-only: cannot %s", r->path, what);
  return RP_OK;
}

double rp_reg_col_double(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? RP_NAN_ : sqlite3_column_double(st, i);
}

int rp_registry_check_name(const char *what, const char *name, rp_err *err) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > 64 || name[0] == '.')
    return rp_errf(err, RP_EINVAL,
                   "%s name must be 1 to 64 characters not starting with '.', got '%s'", what,
                   name ? name : "");
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return rp_errf(err, RP_EINVAL,
                     "%s name '%s': only letters, digits, '_', '-' and '.' are allowed", what,
                     name);
  }
  return RP_OK;
}

/* ---- processes ---------------------------------------------------------------------- */
static int read_small(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  size_t k = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[k] = 0;
  return (int)k;
}

/* start time (field 22), state (field 3) and parent (field 4) of
 * /proc/pid/stat */
static int proc_stat(int pid, int64_t *start, char *state, int *ppid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
  if (!p) return -1;
  p += 2;
  if (state) *state = *p;
  if (ppid) *ppid = atoi(p + 2);
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  *start = strtoll(p, NULL, 10);
  return 0;
}

static void boot_id(char out[40]) {
  static char cached[40];
  if (!cached[0]) {
    if (read_small("/proc/sys/kernel/random/boot_id", cached, sizeof cached) <= 0)
      snprintf(cached, sizeof cached, "unknown");
    cached[strcspn(cached, "\n")] = 0;
  }
  memcpy(out, cached, 40);
}

int rp_proc_identify(int pid, rp_proc_id *id) {
  memset(id, 0, sizeof *id);
  id->pid = pid ? pid : (int)getpid();
  if (proc_stat(id->pid, &id->start, NULL, NULL) != 0) return RP_EIO;
  boot_id(id->boot);
  if (gethostname(id->host, sizeof id->host - 1) != 0) snprintf(id->host, sizeof id->host, "?");
  return RP_OK;
}

int rp_proc_alive(const char *host, const char *boot, int pid, int64_t start) {
  rp_proc_id me;
  if (rp_proc_identify(0, &me) != RP_OK) return -1;
  if (!host || strcmp(host, me.host) != 0) return -1;
  if (!boot || strcmp(boot, me.boot) != 0) return 0; /* the machine rebooted since */
  int64_t s;
  char state = 0;
  int ppid = 0;
  if (pid <= 0 || proc_stat(pid, &s, &state, &ppid) != 0) return 0;
  /* a zombie whose parent is a recpipe (the scheduler) will be reaped and
   * its end recorded; one left to init or a subreaper (which may never reap
   * it in a container) is dead */
  if (state == 'Z') {
    char path[64], comm[32];
    snprintf(path, sizeof path, "/proc/%d/comm", ppid);
    if (ppid <= 1 || read_small(path, comm, sizeof comm) <= 0 || strncmp(comm, "recpipe", 7) != 0)
      return 0;
  }
  return s == start;
}

/* ---- the clock --------------------------------------------------------------------- */
int rp_registry_parse_time(const char *s, double *t, rp_err *err) {
  int64_t v;
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || rp_parse_time_slow(s, n, RP_TIME_SECONDS, &v) != RP_PARSE_OK)
    return rp_errf(err, RP_EINVAL,
                   "bad time '%s' (Unix seconds or ISO 8601 such as 2024-06-01T12:00:00Z)",
                   s ? s : "");
  *t = (double)v;
  return RP_OK;
}

int rp_registry_now(double *t, rp_err *err) {
  const char *env = getenv("RECPIPE_NOW");
  if (env && *env) {
    if (rp_registry_parse_time(env, t, err)) {
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
      return rp_errf(err, RP_EINVAL, "RECPIPE_NOW: %s", msg);
    }
    return RP_OK;
  }
  struct timeval tv;
  gettimeofday(&tv, NULL);
  *t = (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
  return RP_OK;
}

static double wall(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* ---- schema ------------------------------------------------------------------------- */
/* Version 1.  A later version appends a migration to MIGRATIONS; an open
 * applies every step above the file's user_version in one transaction. */
static const char *const SCHEMA_1 =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, pipeline TEXT NOT NULL, job TEXT, config TEXT,"
    " seed INTEGER, started REAL NOT NULL, wall_started REAL NOT NULL, ended REAL,"
    " duration REAL, status TEXT NOT NULL CHECK(status IN ('running','ok','failed')),"
    " message TEXT, host TEXT, boot TEXT, pid INTEGER, pid_start INTEGER, slot REAL);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE INDEX runs_job ON runs(job, id);"
    "CREATE TABLE inputs(run INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL,"
    " size INTEGER NOT NULL, fingerprint TEXT NOT NULL);"
    "CREATE INDEX inputs_run ON inputs(run);"
    "CREATE TABLE metrics(id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id),"
    " name TEXT NOT NULL, value REAL, lo REAL, hi REAL, model TEXT, version INTEGER,"
    " t REAL NOT NULL);"
    "CREATE INDEX metrics_run ON metrics(run);"
    "CREATE TABLE logs(id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id),"
    " t REAL NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX logs_run ON logs(run);"
    "CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,"
    " file TEXT NOT NULL, size INTEGER NOT NULL, fingerprint TEXT NOT NULL,"
    " created REAL NOT NULL, run INTEGER REFERENCES runs(id), training TEXT, report TEXT,"
    " options TEXT, UNIQUE(name, version));"
    "CREATE TABLE model_metrics(model INTEGER NOT NULL REFERENCES models(id),"
    " metric TEXT NOT NULL, value REAL, lo REAL, hi REAL, PRIMARY KEY(model, metric));"
    "CREATE TABLE live(name TEXT PRIMARY KEY, version INTEGER NOT NULL, since REAL NOT NULL,"
    " promotion INTEGER);"
    "CREATE TABLE promotions(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " action TEXT NOT NULL CHECK(action IN ('initial','promote','refuse','rollback')),"
    " version INTEGER NOT NULL, previous INTEGER, reason TEXT, metric TEXT, diff REAL,"
    " lo REAL, hi REAL, candidate_report TEXT, live_report TEXT, run INTEGER,"
    " t REAL NOT NULL);"
    "CREATE INDEX promotions_name ON promotions(name, id);"
    "CREATE TABLE measures(id INTEGER PRIMARY KEY, run INTEGER REFERENCES runs(id),"
    " name TEXT NOT NULL, value REAL NOT NULL, threshold REAL,"
    " direction TEXT CHECK(direction IN ('above','below')), crossed INTEGER NOT NULL,"
    " lo REAL, hi REAL, window_from REAL, window_to REAL, model TEXT, version INTEGER,"
    " label TEXT, info TEXT, t REAL NOT NULL);"
    "CREATE INDEX measures_name ON measures(name, t);"
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, run INTEGER REFERENCES runs(id),"
    " name TEXT NOT NULL, message TEXT NOT NULL, value REAL, threshold REAL,"
    " t REAL NOT NULL);"
    "CREATE TABLE jobs(name TEXT PRIMARY KEY, slot REAL, done INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, retry_at REAL, last_run INTEGER);";

/* MIGRATIONS[v] takes a database from schema v to v + 1 (v >= 1). */
static const char *const MIGRATIONS[] = {NULL, NULL};

static int user_version(rp_registry *r, int *v, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err, "PRAGMA user_version", NULL);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? RP_OK : rp_reg_error(r, err, "reading the schema version");
}

static int count_tables(rp_registry *r, int *n, int *app, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT count(*) FROM sqlite_master", NULL);
  if (!st) return err->status;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return rp_reg_error(r, err, "reading the schema");
  }
  *n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  st = rp_reg_prep(r, err, "PRAGMA application_id", NULL);
  if (!st) return err->status;
  *app = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return RP_OK;
}

static int set_version(rp_registry *r, int v, rp_err *err) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "PRAGMA user_version = %d; INSERT OR REPLACE INTO meta VALUES('schema_version', '%d')",
           v, v);
  return rp_reg_exec(r, sql, err);
}

static int migrate(rp_registry *r, rp_err *err) {
  int ntab = 0, app = 0, v = 0;
  if (count_tables(r, &ntab, &app, err) || user_version(r, &v, err)) return err->status;
  if (ntab > 0 && app != APP_ID)
    return rp_errf(err, RP_EFORMAT, "%s is an SQLite database but not a recpipe registry", r->path);
  if (v > RP_REGISTRY_SCHEMA)
    return rp_errf(err, RP_EFORMAT,
                   "registry %s has schema version %d; this recpipe knows up to %d (written by "
                   "a newer recpipe)",
                   r->path, v, RP_REGISTRY_SCHEMA);
  if (v == RP_REGISTRY_SCHEMA) return RP_OK;
  if (r->readonly)
    return rp_errf(err, RP_EINVAL,
                   "registry %s needs a schema upgrade (%d to %d): open it writable", r->path, v,
                   RP_REGISTRY_SCHEMA);
  if (rp_reg_begin(r, err)) return err->status;
  /* another process may have created or migrated it meanwhile */
  int rc = user_version(r, &v, err);
  if (!rc && v == 0) {
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", APP_ID);
    rc = rp_reg_exec(r, sql, err);
    if (!rc) rc = rp_reg_exec(r, SCHEMA_1, err);
    if (!rc) {
      char t[64];
      snprintf(t, sizeof t, "INSERT INTO meta VALUES('created', '%.0f')", wall());
      rc = rp_reg_exec(r, t, err);
    }
    v = 1;
  }
  for (; !rc && v < RP_REGISTRY_SCHEMA; v++)
    if (MIGRATIONS[v]) rc = rp_reg_exec(r, MIGRATIONS[v], err);
  if (!rc) rc = set_version(r, v, err);
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  return rp_reg_commit(r, err);
}

/* ---- open / close ------------------------------------------------------------------- */
void rp_registry_opts_init(rp_registry_opts *o) {
  memset(o, 0, sizeof *o);
  o->busy_ms = 10000;
  o->check = 1;
  o->recover = 1;
  o->create = 1;
}

static int mkdirs(const char *dir, rp_err *err) {
  char p[PATH_MAX];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
    return rp_errf(err, RP_EINVAL, "path too long: %s", dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
      return rp_errf(err, RP_EIO, "cannot create directory '%s': %s", p, strerror(errno));
    *s = '/';
  }
  if (mkdir(p, 0755) != 0 && errno != EEXIST)
    return rp_errf(err, RP_EIO, "cannot create directory '%s': %s", p, strerror(errno));
  return RP_OK;
}

static int split_dir(rp_registry *r, const char *path, int create, rp_err *err) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  if (create && mkdirs(dir, err)) return err->status;
  char abs[PATH_MAX];
  if (!realpath(dir, abs))
    return rp_errf(err, RP_EIO, "registry %s: directory '%s': %s", path, dir, strerror(errno));
  r->dir = rp_strdup(abs);
  size_t n = strlen(abs) + 8;
  r->models = rp_malloc(n);
  if (!r->dir || !r->models) return rp_enomem(err, "registry paths");
  snprintf(r->models, n, "%s/models", abs);
  return RP_OK;
}

int rp_registry_open(const char *path, const rp_registry_opts *o, rp_registry **out, rp_err *err) {
  rp_registry_opts def;
  if (!o) rp_registry_opts_init(&def), o = &def;
  *out = NULL;
  if (!path || !*path) return rp_errf(err, RP_EINVAL, "registry path is empty");
  if (o->busy_ms < 0) return rp_errf(err, RP_EINVAL, "busy_ms must be >= 0, got %d", o->busy_ms);
  struct stat stt;
  int exists = stat(path, &stt) == 0;
  if (!exists && (o->readonly || !o->create))
    return rp_errf(err, RP_EIO, "registry %s: no such file", path);
  if (exists && !S_ISREG(stt.st_mode))
    return rp_errf(err, RP_EINVAL, "registry %s: not a regular file", path);
  rp_registry *r = rp_calloc(1, sizeof *r);
  if (!r) return rp_enomem(err, "registry");
  r->readonly = o->readonly;
  r->path = rp_strdup(path);
  if (!r->path) {
    rp_registry_close(r);
    return rp_enomem(err, "registry");
  }
  int rc = split_dir(r, path, !exists && !o->readonly, err);
  if (rc) {
    rp_registry_close(r);
    return rc;
  }
  int flags = o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &r->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
    rc = r->db ? rp_reg_error(r, err, "opening") : rp_enomem(err, "registry");
    rp_registry_close(r);
    return rc;
  }
  sqlite3_busy_timeout(r->db, o->busy_ms);
  sqlite3_extended_result_codes(r->db, 0);
  /* Two processes creating one registry at once: switching a new file to
   * WAL and creating the schema can meet SQLITE_BUSY without the busy
   * handler being asked (a lock upgrade that would deadlock); retry the
   * whole setup until busy_ms has passed. */
  double give_up = rp_now() + o->busy_ms / 1000.0;
  for (;;) {
    rc = o->readonly ? RP_OK : rp_reg_exec(r, "PRAGMA journal_mode=WAL", err);
    if (!rc) rc = rp_reg_exec(r, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", err);
    if (!rc) rc = migrate(r, err);
    int code = sqlite3_errcode(r->db);
    if (!rc || (code != SQLITE_BUSY && code != SQLITE_LOCKED) || rp_now() > give_up) break;
    rp_reg_rollback(r);
    usleep(20000);
  }
  if (!rc && o->check) rc = rp_registry_integrity(r, 0, err);
  if (!rc && o->recover && !o->readonly) rc = rp_registry_recover(r, NULL, err);
  if (rc) {
    rp_registry_close(r);
    return rc;
  }
  *out = r;
  return RP_OK;
}

void rp_registry_close(rp_registry *r) {
  if (!r) return;
  if (r->db) sqlite3_close_v2(r->db);
  rp_free(r->path);
  rp_free(r->dir);
  rp_free(r->models);
  rp_free(r);
}

const char *rp_registry_path(const rp_registry *r) { return r->path; }
const char *rp_registry_dir(const rp_registry *r) { return r->dir; }

int rp_registry_integrity(rp_registry *r, int full, rp_err *err) {
  sqlite3_stmt *st =
      rp_reg_prep(r, err, full ? "PRAGMA integrity_check" : "PRAGMA quick_check", NULL);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return rp_reg_error(r, err, "checking integrity");
  }
  const char *res = (const char *)sqlite3_column_text(st, 0);
  int ok = res && strcmp(res, "ok") == 0;
  if (!ok) rp_errf(err, RP_EFORMAT, "registry %s is corrupt: %s", r->path, res ? res : "?");
  sqlite3_finalize(st);
  return ok ? RP_OK : RP_EFORMAT;
}

/* ---- recovery --------------------------------------------------------------------- */
int rp_reg_recover_locked(rp_registry *r, const char *job, int *n, rp_err *err) {
  if (n) *n = 0;
  sqlite3_stmt *st = rp_reg_prep(r, err,
                                 "SELECT id, host, boot, pid, pid_start, job FROM runs WHERE "
                                 "status = 'running' AND (?1 IS NULL OR job = ?1)",
                                 "t", job);
  if (!st) return err->status;
  int64_t dead[64];
  int nd = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && nd < 64) {
    int alive = rp_proc_alive((const char *)sqlite3_column_text(st, 1),
                              (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
                              sqlite3_column_int64(st, 4));
    if (alive == 0) {
      dead[nd++] = sqlite3_column_int64(st, 0);
      /* a scheduler's child led a process group of its own: what it
       * started (a shell, a sleep) goes with it */
      int pid = sqlite3_column_int(st, 3);
      if (sqlite3_column_type(st, 5) != SQLITE_NULL && pid > 1 && pid != (int)getpid())
        kill(-pid, SIGKILL);
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return rp_reg_error(r, err, "reading runs");
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  for (int i = 0; i < nd; i++) {
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "UPDATE runs SET status = 'failed', ended = ?2, duration = ?3 - "
                                "wall_started, message = 'the process ' || pid || ' on ' || host "
                                "|| ' ended before the run did (crashed or killed)' WHERE id = ?1 "
                                "AND status = 'running'",
                                "idd", dead[i], now, wall()),
                    err);
    if (rc) return rc;
  }
  if (n) *n = nd;
  /* more than 64 dead runs: the next call takes the next 64 */
  return RP_OK;
}

int rp_registry_recover(rp_registry *r, int *n, rp_err *err) {
  if (n) *n = 0;
  if (rp_reg_writable(r, "recover runs", err)) return err->status;
  int total = 0;
  for (;;) {
    /* a cheap read first: most opens find nothing to do and take no lock */
    sqlite3_stmt *st =
        rp_reg_prep(r, err, "SELECT count(*) FROM runs WHERE status = 'running'", NULL);
    if (!st) return err->status;
    int running = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (!running) break;
    if (rp_reg_begin(r, err)) return err->status;
    int k = 0;
    int rc = rp_reg_recover_locked(r, NULL, &k, err);
    if (rc) {
      rp_reg_rollback(r);
      return rc;
    }
    if (rp_reg_commit(r, err)) return err->status;
    total += k;
    if (k < 64) break;
  }
  if (n) *n = total;
  return RP_OK;
}

/* ---- runs --------------------------------------------------------------------------- */
static int set_owner(rp_registry *r, int64_t run, int pid, rp_err *err) {
  rp_proc_id id;
  if (rp_proc_identify(pid, &id) != RP_OK)
    return rp_errf(err, RP_EINVAL, "process %d is not running", pid);
  return rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "UPDATE runs SET host = ?2, boot = ?3, pid = ?4, pid_start = ?5 "
                                "WHERE id = ?1",
                                "ittii", run, id.host, id.boot, (int64_t)id.pid, id.start),
                    err);
}

int rp_registry_run_owner(rp_registry *r, int64_t run, int pid, rp_err *err) {
  if (rp_reg_writable(r, "record a run", err)) return err->status;
  return set_owner(r, run, pid, err);
}

int rp_registry_run_begin(rp_registry *r, const rp_run_spec *s, int64_t *id, rp_err *err) {
  if (rp_reg_writable(r, "record a run", err)) return err->status;
  if (!s || !s->pipeline || !*s->pipeline)
    return rp_errf(err, RP_EINVAL, "a run needs the name of its pipeline");
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  if (rp_reg_begin(r, err)) return err->status;
  int rc;
  if (s->adopt > 0) {
    sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT status FROM runs WHERE id = ?1", "i", s->adopt);
    rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    int running =
        rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "running") == 0;
    if (st) sqlite3_finalize(st);
    if (!running) {
      rp_reg_rollback(r);
      return rp_errf(err, RP_EINVAL, "registry %s: run %lld (RECPIPE_RUN) is not running", r->path,
                     (long long)s->adopt);
    }
    rc = rp_reg_run(
        r,
        rp_reg_prep(r, err,
                    "UPDATE runs SET pipeline = ?2, config = coalesce(?3, config), "
                    "seed = coalesce(?4, seed) WHERE id = ?1",
                    s->has_seed ? "itti" : "ittn", s->adopt, s->pipeline, s->config, s->seed),
        err);
    if (!rc) rc = set_owner(r, s->adopt, 0, err);
    *id = s->adopt;
  } else {
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "INSERT INTO runs(pipeline, job, config, seed, started, "
                                "wall_started, status) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'running')",
                                s->has_seed ? "tttidd" : "tttndd", s->pipeline, s->job, s->config,
                                s->seed, now, wall()),
                    err);
    *id = sqlite3_last_insert_rowid(r->db);
    if (!rc) rc = set_owner(r, *id, 0, err);
  }
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  return rp_reg_commit(r, err);
}

static int check_run(rp_registry *r, int64_t run, rp_err *err) {
  if (rp_reg_writable(r, "record a run", err)) return err->status;
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT 1 FROM runs WHERE id = ?1", "i", run);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW)
    return rp_errf(err, RP_EINVAL, "registry %s: no run %lld", r->path, (long long)run);
  return RP_OK;
}

int rp_registry_run_input(rp_registry *r, int64_t run, const char *path, char fp[64], rp_err *err) {
  if (check_run(r, run, err)) return err->status;
  char f[64];
  int64_t size;
  if (rp_fingerprint_file(path, f, &size, err)) return err->status;
  if (fp) memcpy(fp, f, 64);
  return rp_reg_run(
      r,
      rp_reg_prep(r, err, "INSERT INTO inputs VALUES(?1, ?2, ?3, ?4)", "itit", run, path, size, f),
      err);
}

int rp_registry_run_metric(rp_registry *r, int64_t run, const char *name, double value, double lo,
                           double hi, const char *model, int64_t version, rp_err *err) {
  if (!name || !*name) return rp_errf(err, RP_EINVAL, "a metric needs a name");
  if (check_run(r, run, err)) return err->status;
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  return rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "INSERT INTO metrics(run, name, value, lo, hi, model, version, t) "
                                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                version > 0 ? "itdddtid" : "itdddtnd", run, name, value, lo, hi,
                                model, version, now),
                    err);
}

int rp_registry_run_log(rp_registry *r, int64_t run, const char *level, const char *msg,
                        rp_err *err) {
  static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
  int ok = 0;
  for (int i = 0; level && levels[i]; i++) ok |= strcmp(level, levels[i]) == 0;
  if (!ok)
    return rp_errf(err, RP_EINVAL, "log level must be error, warn, info or debug, got '%s'",
                   level ? level : "");
  if (check_run(r, run, err)) return err->status;
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  return rp_reg_run(
      r,
      rp_reg_prep(r, err, "INSERT INTO logs(run, t, level, message) VALUES(?1, ?2, ?3, ?4)", "idtt",
                  run, now, level, msg ? msg : ""),
      err);
}

int rp_registry_run_end(rp_registry *r, int64_t run, const char *status, const char *message,
                        int force, rp_err *err) {
  if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0))
    return rp_errf(err, RP_EINVAL, "a run ends 'ok' or 'failed', got '%s'", status ? status : "");
  if (check_run(r, run, err)) return err->status;
  double now;
  if (rp_registry_now(&now, err)) return err->status;
  const char *sql =
      force ? "UPDATE runs SET status = ?2, message = CASE WHEN status = 'running' OR ?3 IS NULL "
              "OR message IS NULL THEN coalesce(?3, message) ELSE message || '; ' || ?3 END, "
              "ended = coalesce(ended, ?4), duration = coalesce(duration, ?5 - wall_started) "
              "WHERE id = ?1"
            : "UPDATE runs SET status = ?2, message = ?3, ended = ?4, duration = ?5 - "
              "wall_started WHERE id = ?1 AND status = 'running'";
  return rp_reg_run(r, rp_reg_prep(r, err, sql, "ittdd", run, status, message, now, wall()), err);
}
