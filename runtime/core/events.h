/*
 * events.h -- a columnar interaction log in C memory.
 *
 * One row per event: user and item (indices into the shared id maps), value
 * (float32), time (int64 Unix seconds; column absent when the log has none),
 * event type (int16 code into a name table; absent when none) and optional
 * context columns (int32 codes into one dictionary per column).  Never one
 * Lua table per row.
 */
#ifndef RP_EVENTS_H
#define RP_EVENTS_H

#include "idmap.h"
#include "aggregate.h"
#include "opts.h"

#define RP_MAX_CONTEXT 16

typedef struct rp_events {
  int64_t n, cap;
  int32_t *user, *item;
  float *value;
  int64_t *time;           /* NULL when the log has no time column */
  int16_t *event;          /* NULL when the log has no event column */
  rp_idmap *users, *items; /* shared, retained */
  rp_idmap *event_names;   /* NULL when no event column */
  int ncontext;
  char *context_names[RP_MAX_CONTEXT];
  int32_t *context[RP_MAX_CONTEXT];
  rp_idmap *context_dicts[RP_MAX_CONTEXT];
} rp_events;

/* A new empty log on the given maps (retained; NULL = fresh maps), with a
 * time column when has_time, an event column when event_names is given
 * (retained) and the named context columns (dictionaries from ctx_dicts when
 * given, else fresh).  Owned by the caller. */
rp_events *rp_events_new(rp_idmap *users, rp_idmap *items, int has_time, rp_idmap *event_names,
                         int ncontext, const char *const *ctx_names, rp_idmap *const *ctx_dicts,
                         rp_err *err);
/* A new empty log with the same maps, dictionaries and columns as ev. */
rp_events *rp_events_like(const rp_events *ev, rp_err *err);
void rp_events_free(rp_events *ev); /* accepts NULL */
/* Makes room for at least cap rows. */
int rp_events_reserve(rp_events *ev, int64_t cap, rp_err *err);
/* Trims the columns to the row count (cap = max(n, 16)). */
int rp_events_shrink(rp_events *ev, rp_err *err);
/* Appends row i of src (same column layout) to dst. */
int rp_events_append_row(rp_events *dst, const rp_events *src, int64_t i, rp_err *err);
/* A new log with the rows of ev where keep[i] != 0, in order. */
rp_events *rp_events_select(const rp_events *ev, const uint8_t *keep, rp_err *err);
/* A new log with rows idx[0..n) of ev, in that order. */
rp_events *rp_events_take(const rp_events *ev, const int64_t *idx, int64_t n, rp_err *err);
/* One log with the rows of parts[0..n) in order (n >= 1; all on the same
 * user and item maps: RP_EINVAL otherwise).  It has a time or event column
 * when every part has one, and the context columns of the first part that
 * every part has (by name); event types and context values are matched by
 * name into new dictionaries.  Owned by the caller. */
rp_events *rp_events_concat(rp_events *const *parts, int n, rp_err *err);
/* Index of a context column by name, or -1. */
int rp_events_context_index(const rp_events *ev, const char *name);
/* Bytes held by the columns (not the shared maps). */
size_t rp_events_bytes(const rp_events *ev);
/* Time range; returns 0 when there is no time column or no rows. */
int rp_events_time_range(const rp_events *ev, int64_t *tmin, int64_t *tmax);

/* ev:to_matrix's options (rp_events_to_csr's arguments): aggregate
 * (RP_AGG_*, aggregate.h), half_life_days (0 = no decay) and now (read by
 * the binding). */
typedef struct rp_events_matrix_opts {
  int aggregate;
  double half_life_days;
} rp_events_matrix_opts;
extern const rp_optdesc rp_events_matrix_optdesc[];

/* ---- operations (evops.c) ------------------------------------------------- */

/* Row filter for rp_events_where: a row is kept when every given condition
 * holds.  Masks are indexed by code/index (length: the dictionary's or
 * map's size), NULL = no condition. */
typedef struct rp_events_filter {
  int has_from, has_to;
  int64_t from, to; /* from <= time < to */
  const uint8_t *event_mask;
  const uint8_t *ctx_mask[RP_MAX_CONTEXT];
  const uint8_t *user_mask, *item_mask;
} rp_events_filter;
/* A new log (same maps and dictionaries) with the rows of ev that pass w,
 * in order.  Errors when w filters on a column ev lacks. */
