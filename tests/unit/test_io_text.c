/* Check tests for number and time parsing (runtime/core/iotext.c): hand-computed
 * epoch values (offsets, leap years, fractions, milliseconds), the float
 * fast path against strtof, and the rejections. */
#include <math.h>

#include "iotext.h"
#include "rptest.h"

static int64_t T(const char *s, int unit, int *rc) {
  int64_t t = 0x7eadbeef;
  *rc = rp_parse_time(s, strlen(s), unit, &t);
  return t;
}

static void time_is(const char *s, int unit, int64_t want) {
  int rc;
  int64_t t = T(s, unit, &rc);
  ck_assert_msg(rc == RP_PARSE_OK, "'%s' did not parse (rc %d)", s, rc);
  ck_assert_msg(t == want, "'%s': expected %lld, got %lld", s, (long long)want, (long long)t);
}

static void time_bad(const char *s, int want_rc) {
  int rc;
  T(s, RP_TIME_SECONDS, &rc);
  ck_assert_msg(rc == want_rc, "'%s': expected rc %d, got %d", s, want_rc, rc);
}

START_TEST(iso_hand_computed) {
  /* 2000-01-01 is day 10957 after the epoch: 10957 * 86400 = 946684800 */
  time_is("1970-01-01", 0, 0);
  time_is("1970-01-01T00:00:01Z", 0, 1);
  time_is("2000-01-01", 0, 946684800);
  time_is("2000-01-01T00:00:00Z", 0, 946684800);
  time_is("2000-01-01 00:00:00", 0, 946684800);
  time_is("2000-01-01t00:00:00z", 0, 946684800);
  time_is("2000-01-01T12:34", 0, 946684800 + 12 * 3600 + 34 * 60);
  time_is("2000-01-01 12:34:56", 0, 946684800 + 12 * 3600 + 34 * 60 + 56);
  /* fractions are floored: seconds are whole */
  time_is("2000-01-01 12:34:56.789", 0, 946684800 + 45296);
  time_is("2000-01-01T12:34:56,5Z", 0, 946684800 + 45296);
  /* offsets: local time minus offset = UTC */
  time_is("2000-01-01T00:00:00+01:00", 0, 946684800 - 3600);
  time_is("2000-01-01T00:00:00-05:30", 0, 946684800 + 5 * 3600 + 1800);
  time_is("2000-01-01T00:00:00+0530", 0, 946684800 - 5 * 3600 - 1800);
  time_is("2000-01-01T00:00:00+05", 0, 946684800 - 5 * 3600);
  time_is("2000-01-01T05:30:00.25+05:30", 0, 946684800);
  /* leap years: 2000 (divisible by 400) and 2024 are, 1900 and 2023 are not.
   * 2000-02-29 = day 10957 + 31 + 28 */
  time_is("2000-02-29", 0, (int64_t)(10957 + 59) * 86400);
  time_is("2000-03-01", 0, (int64_t)(10957 + 60) * 86400);
  /* 2024-01-01 = 1704067200; + 59 days + 12 h */
  time_is("2024-02-29T12:00:00Z", 0, 1704067200 + 59 * 86400 + 43200);
  time_is("2024-12-31T23:59:59Z", 0, 1704067200 + 365 * 86400 + 86399);
  /* 1900-01-01 = -2208988800; 1900 is not a leap year */
  time_is("1900-01-01", 0, -2208988800LL);
  time_is("1900-03-01", 0, -2208988800LL + 59 * 86400);
  /* end of day and a leap second roll over to the next minute */
  time_is("1999-12-31T24:00:00Z", 0, 946684800);
  time_is("2016-12-31T23:59:60Z", 0, 1483228800);
  /* blanks around are allowed */
  time_is("  2000-01-01  ", 0, 946684800);
}
END_TEST

START_TEST(iso_rejects) {
  time_bad("2023-02-29", RP_PARSE_RANGE);
  time_bad("1900-02-29", RP_PARSE_RANGE);
  time_bad("2024-13-01", RP_PARSE_RANGE);
  time_bad("2024-00-10", RP_PARSE_RANGE);
  time_bad("2024-04-31", RP_PARSE_RANGE);
  time_bad("2024-01-01T25:00", RP_PARSE_RANGE);
  time_bad("2024-01-01T10:60", RP_PARSE_RANGE);
  time_bad("2024-01-01T00:00:00+24:00", RP_PARSE_RANGE);
  time_bad("2024-1-01", RP_PARSE_BAD);
  time_bad("2024-01-01X", RP_PARSE_BAD);
  time_bad("2024-01-01T", RP_PARSE_BAD);
  time_bad("2024-01-01T10", RP_PARSE_BAD);
  time_bad("2024-01-01T10:00:00.", RP_PARSE_BAD);
  time_bad("2024-01-01T10:00:00+5", RP_PARSE_BAD);
  time_bad("2024/01/01", RP_PARSE_BAD);
  time_bad("", RP_PARSE_BAD);
  time_bad("   ", RP_PARSE_BAD);
  time_bad("abc", RP_PARSE_BAD);
  time_bad("12ab", RP_PARSE_BAD);
  time_bad("1.2.3", RP_PARSE_BAD);
  time_bad("--1", RP_PARSE_BAD);
}
END_TEST

