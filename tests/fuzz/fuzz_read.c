/*
 * fuzz_read.c -- the event reader (rp_io_read_events), plain and gzip.
 *
 * Option bytes, then the file:
 *   0  bits 0-2 separator: detect, ",", "\t", ";", "::", "|", "ab", byte 8
 *      bit 3 header, bit 4 on_error = skip, bit 5 unknown = drop,
 *      bits 6-7 the file: as given (gzip when it starts with 1f 8b),
 *      gzip level 1 of the rest, gzip level 9, gzip cut short by 1-8 bytes
 *   1-5  user, item, value, time, event column (colref below)
 *   6  bits 0-2 context columns (0-7, one colref byte each, after byte 8),
 *      bits 3-4 time unit (auto, s, ms, invalid), bit 5 event weights,
 *      bit 6 read onto given maps, bit 7 users and items share one map
 *   7  bits 0-1 threads - 1, bits 2-7 block size (0: default 2 MiB,
 *      63: 4 KiB, else 3 x value bytes)
 *   8  the separator byte (when bits 0-2 of byte 0 are 7)
 * A colref byte: bits 0-1 kind (0, 3 absent, 1 position, 2 name), bits 2-4
 * the position - 1 or the name's index in `names`.
 *
 * On success the result must be consistent: indices within their maps,
 * one report line per row kept, skipped or dropped, finite values.
 */
#include "fuzz.h"
#include "reader.h"

#include <math.h>

static const char *const names[8] = {"user", "item", "value", "time", "event", "ctx", "x", ""};

static void colref(unsigned b, rp_io_colref *c) {
  c->name = NULL;
  c->pos = 0;
  unsigned k = (b >> 2) & 7;
  if ((b & 3) == 1) c->pos = (int)k + 1;
  if ((b & 3) == 2) c->name = names[k];
}

static void check_map(const rp_idmap *m, const char *what) {
  if (m && (m->n < 0 || m->n > m->cap)) fz_fail("%s map: n %d, cap %d", what, m->n, m->cap);
}

static void check_result(const rp_events *ev, const rp_io_read_report *rep,
                         const rp_io_read_opts *o) {
  if (ev->n != rep->rows)
    fz_fail("%lld rows, the report says %lld", (long long)ev->n, (long long)rep->rows);
  if (rep->lines < rep->rows + rep->skipped + rep->dropped_unknown + rep->dropped_type)
    fz_fail("report: %lld lines < %lld rows + %lld skipped + %lld unknown + %lld type",
            (long long)rep->lines, (long long)rep->rows, (long long)rep->skipped,
            (long long)rep->dropped_unknown, (long long)rep->dropped_type);
  if (o->on_error == RP_ONERR_STOP && rep->skipped) fz_fail("skipped lines with on_error = stop");
  check_map(ev->users, "user");
  check_map(ev->items, "item");
  for (int64_t i = 0; i < ev->n; i++) {
    if (ev->user[i] < 0 || ev->user[i] >= ev->users->n)
      fz_fail("row %lld: user %d of %d", (long long)i, ev->user[i], ev->users->n);
    if (ev->item[i] < 0 || ev->item[i] >= ev->items->n)
      fz_fail("row %lld: item %d of %d", (long long)i, ev->item[i], ev->items->n);
    if (!isfinite(ev->value[i])) fz_fail("row %lld: value %g", (long long)i, (double)ev->value[i]);
    if (ev->event && (ev->event[i] < 0 || ev->event[i] >= ev->event_names->n))
      fz_fail("row %lld: event code %d of %d", (long long)i, ev->event[i], ev->event_names->n);
    for (int k = 0; k < ev->ncontext; k++)
      if (ev->context[k][i] < 0 || ev->context[k][i] >= ev->context_dicts[k]->n)
        fz_fail("row %lld: context %d code %d of %d", (long long)i, k, ev->context[k][i],
                ev->context_dicts[k]->n);
  }
}

