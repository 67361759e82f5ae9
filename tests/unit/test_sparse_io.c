/* Check tests for the matrix file: round trips (plain, gzip, empty, odd
 * ids), every kind of damage (each byte flipped, truncation at every
 * offset, foreign files, future versions, trailing data), atomic writes,
 * and allocation-failure loops over save and load. */
#include <dirent.h>
#include <sys/stat.h>

#include "rio.h"
#include "test_sparse_util.h"

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static void spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

static void check_maps_eq(const rp_idmap *a, const rp_idmap *b) {
  if (!a || !b) {
    ck_assert_ptr_eq(a, b);
    return;
  }
  ck_assert_int_eq(a->n, b->n);
  for (int32_t i = 0; i < a->n; i++) {
    size_t la, lb;
    const char *sa = rp_idmap_id(a, i, &la), *sb = rp_idmap_id(b, i, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(sa, sb, la) == 0);
    ck_assert_int_eq(rp_idmap_find(b, sa, la), i); /* the loaded map's table works */
  }
}

static void roundtrip(const rp_csr *m, const char *name) {
  const char *path = rp_test_tmp(name);
  rp_err err;
  ck_assert_msg(rp_csr_save(m, path, &err) == RP_OK, "%s", err.msg);
  rp_csr *l = rp_csr_load(path, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  check_same(l, m);
  check_maps_eq(m->rowmap, l->rowmap);
  check_maps_eq(m->colmap, l->colmap);
  rp_csr_free(l);
}

START_TEST(roundtrip_plain_and_gz) {
  rp_idmap *um = tmap("user-", 120), *im = tmap("item:", 90);
  rp_csr *m = random_matrix(11, 100, 80, 0.1, um, im); /* maps longer than the shape */
  roundtrip(m, "m.rpm");
  roundtrip(m, "m.rpm.gz");
  /* gzip is detected by content: a .gz file renamed still loads */
  rp_err err;
  char from[600];
  snprintf(from, sizeof from, "%s", rp_test_tmp("m.rpm.gz"));
  ck_assert_int_eq(rename(from, rp_test_tmp("renamed.rpm")), 0);
  rp_csr *l = rp_csr_load(rp_test_tmp("renamed.rpm"), &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  check_same(l, m);
  rp_csr_free(l);
  /* a larger matrix, so arrays pass the staging buffer */
  rp_csr *big = random_matrix(12, 3000, 2000, 0.02, NULL, NULL);
  roundtrip(big, "big.rpm");
  roundtrip(big, "big.rpm.gz");
  ck_assert_int_eq(rp_csr_save_level(big, rp_test_tmp("big9.rpm.gz"), 9, &err), RP_OK);
  l = rp_csr_load(rp_test_tmp("big9.rpm.gz"), &err);
  check_same(l, big);
  rp_csr_free(l);
  rp_csr_free(big);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

START_TEST(roundtrip_empty_and_odd_ids) {
  rp_err err;
  rp_csr *e = rp_csr_new(0, 0, 0, NULL, NULL, &err);
  roundtrip(e, "empty0.rpm");
  rp_csr_free(e);
  rp_idmap *um = tmap("u", 5), *im = tmap("i", 3);
  e = rp_csr_new(5, 3, 0, um, im, &err);
  roundtrip(e, "empty.rpm");
  roundtrip(e, "empty.rpm.gz");
  rp_csr_free(e);
  rp_idmap_release(um);
  rp_idmap_release(im);
  /* ids: empty, NUL inside, UTF-8, separators, quotes, very long */
  rp_idmap *odd = rp_idmap_new(&err);
  char longid[5000];
  memset(longid, 'x', sizeof longid);
  struct {
    const char *s;
    size_t n;
  } ids[] = {
      {"", 0},        {"a\0b", 3},  {"\xc3\xa9t\xc3\xa9", 5}, {"1,2;3\t4", 7}, {"\"q\"", 3},
      {"17850.0", 7}, {"17850", 5}, {longid, sizeof longid},  {"\n\r", 2},     {"\xff\xfe", 2}};
  int32_t n = (int32_t)(sizeof ids / sizeof *ids), k;
  for (int32_t i = 0; i < n; i++) {
    ck_assert_int_eq(rp_idmap_intern(odd, ids[i].s, ids[i].n, &k, &err), RP_OK);
    ck_assert_int_eq(k, i);
  }
  int32_t r[] = {0, 1, 7, 9}, c[] = {9, 1, 0, 7};
  float v[] = {1.5f, -2, 1e-30f, 3e30f};
  rp_csr *m = rp_csr_build(n, n, r, c, v, NULL, 4, RP_AGG_SUM, odd, odd, &err);
  roundtrip(m, "odd.rpm");
  roundtrip(m, "odd.rpm.gz");
  /* only one map */
  rp_csr *half = rp_csr_build(n, n, r, c, v, NULL, 4, RP_AGG_SUM, NULL, odd, &err);
  roundtrip(half, "half.rpm");
  rp_csr_free(half);
  rp_csr_free(m);
  rp_idmap_release(odd);
}
END_TEST

/* A small saved matrix's bytes (ids in both maps). */
static unsigned char *small_file(const char *name, size_t *n) {
  rp_idmap *um = tmap("u", 4), *im = tmap("i", 3);
  int32_t r[] = {0, 1, 3, 3}, c[] = {2, 0, 0, 1};
  float v[] = {1, 2, 3, 4};
  rp_err err;
  rp_csr *m = rp_csr_build(4, 3, r, c, v, NULL, 4, RP_AGG_SUM, um, im, &err);
  ck_assert_int_eq(rp_csr_save(m, rp_test_tmp(name), &err), RP_OK);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
  return slurp(rp_test_tmp(name), n);
}

static char *load_error(const char *path) {
  static rp_err err;
  rp_csr *m = rp_csr_load(path, &err);
  ck_assert_msg(m == NULL, "loaded a damaged file");
  ck_assert_int_eq(err.status, RP_EFORMAT);
  return err.msg;
}

START_TEST(flip_every_byte) {
  size_t n;
  unsigned char *b = small_file("flip.rpm", &n);
  const char *bad = rp_test_tmp("flipped.rpm");
  for (size_t at = 0; at < n; at++) {
    for (int pattern = 0; pattern < 2; pattern++) {
      unsigned char x = pattern ? 0x01 : 0xff;
      b[at] ^= x;
      spit(bad, b, n);
      b[at] ^= x;
      const char *msg = load_error(bad);
      if (at < 8)
        ck_assert_msg(strstr(msg, "not a recpipe matrix file") != NULL, "@%zu: %s", at, msg);
      else if (at < 12)
        ck_assert_msg(strstr(msg, "written by a newer recpipe") != NULL ||
                          strstr(msg, "format version 0") != NULL,
                      "@%zu: %s", at, msg);
      else if (at < 64)
        ck_assert_msg(strstr(msg, "header CRC mismatch") != NULL, "@%zu: %s", at, msg);
      else
        ck_assert_msg(strstr(msg, "corrupted matrix file (CRC mismatch") != NULL, "@%zu: %s", at,
                      msg);
    }
  }
  free(b);
}
END_TEST

START_TEST(truncate_everywhere) {
  size_t n;
  unsigned char *b = small_file("trunc.rpm", &n);
  const char *bad = rp_test_tmp("truncated.rpm");
  for (size_t len = 1; len < n; len++) {
    spit(bad, b, len);
    const char *msg = load_error(bad);
    ck_assert_msg(strstr(msg, "truncated") != NULL, "at %zu: %s", len, msg);
  }
  /* the same through gzip: cut the compressed stream */
  rp_err err;
  rp_csr *m = rp_csr_load(rp_test_tmp("trunc.rpm"), &err);
  ck_assert_int_eq(rp_csr_save(m, rp_test_tmp("trunc.rpm.gz"), &err), RP_OK);
  rp_csr_free(m);
  size_t gn;
  unsigned char *g = slurp(rp_test_tmp("trunc.rpm.gz"), &gn);
  for (size_t len = 2; len < gn; len++) { /* one byte is not yet gzip */
    spit(bad, g, len);
    const char *msg = load_error(bad);
    ck_assert_msg(strstr(msg, "truncated") != NULL, "gz at %zu: %s", len, msg);
  }
  free(g);
  free(b);
}
END_TEST

START_TEST(foreign_and_future) {
  const char *p = rp_test_tmp("foreign.csv");
  rp_test_write(p, "user,item,value\nu1,i1,1\n");
  ck_assert_ptr_nonnull(strstr(load_error(p), "not a recpipe matrix file"));
  rp_test_write(p, "");
  ck_assert_ptr_nonnull(strstr(load_error(p), "empty file"));
  rp_test_write(p, "RP");
  ck_assert_ptr_nonnull(strstr(load_error(p), "not a recpipe matrix file"));
  /* a future version with a valid header CRC */
  size_t n;
  unsigned char *b = small_file("future.rpm", &n);
  b[8] = 7;
  uint32_t crc = rp_crc32(0, b, 60);
  for (int k = 0; k < 4; k++) b[60 + k] = (unsigned char)(crc >> (8 * k));
  spit(p, b, n);
  char want[700];
  snprintf(want, sizeof want,
           "%s: written by a newer recpipe: format version 7, this build reads up to 1", p);
  ck_assert_str_eq(load_error(p), want);
  free(b);
}
END_TEST

START_TEST(trailing_and_flags) {
  size_t n;
  unsigned char *b = small_file("trail.rpm", &n);
  const char *p = rp_test_tmp("trail2.rpm");
  unsigned char *b2 = malloc(n + 3);
  memcpy(b2, b, n);
  memcpy(b2 + n, "xyz", 3);
  spit(p, b2, n + 3);
  ck_assert_ptr_nonnull(strstr(load_error(p), "unexpected data after the end"));
  /* unknown flags with a valid header CRC */
  b[12] |= 0x80;
  uint32_t crc = rp_crc32(0, b, 60);
  for (int k = 0; k < 4; k++) b[60 + k] = (unsigned char)(crc >> (8 * k));
  spit(p, b, n);
  ck_assert_ptr_nonnull(strstr(load_error(p), "unsupported flags"));
  free(b);
  free(b2);
}
END_TEST

static int count_tmp_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".tmp.")) n++;
  closedir(d);
  return n;
}

