/*
 * attrs.c -- item and user attribute files to an entity x feature matrix.
 *
 * One pass over the file collects (row, feature, weight) triplets; the
 * matrix is then built by rp_csr_build (repeats add, so a tag given twice
 * counts twice), pruned by document frequency, TF-IDF weighted and
 * normalised as asked.  Rows follow the given id map: map ids absent from
 * the file stay empty rows, file ids absent from the map are counted and
 * reported, or appended to the map with extend.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"
#include "reader.h"

#define MAXCOLS 1024

void rp_attr_opts_init(rp_attr_opts *o) {
  memset(o, 0, sizeof *o);
  o->header = 1;
  o->id.name = "id";
  o->max_line_bytes = RP_READ_MAX_LINE;
}

typedef struct {
  int32_t *r, *c;
  float *v;
  int64_t n, cap;
} triplets;

static int trip_add(triplets *t, int32_t r, int32_t c, float v, rp_err *err) {
  if (t->n == t->cap) {
    int64_t cap = t->cap ? t->cap * 2 : 1024;
    int32_t *nr = rp_realloc(t->r, (size_t)cap * sizeof *nr);
    if (!nr) return rp_enomem(err, "attributes");
    t->r = nr;
    int32_t *nc = rp_realloc(t->c, (size_t)cap * sizeof *nc);
    if (!nc) return rp_enomem(err, "attributes");
    t->c = nc;
    float *nv = rp_realloc(t->v, (size_t)cap * sizeof *nv);
    if (!nv) return rp_enomem(err, "attributes");
    t->v = nv;
    t->cap = cap;
  }
  t->r[t->n] = r;
  t->c[t->n] = c;
  t->v[t->n] = v;
  t->n++;
  return RP_OK;
}

/* The reading state of one call. */
typedef struct {
  const char *path;
  const rp_attr_opts *o;
  rp_attr_report *rep;
  int64_t lineno;
  rp_idmap *map, *feat, *unknown;
  int16_t *field_of;
  int32_t field_cap;
  triplets t;
  uint8_t *seen;
  int32_t seen_cap;
  char *name;
  size_t name_cap;
  int col[RP_FEAT_MAX_FIELDS];                         /* column of each field */
  int flagcol[RP_FEAT_MAX_FIELDS][RP_FIELD_MAX_FLAGS]; /* FLAGS columns */
  int idcol, ncols;
} st;

