/*
 * sched.c -- the schedule's keys (named and defaulted here only),
 * durations, sizes, slots and the rule that says when a job is due.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

const rp_sched_key rp_sched_top_keys[] = {
    {"registry", RP_SK_STRING, "registry.db",
     "the registry database, relative to the schedule file"},
    {"jobs", RP_SK_LIST, NULL, "the jobs (a list of maps)"},
    {"stop_grace", RP_SK_DURATION, "30s",
     "on SIGTERM, how long running children get before SIGKILL"},
    {"poll", RP_SK_DURATION, "0.2s", "how often limits are checked while children run"},
    {NULL, 0, NULL, NULL}};

const rp_sched_key rp_sched_job_keys[] = {
    {"name", RP_SK_STRING, NULL, "the job's name (letters, digits, _ - .), unique"},
    {"pipeline", RP_SK_STRING, NULL,
     "pipelines/NAME.lua, or a .lua script or .yaml config relative to the schedule file"},
    {"every", RP_SK_DURATION, NULL, "run every this long (7d, 12h, 30m), slots from start"},
    {"cron", RP_SK_STRING, NULL, "or a five-field cron expression in UTC"},
    {"start", RP_SK_TIME, "1970-01-05T00:00:00Z",
     "the first slot of `every` (default: a Monday 00:00 UTC)"},
    {"config", RP_SK_MAP, NULL, "overrides of the pipeline's config (key: value, nested)"},
    {"timeout", RP_SK_DURATION, "24h", "wall-time limit of one run (0: none)"},
    {"memory", RP_SK_SIZE, "0", "resident memory limit of one run (512M, 4G; 0: none)"},
    {"retries", RP_SK_INT, "2", "attempts after a failure before the slot is given up"},
    {"backoff", RP_SK_DURATION, "5m", "wait before the first retry, doubling after each"},
    {"alert_exit", RP_SK_INT, "2",
     "the exit status that means 'ran, and raised an alert' (drift.lua): ok, no retry; 0: none"},
    {NULL, 0, NULL, NULL}};

const rp_sched_key *rp_sched_key_find(const rp_sched_key *keys, const char *name) {
  for (; keys->name; keys++)
    if (strcmp(keys->name, name) == 0) return keys;
  return NULL;
}

void rp_sched_key_names(const rp_sched_key *keys, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; keys[i].name && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", keys[i].name);
}

/* ---- durations and sizes ------------------------------------------------------------- */
int rp_sched_parse_duration(const char *s, double *out, rp_err *err) {
  const char *p = s;
  double total = 0;
  int parts = 0;
  if (!s || !*s) return rp_errf(err, RP_EINVAL, "empty duration (7d, 12h, 30m, 45s)");
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || v < 0 || !isfinite(v)) goto bad;
    p = end;
    double unit = 1;
    if (*p == 'w')
      unit = 604800, p++;
    else if (*p == 'd')
      unit = 86400, p++;
    else if (*p == 'h')
      unit = 3600, p++;
    else if (*p == 'm' && p[1] == 's')
      unit = 0.001, p += 2;
    else if (*p == 'm')
      unit = 60, p++;
    else if (*p == 's')
      unit = 1, p++;
    else if (*p || parts)
      goto bad;
    total += v * unit;
    parts++;
  }
  if (!isfinite(total) || total > 3.2e9) goto bad;
  *out = total;
  return RP_OK;
bad:
  return rp_errf(err, RP_EINVAL, "bad duration '%s' (e.g. 7d, 12h, 1h30m, 45s, 2w)", s);
}

int rp_sched_parse_size(const char *s, int64_t *out, rp_err *err) {
  if (!s || !*s) return rp_errf(err, RP_EINVAL, "empty size (512M, 4G)");
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0 || !isfinite(v)) goto bad;
  double unit = 1;
  switch (toupper((unsigned char)*end)) {
    case 0:
      break;
    case 'B':
      end++;
      break;
    case 'K':
      unit = 1024.0, end++;
      break;
    case 'M':
      unit = 1024.0 * 1024, end++;
      break;
    case 'G':
      unit = 1024.0 * 1024 * 1024, end++;
      break;
    case 'T':
      unit = 1024.0 * 1024 * 1024 * 1024, end++;
      break;
    default:
      goto bad;
  }
  if (unit > 1) {
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
  }
  if (*end || v * unit > 9e18) goto bad;
  *out = (int64_t)(v * unit);
  return RP_OK;
bad:
  return rp_errf(err, RP_EINVAL, "bad size '%s' (bytes, or with K, M, G, T: 512M, 1.5G)", s);
}

void rp_sched_format_duration(double s, char *buf, size_t size) {
  static const struct {
    char c;
    double v;
  } u[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  size_t n = 0;
  buf[0] = 0;
  if (s <= 0) {
    snprintf(buf, size, "0s");
    return;
  }
  for (int i = 0; i < 4 && n < size; i++) {
    double k = floor(s / u[i].v + 1e-9);
    if (k >= 1) {
      n += (size_t)snprintf(buf + n, size - n, "%.0f%c", k, u[i].c);
      s -= k * u[i].v;
    }
  }
  if (!n) snprintf(buf, size, "%.3gs", s);
}

/* ---- slots --------------------------------------------------------------------------- */
double rp_sched_slot_at(const rp_sched_job *j, double now) {
  if (j->is_cron) return rp_cron_prev(&j->cron, now);
  if (now < j->start) return (double)NAN;
  return j->start + floor((now - j->start) / j->every) * j->every;
}

double rp_sched_slot_after(const rp_sched_job *j, double t) {
  if (j->is_cron) return rp_cron_next(&j->cron, t);
  if (t < j->start) return j->start;
  return j->start + (floor((t - j->start) / j->every) + 1) * j->every;
}

static double min2(double a, double b) {
  if (isnan(a)) return b;
  if (isnan(b)) return a;
  return a < b ? a : b;
}

void rp_sched_due_at(const rp_sched_job *j, const rp_job_state *st, double now, rp_sched_due *d) {
  double s = rp_sched_slot_at(j, now);
  d->what = RP_DUE_NO;
  d->slot = s;
  d->next = rp_sched_slot_after(j, now);
  d->why = "waiting for the next slot";
  if (isnan(s)) {
    d->why = "no slot yet";
    return;
  }
  if (!st->known || isnan(st->slot) || st->slot < s) {
    /* a new slot; slots missed while nobody ran collapse into this one */
    if (st->running) {
      d->why = "a run of the job is still running";
      d->next = (double)NAN;
      return;
    }
    d->what = RP_DUE_RUN;
    d->why = st->known && !isnan(st->slot) ? "new slot" : "first slot";
    return;
  }
  if (st->slot > s) {
    d->slot = st->slot;
    d->next = rp_sched_slot_after(j, st->slot);
    d->why = "the clock is before the job's last slot";
    return;
  }
  /* the current slot is the job's */
  if (st->done) {
    d->why = "done";
    return;
  }
  if (st->running) {
    d->why = "running";
    d->next = (double)NAN;
    return;
  }
  if (st->attempts > j->retries) {
    d->what = RP_DUE_GIVE_UP;
    d->why = "no attempts left";
    return;
  }
  if (!isnan(st->retry_at) && now < st->retry_at) {
    d->why = "waiting to retry";
    d->next = min2(st->retry_at, d->next);
    return;
  }
  d->what = RP_DUE_RUN;
  d->why = st->attempts > 0 ? "retry" : "resume";
}
