/*
 * reader.h -- reading delimited event logs into Events.
 */
#ifndef RP_READER_H
#define RP_READER_H

#include "events.h"

enum { RP_TIME_AUTO = 0, RP_TIME_SECONDS, RP_TIME_MS };
enum { RP_ONERR_STOP = 0, RP_ONERR_SKIP };
enum { RP_UNKNOWN_ADD = 0, RP_UNKNOWN_DROP };

#define RP_READ_MAX_WEIGHTS 64

/* A column: by header name (name != NULL) or 1-based position (pos > 0);
 * neither = absent. */
typedef struct rp_colref {
  const char *name;
  int pos;
} rp_colref;

typedef struct rp_read_opts {
  const char *sep; /* ",", "\t", ";", "::" or NULL = detect from line 1 */
  int header;      /* 1 = first line names the columns, 0 = none */
  rp_colref user, item, value, time, event;
  rp_colref context[RP_MAX_CONTEXT];
  int ncontext;
  int time_unit; /* RP_TIME_* (text times are always parsed) */
  /* event type -> value; types not listed are dropped and counted */
  int nweights;
  const char *weight_names[RP_READ_MAX_WEIGHTS];
  float weight_values[RP_READ_MAX_WEIGHTS];
  int on_error;            /* RP_ONERR_* */
  int unknown;             /* RP_UNKNOWN_*: ids absent from given maps */
  rp_idmap *users, *items; /* existing maps to read onto (NULL = new) */
} rp_read_opts;

#define RP_READ_FIRST_ERRORS 5
typedef struct rp_read_report {
  int64_t lines;           /* data lines seen (excluding header, blank) */
  int64_t rows;            /* rows kept */
  int64_t skipped;         /* malformed lines skipped (on_error = skip) */
  int64_t dropped_unknown; /* rows with ids not in given maps (unknown = drop) */
  int64_t dropped_type;    /* rows whose event type has no weight */
  int nfirst;
  char first[RP_READ_FIRST_ERRORS][256]; /* first skip messages */
  uint64_t bytes;                        /* input bytes (uncompressed) */
  double seconds;
} rp_read_report;

/* Sets defaults: detect sep, header = 1, user = "user", item = "item". */
void rp_read_opts_init(rp_read_opts *o);
/* Reads path ("-" = stdin, gzip detected) into a new Events owned by the
 * caller.  On error returns a status, *out stays NULL and err reads
 * "path:line: expected 4 fields, found 3" (or names the bad value and its
 * column). */
int rp_read_events(const char *path, const rp_read_opts *o, rp_events **out, rp_read_report *rep,
                   rp_err *err);

#endif
