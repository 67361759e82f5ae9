/*
 * iotext.h -- numbers and times from text, for the event-log reader and for
 * any core that takes a time from the user (ISO 8601 bounds of a split).
 *
 * The hot paths are inline: a decimal with at most 7 significant digits and
 * at most 10 fractional digits is exact as m / 10^k in float arithmetic
 * (both operands are exact float32 values, and IEEE division rounds
 * correctly), which is what strtof would return; everything else (more
 * digits, exponents, hex, inf/nan) goes to strtof.  Plain integer Unix times
 * are parsed digit by digit with an overflow check; anything else goes to
 * the ISO 8601 parser.
 */
#ifndef RP_IOTEXT_H
#define RP_IOTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

/* Results of the parse functions. */
enum { RP_PARSE_OK = 0, RP_PARSE_BAD, RP_PARSE_RANGE };

/* How numeric times are read (text times are always ISO 8601). */
enum { RP_TIME_AUTO = 0, RP_TIME_SECONDS, RP_TIME_MS };

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12). */
int64_t rp_days_from_civil(int64_t y, int m, int d);
/* The inverse: the date of day z (days since 1970-01-01). */
void rp_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Parses s[0..n) as a float32 correctly rounded as strtof does; blanks
 * (space, tab) around the number are allowed.  Returns RP_PARSE_OK,
 * RP_PARSE_BAD (not a number) or RP_PARSE_RANGE (inf, nan or overflow). */
int rp_parse_f32_slow(const char *s, size_t n, float *out);

/* Parses s[0..n) as a time in Unix seconds: an integer or decimal number of
 * seconds (RP_TIME_AUTO, RP_TIME_SECONDS) or milliseconds (RP_TIME_MS),
 * floored to whole seconds; or ISO 8601 text (`2024-01-31`,
 * `2024-01-31T12:30`, `2024-01-31 12:30:05.25`, with `Z` or a `+hh:mm`,
 * `+hhmm`, `+hh` offset; no offset means UTC).  Returns RP_PARSE_OK,
 * RP_PARSE_BAD or RP_PARSE_RANGE (outside int64 or an invalid date such as
 * 2023-02-29). */
int rp_parse_time_slow(const char *s, size_t n, int unit, int64_t *out);
/* ISO 8601 only (same forms as above). */
int rp_parse_iso8601(const char *s, size_t n, int64_t *out);
/* Formats t as `YYYY-MM-DDTHH:MM:SSZ` into buf (at least 32 bytes). */
void rp_format_iso8601(int64_t t, char *buf, size_t size);

static inline int rp_isblank_(char c) { return c == ' ' || c == '\t'; }

/* Fast path of rp_parse_f32_slow (same results). */
static inline int rp_parse_f32(const char *s, size_t n, float *out) {
  static const float p10[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
  const char *p = s, *e = s + n;
  int neg = 0;
  if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
  uint32_t m = 0;
  int digits = 0, frac = 0;
  const char *d0 = p;
  while (p < e && (unsigned)(*p - '0') < 10 && digits < 8)
    m = m * 10 + (uint32_t)(*p++ - '0'), digits++;
  int intdigits = (int)(p - d0);
  if (p < e && *p == '.') {
    p++;
    while (p < e && (unsigned)(*p - '0') < 10 && digits < 8 && frac < 11)
      m = m * 10 + (uint32_t)(*p++ - '0'), digits++, frac++;
  }
  if (p != e || digits == 0 || (intdigits == 0 && frac == 0) || m > (1u << 24) || frac > 10)
    return rp_parse_f32_slow(s, n, out);
  float v = frac ? (float)m / p10[frac] : (float)m;
  *out = neg ? -v : v;
  return RP_PARSE_OK;
}

/* The value of the 8 ASCII digits at s, or -1 when one is not a digit
 * (SWAR: three multiplications instead of eight dependent steps). */
static inline int64_t rp_parse8(const char *s) {
  uint64_t v;
  __builtin_memcpy(&v, s, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (((v & 0xF0F0F0F0F0F0F0F0ULL) |
       (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) != 0x3333333333333333ULL)
    return -1;
  v -= 0x3030303030303030ULL;
  v = (v * 10) + (v >> 8);
  v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
       (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
      32;
  return (int64_t)v;
#else
  int64_t x = 0;
  for (int i = 0; i < 8; i++) {
    if ((unsigned)(s[i] - '0') > 9) return -1;
    x = x * 10 + (s[i] - '0');
  }
  return x;
#endif
}

/* Fast path of rp_parse_time_slow (same results). */
static inline int rp_parse_time(const char *s, size_t n, int unit, int64_t *out) {
  const char *p = s, *e = s + n;
  if (n == 0 || n > 18) return rp_parse_time_slow(s, n, unit, out);
  int64_t v = 0;
  if (n >= 8) {
    if ((v = rp_parse8(s)) < 0) return rp_parse_time_slow(s, n, unit, out);
    p += 8;
  }
  while (p < e && (unsigned)(*p - '0') < 10) v = v * 10 + (*p++ - '0');
  if (p != e) return rp_parse_time_slow(s, n, unit, out);
  *out = unit == RP_TIME_MS ? v / 1000 : v; /* v >= 0: division floors */
  return RP_PARSE_OK;
}

#endif
