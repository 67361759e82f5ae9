/*
 * gen.h -- synthetic e-commerce interaction logs with a planted structure.
 *
 * The generator builds a small hidden world and writes what a shop would log
 * about it:
 *   - K taste clusters of uneven size; every item and every user belongs to
 *     one (users also lean towards a second one);
 *   - item popularity is Zipf-like (rank^-popularity, ranked at random
 *     within each cluster), user activity log-normal (sigma = activity);
 *   - users browse in sessions: views drawn from their own cluster (share
 *     `affinity`), their second cluster (`secondary`) or the whole catalogue
 *     (the rest), re-views within a session, add-to-cart more likely for
 *     items of their own cluster, purchases of carted items at checkout;
 *     a view drawn on an item the user saw in an earlier session is kept
 *     with probability `revisit`, else drawn again (users explore);
 *   - timestamps over `days` days with a daily and weekly rhythm, and a slow
 *     drift: each cluster's popularity follows its own slow wave, so the
 *     share of a cluster rises and falls over months;
 *   - some users join and some items are released during the period (never an
 *     event before that);
 *   - item attributes (category, brand, price band, title words) and user
 *     attributes (age, gender, country, occupation) correlated with the
 *     clusters, and a ground-truth file naming each user's and item's cluster.
 *
 * Everything is drawn from rp_rng streams keyed by (seed, purpose, index), so
 * the same options give the same bytes on every run.  The events file is in
 * time order; it holds exactly `events` rows.
 */
#ifndef RP_GEN_H
#define RP_GEN_H

#include "opts.h"
#include "rp.h"

enum { RP_GEN_TIME_UNIX = 0, RP_GEN_TIME_ISO };

typedef struct rp_gen_opts {
  const char *path;       /* events CSV, gzip when it ends in .gz (required) */
  const char *items_path; /* item attributes CSV (NULL: not written) */
  const char *users_path; /* user attributes CSV (NULL: not written) */
  const char *truth_path; /* hidden clusters CSV (NULL: not written) */
  int32_t users, items;   /* >= 1; items >= clusters */
  int32_t clusters;       /* 0 = min(16, items) */
  int64_t events;         /* exact number of rows, >= 0 */
  uint64_t seed;
  int32_t days;         /* length of the period, >= 1 */
  int64_t start;        /* Unix seconds of the first day, >= 0 */
  double popularity;    /* Zipf exponent of item popularity, >= 0 */
  double activity;      /* sigma of the log-normal user activity, >= 0 */
  double affinity;      /* share of views from the user's own cluster */
  double secondary;     /* share of views from the user's second cluster */
  double session;       /* mean views per session, >= 1 */
  double cart_rate;     /* base probability a view leads to add-to-cart */
  double purchase_rate; /* base probability a carted item is bought */
  double drift;         /* amplitude of the cluster popularity waves, >= 0 */
  double new_users;     /* share of users joining during the period */
  double new_items;     /* share of items released during the period */
  double revisit;       /* chance a view drawn on an item seen before is kept */
  int time_format;      /* RP_GEN_TIME_UNIX (seconds) or _ISO (YYYY-MM-DD HH:MM:SS) */
  int gzip_level;       /* 1..9 for files ending in .gz (default 6) */
  /* A taste shift at Unix time shift_at (-1: none; else inside the period):
   * from then on a share shift_users of the users have new main and second
   * clusters, drawn from the cluster sizes times exp(shift_tilt * z_c)
   * (z_c standard normal per cluster), catalogue-wide views follow the
   * tilted cluster weights, and in every cluster a share shift_items of
   * the items swap their popularity among themselves at random.  Every
   * draw of the shift comes from its own streams and session times keep
   * following the user's first cluster, so a log without a shift is byte
   * for byte what it was before the option existed, and the events before
   * shift_at are exactly those of the same options without the shift. */
  int64_t shift_at;
  double shift_users; /* 0..1 (default 0.5) */
  double shift_items; /* 0..1 (default 0.5) */
  double shift_tilt;  /* 0..5 (default 1) */
} rp_gen_opts;

typedef struct rp_gen_report {
  int64_t events, views, carts, purchases, sessions;
  int64_t pairs;        /* distinct (user, item) pairs in the log */
  int32_t users, items; /* distinct users / items that occur in the log */
  int64_t tmin, tmax;   /* first and last timestamp written (0 when empty) */
  uint64_t bytes;       /* uncompressed size of the events file */
  int32_t clusters;     /* the number of clusters used */
} rp_gen_report;

/* The options of rp_gen_events: names, defaults and ranges (opts.h). */
extern const rp_optdesc rp_gen_optdesc[];
extern const char *const rp_gen_time_format_names[]; /* "unix", "iso", NULL */

/* Fills o with the defaults (rp_gen_optdesc: 1000 users, 500 items, 20000 events, seed 42,
 * 180 days from 2024-01-01, popularity 1.2, activity 1, affinity 0.7,
 * secondary 0.15, session 4, cart_rate 0.1, purchase_rate 0.5, drift 0.5,
 * new_users 0.2, new_items 0.1, revisit 0.3, gzip_level 6, no shift:
 * shift_at -1, shift_users 0.5, shift_items 0.5, shift_tilt 1); path and
 * the attribute paths NULL. */
void rp_gen_opts_init(rp_gen_opts *o);

/* Checks o; returns RP_OK or RP_EINVAL naming the bad option and value. */
int rp_gen_check(const rp_gen_opts *o, rp_err *err);

/* Generates the world and writes the events file (and the attribute and
 * truth files that have a path).  Every file goes to a temporary name and is
 * renamed into place only after all of them were written, so on error no
 * target is touched.  Fills rep (may be NULL).  Memory: 32 bytes per
 * session (a session has ~4.5 events by default), 8 to 16 bytes per
 * distinct (user, item) pair (about 0.7 pairs per event) and ~200 bytes per
 * user and 60 per item; time linear in events. */
int rp_gen_events(const rp_gen_opts *o, rp_gen_report *rep, rp_err *err);

/* Formats Unix seconds t as "YYYY-MM-DD HH:MM:SS" (UTC) into buf (>= 20
 * bytes, NUL-terminated); returns the length (19).  With date_only, only
 * "YYYY-MM-DD" (10). */
int rp_gen_format_time(int64_t t, int date_only, char *buf);

#endif
