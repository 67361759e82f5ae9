/*
 * dist.h -- several processes under Open MPI: rank, size, the fixed-order
 * collectives the cores use to give the same bits on 1 or N processes, and
 * the failure path.
 *
 * Present in every build.  A process started by mpirun (Open MPI's or
 * PMIx's environment variables set) joins MPI_COMM_WORLD at rp_dist_init;
 * any other process is rank 0 of 1, never calls MPI, and every collective
 * below is then a copy or nothing.  MPI is called from the thread that
 * called rp_dist_init only (MPI_THREAD_FUNNELED): never from a parallel
 * region.
 *
 * Determinism.  No collective here reduces in MPI's own order: a sum is an
 * all-gather of the parts followed by the same left fold on every process,
 * in an order the caller fixes (rank order, or the order of fixed-size
 * blocks that does not depend on N).  So results are identical on every
 * rank, and a caller that folds in a block order independent of N gets the
 * bits of a single process.
 *
 * Failure.  A core returns its error as usual; the host prints it as
 * "rank R: message" and calls rp_dist_abort, which ends every rank
 * (MPI_Abort): an error on one rank never leaves the others waiting.
 */
#ifndef RP_DIST_H
#define RP_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

/* Joins MPI when started by mpirun (idempotent; later calls return the
 * first status).  RP_EINVAL with err set when MPI_Init fails. */
int rp_dist_init(rp_err *err);
/* 1 when this process was started by mpirun (whatever the size). */
int rp_dist_launched(void);
int rp_dist_rank(void); /* 0 .. size-1; 0 outside MPI */
int rp_dist_size(void); /* 1 outside MPI */
/* Finalizes MPI (after a barrier) when it was initialized; idempotent. */
void rp_dist_finalize(void);
/* Prints "recpipe: rank R: msg" (or "recpipe: msg" outside MPI) to stderr
 * and ends every process with status 1. */
void rp_dist_abort(const char *msg) __attribute__((noreturn));

int rp_dist_barrier(rp_err *err);

/* Row offsets off[0..size] cutting rows 0..n into contiguous blocks, one per
 * rank, of about equal work: work[r] is row r's cost (NULL = 1 each); a
 * block ends before the first row whose middle reaches the rank's share,
 * so no block exceeds its share by more than the largest row.  The cut
 * depends on (n, work, size) only. */
void rp_dist_blocks(int64_t n, const int64_t *work, int size, int64_t *off);

/* In place: rank r's rows off[r]..off[r+1] of buf (rowbytes each) reach
 * every rank (MPI_Allgatherv).  Counts sent bytes (rp_dist_bytes_sent). */
int rp_dist_allgather_rows(void *buf, size_t rowbytes, const int64_t *off, rp_err *err);

/* Every rank gives n bytes at data; *out (rp_malloc'd, owned by the caller)
 * receives all ranks' bytes in rank order and sizes[r] (size entries,
 * caller's array) each rank's count.  Any sizes, also above 2 GiB. */
int rp_dist_allgather_bytes(const void *data, size_t n, char **out, size_t *sizes, rp_err *err);

/* Bytes this process has sent to other processes so far (each payload
 * counted once per receiving process: what a direct exchange sends). */
uint64_t rp_dist_bytes_sent(void);

/* ---- sharded reads (dist_read.c) ------------------------------------------- */
struct rp_io_read_opts;
struct rp_io_read_report;
struct rp_events;
/* One log from the files paths[0..n) (a day per file), as one process
 * reading them one after the other onto the maps of o would give it: rows
 * in file order, ids indexed in order of first appearance over the files
 * (the maps given in o grow), event types and context values merged by
 * name as rp_events_concat does; the report sums the files'.  Under MPI
 * rank r reads a contiguous share of the files and the shares are
 * all-gathered and merged in rank order, so every rank gets the same log,
 * maps and report for any number of processes.  An error on a rank (a
 * missing file: "cannot open 'day3.csv'") is that rank's error. */
int rp_dist_read_events(const char *const *paths, int64_t n, const struct rp_io_read_opts *o,
                        struct rp_events **out, struct rp_io_read_report *rep, rp_err *err);
/* The files matching a glob(7) pattern, in byte order of their names, as
 * rank 0 lists them, on every rank: *out is one rp_malloc'd block (free it
 * with rp_free); no match is an error naming the pattern. */
int rp_dist_glob(const char *pattern, char ***out, int64_t *n, rp_err *err);

#endif
