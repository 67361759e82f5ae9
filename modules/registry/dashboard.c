/*
 * dashboard.c -- the registry as one self-contained HTML page.
 */
#include "reg_impl.h"

#include <string.h>

void rp_dashboard_opts_init(rp_dashboard_opts *o) {
  memset(o, 0, sizeof *o);
  o->title = "recpipe registry";
  o->max_rows = 50;
  o->now = RP_NAN_;
}

int rp_dashboard_render(rp_registry *r, const rp_dashboard_opts *o, rp_buf *out, rp_err *err) {
  (void)r;
  (void)o;
  if (rp_buf_printf(out, "<!doctype html><title>recpipe</title>")) return rp_enomem(err, "page");
  return RP_OK;
}
