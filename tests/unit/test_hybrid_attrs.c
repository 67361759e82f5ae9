/* Check tests for the attribute reader and feature operations of the
 * hybrid core: field kinds, map alignment and counts, TF-IDF and
 * normalisation against hand-computed values, bad input, fault loops. */
#include <math.h>

#include "hybrid.h"
#include "rptest.h"

/* Value of feature `name` in the row of entity `id` (0 when absent). */
static double cell(const rp_features *f, const char *id, const char *name) {
  int32_t r = rp_idmap_find(f->m->rowmap, id, strlen(id));
  int32_t c = rp_idmap_find(f->m->colmap, name, strlen(name));
  if (r < 0 || c < 0 || r >= f->m->nrows) return 0;
  for (int64_t k = f->m->indptr[r]; k < f->m->indptr[r + 1]; k++)
    if (f->m->indices[k] == c) return (double)f->m->data[k];
  return 0;
}

static int32_t rowlen(const rp_features *f, const char *id) {
  int32_t r = rp_idmap_find(f->m->rowmap, id, strlen(id));
  return r < 0 ? -1 : (int32_t)rp_csr_rowlen(f->m, r);
}

static const char *ITEMS =
    "id,category,genres,price,title,bad\n"
    "i1,shoes,a|b,12,The Red Shoe,x\n"
    "i2,shoes,b,55,Blue shoe!,x\n"
    "i3,hats,,5,,x\n"
    "i9,hats,c,100,Green Hat,x\n";

static rp_idmap *map_of(const char *const *ids, int n) {
  rp_idmap *m = rp_idmap_new(NULL);
  for (int i = 0; i < n; i++) {
    int32_t j;
    ck_assert_int_eq(rp_idmap_intern(m, ids[i], strlen(ids[i]), &j, NULL), 0);
  }
  return m;
}

static void item_opts(rp_attr_opts *o, rp_idmap *map) {
  rp_attr_opts_init(o);
  o->map = map;
  o->nfields = 4;
  o->fields[0] = (rp_field_spec){.name = "category", .kind = RP_FIELD_CAT};
  o->fields[1] = (rp_field_spec){.name = "genres", .kind = RP_FIELD_MULTI, .sep = "|"};
  o->fields[2] = (rp_field_spec){.name = "price", .kind = RP_FIELD_BUCKETS, .nbuckets = 2};
  o->fields[2].buckets[0] = 10;
  o->fields[2].buckets[1] = 50;
  o->fields[3] = (rp_field_spec){.name = "title", .kind = RP_FIELD_TOKENS};
}

START_TEST(read_kinds_and_map) {
  const char *path = rp_test_tmp("items.csv");
  rp_test_write(path, ITEMS);
  const char *ids[] = {"i1", "i2", "i3", "i4"};
  rp_idmap *map = map_of(ids, 4);
  rp_attr_opts o;
  item_opts(&o, map);
  rp_features *f = NULL;
  rp_attr_report rep;
  rp_err err;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, &rep, &err), 0);
  ck_assert_int_eq(f->m->nrows, 4); /* aligned with the map, i9 not added */
  ck_assert_int_eq(map->n, 4);
  ck_assert_int_eq((int)rep.lines, 4);
  ck_assert_int_eq((int)rep.used, 3);
  ck_assert_int_eq((int)rep.unknown, 1);
  ck_assert_int_eq(rep.unknown_ids, 1);
  ck_assert_int_eq(rep.entities, 3);
  ck_assert_int_eq(rep.missing, 1);    /* i4 */
  ck_assert_int_eq((int)rep.empty, 2); /* i3 genres and title */
  ck_assert_int_eq(rep.nfirst, 1);
  ck_assert_ptr_nonnull(strstr(rep.first[0], "'i9' is not in the map"));
  ck_assert_ptr_nonnull(strstr(rep.first[0], ":5:"));
  ck_assert_double_eq_tol(cell(f, "i1", "category=shoes"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i1", "genres=a"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i1", "genres=b"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i1", "price=[10,50)"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i2", "price=>=50"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i3", "price=<10"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i1", "title=the"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i1", "title=shoe"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "i2", "title=shoe"), 1, 1e-6); /* lower-cased, punctuation gone */
  ck_assert_int_eq(rowlen(f, "i1"), 7);
  ck_assert_int_eq(rowlen(f, "i3"), 2);
  ck_assert_int_eq(rowlen(f, "i4"), 0);
  /* every feature knows its field */
  int32_t c = rp_idmap_find(f->m->colmap, "title=red", 9);
  ck_assert_int_ge(c, 0);
  ck_assert_str_eq(f->field_names[f->field_of[c]], "title");
  ck_assert_int_eq(rp_features_field(f, "genres"), 1);
  ck_assert_int_eq(rp_csr_validate(f->m, &err), 0);
  rp_features_free(f);
  /* extend: i9 joins the map */
  o.extend = 1;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, &rep, &err), 0);
  ck_assert_int_eq(map->n, 5);
  ck_assert_int_eq(rep.added, 1);
  ck_assert_int_eq((int)rep.unknown, 0);
  ck_assert_int_eq(f->m->nrows, 5);
  ck_assert_double_eq_tol(cell(f, "i9", "genres=c"), 1, 1e-6);
  rp_features_free(f);
  rp_idmap_release(map);
  /* no map: a new one from the file, in file order */
  o.map = NULL;
  o.extend = 0;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, &rep, &err), 0);
  ck_assert_int_eq(f->m->nrows, 4);
  ck_assert_int_eq(rp_idmap_find(f->m->rowmap, "i9", 2), 3);
  rp_features_free(f);
}
END_TEST

