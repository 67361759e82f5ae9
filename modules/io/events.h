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
/* Appends row i of src (same column layout) to dst. */
int rp_events_append_row(rp_events *dst, const rp_events *src, int64_t i, rp_err *err);
/* A new log with the rows of ev where keep[i] != 0, in order. */
rp_events *rp_events_select(const rp_events *ev, const uint8_t *keep, rp_err *err);
/* A new log with rows idx[0..n) of ev, in that order. */
rp_events *rp_events_take(const rp_events *ev, const int64_t *idx, int64_t n, rp_err *err);
/* Index of a context column by name, or -1. */
int rp_events_context_index(const rp_events *ev, const char *name);
/* Bytes held by the columns (not the shared maps). */
size_t rp_events_bytes(const rp_events *ev);
/* Time range; returns 0 when there is no time column or no rows. */
int rp_events_time_range(const rp_events *ev, int64_t *tmin, int64_t *tmax);

/* Aggregation of repeated (user, item) pairs when building a matrix. */
enum { RP_AGG_SUM = 0, RP_AGG_MAX, RP_AGG_COUNT, RP_AGG_LAST };

#endif
