/* Check tests for the registry core: round trips through a real SQLite
 * file, schema versions, foreign and newer files, a run whose process is
 * killed (a real child, SIGKILL) marked failed on the next open, model
 * versions and files, promote / refuse / rollback, measures against their
 * thresholds, the scheduler's job state, the gate's rule, fingerprints
 * (known answers and invariants), the dashboard, and allocation failures. */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "registry.h"
#include "rptest.h"

static char dbdir[512];

/* a fresh registry path in its own directory */
static const char *fresh(const char *name) {
  static char path[600];
  snprintf(dbdir, sizeof dbdir, "%s", rp_test_tmp(name));
  mkdir(dbdir, 0755);
  snprintf(path, sizeof path, "%s/reg.db", dbdir);
  return path;
}

static rp_registry *open_ok(const char *path) {
  rp_registry *r;
  rp_err err;
  int rc = rp_registry_open(path, NULL, &r, &err);
  ck_assert_msg(rc == 0, "%s", err.msg);
  return r;
}

static int64_t count(rp_registry *r, const char *what) {
  (void)r;
  sqlite3 *db;
  char path[600];
  snprintf(path, sizeof path, "%s/reg.db", dbdir);
  ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", what);
  sqlite3_stmt *st;
  ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* rows of a listing, collected as "col=value" text of one column */
typedef struct {
  const char *col;
  char out[2048];
  int n;
} collect;

static int collect_row(void *ud, int ncol, const char *const *names, const rp_value *v) {
  collect *c = ud;
  c->n++;
  for (int i = 0; i < ncol; i++) {
    if (strcmp(names[i], c->col) != 0) continue;
    size_t k = strlen(c->out);
    if (v[i].type == RP_VTEXT)
      snprintf(c->out + k, sizeof c->out - k, "%s%s", k ? "," : "", v[i].s);
    else if (v[i].type == RP_VINT)
      snprintf(c->out + k, sizeof c->out - k, "%s%lld", k ? "," : "", (long long)v[i].i);
    else if (v[i].type == RP_VREAL)
      snprintf(c->out + k, sizeof c->out - k, "%s%g", k ? "," : "", v[i].d);
    else
      snprintf(c->out + k, sizeof c->out - k, "%snull", k ? "," : "");
  }
  return 0;
}

static const char *list_col(rp_registry *r, const char *what, const rp_list_filter *f,
                            const char *col) {
  static collect c;
  memset(&c, 0, sizeof c);
  c.col = col;
  rp_err err;
  ck_assert_msg(rp_registry_list(r, what, f, collect_row, &c, &err) == 0, "%s", err.msg);
  return c.out;
}

START_TEST(open_create_schema) {
  const char *path = fresh("schema");
  rp_registry *r = open_ok(path);
  rp_registry_close(r);
  /* schema version recorded twice: user_version and meta */
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  ck_assert_int_eq(sqlite3_column_int(st, 0), RP_REGISTRY_SCHEMA);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  ck_assert_int_eq(atoi((const char *)sqlite3_column_text(st, 0)), RP_REGISTRY_SCHEMA);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
  ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
  ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  /* a newer schema is refused, naming both versions */
  ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  rp_err err;
  ck_assert_int_eq(rp_registry_open(path, NULL, &r, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "schema version 99"));
  ck_assert_ptr_nonnull(strstr(err.msg, "newer recpipe"));
  /* an SQLite file that is not a registry */
  const char *other = rp_test_tmp("other.db");
  ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
  sqlite3_close(db);
  ck_assert_int_eq(rp_registry_open(other, NULL, &r, &err), RP_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "not a recpipe registry"));
  /* not SQLite at all */
  const char *text = rp_test_tmp("text.db");
  rp_test_write(text, "this is not a database, just some text that is long enough........\n");
  ck_assert_int_ne(rp_registry_open(text, NULL, &r, &err), 0);
  ck_assert_ptr_nonnull(strstr(err.msg, text));
  /* read-only of a missing file */
  rp_registry_opts o;
  rp_registry_opts_init(&o);
  o.readonly = 1;
  ck_assert_int_eq(rp_registry_open(rp_test_tmp("missing.db"), &o, &r, &err), RP_EIO);
  ck_assert_ptr_nonnull(strstr(err.msg, "no such file"));
}
END_TEST

