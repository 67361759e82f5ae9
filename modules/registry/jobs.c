/*
 * jobs.c -- the scheduler's state in the registry: per job the slot it
 * works on (a scheduled time), whether that slot is done, the attempts made
 * and when to retry.  A job is busy while one of its runs is running with a
 * live owner: the run row is the lease, so two schedulers on one registry
 * never run a job twice at once, and a scheduler killed mid-run frees the
 * job as soon as its run is marked failed.
 */
#include "reg_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static double wall(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static int running_runs(rp_registry *r, const char *name, int *n, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(
      r, err, "SELECT count(*) FROM runs WHERE job = ?1 AND status = 'running'", "t", name);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? RP_OK : rp_reg_error(r, err, "reading runs");
}

/* A slot whose run ended ok is done, even when the scheduler died before
 * it could say so (the child records its own end): never run it twice. */
static int settle_locked(rp_registry *r, const char *name, rp_err *err) {
  return rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "UPDATE jobs SET done = 1, retry_at = NULL WHERE name = ?1 AND "
                                "done = 0 AND EXISTS (SELECT 1 FROM runs WHERE job = ?1 AND "
                                "slot = jobs.slot AND status = 'ok')",
                                "t", name),
                    err);
}

int rp_registry_job_state(rp_registry *r, const char *name, rp_job_state *s, rp_err *err) {
  memset(s, 0, sizeof *s);
  s->slot = s->retry_at = s->last_end = RP_NAN_;
  if (rp_registry_check_name("job", name, err)) return err->status;
  int rc = RP_OK;
  if (!r->readonly) {
    if (rp_reg_begin(r, err)) return err->status;
    rc = rp_reg_recover_locked(r, name, NULL, err);
    if (!rc) rc = settle_locked(r, name, err);
    if (rc) {
      rp_reg_rollback(r);
      return rc;
    }
    if (rp_reg_commit(r, err)) return err->status;
  }
  if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return rp_reg_error(r, err, "reading");
  sqlite3_stmt *st = rp_reg_prep(
      r, err, "SELECT slot, done, attempts, retry_at, last_run FROM jobs WHERE name = ?1", "t",
      name);
  if (!st) rc = err->status;
  if (!rc) {
    int k = sqlite3_step(st);
    if (k == SQLITE_ROW) {
      s->known = 1;
      s->slot = rp_reg_col_double(st, 0);
      s->done = sqlite3_column_int(st, 1);
      s->attempts = sqlite3_column_int(st, 2);
      s->retry_at = rp_reg_col_double(st, 3);
    } else if (k != SQLITE_DONE) {
      rc = rp_reg_error(r, err, "reading jobs");
    }
    sqlite3_finalize(st);
  }
  if (!rc) {
    st = rp_reg_prep(r, err,
                     "SELECT id, status, ended FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT 1",
                     "t", name);
    if (!st) rc = err->status;
    if (!rc) {
      if (sqlite3_step(st) == SQLITE_ROW) {
        s->last_run = sqlite3_column_int64(st, 0);
        snprintf(s->last_status, sizeof s->last_status, "%s",
                 (const char *)sqlite3_column_text(st, 1));
        s->last_end = rp_reg_col_double(st, 2);
      }
      sqlite3_finalize(st);
    }
  }
  int n = 0;
  if (!rc) rc = running_runs(r, name, &n, err);
  s->running = n > 0;
  sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
  return rc;
}

