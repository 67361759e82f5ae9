/*
 * reg_impl.h -- what the registry's files share: the handle, SQL helpers
 * and the identity of a process (for "is the owner of this run alive").
 */
#ifndef RP_REG_IMPL_H
#define RP_REG_IMPL_H

#include <math.h>
#include <sqlite3.h>

#include "registry.h"

#define RP_NAN_ ((double)NAN)

struct rp_registry {
  sqlite3 *db;
  char *path;   /* as given */
  char *dir;    /* absolute directory of the database */
  char *models; /* <dir>/models */
  int readonly;
  int adopted; /* this process has adopted RECPIPE_RUN already */
};

/* Who a process is: pid, its start time (clock ticks after boot, from
 * /proc/PID/stat), the boot it runs in and the host. */
typedef struct rp_proc_id {
  int pid;
  int64_t start;
  char boot[40];
  char host[64];
} rp_proc_id;

/* Fills id for pid (0: the calling process); RP_EIO when pid is gone. */
int rp_proc_identify(int pid, rp_proc_id *id);
/* 1 when the process is alive (a zombie counts: its parent will record its
 * end), 0 when it is gone, -1 when it cannot tell (another host). */
int rp_proc_alive(const char *host, const char *boot, int pid, int64_t start);

/* Runs sql (no results); err names what failed. */
int rp_reg_exec(rp_registry *r, const char *sql, rp_err *err);
/* Prepares sql and binds the arguments described by types, one char each:
 * 't' const char * (NULL binds NULL), 'i' int64_t, 'd' double (NAN binds
 * NULL), 'n' an int64_t bound as NULL (the
 * same call with an optional integer).  NULL with err set on failure. */
sqlite3_stmt *rp_reg_prep(rp_registry *r, rp_err *err, const char *sql, const char *types, ...);
/* Steps a statement that returns no row and finalizes it. */
int rp_reg_run(rp_registry *r, sqlite3_stmt *st, rp_err *err);
/* The error of the last call on r's connection, as an rp_err. */
int rp_reg_error(rp_registry *r, rp_err *err, const char *what);
/* BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout), COMMIT
 * and ROLLBACK (the latter never fails visibly). */
int rp_reg_begin(rp_registry *r, rp_err *err);
int rp_reg_commit(rp_registry *r, rp_err *err);
void rp_reg_rollback(rp_registry *r);
/* RP_EINVAL when r was opened read-only. */
int rp_reg_writable(rp_registry *r, const char *what, rp_err *err);
/* Column i of the current row as a double (NULL: NAN). */
double rp_reg_col_double(sqlite3_stmt *st, int i);
/* Marks dead owners' running runs failed (inside a transaction the caller
 * holds); job: only the runs of this job (NULL: all). */
int rp_reg_recover_locked(rp_registry *r, const char *job, int *n, rp_err *err);

#endif
