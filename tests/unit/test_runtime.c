/* Check tests for the runtime core: allocation accounting and fault
 * injection, CRC32, the seeded generator, atomic writers and gzip readers,
 * top-k selection against a full sort. */
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <zlib.h>

#include "rio.h"
#include "rptest.h"
#include "selection.h"

START_TEST(alloc_accounting) {
  size_t base = rp_mem_current();
  char *p = rp_malloc(1000);
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq((uintptr_t)p % 64, 0);
  ck_assert_uint_eq(rp_mem_current(), base + 1000);
  p = rp_realloc(p, 5000);
  ck_assert_uint_eq((uintptr_t)p % 64, 0);
  ck_assert_uint_eq(rp_mem_current(), base + 5000);
  ck_assert_uint_ge(rp_mem_peak(), base + 5000);
  rp_free(p);
  ck_assert_uint_eq(rp_mem_current(), base);
  rp_free(NULL);
}
END_TEST

START_TEST(alloc_realloc_keeps_data) {
  unsigned char *p = rp_malloc(100);
  for (int i = 0; i < 100; i++) p[i] = (unsigned char)i;
  for (size_t n = 200; n < (1u << 22); n *= 3) {
    p = rp_realloc(p, n);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 100; i++) ck_assert_int_eq(p[i], i);
  }
  rp_free(p);
}
END_TEST

START_TEST(alloc_fault_injection) {
  rp_mem_fail_after(2);
  void *a = rp_malloc(10), *b = rp_malloc(10), *c = rp_malloc(10);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_null(b);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(rp_mem_failed(), 1);
  rp_mem_fail_after(0);
  rp_free(a);
  rp_free(c);
  ck_assert_ptr_null(rp_calloc(SIZE_MAX / 2, 4)); /* overflow is a failure */
}
END_TEST

START_TEST(crc32_known) {
  /* the standard check value of CRC-32/ISO-HDLC */
  ck_assert_uint_eq(rp_crc32(0, "123456789", 9), 0xcbf43926u);
  /* incremental == one shot, and matches zlib */
  const char *s = "the quick brown fox jumps over the lazy dog, twice over";
  uint32_t c = rp_crc32(0, s, 10);
  c = rp_crc32(c, s + 10, strlen(s) - 10);
  ck_assert_uint_eq(c, rp_crc32(0, s, strlen(s)));
  ck_assert_uint_eq(c, (uint32_t)crc32(0, (const Bytef *)s, (uInt)strlen(s)));
}
END_TEST

START_TEST(progress_lines) {
  char b[256];
  rp_progress_line(b, sizeof b, "reading", 4.5e6, 1e7, 3.75, 0);
  /* 45%: 9 of 20 marks; 1.2M/s; ETA 5.5e6 / 1.2e6 = 4.583 s */
  ck_assert_str_eq(b, "reading [#########...........]  45.0%  4.5M/10.0M  1.2M/s  3.8s  ETA 4.6s");
  rp_progress_line(b, sizeof b, "reading", 1e7, 1e7, 8.3, 1);
  ck_assert_str_eq(b, "reading: 10.0M/10.0M in 8.3s (1.2M/s)");
  rp_progress_line(b, sizeof b, "als", 3, 15, 90, 0);
  /* 3 per 90 s: 0.0333/s; ETA 12 / (1/30) = 360 s = 6:00 */
  ck_assert_str_eq(b, "als [####................]  20.0%  3/15  0.0333/s  1:30  ETA 6:00");
  rp_progress_line(b, sizeof b, "als", 7, 15, 4000, 1);
  ck_assert_str_eq(b, "als: 7/15 in 1:06:40 (0.00175/s)");
  rp_progress_line(b, sizeof b, "rows", 12345, 0, 2, 0);
  ck_assert_str_eq(b, "rows 12.3k  6172/s  2.0s"); /* 6172.5: to even */
  rp_progress_line(b, sizeof b, "rows", 12345, 0, 0, 1);
  ck_assert_str_eq(b, "rows: 12.3k in 0.0s (--/s)");
  rp_progress_line(b, sizeof b, "x", 0, 10, 0, 0); /* no rate yet: no ETA */
  ck_assert_str_eq(b, "x [....................]   0.0%  0/10  --/s  0.0s  ETA --");
}
END_TEST