int rp_registry_job_start(rp_registry *r, const char *name, double slot, const char *pipeline,
                          const char *config, int64_t *run, int *busy, rp_err *err) {
  *busy = 0;
  *run = 0;
  if (rp_reg_writable(r, "start a job", err) || rp_registry_check_name("job", name, err))
    return err->status;
  if (isnan(slot)) return rp_errf(err, RP_EINVAL, "job '%s': no slot to start", name);
  double now;
  if (rp_registry_now(&now, err) || rp_reg_begin(r, err)) return err->status;
  int n = 0, rc = rp_reg_recover_locked(r, name, NULL, err);
  if (!rc) rc = settle_locked(r, name, err);
  if (!rc) rc = running_runs(r, name, &n, err);
  if (!rc && n > 0) {
    *busy = 1;
    rp_reg_rollback(r);
    return RP_OK;
  }
  if (!rc) { /* done meanwhile (another scheduler, or a run that ended ok) */
    sqlite3_stmt *st = rp_reg_prep(
        r, err, "SELECT 1 FROM jobs WHERE name = ?1 AND slot = ?2 AND done = 1", "td", name, slot);
    int k = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st) sqlite3_finalize(st);
    if (k == SQLITE_ROW) {
      *busy = 2;
      rp_reg_commit(r, err);
      return RP_OK;
    }
  }
  if (!rc)
    rc = rp_reg_run(
        r,
        rp_reg_prep(r, err,
                    "INSERT INTO runs(pipeline, job, config, started, wall_started, "
                    "status, slot) VALUES(?1, ?2, ?3, ?4, ?5, 'running', ?6)",
                    "tttddd", pipeline ? pipeline : name, name, config, now, wall(), slot),
        err);
  int64_t id = sqlite3_last_insert_rowid(r->db);
  if (!rc) rc = rp_registry_run_owner(r, id, 0, err);
  /* a new slot starts its attempts afresh */
  if (!rc)
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "INSERT INTO jobs(name, slot, done, attempts, retry_at, last_run) "
                                "VALUES(?1, ?2, 0, 1, NULL, ?3) ON CONFLICT(name) DO UPDATE SET "
                                "attempts = CASE WHEN slot IS ?2 THEN attempts + 1 ELSE 1 END, "
                                "slot = ?2, done = 0, retry_at = NULL, last_run = ?3",
                                "tdi", name, slot, id),
                    err);
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  if ((rc = rp_reg_commit(r, err))) return rc;
  *run = id;
  return RP_OK;
}

int rp_registry_job_finish(rp_registry *r, const char *name, int64_t run, int ok,
                           const char *message, int retries, double backoff, rp_err *err) {
  if (rp_reg_writable(r, "finish a job", err) || rp_registry_check_name("job", name, err))
    return err->status;
  if (retries < 0 || isnan(backoff) || backoff < 0)
    return rp_errf(err, RP_EINVAL, "job '%s': retries and backoff must be >= 0", name);
  double now;
  if (rp_registry_now(&now, err) || rp_reg_begin(r, err)) return err->status;
  int rc = rp_registry_run_end(r, run, ok ? "ok" : "failed", message, !ok, err);
  /* exited 0 after another process took it for dead (a zombie not yet
   * reaped): the exit status is the truth */
  if (!rc && ok)
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "UPDATE runs SET status = 'ok', message = NULL WHERE id = ?1 AND "
                                "status = 'failed' AND message LIKE 'the process % ended before "
                                "the run did%'",
                                "i", run),
                    err);
  /* the child may have recorded 'failed' itself and still exited 0 */
  if (!rc && ok) {
    sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT status FROM runs WHERE id = ?1", "i", run);
    if (!st) rc = err->status;
    if (!rc && sqlite3_step(st) == SQLITE_ROW)
      ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    if (st) sqlite3_finalize(st);
  }
  if (!rc)
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "UPDATE jobs SET done = CASE WHEN ?2 OR attempts > ?3 THEN 1 ELSE "
                                "0 END, retry_at = CASE WHEN ?2 OR attempts > ?3 THEN NULL ELSE "
                                "?4 + ?5 * (1 << (min(attempts, 30) - 1)) END WHERE name = ?1 AND "
                                "last_run = ?6",
                                "tiiddi", name, (int64_t)ok, (int64_t)retries, now, backoff, run),
                    err);
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  return rp_reg_commit(r, err);
}
