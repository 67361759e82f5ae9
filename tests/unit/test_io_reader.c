/* Check tests for the event-log reader (modules/io/reader.c): quoting, line
 * ends, BOM, separators, missing/extra fields, empty lines, long lines,
 * overflow and non-finite values, empty ids, weights, contexts, reading onto
 * existing maps, gzip and stdin, the same result whatever the threads and
 * block size (against the generated ground truth), and allocation failure. */
#include <fcntl.h>
#include <math.h>
#include <zlib.h>

#include "reader.h"
#include "rio.h"
#include "rptest.h"

static rp_err last_err;
static rp_io_read_report last_rep;

/* reads text (written to a scratch file) with o; NULL on error (last_err) */
static rp_events *rd(const char *text, const rp_io_read_opts *o) {
  const char *path = rp_test_tmp("in.csv");
  rp_test_write(path, text);
  rp_events *ev = NULL;
  memset(&last_err, 0, sizeof last_err);
  int rc = rp_io_read_events(path, o, &ev, &last_rep, &last_err);
  ck_assert(rc == RP_OK ? ev != NULL : ev == NULL);
  return ev;
}

static rp_io_read_opts opts(void) {
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  return o;
}

static void id_is(const rp_idmap *m, int32_t i, const char *want) {
  size_t len;
  const char *s = rp_idmap_id(m, i, &len);
  ck_assert_msg(len == strlen(want) && memcmp(s, want, len) == 0,
                "id %d: expected '%s', got '%.*s'", i, want, (int)len, s);
}

/* the error message after the scratch directory part of the path */
static const char *msg(void) {
  const char *p = strstr(last_err.msg, "in.csv");
  return p ? p : last_err.msg;
}

static void fails_with(const char *text, const rp_io_read_opts *o, const char *want) {
  rp_events *ev = rd(text, o);
  rp_events_free(ev);
  ck_assert_msg(ev == NULL, "expected an error for %s (block %zu, threads %d)", want, o->block,
                o->threads);
  ck_assert_msg(strcmp(msg(), want) == 0, "expected '%s', got '%s'", want, msg());
}