START_TEST(repeated_lines_add_and_flags) {
  /* tags: one line per tag, repeats count; flags: 0/1 columns, no header */
  const char *tags = rp_test_tmp("tags.csv");
  rp_test_write(tags, "user,movie,tag\n1,m1,Funny\n2,m1,funny\n3,m1,dark\n1,m2,DARK\n");
  rp_attr_opts o;
  rp_attr_opts_init(&o);
  o.id.name = "movie";
  o.nfields = 1;
  o.fields[0] = (rp_field_spec){.name = "tag", .kind = RP_FIELD_CAT, .lower = 1};
  rp_features *f;
  rp_err err;
  ck_assert_int_eq(rp_attr_read(tags, &o, &f, NULL, &err), 0);
  ck_assert_double_eq_tol(cell(f, "m1", "tag=funny"), 2, 1e-6);
  ck_assert_double_eq_tol(cell(f, "m1", "tag=dark"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "m2", "tag=dark"), 1, 1e-6);
  rp_features_free(f);
  const char *flags = rp_test_tmp("flags.txt");
  rp_test_write(flags, "1|Toy|0|1|1\n2|Gold|1|0|0\n3|None|0|0|0\n");
  const char *names[] = {"id", "title", "Action", "Comedy", "Kids"};
  rp_attr_opts_init(&o);
  o.header = 0;
  o.sep = "|";
  o.names = names;
  o.nnames = 5;
  o.nfields = 1;
  o.fields[0] = (rp_field_spec){.name = "genre", .kind = RP_FIELD_FLAGS, .nflags = 3};
  o.fields[0].flags[0] = "Action";
  o.fields[0].flags[1] = "Comedy";
  o.fields[0].flags[2] = "Kids";
  ck_assert_int_eq(rp_attr_read(flags, &o, &f, NULL, &err), 0);
  ck_assert_int_eq(f->m->nrows, 3);
  ck_assert_double_eq_tol(cell(f, "1", "genre=Comedy"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "1", "genre=Kids"), 1, 1e-6);
  ck_assert_double_eq_tol(cell(f, "2", "genre=Action"), 1, 1e-6);
  ck_assert_int_eq(rowlen(f, "3"), 0);
  rp_features_free(f);
  /* positions without names: columns are "1", "2", ... */
  o.names = NULL;
  o.nnames = 0;
  o.id.name = NULL;
  o.id.pos = 1;
  o.fields[0].flags[0] = "3";
  o.fields[0].flags[1] = "4";
  o.fields[0].flags[2] = "5";
  ck_assert_int_eq(rp_attr_read(flags, &o, &f, NULL, &err), 0);
  ck_assert_double_eq_tol(cell(f, "1", "genre=4"), 1, 1e-6);
  rp_features_free(f);
}
END_TEST

