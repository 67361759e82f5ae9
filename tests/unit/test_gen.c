/* Check tests for the synthetic log generator (modules/gen): options, dates,
 * exact sizes, determinism, the planted structure (clusters, popularity,
 * activity, funnel, drift, releases), the attribute files, and failure
 * paths (bad paths, allocation failures leave no file behind). */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "gen.h"
#include "iotext.h"
#include "rio.h"
#include "rptest.h"

/* ---- reading what the generator wrote --------------------------------------- */
typedef struct {
  int64_t n;
  int32_t *user, *item; /* 0-based, from "u17" / "i5" */
  int8_t *ev;           /* 0 view, 1 addtocart, 2 purchase */
  int64_t *t;
  int8_t *device, *country; /* indices into small tables */
  char header[128];
} logdata;

static char *slurp(const char *path, size_t *len) {
  rp_err err;
  rp_reader *r = rp_reader_open(path, &err);
  ck_assert_msg(r != NULL, "%s", err.msg);
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc(cap);
  ssize_t k;
  while ((k = rp_reader_read(r, buf + n, cap - n - 1, &err)) > 0) {
    n += (size_t)k;
    if (cap - n < 2) buf = realloc(buf, cap *= 2);
  }
  ck_assert_msg(k == 0, "%s", err.msg);
  rp_reader_close(r);
  buf[n] = 0;
  *len = n;
  return buf;
}

static int lookup(const char *s, size_t n, const char *const *names, int count) {
  for (int i = 0; i < count; i++)
    if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) return i;
  return -1;
}

static const char *const EVN[] = {"view", "addtocart", "purchase"};
static const char *const DEV[] = {"mobile", "desktop", "tablet"};
static const char *const CTY[] = {"US", "GB", "DE", "FR", "ES", "IT",
                                  "NL", "PL", "SE", "BR", "IN", "JP"};

static void load_log(const char *path, logdata *L) {
  size_t len;
  char *buf = slurp(path, &len);
  int64_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  memset(L, 0, sizeof *L);
  L->user = malloc((size_t)lines * 4 + 4);
  L->item = malloc((size_t)lines * 4 + 4);
  L->ev = malloc((size_t)lines + 1);
  L->t = malloc((size_t)lines * 8 + 8);
  L->device = malloc((size_t)lines + 1);
  L->country = malloc((size_t)lines + 1);
  char *p = buf, *nl = strchr(p, '\n');
  ck_assert_ptr_nonnull(nl);
  snprintf(L->header, sizeof L->header, "%.*s", (int)(nl - p), p);
  p = nl + 1;
  while (*p) {
    nl = strchr(p, '\n');
    ck_assert_ptr_nonnull(nl);
    char *f[6];
    size_t fl[6];
    int nf = 0;
    for (char *q = p, *s = p; q <= nl; q++)
      if (*q == ',' || q == nl) {
        ck_assert_int_lt(nf, 6);
        f[nf] = s;
        fl[nf++] = (size_t)(q - s);
        s = q + 1;
      }
    ck_assert_int_eq(nf, 6);
    ck_assert(f[0][0] == 'u' && f[1][0] == 'i');
    int64_t k = L->n++;
    L->user[k] = (int32_t)strtol(f[0] + 1, NULL, 10) - 1;
    L->item[k] = (int32_t)strtol(f[1] + 1, NULL, 10) - 1;
    L->ev[k] = (int8_t)lookup(f[2], fl[2], EVN, 3);
    ck_assert_int_ge(L->ev[k], 0);
    if (fl[3] == 19) {
      char ts[20];
      memcpy(ts, f[3], 19);
      ts[19] = 0;
      ck_assert_int_eq(rp_parse_iso8601(ts, 19, &L->t[k]), RP_PARSE_OK);
    } else {
      L->t[k] = strtoll(f[3], NULL, 10);
    }
    L->device[k] = (int8_t)lookup(f[4], fl[4], DEV, 3);
    L->country[k] = (int8_t)lookup(f[5], fl[5], CTY, 12);
    ck_assert(L->device[k] >= 0 && L->country[k] >= 0);
    p = nl + 1;
  }
  free(buf);
}

static void free_log(logdata *L) {
  free(L->user);
  free(L->item);
  free(L->ev);
  free(L->t);
  free(L->device);
  free(L->country);
}

/* truth.csv: cluster (1-based), secondary, since per user / item */
typedef struct {
  int32_t *uc, *uc2, *ic;
  int64_t *usince, *isince;
} truth;

