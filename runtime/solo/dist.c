/*
 * solo/dist.c -- dist.h in one process, for a build without modules/dist
 * (make WITHOUT=dist links this file in its place; the Makefile links
 * runtime/solo/<m>.c for every module m left out that has one).
 *
 * Every process is rank 0 of 1: a collective is what modules/dist's is
 * outside mpirun (a copy or nothing), so the cores give the same bits as
 * the full build run without mpirun.  Started by mpirun anyway, rp_dist_init
 * refuses: N processes each doing the whole work alone would be wrong
 * without saying so.
 */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_dist_init(rp_err *err) {
  if (rp_dist_launched())
    return rp_errf(err, RP_EINVAL,
                   "started by mpirun, but this recpipe was built without modules/dist "
                   "(make WITHOUT=dist): it cannot run on several processes");
  return RP_OK;
}

int rp_dist_rank(void) { return 0; }
int rp_dist_size(void) { return 1; }
void rp_dist_finalize(void) {}

void rp_dist_abort(const char *msg) {
  fprintf(stderr, "recpipe: %s\n", msg);
  exit(1);
}

int rp_dist_barrier(rp_err *err) {
  (void)err;
  return RP_OK;
}

/* one rank: its rows are already all the rows */
int rp_dist_allgather_rows(void *buf, size_t rowbytes, const int64_t *off, rp_err *err) {
  (void)buf, (void)rowbytes, (void)off, (void)err;
  return RP_OK;
}

int rp_dist_allgather_bytes(const void *data, size_t n, char **out, size_t *sizes, rp_err *err) {
  sizes[0] = n;
  if (!(*out = rp_malloc(n + 1))) return rp_enomem(err, "all-gather buffer");
  if (n) memcpy(*out, data, n);
  return RP_OK;
}

uint64_t rp_dist_bytes_sent(void) { return 0; }
