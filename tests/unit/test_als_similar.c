/* Check tests for candidate restrictions and batch forms of similar and
 * recommend (similar_items{items =}, similar_items_all, recommend_all{items
 * =}) on a model whose factors are set by hand, so the answers are known:
 *
 *   items  i0 (1,0)  i1 (1,1)  i2 (0,1)  i3 (-1,0)  i4 (0,0)  i5 (2,0.1)
 *   user   u0 (1,0)  u1 (0,2)
 *
 * cosines to i0: i0 1, i5 2/sqrt(4.01), i1 1/sqrt(2), i2 0, i4 0 (no
 * factors), i3 -1; scores of u0: i5 2, i0 1, i1 1, i2 0, i3 -1. */
#include <math.h>

#include "als_impl.h"
#include "rptest.h"

static rp_als_model *hand_model(void) {
  rp_err err;
  rp_als_model *m = rp_als_model_new(2, 6, 2, NULL, NULL, &err);
  ck_assert_ptr_nonnull(m);
  const float Y[12] = {1, 0, 1, 1, 0, 1, -1, 0, 0, 0, 2, 0.1f}, X[4] = {1, 0, 0, 2};
  memcpy(m->item_factors, Y, sizeof Y);
  memcpy(m->user_factors, X, sizeof X);
  ck_assert_int_eq(rp_als_model_refresh(m, &err), 0);
  return m;
}

START_TEST(similar_with_candidates) {
  rp_als_model *m = hand_model();
  int32_t idx[6], n;
  float s[6];
  rp_err err;
  ck_assert_int_eq(rp_als_similar_in(m, 0, 0, 6, 1, NULL, idx, s, &n, &err), 0);
  ck_assert_int_eq(n, 6);
  const int32_t all[6] = {0, 5, 1, 2, 4, 3};
  ck_assert(memcmp(idx, all, sizeof all) == 0);
  ck_assert(fabsf(s[1] - 2 / sqrtf(4.01f)) < 1e-6f && fabsf(s[2] - sqrtf(0.5f)) < 1e-6f);
  int32_t c1[3] = {1, 2, 3};
  rp_als_list l1 = {c1, 3};
  ck_assert_int_eq(rp_als_similar_in(m, 0, 0, 5, 1, &l1, idx, s, &n, &err), 0);
  ck_assert_int_eq(n, 3);
  ck_assert(idx[0] == 1 && idx[1] == 2 && idx[2] == 3);
  ck_assert(s[1] == 0 && s[2] == -1);
  /* the query among the candidates, left out */
  int32_t c2[2] = {0, 1};
  rp_als_list l2 = {c2, 2};
  ck_assert_int_eq(rp_als_similar_in(m, 0, 0, 5, 0, &l2, idx, s, &n, &err), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(idx[0], 1);
  /* k smaller than the candidates */
  int32_t c3[4] = {1, 2, 3, 5};
  rp_als_list l3 = {c3, 4};
  ck_assert_int_eq(rp_als_similar_in(m, 0, 0, 2, 1, &l3, idx, s, &n, &err), 0);
  ck_assert(n == 2 && idx[0] == 5 && idx[1] == 1);
  rp_als_model_free(m);
}
END_TEST

START_TEST(similar_batch_and_users) {
  rp_als_model *m = hand_model();
  int32_t q[4] = {0, 2, 4, 99}, idx[12], cnt[4];
  float s[12];
  int32_t c[3] = {0, 1, 3};
  rp_als_list l = {c, 3};
  rp_err err;
  ck_assert_int_eq(rp_als_similar_batch(m, 0, q, 4, 3, 1, &l, 2, idx, s, cnt, &err), 0);
  ck_assert(cnt[0] == 3 && idx[0] == 0 && idx[1] == 1 && idx[2] == 3);
  /* i2 = (0,1): i1 (0.707), then i0 and i3 tie at 0: lower index first */
  ck_assert(cnt[1] == 3 && idx[3] == 1 && idx[4] == 0 && idx[5] == 3);
  ck_assert(cnt[2] == 0 && cnt[3] == 0); /* no factors; out of range */
  /* every query alone gives the same */
  for (int a = 0; a < 2; a++) {
    int32_t one[3], n;
    float os[3];
    ck_assert_int_eq(rp_als_similar_in(m, 0, q[a], 3, 1, &l, one, os, &n, &err), 0);
    ck_assert(n == cnt[a] && memcmp(one, idx + 3 * a, sizeof one) == 0);
  }
  /* users: u0 (1,0) and u1 (0,2) are orthogonal */
  int32_t uq[2] = {0, 1};
  ck_assert_int_eq(rp_als_similar_batch(m, 1, uq, 2, 2, 1, NULL, 1, idx, s, cnt, &err), 0);
  ck_assert(cnt[0] == 2 && idx[0] == 0 && idx[1] == 1 && s[0] == 1 && s[1] == 0);
  rp_als_model_free(m);
}
END_TEST

START_TEST(recommend_batch_with_candidates) {
  rp_als_model *m = hand_model();
  int32_t users[2] = {0, 1}, items[6], cnt[2];
  float s[6];
  int32_t c[3] = {2, 3, 5};
  rp_als_list l = {c, 3};
  rp_err err;
  ck_assert_int_eq(
      rp_als_recommend_batch_allow(m, users, 2, 3, NULL, 1, 0, &l, items, s, cnt, &err), 0);
  /* u0: i5 2, i2 0, i3 -1;  u1 (0,2): i2 2, i5 0.2, i3 0 */
  ck_assert(cnt[0] == 3 && items[0] == 5 && items[1] == 2 && items[2] == 3);
  ck_assert(cnt[1] == 3 && items[3] == 2 && items[4] == 5 && items[5] == 3);
  ck_assert(s[0] == 2 && s[3] == 2);
  /* the untrained item i4 stays out unless asked for */
  int32_t c4[2] = {3, 4};
  rp_als_list l4 = {c4, 2};
  ck_assert_int_eq(
      rp_als_recommend_batch_allow(m, users, 1, 3, NULL, 1, 0, &l4, items, s, cnt, &err), 0);
  ck_assert(cnt[0] == 1 && items[0] == 3);
  ck_assert_int_eq(rp_als_recommend_batch_allow(m, users, 1, 3, NULL, 1, RP_ALS_UNTRAINED, &l4,
                                                items, s, cnt, &err),
                   0);
  ck_assert(cnt[0] == 2 && items[0] == 4 && items[1] == 3);
  rp_als_model_free(m);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als_similar");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, similar_with_candidates);
  tcase_add_test(tc, similar_batch_and_users);
  tcase_add_test(tc, recommend_batch_with_candidates);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
