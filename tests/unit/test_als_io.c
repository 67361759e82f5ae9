/* Check tests for ALS model files: bit-exact round trips (plain and gzip),
 * rejection of truncated, corrupted, future-version and foreign files with
 * a message saying which, and allocation-failure loops over save/load. */
#include <sys/stat.h>

#include "als.h"
#include "events.h"
#include "rio.h"
#include "rptest.h"

static rp_csr *train_matrix(rp_idmap **users, rp_idmap **items) {
  rp_err err;
  *users = rp_idmap_new(&err);
  *items = rp_idmap_new(&err);
  char id[32];
  int32_t idx;
  for (int u = 0; u < 50; u++) {
    snprintf(id, sizeof id, "user-%d", u);
    ck_assert_int_eq(rp_idmap_intern(*users, id, strlen(id), &idx, &err), 0);
  }
  for (int i = 0; i < 40; i++) {
    snprintf(id, sizeof id, i == 7 ? "sku\t%d \xc3\xa9" : "sku-%d", i); /* odd bytes */
    ck_assert_int_eq(rp_idmap_intern(*items, id, strlen(id), &idx, &err), 0);
  }
  int32_t r[400], c[400];
  float v[400];
  rp_rng g;
  rp_rng_seed(&g, 5, 0);
  for (int e = 0; e < 400; e++) {
    r[e] = (int32_t)rp_rng_below(&g, 45);
    c[e] = (int32_t)rp_rng_below(&g, 40);
    v[e] = (float)(1 + rp_rng_below(&g, 3));
  }
  rp_csr *m = rp_csr_build(45, 40, r, c, v, NULL, 400, RP_AGG_SUM, *users, *items, &err);
  ck_assert_ptr_nonnull(m);
  return m;
}

static rp_als_model *trained(void) {
  rp_idmap *users, *items;
  rp_csr *m = train_matrix(&users, &items);
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = 12, o.iterations = 3, o.confidence = RP_ALS_CONF_HU, o.alpha = 3;
  o.reg_mode = RP_ALS_REG_FREQUENCY, o.seed = 1234567, o.solver = RP_ALS_CHOLESKY;
  rp_als_hooks h = {0};
  h.want_loss = 1;
  rp_als_model *model;
  rp_err err;
  ck_assert_int_eq(rp_als_train(m, &o, &h, &model, &err), 0);
  rp_csr_free(m);
  rp_idmap_release(users);
  rp_idmap_release(items);
  return model;
}

static void same_model(const rp_als_model *a, const rp_als_model *b) {
  ck_assert_int_eq(a->factors, b->factors);
  ck_assert_int_eq(a->nusers, b->nusers);
  ck_assert_int_eq(a->nitems, b->nitems);
  size_t f = (size_t)a->factors;
  ck_assert(memcmp(a->user_factors, b->user_factors, sizeof(float) * f * (size_t)a->nusers) == 0);
  ck_assert(memcmp(a->item_factors, b->item_factors, sizeof(float) * f * (size_t)a->nitems) == 0);
  ck_assert(memcmp(a->yty, b->yty, sizeof(float) * f * f) == 0);
  ck_assert(memcmp(&a->opts, &b->opts, sizeof a->opts) == 0);
  ck_assert_int_eq(a->iterations_done, b->iterations_done);
  ck_assert(a->loss == b->loss);
  ck_assert(a->fingerprint == b->fingerprint);
  ck_assert(a->created == b->created);
  /* maps: every id, byte for byte (50 users in the map, 45 rows) */
  ck_assert_int_eq(a->users->n, 50);
  ck_assert_int_eq(b->users->n, a->users->n);
  ck_assert_int_eq(b->items->n, a->items->n);
  for (int32_t i = 0; i < a->items->n; i++) {
    size_t la, lb;
    const char *sa = rp_idmap_id(a->items, i, &la), *sb = rp_idmap_id(b->items, i, &lb);
    ck_assert(la == lb && memcmp(sa, sb, la) == 0);
    ck_assert_int_eq(rp_idmap_find(b->items, sa, la), i);
  }
  ck_assert(rp_als_maps_compatible(a->users, b->users));
}