START_TEST(tfidf_normalize_prune) {
  /* 3 entities: A {x, y}, B {x}, C {x, z, z} */
  const char *path = rp_test_tmp("tf.csv");
  rp_test_write(path, "id,t\nA,x y\nB,x\nC,x z z\n");
  rp_attr_opts o;
  rp_attr_opts_init(&o);
  o.nfields = 1;
  o.fields[0] = (rp_field_spec){.name = "t", .kind = RP_FIELD_TOKENS};
  o.tfidf = 1;
  rp_features *f;
  rp_err err;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, NULL, &err), 0);
  /* idf = ln((1 + 3) / (1 + df)) + 1 */
  double idf_x = log(4.0 / 4.0) + 1, idf_y = log(4.0 / 2.0) + 1;
  ck_assert_double_eq_tol(cell(f, "A", "t=x"), idf_x, 1e-6);
  ck_assert_double_eq_tol(cell(f, "A", "t=y"), idf_y, 1e-6);
  ck_assert_double_eq_tol(cell(f, "C", "t=z"), 2 * idf_y, 1e-6);
  rp_features_free(f);
  o.normalize = 1;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, NULL, &err), 0);
  double n = sqrt(idf_x * idf_x + idf_y * idf_y);
  ck_assert_double_eq_tol(cell(f, "A", "t=x"), idf_x / n, 1e-6);
  ck_assert_double_eq_tol(cell(f, "B", "t=x"), 1, 1e-6);
  rp_features_free(f);
  /* min_df 2: only x survives */
  o.tfidf = 0;
  o.normalize = 0;
  o.min_df = 2;
  rp_attr_report rep;
  ck_assert_int_eq(rp_attr_read(path, &o, &f, &rep, &err), 0);
  ck_assert_int_eq(f->m->ncols, 1);
  ck_assert_int_eq(rep.dropped, 2);
  ck_assert_double_eq_tol(cell(f, "C", "t=x"), 1, 1e-6);
  ck_assert_int_eq(f->m->nnz, 3);
  ck_assert_int_eq(rp_csr_validate(f->m, &err), 0);
  rp_features_free(f);
}
END_TEST

START_TEST(combine_parts) {
  char a[512], b[512]; /* rp_test_tmp returns a static buffer */
  snprintf(a, sizeof a, "%s", rp_test_tmp("ca.csv"));
  snprintf(b, sizeof b, "%s", rp_test_tmp("cb.csv"));
  rp_test_write(a, "id,g\n1,x\n2,y\n");
  rp_test_write(b, "id,g,h\n2,y,k\n3,z,k\n");
  const char *ids[] = {"1", "2", "3"};
  rp_idmap *map = map_of(ids, 3);
  rp_attr_opts o;
  rp_attr_opts_init(&o);
  o.map = map;
  o.nfields = 1;
  o.fields[0] = (rp_field_spec){.name = "g", .kind = RP_FIELD_CAT};
  rp_features *fa, *fb, *fc;
  rp_err err;
  ck_assert_int_eq(rp_attr_read(a, &o, &fa, NULL, &err), 0);
  o.nfields = 2;
  o.fields[1] = (rp_field_spec){.name = "h", .kind = RP_FIELD_CAT};
  ck_assert_int_eq(rp_attr_read(b, &o, &fb, NULL, &err), 0);
  const rp_features *parts[] = {fa, fb};
  float w[] = {1, 0.5f};
  ck_assert_int_eq(rp_features_combine(parts, w, 2, 0, &fc, &err), 0);
  ck_assert_double_eq_tol(cell(fc, "2", "g=y"), 1.5, 1e-6); /* same name adds */
  ck_assert_double_eq_tol(cell(fc, "3", "h=k"), 0.5f, 1e-6);
  ck_assert_int_eq(fc->nfields, 2);
  int32_t c = rp_idmap_find(fc->m->colmap, "h=k", 3);
  ck_assert_str_eq(fc->field_names[fc->field_of[c]], "h");
  rp_features_free(fc);
  RP_FAULT_LOOP((rp_features_combine(parts, w, 2, 1, &fc, NULL) ? 1 : (rp_features_free(fc), 0)));
  /* another map is refused */
  rp_features *fd;
  o.map = NULL;
  ck_assert_int_eq(rp_attr_read(a, &o, &fd, NULL, &err) != 0, 1); /* a has no column h */
  o.nfields = 1;
  ck_assert_int_eq(rp_attr_read(a, &o, &fd, NULL, &err), 0);
  const rp_features *bad[] = {fa, fd};
  ck_assert_int_eq(rp_features_combine(bad, NULL, 2, 0, &fc, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "another id map"));
  rp_features_free(fa);
  rp_features_free(fb);
  rp_features_free(fd);
  rp_idmap_release(map);
}
END_TEST