START_TEST(run_round_trip) {
  const char *path = fresh("runs");
  rp_registry *r = open_ok(path);
  rp_err err;
  rp_run_spec s = {
      .pipeline = "retrain", .job = "weekly", .config = "{\"k\":10}", .has_seed = 1, .seed = 42};
  int64_t id;
  ck_assert_int_eq(rp_registry_run_begin(r, &s, &id, &err), 0);
  ck_assert_int_eq(id, 1);
  const char *in = rp_test_tmp("input.csv");
  rp_test_write(in, "user,item\nu1,i1\n");
  char fp[64];
  ck_assert_int_eq(rp_registry_run_input(r, id, in, fp, &err), 0);
  ck_assert_ptr_nonnull(strstr(fp, ":16")); /* the size, 16 bytes */
  ck_assert_int_eq(rp_registry_run_metric(r, id, "ndcg@10", 0.25, 0.24, 0.26, NULL, 0, &err), 0);
  ck_assert_int_eq(rp_registry_run_log(r, id, "info", "hello", &err), 0);
  ck_assert_int_eq(rp_registry_run_log(r, id, "loud", "x", &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "'loud'"));
  ck_assert_int_eq(rp_registry_run_metric(r, 999, "x", 1, NAN, NAN, NULL, 0, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "no run 999"));
  ck_assert_int_eq(rp_registry_run_end(r, id, "ok", "fine", 0, &err), 0);
  /* an ended run stays as it is unless forced */
  ck_assert_int_eq(rp_registry_run_end(r, id, "failed", "late", 0, &err), 0);
  rp_list_filter f;
  rp_list_filter_init(&f);
  ck_assert_str_eq(list_col(r, "runs", &f, "status"), "ok");
  ck_assert_str_eq(list_col(r, "runs", &f, "seed"), "42");
  ck_assert_str_eq(list_col(r, "runs", &f, "config"), "{\"k\":10}");
  ck_assert_str_eq(list_col(r, "metrics", &f, "lo"), "0.24");
  ck_assert_str_eq(list_col(r, "logs", &f, "message"), "hello");
  ck_assert_str_eq(list_col(r, "inputs", &f, "fingerprint"), fp);
  ck_assert_int_eq(rp_registry_run_end(r, id, "failed", "exit status 3", 1, &err), 0);
  ck_assert_str_eq(list_col(r, "runs", &f, "status"), "failed");
  ck_assert_str_eq(list_col(r, "runs", &f, "message"), "fine; exit status 3");
  ck_assert_int_eq(rp_registry_list(r, "nope", &f, collect_row, NULL, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "known: runs, inputs"));
  rp_registry_close(r);
  /* reopened: everything is there */
  r = open_ok(path);
  ck_assert_str_eq(list_col(r, "runs", &f, "pipeline"), "retrain");
  rp_registry_close(r);
}
END_TEST

/* A real child process begins a run and is killed with SIGKILL: the next
 * open marks the run failed, with the pid in the message. */
