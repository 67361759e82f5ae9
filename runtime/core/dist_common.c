/*
 * dist_common.c -- the parts of dist.h that need no MPI, shared by both of
 * its implementations (modules/dist/dist.c with Open MPI, runtime/solo/dist.c
 * in one process): whether mpirun started us, and how rows are cut into
 * one block per rank.
 */
#include "dist.h"

#include <stdlib.h>

int rp_dist_launched(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  for (size_t k = 0; k < sizeof vars / sizeof *vars; k++)
    if (getenv(vars[k])) return 1;
  return 0;
}

void rp_dist_blocks(int64_t n, const int64_t *work, int size, int64_t *off) {
  if (size < 1) size = 1;
  off[0] = 0, off[size] = n;
  if (!work) {
    for (int r = 1; r < size; r++) off[r] = (int64_t)((__int128)n * r / size);
    return;
  }
  __int128 total = 0;
  for (int64_t i = 0; i < n; i++) total += work[i];
  /* block r ends before the first row whose middle is at or past
   * total * r / size: (2 acc + work) size >= 2 total r, exactly */
  __int128 acc = 0;
  int64_t i = 0;
  for (int r = 1; r < size; r++) {
    while (i < n && (2 * acc + work[i]) * size < 2 * total * r) acc += work[i++];
    off[r] = i;
  }
}