START_TEST(round_trip_plain_and_gzip) {
  rp_als_model *m = trained();
  char plain[600], gz[600];
  snprintf(plain, sizeof plain, "%s", rp_test_tmp("m.rpm"));
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("m.rpm.gz"));
  const char *paths[] = {plain, gz};
  for (int p = 0; p < 2; p++) {
    rp_err err;
    ck_assert_msg(rp_als_save(m, paths[p], &err) == 0, "%s", err.msg);
    rp_als_model *b;
    ck_assert_msg(rp_als_load(paths[p], &b, &err) == 0, "%s", err.msg);
    same_model(m, b);
    rp_als_model_free(b);
  }
  struct stat s1, s2;
  ck_assert_int_eq(stat(plain, &s1), 0);
  ck_assert_int_eq(stat(gz, &s2), 0);
  ck_assert_int_lt(s2.st_size, s1.st_size);
  rp_als_model_free(m);
}
END_TEST

START_TEST(model_without_maps) {
  rp_err err;
  rp_als_model *m = rp_als_model_new(3, 2, 4, NULL, NULL, &err);
  for (int e = 0; e < 12; e++) m->user_factors[e] = (float)e;
  const char *p = rp_test_tmp("nomaps.rpm");
  ck_assert_int_eq(rp_als_save(m, p, &err), 0);
  rp_als_model *b;
  ck_assert_msg(rp_als_load(p, &b, &err) == 0, "%s", err.msg);
  ck_assert_ptr_null(b->users);
  ck_assert(memcmp(m->user_factors, b->user_factors, 48) == 0);
  rp_als_model_free(m);
  rp_als_model_free(b);
}
END_TEST

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n);
  ck_assert_uint_eq(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

static void rejected(const char *path, const char *want) {
  rp_als_model *b = (rp_als_model *)1;
  rp_err err;
  int rc = rp_als_load(path, &b, &err);
  ck_assert_int_eq(rc, RP_EFORMAT);
  ck_assert_ptr_null(b);
  ck_assert_msg(strstr(err.msg, want) != NULL, "expected '%s' in '%s'", want, err.msg);
  ck_assert_msg(strstr(err.msg, path) != NULL, "path missing in '%s'", err.msg);
}

START_TEST(bad_files_rejected) {
  rp_als_model *m = trained();
  const char *good = rp_test_tmp("good.rpm");
  char bad[512];
  snprintf(bad, sizeof bad, "%s", rp_test_tmp("bad.rpm"));
  ck_assert_int_eq(rp_als_save(m, good, NULL), 0);
  size_t n;
  unsigned char *b = slurp(good, &n);
  /* truncated anywhere after the magic */
  for (size_t cut = 9; cut < n; cut += (cut < 200 ? 1 : 97)) {
    spit(bad, b, cut);
    rejected(bad, "truncated");
  }
  /* corrupted: one bit in the header, in the ids, in the factors, in the CRC */
  size_t spots[] = {20, 60, 150, 400, n - 300, n - 2};
  for (int s = 0; s < 6; s++) {
    b[spots[s]] ^= 0x10;
    spit(bad, b, n);
    rejected(bad, spots[s] < 16 + 136 + 4 ? "header CRC mismatch" : "corrupt");
    b[spots[s]] ^= 0x10;
  }
  /* trailing garbage */
  unsigned char *longer = malloc(n + 3);
  memcpy(longer, b, n);
  memcpy(longer + n, "xyz", 3);
  spit(bad, longer, n + 3);
  rejected(bad, "trailing data");
  free(longer);
  /* future version */
  ck_assert_int_eq(b[8], 2);
  b[8] = 3;
  spit(bad, b, n);
  rejected(bad, "version 3 is not supported");
  rejected(bad, "newer recpipe");
  /* a version 1 header length with version 2 */
  b[8] = 2;
  b[12] = 132;
  spit(bad, b, n);
  rejected(bad, "bad header length");
  b[12] = 136;
  /* foreign files: text, empty, another binary */
  rp_test_write(bad, "user,item\n1,2\n");
  rejected(bad, "not a recpipe ALS model file");
  rp_test_write(bad, "");
  rejected(bad, "not a recpipe ALS model file");
  spit(bad, b + 1, n - 1);
  rejected(bad, "not a recpipe ALS model file");
  /* a missing file is an I/O error naming it */
  rp_err err;
  rp_als_model *x;
  ck_assert_int_eq(rp_als_load(rp_test_tmp("nope.rpm"), &x, &err), RP_EIO);
  ck_assert_ptr_nonnull(strstr(err.msg, "nope.rpm"));
  /* a failed save leaves the old file intact */
  ck_assert_int_ne(rp_als_save(m, "/nonexistent-dir/x.rpm", &err), 0);
  free(b);
  rp_als_model_free(m);
}
END_TEST

START_TEST(truncated_gzip_rejected) {
  rp_als_model *m = trained();
  char gz[512], bad[512];
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("t.rpm.gz"));
  snprintf(bad, sizeof bad, "%s", rp_test_tmp("t-bad.rpm.gz"));
  ck_assert_int_eq(rp_als_save(m, gz, NULL), 0);
  size_t n;
  unsigned char *b = slurp(gz, &n);
  spit(bad, b, n / 2);
  rejected(bad, "truncated");
  free(b);
  rp_als_model_free(m);
}
END_TEST

