/*
 * timectx.c -- derived time context: the hour of day and the day of the
 * week of each event, in a time zone, as context columns (codes into
 * dictionaries in natural order: "0".."23", "mon".."sun").
 */
#include <string.h>

#include "events.h"
#include "reader.h"
#include "tz.h"

static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* Adds one empty context column `name` with the values vals[0..n) in its
 * dictionary, in that order; its index, or -1 (err set). */
static int add_column(rp_events *ev, const char *name, const char *const *vals, int n,
                      rp_err *err) {
  if (rp_events_context_index(ev, name) >= 0)
    return rp_errf(err, RP_EINVAL, "time_context: the log already has a context column '%s'", name),
           -1;
  if (ev->ncontext >= RP_MAX_CONTEXT)
    return rp_errf(err, RP_EINVAL, "time_context: at most %d context columns", RP_MAX_CONTEXT), -1;
  int c = ev->ncontext;
  ev->context_names[c] = rp_strdup(name);
  ev->context_dicts[c] = rp_idmap_new(err);
  ev->context[c] = rp_calloc((size_t)(ev->cap > 0 ? ev->cap : 1), sizeof(int32_t));
  if (!ev->context_names[c] || !ev->context_dicts[c] || !ev->context[c]) {
    rp_free(ev->context_names[c]);
    rp_idmap_release(ev->context_dicts[c]);
    rp_free(ev->context[c]);
    ev->context_names[c] = NULL, ev->context_dicts[c] = NULL, ev->context[c] = NULL;
    return rp_enomem(err, "time context"), -1;
  }
  ev->ncontext++;
  for (int k = 0; k < n; k++) {
    int32_t idx;
    if (rp_idmap_intern(ev->context_dicts[c], vals[k], strlen(vals[k]), &idx, err)) return -1;
  }
  return c;
}

int rp_io_time_context(rp_events *ev, int parts, const rp_io_tz *tz, rp_err *err) {
  if (!parts) return RP_OK;
  if (!ev->time) return rp_errf(err, RP_EINVAL, "time_context needs a time column (option 'time')");
  static const char *const hours[] = {"0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",
                                      "8",  "9",  "10", "11", "12", "13", "14", "15",
                                      "16", "17", "18", "19", "20", "21", "22", "23"};
  int ch = -1, cw = -1;
  if ((parts & RP_TIMECTX_HOUR) && (ch = add_column(ev, "hour", hours, 24, err)) < 0)
    return err->status ? err->status : RP_EINVAL;
  if ((parts & RP_TIMECTX_WEEKDAY) && (cw = add_column(ev, "weekday", weekdays, 7, err)) < 0)
    return err->status ? err->status : RP_EINVAL;
  /* the offset changes only at transitions: cache it per hour of UTC
   * (valid when both ends of the hour agree) */
  int64_t bucket = INT64_MIN;
  int32_t off = 0, whole = 0;
  for (int64_t i = 0; i < ev->n; i++) {
    int64_t t = ev->time[i];
    int64_t b = t >= 0 ? t / 3600 : -((-t + 3599) / 3600);
    if (b != bucket) {
      bucket = b;
      off = rp_io_tz_offset(tz, b * 3600);
      whole = off == rp_io_tz_offset(tz, b * 3600 + 3599);
    }
    int32_t o = whole ? off : rp_io_tz_offset(tz, t);
    int64_t local = t + o;
    int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t sec = local - day * 86400;
    if (ch >= 0) ev->context[ch][i] = (int32_t)(sec / 3600);
    /* 1970-01-01 was a Thursday: code 3 */
    if (cw >= 0) ev->context[cw][i] = (int32_t)(((day + 3) % 7 + 7) % 7);
  }
  return RP_OK;
}