static void load_truth(const char *path, int32_t nu, int32_t ni, truth *T) {
  size_t len;
  char *buf = slurp(path, &len);
  T->uc = calloc((size_t)nu, 4);
  T->uc2 = calloc((size_t)nu, 4);
  T->ic = calloc((size_t)ni, 4);
  T->usince = calloc((size_t)nu, 8);
  T->isince = calloc((size_t)ni, 8);
  char *p = strchr(buf, '\n') + 1;
  int nusers = 0, nitems = 0;
  while (*p) {
    char kind[8], id[32], sec[16];
    int c;
    double wgt;
    long long since;
    int n = sscanf(p, "%7[^,],%31[^,],%d,%15[^,],%lf,%lld", kind, id, &c, sec, &wgt, &since);
    if (n != 6) { /* items have an empty secondary */
      n = sscanf(p, "%7[^,],%31[^,],%d,,%lf,%lld", kind, id, &c, &wgt, &since);
      ck_assert_int_eq(n, 5);
      sec[0] = 0;
    }
    int k = atoi(id + 1) - 1;
    if (strcmp(kind, "user") == 0) {
      T->uc[k] = c;
      T->uc2[k] = atoi(sec);
      T->usince[k] = since;
      nusers++;
    } else {
      ck_assert_str_eq(kind, "item");
      T->ic[k] = c;
      T->isince[k] = since;
      nitems++;
    }
    ck_assert(wgt > 0);
    p = strchr(p, '\n') + 1;
  }
  ck_assert_int_eq(nusers, nu);
  ck_assert_int_eq(nitems, ni);
  free(buf);
}

static void free_truth(truth *T) {
  free(T->uc);
  free(T->uc2);
  free(T->ic);
  free(T->usince);
  free(T->isince);
}

static uint32_t file_crc(const char *path) {
  size_t len;
  char *b = slurp(path, &len);
  uint32_t c = rp_crc32(0, b, len);
  free(b);
  return c;
}

typedef struct {
  char p[4][600];
} paths;

/* Small options writing NAME, NAME.items, NAME.users, NAME.truth (the
 * strings live in ps). */
static void small_opts(rp_gen_opts *o, paths *ps, const char *name) {
  rp_gen_opts_init(o);
  const char *base = rp_test_tmp(name);
  snprintf(ps->p[0], 600, "%s", base);
  snprintf(ps->p[1], 600, "%s.items", base);
  snprintf(ps->p[2], 600, "%s.users", base);
  snprintf(ps->p[3], 600, "%s.truth", base);
  o->path = ps->p[0];
  o->items_path = ps->p[1];
  o->users_path = ps->p[2];
  o->truth_path = ps->p[3];
  o->users = 400;
  o->items = 200;
  o->events = 30000;
  o->clusters = 8;
}

static void gen_ok(const rp_gen_opts *o, rp_gen_report *rep) {
  rp_err err;
  int rc = rp_gen_events(o, rep, &err);
  ck_assert_msg(rc == RP_OK, "%s", err.msg);
}

/* ---- options and dates --------------------------------------------------------- */
START_TEST(options_checked) {
  rp_gen_opts o;
  rp_err err;
#define BAD(stmt, want)                                                             \
  do {                                                                              \
    rp_gen_opts_init(&o);                                                           \
    o.path = "/tmp/x.csv";                                                          \
    stmt;                                                                           \
    ck_assert_int_eq(rp_gen_check(&o, &err), RP_EINVAL);                            \
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want); \
  } while (0)
  BAD(o.path = NULL, "'path' is required");
  BAD(o.users = 0, "gen: users must be an integer in 1..1000000000, got 0");
  BAD(o.items = -5, "items must");
  BAD(o.clusters = 600, "'clusters' (600) must not exceed 'items' (500)");
  BAD(o.events = -1, "events must be an integer >= 0, got -1");
  BAD(o.days = 0, "days must");
  BAD(o.start = -1, "start must be Unix seconds");
  BAD(o.affinity = 1.5, "affinity must be a number in [0, 1], got 1.5");
  BAD((o.affinity = 0.9, o.secondary = 0.2), "'affinity' + 'secondary' must be <= 1");
  BAD(o.session = 0.5, "session must");
  BAD(o.popularity = NAN, "popularity must");
  BAD(o.new_items = 2, "new_items must");
  BAD(o.gzip_level = 10, "gzip_level must be an integer in 1..9, got 10");
  BAD(o.time_format = 2, "time_format must be one of 'unix', 'iso', got 2");
  BAD(o.start = 253402300799LL, "'start' must be between 1970 and 9999");
  rp_gen_opts_init(&o);
  o.path = "/tmp/x.csv";
  ck_assert_int_eq(rp_gen_check(&o, &err), RP_OK);
  /* the defaults are the descriptors' (what rp.gen.options() shows) */
  ck_assert_int_eq(o.users, (int32_t)rp_opts_find(rp_gen_optdesc, "users")->def);
  ck_assert_int_eq(o.start, 1704067200); /* 2024-01-01 00:00:00 UTC */
  ck_assert(o.affinity == rp_opts_find(rp_gen_optdesc, "affinity")->def);
  ck_assert_int_eq(o.clusters, 0);
  ck_assert_int_eq(o.shift_at, -1);