START_TEST(basic_header) {
  rp_io_read_opts o = opts();
  o.value.name = "rating";
  o.time.name = "ts";
  rp_events *ev = rd("user,item,rating,ts\nu1,i1,4.5,100\nu2,i1,3,200\nu1,i2,-1.25,300\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 3);
  ck_assert_int_eq(ev->users->n, 2);
  ck_assert_int_eq(ev->items->n, 2);
  int32_t u[] = {0, 1, 0}, it[] = {0, 0, 1};
  float v[] = {4.5f, 3.0f, -1.25f};
  int64_t t[] = {100, 200, 300};
  for (int k = 0; k < 3; k++) {
    ck_assert_int_eq(ev->user[k], u[k]);
    ck_assert_int_eq(ev->item[k], it[k]);
    ck_assert(ev->value[k] == v[k]);
    ck_assert_int_eq(ev->time[k], t[k]);
  }
  id_is(ev->users, 1, "u2");
  id_is(ev->items, 1, "i2");
  ck_assert_int_eq(last_rep.lines, 3);
  ck_assert_int_eq(last_rep.rows, 3);
  ck_assert_str_eq(last_rep.sep, ",");
  ck_assert_int_eq(last_rep.fields, 4);
  ck_assert_ptr_null(ev->event);
  rp_events_free(ev);
  /* default column names: user_id / item_id; value defaults to 1 */
  o = opts();
  ev = rd("user_id,item_id,x\n7,8,9\n", &o);
  ck_assert_int_eq(ev->n, 1);
  ck_assert(ev->value[0] == 1.0f);
  ck_assert_ptr_null(ev->time);
  rp_events_free(ev);
  ev = rd("userId,movieId,rating\n1,2,3\n", &o);
  ck_assert_int_eq(ev->n, 1);
  rp_events_free(ev);
}
END_TEST

START_TEST(quoting) {
  rp_io_read_opts o = opts();
  o.value.name = "v";
  /* quoted separators, doubled quotes, a quoted newline, quoted numbers */
  const char *text =
      "user,item,v\n"
      "\"a,b\",\"x\"\"y\",1\n"
      "\"multi\nline\",plain,\"2.5\"\n"
      "\"\"\"\",\"\",3\n";
  /* the last row has an empty item: an error on line 5 (physical line) */
  fails_with(text, &o, "in.csv:5: empty item id (column 'item')");
  text =
      "user,item,v\n"
      "\"a,b\",\"x\"\"y\",1\n"
      "\"multi\nline\",plain,\"2.5\"\n"
      "\"\"\"\",\"q\"\r\n"
      "u,\"i\"\"\",\"7\"\r\n";
  fails_with(text, &o, "in.csv:5: expected 3 fields, found 2");
  text =
      "user,item,v\n"
      "\"a,b\",\"x\"\"y\",1\n"
      "\"multi\nline\",plain,\"2.5\"\n"
      "\"\"\"\",\"q\",4\r\n"
      "u,\"i\"\"\",\"7\"\r\n"
      "\"\",i,1\n";
  fails_with(text, &o, "in.csv:7: empty user id (column 'user')");
  text =
      "user,item,v\n"
      "\"a,b\",\"x\"\"y\",1\n"
      "\"multi\nline\",plain,\"2.5\"\n"
      "\"\"\"\",\"q\",4\r\n"
      "u,\"i\"\"\",\"7\"\r\n"
      "u\"x,i,1\n"; /* a quote inside an unquoted field is kept */
  rp_events *ev = rd(text, &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 5);
  id_is(ev->users, 0, "a,b");
  id_is(ev->items, 0, "x\"y");
  id_is(ev->users, 1, "multi\nline");
  ck_assert(ev->value[1] == 2.5f);
  id_is(ev->users, 2, "\"");
  id_is(ev->items, 2, "q");
  id_is(ev->items, 3, "i\"");
  ck_assert(ev->value[3] == 7.0f);
  id_is(ev->users, 4, "u\"x");
  rp_events_free(ev);
  /* malformed quoting */
  o = opts();
  fails_with("user,item\n\"ab\"c,d\n", &o, "in.csv:2: text after the closing quote of field 1");
  fails_with("user,item\na,\"open\n", &o, "in.csv:2: unterminated quoted field 2");
  /* a quoted header */
  o = opts();
  o.user.name = "the \"user\"";
  o.item.name = "it,em";
  ev = rd("\"the \"\"user\"\"\",\"it,em\"\n1,2\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 1);
  rp_events_free(ev);
}
END_TEST

START_TEST(line_ends_bom_blank) {
  rp_io_read_opts o = opts();
  o.value.name = "value";
  /* BOM, CRLF, blank lines (LF and CRLF), no newline at the end */
  rp_events *ev = rd("\xEF\xBB\xBFuser,item,value\r\n\r\na,b,1\r\n\n\r\nc,d,2\r\n\r\ne,f,3", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 3);
  id_is(ev->users, 0, "a");
  id_is(ev->items, 2, "f");
  ck_assert(ev->value[2] == 3.0f);
  ck_assert_int_eq(last_rep.lines, 3);
  rp_events_free(ev);
  /* blank lines before the header; line numbers count them */
  fails_with("\n\nuser,item,value\na,b,1\na,b\n", &o, "in.csv:5: expected 3 fields, found 2");
  /* CRLF inside the last, quoted, field */
  o = opts();
  ev = rd("user,item\r\n\"a\",\"b\r\nc\"\r\n", &o);
  ck_assert_ptr_nonnull(ev);
  id_is(ev->items, 0, "b\r\nc");
  rp_events_free(ev);
  o = opts();
  fails_with("", &o, "in.csv: empty file");
  fails_with("\n\r\n\n", &o, "in.csv: empty file");
  fails_with("\xEF\xBB\xBF", &o, "in.csv: empty file");
  /* a header alone: no events */
  ev = rd("user,item\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 0);
  rp_events_free(ev);
}
END_TEST

START_TEST(separators) {
  rp_io_read_opts o = opts();
  o.header = 0;
  o.value.pos = 3;
  o.time.pos = 4;
  /* MovieLens ratings.dat */
  rp_events *ev = rd("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_str_eq(last_rep.sep, "::");
  ck_assert_int_eq(ev->n, 3);
  ck_assert_int_eq(ev->users->n, 2);
  ck_assert_int_eq(ev->items->n, 2);
  ck_assert_int_eq(ev->time[2], 978298413);
  ck_assert(ev->value[1] == 3.0f);
  rp_events_free(ev);
  /* MovieLens u.data: tab */
  ev = rd("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", &o);
  ck_assert_str_eq(last_rep.sep, "\t");
  ck_assert_int_eq(ev->n, 2);
  rp_events_free(ev);
  ev = rd("a;b;1,5;7\nc;d;2;8\n", &o);
  ck_assert_str_eq(last_rep.sep, ";");
  rp_events_free(ev);
  o.sep = ";";
  fails_with("a;b;1,5;7\n", &o, "in.csv:1: column 3: cannot parse '1,5' as a number");
  o.sep = ",";
  fails_with("a;b;1;7\n", &o, "in.csv:1: expected at least 2 fields (user, item), found 1");
  o.user.pos = 1;
  o.item.pos = 1;
  fails_with("a;b;1;7\n", &o, "in.csv: value column 3 requested, but line 1 has 1 fields");
}
END_TEST

START_TEST(bad_input_messages) {
  rp_io_read_opts o = opts();
  o.user.name = "a";
  o.item.name = "sku";
  fails_with("a,b,c\n1,2,3\n", &o, "in.csv: column 'sku' not found in header (columns: a, b, c)");
  o = opts();
  fails_with("a,b,c\n1,2,3\n", &o,
             "in.csv: no user column in header (columns: a, b, c); name it with the 'user' option");
  o.value.name = "v";
  fails_with("user,item,v\nu,i,1\nu,i\n", &o, "in.csv:3: expected 3 fields, found 2");
  fails_with("user,item,v\nu,i,1,9\n", &o, "in.csv:2: expected 3 fields, found 4");
  fails_with("user,item,v\n,i,1\n", &o, "in.csv:2: empty user id (column 'user')");
  fails_with("user,item,v\nu,i,abc\n", &o, "in.csv:2: column 'v': cannot parse 'abc' as a number");
  fails_with("user,item,v\nu,i,\n", &o, "in.csv:2: column 'v': cannot parse '' as a number");
  fails_with("user,item,v\nu,i,inf\n", &o, "in.csv:2: column 'v': 'inf' is not a finite number");
  fails_with("user,item,v\nu,i,NaN\n", &o, "in.csv:2: column 'v': 'NaN' is not a finite number");
  fails_with("user,item,v\nu,i,1e39\n", &o, "in.csv:2: column 'v': '1e39' is not a finite number");
  o = opts();
  o.time.name = "t";
  fails_with("user,item,t\nu,i,99999999999999999999\n", &o,
             "in.csv:2: column 't': '99999999999999999999' is out of range as a time");
  fails_with("user,item,t\nu,i,yesterday\n", &o,
             "in.csv:2: column 't': cannot parse 'yesterday' as a time (Unix seconds or ISO 8601)");
  fails_with("user,item,t\nu,i,2023-02-29\n", &o,
             "in.csv:2: column 't': '2023-02-29' is out of range as a time");
  o = opts();
  o.user.name = "a";
  o.item.name = "a";
  fails_with("a,b\n1,2\n", &o, "in.csv: column 'a' is used for both user and item");
  o = opts();
  fails_with("user,item,user\n1,2,3\n", &o,
             "in.csv: column 'user' appears more than once in the header");
  o = opts();
  o.header = 0;
  o.time.name = "ts";
  fails_with("1,2,3\n", &o,
             "in.csv: time column 'ts' named, but the file is read without a header (give a "
             "1-based position)");
  o = opts();
  o.nweights = 1;
  o.weight_names[0] = "view";
  o.weight_values[0] = 1;
  fails_with("user,item\n1,2\n", &o, "in.csv: weights need an event column (option 'event')");
  /* a missing file, a directory */
  rp_events *ev;
  rp_err err;
  o = opts();
  ck_assert_int_eq(rp_io_read_events("/nonexistent/x.csv", &o, &ev, NULL, &err), RP_EIO);
  ck_assert_str_eq(err.msg, "cannot open '/nonexistent/x.csv': No such file or directory");
  ck_assert_int_eq(rp_io_read_events("/tmp", &o, &ev, NULL, &err), RP_EIO);
  ck_assert_ptr_null(ev);
}
END_TEST

static char logged[4][512];
static int nlogged;
static void capture(int level, const char *m, void *ud) {
  (void)ud;
  if (level == RP_LOG_WARN && nlogged < 4) snprintf(logged[nlogged++], sizeof logged[0], "%s", m);
}

START_TEST(skip_mode) {
  rp_io_read_opts o = opts();
  o.value.name = "v";
  o.on_error = RP_ONERR_SKIP;
  nlogged = 0;
  rp_log_set(capture, NULL, RP_LOG_WARN);
  rp_events *ev =
      rd("user,item,v\nu,i,1\nbad\nu,,2\nu,i,x\n\"q\nq\",i,1,1\nv,j,2\n,i,1\nw,k,3\n"
         "a,b,c\nd,e,f\n",
         &o);
  rp_log_set(NULL, NULL, RP_LOG_WARN);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 3);
  ck_assert_int_eq(last_rep.lines, 10);
  ck_assert_int_eq(last_rep.skipped, 7);
  ck_assert_int_eq(last_rep.rows, 3);
  ck_assert_int_eq(last_rep.nfirst, 5);
  const char *want[5] = {
      "in.csv:3: expected 3 fields, found 1", "in.csv:4: empty item id (column 'item')",
      "in.csv:5: column 'v': cannot parse 'x' as a number", "in.csv:6: expected 3 fields, found 4",
      "in.csv:9: empty user id (column 'user')"};
  for (int k = 0; k < 5; k++) {
    const char *m = strstr(last_rep.first[k], "in.csv");
    ck_assert_msg(m && strcmp(m, want[k]) == 0, "first[%d]: '%s'", k, last_rep.first[k]);
  }
  id_is(ev->users, 1, "v");
  ck_assert_int_eq(nlogged, 1);
  ck_assert_msg(strstr(logged[0], "skipped 7 malformed lines") != NULL, "%s", logged[0]);
  rp_events_free(ev);
}
END_TEST

START_TEST(weights_events_context) {
  rp_io_read_opts o = opts();
  o.event.name = "type";
  o.context[0].name = "device";
  o.context[1].pos = 5;
  o.ncontext = 2;
  o.time.name = "ts";
  const char *text =
      "user,item,type,device,country,ts\n"
      "u1,i1,view,mobile,DE,2024-01-01T00:00:00Z\n"
      "u1,i1,purchase,desktop,FR,2024-01-02 00:00:00\n"
      "u2,i2,remove,mobile,DE,1704067200\n"
      "u2,i1,addtocart,,DE,1704067201\n";
  /* without weights: the event column is kept as codes, values 1 */
  rp_events *ev = rd(text, &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 4);
  ck_assert_int_eq(ev->event_names->n, 4);
  id_is(ev->event_names, 2, "remove");
  ck_assert_int_eq(ev->event[3], 3);
  ck_assert(ev->value[2] == 1.0f);
  ck_assert_str_eq(ev->context_names[0], "device");
  ck_assert_str_eq(ev->context_names[1], "country");
  ck_assert_int_eq(ev->context_dicts[0]->n, 3);
  id_is(ev->context_dicts[0], ev->context[0][3], "");
  id_is(ev->context_dicts[1], ev->context[1][1], "FR");
  ck_assert_int_eq(ev->time[0], 1704067200);
  ck_assert_int_eq(ev->time[1], 1704067200 + 86400);
  rp_events_free(ev);
  /* with weights: unlisted types are dropped and counted */
  const char *wn[] = {"purchase", "addtocart", "view"};
  float wv[] = {5, 3, 1};
  for (int k = 0; k < 3; k++) o.weight_names[k] = wn[k], o.weight_values[k] = wv[k];
  o.nweights = 3;
  nlogged = 0;
  rp_log_set(capture, NULL, RP_LOG_WARN);
  ev = rd(text, &o);
  rp_log_set(NULL, NULL, RP_LOG_WARN);
  ck_assert_int_eq(ev->n, 3);
  ck_assert_int_eq(last_rep.dropped_type, 1);
  ck_assert_str_eq(last_rep.dropped_example, "remove");
  ck_assert_int_eq(nlogged, 1);
  ck_assert_msg(strstr(logged[0], "dropped 1 row whose event type has no weight (e.g. 'remove')"),
                "%s", logged[0]);
  ck_assert(ev->value[0] == 1.0f && ev->value[1] == 5.0f && ev->value[2] == 3.0f);
  ck_assert_int_eq(ev->event_names->n, 3);
  id_is(ev->event_names, ev->event[2], "addtocart");
  rp_events_free(ev);
  /* weights times a value column */
  o = opts();
  o.event.name = "e";
  o.value.name = "q";
  o.nweights = 1;
  o.weight_names[0] = "buy";
  o.weight_values[0] = 2.5f;
  ev = rd("user,item,e,q\na,b,buy,4\na,b,look,1\n", &o);
  ck_assert_int_eq(ev->n, 1);
  ck_assert(ev->value[0] == 10.0f);
  rp_events_free(ev);
}
END_TEST

START_TEST(onto_existing_maps) {
  rp_io_read_opts o = opts();
  rp_events *a = rd("user,item\nu1,i1\nu2,i2\n", &o);
  o.users = a->users;
  o.items = a->items;
  rp_events *b = rd("user,item\nu3,i2\nu1,i3\nu2,i1\n", &o);
  ck_assert_ptr_eq(b->users, a->users);
  ck_assert_int_eq(a->users->n, 3); /* grew */
  ck_assert_int_eq(b->user[0], 2);
  ck_assert_int_eq(b->item[0], 1);
  ck_assert_int_eq(b->item[1], 2);
  ck_assert_int_eq(b->user[2], 1);
  rp_events_free(b);
  o.unknown = RP_UNKNOWN_DROP;
  nlogged = 0;
  rp_log_set(capture, NULL, RP_LOG_WARN);
  b = rd("user,item\nu4,i1\nu1,i9\nu2,i3\nu5,i5\n", &o);
  rp_log_set(NULL, NULL, RP_LOG_WARN);
  ck_assert_int_eq(b->n, 1);
  ck_assert_int_eq(last_rep.dropped_unknown, 3);
  ck_assert_int_eq(a->users->n, 3);
  ck_assert_int_eq(a->items->n, 3);
  ck_assert_int_eq(b->user[0], 1);
  ck_assert_int_eq(b->item[0], 2);
  ck_assert_int_eq(nlogged, 1);
  ck_assert_msg(strstr(logged[0], "dropped 3 rows with a user or item not in the given maps"), "%s",
                logged[0]);
  rp_events_free(b);
  /* one map for both users and items */
  o = opts();
  o.users = o.items = a->users;
  b = rd("user,item\nx,y\ny,u1\n", &o);
  ck_assert_int_eq(a->users->n, 5);
  ck_assert_int_eq(b->user[0], 3);
  ck_assert_int_eq(b->item[0], 4);
  ck_assert_int_eq(b->user[1], 4);
  ck_assert_int_eq(b->item[1], 0);
  rp_events_free(b);
  rp_events_free(a);
}
END_TEST

START_TEST(time_units) {
  rp_io_read_opts o = opts();
  o.time.name = "t";
  o.time_unit = RP_TIME_MS;
  rp_events *ev = rd("user,item,t\na,b,1700000000123\na,c,-1500\na,d,2024-01-01\n", &o);
  ck_assert_int_eq(ev->time[0], 1700000000);
  ck_assert_int_eq(ev->time[1], -2);
  ck_assert_int_eq(ev->time[2], 1704067200);
  rp_events_free(ev);
}
END_TEST

START_TEST(long_lines) {
  /* an id of 300,000 bytes and a quoted one of 100,000 with a newline,
   * read through 1 KiB blocks */
  size_t big = 300000;
  char *text = malloc(2 * big + 1000);
  char *p = text;
  p += sprintf(p, "user,item\nshort,x\n");
  for (size_t k = 0; k < big; k++) *p++ = (char)('a' + k % 26);
  p += sprintf(p, ",y\n\"");
  for (size_t k = 0; k < big / 3; k++) *p++ = k == 500 ? '\n' : 'q';
  p += sprintf(p, "\",z\nlast,w");
  *p = 0;
  rp_io_read_opts o = opts();
  o.block = 1024;
  o.threads = 2;
  rp_events *ev = rd(text, &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 4);
  size_t len;
  const char *id = rp_idmap_id(ev->users, 1, &len);
  ck_assert_uint_eq(len, big);
  ck_assert_int_eq(id[big - 1], 'a' + (big - 1) % 26);
  id = rp_idmap_id(ev->users, 2, &len);
  ck_assert_uint_eq(len, big / 3);
  ck_assert_int_eq(id[500], '\n');
  id_is(ev->users, 3, "last");
  id_is(ev->items, 3, "w");
  rp_events_free(ev);
  free(text);
}
END_TEST

/* ---- generated logs against their ground truth -------------------------------- */
typedef struct truth {
  int n;
  char (*user)[40], (*item)[40];
  float *value;
  int64_t *time;
} truth;

static void put_field(FILE *f, const char *s, int crazy) {
  if (crazy && (strpbrk(s, ",\"\n\r") || s[0] == 0)) {
    fputc('"', f);
    for (const char *c = s; *c; c++) {
      if (*c == '"') fputc('"', f);
      fputc(*c, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
}

/* writes a random log: crazy = ids with quotes, separators, newlines, UTF-8,
 * CRLF and blank lines, ISO times */
static truth gen(const char *path, int n, int crazy, uint64_t seed) {
  truth t = {n, malloc((size_t)n * 40), malloc((size_t)n * 40), malloc((size_t)n * sizeof(float)),
             malloc((size_t)n * sizeof(int64_t))};
  rp_rng r;
  rp_rng_seed(&r, seed, 0);
  FILE *f = fopen(path, "wb");
  fputs(crazy ? "\xEF\xBB\xBFuser,item,value,time\r\n" : "user,item,value,time\n", f);
  static const char *const alpha[] = {"a", "b", "7", ",", "\"", "\n", "\xC3\xA9", " ", "\r\n"};
  for (int k = 0; k < n; k++) {
    for (int w = 0; w < 2; w++) {
      char *s = w ? t.item[k] : t.user[k];
      if (!crazy) {
        snprintf(s, 40, "%llu", (unsigned long long)rp_rng_below(&r, w ? 500 : 3000));
        continue;
      }
      int len = 1 + (int)rp_rng_below(&r, 5);
      s[0] = 0;
      for (int q = 0; q < len; q++) strcat(s, alpha[rp_rng_below(&r, crazy ? 9 : 3)]);
    }
    char vbuf[40], tbuf[40];
    snprintf(vbuf, sizeof vbuf, "%.*f", (int)rp_rng_below(&r, 4),
             (double)rp_rng_below(&r, 100000) / 7.0 - 2000);
    t.value[k] = strtof(vbuf, NULL);
    t.time[k] = 1600000000 + (int64_t)rp_rng_below(&r, 100000000);
    if (crazy && rp_rng_below(&r, 2))
      rp_format_iso8601(t.time[k], tbuf, sizeof tbuf);
    else
      snprintf(tbuf, sizeof tbuf, "%lld", (long long)t.time[k]);
    put_field(f, t.user[k], crazy);
    fputc(',', f);
    put_field(f, t.item[k], crazy);
    fputc(',', f);
    put_field(f, vbuf, crazy && rp_rng_below(&r, 5) == 0 ? 2 : 0);
    fputc(',', f);
    fputs(tbuf, f);
    fputs(crazy && rp_rng_below(&r, 2) ? "\r\n" : "\n", f);
    if (crazy && rp_rng_below(&r, 20) == 0) fputs(rp_rng_below(&r, 2) ? "\n" : "\r\n", f);
  }
  fclose(f);
  return t;
}

static void truth_free(truth *t) {
  free(t->user);
  free(t->item);
  free(t->value);
  free(t->time);
}

static void check_truth(const rp_events *ev, const truth *t) {
  ck_assert_int_eq(ev->n, t->n);
  for (int k = 0; k < t->n; k++) {
    id_is(ev->users, ev->user[k], t->user[k]);
    id_is(ev->items, ev->item[k], t->item[k]);
    ck_assert_msg(ev->value[k] == t->value[k], "row %d: value %g, want %g", k, (double)ev->value[k],
                  (double)t->value[k]);
    ck_assert_int_eq(ev->time[k], t->time[k]);
  }
  /* indices in order of first appearance */
  int32_t next_u = 0, next_i = 0;
  for (int k = 0; k < t->n; k++) {
    ck_assert_int_le(ev->user[k], next_u);
    if (ev->user[k] == next_u) next_u++;
    ck_assert_int_le(ev->item[k], next_i);
    if (ev->item[k] == next_i) next_i++;
  }
  ck_assert_int_eq(next_u, ev->users->n);
  ck_assert_int_eq(next_i, ev->items->n);
}

static void same_events_untimed(const rp_events *a, const rp_events *b) {
  ck_assert_int_eq(a->n, b->n);
  ck_assert_int_eq(a->users->n, b->users->n);
  ck_assert_int_eq(a->items->n, b->items->n);
  ck_assert_int_eq(memcmp(a->user, b->user, (size_t)a->n * 4), 0);
  ck_assert_int_eq(memcmp(a->item, b->item, (size_t)a->n * 4), 0);
  ck_assert_int_eq(memcmp(a->users->arena, b->users->arena, (size_t)a->users->arena_len), 0);
  ck_assert_int_eq(memcmp(a->items->arena, b->items->arena, (size_t)a->items->arena_len), 0);
}

static void same_events(const rp_events *a, const rp_events *b) {
  ck_assert_int_eq(a->n, b->n);
  ck_assert_int_eq(a->users->n, b->users->n);
  ck_assert_int_eq(a->items->n, b->items->n);
  ck_assert_int_eq(memcmp(a->user, b->user, (size_t)a->n * 4), 0);
  ck_assert_int_eq(memcmp(a->item, b->item, (size_t)a->n * 4), 0);
  ck_assert_int_eq(memcmp(a->value, b->value, (size_t)a->n * 4), 0);
  ck_assert_int_eq(memcmp(a->time, b->time, (size_t)a->n * 8), 0);
  ck_assert_int_eq(a->users->arena_len, b->users->arena_len);
  ck_assert_int_eq(memcmp(a->users->arena, b->users->arena, (size_t)a->users->arena_len), 0);
  ck_assert_int_eq(memcmp(a->items->arena, b->items->arena, (size_t)a->items->arena_len), 0);
}

START_TEST(threads_and_blocks_agree_with_truth) {
  const char *path = rp_test_tmp("gen.csv");
  for (int crazy = 0; crazy <= 1; crazy++) {
    truth t = gen(path, 20000, crazy, 100 + (uint64_t)crazy);
    rp_io_read_opts o = opts();
    o.value.name = "value";
    o.time.name = "time";
    o.threads = 1;
    rp_events *ref;
    rp_err err;
    ck_assert_msg(rp_io_read_events(path, &o, &ref, NULL, &err) == RP_OK, "%s", err.msg);
    check_truth(ref, &t);
    static const size_t blocks[] = {1, 7, 64, 997, 4096, 65536};
    for (int th = 1; th <= 4; th++)
      for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++) {
        if (blocks[b] < 64 && th > 2) continue; /* slow and adds nothing */
        o.threads = th;
        o.block = blocks[b];
        rp_events *ev;
        ck_assert_msg(rp_io_read_events(path, &o, &ev, NULL, &err) == RP_OK, "%s", err.msg);
        same_events(ref, ev);
        rp_events_free(ev);
      }
    rp_events_free(ref);
    truth_free(&t);
  }
}
END_TEST

/* event and context columns: codes and dictionaries are the same whatever
 * the threads and blocks */
START_TEST(threads_agree_on_codes) {
  const char *path = rp_test_tmp("codes.csv");
  FILE *f = fopen(path, "wb");
  fputs("user,item,type,device,country\n", f);
  rp_rng r;
  rp_rng_seed(&r, 77, 0);
  static const char *const types[] = {"view", "cart", "buy", "remove", "wish"};
  for (int k = 0; k < 30000; k++)
    fprintf(f, "u%d,i%d,%s,d%d,c%d\n", (int)rp_rng_below(&r, 3000), (int)rp_rng_below(&r, 700),
            types[k < 20000 ? rp_rng_below(&r, 3) : rp_rng_below(&r, 5)],
            (int)rp_rng_below(&r, 1 + (uint64_t)k / 100), (int)rp_rng_below(&r, 50));
  fclose(f);
  rp_io_read_opts o = opts();
  o.event.name = "type";
  o.context[0].name = "device";
  o.context[1].name = "country";
  o.ncontext = 2;
  rp_events *ref = NULL, *ev;
  rp_err err;
  for (int th = 1; th <= 3; th++)
    for (int b = 0; b < 2; b++) {
      o.threads = th;
      o.block = b ? 3001 : 0;
      ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_OK);
      if (!ref) {
        ref = ev;
        continue;
      }
      same_events_untimed(ref, ev);
      ck_assert_int_eq(memcmp(ref->event, ev->event, (size_t)ev->n * 2), 0);
      ck_assert_int_eq(ref->event_names->arena_len, ev->event_names->arena_len);
      ck_assert_int_eq(memcmp(ref->event_names->arena, ev->event_names->arena,
                              (size_t)ev->event_names->arena_len),
                       0);
      for (int c = 0; c < 2; c++) {
        ck_assert_int_eq(memcmp(ref->context[c], ev->context[c], (size_t)ev->n * 4), 0);
        ck_assert_int_eq(ref->context_dicts[c]->arena_len, ev->context_dicts[c]->arena_len);
        ck_assert_int_eq(memcmp(ref->context_dicts[c]->arena, ev->context_dicts[c]->arena,
                                (size_t)ev->context_dicts[c]->arena_len),
                         0);
      }
      rp_events_free(ev);
    }
  ck_assert_int_eq(ref->event_names->n, 5);
  ck_assert_int_ge(rp_idmap_find(ref->event_names, "remove", 6), 3);
  rp_events_free(ref);
}
END_TEST

/* one map for users and items: ids interned in row order (user, then item),
 * whatever the threads */
START_TEST(threads_agree_on_one_map) {
  const char *path = rp_test_tmp("onemap.csv");
  FILE *f = fopen(path, "wb");
  fputs("user,item\n", f);
  rp_rng r;
  rp_rng_seed(&r, 78, 0);
  for (int k = 0; k < 20000; k++)
    fprintf(f, "%d,%d\n", (int)rp_rng_below(&r, 1 + (uint64_t)k / 3),
            (int)rp_rng_below(&r, 1 + (uint64_t)k / 2));
  fclose(f);
  rp_events *ref = NULL;
  for (int th = 1; th <= 3; th++) {
    rp_err err;
    rp_idmap *m = rp_idmap_new(&err);
    rp_io_read_opts o = opts();
    o.users = o.items = m;
    o.threads = th;
    o.block = th == 1 ? 0 : 1500;
    rp_events *ev;
    ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_OK);
    rp_idmap_release(m);
    /* a sequential reference: intern user then item, row by row */
    if (!ref) {
      ref = ev;
      rp_idmap *naive = rp_idmap_new(&err);
      for (int64_t i = 0; i < ev->n; i++) {
        size_t lu, li;
        const char *su = rp_idmap_id(ev->users, ev->user[i], &lu);
        const char *si = rp_idmap_id(ev->items, ev->item[i], &li);
        int32_t a, b;
        rp_idmap_intern(naive, su, lu, &a, &err);
        rp_idmap_intern(naive, si, li, &b, &err);
        ck_assert_int_eq(a, ev->user[i]);
        ck_assert_int_eq(b, ev->item[i]);
      }
      rp_idmap_release(naive);
      continue;
    }
    same_events_untimed(ref, ev);
    rp_events_free(ev);
  }
  rp_events_free(ref);
}
END_TEST

/* numeric ids (looked up by value) and their look-alikes (by text) */
START_TEST(numeric_ids) {
  static const char *const ids[] = {
      "7",  "07",        "007",        "0",          "00",        "70",      "7.0", "+7",
      "-7", "999999999", "1000000000", "4294967303", "123456789", "5000000", "12",  "012"};
  enum { NID = sizeof ids / sizeof *ids };
  char path[600], path2[600];
  snprintf(path, sizeof path, "%s", rp_test_tmp("num.csv"));
  snprintf(path2, sizeof path2, "%s", rp_test_tmp("num2.csv"));
  FILE *f = fopen(path, "wb");
  fputs("user,item\n", f);
  rp_rng r;
  rp_rng_seed(&r, 5, 0);
  int order[4000][2];
  for (int k = 0; k < 4000; k++) {
    order[k][0] = (int)rp_rng_below(&r, NID);
    order[k][1] = (int)rp_rng_below(&r, NID);
    fprintf(f, "%s,%s\n", ids[order[k][0]], ids[order[k][1]]);
  }
  fclose(f);
  for (int th = 1; th <= 3; th++) {
    rp_io_read_opts o = opts();
    o.threads = th;
    o.block = th == 1 ? 0 : 700;
    rp_events *ev;
    rp_err err;
    ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_OK);
    ck_assert_int_eq(ev->n, 4000);
    for (int k = 0; k < 4000; k++) {
      id_is(ev->users, ev->user[k], ids[order[k][0]]);
      id_is(ev->items, ev->item[k], ids[order[k][1]]);
    }
    ck_assert_int_eq(ev->users->n, NID);
    /* a second file onto these maps: ids found by value, "0012" is new */
    rp_test_write(path2, "user,item\n12,7\n0012,5000000\n999999999,012\n");
    o.users = ev->users;
    o.items = ev->items;
    o.unknown = RP_UNKNOWN_DROP;
    rp_events *e2;
    rp_io_read_report rep;
    ck_assert_int_eq(rp_io_read_events(path2, &o, &e2, &rep, &err), RP_OK);
    ck_assert_int_eq(e2->n, 2);
    ck_assert_int_eq(rep.dropped_unknown, 1);
    ck_assert_int_eq(e2->user[0], rp_idmap_find(ev->users, "12", 2));
    ck_assert_int_eq(e2->item[1], rp_idmap_find(ev->items, "012", 3));
    rp_events_free(e2);
    o.unknown = RP_UNKNOWN_ADD;
    ck_assert_int_eq(rp_io_read_events(path2, &o, &e2, &rep, &err), RP_OK);
    ck_assert_int_eq(ev->users->n, NID + 1);
    id_is(ev->users, e2->user[1], "0012");
    ck_assert_int_eq(e2->user[2], rp_idmap_find(ev->users, "999999999", 9));
    rp_events_free(e2);
    rp_events_free(ev);
  }
}
END_TEST

/* the same log with errors: the first error in file order, whatever the
 * threads; in skip mode the same survivors and messages */
START_TEST(threads_agree_on_errors) {
  const char *path = rp_test_tmp("err.csv");
  FILE *f = fopen(path, "wb");
  fputs("user,item,value\n", f);
  for (int k = 0; k < 30000; k++) {
    if (k % 4999 == 4998)
      fprintf(f, "u%d,i%d\n", k, k);
    else if (k % 7001 == 7000)
      fprintf(f, "u%d,i%d,zz\n", k, k);
    else
      fprintf(f, "u%d,i%d,%d\n", k % 977, k % 313, k % 5);
  }
  fclose(f);
  rp_io_read_opts o = opts();
  o.value.name = "value";
  for (int th = 1; th <= 3; th++) {
    o.threads = th;
    o.block = th == 1 ? 0 : 5000;
    rp_events *ev;
    rp_err err;
    o.on_error = RP_ONERR_STOP;
    ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_EPARSE);
    ck_assert_str_eq(strstr(err.msg, "err.csv"), "err.csv:5000: expected 3 fields, found 2");
    o.on_error = RP_ONERR_SKIP;
    rp_io_read_report rep;
    ck_assert_int_eq(rp_io_read_events(path, &o, &ev, &rep, &err), RP_OK);
    ck_assert_int_eq(rep.skipped, 6 + 4);
    ck_assert_int_eq(ev->n, 30000 - 10);
    ck_assert_str_eq(strstr(rep.first[0], "err.csv"), "err.csv:5000: expected 3 fields, found 2");
    ck_assert_str_eq(strstr(rep.first[1], "err.csv"),
                     "err.csv:7002: column 'value': cannot parse 'zz' as a number");
    ck_assert_int_eq(ev->users->n, 977);
    rp_events_free(ev);
  }
}
END_TEST

START_TEST(gzip_and_stdin) {
  const char *plain = rp_test_tmp("g.csv");
  truth t = gen(plain, 5000, 1, 7);
  truth_free(&t);
  /* compress through the atomic writer */
  FILE *f = fopen(plain, "rb");
  char buf[1 << 16];
  size_t n;
  rp_err err;
  char gzpath[600];
  snprintf(gzpath, sizeof gzpath, "%s.gz", plain);
  rp_writer *w = rp_writer_open(gzpath, &err);
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) rp_writer_write(w, buf, n, &err);
  fclose(f);
  ck_assert_int_eq(rp_writer_commit(w, &err), RP_OK);
  rp_io_read_opts o = opts();
  o.value.name = "value";
  o.time.name = "time";
  o.block = 4096;
  rp_events *a, *b, *c;
  ck_assert_int_eq(rp_io_read_events(plain, &o, &a, NULL, &err), RP_OK);
  rp_io_read_report rep;
  ck_assert_int_eq(rp_io_read_events(gzpath, &o, &b, &rep, &err), RP_OK);
  same_events(a, b);
  rp_events_free(b);
  /* gzip on standard input */
  int saved0 = dup(0), fd0 = open(gzpath, O_RDONLY);
  dup2(fd0, 0);
  close(fd0);
  int rc0 = rp_io_read_events("-", &o, &b, NULL, &err);
  dup2(saved0, 0);
  close(saved0);
  ck_assert_int_eq(rc0, RP_OK);
  same_events(a, b);
  rp_events_free(b);
  /* truncated gzip: an error, not a short read */
  f = fopen(gzpath, "rb");
  n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  f = fopen(gzpath, "wb");
  fwrite(buf, 1, n / 2, f);
  fclose(f);
  ck_assert_int_eq(rp_io_read_events(gzpath, &o, &b, NULL, &err), RP_EFORMAT);
  ck_assert_msg(strstr(err.msg, "truncated gzip"), "%s", err.msg);
  /* standard input */
  int saved = dup(0), fd = open(plain, O_RDONLY);
  dup2(fd, 0);
  close(fd);
  int rc = rp_io_read_events("-", &o, &c, NULL, &err);
  dup2(saved, 0);
  close(saved);
  ck_assert_int_eq(rc, RP_OK);
  same_events(a, c);
  rp_events_free(c);
  rp_events_free(a);
}
END_TEST

