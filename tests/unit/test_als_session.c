/* Check tests for the session boosts of an ALS model (rp_als_set_session,
 * topk.c): a hand-built model whose scores are exact binary fractions, so
 * every boosted ranking below is worked out by hand, through each way a
 * user is recommended for (one user, the batch, the recommender's one
 * request), with exclusions, candidate lists, clearing and bad input. */
#include <math.h>

#include "als_impl.h"
#include "rptest.h"

#pragma GCC diagnostic ignored "-Wdouble-promotion"

/* 2 users x 4 items, f = 2: both users x = (1, 0); item i = (y_i, 0) with
 * y = 1, 1/2, 1/4, 1/8: every user's scores are 1, .5, .25, .125 */
static rp_als_model *hand_model(void) {
  rp_err err;
  rp_als_model *m = rp_als_model_new(2, 4, 2, NULL, NULL, &err);
  ck_assert_msg(m != NULL, "%s", err.msg);
  static const float y[4] = {1.0f, 0.5f, 0.25f, 0.125f};
  for (int u = 0; u < 2; u++) m->user_factors[2 * u] = 1.0f, m->user_factors[2 * u + 1] = 0.0f;
  for (int i = 0; i < 4; i++) m->item_factors[2 * i] = y[i], m->item_factors[2 * i + 1] = 0.0f;
  ck_assert_int_eq(rp_als_model_refresh(m, &err), RP_OK);
  return m;
}

static void expect(const int32_t *items, const float *scores, int32_t n, const int32_t *want_i,
                   const float *want_s, int32_t want_n) {
  ck_assert_int_eq(n, want_n);
  for (int32_t a = 0; a < n; a++) {
    ck_assert_int_eq(items[a], want_i[a]);
    ck_assert_float_eq(scores[a], want_s[a]);
  }
}

START_TEST(boosts_by_hand) {
  rp_als_model *m = hand_model();
  int32_t it[8], n;
  float sc[8];
  rp_err err;
  /* no session: 0 1 2 3 */
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 4, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 1, 2, 3}, (float[]){1, .5f, .25f, .125f}, 4);
  /* user 0 saw item 3 twice and item 2 once, weight 1/4: item 3 scores
   * 1/8 + 2/4 = 5/8, item 2 1/4 + 1/4 = 1/2 (ties item 1: lower index
   * first); item 9 and -1 are not items and are ignored */
  int32_t s[] = {3, 2, 3, 9, -1};
  ck_assert_int_eq(rp_als_set_session(m, 0, s, 5, 0.25f, &err), RP_OK);
  ck_assert_int_eq(rp_als_session_count(m), 1);
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 4, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 3, 1, 2}, (float[]){1, .625f, .5f, .5f}, 4);
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 2, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 3}, (float[]){1, .625f}, 2);
  /* user 1 has no session */
  ck_assert_int_eq(rp_als_recommend_user(m, 1, 2, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 1}, (float[]){1, .5f}, 2);
  /* an excluded session item stays out; candidates restrict the boosted too */
  int32_t ex3[] = {3}, ex0[] = {0}, al[] = {2, 3};
  rp_als_list e3 = {ex3, 1}, e0 = {ex0, 1}, allow = {al, 2};
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 2, &e3, 1, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 1}, (float[]){1, .5f}, 2);
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 4, &e0, 1, &allow, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){3, 2}, (float[]){.625f, .5f}, 2);
  /* the batch (exclude: user 0 saw item 0) and the one-request call */
  int32_t r[] = {0, 0, 1};
  int32_t rows[] = {0, 1};
  float one[] = {1, 1};
  rp_csr *x = rp_csr_build(2, 4, (int32_t[]){0}, r, one, NULL, 1, RP_AGG_SUM, NULL, NULL, &err);
  ck_assert_msg(x != NULL, "%s", err.msg);
  int32_t bn[2];
  ck_assert_int_eq(rp_als_recommend_batch(m, rows, 2, 3, x, 1, it, sc, bn, &err), RP_OK);
  expect(it, sc, bn[0], (int32_t[]){3, 1, 2}, (float[]){.625f, .5f, .5f}, 3);
  expect(it + 3, sc + 3, bn[1], (int32_t[]){0, 1, 2}, (float[]){1, .5f, .25f}, 3);
  rp_rec_query q;
  memset(&q, 0, sizeof q);
  q.user = 0, q.exclude = x;
  ck_assert_int_eq(m->rec.one(m, &q, 2, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){3, 1}, (float[]){.625f, .5f}, 2);
  /* a new session replaces the old one; an empty one clears it */
  ck_assert_int_eq(rp_als_set_session(m, 0, (int32_t[]){2}, 1, 1.0f, &err), RP_OK);
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 2, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){2, 0}, (float[]){1.25f, 1}, 2);
  ck_assert_int_eq(rp_als_set_session(m, 0, NULL, 0, 1.0f, &err), RP_OK);
  ck_assert_int_eq(rp_als_session_count(m), 0);
  ck_assert_int_eq(rp_als_recommend_user(m, 0, 2, NULL, 0, NULL, it, sc, &n, &err), RP_OK);
  expect(it, sc, n, (int32_t[]){0, 1}, (float[]){1, .5f}, 2);
  /* a session of items that are not items clears too */
  ck_assert_int_eq(rp_als_set_session(m, 1, (int32_t[]){7}, 1, 1.0f, &err), RP_OK);
  ck_assert_int_eq(rp_als_session_count(m), 0);
  rp_csr_free(x);
  rp_als_model_free(m);
}
END_TEST

START_TEST(bad_input) {
  rp_als_model *m = hand_model();
  rp_err err;
  ck_assert_int_eq(rp_als_set_session(m, 2, (int32_t[]){1}, 1, 1.0f, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "user 2 is not a user of the model (it has 2)"), "%s", err.msg);
  ck_assert_int_eq(rp_als_set_session(m, -1, (int32_t[]){1}, 1, 1.0f, &err), RP_EINVAL);
  ck_assert_int_eq(rp_als_set_session(m, 0, (int32_t[]){1}, 1, NAN, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "session weight must be a finite number"), "%s", err.msg);
  ck_assert_int_eq(rp_als_set_session(m, 0, NULL, 2, 1.0f, &err), RP_EINVAL);
  ck_assert_int_eq(rp_als_session_count(m), 0);
  rp_als_model_free(m);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als_session");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, boosts_by_hand);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
