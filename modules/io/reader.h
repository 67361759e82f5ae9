/*
 * reader.h -- reading delimited event logs into Events.
 *
 * Comma, tab, semicolon or "::" separated text (detected from the first line
 * when not given), with or without a header line, RFC 4180 quoting, CRLF or
 * LF line ends, an optional UTF-8 BOM; plain, gzip (detected by its magic
 * bytes) or standard input ("-").  See README.md "api-io" for the options as
 * Lua sees them.
 */
#ifndef RP_READER_H
#define RP_READER_H

#include "events.h"
#include "iotext.h"
#include "opts.h"

enum { RP_ONERR_STOP = 0, RP_ONERR_SKIP };
enum { RP_UNKNOWN_ADD = 0, RP_UNKNOWN_DROP };

#define RP_READ_MAX_WEIGHTS RP_MAX_WEIGHTS /* events.h */
/* The default longest line (max_line_bytes): 64 MiB. */
#define RP_READ_MAX_LINE ((int64_t)64 << 20)

/* A column: by header name (name != NULL) or 1-based position (pos > 0);
 * neither = absent (for user and item: the default, see rp_io_read_opts). */
typedef struct rp_io_colref {
  const char *name;
  int pos;
} rp_io_colref;

typedef struct rp_io_read_opts {
  const char *sep; /* ",", "\t", ";", "::" (or any 1-4 bytes) or NULL = detect from line 1 */
  int header;      /* 1 = first line names the columns, 0 = none */
  /* user and item left absent mean: with a header, the first header column
   * named user, user_id, userId, ... (item, item_id, itemId, movieId, ...;
   * see rp_io_read_default_names); without one, columns 1 and 2. */
  rp_io_colref user, item, value, time, event;
  rp_io_colref context[RP_MAX_CONTEXT];
  int ncontext;
  int time_unit; /* RP_TIME_* for numeric times (text times are ISO 8601) */
  /* event type -> value; rows of types not listed are dropped and counted.
   * With a value column too, the value read is multiplied by the weight. */
  int nweights;
  const char *weight_names[RP_READ_MAX_WEIGHTS];
  float weight_values[RP_READ_MAX_WEIGHTS];
  int on_error;            /* RP_ONERR_* */
  int unknown;             /* RP_UNKNOWN_*: ids absent from given maps */
  rp_idmap *users, *items; /* existing maps to read onto (NULL = new) */
  int threads;             /* parser threads; 0 = one per core */
  size_t block;            /* bytes per read block; 0 = 2 MiB (tests use tiny ones) */
  /* the longest record accepted, in bytes without its final newline (a
   * quoted field's line breaks count); a longer one is an error whatever
   * on_error says, so memory stays bounded by it (default RP_READ_MAX_LINE) */
  int64_t max_line_bytes;
  /* derived time context (timectx.c): RP_TIMECTX_* bits, the context
   * columns "hour" and "weekday" computed from the time column in
   * time_zone (an IANA name; NULL or "UTC": UTC) */
  int time_context;
  const char *time_zone;
} rp_io_read_opts;

#define RP_TIMECTX_HOUR 1    /* "hour": "0".."23" */
#define RP_TIMECTX_WEEKDAY 2 /* "weekday": "mon".."sun" */
struct rp_io_tz;
/* Adds the RP_TIMECTX_* context columns `parts` to ev (local time in tz,
 * NULL = UTC); an error when ev has no time column or a column of that name
 * already. */
int rp_io_time_context(rp_events *ev, int parts, const struct rp_io_tz *tz, rp_err *err);

#define RP_READ_FIRST_ERRORS 5
typedef struct rp_io_read_report {
  int64_t lines;           /* data lines seen (excluding header, blank) */
  int64_t rows;            /* rows kept */
  int64_t skipped;         /* malformed lines skipped (on_error = skip) */
  int64_t dropped_unknown; /* rows with ids not in given maps (unknown = drop) */
  int64_t dropped_type;    /* rows whose event type has no weight */
  int nfirst;
  char first[RP_READ_FIRST_ERRORS][256]; /* first skip messages */
  uint64_t bytes;                        /* input bytes (uncompressed) */
  double seconds;
  char sep[8];              /* the separator used (detected or given) */
  int fields;               /* fields per line */
  char dropped_example[64]; /* an event type that was dropped (first seen) */
  int64_t torn_line;        /* the last line, without a line end and malformed, ignored
                               (a torn write); 0 when none */
} rp_io_read_report;