START_TEST(save_is_atomic) {
  rp_err err;
  rp_csr *m = random_matrix(2, 20, 20, 0.2, NULL, NULL);
  /* unwritable place: an error naming the path, nothing left */
  ck_assert_int_ne(rp_csr_save(m, "/nonexistent-dir/m.rpm", &err), RP_OK);
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/m.rpm"));
  /* a failing rename (target is a directory): no temporary file stays */
  char dir[600];
  snprintf(dir, sizeof dir, "%s", rp_test_tmp("adir"));
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  char parent[600];
  snprintf(parent, sizeof parent, "%s", dir);
  *strrchr(parent, '/') = 0;
  ck_assert_int_ne(rp_csr_save(m, dir, &err), RP_OK);
  ck_assert_int_eq(count_tmp_files(parent), 0);
  /* an invalid matrix is refused and the existing file is untouched */
  const char *p = rp_test_tmp("keep.rpm");
  ck_assert_int_eq(rp_csr_save(m, p, &err), RP_OK);
  size_t n0, n1;
  unsigned char *before = slurp(p, &n0);
  m->data[0] = NAN;
  ck_assert_int_ne(rp_csr_save(m, p, &err), RP_OK);
  ck_assert_ptr_nonnull(strstr(err.msg, "invalid matrix"));
  unsigned char *after = slurp(p, &n1);
  ck_assert_uint_eq(n0, n1);
  ck_assert(memcmp(before, after, n0) == 0);
  ck_assert_int_eq(count_tmp_files(parent), 0);
  m->data[0] = 1;
  free(before);
  free(after);
  rp_csr_free(m);
  ck_assert_int_eq(rp_csr_save_level(m, rp_test_tmp("lv.rpm.gz"), 0, &err), RP_EINVAL);
  ck_assert_int_eq(rp_csr_save_level(m, rp_test_tmp("lv.rpm.gz"), 10, &err), RP_EINVAL);
  ck_assert_ptr_null(rp_csr_load("/nonexistent-dir/m.rpm", &err));
  ck_assert_int_eq(err.status, RP_EIO);
}
END_TEST