#undef BAD
}
END_TEST

START_TEST(dates) {
  char buf[24];
  ck_assert_int_eq(rp_gen_format_time(0, 0, buf), 19);
  ck_assert_str_eq(buf, "1970-01-01 00:00:00");
  rp_gen_format_time(951868799, 0, buf);
  ck_assert_str_eq(buf, "2000-02-29 23:59:59");
  ck_assert_int_eq(rp_gen_format_time(1704067200, 1, buf), 10);
  ck_assert_str_eq(buf, "2024-01-01");
  rp_gen_format_time(-1, 0, buf);
  ck_assert_str_eq(buf, "1969-12-31 23:59:59");
  /* round trip through the io module's ISO 8601 parser over 400 years (a
   * full Gregorian cycle) in odd steps */
  for (int64_t x = 0; x < 400LL * 366 * 86400; x += 86400 * 37 + 3601) {
    int64_t t;
    rp_gen_format_time(x, 0, buf);
    ck_assert_int_eq(rp_parse_iso8601(buf, 19, &t), RP_PARSE_OK);
    ck_assert_int_eq(t, x);
  }
}
END_TEST

/* ---- sizes, order, report ----------------------------------------------------------- */
START_TEST(exact_and_ordered) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "basic.csv");
  rp_gen_report rep;
  gen_ok(&o, &rep);
  logdata L;
  load_log(o.path, &L);
  ck_assert_str_eq(L.header, "user_id,item_id,event,timestamp,device,country");
  ck_assert_int_eq(L.n, o.events);
  ck_assert_int_eq(rep.events, o.events);
  ck_assert_int_eq(rep.views + rep.carts + rep.purchases, rep.events);
  ck_assert_int_eq(rep.clusters, 8);
  int64_t counts[3] = {0, 0, 0};
  char *useen = calloc((size_t)o.users, 1), *iseen = calloc((size_t)o.items, 1);
  int32_t nu = 0, ni = 0;
  for (int64_t k = 0; k < L.n; k++) {
    ck_assert(L.user[k] >= 0 && L.user[k] < o.users);
    ck_assert(L.item[k] >= 0 && L.item[k] < o.items);
    ck_assert(L.t[k] >= o.start && L.t[k] < o.start + o.days * 86400LL);
    if (k) ck_assert(L.t[k] >= L.t[k - 1]);
    counts[L.ev[k]]++;
    if (!useen[L.user[k]]) useen[L.user[k]] = 1, nu++;
    if (!iseen[L.item[k]]) iseen[L.item[k]] = 1, ni++;
  }
  ck_assert_int_eq(counts[0], rep.views);
  ck_assert_int_eq(counts[1], rep.carts);
  ck_assert_int_eq(counts[2], rep.purchases);
  ck_assert_int_eq(nu, o.users); /* events >= users: everyone is in the log */
  ck_assert_int_eq(nu, rep.users);
  ck_assert_int_eq(ni, rep.items);
  ck_assert_int_eq(L.t[0], rep.tmin);
  ck_assert_int_eq(L.t[L.n - 1], rep.tmax);
  /* the funnel: a view comes first; add-to-cart is well below views,
   * purchases below carts */
  ck_assert(rep.carts > rep.views / 30 && rep.carts < rep.views / 4);
  ck_assert(rep.purchases > rep.carts / 4 && rep.purchases < rep.carts);
  free(useen);
  free(iseen);
  free_log(&L);
}
END_TEST

START_TEST(funnel_order) {
  /* every add-to-cart follows a view of the same (user, item), every
   * purchase an add-to-cart of it */
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "funnel.csv");
  o.users = 60;
  o.items = 40;
  o.events = 5000;
  o.clusters = 4;
  gen_ok(&o, NULL);
  logdata L;
  load_log(o.path, &L);
  uint8_t *state = calloc((size_t)o.users * (size_t)o.items, 1); /* bit 0 viewed, 1 carted */
  int64_t carts = 0, buys = 0;
  for (int64_t k = 0; k < L.n; k++) {
    uint8_t *s = &state[(size_t)L.user[k] * (size_t)o.items + (size_t)L.item[k]];
    if (L.ev[k] == 0) *s |= 1;
    if (L.ev[k] == 1) {
      ck_assert_msg(*s & 1, "add-to-cart before a view at row %lld", (long long)k);
      *s |= 2;
      carts++;
    }
    if (L.ev[k] == 2) {
      ck_assert_msg(*s & 2, "purchase before add-to-cart at row %lld", (long long)k);
      buys++;
    }
  }
  ck_assert(carts > 0 && buys > 0);
  free(state);
  free_log(&L);
}
END_TEST