static void trim(const char **s, size_t *n) {
  while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
  while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* Interns "field=value" (value lower-cased when asked) and records its
 * triplet. */
static int emit(st *S, int fi, int32_t row, const char *v, size_t vn, int lower, rp_err *err) {
  const rp_field_spec *fs = &S->o->fields[fi];
  size_t fn = strlen(fs->name), need = fn + 1 + vn + 1;
  if (need > S->name_cap) {
    size_t cap = need * 2;
    char *nb = rp_realloc(S->name, cap);
    if (!nb) return rp_enomem(err, "attributes");
    S->name = nb;
    S->name_cap = cap;
  }
  memcpy(S->name, fs->name, fn);
  S->name[fn] = '=';
  for (size_t i = 0; i < vn; i++)
    S->name[fn + 1 + i] = lower ? (char)tolower((unsigned char)v[i]) : v[i];
  S->name[fn + 1 + vn] = 0;
  int32_t j, before = S->feat->n;
  int rc = rp_idmap_intern(S->feat, S->name, fn + 1 + vn, &j, err);
  if (rc) return rc;
  if (S->feat->n > before) {
    if (S->feat->n > S->field_cap) {
      int32_t cap = S->field_cap ? S->field_cap * 2 : 256;
      int16_t *nf = rp_realloc(S->field_of, (size_t)cap * sizeof *nf);
      if (!nf) return rp_enomem(err, "attributes");
      S->field_of = nf;
      S->field_cap = cap;
    }
    S->field_of[j] = (int16_t)fi;
  }
  return trip_add(&S->t, row, j, fs->weight > 0 ? fs->weight : 1.0f, err);
}

static int parse_number(const char *v, size_t vn, double *x) {
  char tmp[64], *end;
  if (vn == 0 || vn >= sizeof tmp) return 0;
  memcpy(tmp, v, vn);
  tmp[vn] = 0;
  errno = 0;
  *x = strtod(tmp, &end);
  return end != tmp && *end == 0 && isfinite(*x);
}

static int emit_bucket(st *S, int fi, int32_t row, double x, rp_err *err) {
  const rp_field_spec *fs = &S->o->fields[fi];
  int b = 0;
  while (b < fs->nbuckets && x >= fs->buckets[b]) b++;
  char v[80];
  if (b == 0)
    snprintf(v, sizeof v, "<%g", fs->buckets[0]);
  else if (b == fs->nbuckets)
    snprintf(v, sizeof v, ">=%g", fs->buckets[b - 1]);
  else
    snprintf(v, sizeof v, "[%g,%g)", fs->buckets[b - 1], fs->buckets[b]);
  return emit(S, fi, row, v, strlen(v), 0, err);
}

static int is_word(unsigned char c) { return isalnum(c) || c >= 0x80; }

static int emit_field(st *S, int fi, int32_t row, char **f, size_t *fl, rp_err *err) {
  const rp_field_spec *fs = &S->o->fields[fi];
  int rc = RP_OK;
  if (fs->kind == RP_FIELD_FLAGS) {
    for (int q = 0; q < fs->nflags && !rc; q++) {
      int c = S->flagcol[fi][q];
      const char *v = f[c];
      size_t vn = fl[c];
      trim(&v, &vn);
      double x;
      if (vn == 0 || (parse_number(v, vn, &x) && x == 0)) continue;
      rc = emit(S, fi, row, fs->flags[q], strlen(fs->flags[q]), 0, err);
    }
    return rc;
  }
  const char *v = f[S->col[fi]];
  size_t vn = fl[S->col[fi]];
  trim(&v, &vn);
  if (vn == 0) {
    S->rep->empty++;
    return RP_OK;
  }
  switch (fs->kind) {
    case RP_FIELD_CAT:
      return emit(S, fi, row, v, vn, fs->lower, err);
    case RP_FIELD_MULTI: {
      size_t sl = strlen(fs->sep), a = 0;
      while (a <= vn && !rc) {
        const char *q =
            sl == 1 ? memchr(v + a, fs->sep[0], vn - a) : memmem(v + a, vn - a, fs->sep, sl);
        size_t b = q ? (size_t)(q - v) : vn;
        const char *w = v + a;
        size_t wn = b - a;
        trim(&w, &wn);
        if (wn) rc = emit(S, fi, row, w, wn, fs->lower, err);
        a = b + sl;
      }
      return rc;
    }
    case RP_FIELD_BUCKETS: {
      double x;
      parse_number(v, vn, &x); /* checked before any feature of the line was emitted */
      return emit_bucket(S, fi, row, x, err);
    }
    case RP_FIELD_TOKENS: {
      size_t i = 0;
      while (i < vn && !rc) {
        while (i < vn && !is_word((unsigned char)v[i])) i++;
        size_t a = i;
        while (i < vn && is_word((unsigned char)v[i])) i++;
        if (i > a) rc = emit(S, fi, row, v + a, i - a, 1, err);
      }
      return rc;
    }
  }
  return RP_OK;
}

/* Column index of name among the header names, or -1. */
static int find_col(char **names, size_t *nl, int nc, const char *name) {
  size_t n = strlen(name);
  for (int j = 0; j < nc; j++)
    if (nl[j] == n && memcmp(names[j], name, n) == 0) return j;
  return -1;
}

static int col_error(st *S, const char *what, const char *name, char **names, size_t *nl, int nc,
                     rp_err *err) {
  char list[512];
  size_t w = 0;
  list[0] = 0;
  for (int j = 0; j < nc && w + 4 < sizeof list; j++) {
    int k = snprintf(list + w, sizeof list - w, "%s%.*s", j ? ", " : "", (int)nl[j], names[j]);
    if (k < 0) break;
    w += (size_t)k;
    if (w >= sizeof list) w = sizeof list - 1;
  }
  return rp_errf(err, RP_EINVAL, "%s: %s column '%s' not found in the header (columns: %s)",
                 S->path, what, name, list);
}

static int check_opts(const rp_attr_opts *o, rp_err *err) {
  if (o->max_line_bytes < 1)
    return rp_errf(err, RP_EINVAL,
                   "attributes: max_line_bytes must be a positive number of bytes, got %lld",
                   (long long)o->max_line_bytes);
  if (o->nfields < 1 || o->nfields > RP_FEAT_MAX_FIELDS)
    return rp_errf(err, RP_EINVAL, "attributes: between 1 and %d fields expected, got %d",
                   RP_FEAT_MAX_FIELDS, o->nfields);
  for (int i = 0; i < o->nfields; i++) {
    const rp_field_spec *fs = &o->fields[i];
    if (!fs->name || !fs->name[0])
      return rp_errf(err, RP_EINVAL, "attributes: field without a name");
    for (int j = 0; j < i; j++)
      if (strcmp(o->fields[j].name, fs->name) == 0)
        return rp_errf(err, RP_EINVAL, "attributes: field '%s' given twice", fs->name);
    if (fs->kind == RP_FIELD_MULTI && (!fs->sep || !fs->sep[0]))
      return rp_errf(err, RP_EINVAL, "field '%s': an empty value separator", fs->name);
    if (fs->kind == RP_FIELD_BUCKETS) {
      if (fs->nbuckets < 1 || fs->nbuckets > RP_FIELD_MAX_BUCKETS)
        return rp_errf(err, RP_EINVAL, "field '%s': between 1 and %d bucket bounds expected",
                       fs->name, RP_FIELD_MAX_BUCKETS);
      for (int b = 0; b < fs->nbuckets; b++)
        if (!isfinite(fs->buckets[b]) || (b && fs->buckets[b] <= fs->buckets[b - 1]))
          return rp_errf(err, RP_EINVAL, "field '%s': bucket bounds must be finite and ascending",
                         fs->name);
    }
    if (fs->kind == RP_FIELD_FLAGS && (fs->nflags < 1 || fs->nflags > RP_FIELD_MAX_FLAGS))
      return rp_errf(err, RP_EINVAL, "field '%s': between 1 and %d flag columns expected", fs->name,
                     RP_FIELD_MAX_FLAGS);
    if (!isfinite(fs->weight) || fs->weight < 0)
      return rp_errf(err, RP_EINVAL, "field '%s': weight must be a positive number", fs->name);
  }
  return RP_OK;
}

/* Resolves the id and field columns against the column names. */
static int resolve_cols(st *S, char **names, size_t *nl, int nc, rp_err *err) {
  const rp_attr_opts *o = S->o;
  if (o->id.pos > 0) {
    if (o->id.pos > nc)
      return rp_errf(err, RP_EINVAL, "%s: id column %d beyond the %d columns", S->path, o->id.pos,
                     nc);
    S->idcol = o->id.pos - 1;
  } else {
    const char *idn = o->id.name ? o->id.name : "id";
    if ((S->idcol = find_col(names, nl, nc, idn)) < 0)
      return col_error(S, "id", idn, names, nl, nc, err);
  }
  for (int i = 0; i < o->nfields; i++) {
    const rp_field_spec *fs = &o->fields[i];
    if (fs->kind == RP_FIELD_FLAGS) {
      for (int q = 0; q < fs->nflags; q++)
        if ((S->flagcol[i][q] = find_col(names, nl, nc, fs->flags[q])) < 0)
          return col_error(S, "flag", fs->flags[q], names, nl, nc, err);
      continue;
    }
    const char *cn = fs->column ? fs->column : fs->name;
    if ((S->col[i] = find_col(names, nl, nc, cn)) < 0)
      return col_error(S, "field", cn, names, nl, nc, err);
  }
  return RP_OK;
}

/* A problem with one line: an error, or (skip) counted and remembered. */
static int line_problem(st *S, rp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int line_problem(st *S, rp_err *err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (S->o->on_error == RP_ONERR_STOP) return rp_errf(err, RP_EPARSE, "%s", msg);
  S->rep->skipped++;
  if (S->rep->nfirst < RP_ATTR_FIRST) snprintf(S->rep->first[S->rep->nfirst++], 256, "%s", msg);
  return RP_OK;
}

static int mark_seen(st *S, int32_t row, rp_err *err) {
  if (row >= S->seen_cap) {
    int32_t cap = S->seen_cap * 2 > row + 1 ? S->seen_cap * 2 : row + 1024;
    uint8_t *ns = rp_realloc(S->seen, (size_t)cap);
    if (!ns) return rp_enomem(err, "attributes");
    memset(ns + S->seen_cap, 0, (size_t)(cap - S->seen_cap));
    S->seen = ns;
    S->seen_cap = cap;
  }
  if (!S->seen[row]) S->rep->entities++;
  S->seen[row] = 1;
  return RP_OK;
}

/* One data line (already split into nf fields). */
static int do_line(st *S, char **f, size_t *fl, int nf, rp_err *err) {
  const char *path = S->path;
  long long ln = (long long)S->lineno;
  if (nf < 0) return line_problem(S, err, "%s:%lld: text after a closing quote", path, ln);
  if (nf != S->ncols)
    return line_problem(S, err, "%s:%lld: expected %d fields, found %s%d", path, ln, S->ncols,
                        nf > MAXCOLS ? "more than " : "", nf > MAXCOLS ? MAXCOLS : nf);
  const char *id = f[S->idcol];
  size_t idn = fl[S->idcol];
  trim(&id, &idn);
  if (idn == 0) return line_problem(S, err, "%s:%lld: empty id", path, ln);
  for (int i = 0; i < S->o->nfields; i++) {
    const rp_field_spec *fs = &S->o->fields[i];
    if (fs->kind != RP_FIELD_BUCKETS) continue;
    const char *v = f[S->col[i]];
    size_t vn = fl[S->col[i]];
    trim(&v, &vn);
    double x;
    if (vn && !parse_number(v, vn, &x))
      return line_problem(S, err, "%s:%lld: field '%s': '%.*s' is not a number", path, ln, fs->name,
                          (int)(vn > 40 ? 40 : vn), v);
  }
  int32_t row = rp_idmap_find(S->map, id, idn);
  int rc;
  if (row < 0 && (S->o->extend || !S->o->map)) { /* a new map takes every id */
    if ((rc = rp_idmap_intern(S->map, id, idn, &row, err))) return rc;
    if (S->o->map) S->rep->added++;
  }
  if (row < 0) {
    S->rep->unknown++;
    int32_t before = S->unknown->n, j;
    if ((rc = rp_idmap_intern(S->unknown, id, idn, &j, err))) return rc;
    if (S->unknown->n > before && S->rep->nfirst < RP_ATTR_FIRST)
      snprintf(S->rep->first[S->rep->nfirst++], 256, "%s:%lld: id '%.*s' is not in the map", path,
               ln, (int)(idn > 60 ? 60 : idn), id);
    S->rep->unknown_ids = S->unknown->n;
    return RP_OK;
  }
  if ((rc = mark_seen(S, row, err))) return rc;
  S->rep->used++;
  for (int i = 0; i < S->o->nfields; i++)
    if ((rc = emit_field(S, i, row, f, fl, err))) return rc;
  return RP_OK;
}

/* The event reader's separator rules; a line with none of its separators
 * but a '|' is pipe-separated (MovieLens u.item, u.user). */
static void detect_sep(const char *line, size_t n, char sep[8]) {
  if (!rp_io_detect_sep(line, n, sep) && memchr(line, '|', n)) strcpy(sep, "|");
}

/* Builds the matrix from the triplets and applies the options. */
static int finish(st *S, rp_features **out, rp_err *err) {
  const rp_attr_opts *o = S->o;
  rp_features *F = rp_calloc(1, sizeof *F);
  if (!F) return rp_enomem(err, "attributes");
  F->m = rp_csr_build(S->map->n, S->feat->n, S->t.r, S->t.c, S->t.v, NULL, S->t.n, RP_AGG_SUM,
                      S->map, S->feat, err);
  F->field_of = rp_malloc((size_t)(S->feat->n ? S->feat->n : 1) * sizeof *F->field_of);
  if (!F->m || !F->field_of) {
    if (F->m && !F->field_of) rp_enomem(err, "attributes");
    rp_features_free(F);
    return err ? err->status : RP_ENOMEM;
  }
  if (S->feat->n) memcpy(F->field_of, S->field_of, (size_t)S->feat->n * sizeof *F->field_of);
  F->nfields = o->nfields;
  for (int i = 0; i < o->nfields; i++)
    if (!(F->field_names[i] = rp_strdup(o->fields[i].name))) {
      rp_features_free(F);
      return rp_enomem(err, "attributes");
    }
  int rc = rp_features_prune(F, o->min_df, &S->rep->dropped, err);
  if (rc) {
    rp_features_free(F);
    return rc;
  }
  if (o->tfidf && (rc = rp_features_tfidf(F, err))) {
    rp_features_free(F);
    return rc;
  }
  if (o->normalize) rp_features_normalize(F);
  S->rep->features = F->m->ncols;
  S->rep->missing = S->map->n - S->rep->entities;
  *out = F;
  return RP_OK;
}

int rp_attr_read(const char *path, const rp_attr_opts *o, rp_features **out, rp_attr_report *rep,
                 rp_err *err) {
  rp_attr_report dummy;
  if (!rep) rep = &dummy;
  memset(rep, 0, sizeof *rep);
  *out = NULL;
  int rc = check_opts(o, err);
  if (rc) return rc;
  st S;
  memset(&S, 0, sizeof S);
  S.path = path;
  S.o = o;
  S.rep = rep;
  char **f = rp_malloc((MAXCOLS + 1) * sizeof *f), **hn = NULL;
  size_t *fl = rp_malloc((MAXCOLS + 1) * sizeof *fl), *hl = NULL;
  char *hcopy = NULL;
  rp_io_lines *lr = NULL;
  S.map = o->map ? rp_idmap_retain(o->map) : rp_idmap_new(err);
  S.feat = rp_idmap_new(err);
  S.unknown = rp_idmap_new(err);
  if (!f || !fl || !S.map || !S.feat || !S.unknown) {
    rc = rp_enomem(err, "attributes");
    goto done;
  }
  if (!(lr = rp_io_lines_open(path, err))) {
    rc = err ? err->status : RP_EIO;
    goto done;
  }
  rp_io_lines_set_max(lr, o->max_line_bytes);
  char *line;
  size_t n;
  int r = rp_io_lines_next(lr, &line, &n, err);
  if (r <= 0) {
    rc = r < 0 ? (err ? err->status : RP_EIO) : rp_errf(err, RP_EPARSE, "%s: empty file", path);
    goto done;
  }
  S.lineno = 1;
  char sep[8] = {0};
  if (o->sep)
    snprintf(sep, sizeof sep, "%s", o->sep);
  else
    detect_sep(line, n, sep);
  if (!sep[0]) {
    rc = rp_errf(err, RP_EINVAL, "%s: empty separator", path);
    goto done;
  }
  /* column names: the header, the names option, or "1", "2", ... */
  hn = rp_malloc((MAXCOLS + 1) * sizeof *hn);
  hl = rp_malloc((MAXCOLS + 1) * sizeof *hl);
  hcopy = rp_malloc(n + 16 * MAXCOLS + 1);
  if (!hn || !hl || !hcopy) {
    rc = rp_enomem(err, "attributes");
    goto done;
  }
  memcpy(hcopy, line, n);
  hcopy[n] = 0;
  int nc = rp_io_split_fields(hcopy, n, sep, hn, hl, MAXCOLS);
  if (nc < 0 || nc > MAXCOLS) {
    rc = rp_errf(err, RP_EPARSE, "%s:1: %s", path,
                 nc < 0 ? "text after a closing quote" : "more than 1024 columns");
    goto done;
  }
  S.ncols = nc;
  if (!o->header) {
    if (o->nnames > nc) {
      rc = rp_errf(err, RP_EINVAL, "%s: %d column names given, the file has %d columns", path,
                   o->nnames, nc);
      goto done;
    }
    char *numbers = hcopy + n + 1;
    for (int j = 0; j < nc; j++) {
      if (j < o->nnames) {
        hn[j] = (char *)o->names[j];
        hl[j] = strlen(o->names[j]);
      } else {
        hn[j] = numbers;
        hl[j] = (size_t)sprintf(numbers, "%d", j + 1);
        numbers += hl[j] + 1;
      }
    }
  }
  if ((rc = resolve_cols(&S, hn, hl, nc, err))) goto done;
  int first_data = !o->header;
  for (;;) {
    if (!first_data) {
      r = rp_io_lines_next(lr, &line, &n, err);
      if (r < 0) {
        rc = err ? err->status : RP_EIO;
        goto done;
      }
      if (r == 0) break;
      S.lineno++;
    }
    first_data = 0;
    if (n == 0) continue;
    rep->lines++;
    int nf = rp_io_split_fields(line, n, sep, f, fl, MAXCOLS);
    if ((rc = do_line(&S, f, fl, nf, err))) goto done;
  }
  rc = finish(&S, out, err);
done:
  rp_io_lines_close(lr);
  rp_free(f);
  rp_free(fl);
  rp_free(hn);
  rp_free(hl);
  rp_free(hcopy);
  rp_free(S.t.r);
  rp_free(S.t.c);
  rp_free(S.t.v);
  rp_free(S.seen);
  rp_free(S.name);
  rp_free(S.field_of);
  rp_idmap_release(S.map);
  rp_idmap_release(S.feat);
  rp_idmap_release(S.unknown);
  return rc;
}