static int read_scenario(const char *path, int skip, int threads) {
  rp_io_read_opts o = opts();
  o.value.name = "value";
  o.time.name = "time";
  o.event.name = "type";
  o.context[0].name = "device";
  o.ncontext = 1;
  o.threads = threads;
  o.block = 256;
  o.on_error = skip ? RP_ONERR_SKIP : RP_ONERR_STOP;
  if (skip) {
    o.nweights = 2;
    o.weight_names[0] = "view", o.weight_values[0] = 1;
    o.weight_names[1] = "buy", o.weight_values[1] = 5;
  }
  rp_events *ev = NULL;
  rp_err err;
  int rc = rp_io_read_events(path, &o, &ev, NULL, &err);
  if (!rc && ev->n < 100) rc = RP_EINVAL;
  rp_events_free(ev);
  return rc;
}

START_TEST(fault_loops) {
  const char *path = rp_test_tmp("fault.csv");
  FILE *f = fopen(path, "wb");
  fputs("user,item,value,time,type,device\n", f);
  for (int k = 0; k < 300; k++)
    fprintf(f,
            k % 50 == 7 ? "\"q\"\"%d\",item-with-a-long-name-%d,%d,%d,%s,%s\n"
                        : "u%d,item-with-a-long-name-%d,%d,%d,%s,%s\n",
            k % 37, k % 23, k % 5, 1700000000 + k, k % 3 ? "view" : "buy",
            k % 2 ? "mobile" : "desktop");
  fclose(f);
  RP_FAULT_LOOP(read_scenario(path, 0, 1));
  RP_FAULT_LOOP(read_scenario(path, 1, 1));
  RP_FAULT_LOOP(read_scenario(path, 0, 3));
}
END_TEST