START_TEST(few_events) {
  rp_gen_opts o;
  paths ps;
  rp_gen_report rep;
  small_opts(&o, &ps, "few.csv");
  o.events = 0;
  gen_ok(&o, &rep);
  logdata L;
  load_log(o.path, &L);
  ck_assert_int_eq(L.n, 0);
  ck_assert_int_eq(rep.users, 0);
  free_log(&L);
  o.events = 57; /* fewer events than users */
  gen_ok(&o, &rep);
  load_log(o.path, &L);
  ck_assert_int_eq(L.n, 57);
  ck_assert_int_eq(rep.events, 57);
  free_log(&L);
  o.users = 1;
  o.items = 1;
  o.clusters = 1;
  o.events = 500;
  gen_ok(&o, &rep);
  ck_assert_int_eq(rep.events, 500);
  ck_assert_int_eq(rep.users, 1);
  ck_assert_int_eq(rep.items, 1);
}
END_TEST

/* ---- determinism ------------------------------------------------------------------- */
START_TEST(same_seed_same_bytes) {
  rp_gen_opts a, b;
  paths pa, pb;
  small_opts(&a, &pa, "det_a.csv");
  small_opts(&b, &pb, "det_b.csv");
  gen_ok(&a, NULL);
  gen_ok(&b, NULL);
  ck_assert_uint_eq(file_crc(a.path), file_crc(b.path));
  ck_assert_uint_eq(file_crc(a.items_path), file_crc(b.items_path));
  ck_assert_uint_eq(file_crc(a.users_path), file_crc(b.users_path));
  ck_assert_uint_eq(file_crc(a.truth_path), file_crc(b.truth_path));
  /* gzip by extension: the same text */
  char gz[512];
  snprintf(gz, sizeof gz, "%s", rp_test_tmp("det.csv.gz"));
  a.path = gz;
  a.items_path = a.users_path = a.truth_path = NULL;
  gen_ok(&a, NULL);
  FILE *f = fopen(gz, "rb");
  unsigned char magic[2];
  ck_assert_int_eq(fread(magic, 1, 2, f), 2);
  fclose(f);
  ck_assert(magic[0] == 0x1f && magic[1] == 0x8b);
  ck_assert_uint_eq(file_crc(gz), file_crc(b.path)); /* file_crc reads through gzip */
  /* another seed, other bytes */
  a.path = pa.p[0];
  a.seed = 43;
  gen_ok(&a, NULL);
  ck_assert_uint_ne(file_crc(a.path), file_crc(b.path));
}
END_TEST

START_TEST(iso_times_match_unix) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "unix.csv");
  o.items_path = o.users_path = o.truth_path = NULL;
  o.events = 3000;
  gen_ok(&o, NULL);
  logdata A, B;
  load_log(o.path, &A);
  o.path = rp_test_tmp("iso.csv");
  o.time_format = RP_GEN_TIME_ISO;
  gen_ok(&o, NULL);
  load_log(o.path, &B);
  ck_assert_int_eq(A.n, B.n);
  for (int64_t k = 0; k < A.n; k++) {
    ck_assert_int_eq(A.t[k], B.t[k]);
    ck_assert_int_eq(A.item[k], B.item[k]);
  }
  free_log(&A);
  free_log(&B);
}
END_TEST

/* ---- the planted structure ------------------------------------------------------------ */
/* share of events whose item is in the user's main cluster */
static double own_share(const rp_gen_opts *o, const logdata *L, const truth *T) {
  int64_t own = 0;
  for (int64_t k = 0; k < L->n; k++) own += T->uc[L->user[k]] == T->ic[L->item[k]];
  (void)o;
  return (double)own / (double)L->n;
}

START_TEST(clusters_planted) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "clusters.csv");
  gen_ok(&o, NULL);
  logdata L;
  truth T;
  load_log(o.path, &L);
  load_truth(o.truth_path, o.users, o.items, &T);
  double s = own_share(&o, &L, &T);
  /* views: 0.7 own + a little from global draws; carts and purchases favour
   * the own cluster */
  ck_assert_msg(s > 0.68 && s < 0.85, "own-cluster share %g", s);
  int64_t sec = 0;
  for (int64_t k = 0; k < L.n; k++) sec += T.uc2[L.user[k]] == T.ic[L.item[k]];
  double ss = (double)sec / (double)L.n;
  ck_assert_msg(ss > 0.1 && ss < 0.25, "second-cluster share %g", ss);
  free_log(&L);
  free_truth(&T);
  /* without affinity the share drops to about what the cluster's size gives */
  o.affinity = 0;
  o.secondary = 0;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  load_truth(o.truth_path, o.users, o.items, &T);
  s = own_share(&o, &L, &T);
  ck_assert_msg(s < 0.3, "own-cluster share without affinity %g", s);
  free_log(&L);
  free_truth(&T);
}
END_TEST

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x < y) - (x > y);
}