START_TEST(unix_numbers) {
  time_is("0", RP_TIME_SECONDS, 0);
  time_is("1700000000", RP_TIME_SECONDS, 1700000000);
  time_is("1700000000", RP_TIME_AUTO, 1700000000);
  time_is("+1700000000", RP_TIME_SECONDS, 1700000000);
  time_is("-1", RP_TIME_SECONDS, -1);
  time_is("1.5", RP_TIME_SECONDS, 1);
  time_is("-1.5", RP_TIME_SECONDS, -2); /* floored */
  time_is("-1.0", RP_TIME_SECONDS, -1);
  time_is("1700000000.999", RP_TIME_SECONDS, 1700000000);
  time_is("1.7e9", RP_TIME_SECONDS, 1700000000);
  time_is("9223372036854775807", RP_TIME_SECONDS, INT64_MAX);
  /* milliseconds: floor(x / 1000) */
  time_is("1700000000123", RP_TIME_MS, 1700000000);
  time_is("999", RP_TIME_MS, 0);
  time_is("1000", RP_TIME_MS, 1);
  time_is("-1000", RP_TIME_MS, -1);
  time_is("-1500", RP_TIME_MS, -2);
  time_is("-1000.5", RP_TIME_MS, -2);
  time_is("1700000000123.9", RP_TIME_MS, 1700000000);
  time_is("1.7e12", RP_TIME_MS, 1700000000);
  /* text is ISO 8601 whatever the unit */
  time_is("2000-01-01", RP_TIME_MS, 946684800);
  time_bad("9223372036854775808", RP_PARSE_RANGE);
  time_bad("99999999999999999999999", RP_PARSE_RANGE);
  time_bad("1e300", RP_PARSE_RANGE);
}
END_TEST

START_TEST(civil_round_trip) {
  /* days_from_civil and civil_from_days are inverse over 800 years */
  for (int64_t z = -150000; z <= 150000; z += 7) {
    int64_t y;
    int m, d;
    rp_civil_from_days(z, &y, &m, &d);
    ck_assert(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    ck_assert_int_eq(rp_days_from_civil(y, m, d), z);
  }
  char buf[40];
  rp_format_iso8601(946684800 + 45296, buf, sizeof buf);
  ck_assert_str_eq(buf, "2000-01-01T12:34:56Z");
  rp_format_iso8601(-1, buf, sizeof buf);
  ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
  rp_rng r;
  rp_rng_seed(&r, 5, 0);
  for (int k = 0; k < 20000; k++) {
    int64_t t = (int64_t)rp_rng_below(&r, 8000000000ULL) - 4000000000LL;
    rp_format_iso8601(t, buf, sizeof buf);
    int64_t back;
    ck_assert_int_eq(rp_parse_iso8601(buf, strlen(buf), &back), RP_PARSE_OK);
    ck_assert_int_eq(back, t);
  }
}
END_TEST

static void f32_matches_strtof(const char *s) {
  float got = 12345.0f;
  int rc = rp_parse_f32(s, strlen(s), &got);
  char *end;
  float want = strtof(s, &end);
  ck_assert_msg(rc == RP_PARSE_OK && *end == 0, "'%s' should parse", s);
  ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "'%s': strtof gives %.9g, got %.9g", s,
                (double)want, (double)got);
}

START_TEST(float_fast_path_equals_strtof) {
  static const char *const fixed[] = {
      "0",   "1",        "-1",       "+1",         "3.5",      "4.0",
      ".5",  "5.",       "-0",       "-0.0",       "0.1",      "0.2",
      "0.3", "16777216", "16777217", "16777215.5", "99999999", "123456789",
      "1e3", "1.5E-2",   "0.000001", "3.4e38",     "1e-45",    "0.1234567890123"};
  for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) f32_matches_strtof(fixed[k]);
  rp_rng r;
  rp_rng_seed(&r, 11, 0);
  char buf[64];
  for (int k = 0; k < 200000; k++) {
    int ndig = 1 + (int)rp_rng_below(&r, 12), nfrac = (int)rp_rng_below(&r, 12);
    int n = 0;
    if (rp_rng_below(&r, 4) == 0) buf[n++] = '-';
    for (int i = 0; i < ndig; i++) buf[n++] = (char)('0' + rp_rng_below(&r, 10));
    if (nfrac) {
      buf[n++] = '.';
      for (int i = 0; i < nfrac; i++) buf[n++] = (char)('0' + rp_rng_below(&r, 10));
    }
    buf[n] = 0;
    f32_matches_strtof(buf);
  }
}
END_TEST

START_TEST(float_rejects) {
  static const char *const bad[] = {"",    " ",    "abc", "1.2.3", "1e",
                                    "--1", "0x10", "1,5", "1 2",   "."};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    float v;
    ck_assert_msg(rp_parse_f32(bad[k], strlen(bad[k]), &v) == RP_PARSE_BAD, "'%s' accepted",
                  bad[k]);
  }
  static const char *const range[] = {"inf", "-inf", "nan", "NaN", "infinity", "1e39", "-1e39"};
  for (size_t k = 0; k < sizeof range / sizeof *range; k++) {
    float v;
    ck_assert_msg(rp_parse_f32(range[k], strlen(range[k]), &v) == RP_PARSE_RANGE,
                  "'%s' not reported as non-finite", range[k]);
  }
  float v;
  ck_assert_int_eq(rp_parse_f32(" 4.5 ", 5, &v), RP_PARSE_OK);
  ck_assert(v == 4.5f);
  /* the span is what counts, not a terminating NUL */
  ck_assert_int_eq(rp_parse_f32("12345", 2, &v), RP_PARSE_OK);
  ck_assert(v == 12.0f);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("io_text");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, iso_hand_computed);
  tcase_add_test(tc, iso_rejects);
  tcase_add_test(tc, unix_numbers);
  tcase_add_test(tc, civil_round_trip);
  tcase_add_test(tc, float_fast_path_equals_strtof);
  tcase_add_test(tc, float_rejects);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