START_TEST(split_fields) {
  char *f[8];
  size_t fl[8];
  char s1[] = "a,b,,\"c,d\",\"e\"\"f\"";
  ck_assert_int_eq(rp_io_split_fields(s1, strlen(s1), ",", f, fl, 8), 5);
  ck_assert_int_eq((int)fl[2], 0);
  ck_assert(fl[3] == 3 && memcmp(f[3], "c,d", 3) == 0);
  ck_assert(fl[4] == 3 && memcmp(f[4], "e\"f", 3) == 0);
  char s2[] = "x::y::";
  ck_assert_int_eq(rp_io_split_fields(s2, strlen(s2), "::", f, fl, 8), 3);
  ck_assert_int_eq((int)fl[2], 0);
  char s3[] = "\"ab\"c,d";
  ck_assert_int_eq(rp_io_split_fields(s3, strlen(s3), ",", f, fl, 8), -1);
  char s4[] = "1|2|3|4";
  ck_assert_int_eq(rp_io_split_fields(s4, strlen(s4), "|", f, fl, 3), 4); /* more than maxf */
  char s5[] = "\"open";
  ck_assert_int_eq(rp_io_split_fields(s5, strlen(s5), ",", f, fl, 8), -1);
}
END_TEST

/* the splitter gives the fields rp_io_read_events reads from the same record */
START_TEST(split_fields_agree_with_read) {
  static const char *const recs[] = {"u1,i1,1", "\"u,2\",\"i \"\"x\"\"\",2", "\"u3\",i3,3\r",
                                     "u4,\"\",4"};
  for (int r = 0; r < 4; r++) {
    char text[128], line[64];
    snprintf(text, sizeof text, "user,item,value\n%s\n", recs[r]);
    rp_io_read_opts o = opts();
    o.value.name = "value";
    rp_events *ev = rd(text, &o);
    if (r == 3) { /* an empty id is an error of the reader, not of the split */
      ck_assert_ptr_null(ev);
      continue;
    }
    ck_assert_ptr_nonnull(ev);
    snprintf(line, sizeof line, "%s", recs[r]);
    char *f[4];
    size_t fl[4], n;
    ck_assert_int_eq(rp_io_split_fields(line, strlen(line), ",", f, fl, 4), 3);
    const char *u = rp_idmap_id(ev->users, 0, &n);
    ck_assert(n == fl[0] && memcmp(u, f[0], n) == 0);
    const char *it = rp_idmap_id(ev->items, 0, &n);
    ck_assert(n == fl[1] && memcmp(it, f[1], n) == 0);
    ck_assert_int_eq((int)fl[2], 1);
    rp_events_free(ev);
  }
}
END_TEST