START_TEST(crash_marks_failed) {
  const char *path = fresh("crash");
  rp_registry *r = open_ok(path);
  rp_registry_close(r);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    rp_registry *c;
    rp_err e;
    int64_t id;
    rp_run_spec s = {.pipeline = "doomed"};
    if (rp_registry_open(path, NULL, &c, &e) || rp_registry_run_begin(c, &s, &id, &e)) _exit(2);
    ssize_t k = write(fds[1], "x", 1);
    (void)k;
    for (;;) pause();
  }
  char ch;
  close(fds[1]);
  ck_assert_int_eq(read(fds[0], &ch, 1), 1);
  close(fds[0]);
  /* while it lives, the run stays running */
  r = open_ok(path);
  rp_list_filter f;
  rp_list_filter_init(&f);
  ck_assert_str_eq(list_col(r, "runs", &f, "status"), "running");
  rp_registry_close(r);
  kill(pid, SIGKILL);
  int ws;
  waitpid(pid, &ws, 0);
  ck_assert(WIFSIGNALED(ws));
  r = open_ok(path);
  ck_assert_str_eq(list_col(r, "runs", &f, "status"), "failed");
  char want[64];
  snprintf(want, sizeof want, "the process %d", (int)pid);
  ck_assert_ptr_nonnull(strstr(list_col(r, "runs", &f, "message"), want));
  ck_assert_ptr_nonnull(strstr(list_col(r, "runs", &f, "message"), "crashed or killed"));
  /* ended once: a second open changes nothing */
  rp_registry_close(r);
  r = open_ok(path);
  ck_assert_int_eq(count(r, "runs WHERE status = 'failed'"), 1);
  rp_registry_close(r);
}
END_TEST

static const char *model_file(const char *name, const char *content) {
  const char *p = rp_test_tmp(name);
  rp_test_write(p, content);
  return p;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  static char buf[4096];
  size_t k = fread(buf, 1, sizeof buf - 1, f);
  buf[k] = 0;
  fclose(f);
  return buf;
}