START_TEST(rng_reproducible) {
  rp_rng a, b;
  rp_rng_seed(&a, 42, 7);
  rp_rng_seed(&b, 42, 7);
  for (int i = 0; i < 1000; i++) ck_assert_uint_eq(rp_rng_next(&a), rp_rng_next(&b));
  /* another stream, or another seed, from the same position (the first
   * draw): no draw of the first 64 agrees (a collision has odds 2^-58) */
  rp_rng c, d;
  rp_rng_seed(&a, 42, 7);
  rp_rng_seed(&b, 42, 8);
  rp_rng_seed(&c, 43, 7);
  rp_rng_seed(&d, 42, 7);
  for (int i = 0; i < 64; i++) {
    uint64_t x = rp_rng_next(&a), y = rp_rng_next(&b), z = rp_rng_next(&c), w = rp_rng_next(&d);
    ck_assert_uint_ne(x, y);
    ck_assert_uint_ne(x, z);
    ck_assert_uint_ne(y, z);
    ck_assert_uint_eq(x, w);
  }
  /* the published reference outputs: xoshiro256** from the state
   * {1, 2, 3, 4}, SplitMix64 from 1234567 (Vigna's reference code) */
  rp_rng_seed(&a, 42, 7);
  a.s[0] = 1, a.s[1] = 2, a.s[2] = 3, a.s[3] = 4;
  const uint64_t xo[] = {
      11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u, 607988272756665600u};
  for (int i = 0; i < 6; i++) ck_assert_uint_eq(rp_rng_next(&a), xo[i]);
  const uint64_t gamma = 0x9e3779b97f4a7c15ULL;
  ck_assert_uint_eq(rp_hash64(1234567u), 6457827717110365317u);
  ck_assert_uint_eq(rp_hash64(1234567u + gamma), 3203168211198807973u);
  ck_assert_uint_eq(rp_hash64(1234567u + 2 * gamma), 9817491932198370423u);
  /* uniform mean and below() range */
  double s = 0;
  for (int i = 0; i < 100000; i++) {
    double u = rp_rng_uniform(&a);
    ck_assert(u >= 0 && u < 1);
    s += u;
    ck_assert_uint_lt(rp_rng_below(&a, 7), 7);
  }
  ck_assert(s / 100000 > 0.49 && s / 100000 < 0.51);
}
END_TEST

static int write_then_read(const char *path) {
  rp_err err;
  rp_writer *w = rp_writer_open(path, &err);
  if (!w) return err.status;
  for (int i = 0; i < 10000; i++)
    if (rp_writer_printf(w, &err, "line %d\n", i)) {
      rp_writer_abort(w);
      return err.status;
    }
  if (rp_writer_commit(w, &err)) return err.status;
  rp_reader *r = rp_reader_open(path, &err);
  if (!r) return err.status;
  char buf[4096];
  size_t total = 0;
  ssize_t k;
  while ((k = rp_reader_read(r, buf, sizeof buf, &err)) > 0) total += (size_t)k;
  rp_reader_close(r);
  if (k < 0) return err.status;
  /* "line " + digits + "\n": 10*7 + 90*8 + 900*9 + 9000*10 bytes */
  return total == 98890 ? 0 : RP_EFORMAT;
}

START_TEST(writer_reader_roundtrip) {
  ck_assert_int_eq(write_then_read(rp_test_tmp("plain.txt")), 0);
  ck_assert_int_eq(write_then_read(rp_test_tmp("comp.txt.gz")), 0);
  /* no temporary file is left behind */
  ck_assert_int_ne(access(rp_test_tmp("plain.txt.tmp"), F_OK), 0);
}
END_TEST

START_TEST(writer_abort_keeps_old_file) {
  const char *p = rp_test_tmp("keep.txt");
  rp_test_write(p, "old contents\n");
  rp_err err;
  rp_writer *w = rp_writer_open(p, &err);
  ck_assert_ptr_nonnull(w);
  rp_writer_printf(w, &err, "new half-written");
  rp_writer_abort(w);
  FILE *f = fopen(p, "r");
  char buf[64] = {0};
  ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
  fclose(f);
  ck_assert_str_eq(buf, "old contents\n");
}
END_TEST