/* share of events on the top 10% of items */
static double top_share(const rp_gen_opts *o, const logdata *L) {
  int64_t *c = calloc((size_t)o->items, 8);
  for (int64_t k = 0; k < L->n; k++) c[L->item[k]]++;
  qsort(c, (size_t)o->items, 8, cmp_desc);
  int64_t top = 0;
  for (int32_t i = 0; i < o->items / 10; i++) top += c[i];
  free(c);
  return (double)top / (double)L->n;
}

START_TEST(popularity_skew) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "pop.csv");
  o.items_path = o.users_path = o.truth_path = NULL;
  o.items = 2000; /* 250 an average cluster: users do not exhaust their cluster */
  logdata L;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  double zipf = top_share(&o, &L);
  free_log(&L);
  o.popularity = 0;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  double flat = top_share(&o, &L);
  free_log(&L);
  /* Zipf(1.2) within clusters of ~250: the top 25 of a cluster hold 0.75 of
   * its mass; users exploring beyond what they saw flatten that a little */
  ck_assert_msg(zipf > 0.45 && zipf < 0.8, "top-10%% share %g", zipf);
  ck_assert_msg(flat < 0.22, "top-10%% share without popularity %g", flat);
  ck_assert_msg(zipf > 2.5 * flat, "top-10%% share %g vs %g without popularity", zipf, flat);
}
END_TEST

/* distinct (user, item) pairs */
static int64_t pair_count(const rp_gen_opts *o, const logdata *L) {
  uint8_t *c = calloc((size_t)o->users * (size_t)o->items, 1);
  int64_t pairs = 0;
  for (int64_t k = 0; k < L->n; k++) {
    uint8_t *x = &c[(size_t)L->user[k] * (size_t)o->items + (size_t)L->item[k]];
    pairs += !*x;
    *x = 1;
  }
  free(c);
  return pairs;
}

START_TEST(revisits) {
  rp_gen_opts o;
  paths ps;
  rp_gen_report rep;
  small_opts(&o, &ps, "revisit.csv");
  o.items_path = o.users_path = o.truth_path = NULL;
  o.events = 60000;
  logdata L;
  o.revisit = 0.05;
  gen_ok(&o, &rep);
  load_log(o.path, &L);
  int64_t low = pair_count(&o, &L);
  ck_assert_int_eq(low, rep.pairs);
  free_log(&L);
  o.revisit = 1;
  gen_ok(&o, &rep);
  load_log(o.path, &L);
  int64_t high = pair_count(&o, &L);
  ck_assert_int_eq(high, rep.pairs);
  free_log(&L);
  /* users who rarely come back to what they saw spread over more items */
  ck_assert_msg(low > high * 1.2, "pairs %lld (revisit 0.05) vs %lld (1)", (long long)low,
                (long long)high);
}
END_TEST

static double log_count_sd(const rp_gen_opts *o, const logdata *L) {
  int64_t *c = calloc((size_t)o->users, 8);
  for (int64_t k = 0; k < L->n; k++) c[L->user[k]]++;
  double s = 0, s2 = 0;
  for (int32_t u = 0; u < o->users; u++) {
    double x = log((double)c[u]);
    s += x;
    s2 += x * x;
  }
  free(c);
  double m = s / o->users;
  return sqrt(s2 / o->users - m * m);
}

START_TEST(activity_lognormal) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "act.csv");
  o.items_path = o.users_path = o.truth_path = NULL;
  o.new_users = 0;
  o.events = 80000; /* 200 a user on average: rounding does not matter */
  logdata L;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  double sd = log_count_sd(&o, &L);
  free_log(&L);
  ck_assert_msg(sd > 0.85 && sd < 1.15, "sd of log activity %g (sigma 1)", sd);
  o.activity = 0;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  sd = log_count_sd(&o, &L);
  free_log(&L);
  ck_assert_msg(sd < 0.05, "sd of log activity %g (sigma 0)", sd);
}
END_TEST

/* largest ratio, over clusters, of the cluster's share in the last 60 days
 * to its share in the first 60 (shares of events by item cluster) */
static double drift_ratio(const rp_gen_opts *o, const logdata *L, const truth *T) {
  double first[64] = {0}, last[64] = {0}, nf = 0, nl = 0, worst = 1;
  int64_t end = o->start + o->days * 86400LL;
  for (int64_t k = 0; k < L->n; k++) {
    int c = T->ic[L->item[k]] - 1;
    if (L->t[k] < o->start + 60 * 86400) first[c]++, nf++;
    if (L->t[k] >= end - 60 * 86400) last[c]++, nl++;
  }
  for (int c = 0; c < o->clusters; c++) {
    double r = (last[c] / nl) / (first[c] / nf);
    if (r < 1) r = 1 / r;
    if (r > worst) worst = r;
  }
  return worst;
}

