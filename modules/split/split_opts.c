/*
 * split_opts.c -- the options of rp.split's functions: one descriptor
 * table per function (runtime/core/opts.h), the only place their names,
 * defaults and ranges are written.  The binding reads Lua tables through
 * them, rp.split.options() exports them, and split_ext.lua's iterators
 * (kfold, rolling) check their options with them (rp.split._checkopts).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "split.h"

const char *const rp_split_by_names[] = {"pair", "event", NULL};

#define O rp_split_opts
#define ANY 9.3e18 /* no upper bound (saturated by the callers) */
#define FRACTION(d) \
  RP_OPT_N(O, test_fraction, "test_fraction", d, 0, 1, RP_OPT_LO_OPEN | RP_OPT_HI_OPEN)
#define SEED RP_OPT_SEED_(O, seed, "seed", 42)
#define BY RP_OPT_E(O, by, "by", RP_SPLIT_BY_PAIR, rp_split_by_names)
#define KEEP RP_OPT_B(O, keep_unknown, "keep_unknown", 0)
#define MIN_HISTORY RP_OPT_I(O, min_history, "min_history", 2, 0, ANY)
/* a time option; absent: RP_SPLIT_NO_TIME or RP_SPLIT_END_TIME (w says) */
#define TIME_(f, key, d, w) \
  { key, RP_OPT_TIME, RP_OPTF_(O, f), d, NULL, -9.3e18, 9.3e18, RP_OPT_NODEFAULT, NULL, w }
#define TIME(f, key, w) TIME_(f, key, (double)RP_SPLIT_NO_TIME, w)
#define UNTIL(f, key, w) TIME_(f, key, (double)RP_SPLIT_END_TIME, w)
#define DAYS(f, key, w)                                                                       \
  {                                                                                           \
    key, RP_OPT_NUM, RP_OPTF_(O, f), 0, NULL, 0, HUGE_VAL, RP_OPT_LO_OPEN | RP_OPT_NODEFAULT, \
        NULL, w                                                                               \
  }

const rp_optdesc rp_split_random_optdesc[] = {FRACTION(0.2), SEED, BY, RP_OPT_END};
const rp_optdesc rp_split_kfold_optdesc[] = {RP_OPT_I(O, k, "k", 5, 2, ANY), SEED, BY, RP_OPT_END};
/* one fold of kfold (rp.split._fold): fold in 1..k */
const rp_optdesc rp_split_fold_optdesc[] = {
    RP_OPT_I(O, k, "k", 5, 2, ANY), RP_OPT_I(O, fold, "fold", 1, 1, ANY), SEED, BY, RP_OPT_END};
const rp_optdesc rp_split_by_time_optdesc[] = {
    FRACTION(0.2), TIME(cutoff, "cutoff", "test = time >= cutoff; instead of test_fraction"), KEEP,
    RP_OPT_END};
const rp_optdesc rp_split_window_optdesc[] = {
    TIME(train_start, "train_start", "default: the first event"),
    TIME(train_end, "train_end", "required"),
    UNTIL(test_end, "test_end", "default: after the last event"), KEEP, RP_OPT_END};
const rp_optdesc rp_split_time_range_optdesc[] = {TIME(from, "from", "default: the first event"),
                                                  UNTIL(to, "to", "default: after the last event"),
                                                  RP_OPT_END};
const rp_optdesc rp_split_leave_last_optdesc[] = {RP_OPT_I(O, k, "k", 1, 1, ANY), MIN_HISTORY,
                                                  RP_OPT_END};
const rp_optdesc rp_split_per_user_time_optdesc[] = {FRACTION(0.1), MIN_HISTORY, RP_OPT_END};
const rp_optdesc rp_split_rolling_optdesc[] = {
    DAYS(train_days, "train_days", "days of training per window; required"),
    DAYS(test_days, "test_days", "days of testing per window; required"),
    DAYS(step_days, "step_days", "days between windows; default: test_days"),
    TIME(start, "start", "default: the first event"),
    TIME(stop, "stop", "default: after the last event"),
    RP_OPT_B(O, expanding, "expanding", 0),
    KEEP,
    RP_OPT_END};
#undef O

#define STR_(x) #x
#define STR(x) STR_(x)
#define C rp_split_cold_opts
#define COLD_FRACTION RP_OPT_N(C, fraction, "fraction", 0.1, 0, 1, RP_OPT_LO_OPEN)
#define COLD_SEED RP_OPT_SEED_(C, seed, "seed", 42)
const rp_optdesc rp_split_cold_users_optdesc[] = {
    COLD_FRACTION,
    RP_OPT_I(C, folds, "folds", 0, 0, 1000000),
    {"fold", RP_OPT_INT, RP_OPTF_(C, fold), 0, NULL, 0, 1000000, 0, NULL,
     "1..folds; default 1 with folds"},
    RP_OPT_X("reveal",
             "a list of 1 to " STR(RP_SPLIT_MAX_REVEAL) " sizes >= 0 (default {0, 1, 3, 5})"),
    COLD_SEED,
    RP_OPT_I(C, min_events, "min_events", 1, 1, INT32_MAX),
    RP_OPT_B(C, same_test, "same_test", 0),
    RP_OPT_END};
const rp_optdesc rp_split_cold_items_optdesc[] = {COLD_FRACTION, COLD_SEED, RP_OPT_END};
#undef C

static const int32_t default_reveal[] = {0, 1, 3, 5};

void rp_split_cold_opts_init(rp_split_cold_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_split_cold_users_optdesc, o);
  o->reveal = default_reveal;
  o->nreveal = (int)(sizeof default_reveal / sizeof default_reveal[0]);
}
