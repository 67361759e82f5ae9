/*
 * fuzz_attrs.c -- the attribute reader (rp_attr_read), plain and gzip.
 *
 * Option bytes, then the file:
 *   0  bits 0-2 separator: detect, ",", "\t", ";", "|", "::", "ab", the
 *      byte 3; bit 3 header, bit 4 on_error = skip, bit 5 tfidf, bit 6
 *      normalize, bit 7 rows aligned to a given map
 *   1  bit 0 extend, bits 1-2 min_df, bits 3-4 id column (default "id",
 *      a position, a name from `names`), bits 5-7 its position or name
 *   2  bits 0-1 fields - 1, bits 2-3 names given for a header-less file,
 *      bit 4 gzip the file (level 1), bit 5 then cut it short by 1-8 bytes
 *   3  the separator byte (when bits 0-2 of byte 0 are 7)
 *   then two bytes per field:
 *      a: bits 0-2 kind (cat, multi, buckets, tokens, flags; 5-7: cat),
 *         bits 3-5 its column's name in `names` (flags: the first flag
 *         column), bit 6 lower, bit 7 weight 2.5
 *      b: bits 0-1 value separator ("|", ",", " ", "::") or bucket bounds
 *         or flag columns - 1
 *
 * A result must be a valid matrix with one row per map id, its features
 * attributed to the fields asked for.
 */
#include "fuzz.h"
#include "hybrid.h"

#include <math.h>

static const char *const names[8] = {"id", "genre", "age", "title", "tags", "a", "b", ""};
static const char *const fnames[4] = {"f0", "f1", "f2", "f3"};

static void check_result(const rp_features *F, const rp_attr_report *rep, const rp_attr_opts *o) {
  rp_err verr;
  if (rp_csr_validate(F->m, &verr)) fz_fail("invalid feature matrix: %s", verr.msg);
  if (!F->m->rowmap || F->m->rowmap->n != F->m->nrows)
    fz_fail("rows (%d) do not follow the map", F->m->nrows);
  if (rep->features != F->m->ncols)
    fz_fail("report: %d features of %d", rep->features, F->m->ncols);
  if (F->nfields != o->nfields) fz_fail("%d fields of %d", F->nfields, o->nfields);
  for (int32_t j = 0; j < F->m->ncols; j++)
    if (F->field_of[j] < 0 || F->field_of[j] >= F->nfields)
      fz_fail("feature %d: field %d", j, F->field_of[j]);
  for (int64_t k = 0; k < F->m->nnz; k++)
    if (!isfinite(F->m->data[k])) fz_fail("value %lld not finite", (long long)k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_quiet();
  fz_in in = {data, size};
  unsigned b[4];
  for (int k = 0; k < 4; k++) b[k] = fz_byte(&in);
  static const char *const seps[] = {NULL, ",", "\t", ";", "|", "::", "ab"};
  char sep1[2] = {(char)b[3], 0};

  fz_mem mem;
  fz_mem_begin(&mem);
  rp_attr_opts o;
  rp_attr_opts_init(&o);
  o.sep = (b[0] & 7) == 7 ? sep1 : seps[b[0] & 7];
  o.header = (b[0] >> 3) & 1;
  o.on_error = (b[0] >> 4) & 1 ? RP_ONERR_SKIP : RP_ONERR_STOP;
  o.tfidf = (b[0] >> 5) & 1;
  o.normalize = (b[0] >> 6) & 1;
  rp_idmap *map = NULL;
  if ((b[0] >> 7) & 1) {
    map = rp_idmap_new(NULL);
    if (!map) fz_fail("rp_idmap_new failed");
    static const char *const ids[] = {"1", "2", "i1", "tt0114709"};
    for (int k = 0; k < 4; k++) {
      int32_t idx;
      if (rp_idmap_intern(map, ids[k], strlen(ids[k]), &idx, NULL)) fz_fail("intern failed");
    }
    o.map = map;
  }
  o.extend = b[1] & 1;
  o.min_df = (int32_t)((b[1] >> 1) & 3);
  unsigned idk = (b[1] >> 3) & 3, idv = (b[1] >> 5) & 7;
  if (idk == 1) o.id.name = NULL, o.id.pos = (int)idv + 1;
  if (idk == 2) o.id.name = names[idv];
  o.nfields = (int)(b[2] & 3) + 1;
  o.nnames = (int)((b[2] >> 2) & 3);
  o.names = names;
  for (int i = 0; i < o.nfields; i++) {
    unsigned fa = fz_byte(&in), fb = fz_byte(&in);
    rp_field_spec *fs = &o.fields[i];
    fs->name = fnames[i];
    fs->kind = (int)(fa & 7) < 5 ? (int)(fa & 7) : RP_FIELD_CAT;
    fs->column = names[(fa >> 3) & 7];
    fs->lower = (fa >> 6) & 1;
    fs->weight = (fa >> 7) & 1 ? 2.5f : 0;
    static const char *const vseps[] = {"|", ",", " ", "::"};
    static const double bounds[] = {0, 18, 25, 1e300};
    switch (fs->kind) {
      case RP_FIELD_MULTI:
        fs->sep = vseps[fb & 3];
        break;
      case RP_FIELD_BUCKETS:
        fs->nbuckets = (int)(fb & 3) + 1;
        for (int q = 0; q < fs->nbuckets; q++) fs->buckets[q] = bounds[q];
        break;
      case RP_FIELD_FLAGS:
        fs->nflags = (int)(fb & 3) + 1;
        for (int q = 0; q < fs->nflags; q++) fs->flags[q] = names[(((fa >> 3) & 7) + q) & 7];
        break;
    }
  }

  unsigned char *gz = NULL;
  size_t n = in.n;
  const void *file = in.p;
  if ((b[2] >> 4) & 1) {
    gz = fz_gzip(in.p, in.n, 1, &n);
    if ((b[2] >> 5) & 1) n = n > 1 + (in.n & 7) ? n - 1 - (in.n & 7) : 0;
    file = gz;
  }
  size_t real = fz_real_size(file, n);
  fz_file f;
  fz_file_open(&f, file, n);

  rp_features *F = NULL;
  rp_attr_report rep;
  rp_err err;
  err.msg[0] = 0;
  int rc = rp_attr_read(f.path, &o, &F, &rep, &err);
  fz_note("rp_attr_read", rc, err.msg);
  if (rc == RP_OK) {
    if (!F) fz_fail("RP_OK without a result");
    check_result(F, &rep, &o);
  } else {
    if (F) fz_fail("a result with status %d", rc);
    if (!err.msg[0]) fz_fail("status %d without a message", rc);
  }
  rp_features_free(F);
  rp_idmap_release(map);
  fz_file_close(&f);
  free(gz);
  fz_mem_end(&mem, "rp_attr_read", real);
  return 0;
}