START_TEST(models_promote_rollback) {
  const char *path = fresh("models");
  rp_registry *r = open_ok(path);
  rp_err err;
  int64_t v1, v2, v3, v;
  rp_model_metric mm[] = {{"ndcg", 0.25, 0.24, 0.26}, {"map", 0.14, NAN, NAN}};
  rp_model_spec spec = {.training = "rpfp1:abc:1", .report = "{}", .metrics = mm, .nmetrics = 2};
  ck_assert_int_eq(rp_registry_register(r, "shop", model_file("a.rpa", "AAA"), &spec, &v1, &err),
                   0);
  ck_assert_int_eq(rp_registry_register(r, "shop", model_file("b.rpa", "BBB"), NULL, &v2, &err), 0);
  ck_assert_int_eq(rp_registry_register(r, "shop", model_file("c.rpa.gz", "CCC"), NULL, &v3, &err),
                   0);
  ck_assert_int_eq(v1, 1);
  ck_assert_int_eq(v3, 3);
  char *p;
  ck_assert_int_eq(rp_registry_model_path(r, "shop", 3, &p, &err), 0);
  ck_assert_ptr_nonnull(strstr(p, "/models/shop/v3.rpa.gz"));
  ck_assert_str_eq(slurp(p), "CCC");
  rp_free(p);
  /* the source is copied, not moved */
  ck_assert_int_eq(access(rp_test_tmp("a.rpa"), F_OK), 0);
  /* no live version yet */
  ck_assert_int_eq(rp_registry_live(r, "shop", &v, &p, &err), 0);
  ck_assert_int_eq(v, 0);
  ck_assert_ptr_null(p);
  rp_promotion pr = {.action = RP_PROMO_INITIAL, .reason = "first", .expect_live = -1};
  pr.diff = pr.lo = pr.hi = NAN;
  ck_assert_int_eq(rp_registry_promote(r, "shop", 1, &pr, &err), 0);
  /* a second initial is refused: the gate is needed */
  ck_assert_int_eq(rp_registry_promote(r, "shop", 2, &pr, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "needs the gate"));
  pr.action = RP_PROMO_PROMOTE;
  pr.expect_live = 1;
  ck_assert_int_eq(rp_registry_promote(r, "shop", 2, &pr, &err), 0);
  /* the gate compared against v1 but v2 is live now */
  pr.action = RP_PROMO_REFUSE;
  pr.metric = "ndcg@10", pr.diff = -0.1, pr.lo = -0.12, pr.hi = -0.08;
  ck_assert_int_eq(rp_registry_promote(r, "shop", 3, &pr, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "live version changed"));
  pr.expect_live = 2;
  pr.candidate_report = "{\"ndcg\":0.1}", pr.live_report = "{\"ndcg\":0.2}";
  ck_assert_int_eq(rp_registry_promote(r, "shop", 3, &pr, &err), 0);
  ck_assert_int_eq(rp_registry_live(r, "shop", &v, &p, &err), 0);
  ck_assert_int_eq(v, 2); /* refused: v2 stays live */
  ck_assert_str_eq(slurp(p), "BBB");
  rp_free(p);
  ck_assert_int_eq(rp_registry_promote(r, "shop", 9, &pr, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "no model 'shop' version 9"));
  /* rollback: back to v1 (the one live before v2), then to a given one */
  ck_assert_int_eq(rp_registry_rollback(r, "shop", 0, "v2 misbehaves", 0, &v, &err), 0);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(rp_registry_rollback(r, "shop", 3, "try 3", 0, &v, &err), 0);
  ck_assert_int_eq(v, 3);
  ck_assert_int_eq(rp_registry_rollback(r, "none", 0, NULL, 0, &v, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "no live version"));
  rp_list_filter f;
  rp_list_filter_init(&f);
  ck_assert_str_eq(list_col(r, "promotions", &f, "action"),
                   "rollback,rollback,refuse,promote,initial");
  ck_assert_str_eq(list_col(r, "promotions", &f, "previous"), "1,2,2,1,null");
  ck_assert_str_eq(list_col(r, "model_metrics", &f, "metric"), "map,ndcg");
  ck_assert_str_eq(list_col(r, "models", &f, "live"), "1,0,0");
  /* bad names and files */
  ck_assert_int_eq(rp_registry_register(r, "a/x", model_file("d", "D"), NULL, &v, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "only letters"));
  ck_assert_int_eq(rp_registry_register(r, "", model_file("d", "D"), NULL, &v, &err), RP_EINVAL);
  ck_assert_int_eq(rp_registry_register(r, "shop", rp_test_tmp("absent"), NULL, &v, &err), RP_EIO);
  ck_assert_ptr_nonnull(strstr(err.msg, "absent"));
  ck_assert_int_eq(count(r, "models"), 3); /* nothing half-registered */
  /* an orphan file of a crash before the commit is taken over */
  char orphan[600];
  snprintf(orphan, sizeof orphan, "%s/models/shop/v4.rpa", dbdir);
  rp_test_write(orphan, "half");
  ck_assert_int_eq(rp_registry_register(r, "shop", model_file("e.rpa", "EEEE"), NULL, &v, &err), 0);
  ck_assert_int_eq(v, 4);
  ck_assert_str_eq(slurp(orphan), "EEEE");
  /* move: the source is renamed into the registry */
  const char *m = model_file("f.rpa", "FF");
  rp_model_spec mv = {.move = 1};
  ck_assert_int_eq(rp_registry_register(r, "shop", m, &mv, &v, &err), 0);
  ck_assert_int_ne(access(m, F_OK), 0);
  rp_registry_close(r);
}
END_TEST