static rp_csr *fm;
static int f_save_load(const char *name) {
  rp_err err;
  if (rp_csr_save(fm, rp_test_tmp(name), &err)) return err.status;
  rp_csr *l = rp_csr_load(rp_test_tmp(name), &err);
  if (!l) return err.status;
  rp_csr_free(l);
  return 0;
}

START_TEST(fault_loops) {
  rp_idmap *um = tmap("u", 40), *im = tmap("i", 30);
  fm = random_matrix(6, 40, 30, 0.2, um, im);
  RP_FAULT_LOOP(f_save_load("fault.rpm"));
  RP_FAULT_LOOP(f_save_load("fault.rpm.gz"));
  rp_csr_free(fm);
  rp_idmap_release(um);
  rp_idmap_release(im);
  ck_assert_int_eq(count_tmp_files(rp_test_tmp("")), 0);
}
END_TEST

START_TEST(load_memory_is_the_matrix) {
  /* loading streams into the final arrays: the peak is the matrix, its
   * maps and the reader's buffer, nothing proportional to the file on top */
  rp_idmap *um = tmap("user-", 3000), *im = tmap("item-", 2000);
  rp_csr *m = random_matrix(13, 3000, 2000, 0.05, um, im);
  const char *p = rp_test_tmp("mem.rpm");
  rp_err err;
  ck_assert_int_eq(rp_csr_save(m, p, &err), RP_OK);
  size_t base = rp_mem_current();
  rp_mem_reset_peak();
  rp_csr *l = rp_csr_load(p, &err);
  ck_assert_ptr_nonnull(l);
  size_t held = rp_csr_bytes(l) + rp_idmap_bytes(l->rowmap) + rp_idmap_bytes(l->colmap);
  size_t peak = rp_mem_peak() - base, slack = (256 << 10) + (64 << 10);
  ck_assert_msg(peak <= held + slack, "peak %zu bytes for a matrix holding %zu", peak, held);
  ck_assert_uint_gt(rp_csr_bytes(l), 2 * slack); /* the check means something */
  rp_csr_free(l);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

/* ---- hostile headers (issue 8): a header with a valid CRC that announces
 * more than the file holds costs what the file holds, plain or gzip */
static size_t hostile_header(unsigned char *h, int32_t nrows, int64_t nnz) {
  static const unsigned char magic[8] = {0x89, 'R', 'P', 'M', '\r', '\n', 0x1a, '\n'};
  memset(h, 0, 64);
  memcpy(h, magic, 8);
  h[8] = 1; /* version */
  for (int k = 0; k < 4; k++) h[16 + k] = (unsigned char)((uint32_t)nrows >> (8 * k));
  h[20] = 8; /* ncols */
  for (int k = 0; k < 8; k++) h[24 + k] = (unsigned char)((uint64_t)nnz >> (8 * k));
  uint32_t crc = rp_crc32(0, h, 60);
  for (int k = 0; k < 4; k++) h[60 + k] = (unsigned char)(crc >> (8 * k));
  return 64;
}

static size_t hostile_peak(const char *path, const char *want) {
  size_t base = rp_mem_current();
  rp_mem_reset_peak();
  const char *msg = load_error(path);
  ck_assert_msg(strstr(msg, want) != NULL, "expected '%s' in '%s'", want, msg);
  ck_assert_uint_eq(rp_mem_current(), base);
  return rp_mem_peak() - base;
}

static void spit_gz(const char *path, const void *b, size_t n) {
  rp_err err;
  rp_writer *w = rp_writer_open(path, &err);
  ck_assert_int_eq(rp_writer_write(w, b, n, &err), RP_OK);
  ck_assert_int_eq(rp_writer_commit(w, &err), RP_OK);
}

START_TEST(hostile_headers_bounded) {
  unsigned char *b = malloc(64 + 8192);
  char p[600], gz[600];
  snprintf(p, sizeof p, "%s", rp_test_tmp("hostile.rpm"));
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("hostile.rpm.gz"));
  /* 2^31 - 1 rows (16 GB of offsets) and 2^40 non-zeros in 64 bytes */
  spit(p, b, hostile_header(b, INT32_MAX, (int64_t)1 << 40));
  size_t peak = hostile_peak(p, "truncated file (64 bytes, the header announces");
  ck_assert_msg(peak < 4096, "peak %zu", peak);
  spit_gz(gz, b, hostile_header(b, INT32_MAX, (int64_t)1 << 40));
  peak = hostile_peak(gz,
                      "corrupted matrix file (the header announces 8813272891460 bytes, more "
                      "than the compressed file can hold)");
  ck_assert_msg(peak < 4096, "peak %zu", peak);
  /* gzip with 8 KiB of incompressible bytes: 4 MB of arrays pass the first
   * check; they grow as data arrives and the load fails as truncated */
  hostile_header(b, 10, 500000);
  rp_rng g;
  rp_rng_seed(&g, 3, 0);
  for (int k = 0; k < 8192; k++) b[64 + k] = (unsigned char)rp_rng_next(&g);
  spit_gz(gz, b, 64 + 8192);
  peak = hostile_peak(gz, "truncated");
  ck_assert_msg(peak < ((size_t)256 << 10), "peak %zu", peak);
  free(b);
}
END_TEST