/* lines: CRLF and LF, a BOM on the first line only, blank lines kept, a last
 * line without newline, lines longer than the buffer, gzip */
static int read_lines(const char *path, char *out, size_t size, int *count) {
  rp_err err;
  rp_io_lines *l = rp_io_lines_open(path, &err);
  if (!l) return err.status;
  char *line;
  size_t n, at = 0;
  int r;
  *count = 0;
  while ((r = rp_io_lines_next(l, &line, &n, &err)) == 1) {
    if (at + n + 2 <= size) {
      memcpy(out + at, line, n);
      at += n;
      out[at++] = '|';
    }
    (*count)++;
  }
  out[at] = 0;
  rp_io_lines_close(l);
  return r < 0 ? err.status : 0;
}

START_TEST(lines) {
  const char *p = rp_test_tmp("lines.txt");
  char out[512];
  int count;
  rp_test_write(p,
                "\xEF\xBB\xBF"
                "a,b\r\n\nc\r\n\xEF\xBB\xBF d\ne");
  ck_assert_int_eq(read_lines(p, out, sizeof out, &count), 0);
  ck_assert_str_eq(out, "a,b||c|\xEF\xBB\xBF d|e|");
  ck_assert_int_eq(count, 5);
  rp_test_write(p, "");
  ck_assert_int_eq(read_lines(p, out, sizeof out, &count), 0);
  ck_assert_int_eq(count, 0);
  rp_test_write(p, "\n");
  ck_assert_int_eq(read_lines(p, out, sizeof out, &count), 0);
  ck_assert_int_eq(count, 1);
  /* 200 KB lines: the buffer grows */
  size_t big = 200000;
  char *text = malloc(3 * big + 8);
  for (int k = 0; k < 3; k++) {
    memset(text + (size_t)k * big, 'a' + k, big - 1);
    text[(size_t)k * big + big - 1] = '\n';
  }
  text[3 * big] = 0;
  rp_test_write(p, text);
  rp_err err;
  rp_io_lines *l = rp_io_lines_open(p, &err);
  char *line;
  size_t n;
  for (int k = 0; k < 3; k++) {
    ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), 1);
    ck_assert(n == big - 1 && line[0] == 'a' + k && line[n - 1] == 'a' + k);
  }
  ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), 0);
  rp_io_lines_close(l);
  /* gzip: the same lines */
  char gz[600];
  snprintf(gz, sizeof gz, "%s.gz", p);
  rp_writer *w = rp_writer_open(gz, &err);
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(rp_writer_write(w, "x\r\ny\n", 6, &err), RP_OK);
  ck_assert_int_eq(rp_writer_commit(w, &err), RP_OK);
  ck_assert_int_eq(read_lines(gz, out, sizeof out, &count), 0);
  ck_assert_str_eq(out, "x|y|");
  free(text);
  /* a missing file */
  ck_assert_ptr_null(rp_io_lines_open(rp_test_tmp("no-such-file"), &err));
  ck_assert_int_eq(err.status, RP_EIO);
}
END_TEST

