/*
 * rptest.h -- shared helpers for the Check unit tests (C cores only, no Lua).
 * Each tests/unit/test_<x>.c defines `static Suite *suite(void)` and ends
 * with RP_TEST_MAIN(suite).
 */
#ifndef RP_TEST_H
#define RP_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "rp.h"

#define RP_TEST_MAIN(suite_fn)                                                \
  int main(void) {                                                            \
    SRunner *sr = srunner_create(suite_fn());                                 \
    srunner_set_fork_status(sr, CK_NOFORK);                                   \
    srunner_run_all(sr, CK_NORMAL);                                           \
    int nf = srunner_ntests_failed(sr);                                       \
    srunner_free(sr);                                                         \
    if (rp_mem_current() != 0) {                                              \
      fprintf(stderr, "leak: %zu bytes still allocated\n", rp_mem_current()); \
      return 1;                                                               \
    }                                                                         \
    return nf == 0 ? 0 : 1;                                                   \
  }

/* A scratch file path under a fresh temporary directory (static buffer). */
static inline const char *rp_test_tmp(const char *name) {
  static char dir[256], path[512];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/recpipe-unit.XXXXXX");
    if (!mkdtemp(dir)) abort();
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static inline void rp_test_write(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

/* Fault loop: runs body with the n-th allocation failing, n = 1, 2, ...,
 * until a run completes without the injected failure firing.  body must
 * return 0 on success or a status, and free everything either way.  Checks
 * that each failing run reported RP_ENOMEM and leaked nothing. */
#define RP_FAULT_LOOP(body_expr)                                                         \
  do {                                                                                   \
    size_t base_ = rp_mem_current();                                                     \
    for (long n_ = 1;; n_++) {                                                           \
      rp_mem_fail_after(n_);                                                             \
      int rc_ = (body_expr);                                                             \
      int fired_ = rp_mem_failed();                                                      \
      rp_mem_fail_after(0);                                                              \
      ck_assert_msg(rp_mem_current() == base_, "leak after failing allocation %ld", n_); \
      if (!fired_) {                                                                     \
        ck_assert_int_eq(rc_, 0);                                                        \
        break;                                                                           \
      }                                                                                  \
      ck_assert_msg(rc_ != 0, "allocation %ld failed but the call succeeded", n_);       \
    }                                                                                    \
  } while (0)

/* A new map of the ids prefix0, prefix1, ..., prefix<n-1>. */
static inline rp_idmap *rp_test_numbered(const char *prefix, int n) {
  rp_idmap *m = rp_idmap_new(NULL);
  char buf[32];
  for (int i = 0; i < n; i++) {
    int32_t j;
    int len = snprintf(buf, sizeof buf, "%s%d", prefix, i);
    ck_assert_int_eq(rp_idmap_intern(m, buf, (size_t)len, &j, NULL), 0);
  }
  return m;
}

/* New Events from arrays: event i is user "u<u[i]>", item "i<it[i]>",
 * value v[i] (1 when v is NULL) and time t[i] (no time column when t is
 * NULL); ids are numbered in order of first appearance. */
static inline rp_events *rp_test_events(int n, const int *u, const int *it, const float *v,
                                        const int64_t *t) {
  rp_err err;
  rp_events *ev = rp_events_new(NULL, NULL, t != NULL, NULL, 0, NULL, NULL, &err);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(rp_events_reserve(ev, n, &err), 0);
  char b[32];
  for (int i = 0; i < n; i++) {
    int32_t ui, ii;
    snprintf(b, sizeof b, "u%d", u[i]);
    ck_assert_int_eq(rp_idmap_intern(ev->users, b, strlen(b), &ui, &err), 0);
    snprintf(b, sizeof b, "i%d", it[i]);
    ck_assert_int_eq(rp_idmap_intern(ev->items, b, strlen(b), &ii, &err), 0);
    ev->user[i] = ui, ev->item[i] = ii, ev->value[i] = v ? v[i] : 1.0f;
    if (t) ev->time[i] = t[i];
  }
  ev->n = n;
  return ev;
}

#endif