/* rp.io.read_events's options: names, defaults, ranges (opts.h). */
extern const rp_optdesc rp_io_read_optdesc[];
extern const char *const rp_io_time_unit_names[], *const rp_io_onerr_names[],
                                                      *const rp_io_unknown_names[];
/* Sets defaults: detect sep, header = 1, user and item by their default
 * names, on_error = stop, unknown = add, all cores, 2 MiB blocks, lines of
 * at most RP_READ_MAX_LINE bytes. */
void rp_io_read_opts_init(rp_io_read_opts *o);
/* Reads path ("-" = stdin, gzip detected) into a new Events owned by the
 * caller.  On error returns a status, *out stays NULL and err reads
 * "path:line: expected 4 fields, found 3" (or names the bad value and its
 * column).  Ids get indices in order of first appearance in the file,
 * whatever the number of threads; maps given in o are borrowed (retained by
 * the result) and may grow (unknown = add).  rep (may be NULL) is filled
 * even on error, as far as the read got. */
int rp_io_read_events(const char *path, const rp_io_read_opts *o, rp_events **out,
                      rp_io_read_report *rep, rp_err *err);
/* The header names tried, in order, for an absent user (role 0) or item
 * (role 1) column; NULL-terminated. */
const char *const *rp_io_read_default_names(int role);

/* ---- delimited text a line at a time (small side files: attributes) ----------
 * The reader's own buffering and field rules, for readers that need no
 * Events: lines from a plain, gzip or standard-input ("-") file, and fields
 * split as rp_io_read_events splits them. */
typedef struct rp_io_lines rp_io_lines;
/* Opens path for reading lines; NULL with err (may be NULL) set on failure.  The caller
 * closes the result with rp_io_lines_close (accepts NULL). */
rp_io_lines *rp_io_lines_open(const char *path, rp_err *err);
/* The next line, without its "\n" or "\r\n" (and, on the first line, a
 * UTF-8 byte order mark); the text is writable and valid until the next
 * call.  Returns 1, 0 at the end of the input, -1 on error (err set; a line
 * longer than the limit is "path:LINE: line longer than max_line_bytes (N)"). */
int rp_io_lines_next(rp_io_lines *l, char **line, size_t *n, rp_err *err);
/* Sets the longest line accepted (bytes without the "\n"; at least 1;
 * RP_READ_MAX_LINE unless set).  Memory stays within about twice it. */
void rp_io_lines_set_max(rp_io_lines *l, int64_t max_line_bytes);
void rp_io_lines_close(rp_io_lines *l);
/* The separator of a file from its first record p[0..n) (up to a newline),
 * as rp_io_read_events detects it: "::" when present outside quotes, else the
 * most frequent of tab, comma and semicolon (ties in that order), else a
 * comma.  Writes it to sep (room for 8 bytes); returns 1 when one was found
 * in the text, 0 for the default comma. */
int rp_io_detect_sep(const char *p, size_t n, char *sep);
/* Splits the record line[0..n) at sep (1 to 7 bytes) with RFC 4180 quotes,
 * in place: up to maxf fields go to f/fl, quotes removed and "" undone in
 * the line's own bytes.  A newline outside quotes ends the record.  Returns
 * the number of fields, maxf + 1 when there are more, or -1 for a
 * malformed record (an unterminated quote, text after a closing quote). */
int rp_io_split_fields(char *line, size_t n, const char *sep, char **f, size_t *fl, int maxf);

/* ---- many files (read_files.c) -------------------------------------------------- */
/* One log from the files paths[0..n) (a day per file), as one process
 * reading them one after the other onto the maps of o would give it: rows
 * in file order, ids indexed in order of first appearance over the files
 * (the maps given in o grow), event types and context values merged by
 * name as rp_events_concat does; the report sums the files'.  Under MPI
 * rank r reads a contiguous share of the files and the shares are
 * all-gathered and merged in rank order, so every rank gets the same log,
 * maps and report for any number of processes.  An error on a rank (a
 * missing file: "cannot open 'day3.csv'") is that rank's error. */
int rp_io_read_events_files(const char *const *paths, int64_t n, const rp_io_read_opts *o,
                            rp_events **out, rp_io_read_report *rep, rp_err *err);
/* The files matching a glob(7) pattern, in byte order of their names, as
 * rank 0 lists them, on every rank: *out is one rp_malloc'd block (free it
 * with rp_free); no match is an error naming the pattern. */
int rp_io_read_glob(const char *pattern, char ***out, int64_t *n, rp_err *err);

#endif
