/*
 * screen.c -- see screen.h.
 */
#include "screen.h"

int rp_als_screen_prepare(rp_als_model *m, rp_err *err) {
  (void)m;
  (void)err;
  return RP_OK;
}
int rp_als_screen_ready(const rp_als_model *m) { return m->screen != NULL; }
void rp_als_screen_topk(const rp_als_model *m, const float *x, const rp_als_list *excl, int nexcl,
                        rp_als_heap *h) {
  (void)m, (void)x, (void)excl, (void)nexcl, (void)h;
}
void rp_als_screen_free(void *screen) { rp_free(screen); }
