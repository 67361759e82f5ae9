/*
 * dist.h -- several processes: rank, size, the fixed-order collectives the
 * cores use to give the same bits on 1 or N processes, and the failure
 * path.
 *
 * An interface of the foundation with two implementations, one per build:
 * modules/dist (Open MPI) when the module is in, runtime/solo/dist.c (one
 * process) when it is left out (make WITHOUT=dist), so a core that can run
 * on several processes (ALS training, evaluation, reading many files)
 * depends on this header, not on a module.  rp_dist_blocks and
 * rp_dist_launched are the same in both (runtime/core/dist_common.c).
 *
 * With modules/dist, a process started by mpirun (Open MPI's or PMIx's
 * environment variables set) joins MPI_COMM_WORLD at rp_dist_init; any
 * other process is rank 0 of 1, never calls MPI, and every collective
 * below is then a copy or nothing.  Without it every process is rank 0 of
 * 1, and rp_dist_init refuses to run under mpirun (N copies of one
 * process's work would be silently wrong).  MPI is called from the thread that
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
 * first status).  RP_EINVAL with err set when MPI_Init fails, or (without
 * modules/dist) when started by mpirun at all. */
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

#endif