/* issue 8: temporary files of killed saves were never removed.  A child
 * process opens a writer, writes, tells us, and is killed with SIGKILL in
 * the middle of its save; another child stays alive with a temporary file
 * of its own.  Our next save of the path removes the dead one's file only. */
static pid_t child_saving(const char *path, int killed) {
  int fd[2];
  ck_assert_int_eq(pipe(fd), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);         /* Check's handler would signal our process group */
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test, whatever fails */
    close(fd[0]);
    rp_err err;
    rp_writer *w = rp_writer_open(path, &err);
    if (!w || rp_writer_write(w, "half a model", 12, &err)) _exit(2);
    /* the bytes reach the temporary file (a plain writer buffers them) */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "ab");
    if (!f) _exit(3);
    fputs("x", f);
    fclose(f);
    if (write(fd[1], "w", 1) != 1) _exit(4);
    if (killed) raise(SIGKILL);
    pause(); /* the live one waits for our SIGKILL */
    _exit(0);
  }
  close(fd[1]);
  char c;
  ck_assert_int_eq(read(fd[0], &c, 1), 1); /* its temporary file exists */
  close(fd[0]);
  return pid;
}

static int tmp_exists(const char *path, pid_t pid) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
  return access(tmp, F_OK) == 0;
}

START_TEST(stale_temporaries_removed) {
  char path[512], other[512], odd[600];
  snprintf(path, sizeof path, "%s", rp_test_tmp("model.rpm"));
  snprintf(other, sizeof other, "%s", rp_test_tmp("model.rpm.gz"));
  pid_t dead = child_saving(path, 1), dead_other = child_saving(other, 1);
  pid_t alive = child_saving(path, 0);
  int st;
  ck_assert_int_eq(waitpid(dead, &st, 0), dead); /* reaped: the pid is gone */
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  ck_assert_int_eq(waitpid(dead_other, &st, 0), dead_other);
  ck_assert(tmp_exists(path, dead) && tmp_exists(path, alive) && tmp_exists(other, dead_other));
  /* not of the form path.tmp.<pid>: left alone */
  snprintf(odd, sizeof odd, "%s.tmp.%ldx", path, (long)dead);
  rp_test_write(odd, "keep");
  rp_err err;
  rp_writer *w = rp_writer_open(path, &err);
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(rp_writer_write(w, "a model", 7, &err), RP_OK);
  int committed = rp_writer_commit(w, &err);
  int dead_kept = tmp_exists(path, dead), alive_kept = tmp_exists(path, alive);
  /* the live one goes before any assertion can leave it behind */
  kill(alive, SIGKILL);
  ck_assert_int_eq(waitpid(alive, &st, 0), alive);
  ck_assert_int_eq(committed, RP_OK);
  ck_assert_msg(!dead_kept, "the killed save's temporary file is still there");
  ck_assert_msg(alive_kept, "a live process's temporary file was removed");
  ck_assert_msg(tmp_exists(other, dead_other), "another path's temporary file was removed");
  ck_assert_int_eq(access(odd, F_OK), 0);
  /* once the live one is gone too, the next save takes its file */
  w = rp_writer_open(path, &err);
  ck_assert_int_eq(rp_writer_commit(w, &err), RP_OK);
  ck_assert(!tmp_exists(path, alive));
  unlink(odd);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", other, (long)dead_other);
  unlink(tmp);
}
END_TEST