static int lines_scenario(const char *path) {
  char out[64];
  int count;
  return read_lines(path, out, sizeof out, &count);
}

START_TEST(lines_fault_loop) {
  const char *p = rp_test_tmp("lines-fault.txt");
  rp_test_write(p, "a\nb\nc\n");
  RP_FAULT_LOOP(lines_scenario(p));
}
END_TEST

/* issue 8, crash 1: a header-less file whose first line has one field
 * (columns 1 and 2 were assumed; the role array was indexed past its end
 * and an item field that was never set was hashed) */
START_TEST(one_field_first_line) {
  const char *want = "in.csv:1: expected at least 2 fields (user, item), found 1";
  char *text = malloc(17 * 1000 + 1);
  for (int k = 0; k < 1000; k++) memcpy(text + 17 * k, "abcdefghijklmnop\n", 17);
  text[17 * 1000] = 0;
  static const size_t blocks[] = {0, 1, 2, 3, 5, 16, 64, 1024};
  for (int th = 1; th <= 2; th++)
    for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
      for (int skip = 0; skip <= 1; skip++) {
        rp_io_read_opts o = opts();
        o.header = 0;
        o.threads = th;
        o.block = blocks[b];
        o.on_error = skip ? RP_ONERR_SKIP : RP_ONERR_STOP;
        fails_with(text, &o, want);
        fails_with("abc", &o, want); /* 3 bytes */
        fails_with("ab\n", &o, want);
        o.user.pos = 1; /* item still defaults to column 2 */
        fails_with(text, &o, want);
      }
  free(text);
  rp_io_read_opts o = opts();
  o.header = 0;
  /* the first record's own line number */
  fails_with("\n\r\nabc\nx,y\n", &o, "in.csv:3: expected at least 2 fields (user, item), found 1");
  o.item.pos = 2;
  fails_with("abc\n", &o, "in.csv: item column 2 requested, but line 1 has 1 fields");
  /* two fields are enough */
  o = opts();
  o.header = 0;
  rp_events *ev = rd("a,b\nc,d\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(ev->n, 2);
  rp_events_free(ev);
}
END_TEST

/* a first line longer than the read block: the separator is detected on
 * the whole line (it used to be counted on the first block only, which
 * gave one field, a wrong role table and "column 2 is used for both
 * context and item") */
START_TEST(first_line_longer_than_block) {
  size_t big = 5000;
  char *text = malloc(big + 64);
  memset(text, 'x', big);
  strcpy(text + big, "\tb\tc\nu\ti\tz\n");
  static const size_t blocks[] = {1, 7, 64, 1000, 4096};
  for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
    for (int th = 1; th <= 2; th++) {
      rp_io_read_opts o = opts();
      o.header = 0;
      o.block = blocks[b];
      o.threads = th;
      o.ncontext = 1;
      o.context[0].pos = 3;
      rp_events *ev = rd(text, &o);
      ck_assert_msg(ev != NULL, "block %zu: %s", blocks[b], last_err.msg);
      ck_assert_str_eq(last_rep.sep, "\t");
      ck_assert_int_eq(last_rep.fields, 3);
      ck_assert_int_eq(ev->n, 2);
      size_t len;
      rp_idmap_id(ev->users, 0, &len);
      ck_assert_uint_eq(len, big);
      id_is(ev->items, 1, "i");
      rp_events_free(ev);
    }
  /* a quoted first field holding a newline and tabs: still one record */
  rp_io_read_opts o = opts();
  o.header = 0;
  o.block = 4;
  rp_events *ev = rd("\"a\nb\tc\",d\ne,f\n", &o);
  ck_assert_ptr_nonnull(ev);
  ck_assert_str_eq(last_rep.sep, ",");
  id_is(ev->users, 0, "a\nb\tc");
  rp_events_free(ev);
  free(text);
}
END_TEST

/* issue 8, item 5: max_line_bytes */
START_TEST(max_line_bytes) {
  static const size_t blocks[] = {0, 3, 8, 64};
  for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
    for (int th = 1; th <= 2; th++)
      for (int skip = 0; skip <= 1; skip++) {
        rp_io_read_opts o = opts();
        o.block = blocks[b];
        o.threads = th;
        o.on_error = skip ? RP_ONERR_SKIP : RP_ONERR_STOP; /* a limit, not a malformed line */
        o.max_line_bytes = 10;
        /* exactly 10 bytes pass (CR counts, the newline does not) */
        rp_events *ev = rd("user,item\nu1234567,i\nu123456,i\r\n", &o);
        ck_assert_msg(ev != NULL, "%s", last_err.msg);
        ck_assert_int_eq(ev->n, 2);
        rp_events_free(ev);
        fails_with("user,item\nu1234567,i\nu12345678,i\n", &o,
                   "in.csv:3: line longer than max_line_bytes (10)");
        fails_with("user,item\nu12345678,i", &o, "in.csv:2: line longer than max_line_bytes (10)");
        fails_with("user,itemxx\nu,i\n", &o, "in.csv:1: line longer than max_line_bytes (10)");
        /* a quoted record is one line, its line breaks included */
        fails_with("user,item\na,b\n\"u\n\n\n\n\n\",ii\n", &o,
                   "in.csv:3: line longer than max_line_bytes (10)");
        o.header = 0;
        o.sep = ",";
        fails_with("u,i\nuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu", &o,
                   "in.csv:2: line longer than max_line_bytes (10)");
      }
  rp_io_read_opts o = opts();
  o.max_line_bytes = 0;
  fails_with("user,item\nu,i\n", &o,
             "in.csv: max_line_bytes must be a positive number of bytes, got 0");
  o.max_line_bytes = -5;
  fails_with("user,item\nu,i\n", &o,
             "in.csv: max_line_bytes must be a positive number of bytes, got -5");
  o = opts();
  ck_assert_int_eq(o.max_line_bytes, (int64_t)64 << 20);
}
END_TEST

/* a gzip stream of zeros is one endless line: the read stops at the limit
 * having held about the limit in memory, not the whole line */
static const char *zeros_gz(size_t n) {
  static char path[600];
  snprintf(path, sizeof path, "%s", rp_test_tmp("zeros.csv.gz"));
  gzFile g = gzopen(path, "wb9");
  ck_assert_ptr_nonnull(g);
  char *z = calloc(1, 1 << 20);
  memset(z, '0', 1 << 20);
  for (size_t k = 0; k < n; k += 1 << 20) gzwrite(g, z, 1 << 20);
  gzclose(g);
  free(z);
  return path;
}

START_TEST(endless_line_memory) {
  const char *path = zeros_gz((size_t)40 << 20);
  rp_io_read_opts o = opts();
  o.max_line_bytes = (int64_t)4 << 20;
  o.block = (size_t)64 << 10;
  rp_events *ev;
  rp_err err;
  size_t base = rp_mem_current();
  rp_mem_reset_peak();
  ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_EPARSE);
  size_t peak = rp_mem_peak() - base;
  ck_assert_msg(strstr(err.msg, "zeros.csv.gz:1: line longer than max_line_bytes (4194304)"), "%s",
                err.msg);
  /* the buffer (the limit + 1), two read-ahead chunks of a block, the reader */
  ck_assert_msg(peak < ((size_t)4 << 20) + ((size_t)1 << 20), "peak %zu", peak);
  /* with a header: the second line */
  o.header = 0;
  o.sep = ",";
  ck_assert_int_eq(rp_io_read_events(path, &o, &ev, NULL, &err), RP_EPARSE);
  ck_assert_msg(strstr(err.msg, "zeros.csv.gz:1: line longer"), "%s", err.msg);
  /* the line reader of side files */
  rp_io_lines *l = rp_io_lines_open(path, &err);
  ck_assert_ptr_nonnull(l);
  rp_io_lines_set_max(l, (int64_t)1 << 20);
  rp_mem_reset_peak();
  base = rp_mem_current();
  char *line;
  size_t n;
  ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), -1);
  ck_assert_msg(strstr(err.msg, "zeros.csv.gz:1: line longer than max_line_bytes (1048576)"), "%s",
                err.msg);
  ck_assert_msg(rp_mem_peak() - base < ((size_t)3 << 20), "peak %zu", rp_mem_peak() - base);
  rp_io_lines_close(l);
}
END_TEST