START_TEST(measures_alerts) {
  const char *path = fresh("measures");
  rp_registry *r = open_ok(path);
  rp_err err;
  rp_measure m;
  int crossed;
  rp_measure_init(&m);
  m.name = "psi";
  m.value = 0.3;
  m.has_threshold = 1;
  m.threshold = 0.2;
  ck_assert_int_eq(rp_registry_measure(r, 0, &m, &crossed, &err), 0);
  ck_assert_int_eq(crossed, 1);
  m.value = 0.2; /* at the threshold: not crossed */
  ck_assert_int_eq(rp_registry_measure(r, 0, &m, &crossed, &err), 0);
  ck_assert_int_eq(crossed, 0);
  m.direction = RP_BELOW, m.name = "ctr", m.value = 0.01, m.threshold = 0.02;
  m.model = "shop", m.version = 3, m.label = "cf";
  ck_assert_int_eq(rp_registry_measure(r, 0, &m, &crossed, &err), 0);
  ck_assert_int_eq(crossed, 1);
  m.has_threshold = 0;
  ck_assert_int_eq(rp_registry_measure(r, 0, &m, &crossed, &err), 0);
  ck_assert_int_eq(crossed, 0);
  m.value = NAN;
  ck_assert_int_eq(rp_registry_measure(r, 0, &m, &crossed, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "finite"));
  m.value = 1;
  ck_assert_int_eq(rp_registry_measure(r, 77, &m, &crossed, &err), RP_EINVAL);
  ck_assert_int_eq(rp_registry_alert(r, 0, "psi", "drift", 0.3, 0.2, &err), 0);
  rp_list_filter f;
  rp_list_filter_init(&f);
  f.name = "psi";
  ck_assert_str_eq(list_col(r, "measures", &f, "crossed"), "0,1");
  ck_assert_str_eq(list_col(r, "measures", &f, "direction"), "above,above");
  f.name = "ctr";
  ck_assert_str_eq(list_col(r, "measures", &f, "label"), "cf,cf");
  f.name = NULL;
  ck_assert_str_eq(list_col(r, "alerts", &f, "message"), "drift");
  rp_registry_close(r);
}
END_TEST

START_TEST(jobs_state) {
  const char *path = fresh("jobs");
  rp_registry *r = open_ok(path);
  rp_err err;
  rp_job_state st;
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.known, 0);
  int64_t run, run2;
  int busy;
  ck_assert_int_eq(rp_registry_job_start(r, "weekly", 1000, "retrain", NULL, &run, &busy, &err), 0);
  ck_assert_int_eq(busy, 0);
  /* the run (owned by this live process) is the lease */
  ck_assert_int_eq(rp_registry_job_start(r, "weekly", 1000, "retrain", NULL, &run2, &busy, &err),
                   0);
  ck_assert_int_eq(busy, 1);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert(st.running);
  ck_assert_int_eq(st.attempts, 1);
  /* a failure: retry after backoff * 2^(attempts-1) */
  setenv("RECPIPE_NOW", "5000", 1);
  ck_assert_int_eq(rp_registry_job_finish(r, "weekly", run, 0, "exit status 1", 2, 60, &err), 0);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.done, 0);
  ck_assert(fabs(st.retry_at - 5060) < 1e-6);
  ck_assert_str_eq(st.last_status, "failed");
  ck_assert_int_eq(rp_registry_job_start(r, "weekly", 1000, "retrain", NULL, &run, &busy, &err), 0);
  ck_assert_int_eq(rp_registry_job_finish(r, "weekly", run, 0, "again", 2, 60, &err), 0);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.attempts, 2);
  ck_assert(fabs(st.retry_at - 5120) < 1e-6); /* doubled */
  ck_assert_int_eq(rp_registry_job_start(r, "weekly", 1000, "retrain", NULL, &run, &busy, &err), 0);
  ck_assert_int_eq(rp_registry_job_finish(r, "weekly", run, 0, "third", 2, 60, &err), 0);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.done, 1); /* attempts 3 > retries 2: given up */
  /* a new slot starts afresh, and ok finishes it */
  ck_assert_int_eq(rp_registry_job_start(r, "weekly", 2000, "retrain", NULL, &run, &busy, &err), 0);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.attempts, 1);
  ck_assert_int_eq(rp_registry_job_finish(r, "weekly", run, 1, NULL, 2, 60, &err), 0);
  ck_assert_int_eq(rp_registry_job_state(r, "weekly", &st, &err), 0);
  ck_assert_int_eq(st.done, 1);
  ck_assert_str_eq(st.last_status, "ok");
  ck_assert(st.slot == 2000);
  unsetenv("RECPIPE_NOW");
  ck_assert_int_eq(count(r, "runs WHERE job = 'weekly'"), 4);
  rp_registry_close(r);
}
END_TEST