START_TEST(bad_input) {
  rp_attr_opts o;
  item_opts(&o, NULL);
  rp_features *f = NULL;
  rp_attr_report rep;
  rp_err err;
  const char *p = rp_test_tmp("bad.csv");
  /* a field missing from the header: the error lists the columns */
  rp_test_write(p, "id,category,genres,title\ni1,a,b,c\n");
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "field column 'price' not found in the header"));
  ck_assert_ptr_nonnull(strstr(err.msg, "id, category, genres, title"));
  ck_assert_ptr_null(f);
  /* the id column missing */
  rp_test_write(p, "key,category,genres,price,title\n");
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "id column 'id' not found"));
  /* malformed lines: stop names file and line; skip counts them */
  rp_test_write(p,
                "id,category,genres,price,title\n"
                "i1,a,b,1,t\n"
                "i2,a,b,1\n"
                "i3,a,b,cheap,t\n"
                ",a,b,1,t\n"
                "\"i4\"x,a,b,1,t\n"
                "i5,a,b,2,t\n");
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EPARSE);
  ck_assert_ptr_nonnull(strstr(err.msg, "bad.csv:3: expected 5 fields, found 4"));
  o.on_error = RP_ONERR_SKIP;
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), 0);
  ck_assert_int_eq((int)rep.skipped, 4);
  ck_assert_int_eq((int)rep.used, 2);
  ck_assert_int_eq(rep.nfirst, 4);
  ck_assert_ptr_nonnull(strstr(rep.first[1], ":4: field 'price': 'cheap' is not a number"));
  ck_assert_ptr_nonnull(strstr(rep.first[2], ":5: empty id"));
  ck_assert_ptr_nonnull(strstr(rep.first[3], ":6: text after a closing quote"));
  /* a skipped line adds nothing, not even its valid fields */
  ck_assert_int_eq(f->m->nrows, 2);
  rp_features_free(f);
  /* empty file, missing file */
  rp_test_write(p, "");
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EPARSE);
  ck_assert_ptr_nonnull(strstr(err.msg, "empty file"));
  ck_assert_int_ne(rp_attr_read(rp_test_tmp("nope.csv"), &o, &f, &rep, &err), 0);
  ck_assert_ptr_nonnull(strstr(err.msg, "nope.csv"));
  /* bad options */
  o.fields[2].buckets[1] = 5; /* not ascending */
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "ascending"));
  item_opts(&o, NULL);
  o.fields[1].sep = "";
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  item_opts(&o, NULL);
  o.fields[1].name = "category";
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
  o.nfields = 0;
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  /* more names than columns */
  rp_test_write(p, "1|a\n");
  const char *names[] = {"id", "x", "y"};
  rp_attr_opts_init(&o);
  o.header = 0;
  o.names = names;
  o.nnames = 3;
  o.nfields = 1;
  o.fields[0] = (rp_field_spec){.name = "x", .kind = RP_FIELD_CAT};
  ck_assert_int_eq(rp_attr_read(p, &o, &f, &rep, &err), RP_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "3 column names given, the file has 2 columns"));
}
END_TEST

static int read_free(const char *path, rp_attr_opts *o) {
  rp_features *f = NULL;
  int rc = rp_attr_read(path, o, &f, NULL, NULL);
  rp_features_free(f);
  return rc;
}

START_TEST(fault_loops) {
  const char *path = rp_test_tmp("items_fault.csv");
  rp_test_write(path, ITEMS);
  const char *ids[] = {"i1", "i2", "i3", "i4"};
  rp_idmap *map = map_of(ids, 4);
  rp_attr_opts o;
  item_opts(&o, map);
  o.tfidf = 1;
  o.normalize = 1;
  o.min_df = 1;
  RP_FAULT_LOOP(read_free(path, &o));
  o.min_df = 2;
  RP_FAULT_LOOP(read_free(path, &o));
  o.map = NULL;
  RP_FAULT_LOOP(read_free(path, &o));
  rp_idmap_release(map);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("hybrid_attrs");
  TCase *tc = tcase_create("attrs");
  tcase_add_test(tc, read_kinds_and_map);
  tcase_add_test(tc, repeated_lines_add_and_flags);
  tcase_add_test(tc, tfidf_normalize_prune);
  tcase_add_test(tc, combine_parts);
  tcase_add_test(tc, bad_input);
  tcase_add_test(tc, fault_loops);
  suite_add_tcase(s, tc);
  return s;
}

RP_TEST_MAIN(suite)
