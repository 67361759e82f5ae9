/*
 * iotext.c -- the slow (general) paths of number and time parsing; see
 * iotext.h for the fast paths and the accepted forms.
 */
#include "iotext.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian
 * date, negative years included (eras of 400 years = 146097 days). */
int64_t rp_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void rp_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static void trim(const char **s, size_t *n) {
  while (*n && rp_isblank_(**s)) (*s)++, (*n)--;
  while (*n && rp_isblank_((*s)[*n - 1])) (*n)--;
}

int rp_parse_f32_slow(const char *s, size_t n, float *out) {
  trim(&s, &n);
  if (n == 0) return RP_PARSE_BAD;
  char buf[512];
  if (n >= sizeof buf) return RP_PARSE_BAD;
  /* strtof accepts things we do not want: leading blanks (trimmed above),
   * "infinity", hex; reject hex for clarity, the rest is reported by range */
  memcpy(buf, s, n);
  buf[n] = 0;
  const char *q = buf + (buf[0] == '-' || buf[0] == '+');
  if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) return RP_PARSE_BAD;
  char *end;
  errno = 0;
  float v = strtof(buf, &end);
  if (end != buf + n) return RP_PARSE_BAD;
  if (!isfinite(v)) return RP_PARSE_RANGE;
  *out = v;
  return RP_PARSE_OK;
}

static int digits(const char *s, const char *e, int n, int *v) {
  if (e - s < n) return 0;
  int x = 0;
  for (int i = 0; i < n; i++) {
    if ((unsigned)(s[i] - '0') > 9) return 0;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 1;
}

static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int rp_parse_iso8601(const char *s, size_t n, int64_t *out) {
  trim(&s, &n);
  const char *p = s, *e = s + n;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(p, e, 4, &y) || e - p < 10 || p[4] != '-' || !digits(p + 5, e, 2, &mo) ||
      p[7] != '-' || !digits(p + 8, e, 2, &d))
    return RP_PARSE_BAD;
  p += 10;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return RP_PARSE_RANGE;
  if (d > mdays[mo - 1] + (mo == 2 && leap(y))) return RP_PARSE_RANGE;
  int64_t off = 0;
  if (p < e) {
    if (*p != 'T' && *p != 't' && *p != ' ') return RP_PARSE_BAD;
    p++;
    if (!digits(p, e, 2, &h) || p + 2 >= e || p[2] != ':' || !digits(p + 3, e, 2, &mi))
      return RP_PARSE_BAD;
    p += 5;
    if (p < e && *p == ':') {
      if (!digits(p + 1, e, 2, &sec)) return RP_PARSE_BAD;
      p += 3;
      if (p < e && (*p == '.' || *p == ',')) {
        p++;
        const char *f0 = p;
        while (p < e && (unsigned)(*p - '0') < 10) p++;
        if (p == f0) return RP_PARSE_BAD; /* fraction floored: seconds are whole */
      }
    }
    if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi || sec))) return RP_PARSE_RANGE;
    if (p < e) {
      if (*p == 'Z' || *p == 'z') {
        p++;
      } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!digits(p, e, 2, &oh)) return RP_PARSE_BAD;
        p += 2;
        if (p < e && *p == ':') {
          if (!digits(p + 1, e, 2, &om)) return RP_PARSE_BAD;
          p += 3;
        } else if (p < e) {
          if (!digits(p, e, 2, &om)) return RP_PARSE_BAD;
          p += 2;
        }
        if (oh > 23 || om > 59) return RP_PARSE_RANGE;
        off = sign * (oh * 3600 + om * 60);
      }
    }
    if (p != e) return RP_PARSE_BAD;
  }
  *out = rp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
  return RP_PARSE_OK;
}

int rp_parse_time_slow(const char *s, size_t n, int unit, int64_t *out) {
  trim(&s, &n);
  if (n == 0) return RP_PARSE_BAD;
  const char *p = s, *e = s + n;
  int neg = 0;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  const char *d0 = p;
  while (p < e && (unsigned)(*p - '0') < 10) p++;
  const char *d1 = p; /* end of the integer digits */
  if (p > d0 && p < e && *p == '.') {
    p++;
    while (p < e && (unsigned)(*p - '0') < 10) p++;
  }
  if (p > d0 && p < e && (*p == 'e' || *p == 'E')) {
    /* exponent form (1.7e9, as some tools write times): via double */
    char buf[64];
    if (n >= sizeof buf) return RP_PARSE_BAD;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n) return RP_PARSE_BAD;
    if (unit == RP_TIME_MS) v /= 1000;
    v = floor(v);
    if (!(v >= -9.2e18 && v <= 9.2e18)) return RP_PARSE_RANGE;
    *out = (int64_t)v;
    return RP_PARSE_OK;
  }
  if (p > d0 && p == e) {
    /* integer seconds (or ms), optionally with a fraction: exact int64
     * arithmetic, floored toward minus infinity */
    uint64_t v = 0;
    for (const char *q = d0; q < d1; q++) {
      if (v > (UINT64_MAX - 9) / 10) return RP_PARSE_RANGE;
      v = v * 10 + (uint64_t)(*q - '0');
    }
    int fnz = 0; /* a non-zero fraction follows */
    for (const char *q = d1 + 1; q < e; q++) fnz |= *q != '0';
    if (v > (uint64_t)INT64_MAX) return RP_PARSE_RANGE;
    /* x = ±(v + f), 0 <= f < 1; t = floor(x) or floor(x / 1000) */
    int64_t t;
    if (unit == RP_TIME_MS) {
      int64_t q = (int64_t)(v / 1000), r = (int64_t)(v % 1000);
      t = neg ? -(q + (r != 0 || fnz)) : q;
    } else {
      t = neg ? -(int64_t)v - fnz : (int64_t)v;
    }
    *out = t;
    return RP_PARSE_OK;
  }
  return rp_parse_iso8601(s, n, out);
}

void rp_format_iso8601(int64_t t, char *buf, size_t size) {
  int64_t days = t / 86400, rem = t % 86400;
  if (rem < 0) rem += 86400, days--;
  int64_t y;
  int m, d;
  rp_civil_from_days(days, &y, &m, &d);
  snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
           (int)(rem / 60 % 60), (int)(rem % 60));
}
