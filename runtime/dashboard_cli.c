/*
 * dashboard_cli.c -- `recpipe dashboard REGISTRY -o FILE [--title T]`: the
 * registry's page (modules/registry/dashboard.c) written atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "registry.h"
#include "rio.h"

static const char *usage =
    "usage: recpipe dashboard REGISTRY -o FILE [--title TEXT] [--rows N]\n"
    "\n"
    "Writes the registry as one self-contained HTML page (inline SVG, no script,\n"
    "nothing fetched): model versions with their metrics and intervals, promotions\n"
    "and refusals, measures against their thresholds, click-through by model version\n"
    "and reason, recent alerts and failed runs.  The registry is opened read-only.\n";

int rp_dashboard_main(int argc, char **argv, int at) {
  const char *reg_path = NULL, *out = NULL;
  rp_dashboard_opts o;
  rp_dashboard_opts_init(&o);
  for (int i = at; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(a, "--title") == 0 && i + 1 < argc) {
      o.title = argv[++i];
    } else if (strcmp(a, "--rows") == 0 && i + 1 < argc) {
      o.max_rows = atoi(argv[++i]);
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (a[0] == '-' || reg_path) {
      fprintf(stderr, "recpipe dashboard: unexpected argument '%s'\n%s", a, usage);
      return 1;
    } else {
      reg_path = a;
    }
  }
  if (!reg_path || !out) {
    fprintf(stderr, "recpipe dashboard: needs a registry and -o FILE\n%s", usage);
    return 1;
  }
  rp_registry_opts ro;
  rp_registry_opts_init(&ro);
  ro.readonly = 1;
  rp_registry *r;
  rp_err err;
  if (rp_registry_open(reg_path, &ro, &r, &err)) {
    fprintf(stderr, "recpipe dashboard: %s\n", err.msg);
    return 1;
  }
  rp_buf b = {0};
  int rc = rp_dashboard_render(r, &o, &b, &err);
  rp_registry_close(r);
  if (!rc) {
    rp_writer *w = rp_writer_open(out, &err);
    rc = w ? rp_writer_write(w, b.data, b.len, &err) : err.status;
    if (w && rc) rp_writer_abort(w);
    if (w && !rc) rc = rp_writer_commit(w, &err);
  }
  rp_buf_free(&b);
  if (rc) {
    fprintf(stderr, "recpipe dashboard: %s\n", err.msg);
    return 1;
  }
  return 0;
}
