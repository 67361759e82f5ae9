/*
 * read_files.c -- one event log from many files (a day per file), each
 * process reading its share; see rp_io_read_events_files in reader.h.
 *
 * Rank r reads files off[r]..off[r+1] (contiguous, in order) onto copies
 * of the maps it was given, then every rank's rows, new ids and
 * dictionaries are all-gathered and merged in rank order: the new ids of
 * rank 0's files are appended to the maps first (in their order of first
 * appearance there), then rank 1's new ones, and so on.  An id's index is
 * thus its order of first appearance in the files taken in order, exactly
 * what one process reading the files one after the other gives, and the
 * merged log is the files' rows in file order, on every rank.
 */
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist.h"
#include "reader.h"

/* ---- a growable byte buffer ------------------------------------------------ */
typedef struct buf {
  char *p;
  size_t n, cap;
  int bad;
} buf;

static void put(buf *b, const void *s, size_t n) {
  if (b->bad) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    char *p = rp_realloc(b->p, cap);
    if (!p) {
      b->bad = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void put64(buf *b, int64_t v) { put(b, &v, sizeof v); }

/* ids lo..m->n of m: count, then (length, bytes) each */
static void put_ids(buf *b, const rp_idmap *m, int32_t lo) {
  int32_t n = m ? m->n : 0;
  put64(b, n - lo);
  for (int32_t i = lo; i < n; i++) {
    size_t len;
    const char *s = rp_idmap_id(m, i, &len);
    put64(b, (int64_t)len);
    put(b, s, len);
  }
}

typedef struct rd {
  const char *p, *e;
  int bad;
} rd;

static const void *take(rd *r, size_t n) {
  if (r->bad || (size_t)(r->e - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  const void *s = r->p;
  r->p += n;
  return s;
}

static void take_into(rd *r, void *dst, size_t n) {
  if (r->bad || (size_t)(r->e - r->p) < n) {
    r->bad = 1;
    memset(dst, 0, n);
    return;
  }
  memcpy(dst, r->p, n);
  r->p += n;
}

static int64_t take64(rd *r) {
  int64_t v;
  take_into(r, &v, sizeof v);
  return v;
}

/* ---- reports ------------------------------------------------------------------ */
static void report_add(rp_io_read_report *d, const rp_io_read_report *s, int first) {
  d->lines += s->lines, d->rows += s->rows, d->skipped += s->skipped;
  d->dropped_unknown += s->dropped_unknown, d->dropped_type += s->dropped_type;
  d->bytes += s->bytes;
  if (s->seconds > d->seconds) d->seconds = s->seconds;
  for (int k = 0; k < s->nfirst && d->nfirst < RP_READ_FIRST_ERRORS; k++)
    memcpy(d->first[d->nfirst++], s->first[k], sizeof d->first[0]);
  if (first) {
    memcpy(d->sep, s->sep, sizeof d->sep);
    d->fields = s->fields;
  }
  if (!d->dropped_example[0])
    memcpy(d->dropped_example, s->dropped_example, sizeof s->dropped_example);
  if (s->torn_line && !d->torn_line) d->torn_line = s->torn_line;
}

/* ---- this rank's files ---------------------------------------------------------- */
/* Reads paths[lo..hi) in order onto the maps of o (NULL: fresh maps, shared
 * by the files), one log; *out NULL when there are no files. */
static int read_share(const char *const *paths, int64_t lo, int64_t hi, const rp_io_read_opts *o,
                      rp_events **out, rp_io_read_report *rep, rp_err *err) {
  *out = NULL;
  memset(rep, 0, sizeof *rep);
  if (hi <= lo) return RP_OK;
  rp_events **parts = rp_calloc((size_t)(hi - lo), sizeof *parts);
  if (!parts) return rp_enomem(err, "read_events");
  rp_io_read_opts fo = *o;
  int rc = RP_OK;
  double t0 = rp_now();
  for (int64_t k = lo; k < hi && rc == RP_OK; k++) {
    rp_io_read_report r;
    rc = rp_io_read_events(paths[k], &fo, &parts[k - lo], &r, err);
    if (rc == RP_OK) {
      report_add(rep, &r, k == lo);
      fo.users = parts[k - lo]->users, fo.items = parts[k - lo]->items;
    }
  }
  if (rc == RP_OK) {
    if (hi - lo == 1) {
      *out = parts[0], parts[0] = NULL;
    } else if (!(*out = rp_events_concat(parts, (int)(hi - lo), err))) {
      rc = err ? err->status : RP_ENOMEM;
    }
  }
  for (int64_t k = 0; k < hi - lo; k++) rp_events_free(parts[k]);
  rp_free(parts);
  rep->seconds = rp_now() - t0;
  return rc;
}

/* ---- the exchange ------------------------------------------------------------------ */
/* One rank's share as bytes: has-files flag, report, new users and items
 * (past nu0 and ni0), the event type names and context dictionaries, then
 * the columns with the rank's own indices. */
static void encode(buf *b, const rp_events *ev, const rp_io_read_report *rep, int32_t nu0,
                   int32_t ni0) {
  put64(b, ev != NULL);
  put(b, rep, sizeof *rep);
  if (!ev) return;
  put_ids(b, ev->users, nu0);
  put_ids(b, ev->items, ni0);
  put64(b, ev->n);
  put64(b, ev->time != NULL);
  put64(b, ev->event != NULL);
  if (ev->event) put_ids(b, ev->event_names, 0);
  put64(b, ev->ncontext);
  for (int c = 0; c < ev->ncontext; c++) {
    size_t len = strlen(ev->context_names[c]);
    put64(b, (int64_t)len);
    put(b, ev->context_names[c], len);
    put_ids(b, ev->context_dicts[c], 0);
  }
  size_t n = (size_t)ev->n;
  put(b, ev->user, n * sizeof *ev->user);
  put(b, ev->item, n * sizeof *ev->item);
  put(b, ev->value, n * sizeof *ev->value);
  if (ev->time) put(b, ev->time, n * sizeof *ev->time);
  if (ev->event) put(b, ev->event, n * sizeof *ev->event);
  for (int c = 0; c < ev->ncontext; c++) put(b, ev->context[c], n * sizeof *ev->context[c]);
}

/* Reads count ids from r: into map (remap[k] = its index there) when
 * remap is given, else into a new dictionary *dict. */
static int take_ids(rd *r, rp_idmap *map, int32_t *remap, rp_err *err) {
  int64_t count = take64(r);
  for (int64_t k = 0; k < count && !r->bad; k++) {
    int64_t len = take64(r);
    const char *s = take(r, (size_t)len);
    int32_t idx;
    if (!s) break;
    if (rp_idmap_intern(map, s, (size_t)len, &idx, err)) return err ? err->status : RP_ENOMEM;
    if (remap) remap[k] = idx;
  }
  return r->bad ? rp_errf(err, RP_EFORMAT, "read_events: bad exchange message") : RP_OK;
}

static int64_t peek_count(rd *r) {
  int64_t v = 0;
  if ((size_t)(r->e - r->p) >= sizeof v) memcpy(&v, r->p, sizeof v);
  return v;
}

/* Decodes one rank's share onto the global maps gu, gi (nu0, ni0: their
 * sizes before any rank's new ids); *out NULL when that rank had no files. */
static int decode(rd *r, rp_idmap *gu, rp_idmap *gi, int32_t nu0, int32_t ni0, rp_events **out,
                  rp_io_read_report *rep, rp_err *err) {
  *out = NULL;
  int has = (int)take64(r);
  take_into(r, rep, sizeof *rep);
  if (r->bad) return rp_errf(err, RP_EFORMAT, "read_events: bad exchange message");
  if (!has) return RP_OK;
  int rc = RP_OK;
  int32_t *umap = NULL, *imap = NULL;
  rp_idmap *evn = NULL, *dicts[RP_MAX_CONTEXT] = {0};
  char *names[RP_MAX_CONTEXT] = {0};
  rp_events *ev = NULL;
  int64_t nnu = peek_count(r);
  if (nnu < 0 || !(umap = rp_malloc(((size_t)nnu + 1) * sizeof *umap))) goto nomem;
  if ((rc = take_ids(r, gu, umap, err))) goto done;
  int64_t nni = peek_count(r);
  if (nni < 0 || !(imap = rp_malloc(((size_t)nni + 1) * sizeof *imap))) goto nomem;
  if ((rc = take_ids(r, gi, imap, err))) goto done;
  int64_t n = take64(r);
  int has_time = (int)take64(r), has_event = (int)take64(r);
  if (has_event) {
    if (!(evn = rp_idmap_new(err))) goto nomem;
    if ((rc = take_ids(r, evn, NULL, err))) goto done;
  }
  int nc = (int)take64(r);
  if (nc < 0 || nc > RP_MAX_CONTEXT) {
    rc = rp_errf(err, RP_EFORMAT, "read_events: bad exchange message");
    goto done;
  }
  for (int c = 0; c < nc; c++) {
    int64_t len = take64(r);
    const char *s = take(r, (size_t)len);
    if (!s) break;
    if (!(names[c] = rp_malloc((size_t)len + 1)) || !(dicts[c] = rp_idmap_new(err))) goto nomem;
    memcpy(names[c], s, (size_t)len), names[c][len] = 0;
    if ((rc = take_ids(r, dicts[c], NULL, err))) goto done;
  }
  if (r->bad || n < 0) {
    rc = rp_errf(err, RP_EFORMAT, "read_events: bad exchange message");
    goto done;
  }
  ev = rp_events_new(gu, gi, has_time, evn, nc, (const char *const *)names, dicts, err);
  if (!ev || rp_events_reserve(ev, n, err)) goto fail;
  size_t sz = (size_t)n;
  const void *u = take(r, sz * sizeof *ev->user), *it = take(r, sz * sizeof *ev->item);
  const void *v = take(r, sz * sizeof *ev->value);
  const void *tm = has_time ? take(r, sz * sizeof *ev->time) : NULL;
  const void *et = has_event ? take(r, sz * sizeof *ev->event) : NULL;
  const void *cx[RP_MAX_CONTEXT];
  for (int c = 0; c < nc; c++) cx[c] = take(r, sz * sizeof *ev->context[c]);
  if (r->bad) {
    rc = rp_errf(err, RP_EFORMAT, "read_events: bad exchange message");
    goto done;
  }
  /* (the message's columns are not aligned: copied, then remapped in
   * place; a local index < nu0 is a given id, the same index everywhere) */
  memcpy(ev->user, u, sz * sizeof *ev->user);
  memcpy(ev->item, it, sz * sizeof *ev->item);
  for (size_t k = 0; k < sz; k++) {
    int32_t a = ev->user[k], b = ev->item[k];
    if (a >= nu0) ev->user[k] = umap[a - nu0];
    if (b >= ni0) ev->item[k] = imap[b - ni0];
  }
  memcpy(ev->value, v, sz * sizeof *ev->value);
  if (has_time) memcpy(ev->time, tm, sz * sizeof *ev->time);
  if (has_event) memcpy(ev->event, et, sz * sizeof *ev->event);
  for (int c = 0; c < nc; c++) memcpy(ev->context[c], cx[c], sz * sizeof *ev->context[c]);
  ev->n = n;
  *out = ev, ev = NULL;
  goto done;
nomem:
  rc = rp_enomem(err, "read_events exchange");
  goto done;
fail:
  rc = err ? err->status : RP_ENOMEM;
done:
  rp_events_free(ev);
  rp_free(umap);
  rp_free(imap);
  rp_idmap_release(evn);
  for (int c = 0; c < RP_MAX_CONTEXT; c++) rp_idmap_release(dicts[c]), rp_free(names[c]);
  return rc;
}

int rp_io_read_events_files(const char *const *paths, int64_t n, const rp_io_read_opts *o,
                            rp_events **out, rp_io_read_report *rep, rp_err *err) {
  *out = NULL;
  memset(rep, 0, sizeof *rep);
  if (n < 1) return rp_errf(err, RP_EINVAL, "read_events: no files given");
  int size = rp_dist_size(), me = rp_dist_rank();
  int64_t *off = rp_malloc(((size_t)size + 1) * sizeof *off);
  if (!off) return rp_enomem(err, "read_events");
  rp_dist_blocks(n, NULL, size, off);
  rp_io_read_opts lo = *o;
  rp_idmap *lu = NULL, *li = NULL;
  rp_events *mine = NULL, **parts = NULL;
  rp_io_read_report myrep;
  char *all = NULL;
  size_t *sizes = NULL;
  buf b = {0};
  int rc = RP_OK;
  if (size > 1) { /* read onto copies; the given maps grow at the merge */
    if ((o->users && !(lu = rp_idmap_copy(o->users, err))) ||
        (o->items && !(li = rp_idmap_copy(o->items, err)))) {
      rc = err ? err->status : RP_ENOMEM;
      goto done;
    }
    lo.users = lu, lo.items = li;
  }
  if ((rc = read_share(paths, off[me], off[me + 1], &lo, &mine, &myrep, err))) goto done;
  if (size == 1) {
    *out = mine, *rep = myrep, mine = NULL;
    goto done;
  }
  int32_t nu0 = o->users ? o->users->n : 0, ni0 = o->items ? o->items->n : 0;
  encode(&b, mine, &myrep, nu0, ni0);
  rp_events_free(mine), mine = NULL;
  if (b.bad) {
    rc = rp_enomem(err, "read_events exchange");
    goto done;
  }
  sizes = rp_malloc((size_t)size * sizeof *sizes);
  parts = rp_calloc((size_t)size, sizeof *parts);
  if (!sizes || !parts) {
    rc = rp_enomem(err, "read_events exchange");
    goto done;
  }
  if ((rc = rp_dist_allgather_bytes(b.p, b.n, &all, sizes, err))) goto done;
  rp_free(b.p), b.p = NULL;
  rp_idmap *gu = o->users ? rp_idmap_retain(o->users) : rp_idmap_new(err);
  rp_idmap *gi = o->items ? rp_idmap_retain(o->items) : rp_idmap_new(err);
  int np = 0;
  const char *p = all;
  for (int r = 0; r < size && gu && gi && rc == RP_OK; r++) {
    rd in = {p, p + sizes[r], 0};
    rp_io_read_report rr;
    rc = decode(&in, gu, gi, nu0, ni0, &parts[np], &rr, err);
    if (rc == RP_OK && parts[np]) report_add(rep, &rr, np == 0), np++;
    p += sizes[r];
  }
  if (!gu || !gi) rc = err ? err->status : RP_ENOMEM;
  rp_free(all), all = NULL; /* decoded: not held through the concatenation */
  if (rc == RP_OK && np == 1)
    *out = parts[0], parts[0] = NULL;
  else if (rc == RP_OK && !(*out = rp_events_concat(parts, np, err)))
    rc = err ? err->status : RP_ENOMEM;
  rp_idmap_release(gu);
  rp_idmap_release(gi);
done:
  if (parts)
    for (int r = 0; r < size; r++) rp_events_free(parts[r]);
  rp_free(parts);
  rp_free(sizes);
  rp_free(all);
  rp_free(b.p);
  rp_events_free(mine);
  rp_idmap_release(lu);
  rp_idmap_release(li);
  rp_free(off);
  return rc;
}

/* ---- globs ------------------------------------------------------------------------- */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rp_io_read_glob(const char *pattern, char ***out, int64_t *n, rp_err *err) {
  *out = NULL, *n = 0;
  /* rank 0 lists the files and every rank gets its list: ranks on other
   * machines read the same names (a shared file system) */
  buf b = {0};
  int rc = RP_OK;
  if (rp_dist_rank() == 0) {
    glob_t g;
    int gr = glob(pattern, 0, NULL, &g);
    if (gr == 0) {
      char **v = rp_malloc((g.gl_pathc + 1) * sizeof *v);
      if (!v) {
        globfree(&g);
        return rp_enomem(err, "glob");
      }
      for (size_t k = 0; k < g.gl_pathc; k++) v[k] = g.gl_pathv[k];
      qsort(v, g.gl_pathc, sizeof *v, cmp_str); /* byte order, whatever the locale */
      for (size_t k = 0; k < g.gl_pathc; k++) put(&b, v[k], strlen(v[k]) + 1);
      rp_free(v);
      globfree(&g);
    } else if (gr != GLOB_NOMATCH) {
      return rp_errf(err, RP_EIO, "read_events: cannot list '%s'", pattern);
    }
    if (b.bad) return rp_enomem(err, "glob");
  }
  char *all = NULL;
  size_t *sizes = rp_malloc((size_t)rp_dist_size() * sizeof *sizes);
  if (!sizes) {
    rp_free(b.p);
    return rp_enomem(err, "glob");
  }
  rc = rp_dist_allgather_bytes(b.p, b.n, &all, sizes, err);
  rp_free(b.p);
  if (rc) {
    rp_free(sizes);
    return rc;
  }
  size_t len = sizes[0];
  rp_free(sizes);
  int64_t count = 0;
  for (size_t k = 0; k < len; k++) count += all[k] == 0;
  if (count == 0) {
    rp_free(all);
    return rp_errf(err, RP_EIO, "read_events: no file matches '%s'", pattern);
  }
  char **v = rp_malloc((size_t)count * sizeof *v + len);
  if (!v) {
    rp_free(all);
    return rp_enomem(err, "glob");
  }
  char *text = (char *)(v + count);
  memcpy(text, all, len);
  rp_free(all);
  for (int64_t k = 0, at = 0; k < count; k++) {
    v[k] = text + at;
    at += (int64_t)strlen(text + at) + 1;
  }
  *out = v, *n = count;
  return RP_OK;
}
