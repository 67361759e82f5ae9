/* Check tests for the scheduler's plain-C parts: durations and sizes, cron
 * expressions against dates worked out by hand (and a brute-force
 * minute-by-minute scan), slots, and the rule that says when a job is due
 * (first slot, missed slots collapsing into one, retries, giving up). */
#include <math.h>

#include "rptest.h"
#include "iotext.h"
#include "schedule.h"

#define MON_2024_01_08 1704672000.0 /* a Monday, 00:00 UTC */
#define DAY 86400.0

START_TEST(durations_sizes) {
  double d;
  rp_err err;
  ck_assert_int_eq(rp_sched_parse_duration("7d", &d, &err), 0);
  ck_assert(d == 7 * DAY);
  ck_assert_int_eq(rp_sched_parse_duration("1h30m", &d, &err), 0);
  ck_assert(d == 5400);
  ck_assert_int_eq(rp_sched_parse_duration("2w", &d, &err), 0);
  ck_assert(d == 14 * DAY);
  ck_assert_int_eq(rp_sched_parse_duration("90", &d, &err), 0);
  ck_assert(d == 90);
  ck_assert_int_eq(rp_sched_parse_duration("250ms", &d, &err), 0);
  ck_assert(fabs(d - 0.25) < 1e-12);
  ck_assert_int_eq(rp_sched_parse_duration("0.5s", &d, &err), 0);
  ck_assert(d == 0.5);
  const char *bad[] = {"", "7x", "d", "-1d", "1d2", "1e400d", NULL};
  for (int i = 0; bad[i]; i++) {
    ck_assert_int_eq(rp_sched_parse_duration(bad[i], &d, &err), RP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "duration"));
  }
  int64_t b;
  ck_assert_int_eq(rp_sched_parse_size("512M", &b, &err), 0);
  ck_assert_int_eq(b, 512LL << 20);
  ck_assert_int_eq(rp_sched_parse_size("1.5GiB", &b, &err), 0);
  ck_assert_int_eq(b, 3LL << 29);
  ck_assert_int_eq(rp_sched_parse_size("4096", &b, &err), 0);
  ck_assert_int_eq(b, 4096);
  ck_assert_int_eq(rp_sched_parse_size("2kb", &b, &err), 0);
  ck_assert_int_eq(b, 2048);
  ck_assert_int_eq(rp_sched_parse_size("12Q", &b, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "'12Q'"));
  char buf[32];
  rp_sched_format_duration(7 * DAY, buf, sizeof buf);
  ck_assert_str_eq(buf, "7d");
  rp_sched_format_duration(5400, buf, sizeof buf);
  ck_assert_str_eq(buf, "1h30m");
}
END_TEST

static double next_of(const char *expr, double t) {
  rp_cron c;
  rp_err err;
  ck_assert_msg(rp_cron_parse(expr, &c, &err) == 0, "%s", err.msg);
  return rp_cron_next(&c, t);
}

static double prev_of(const char *expr, double t) {
  rp_cron c;
  rp_err err;
  ck_assert_msg(rp_cron_parse(expr, &c, &err) == 0, "%s", err.msg);
  return rp_cron_prev(&c, t);
}

START_TEST(cron_known_answers) {
  /* Mondays 03:00 */
  ck_assert(next_of("0 3 * * 1", MON_2024_01_08) == 1704682800.0);
  ck_assert(next_of("0 3 * * 1", 1704682800.0) == 1705287600.0);   /* strictly after */
  ck_assert(prev_of("0 3 * * 1", 1704844800.0) == 1704682800.0);   /* Wed -> that Monday */
  ck_assert(prev_of("0 3 * * mon", 1704682800.0) == 1704682800.0); /* at counts */
  /* every 15 minutes */
  ck_assert(next_of("*/15 * * * *", MON_2024_01_08 + 7 * 60) == MON_2024_01_08 + 15 * 60);
  /* the next 29 February */
  ck_assert(next_of("0 0 29 2 *", 1709251200.0) == 1835395200.0);
  /* both day fields restricted: the 1st OR a Monday (Vixie cron) */
  ck_assert(next_of("0 12 1 * 1", 1704153600.0) == 1704715200.0);
  /* macros: @weekly is Sunday 00:00; 7 is Sunday too */
  ck_assert(next_of("@weekly", MON_2024_01_08) == 1705190400.0);
  ck_assert(next_of("0 0 * * 7", MON_2024_01_08) == 1705190400.0);
  ck_assert(next_of("0 0 * * SUN", MON_2024_01_08) == 1705190400.0);
  ck_assert(next_of("@daily", MON_2024_01_08) == MON_2024_01_08 + DAY);
}
END_TEST

/* brute force: minute by minute over two weeks */
START_TEST(cron_against_scan) {
  const char *exprs[] = {"5,35 */6 * * *", "0 9-17/4 * * 1-5", "30 2 1-10 * 0", "0 0 1 1,7 *",
                         NULL};
  for (int e = 0; exprs[e]; e++) {
    rp_cron c;
    rp_err err;
    ck_assert_int_eq(rp_cron_parse(exprs[e], &c, &err), 0);
    for (double t = MON_2024_01_08 - 3600; t < MON_2024_01_08 + 3 * DAY; t += 997) {
      double want = NAN;
      for (double m = floor(t / 60) * 60 + 60; m < t + 400 * DAY; m += 60) {
        int64_t day = (int64_t)floor(m / DAY), mod = (int64_t)(m - (double)day * DAY) / 60;
        int64_t y;
        int mo, d;
        rp_civil_from_days(day, &y, &mo, &d);
        int dow = (int)((day + 4) % 7);
        int hit =
            ((c.minute >> (mod % 60)) & 1) && ((c.hour >> (mod / 60)) & 1) && ((c.month >> mo) & 1);
        int a = (c.dom >> d) & 1, b = (c.dow >> dow) & 1;
        int dayok =
            (c.dom_star || c.dow_star) ? ((c.dom_star || a) && (c.dow_star || b)) : (a || b);
        if (hit && dayok) {
          want = m;
          break;
        }
        if (m > t + 40 * DAY && e < 2) break;
      }
      if (isnan(want)) continue;
      ck_assert_msg(rp_cron_next(&c, t) == want, "%s after %.0f", exprs[e], t);
      ck_assert_msg(rp_cron_prev(&c, want) == want, "%s prev", exprs[e]);
    }
  }
}
END_TEST