/* a gzip matrix big enough for its arrays to grow several times */
START_TEST(gzip_load_grows) {
  rp_idmap *um = tmap("user-", 3000), *im = tmap("item-", 2000);
  rp_csr *m = random_matrix(17, 3000, 2000, 0.05, um, im);
  const char *p = rp_test_tmp("grow.rpm.gz");
  rp_err err;
  ck_assert_int_eq(rp_csr_save(m, p, &err), RP_OK);
  size_t base = rp_mem_current();
  rp_mem_reset_peak();
  rp_csr *l = rp_csr_load(p, &err);
  ck_assert_msg(l != NULL, "%s", err.msg);
  size_t held = rp_mem_current() - base, peak = rp_mem_peak() - base;
  check_same(l, m);
  check_maps_eq(m->rowmap, l->rowmap);
  ck_assert_msg(peak <= 2 * held, "peak %zu, held %zu", peak, held);
  rp_csr_free(l);
  rp_csr_free(m);
  rp_idmap_release(um);
  rp_idmap_release(im);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("sparse_io");
  TCase *tc = tcase_create("files");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, roundtrip_plain_and_gz);
  tcase_add_test(tc, roundtrip_empty_and_odd_ids);
  tcase_add_test(tc, flip_every_byte);
  tcase_add_test(tc, truncate_everywhere);
  tcase_add_test(tc, foreign_and_future);
  tcase_add_test(tc, trailing_and_flags);
  tcase_add_test(tc, save_is_atomic);
  tcase_add_test(tc, load_memory_is_the_matrix);
  tcase_add_test(tc, fault_loops);
  tcase_add_test(tc, hostile_headers_bounded);
  tcase_add_test(tc, gzip_load_grows);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
