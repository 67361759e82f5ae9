/*
 * split.h -- train/test splits of an event log, all deterministic for a
 * seed and all keeping the shared id maps (train and test are Events on the
 * same maps as the input, so matrices built from them stay aligned).
 *
 * Every split labels each input event train, test or dropped, then copies
 * the rows out in input order (rp_events_select), so the union of train,
 * test and the dropped events is exactly the input.  Randomness never
 * comes from a stream whose position depends on thread scheduling: a
 * random split hashes (seed, user, item) or (seed, event index), so the
 * result depends only on the data and the seed.
 */
#ifndef RP_SPLIT_H
#define RP_SPLIT_H

#include "events.h"
#include "opts.h"

/* What a split did: counts of events and of users/items it dropped. */
typedef struct rp_split_report {
  int64_t input;               /* events in */
  int64_t train, test;         /* events out */
  int64_t dropped;             /* test events dropped (unknown user or item) */
  int64_t dropped_user_events; /* ... whose user has no train event */
  int64_t dropped_item_events; /* ... whose item has no train event */
  int64_t outside;             /* events outside the windows (window, time_range) */
  int32_t unknown_users;       /* distinct test users with no train event */
  int32_t unknown_items;       /* distinct test items with no train event */
  int32_t test_users;          /* distinct users with >= 1 test event */
  int32_t short_users;         /* users left wholly in train (history < min_history) */
  int64_t cutoff;              /* by_time: test = time >= cutoff */
  int has_cutoff;
} rp_split_report;

/* ---- options --------------------------------------------------------------
 * The options of every split function (and of the Lua iterators kfold and
 * rolling), named, defaulted and range-checked by one descriptor table per
 * function (runtime/core/opts.h) over rp_split_opts (rp_split_cold_opts
 * for the cold-start splits); the binding reads a Lua table through them
 * and exports them as rp.split.options(). */
typedef struct rp_split_opts {
  double test_fraction;
  uint64_t seed;
  int by;                       /* RP_SPLIT_BY_PAIR or _EVENT */
  int64_t k, fold, min_history; /* saturated to int32 by the callers */
  int keep_unknown;             /* by_time, window */
  double train_days, test_days; /* rolling (required) */
  double step_days;             /* rolling (absent: test_days) */
  int expanding;                /* rolling */
  /* times (Unix seconds; from Lua also ISO 8601 text); absent: RP_SPLIT_NO_TIME
   * (cutoff, train_end: not given) or unbounded (the others) */
  int64_t cutoff, train_start, train_end, test_end, from, to, start, stop;
} rp_split_opts;
/* The value of a time option not given (before every event time). */
#define RP_SPLIT_NO_TIME INT64_MIN
/* A time after every event time (an absent upper bound). */
#define RP_SPLIT_END_TIME ((int64_t)9200000000000000000)

extern const char *const rp_split_by_names[]; /* "pair", "event", NULL */
extern const rp_optdesc rp_split_random_optdesc[], rp_split_kfold_optdesc[],
    rp_split_fold_optdesc[], rp_split_by_time_optdesc[], rp_split_window_optdesc[],
    rp_split_time_range_optdesc[], rp_split_leave_last_optdesc[], rp_split_per_user_time_optdesc[],
    rp_split_rolling_optdesc[], rp_split_cold_users_optdesc[], rp_split_cold_items_optdesc[];

/* Unit a random split draws for: each distinct (user, item) pair (all its
 * events go to the same side, as implicit's train_test_split draws matrix
 * entries) or each event independently. */
enum { RP_SPLIT_BY_PAIR = 0, RP_SPLIT_BY_EVENT };

/* Random split: a unit goes to test when its uniform draw u(seed, unit) <
 * test_fraction (0 < test_fraction < 1).  On success *train and *test are
 * new Events owned by the caller; on failure both stay NULL. */
int rp_split_random(const rp_events *ev, double test_fraction, uint64_t seed, int by,
                    rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err);

/* Fold `fold` (0-based, < k) of a k-fold split: the test part is the units
 * whose draw u(seed, unit) falls in [fold/k, (fold+1)/k), the rest is
 * train.  The k test parts partition the input; fold 0 of k equals
 * rp_split_random with test_fraction 1/k and the same seed. */
int rp_split_kfold(const rp_events *ev, int32_t k, int32_t fold, uint64_t seed, int by,
                   rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err);