/* ---- hostile headers (issue 8): nothing is allocated from a count the
 * file cannot back.  The file is built here: magic, version, header (13 i32,
 * 5 f64, 5 u64), header CRC: 152 bytes, and nothing after. */
static size_t hostile(unsigned char *b, int32_t factors, int32_t nusers, int32_t nuser_ids,
                      uint64_t user_id_bytes) {
  static const unsigned char magic[8] = {0x89, 'R', 'P', 'A', '\r', '\n', 0x1a, '\n'};
  memcpy(b, magic, 8);
  uint32_t ver = 1, hlen = 132;
  memcpy(b + 8, &ver, 4);
  memcpy(b + 12, &hlen, 4);
  int32_t i[13] = {factors, nusers, 0, 1, 1, 3, 0, 0, 0, 1, 0, nuser_ids, -1};
  double d[5] = {0.01, 1, 1, 0.01, 0};
  uint64_t u[5] = {42, 0, 0, user_id_bytes, 0};
  memcpy(b + 16, i, sizeof i);
  memcpy(b + 68, d, sizeof d);
  memcpy(b + 108, u, sizeof u);
  uint32_t crc = rp_crc32(0, b, 148);
  memcpy(b + 148, &crc, 4);
  return 152;
}

/* loads path, expecting RP_EFORMAT with `want` in the message; returns
 * the peak of C allocation during the load */
static size_t hostile_load(const char *path, const char *want) {
  size_t base = rp_mem_current();
  rp_mem_reset_peak();
  rejected(path, want);
  ck_assert_uint_eq(rp_mem_current(), base);
  return rp_mem_peak() - base;
}

static void spit_gz(const char *path, const unsigned char *b, size_t n) {
  rp_err err;
  rp_writer *w = rp_writer_open(path, &err);
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(rp_writer_write(w, b, n, &err), 0);
  ck_assert_int_eq(rp_writer_commit(w, &err), 0);
}

START_TEST(hostile_headers_bounded) {
  unsigned char b[152];
  char p[600], gz[600];
  snprintf(p, sizeof p, "%s", rp_test_tmp("hostile.rpm"));
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("hostile.rpm.gz"));
  /* 4 million users x 256 factors (4 GB) in a 152-byte file */
  spit(p, b, hostile(b, 256, 4000000, -1, 0));
  size_t peak = hostile_load(p,
                             "truncated model file (0 bytes after the header, the header "
                             "announces 4096000004)");
  ck_assert_msg(peak < 4096, "peak %zu bytes", peak);
  /* 300 million ids of 20 bytes each */
  spit(p, b, hostile(b, 8, 0, 300000000, 6000000000ULL));
  peak = hostile_load(p, "truncated model file");
  ck_assert_msg(peak < 4096, "peak %zu bytes", peak);
  /* an id section of 3e18 bytes: corrupt, not "not enough memory" */
  spit(p, b, hostile(b, 8, 0, 3, 3000000000000000000ULL));
  peak = hostile_load(p, "corrupt model file (impossible header values)");
  ck_assert_msg(peak < 4096, "peak %zu bytes", peak);
  /* gzip: 4 GB cannot come out of ~100 compressed bytes */
  spit_gz(gz, b, hostile(b, 256, 4000000, -1, 0));
  peak = hostile_load(gz,
                      "corrupt model file (the header announces more data than the "
                      "compressed file can hold)");
  ck_assert_msg(peak < 4096, "peak %zu bytes", peak);
  /* gzip, a claim the compressed size allows: 8 KiB of incompressible
   * bytes after the header could inflate to 8 MB, so 4 MB of factors pass
   * the first check; the buffers grow as the data arrives, and the load
   * fails having held about what the file really had */
  unsigned char *big = malloc(152 + 8192);
  hostile(big, 1, 1000000, -1, 0);
  rp_rng g;
  rp_rng_seed(&g, 1, 0);
  for (int k = 0; k < 8192; k++) big[152 + k] = (unsigned char)rp_rng_next(&g);
  spit_gz(gz, big, 152 + 8192);
  free(big);
  peak = hostile_load(gz, "truncated model file (ends early)");
  ck_assert_msg(peak < ((size_t)256 << 10), "peak %zu bytes", peak);
  /* ids announced beside a map count of -1 */
  spit(p, b, hostile(b, 8, 0, -1, 10));
  hostile_load(p, "impossible header values");
}
END_TEST