START_TEST(lines_max) {
  const char *p = rp_test_tmp("lines-max.txt");
  rp_test_write(p, "abc\r\nabcd\nabcde\n");
  rp_err err;
  rp_io_lines *l = rp_io_lines_open(p, &err);
  rp_io_lines_set_max(l, 4);
  char *line;
  size_t n;
  ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), 1);
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), 1);
  ck_assert_uint_eq(n, 4);
  ck_assert_int_eq(rp_io_lines_next(l, &line, &n, &err), -1);
  ck_assert_msg(strstr(err.msg, "lines-max.txt:3: line longer than max_line_bytes (4)"), "%s",
                err.msg);
  rp_io_lines_close(l);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("io_reader");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, basic_header);
  tcase_add_test(tc, quoting);
  tcase_add_test(tc, line_ends_bom_blank);
  tcase_add_test(tc, separators);
  tcase_add_test(tc, bad_input_messages);
  tcase_add_test(tc, skip_mode);
  tcase_add_test(tc, weights_events_context);
  tcase_add_test(tc, onto_existing_maps);
  tcase_add_test(tc, time_units);
  tcase_add_test(tc, long_lines);
  tcase_add_test(tc, threads_and_blocks_agree_with_truth);
  tcase_add_test(tc, threads_agree_on_errors);
  tcase_add_test(tc, threads_agree_on_codes);
  tcase_add_test(tc, threads_agree_on_one_map);
  tcase_add_test(tc, numeric_ids);
  tcase_add_test(tc, gzip_and_stdin);
  tcase_add_test(tc, fault_loops);
  tcase_add_test(tc, split_fields);
  tcase_add_test(tc, split_fields_agree_with_read);
  tcase_add_test(tc, lines);
  tcase_add_test(tc, lines_fault_loop);
  tcase_add_test(tc, one_field_first_line);
  tcase_add_test(tc, first_line_longer_than_block);
  tcase_add_test(tc, max_line_bytes);
  tcase_add_test(tc, endless_line_memory);
  tcase_add_test(tc, lines_max);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
