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

#endif
