/*
 * test_dist.c -- dist.h in one process (not started by mpirun): rank 0 of 1,
 * the collectives are copies, and the block cuts by hand.  Runs on 2 and 3
 * processes are tests/e2e/dist.sh.
 */
#include "dist.h"
#include "rptest.h"

START_TEST(single_process) {
  rp_err err;
  ck_assert_int_eq(rp_dist_init(&err), RP_OK);
  ck_assert_int_eq(rp_dist_rank(), 0);
  ck_assert_int_eq(rp_dist_size(), 1);
  ck_assert_int_eq(rp_dist_barrier(&err), RP_OK);
  float rows[6] = {1, 2, 3, 4, 5, 6};
  int64_t off[2] = {0, 3};
  ck_assert_int_eq(rp_dist_allgather_rows(rows, 2 * sizeof(float), off, &err), RP_OK);
  ck_assert(rows[5] == 6);
  char *all = NULL;
  size_t sizes[1];
  ck_assert_int_eq(rp_dist_allgather_bytes("abc", 3, &all, sizes, &err), RP_OK);
  ck_assert_uint_eq(sizes[0], 3);
  ck_assert_mem_eq(all, "abc", 3);
  rp_free(all);
  ck_assert_uint_eq(rp_dist_bytes_sent(), 0);
}
END_TEST

/* blocks of rows by work, checked against the cut worked out by hand */
START_TEST(blocks_by_hand) {
  int64_t off[5];
  rp_dist_blocks(10, NULL, 3, off);
  ck_assert_int_eq(off[0], 0);
  ck_assert_int_eq(off[1], 3);
  ck_assert_int_eq(off[2], 6);
  ck_assert_int_eq(off[3], 10);
  rp_dist_blocks(2, NULL, 4, off); /* fewer rows than ranks: empty blocks */
  ck_assert_int_eq(off[0], 0);
  ck_assert_int_eq(off[1], 0);
  ck_assert_int_eq(off[2], 1);
  ck_assert_int_eq(off[3], 1);
  ck_assert_int_eq(off[4], 2);
  /* work 1 1 1 1 8 1 1 1 1 (total 16): a block ends before the first row whose middle
   * reaches the rank's share; row 4's middle is 8, exactly half: it starts block 2 */
  const int64_t w[9] = {1, 1, 1, 1, 8, 1, 1, 1, 1};
  rp_dist_blocks(9, w, 2, off);
  ck_assert_int_eq(off[0], 0);
  ck_assert_int_eq(off[1], 4);
  ck_assert_int_eq(off[2], 9);
  /* thirds of 16: 5.33 and 10.67; row 4's middle (8) is past the first, before the second */
  rp_dist_blocks(9, w, 3, off);
  ck_assert_int_eq(off[1], 4);
  ck_assert_int_eq(off[2], 5);
  ck_assert_int_eq(off[3], 9);
  rp_dist_blocks(0, NULL, 2, off);
  ck_assert_int_eq(off[0], 0);
  ck_assert_int_eq(off[1], 0);
  ck_assert_int_eq(off[2], 0);
}
END_TEST

/* every cut covers the rows once, in order, whatever the work */
START_TEST(blocks_cover) {
  int64_t w[200], off[9];
  rp_rng g;
  rp_rng_seed(&g, 5, 0);
  for (int i = 0; i < 200; i++) w[i] = (int64_t)(rp_rng_uniform(&g) * 100);
  for (int size = 1; size <= 8; size++) {
    rp_dist_blocks(200, w, size, off);
    ck_assert_int_eq(off[0], 0);
    ck_assert_int_eq(off[size], 200);
    int64_t total = 0, most = 0;
    for (int i = 0; i < 200; i++) total += w[i];
    for (int r = 0; r < size; r++) {
      ck_assert_int_le(off[r], off[r + 1]);
      int64_t s = 0;
      for (int64_t i = off[r]; i < off[r + 1]; i++) s += w[i];
      if (s > most) most = s;
    }
    /* balanced: no block above its share by more than the largest row */
    ck_assert_int_le(most, total / size + 100);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("dist");
  TCase *t = tcase_create("core");
  tcase_add_test(t, single_process);
  tcase_add_test(t, blocks_by_hand);
  tcase_add_test(t, blocks_cover);
  suite_add_tcase(s, t);
  return s;
}

RP_TEST_MAIN(suite)