START_TEST(drift_over_time) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "drift.csv");
  o.new_users = o.new_items = 0;
  o.events = 100000;
  o.drift = 1.0;
  logdata L;
  truth T;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  load_truth(o.truth_path, o.users, o.items, &T);
  double moving = drift_ratio(&o, &L, &T);
  free_log(&L);
  free_truth(&T);
  o.drift = 0;
  gen_ok(&o, NULL);
  load_log(o.path, &L);
  load_truth(o.truth_path, o.users, o.items, &T);
  double still = drift_ratio(&o, &L, &T);
  free_log(&L);
  free_truth(&T);
  ck_assert_msg(moving > 1.6, "drift 1: largest share ratio %g", moving);
  ck_assert_msg(still < 1.35, "drift 0: largest share ratio %g", still);
}
END_TEST

START_TEST(joins_and_releases) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "release.csv");
  o.new_users = 0.5;
  o.new_items = 0.5;
  gen_ok(&o, NULL);
  logdata L;
  truth T;
  load_log(o.path, &L);
  load_truth(o.truth_path, o.users, o.items, &T);
  int late_users = 0, late_items = 0;
  for (int32_t u = 0; u < o.users; u++) late_users += T.usince[u] > o.start;
  for (int32_t i = 0; i < o.items; i++) late_items += T.isince[i] > o.start;
  ck_assert(late_users > o.users / 3 && late_users < 2 * o.users / 3);
  ck_assert(late_items > o.items / 3 && late_items < 2 * o.items / 3);
  for (int64_t k = 0; k < L.n; k++) {
    ck_assert_msg(L.t[k] >= T.usince[L.user[k]], "event of user %d before joining", L.user[k] + 1);
    ck_assert_msg(L.t[k] >= T.isince[L.item[k]], "event on item %d before release", L.item[k] + 1);
  }
  free_log(&L);
  free_truth(&T);
}
END_TEST

/* ---- attribute files ---------------------------------------------------------------- */
/* Accuracy of predicting the cluster from one column's value by majority
 * (column col of a CSV whose first column is the id "x17"). */
static double majority_accuracy(const char *path, int col, const int32_t *cluster, int n,
                                int nclusters) {
  size_t len;
  char *buf = slurp(path, &len);
  char *p = strchr(buf, '\n') + 1;
  enum { MAXV = 512 };
  char names[MAXV][32];
  int nv = 0, *tab = calloc((size_t)MAXV * (size_t)nclusters, sizeof(int)), rows = 0;
  while (*p) {
    char *nl = strchr(p, '\n'), *f = p;
    int id = atoi(p + 1) - 1, nf = 1;
    for (char *q = p; q < nl; q++)
      if (*q == ',') nf++;
    ck_assert_int_eq(nf, 7); /* no stray commas in any field */
    for (int k = 0; k < col; k++) f = strchr(f, ',') + 1;
    char *e = strchr(f, ',');
    if (!e || e > nl) e = nl;
    char v[32];
    snprintf(v, sizeof v, "%.*s", (int)(e - f), f);
    int j = 0;
    while (j < nv && strcmp(names[j], v) != 0) j++;
    if (j == nv) snprintf(names[nv++], 32, "%s", v);
    ck_assert_int_lt(nv, MAXV);
    tab[j * nclusters + cluster[id] - 1]++;
    rows++;
    p = nl + 1;
  }
  ck_assert_int_eq(rows, n);
  int hit = 0;
  for (int j = 0; j < nv; j++) {
    int best = 0;
    for (int c = 0; c < nclusters; c++)
      if (tab[j * nclusters + c] > best) best = tab[j * nclusters + c];
    hit += best;
  }
  free(tab);
  free(buf);
  return (double)hit / n;
}

START_TEST(attributes_follow_clusters) {
  rp_gen_opts o;
  paths ps;
  small_opts(&o, &ps, "attrs.csv");
  o.items = 1000;
  o.users = 2000;
  gen_ok(&o, NULL);
  truth T;
  load_truth(o.truth_path, o.users, o.items, &T);
  size_t len;
  char *head = slurp(o.items_path, &len);
  ck_assert(strncmp(head, "item_id,category,brand,price_band,price,title,released\n", 55) == 0);
  free(head);
  head = slurp(o.users_path, &len);
  ck_assert(strncmp(head, "user_id,age,age_band,gender,country,occupation,signup\n", 54) == 0);
  free(head);
  double cat = majority_accuracy(o.items_path, 1, T.ic, o.items, 8);
  double brand = majority_accuracy(o.items_path, 2, T.ic, o.items, 8);
  double age = majority_accuracy(o.users_path, 2, T.uc, o.users, 8);
  double occ = majority_accuracy(o.users_path, 5, T.uc, o.users, 8);
  /* 8 clusters: a column that knew nothing would score about the largest
   * cluster's share (~0.2) */
  ck_assert_msg(cat > 0.75, "category -> cluster accuracy %g", cat);
  ck_assert_msg(brand > 0.8, "brand -> cluster accuracy %g", brand);
  ck_assert_msg(age > 0.25, "age band -> cluster accuracy %g", age);
  ck_assert_msg(occ > 0.25, "occupation -> cluster accuracy %g", occ);
  free_truth(&T);
}
END_TEST