/* One global time cutoff: train = time < cutoff, test = time >= cutoff.
 * With use_cutoff = 0 the cutoff is chosen so that test holds about
 * test_fraction of the events (the smallest event time t with at most
 * (1 - test_fraction) * n events before it; ties at the cutoff all go to
 * test).  Unless keep_unknown, test events whose user or item has no train
 * event are dropped and counted.  Needs a time column. */
int rp_split_by_time(const rp_events *ev, double test_fraction, int64_t cutoff, int use_cutoff,
                     int keep_unknown, rp_events **train, rp_events **test, rp_split_report *rep,
                     rp_err *err);

/* A backtesting window: train = train_start <= time < train_end, test =
 * train_end <= time < test_end; other events are outside (counted).
 * Unknown users/items in test are dropped unless keep_unknown.  Needs a
 * time column; train_start <= train_end <= test_end. */
int rp_split_window(const rp_events *ev, int64_t train_start, int64_t train_end, int64_t test_end,
                    int keep_unknown, rp_events **train, rp_events **test, rp_split_report *rep,
                    rp_err *err);

/* The events with from <= time < to, in input order (a new Events owned by
 * the caller); rep->outside counts the others. */
int rp_split_time_range(const rp_events *ev, int64_t from, int64_t to, rp_events **out,
                        rp_split_report *rep, rp_err *err);

/* Each user's k latest events go to test (chronological order: time, then
 * input order; input order alone when there is no time column).  Users with
 * fewer than min_history events stay wholly in train (counted in
 * short_users); at least one event of every user stays in train. */
int rp_split_leave_last(const rp_events *ev, int32_t k, int32_t min_history, rp_events **train,
                        rp_events **test, rp_split_report *rep, rp_err *err);

/* Each user's newest share: round(test_fraction * n_u) latest events (half
 * rounds up) go to test, at least one event stays in train; users with
 * fewer than min_history events stay in train. */
int rp_split_per_user_time(const rp_events *ev, double test_fraction, int32_t min_history,
                           rp_events **train, rp_events **test, rp_split_report *rep, rp_err *err);

#define RP_SPLIT_MAX_REVEAL 32 /* reveal sizes of a cold-user split */

/* ---- cold-start splits (coldsplit.c) ------------------------------------------ */

typedef struct rp_split_cold {
  rp_events *train;
  int nreveal;
  int32_t reveal[RP_SPLIT_MAX_REVEAL];
  rp_events *known[RP_SPLIT_MAX_REVEAL], *test[RP_SPLIT_MAX_REVEAL];
  int32_t *users; /* held-out users (indices), ascending */
  int32_t nusers;
  int32_t test_users[RP_SPLIT_MAX_REVEAL]; /* users with a non-empty test */
} rp_split_cold;

typedef struct rp_split_cold_opts {
  double fraction;     /* share of the eligible users held out (when folds == 0) */
  int32_t folds, fold; /* folds > 0: hold out fold `fold` (1..folds) of a partition */
  const int32_t *reveal;
  int nreveal;
  uint64_t seed;
  int32_t min_events; /* users with fewer events are never held out */
  int same_test;
} rp_split_cold_opts;

/* Fills o with cold_users' defaults (rp_split_cold_users_optdesc: fraction
 * 0.1, no folds, seed 42, min_events 1, reveal {0, 1, 3, 5}, separate
 * tests); fold 0 with folds > 0 means fold 1. */
void rp_split_cold_opts_init(rp_split_cold_opts *o);

/* Holds out round(fraction * U) of the U users with at least min_events
 * events, or one of `folds` equal parts of them (a seeded shuffle chooses;
 * the folds of one seed partition the users, so every user is cold exactly
 * once over the folds).  Their events leave train.  For each reveal size n,
 * known = each held-out user's n oldest events (by time, then input order)
 * and test = the rest (same_test: the events after the largest reveal, the
 * same test for every n).  Everything is on ev's maps.  Fills *out (free
 * with rp_split_cold_free). */
int rp_split_cold_users(const rp_events *ev, const rp_split_cold_opts *o, rp_split_cold *out,
                        rp_err *err);
void rp_split_cold_free(rp_split_cold *c);

/* Holds out round(fraction * I) of the items with events; train = events of
 * the others, test = every event of the held-out items.  *items receives
 * them ascending (owned by the caller). */
int rp_split_cold_items(const rp_events *ev, double fraction, uint64_t seed, rp_events **train,
                        rp_events **test, int32_t **items, int32_t *nitems, rp_err *err);

#endif