START_TEST(clock_and_times) {
  rp_err err;
  double t;
  ck_assert_int_eq(rp_registry_parse_time("2024-01-08", &t, &err), 0);
  ck_assert(t == 1704672000.0);
  ck_assert_int_eq(rp_registry_parse_time("1704672000", &t, &err), 0);
  ck_assert(t == 1704672000.0);
  ck_assert_int_eq(rp_registry_parse_time("2024-01-08T01:00:00Z", &t, &err), 0);
  ck_assert(t == 1704675600.0);
  ck_assert_int_eq(rp_registry_parse_time("next week", &t, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "'next week'"));
  setenv("RECPIPE_NOW", "2024-01-08", 1);
  ck_assert_int_eq(rp_registry_now(&t, &err), 0);
  ck_assert(t == 1704672000.0);
  setenv("RECPIPE_NOW", "soon", 1);
  ck_assert_int_eq(rp_registry_now(&t, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "RECPIPE_NOW"));
  unsetenv("RECPIPE_NOW");
  ck_assert_int_eq(rp_registry_now(&t, &err), 0);
  ck_assert(t > 1.7e9);
}
END_TEST

START_TEST(gate_rule) {
  rp_gate_opts o;
  rp_gate_opts_init(&o);
  ck_assert_str_eq(o.metric, "ndcg");
  int accept;
  char why[256];
  rp_err err;
  /* interval entirely below 0: refused; touching 0: accepted */
  ck_assert_int_eq(rp_gate_decide(&o, -0.05, -0.07, -0.03, 500, &accept, why, sizeof why, &err), 0);
  ck_assert_int_eq(accept, 0);
  ck_assert_ptr_nonnull(strstr(why, "refused"));
  ck_assert_int_eq(rp_gate_decide(&o, -0.02, -0.04, 0.001, 500, &accept, why, sizeof why, &err), 0);
  ck_assert_int_eq(accept, 1);
  /* with a tolerance of 0.05 the first one passes */
  o.tolerance = 0.05;
  ck_assert_int_eq(rp_gate_decide(&o, -0.05, -0.07, -0.03, 500, &accept, why, sizeof why, &err), 0);
  ck_assert_int_eq(accept, 1);
  /* too few users */
  ck_assert_int_eq(rp_gate_decide(&o, 0.1, 0.05, 0.15, 3, &accept, why, sizeof why, &err), 0);
  ck_assert_int_eq(accept, 0);
  ck_assert_ptr_nonnull(strstr(why, "only 3 users"));
  /* lower is better for rmse */
  o.metric = "rmse", o.tolerance = 0;
  ck_assert_int_eq(rp_gate_decide(&o, 0.1, 0.05, 0.15, 500, &accept, why, sizeof why, &err), 0);
  ck_assert_int_eq(accept, 0);
  o.metric = "coverage";
  ck_assert_int_eq(rp_gate_opts_check(&o, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "'coverage'"));
  rp_gate_opts_init(&o);
  o.window_days = 0;
  ck_assert_int_eq(rp_gate_opts_check(&o, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "window_days"));
}
END_TEST

START_TEST(fingerprints) {
  char a[64], b[64], c[64];
  /* equal bytes, equal fingerprints, whatever the chunking */
  char buf[1000];
  for (int i = 0; i < 1000; i++) buf[i] = (char)(i * 7);
  const char *p = rp_test_tmp("fp.bin");
  FILE *f = fopen(p, "wb");
  fwrite(buf, 1, sizeof buf, f);
  fclose(f);
  int64_t size;
  rp_err err;
  ck_assert_int_eq(rp_fingerprint_file(p, a, &size, &err), 0);
  rp_fingerprint_buf(buf, sizeof buf, b);
  ck_assert_str_eq(a, b);
  ck_assert_int_eq(size, 1000);
  ck_assert_ptr_nonnull(strstr(a, ":1000"));
  ck_assert_int_eq(strncmp(a, "rpfp1:", 6), 0);
  /* one bit changed, one byte more, a trailing zero: all differ */
  buf[500] ^= 1;
  rp_fingerprint_buf(buf, sizeof buf, c);
  ck_assert_str_ne(a, c);
  buf[500] ^= 1;
  rp_fingerprint_buf(buf, 999, c);
  ck_assert_str_ne(a, c);
  char z[33] = {0};
  rp_fingerprint_buf(z, 32, b);
  rp_fingerprint_buf(z, 33, c);
  ck_assert_str_ne(b, c);
  /* the empty input, a known answer that stays the same across versions */
  rp_fingerprint_buf("", 0, c);
  ck_assert_str_eq(c + strlen(c) - 2, ":0");
  ck_assert_int_eq(rp_fingerprint_file(rp_test_tmp("absent"), a, &size, &err), RP_EIO);
}
END_TEST

