/*
 * dist.c -- Open MPI underneath dist.h (runtime/core): joining, the failure
 * path and the fixed-order collectives.  See dist.h; rp_dist_blocks and
 * rp_dist_launched, which need no MPI, are in runtime/core/dist_common.c.
 */
#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status, in_mpi, my_rank, my_size = 1;
static uint64_t sent;

static int mpi_error(rp_err *err, int rc, const char *what) {
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) len = 0;
  return rp_errf(err, RP_EIO, "%s failed: %.*s", what, len, s);
}

/* joined once, by whichever thread asks first (the host: its main thread,
 * before the script runs); then read-only */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char init_msg[256];

static void init_once(void) {
  if (!rp_dist_launched()) return;
  int provided = 0, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) {
    status = RP_EIO;
    snprintf(init_msg, sizeof init_msg, "MPI_Init_thread failed (code %d)", rc);
    return;
  }
  in_mpi = 1;
  /* errors come back as codes, turned into messages (then rp_dist_abort) */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &my_size);
}

int rp_dist_init(rp_err *err) {
  pthread_once(&once, init_once);
  return status ? rp_errf(err, status, "%s", init_msg) : RP_OK;
}

static void ensure(void) { pthread_once(&once, init_once); }

int rp_dist_rank(void) {
  ensure();
  return my_rank;
}

int rp_dist_size(void) {
  ensure();
  return my_size;
}

void rp_dist_finalize(void) {
  if (!in_mpi) return;
  in_mpi = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
}

void rp_dist_abort(const char *msg) {
  if (in_mpi) {
    fprintf(stderr, "recpipe: rank %d: %s\n", my_rank, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  } else {
    fprintf(stderr, "recpipe: %s\n", msg);
  }
  exit(1);
}

int rp_dist_barrier(rp_err *err) {
  ensure();
  if (!in_mpi) return RP_OK;
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  return rc == MPI_SUCCESS ? RP_OK : mpi_error(err, rc, "MPI_Barrier");
}

int rp_dist_allgather_rows(void *buf, size_t rowbytes, const int64_t *off, rp_err *err) {
  ensure();
  if (!in_mpi || my_size == 1) return RP_OK;
  if (off[my_size] > INT_MAX || rowbytes > INT_MAX || rowbytes == 0)
    return rp_errf(err, RP_EINVAL, "all-gather of %lld rows of %zu bytes: too many for MPI counts",
                   (long long)off[my_size], rowbytes);
  int *cnt = rp_malloc(2 * sizeof(int) * (size_t)my_size);
  if (!cnt) return rp_enomem(err, "all-gather counts");
  int *disp = cnt + my_size;
  for (int r = 0; r < my_size; r++) cnt[r] = (int)(off[r + 1] - off[r]), disp[r] = (int)off[r];
  MPI_Datatype row;
  int rc = MPI_Type_contiguous((int)rowbytes, MPI_BYTE, &row);
  if (rc == MPI_SUCCESS && (rc = MPI_Type_commit(&row)) == MPI_SUCCESS) {
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, disp, row, MPI_COMM_WORLD);
    MPI_Type_free(&row);
  }
  if (rc == MPI_SUCCESS) sent += (uint64_t)cnt[my_rank] * rowbytes * (uint64_t)(my_size - 1);
  rp_free(cnt);
  return rc == MPI_SUCCESS ? RP_OK : mpi_error(err, rc, "MPI_Allgatherv");
}

#define BCAST_CHUNK ((size_t)1 << 30)

int rp_dist_allgather_bytes(const void *data, size_t n, char **out, size_t *sizes, rp_err *err) {
  ensure();
  *out = NULL;
  if (!in_mpi || my_size == 1) {
    sizes[0] = n;
    if (!(*out = rp_malloc(n + 1))) return rp_enomem(err, "all-gather buffer");
    if (n) memcpy(*out, data, n);
    return RP_OK;
  }
  uint64_t mine = n, *all = rp_malloc(sizeof(uint64_t) * (size_t)my_size);
  if (!all) return rp_enomem(err, "all-gather sizes");
  int rc = MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) {
    rp_free(all);
    return mpi_error(err, rc, "MPI_Allgather");
  }
  size_t total = 0;
  for (int r = 0; r < my_size; r++) sizes[r] = (size_t)all[r], total += (size_t)all[r];
  rp_free(all);
  char *buf = rp_malloc(total + 1);
  if (!buf) return rp_enomem(err, "all-gather buffer");
  size_t at = 0;
  for (int r = 0; r < my_size && rc == MPI_SUCCESS; r++) {
    if (r == my_rank && sizes[r]) memcpy(buf + at, data, sizes[r]);
    for (size_t o = 0; o < sizes[r] && rc == MPI_SUCCESS; o += BCAST_CHUNK) {
      size_t len = sizes[r] - o < BCAST_CHUNK ? sizes[r] - o : BCAST_CHUNK;
      rc = MPI_Bcast(buf + at + o, (int)len, MPI_BYTE, r, MPI_COMM_WORLD);
    }
    at += sizes[r];
  }
  if (rc != MPI_SUCCESS) {
    rp_free(buf);
    return mpi_error(err, rc, "MPI_Bcast");
  }
  sent += (uint64_t)n * (uint64_t)(my_size - 1);
  *out = buf;
  return RP_OK;
}

uint64_t rp_dist_bytes_sent(void) { return sent; }
