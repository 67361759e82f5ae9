/* Check tests for time zones (modules/io/tz.c): the POSIX rule code against
 * the tz database's own transitions (every hour 2000..2036 in five zones:
 * northern and southern DST, half-hour offsets, DST abolished), transitions
 * computed by hand, bad rules and files. */
#include <stdlib.h>
#include <unistd.h>

#include "rptest.h"
#include "tz.h"

static const struct {
  const char *zone, *rule;
} zones[] = {{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"},
             {"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"},
             {"America/New_York", "EST5EDT,M3.2.0,M11.1.0"},
             {"Asia/Kolkata", "IST-5:30"},
             {"America/Sao_Paulo", "<-03>3"}};

START_TEST(rule_matches_file) {
  rp_err err;
  /* 2020-01-01 .. 2036-12-31: within the files' transitions (fat files run
   * to 2037), after the zones' last rule changes (Sao Paulo: 2019) */
  for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
    rp_io_tz *f = rp_io_tz_load(zones[z].zone, &err);
    ck_assert_msg(f != NULL, "%s: %s", zones[z].zone, err.msg);
    rp_io_tz *r = rp_io_tz_posix(zones[z].rule, &err);
    ck_assert_ptr_nonnull(r);
    for (int64_t t = 1577836800; t < 2114380800; t += 3600)
      ck_assert_msg(rp_io_tz_offset(f, t) == rp_io_tz_offset(r, t), "%s at %lld: file %d, rule %d",
                    zones[z].zone, (long long)t, rp_io_tz_offset(f, t), rp_io_tz_offset(r, t));
    rp_io_tz_free(f);
    rp_io_tz_free(r);
  }
}
END_TEST

START_TEST(hand_computed) {
  rp_err err;
  rp_io_tz *b = rp_io_tz_load("Europe/Berlin", &err), *s = rp_io_tz_load("Australia/Sydney", &err);
  ck_assert(b && s);
  /* Berlin 2024: CEST from 2024-03-31 01:00 UTC (1711846800) to 2024-10-27
   * 01:00 UTC (1729990800) */
  ck_assert_int_eq(rp_io_tz_offset(b, 1711846799), 3600);
  ck_assert_int_eq(rp_io_tz_offset(b, 1711846800), 7200);
  ck_assert_int_eq(rp_io_tz_offset(b, 1729990799), 7200);
  ck_assert_int_eq(rp_io_tz_offset(b, 1729990800), 3600);
  /* 2050 (past the file's transitions: its footer rule): last Sunday of
   * March 2050 is the 27th, 01:00 UTC = 2531955600 */
  ck_assert_int_eq(rp_io_tz_offset(b, 2531955599), 3600);
  ck_assert_int_eq(rp_io_tz_offset(b, 2531955600), 7200);
  /* Sydney: AEDT (+11) until 2024-04-07 03:00 local = 2024-04-06 16:00 UTC
   * (1712419200); AEST (+10) until 2024-10-06 02:00 local = 2024-10-05
   * 16:00 UTC (1728144000) */
  ck_assert_int_eq(rp_io_tz_offset(s, 1712419199), 39600);
  ck_assert_int_eq(rp_io_tz_offset(s, 1712419200), 36000);
  ck_assert_int_eq(rp_io_tz_offset(s, 1728143999), 36000);
  ck_assert_int_eq(rp_io_tz_offset(s, 1728144000), 39600);
  /* before the first transition: the first type (local mean time, +0:53:28) */
  ck_assert_int_eq(rp_io_tz_offset(b, -4000000000LL), 3208);
  rp_io_tz_free(b);
  rp_io_tz_free(s);
  rp_io_tz *u = rp_io_tz_load("UTC", &err);
  ck_assert_int_eq(rp_io_tz_offset(u, 1711846800), 0);
  ck_assert_int_eq(rp_io_tz_offset(NULL, 5), 0);
  rp_io_tz_free(u);
  /* Jn and n dates, times after 24:00 and negative ones (RFC 8536) */
  rp_io_tz *j = rp_io_tz_posix("XST-1XDT,J60/25,300/-1", &err);
  ck_assert_ptr_nonnull(j);
  /* 2024: J60 = 1 March (Feb 29 not counted), 25:00 XST = 2 March 00:00 UTC
   * (1709337600); day 300 (0-based, Feb 29 counted) = 27 October, -1:00
   * XDT = 26 October 21:00 UTC (1729976400) */
  ck_assert_int_eq(rp_io_tz_offset(j, 1709337599), 3600);
  ck_assert_int_eq(rp_io_tz_offset(j, 1709337600), 7200);
  ck_assert_int_eq(rp_io_tz_offset(j, 1729976399), 7200);
  ck_assert_int_eq(rp_io_tz_offset(j, 1729976400), 3600);
  rp_io_tz_free(j);
}
END_TEST

START_TEST(bad_input) {
  rp_err err;
  const char *bad[] = {
      "",        "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.6.0,M10.5.0",
      "CET-200", "<>1", "CET-1CEST,J0,J10"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    ck_assert_msg(rp_io_tz_posix(bad[k], &err) == NULL, "'%s' accepted", bad[k]);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad POSIX TZ rule"));
  }
  ck_assert_ptr_null(rp_io_tz_load("Europe/Nowhere", &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "unknown time zone 'Europe/Nowhere'"));
  ck_assert_ptr_null(rp_io_tz_load("../../etc/passwd", &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "bad time zone name"));
  /* a file that is not TZif, and a truncated one */
  char dir[] = "/tmp/rp-tz.XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/Bad", dir);
  FILE *f = fopen(path, "wb");
  fputs("not a zone file at all, just some text that is long enough for a header", f);
  fclose(f);
  setenv("TZDIR", dir, 1);
  ck_assert_ptr_null(rp_io_tz_load("Bad", &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "not a valid TZif file"));
  FILE *src = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
  ck_assert_ptr_nonnull(src);
  char buf[600];
  size_t n = fread(buf, 1, sizeof buf, src);
  fclose(src);
  f = fopen(path, "wb");
  fwrite(buf, 1, n, f);
  fclose(f);
  ck_assert_ptr_null(rp_io_tz_load("Bad", &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "not a valid TZif file"));
  unsetenv("TZDIR");
  unlink(path);
  rmdir(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("io_tz");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rule_matches_file);
  tcase_add_test(tc, hand_computed);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
