/*
 * tz.h -- local time in an IANA time zone ("Europe/Berlin") from the tz
 * database's TZif files (RFC 8536), read once: the transitions, and the
 * POSIX TZ rule of the file's footer for times after the last one.  No
 * process-wide state (TZ, tzset) is touched.
 */
#ifndef RP_TZ_H
#define RP_TZ_H

#include <stdint.h>

#include "rp.h"

typedef struct rp_io_tz rp_io_tz;

/* Loads zone `name` from $TZDIR or /usr/share/zoneinfo ("UTC" and "" need
 * no file).  NULL with err set for an unknown zone or a malformed file. */
rp_io_tz *rp_io_tz_load(const char *name, rp_err *err);
void rp_io_tz_free(rp_io_tz *tz); /* accepts NULL */
/* Seconds to add to Unix time t for local time in tz (NULL: UTC). */
int32_t rp_io_tz_offset(const rp_io_tz *tz, int64_t t);
/* Parses a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") into a zone (no
 * transitions; for tests and for files whose footer is all there is). */
rp_io_tz *rp_io_tz_posix(const char *rule, rp_err *err);

#endif
