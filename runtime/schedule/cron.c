/*
 * cron.c -- five-field cron expressions in UTC (schedule.h).
 *
 * next/prev walk the calendar field by field: a month that does not match
 * is skipped whole, then a day, then an hour, then a minute, so even a
 * yearly expression takes a few hundred steps, never minute-by-minute
 * scans.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotext.h"
#include "schedule.h"

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                     "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* a number or a name (names[i] means base + i) */
static int atom(const char *s, size_t n, const char *const *names, int base, int *out) {
  if (n == 0) return -1;
  if (names && n == 3) {
    for (int i = 0; names[i]; i++)
      if (strncasecmp(s, names[i], 3) == 0) return *out = base + i, 0;
  }
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || v > 1000) return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Parses one field into bits lo..hi; *star when it is `*` (or every 1). */
static int field(const char *s, size_t n, int lo, int hi, const char *const *names, int base,
                 uint64_t *bits, int *star, const char *what, rp_err *err) {
  *bits = 0;
  *star = n == 1 && s[0] == '*';
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && s[j] != ',') j++;
    const char *p = s + i, *e = s + j;
    if (p == e)
      return rp_errf(err, RP_EINVAL, "cron %s field '%.*s': empty list item", what, (int)n, s);
    const char *slash = memchr(p, '/', (size_t)(e - p));
    int step = 1, a, b;
    if (slash) {
      if (atom(slash + 1, (size_t)(e - slash - 1), NULL, 0, &step) || step < 1)
        return rp_errf(err, RP_EINVAL, "cron %s field '%.*s': bad step", what, (int)n, s);
      e = slash;
    }
    if (e - p == 1 && *p == '*') {
      a = lo, b = hi;
    } else {
      const char *dash = memchr(p, '-', (size_t)(e - p));
      if (dash) {
        if (atom(p, (size_t)(dash - p), names, base, &a) ||
            atom(dash + 1, (size_t)(e - dash - 1), names, base, &b))
          return rp_errf(err, RP_EINVAL, "cron %s field '%.*s': bad range", what, (int)n, s);
      } else {
        if (atom(p, (size_t)(e - p), names, base, &a))
          return rp_errf(err, RP_EINVAL, "cron %s field '%.*s': not a number or name", what, (int)n,
                         s);
        b = slash ? hi : a;
      }
    }
    if (a < lo || b > hi || a > b)
      return rp_errf(err, RP_EINVAL, "cron %s field '%.*s': values must be in %d-%d", what, (int)n,
                     s, lo, hi);
    for (int v = a; v <= b; v += step) *bits |= 1ULL << v;
    if (slash && step == 1 && a == lo && b == hi) *star = 1;
    i = j + 1;
  }
  return RP_OK;
}

int rp_cron_parse(const char *expr, rp_cron *c, rp_err *err) {
  static const struct {
    const char *name, *expr;
  } macros[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                {"@annually", "0 0 1 1 *"}, {NULL, NULL}};
  memset(c, 0, sizeof *c);
  if (!expr) return rp_errf(err, RP_EINVAL, "cron: empty expression");
  const char *src = expr;
  while (*src == ' ') src++;
  if (*src == '@') {
    int i = 0;
    while (macros[i].name && strcmp(macros[i].name, src) != 0) i++;
    if (!macros[i].name)
      return rp_errf(err, RP_EINVAL,
                     "cron: unknown '%s' (@hourly, @daily, @weekly, @monthly, @yearly)", src);
    src = macros[i].expr;
  }
  const char *f[5];
  size_t len[5];
  int nf = 0;
  for (const char *p = src; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    const char *q = p;
    while (*q && *q != ' ' && *q != '\t') q++;
    if (nf == 5) return rp_errf(err, RP_EINVAL, "cron '%s': more than five fields", expr);
    f[nf] = p, len[nf++] = (size_t)(q - p);
    p = q;
  }
  if (nf != 5)
    return rp_errf(err, RP_EINVAL,
                   "cron '%s': expected five fields (minute hour day-of-month month "
                   "day-of-week), got %d",
                   expr, nf);
  uint64_t b;
  int star;
  if (field(f[0], len[0], 0, 59, NULL, 0, &b, &star, "minute", err)) return err->status;
  c->minute = b;
  if (field(f[1], len[1], 0, 23, NULL, 0, &b, &star, "hour", err)) return err->status;
  c->hour = (uint32_t)b;
  if (field(f[2], len[2], 1, 31, NULL, 0, &b, &c->dom_star, "day-of-month", err))
    return err->status;
  c->dom = (uint32_t)b;
  if (field(f[3], len[3], 1, 12, MONTHS, 1, &b, &star, "month", err)) return err->status;
  c->month = (uint32_t)b;
  if (field(f[4], len[4], 0, 7, DAYS, 0, &b, &c->dow_star, "day-of-week", err)) return err->status;
  if (b & (1u << 7)) b |= 1u; /* 7 is Sunday too */
  c->dow = (uint8_t)(b & 0x7f);
  return RP_OK;
}

static int day_matches(const rp_cron *c, int64_t day, int dom) {
  int dow = (int)(((day % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
  int a = (c->dom >> dom) & 1, b = (c->dow >> dow) & 1;
  if (c->dom_star || c->dow_star) return (c->dom_star || a) && (c->dow_star || b);
  return a || b;
}

#define MAX_STEPS 200000

double rp_cron_next(const rp_cron *c, double t) {
  if (isnan(t)) return t;
  int64_t m = (int64_t)floor(t / 60) + 1; /* minutes since the epoch, strictly after t */
  for (int steps = 0; steps < MAX_STEPS; steps++) {
    int64_t day = m >= 0 ? m / 1440 : -((-m + 1439) / 1440);
    int64_t y;
    int mo, d;
    rp_civil_from_days(day, &y, &mo, &d);
    if (!((c->month >> mo) & 1)) { /* first minute of the next month */
      int64_t ny = mo == 12 ? y + 1 : y;
      int nm = mo == 12 ? 1 : mo + 1;
      m = rp_days_from_civil(ny, nm, 1) * 1440;
      continue;
    }
    if (!day_matches(c, day, d)) {
      m = (day + 1) * 1440;
      continue;
    }
    int64_t mod = m - day * 1440;
    int h = (int)(mod / 60), mi = (int)(mod % 60);
    if (!((c->hour >> h) & 1)) {
      m = day * 1440 + (h + 1) * 60;
      continue;
    }
    if (!((c->minute >> mi) & 1)) {
      m++;
      continue;
    }
    return (double)m * 60;
  }
  return (double)NAN;
}

double rp_cron_prev(const rp_cron *c, double t) {
  if (isnan(t)) return t;
  int64_t m = (int64_t)floor(t / 60); /* at or before t */
  for (int steps = 0; steps < MAX_STEPS; steps++) {
    int64_t day = m >= 0 ? m / 1440 : -((-m + 1439) / 1440);
    int64_t y;
    int mo, d;
    rp_civil_from_days(day, &y, &mo, &d);
    if (!((c->month >> mo) & 1)) { /* last minute of the previous month */
      m = rp_days_from_civil(y, mo, 1) * 1440 - 1;
      continue;
    }
    if (!day_matches(c, day, d)) {
      m = day * 1440 - 1;
      continue;
    }
    int64_t mod = m - day * 1440;
    int h = (int)(mod / 60), mi = (int)(mod % 60);
    if (!((c->hour >> h) & 1)) {
      m = day * 1440 + h * 60 - 1;
      continue;
    }
    if (!((c->minute >> mi) & 1)) {
      m--;
      continue;
    }
    return (double)m * 60;
  }
  return (double)NAN;
}