START_TEST(cron_errors) {
  rp_cron c;
  rp_err err;
  ck_assert_int_eq(rp_cron_parse("60 * * * *", &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "0-59"));
  ck_assert_int_eq(rp_cron_parse("* * *", &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "five fields"));
  ck_assert_int_eq(rp_cron_parse("@often", &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "@daily"));
  ck_assert_int_eq(rp_cron_parse("0 0 * foo *", &c, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "month"));
  ck_assert_int_eq(rp_cron_parse("*/0 * * * *", &c, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cron_parse("5-2 * * * *", &c, &err), RP_EINVAL);
  ck_assert_int_eq(rp_cron_parse("1,,2 * * * *", &c, &err), RP_EINVAL);
}
END_TEST

static rp_sched_job weekly(void) {
  rp_sched_job j;
  memset(&j, 0, sizeof j);
  j.every = 7 * DAY;
  j.start = MON_2024_01_08;
  j.retries = 2;
  j.backoff = 300;
  return j;
}

static rp_job_state state(double slot, int done, int attempts, double retry_at) {
  rp_job_state s;
  memset(&s, 0, sizeof s);
  s.known = !isnan(slot);
  s.slot = slot, s.done = done, s.attempts = attempts, s.retry_at = retry_at;
  s.last_end = NAN;
  return s;
}

START_TEST(due_rule) {
  rp_sched_job j = weekly();
  rp_sched_due d;
  double wed = MON_2024_01_08 + 2 * DAY;
  /* before the first slot */
  rp_job_state st = state(NAN, 0, 0, NAN);
  rp_sched_due_at(&j, &st, MON_2024_01_08 - 10, &d);
  ck_assert_int_eq(d.what, RP_DUE_NO);
  ck_assert(d.next == MON_2024_01_08);
  /* never ran: the current slot */
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_RUN);
  ck_assert(d.slot == MON_2024_01_08);
  /* done: next Monday */
  st = state(MON_2024_01_08, 1, 1, NAN);
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_NO);
  ck_assert(d.next == MON_2024_01_08 + 7 * DAY);
  /* down for four weeks: one run, for the latest slot */
  rp_sched_due_at(&j, &st, 1707523200.0, &d);
  ck_assert_int_eq(d.what, RP_DUE_RUN);
  ck_assert(d.slot == 1707091200.0);
  /* failed, waiting for the retry */
  st = state(MON_2024_01_08, 0, 1, wed + 300);
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_NO);
  ck_assert(d.next == wed + 300);
  rp_sched_due_at(&j, &st, wed + 300, &d);
  ck_assert_int_eq(d.what, RP_DUE_RUN);
  ck_assert(d.slot == MON_2024_01_08);
  /* crashed (no retry time): at once */
  st = state(MON_2024_01_08, 0, 1, NAN);
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_RUN);
  /* attempts exhausted: give the slot up */
  st = state(MON_2024_01_08, 0, 3, NAN);
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_GIVE_UP);
  /* running elsewhere: wait */
  st = state(MON_2024_01_08, 0, 1, NAN);
  st.running = 1;
  rp_sched_due_at(&j, &st, wed, &d);
  ck_assert_int_eq(d.what, RP_DUE_NO);
  /* a retry pending when the next slot comes: the new slot wins */
  st = state(MON_2024_01_08, 0, 1, MON_2024_01_08 + 8 * DAY);
  rp_sched_due_at(&j, &st, MON_2024_01_08 + 7 * DAY, &d);
  ck_assert_int_eq(d.what, RP_DUE_RUN);
  ck_assert(d.slot == MON_2024_01_08 + 7 * DAY);
  /* slots: at and after */
  ck_assert(rp_sched_slot_at(&j, MON_2024_01_08 + 7 * DAY) == MON_2024_01_08 + 7 * DAY);
  ck_assert(rp_sched_slot_after(&j, MON_2024_01_08 + 7 * DAY) == MON_2024_01_08 + 14 * DAY);
}
END_TEST

START_TEST(keys_defined_once) {
  ck_assert_ptr_nonnull(rp_sched_key_find(rp_sched_job_keys, "every"));
  ck_assert_ptr_null(rp_sched_key_find(rp_sched_job_keys, "evry"));
  char names[512];
  rp_sched_key_names(rp_sched_job_keys, names, sizeof names);
  ck_assert_str_eq(names,
                   "name, pipeline, every, cron, start, config, timeout, memory, retries, backoff, "
                   "alert_exit");
  rp_sched_key_names(rp_sched_top_keys, names, sizeof names);
  ck_assert_str_eq(names, "registry, jobs, stop_grace, poll");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("schedule");
  TCase *t = tcase_create("core");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, durations_sizes);
  tcase_add_test(t, cron_known_answers);
  tcase_add_test(t, cron_against_scan);
  tcase_add_test(t, cron_errors);
  tcase_add_test(t, due_rule);
  tcase_add_test(t, keys_defined_once);
  suite_add_tcase(s, t);
  return s;
}

RP_TEST_MAIN(suite)
