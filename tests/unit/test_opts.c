/* Check tests for option descriptors (runtime/core/opts.c): defaults set
 * from the table, ranges and name tables checked, the words of messages,
 * and the tables of the cores (every default inside its own range). */
#include <float.h>
#include <math.h>

#include "als.h"
#include "baseline.h"
#include "gen.h"
#include "opts.h"
#include "reader.h"
#include "rptest.h"
#include "split.h"

typedef struct demo {
  int32_t n;
  int64_t big;
  double x;
  float y;
  int flag, kind;
  uint64_t seed;
  const char *name;
} demo;

static const char *const kinds[] = {"a", "b", "c", NULL};
static const rp_optdesc demo_desc[] = {RP_OPT_I(demo, n, "n", 7, 1, 10),
                                       RP_OPT_I(demo, big, "big", 5e12, 0, 1e15),
                                       RP_OPT_N(demo, x, "x", 0.5, 0, 1, RP_OPT_LO_OPEN),
                                       RP_OPT_NW(demo, y, "y", 2, 0, HUGE_VAL, 0, "a note"),
                                       RP_OPT_B(demo, flag, "flag", 1),
                                       RP_OPT_E(demo, kind, "kind", 2, kinds),
                                       RP_OPT_SEED_(demo, seed, "seed", 42),
                                       RP_OPT_S(demo, name, "name", "dflt"),
                                       RP_OPT_X("fn", "a function"),
                                       RP_OPT_END};

START_TEST(defaults_and_checks) {
  demo d;
  memset(&d, 0xff, sizeof d);
  rp_opts_init(demo_desc, &d);
  ck_assert_int_eq(d.n, 7);
  ck_assert(d.big == (int64_t)5000000000000);
  ck_assert(d.x == 0.5 && d.y == 2.0f);
  ck_assert_int_eq(d.flag, 1);
  ck_assert_int_eq(d.kind, 2);
  ck_assert(d.seed == 42);
  ck_assert_str_eq(d.name, "dflt");
  rp_err err;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_OK);
  d.n = 11;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "n must be an integer in 1..10, got 11");
  d.n = 1;
  d.x = 0; /* open at 0 */
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "x must be a number in (0, 1], got 0");
  d.x = 1;
  d.y = INFINITY;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "y must be a finite number >= 0 (a note), got inf");
  d.y = 0;
  d.kind = 3;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "kind must be one of 'a', 'b', 'c', got 3");
  d.kind = 0;
  d.flag = 2;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_EINVAL);
  d.flag = 0;
  ck_assert_int_eq(rp_opts_check(demo_desc, &d, &err), RP_OK);
  ck_assert_ptr_eq(rp_opts_find(demo_desc, "fn"), &demo_desc[8]);
  ck_assert_ptr_null(rp_opts_find(demo_desc, "nope"));
  ck_assert_int_eq(rp_opt_enum_index(kinds, "b"), 1);
  ck_assert_int_eq(rp_opt_enum_index(kinds, "d"), -1);
}
END_TEST

/* a time: int64 Unix seconds, range-checked, described in words */
START_TEST(time_option) {
  struct {
    int64_t t;
  } o;
  const rp_optdesc d[] = {
      {"at", RP_OPT_TIME, 0, sizeof(int64_t), 1704067200, NULL, 0, 4e9, 0, NULL, NULL}, RP_OPT_END};
  rp_opts_init(d, &o);
  ck_assert(o.t == 1704067200);
  ck_assert(rp_opt_get(d, &o) == 1704067200.0);
  rp_err err;
  ck_assert_int_eq(rp_opts_check(d, &o, &err), RP_OK);
  rp_opt_set_int(d, &o, -1);
  ck_assert(o.t == -1);
  ck_assert_int_eq(rp_opts_check(d, &o, &err), RP_EINVAL);
  ck_assert_str_eq(err.msg, "at must be Unix seconds or an ISO 8601 date, got -1");
}
END_TEST

/* every default of the cores' tables lies in its own range (a default
 * that drifted out of it would make the defaults fail their own check) */
START_TEST(core_tables_defaults_in_range) {
  const rp_optdesc *tables[] = {rp_als_train_optdesc,
                                rp_io_read_optdesc,
                                rp_events_matrix_optdesc,
                                rp_knn_optdesc,
                                rp_pop_optdesc,
                                rp_randrec_optdesc,
                                rp_gen_optdesc,
                                rp_split_random_optdesc,
                                rp_split_kfold_optdesc,
                                rp_split_fold_optdesc,
                                rp_split_by_time_optdesc,
                                rp_split_window_optdesc,
                                rp_split_time_range_optdesc,
                                rp_split_leave_last_optdesc,
                                rp_split_per_user_time_optdesc,
                                rp_split_rolling_optdesc,
                                rp_split_cold_users_optdesc,
                                rp_split_cold_items_optdesc};
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
    for (const rp_optdesc *d = tables[t]; d->name; d++) {
      if (d->flags & RP_OPT_NODEFAULT) continue;
      ck_assert_msg(rp_opt_inrange(d, d->def), "%s: default %g out of range", d->name, d->def);
      if (d->type == RP_OPT_ENUM) ck_assert(d->def >= 0 && d->names[(int)d->def]);
    }
  rp_als_opts o;
  rp_als_opts_default(&o);
  rp_err err;
  ck_assert_int_eq(rp_als_opts_check(&o, &err), RP_OK);
  ck_assert_int_eq(o.factors, 100);
  ck_assert_int_eq(o.reg_mode, RP_ALS_REG_AUTO);
  rp_split_cold_opts c;
  rp_split_cold_opts_init(&c);
  ck_assert(c.fraction == 0.1 && c.seed == 42 && c.nreveal == 4 && c.reveal[3] == 5);
  rp_io_read_opts r;
  rp_io_read_opts_init(&r);
  ck_assert(r.max_line_bytes == RP_READ_MAX_LINE && r.header == 1 &&
            r.time_unit == RP_TIME_SECONDS);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("opts");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, defaults_and_checks);
  tcase_add_test(tc, core_tables_defaults_in_range);
  tcase_add_test(tc, time_option);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
