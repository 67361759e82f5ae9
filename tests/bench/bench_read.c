/*
 * bench_read.c -- times rp_io_read_events on a file (used by bench_read.sh).
 *   bench_read FILE [threads] [runs] [user item value time]
 * Prints one line per run: seconds, MB/s, rows, users, items, peak bytes
 * of the allocation choke point, Events bytes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "reader.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_read FILE [threads] [runs] [user item value time]\n");
    return 2;
  }
  int threads = argc > 2 ? atoi(argv[2]) : 0, runs = argc > 3 ? atoi(argv[3]) : 1;
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.threads = threads;
  o.user.name = argc > 4 ? argv[4] : "user_id";
  o.item.name = argc > 5 ? argv[5] : "item_id";
  o.value.name = argc > 6 ? argv[6] : "value";
  o.time.name = argc > 7 ? argv[7] : "timestamp";
  for (int r = 0; r < runs; r++) {
    rp_mem_reset_peak();
    size_t base = rp_mem_current();
    rp_events *ev;
    rp_io_read_report rep;
    rp_err err;
    double t0 = rp_now();
    if (rp_io_read_events(argv[1], &o, &ev, &rep, &err)) {
      fprintf(stderr, "bench_read: %s\n", err.msg);
      return 1;
    }
    double t = rp_now() - t0;
    size_t bytes = rp_events_bytes(ev);
    printf(
        "seconds %.4f mbps %.1f rows %lld users %d items %d peak %zu events_bytes %zu maps %zu\n",
        t, (double)rep.bytes / 1e6 / t, (long long)ev->n, ev->users->n, ev->items->n,
        rp_mem_peak() - base, bytes, rp_idmap_bytes(ev->users) + rp_idmap_bytes(ev->items));
    rp_events_free(ev);
  }
  return 0;
}