rp_events *rp_events_where(const rp_events *ev, const rp_events_filter *w, rp_err *err);

#define RP_NQUANT 7 /* min, p25, median, p75, p90, p99, max */
typedef struct rp_events_summary {
  int64_t events;
  int64_t users, items; /* distinct users and items present in the rows */
  int has_time;
  int64_t tmin, tmax;
  double value_sum;
  /* interactions (rows) per present user / item: quantiles by linear
   * interpolation between order statistics (numpy's default), and mean */
  double per_user[RP_NQUANT], per_item[RP_NQUANT];
  double per_user_mean, per_item_mean;
  int32_t nevent; /* event_counts[code], owned; NULL without events */
  int64_t *event_counts;
  int32_t nctx[RP_MAX_CONTEXT];
  int64_t *ctx_counts[RP_MAX_CONTEXT]; /* rows per context value, owned */
} rp_events_summary;
/* Fills st (free with rp_events_summary_free, also after an error). */
int rp_events_stats(const rp_events *ev, rp_events_summary *st, rp_err *err);
void rp_events_summary_free(rp_events_summary *st);

/* out[i] = value[i] * 0.5^((now - time[i]) / (half_life_days * 86400)):
 * exponential time decay (not clamped for events after now).  Errors when
 * ev has no time column or half_life_days is not positive. */
int rp_events_decay(const rp_events *ev, double half_life_days, int64_t now, float *out,
                    rp_err *err);
/* The users x items matrix of ev (shape: the maps' current sizes, maps
 * shared), repeats combined by agg (RP_AGG_*; "last" = latest time, file
 * order among ties).  With half_life_days > 0 each value is decayed first,
 * relative to *now (NULL = the log's latest time).  Built by rp_csr_build;
 * a new matrix owned by the caller. */
struct rp_csr *rp_events_to_csr(const rp_events *ev, int agg, double half_life_days,
                                const int64_t *now, rp_err *err);
/* ---- event type weights -----------------------------------------------------
 * One resolution of event types to weights, used by read_events' `weights`
 * option (row by row while reading) and by rp_events_weight (on a log
 * already read): a type listed has its weight, any other type has none and
 * its rows are dropped and counted. */
#define RP_MAX_WEIGHTS 64 /* event types one resolution may list */
typedef struct rp_typeweights {
  rp_idmap *names; /* the listed types; index k has weight values[k] */
  float *values;
} rp_typeweights;
/* Fills w from names[0..n) and values[0..n) (n >= 1, names distinct,
 * values finite; negative and zero weights are allowed).  The strings are
 * copied.  Free with rp_typeweights_free, also after an error. */
int rp_typeweights_init(rp_typeweights *w, int n, const char *const *names, const float *values,
                        rp_err *err);
void rp_typeweights_free(rp_typeweights *w); /* leaves w empty; accepts an empty w */
/* 1 and *out = the weight of type s[0..len), or 0 when it has none.  May be
 * called from several threads at once. */
static inline int rp_typeweights_get(const rp_typeweights *w, const char *s, size_t len,
                                     float *out) {
  int32_t k = rp_idmap_find(w->names, s, len);
  if (k < 0) return 0;
  *out = w->values[k];
  return 1;
}
/* Logs (warning) that `dropped` rows of `where` (a path or a method name)
 * had an event type without a weight, e.g. `example`; nothing when 0. */
void rp_typeweights_warn(const char *where, int64_t dropped, const char *example);
/* A new log (same maps, dictionaries and columns as ev) with the rows of ev
 * whose event type has a weight in w, in order, each valued at that weight
 * (times its value when multiply, as read_events does with a value column).
 * *dropped (may be NULL) is the number of rows dropped, also logged as a
 * warning.  Errors when ev has no event column.  Owned by the caller. */
rp_events *rp_events_weight(const rp_events *ev, const rp_typeweights *w, int multiply,
                            int64_t *dropped, rp_err *err);

/* Writes ev as CSV (header user,item,value[,time][,event][,contexts...];
 * ids quoted when they must be; values as the shortest decimal that reads
 * back exactly; times as Unix seconds) to path (".gz" compresses, "-" is
 * stdout), atomically: a temporary file renamed into place on success. */
int rp_events_write(const rp_events *ev, const char *path, rp_err *err);

#endif