START_TEST(gzip_truncated_is_error) {
  const char *p = rp_test_tmp("t.gz");
  ck_assert_int_eq(write_then_read(p), 0);
  /* cut the file in half */
  FILE *f = fopen(p, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  ck_assert_int_eq(truncate(p, n / 2), 0);
  rp_err err;
  rp_reader *r = rp_reader_open(p, &err);
  ck_assert_ptr_nonnull(r);
  char buf[4096];
  ssize_t k;
  while ((k = rp_reader_read(r, buf, sizeof buf, &err)) > 0) {
  }
  rp_reader_close(r);
  ck_assert_int_eq(k, -1);
  ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
  ck_assert_ptr_nonnull(strstr(err.msg, "t.gz"));
}
END_TEST

START_TEST(reader_missing_file) {
  rp_err err;
  ck_assert_ptr_null(rp_reader_open("/nonexistent/x.csv", &err));
  ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.csv"));
}
END_TEST

START_TEST(writer_fault_loop) { RP_FAULT_LOOP(write_then_read(rp_test_tmp("fault.gz"))); }
END_TEST

/* the order rp_topk keeps, for the naive reference */
static const float *ref_tb;
static int ref_cmp(const void *a, const void *b) {
  const float *x = a, *y = b; /* {score, index} pairs */
  if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
  int32_t i = (int32_t)x[1], j = (int32_t)y[1];
  if (ref_tb && ref_tb[i] != ref_tb[j]) return ref_tb[i] > ref_tb[j] ? -1 : 1;
  return (i > j) - (i < j);
}

START_TEST(topk_against_sort) {
  enum { N = 300 };
  float score[N], tb[N], pair[N][2];
  int32_t items[64], out_i[64];
  float scores[64], out_s[64];
  rp_rng r;
  rp_rng_seed(&r, 5, 0);
  for (int round = 0; round < 40; round++) {
    int32_t k = (int32_t)rp_rng_below(&r, 64), m = 0;
    ref_tb = round % 2 ? tb : NULL;
    for (int i = 0; i < N; i++) {
      score[i] = (float)rp_rng_below(&r, 20); /* many ties */
      tb[i] = (float)rp_rng_below(&r, 3);
    }
    rp_topk t;
    rp_topk_init(&t, k, items, scores);
    t.tiebreak = ref_tb;
    for (int q = 0; q < N; q++) { /* a scrambled visiting order */
      int i = (int)((q * 97) % N);
      rp_topk_push(&t, i, score[i]);
      pair[m][0] = score[i], pair[m++][1] = (float)i;
    }
    qsort(pair, (size_t)m, sizeof pair[0], ref_cmp);
    int32_t n = round % 4 < 2 ? rp_topk_finish(&t) : rp_topk_sorted(&t, out_i, out_s);
    const int32_t *gi = round % 4 < 2 ? items : out_i;
    const float *gs = round % 4 < 2 ? scores : out_s;
    ck_assert_int_eq(n, k);
    for (int32_t a = 0; a < n; a++) {
      ck_assert_int_eq(gi[a], (int32_t)pair[a][1]);
      ck_assert(gs[a] == pair[a][0]);
    }
    if (round % 4 >= 2) ck_assert_int_eq(t.n, 0); /* emptied for reuse */
  }
}
END_TEST

/* A thread count from a file header or a caller (2^31 - 1 in a damaged model
 * file made libgomp ask for 481 GB for its team) is capped. */
START_TEST(threads_capped) {
  ck_assert_int_eq(rp_threads(3), 3);
  ck_assert_int_eq(rp_threads(RP_MAX_THREADS), RP_MAX_THREADS);
  ck_assert_int_eq(rp_threads(RP_MAX_THREADS + 1), RP_MAX_THREADS);
  ck_assert_int_eq(rp_threads(INT32_MAX), RP_MAX_THREADS);
  int cores = rp_num_cores() < RP_MAX_THREADS ? rp_num_cores() : RP_MAX_THREADS;
  ck_assert_int_eq(rp_threads(0), cores);
  ck_assert_int_eq(rp_threads(-5), cores);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, alloc_accounting);
  tcase_add_test(tc, alloc_realloc_keeps_data);
  tcase_add_test(tc, alloc_fault_injection);
  tcase_add_test(tc, crc32_known);
  tcase_add_test(tc, rng_reproducible);
  tcase_add_test(tc, progress_lines);
  tcase_add_test(tc, writer_reader_roundtrip);
  tcase_add_test(tc, writer_abort_keeps_old_file);
  tcase_add_test(tc, gzip_truncated_is_error);
  tcase_add_test(tc, reader_missing_file);
  tcase_add_test(tc, writer_fault_loop);
  tcase_add_test(tc, stale_temporaries_removed);
  tcase_add_test(tc, topk_against_sort);
  tcase_add_test(tc, threads_capped);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
