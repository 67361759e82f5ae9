/*
 * request.h -- what a client asks the server, as C structs: the body of
 * POST /v1/recommend (JSON) or the parameters of GET /v1/recommend and
 * /v1/similar, and the feedback events of POST /v1/events.
 *
 * Plain C with cJSON, no Lua and no HTTP: tests/fuzz/fuzz_request.c feeds
 * it arbitrary bytes.  Strings are copied into an arena the caller resets
 * after each request, so a request costs no per-field allocation and a
 * malformed one cannot leak.  Every error names the field at fault
 * ("k", "history[3]", "events[2].event") and says what was expected.
 */
#ifndef RP_SERVE_REQUEST_H
#define RP_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

/* ---- arena ------------------------------------------------------------------ */
typedef struct rp_arena_chunk rp_arena_chunk;
typedef struct rp_arena {
  rp_arena_chunk *head;
  size_t used;  /* bytes handed out since the last reset */
  size_t limit; /* requests needing more fail (RP_ENOMEM), 0 = none */
} rp_arena;

void rp_arena_init(rp_arena *a, size_t limit);
/* n bytes, 16-byte aligned, valid until the next reset; NULL when out of
 * memory or past the limit. */
void *rp_arena_alloc(rp_arena *a, size_t n);
char *rp_arena_strndup(rp_arena *a, const char *s, size_t n);
/* Forgets everything handed out; keeps the first chunk for reuse. */
void rp_arena_reset(rp_arena *a);
void rp_arena_free(rp_arena *a);

/* ---- errors -------------------------------------------------------------- */
typedef struct rp_serr {
  int status;     /* HTTP status: 400, 413, ... */
  char field[96]; /* the offending field, "" for the body as a whole */
  char message[512];
} rp_serr;

int rp_serr_set(rp_serr *e, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- limits (the server's settings; defaults in settings.c) ------------------ */
typedef struct rp_slimits {
  int32_t max_k;     /* k at most this */
  int32_t max_list;  /* history, items, deny: at most this many ids each */
  int32_t max_pairs; /* attributes, context: at most this many keys each */
  int32_t max_id;    /* bytes in an id, attribute or context value */
  int32_t max_batch; /* events in one POST /v1/events */
} rp_slimits;

/* ---- recommend / similar ---------------------------------------------------- */
typedef struct rp_kv {
  const char *key, *val;
} rp_kv;

typedef struct rp_sreq {
  const char *user; /* NULL: none (a visitor) */
  const char *item; /* /v1/similar */
  int32_t k;        /* 0: the default */
  int exclude_seen; /* -1: the default, else 0 or 1 */
  const char **history;
  int32_t nhistory;
  float *values; /* NULL: 1 each; else nvalues must equal nhistory */
  int32_t nvalues;
  const char **allow; /* NULL: every item ("items" in the request) */
  int32_t nallow;
  const char **deny;
  int32_t ndeny;
  rp_kv *attributes; /* request-time attributes of the user */
  int32_t nattributes;
  rp_kv *context; /* device, page, ...: passed to the rules */
  int32_t ncontext;
} rp_sreq;

void rp_sreq_init(rp_sreq *q);
/* Parses a JSON object body into q (fields: user, k, exclude_seen, history,
 * values, items (or allow), deny, attributes, context; item for similar).
 * Returns 0, or -1 with e set (400, field named; unknown fields are errors
 * listing the known ones). */
int rp_sreq_json(rp_sreq *q, rp_arena *a, const char *body, size_t len, const rp_slimits *lim,
                 rp_serr *e);
/* Adds one query-string parameter (already URL-decoded): user, item, k,
 * exclude_seen, history / items / allow / deny / values (repeat the
 * parameter or separate by commas), attributes.NAME, context.NAME.
 * Returns 0 or -1 with e set. */
int rp_sreq_param(rp_sreq *q, rp_arena *a, const char *key, const char *val, const rp_slimits *lim,
                  rp_serr *e);
/* Checks what spans several fields (values as long as history, k within
 * the limit).  Returns 0 or -1 with e set. */
int rp_sreq_finish(rp_sreq *q, const rp_slimits *lim, rp_serr *e);

/* ---- events -------------------------------------------------------------------- */
typedef struct rp_sevent {
  const char *user, *item, *event;
  const char *request_id; /* "" when not given */
  double time;            /* Unix seconds; 0: the time it arrived */
} rp_sevent;

/* Parses the body of POST /v1/events: one event object, {"events": [...]},
 * or an array of events.  An event has user, item and event (one of
 * types[0..ntypes)), and may have request_id and time (Unix seconds).
 * All or nothing: returns the count (>= 1) with *out in the arena, or -1
 * with e set. */
int rp_sevents_json(rp_arena *a, const char *body, size_t len, const rp_slimits *lim,
                    const char *const *types, int ntypes, rp_sevent **out, rp_serr *e);

/* Is s an acceptable id (non-empty, at most max bytes, no control
 * characters)? */
int rp_sid_ok(const char *s, size_t len, int32_t max);

#endif