/* ---- taste shift ---------------------------------------------------------------------- */
/* The text of the events file before the first line with time >= at. */
static char *prefix_before(const char *path, int64_t at, size_t *len) {
  size_t n;
  char *buf = slurp(path, &n);
  char *p = strchr(buf, '\n') + 1;
  while (*p) {
    char *f = p;
    for (int c = 0; c < 3; c++) f = strchr(f, ',') + 1;
    if (strtoll(f, NULL, 10) >= at) break;
    p = strchr(p, '\n') + 1;
  }
  *len = (size_t)(p - buf);
  return buf;
}

START_TEST(taste_shift) {
  rp_gen_opts o;
  rp_err err;
  rp_gen_opts_init(&o);
  o.path = "/tmp/x.csv";
  o.shift_at = o.start - 1;
  ck_assert_int_eq(rp_gen_check(&o, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg,
                       "'shift.at' must be inside the period [2024-01-01 00:00:00, "
                       "2024-06-29 00:00:00), got 2023-12-31 23:59:59") != NULL,
                "%s", err.msg);
  o.shift_at = o.start + 180 * 86400LL;
  ck_assert_int_eq(rp_gen_check(&o, &err), RP_EINVAL);
  o.shift_at = o.start;
  o.shift_users = 1.5;
  ck_assert_int_eq(rp_gen_check(&o, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'shift.users' must be in [0, 1], got 1.5") != NULL, "%s", err.msg);
  o.shift_users = 0.5, o.shift_tilt = -1;
  ck_assert_int_eq(rp_gen_check(&o, &err), RP_EINVAL);
  ck_assert_msg(strstr(err.msg, "'shift.tilt'") != NULL, "%s", err.msg);

  /* the same log with and without a shift in the middle */
  paths pa, pb;
  rp_gen_opts a, b;
  small_opts(&a, &pa, "noshift.csv");
  small_opts(&b, &pb, "shift.csv");
  a.days = b.days = 60;
  b.shift_at = b.start + 30 * 86400LL + 43200;
  rp_gen_report ra, rb;
  gen_ok(&a, &ra);
  gen_ok(&b, &rb);
  ck_assert_int_eq(ra.events, rb.events);
  size_t la, lb;
  char *ta = prefix_before(a.path, b.shift_at, &la), *tb = prefix_before(b.path, b.shift_at, &lb);
  ck_assert_int_gt(la, 1000);
  ck_assert_int_eq(la, lb);
  ck_assert(memcmp(ta, tb, la) == 0); /* nothing before the shift changed */
  ck_assert(strcmp(ta + la, tb + lb) != 0);
  free(ta);
  free(tb);
  /* truth: the old rows, then user_shift and item_shift rows */
  ta = slurp(a.truth_path, &la);
  tb = slurp(b.truth_path, &lb);
  ck_assert(lb > la && memcmp(ta, tb, la) == 0);
  int32_t *newc = calloc((size_t)b.users, 4); /* 1-based new cluster, 0 = unchanged */
  double *w0 = calloc((size_t)b.items, 8), *w1 = calloc((size_t)b.items, 8);
  int32_t *ic = calloc((size_t)b.items, 4), *oldc = calloc((size_t)b.users, 4);
  int moved = 0, reranked = 0;
  for (char *p = tb + strlen("kind,id,cluster,secondary,weight,since\n"); *p;
       p = strchr(p, '\n') + 1) {
    char kind[16];
    int id, c;
    double wgt;
    long long since;
    if (sscanf(p, "%15[a-z_],u%d,%d,%*d,%lf,%lld", kind, &id, &c, &wgt, &since) == 5) {
      if (strcmp(kind, "user") == 0) oldc[id - 1] = c;
      if (strcmp(kind, "user_shift") == 0) {
        ck_assert_int_eq(since, b.shift_at);
        ck_assert_int_ne(c, oldc[id - 1]); /* a moved user really moves */
        newc[id - 1] = c;
        moved++;
      }
    } else {
      ck_assert_int_eq(sscanf(p, "%15[a-z_],i%d,%d,,%lf,%lld", kind, &id, &c, &wgt, &since), 5);
      ic[id - 1] = c;
      if (strcmp(kind, "item") == 0) w0[id - 1] = w1[id - 1] = wgt;
      if (strcmp(kind, "item_shift") == 0) w1[id - 1] = wgt, reranked++;
    }
  }
  /* 400 users at 0.5: 200 expected, sd 10 */
  ck_assert_msg(moved > 160 && moved < 240, "%d users moved", moved);
  ck_assert_msg(reranked > 60 && reranked < 140, "%d items re-ranked", reranked);
  /* re-ranking permutes weights within a cluster: the sums stay */
  for (int c = 1; c <= 8; c++) {
    double s0 = 0, s1 = 0;
    for (int32_t i = 0; i < b.items; i++)
      if (ic[i] == c) s0 += w0[i], s1 += w1[i];
    ck_assert_msg(fabs(s0 - s1) < 1e-4 * s0, "cluster %d: %g vs %g", c, s0, s1);
  }
  /* behaviour: after the shift a moved user views its new cluster most,
   * and items whose weight rose gain views against those whose fell */
  logdata L;
  load_log(b.path, &L);
  int64_t own_new = 0, own_old = 0, views = 0;
  double up[2] = {0, 0}, down[2] = {0, 0};
  for (int64_t k = 0; k < L.n; k++) {
    if (L.ev[k] != 0) continue;
    int after = L.t[k] >= b.shift_at;
    int32_t u = L.user[k], i = L.item[k];
    if (after && newc[u]) {
      views++;
      own_new += ic[i] == newc[u];
      own_old += ic[i] == oldc[u];
    }
    if (w1[i] > w0[i]) up[after]++;
    if (w1[i] < w0[i]) down[after]++;
  }
  ck_assert_int_gt(views, 1000);
  ck_assert_msg(own_new > views / 2 && own_old < views / 4, "%lld new, %lld old of %lld",
                (long long)own_new, (long long)own_old, (long long)views);
  ck_assert_msg(up[1] / down[1] > 2 * (up[0] / down[0]), "up %g/%g down %g/%g", up[0], up[1],
                down[0], down[1]);
  free_log(&L);
  free(newc);
  free(oldc);
  free(w0);
  free(w1);
  free(ic);
  free(ta);
  free(tb);
}
END_TEST

/* ---- failure paths ------------------------------------------------------------------- */
static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

START_TEST(bad_path_writes_nothing) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", rp_test_tmp("baddir"));
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  char items[600], events[600];
  snprintf(items, sizeof items, "%s/items.csv", dir);
  snprintf(events, sizeof events, "%s/missing/events.csv", dir);
  rp_gen_opts o;
  rp_gen_opts_init(&o);
  o.path = events;
  o.items_path = items;
  o.events = 100;
  rp_err err;
  ck_assert_int_eq(rp_gen_events(&o, NULL, &err), RP_EIO);
  ck_assert_msg(strstr(err.msg, events) != NULL, "%s", err.msg);
  ck_assert_int_eq(count_files(dir), 0); /* the items file was not committed */
}
END_TEST

static int gen_small_rc;
static int gen_small(const char *dir) {
  char p[4][600];
  snprintf(p[0], 600, "%s/e.csv.gz", dir);
  snprintf(p[1], 600, "%s/i.csv", dir);
  snprintf(p[2], 600, "%s/u.csv", dir);
  snprintf(p[3], 600, "%s/t.csv", dir);
  rp_gen_opts o;
  rp_gen_opts_init(&o);
  o.path = p[0], o.items_path = p[1], o.users_path = p[2], o.truth_path = p[3];
  o.users = 30;
  o.items = 20;
  o.clusters = 3;
  o.events = 400;
  o.shift_at = o.start + 90 * 86400LL; /* the shift's tables too */
  rp_err err;
  return gen_small_rc = rp_gen_events(&o, NULL, &err);
}

START_TEST(fault_loop) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", rp_test_tmp("fault"));
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  RP_FAULT_LOOP(gen_small(dir) ? gen_small_rc : count_files(dir) - 4);
  /* a failing run leaves the last good files as they were */
  char e[600];
  snprintf(e, sizeof e, "%s/e.csv.gz", dir);
  uint32_t before = file_crc(e);
  for (long n = 1; n < 30; n++) {
    rp_mem_fail_after(n);
    int rc = gen_small(dir);
    rp_mem_fail_after(0);
    ck_assert(rc == RP_OK || rc == RP_ENOMEM);
    ck_assert_int_eq(count_files(dir), 4);
    ck_assert_uint_eq(file_crc(e), before);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gen");
  TCase *tc = tcase_create("gen");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, options_checked);
  tcase_add_test(tc, dates);
  tcase_add_test(tc, exact_and_ordered);
  tcase_add_test(tc, funnel_order);
  tcase_add_test(tc, few_events);
  tcase_add_test(tc, same_seed_same_bytes);
  tcase_add_test(tc, iso_times_match_unix);
  tcase_add_test(tc, clusters_planted);
  tcase_add_test(tc, popularity_skew);
  tcase_add_test(tc, revisits);
  tcase_add_test(tc, activity_lognormal);
  tcase_add_test(tc, drift_over_time);
  tcase_add_test(tc, joins_and_releases);
  tcase_add_test(tc, attributes_follow_clusters);
  tcase_add_test(tc, taste_shift);
  tcase_add_test(tc, bad_path_writes_nothing);
  tcase_add_test(tc, fault_loop);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