START_TEST(dashboard_render) {
  const char *path = fresh("dash");
  rp_registry *r = open_ok(path);
  rp_err err;
  int64_t v, id;
  rp_run_spec s = {.pipeline = "retrain"};
  ck_assert_int_eq(rp_registry_run_begin(r, &s, &id, &err), 0);
  rp_model_metric mm[] = {{"ndcg", 0.25, 0.24, 0.26}};
  rp_model_spec spec = {.metrics = mm, .nmetrics = 1};
  ck_assert_int_eq(rp_registry_register(r, "shop", model_file("x", "X"), &spec, &v, &err), 0);
  rp_promotion pr = {.action = RP_PROMO_INITIAL, .reason = "<first>", .expect_live = -1};
  pr.diff = pr.lo = pr.hi = NAN;
  ck_assert_int_eq(rp_registry_promote(r, "shop", v, &pr, &err), 0);
  rp_measure m;
  rp_measure_init(&m);
  m.name = "psi.items", m.value = 0.4, m.has_threshold = 1, m.threshold = 0.25;
  ck_assert_int_eq(rp_registry_measure(r, id, &m, NULL, &err), 0);
  ck_assert_int_eq(rp_registry_alert(r, id, "psi.items", "a <script>", 0.4, 0.25, &err), 0);
  ck_assert_int_eq(rp_registry_run_end(r, id, "failed", "boom & bust", 0, &err), 0);
  rp_buf b = {0};
  ck_assert_int_eq(rp_dashboard_render(r, NULL, &b, &err), 0);
  ck_assert_ptr_nonnull(strstr(b.data, "data-runs-failed=\"1\""));
  ck_assert_ptr_nonnull(strstr(b.data, "class=\"live\" data-name=\"shop\" data-version=\"1\""));
  ck_assert_ptr_nonnull(strstr(b.data, "data-threshold=\"0.25\""));
  ck_assert_ptr_nonnull(strstr(b.data, "boom &amp; bust"));
  ck_assert_ptr_nonnull(strstr(b.data, "a &lt;script&gt;"));
  ck_assert_ptr_null(strstr(b.data, "<script"));
  ck_assert_ptr_null(strstr(b.data, "http"));
  rp_buf_free(&b);
  /* allocation failures: an error, no leak */
  RP_FAULT_LOOP(({
    rp_buf b2 = {0};
    int rc2 = rp_dashboard_render(r, NULL, &b2, &err);
    rp_buf_free(&b2);
    rc2;
  }));
  rp_registry_close(r);
  RP_FAULT_LOOP(({
    rp_registry *r2 = NULL;
    int rc2 = rp_registry_open(path, NULL, &r2, &err);
    rp_registry_close(r2);
    rc2;
  }));
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("registry");
  TCase *t = tcase_create("core");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, open_create_schema);
  tcase_add_test(t, run_round_trip);
  tcase_add_test(t, crash_marks_failed);
  tcase_add_test(t, models_promote_rollback);
  tcase_add_test(t, measures_alerts);
  tcase_add_test(t, jobs_state);
  tcase_add_test(t, clock_and_times);
  tcase_add_test(t, gate_rule);
  tcase_add_test(t, fingerprints);
  tcase_add_test(t, dashboard_render);
  suite_add_tcase(s, t);
  return s;
}

RP_TEST_MAIN(suite)