static rp_idmap *map_of(const char *const *ids, int n) {
  rp_idmap *m = rp_idmap_new(NULL);
  if (!m) fz_fail("rp_idmap_new failed");
  for (int k = 0; k < n; k++) {
    int32_t idx;
    if (rp_idmap_intern(m, ids[k], strlen(ids[k]), &idx, NULL)) fz_fail("intern failed");
  }
  return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_quiet();
  fz_in in = {data, size};
  unsigned b[9];
  for (int k = 0; k < 9; k++) b[k] = fz_byte(&in);
  static const char *const seps[] = {NULL, ",", "\t", ";", "::", "|", "ab"};
  char sep1[2] = {(char)b[8], 0};

  fz_mem mem;
  fz_mem_begin(&mem);
  rp_io_read_opts o;
  rp_io_read_opts_init(&o);
  o.sep = (b[0] & 7) == 7 ? sep1 : seps[b[0] & 7];
  o.header = (b[0] >> 3) & 1;
  o.on_error = (b[0] >> 4) & 1 ? RP_ONERR_SKIP : RP_ONERR_STOP;
  o.unknown = (b[0] >> 5) & 1 ? RP_UNKNOWN_DROP : RP_UNKNOWN_ADD;
  rp_io_colref *roles[5] = {&o.user, &o.item, &o.value, &o.time, &o.event};
  for (int k = 0; k < 5; k++) colref(b[1 + k], roles[k]);
  o.ncontext = (int)(b[6] & 7);
  for (int k = 0; k < o.ncontext; k++) colref(fz_byte(&in), &o.context[k]);
  o.time_unit = (int)((b[6] >> 3) & 3);
  if ((b[6] >> 5) & 1) {
    static const char *const wn[] = {"view", "buy", "cart"};
    static const float wv[] = {1, 5, -2};
    o.nweights = 3;
    for (int k = 0; k < 3; k++) o.weight_names[k] = wn[k], o.weight_values[k] = wv[k];
  }
  rp_idmap *users = NULL, *items = NULL;
  if ((b[6] >> 6) & 1) {
    static const char *const ui[] = {"1", "2", "u1", "17"};
    static const char *const ii[] = {"1", "i1", "999999"};
    users = map_of(ui, 4);
    items = (b[6] >> 7) & 1 ? rp_idmap_retain(users) : map_of(ii, 3);
    o.users = users;
    o.items = items;
  }
  o.threads = (int)(b[7] & 3) + 1;
  unsigned blk = b[7] >> 2;
  o.block = blk == 0 ? 0 : blk == 63 ? 4096 : 3 * (size_t)blk;

  /* the file */
  unsigned char *gz = NULL;
  size_t n = in.n;
  const void *file = in.p;
  unsigned mode = b[0] >> 6;
  if (mode) {
    gz = fz_gzip(in.p, in.n, mode == 2 ? 9 : 1, &n);
    if (mode == 3) {
      size_t cut = 1 + (in.n & 7);
      n = n > cut ? n - cut : 0;
    }
    file = gz;
  }
  size_t real = fz_real_size(file, n);
  fz_file f;
  fz_file_open(&f, file, n);

  rp_events *ev = NULL;
  rp_io_read_report rep;
  rp_err err;
  err.msg[0] = 0;
  int rc = rp_io_read_events(f.path, &o, &ev, &rep, &err);
  fz_note("rp_io_read_events", rc, err.msg);
  if (rc == RP_OK) {
    if (!ev) fz_fail("RP_OK without a result");
    check_result(ev, &rep, &o);
  } else {
    if (ev) fz_fail("a result with status %d", rc);
    if (!err.msg[0]) fz_fail("status %d without a message", rc);
  }
  rp_events_free(ev);
  rp_idmap_release(users);
  rp_idmap_release(items);
  fz_file_close(&f);
  free(gz);
  fz_mem_end(&mem, "rp_io_read_events", real);
  return 0;
}