/* a gzip model large enough for the buffers to grow several times, and the
 * memory to load a plain model: its size plus the hash tables */
START_TEST(large_model_round_trip) {
  rp_err err;
  rp_idmap *users = rp_test_numbered("user-", 20000);
  rp_als_model *m = rp_als_model_new(20000, 3000, 8, users, NULL, &err);
  for (size_t e = 0; e < (size_t)20000 * 8; e++) m->user_factors[e] = (float)e * 0.5f;
  for (size_t e = 0; e < (size_t)3000 * 8; e++) m->item_factors[e] = -(float)e;
  char p[600], gz[600];
  snprintf(p, sizeof p, "%s", rp_test_tmp("large.rpm"));
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("large.rpm.gz"));
  ck_assert_int_eq(rp_als_save(m, p, &err), 0);
  ck_assert_int_eq(rp_als_save(m, gz, &err), 0);
  const char *paths[] = {p, gz};
  for (int k = 0; k < 2; k++) {
    size_t base = rp_mem_current();
    rp_mem_reset_peak();
    rp_als_model *b;
    ck_assert_msg(rp_als_load(paths[k], &b, &err) == 0, "%s", err.msg);
    size_t peak = rp_mem_peak() - base, held = rp_mem_current() - base;
    ck_assert(memcmp(m->user_factors, b->user_factors, sizeof(float) * 20000 * 8) == 0);
    ck_assert(memcmp(m->item_factors, b->item_factors, sizeof(float) * 3000 * 8) == 0);
    ck_assert_int_eq(b->users->n, 20000);
    ck_assert_ptr_null(b->items);
    /* plain: one exact block per section, so the peak is what is kept (the
     * reader's buffer aside); gzip: within the growth steps */
    if (k == 0)
      ck_assert_msg(peak <= held + ((size_t)300 << 10), "peak %zu, held %zu", peak, held);
    else
      ck_assert_msg(peak <= held * 2, "peak %zu, held %zu", peak, held);
    rp_als_model_free(b);
  }
  rp_als_model_free(m);
  rp_idmap_release(users);
}
END_TEST

/* a header with a valid CRC but options training would refuse (alpha 1e300:
 * infinite confidences in fold-in) is corrupt */
START_TEST(bad_options_in_file) {
  rp_als_model *m = trained();
  const char *p = rp_test_tmp("opts.rpm");
  ck_assert_int_eq(rp_als_save(m, p, NULL), 0);
  size_t n;
  unsigned char *b = slurp(p, &n);
  double alpha = 1e300;
  memcpy(b + 68 + 8, &alpha, 8); /* f64 #2 of the header */
  uint32_t crc = rp_crc32(0, b, 152);
  memcpy(b + 152, &crc, 4);
  crc = rp_crc32(0, b, n - 4);
  memcpy(b + n - 4, &crc, 4);
  spit(p, b, n);
  rejected(p, "corrupt model file (options: alpha must be a number in (0, 3.40282e+38]");
  free(b);
  rp_als_model_free(m);
}
END_TEST

static rp_als_model *fault_model;
static int save_load(void) {
  rp_err err;
  const char *p = rp_test_tmp("fault.rpm");
  int rc = rp_als_save(fault_model, p, &err);
  if (rc) return rc;
  rp_als_model *b;
  rc = rp_als_load(p, &b, &err);
  if (rc) return rc;
  rp_als_model_free(b);
  return 0;
}

START_TEST(fault_loop_save_load) {
  fault_model = trained();
  RP_FAULT_LOOP(save_load());
  rp_als_model_free(fault_model);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("als_io");
  TCase *tc = tcase_create("files");
  tcase_add_test(tc, round_trip_plain_and_gzip);
  tcase_add_test(tc, model_without_maps);
  tcase_add_test(tc, bad_files_rejected);
  tcase_add_test(tc, truncated_gzip_rejected);
  tcase_add_test(tc, fault_loop_save_load);
  tcase_add_test(tc, hostile_headers_bounded);
  tcase_add_test(tc, bad_options_in_file);
  tcase_add_test(tc, large_model_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
