/*
 * reader_header.c -- the first record of an event log: the separator, the
 * header, which column is which, and the checks of the read options.
 */
#include "reader_impl.h"

/* ---- header, separator, columns ------------------------------------------------------ */
typedef struct hdr {
  int n, cap;
  const char **name;
  size_t *len;
  char **owned; /* unescaped copies of names with doubled quotes */
  int oom;
} hdr;

static void hdr_free(hdr *h) {
  for (int j = 0; j < h->n; j++) rp_free(h->owned[j]);
  rp_free(h->name);
  rp_free(h->len);
  rp_free(h->owned);
  memset(h, 0, sizeof *h);
}

static void hdr_field(void *ud, int j, const char *s, size_t n, int doubled) {
  hdr *h = ud;
  if (h->oom) return;
  if (j >= h->cap) {
    int nc = h->cap ? h->cap * 2 : 32;
    const char **a = rp_realloc(h->name, (size_t)nc * sizeof *a);
    if (a) h->name = a;
    size_t *b = rp_realloc(h->len, (size_t)nc * sizeof *b);
    if (b) h->len = b;
    char **o = rp_realloc(h->owned, (size_t)nc * sizeof *o);
    if (o) h->owned = o;
    if (!a || !b || !o) {
      h->oom = 1;
      return;
    }
    h->cap = nc;
  }
  h->owned[j] = NULL;
  h->n = j + 1;
  if (doubled) {
    char *w = rp_malloc(n + 1);
    if (!w) {
      h->oom = 1;
      return;
    }
    h->owned[j] = w;
    n = rp_io_unquote(w, s, n);
    s = w;
  }
  h->name[j] = s;
  h->len[j] = n;
}

int rp_io_detect_sep(const char *p, size_t n, char *sep) {
  const char *end = p + n;
  int inq = 0, dcolon = 0;
  int64_t cnt[3] = {0, 0, 0};
  for (; p < end; p++) {
    char ch = *p;
    if (ch == '"') inq = !inq;
    if (inq) continue;
    if (ch == '\n') break;
    if (ch == ':' && p + 1 < end && p[1] == ':') dcolon = 1;
    cnt[0] += ch == '\t';
    cnt[1] += ch == ',';
    cnt[2] += ch == ';';
  }
  if (dcolon) {
    strcpy(sep, "::");
    return 1;
  }
  int best = 1;
  if (cnt[0] >= cnt[1] && cnt[0] >= cnt[2] && cnt[0] > 0)
    best = 0;
  else if (cnt[2] > cnt[1])
    best = 2;
  static const char *const s[] = {"\t", ",", ";"};
  strcpy(sep, s[best]);
  return cnt[0] + cnt[1] + cnt[2] > 0;
}

static const char *role_label(int r) {
  static const char *const names[] = {"user", "item", "value", "time", "event"};
  return r < R_CTX0 ? names[r] : "context";
}

/* Resolves role r's column; returns RP_OK (col set, -1 = absent) or an error. */
static int resolve(rctx *c, int r, const rp_io_colref *ref, const hdr *h, int header, rp_err *err) {
  c->col[r] = -1;
  if (ref->pos > 0) {
    if (ref->pos > c->nf)
      return rp_errf(err, RP_EINVAL, "%s: %s column %d requested, but line %lld has %d fields",
                     c->path, role_label(r), ref->pos, (long long)c->line1, c->nf);
    c->col[r] = ref->pos - 1;
    if (header)
      snprintf(c->colname[r], sizeof c->colname[r], "column '%.*s'",
               (int)(h->len[ref->pos - 1] > 60 ? 60 : h->len[ref->pos - 1]), h->name[ref->pos - 1]);
    else
      snprintf(c->colname[r], sizeof c->colname[r], "column %d", ref->pos);
    return RP_OK;
  }
  const char *one[2] = {ref->name, NULL};
  const char *const *cands = ref->name ? one : r <= R_ITEM ? rp_io_read_default_names(r) : NULL;
  if (!cands) return RP_OK;
  if (!header) {
    if (r <= R_ITEM && !ref->name) {
      /* columns 1 and 2: the first line must have them */
      if (r >= c->nf)
        return rp_errf(err, RP_EPARSE, "%s:%lld: expected at least 2 fields (user, item), found %d",
                       c->path, (long long)c->line1, c->nf);
      c->col[r] = r;
      snprintf(c->colname[r], sizeof c->colname[r], "column %d", r + 1);
      return RP_OK;
    }
    return rp_errf(err, RP_EINVAL,
                   "%s: %s column '%s' named, but the file is read without a header "
                   "(give a 1-based position)",
                   c->path, role_label(r), ref->name);
  }
  for (int k = 0; cands[k]; k++) {
    size_t L = strlen(cands[k]);
    int found = -1;
    for (int j = 0; j < h->n; j++)
      if (h->len[j] == L && memcmp(h->name[j], cands[k], L) == 0) {
        if (found >= 0)
          return rp_errf(err, RP_EINVAL, "%s: column '%s' appears more than once in the header",
                         c->path, cands[k]);
        found = j;
      }
    if (found >= 0) {
      c->col[r] = found;
      snprintf(c->colname[r], sizeof c->colname[r], "column '%.60s'", cands[k]);
      return RP_OK;
    }
  }
  /* not found: list the header */
  char list[600];
  size_t k = 0;
  for (int j = 0; j < h->n && k < sizeof list - 80; j++)
    k += (size_t)snprintf(list + k, sizeof list - k, "%s%.*s", j ? ", " : "",
                          (int)(h->len[j] > 40 ? 40 : h->len[j]), h->name[j]);
  if (h->n && k >= sizeof list - 80) snprintf(list + k, sizeof list - k, ", ...");
  if (ref->name)
    return rp_errf(err, RP_EINVAL, "%s: column '%s' not found in header (columns: %s)", c->path,
                   ref->name, list);
  return rp_errf(err, RP_EINVAL,
                 "%s: no %s column in header (columns: %s); name it with the '%s' option", c->path,
                 role_label(r), list, role_label(r));
}

int rp_io_read_check(const char *path, const rp_io_read_opts *o, rp_err *err) {
  if (o->sep && (o->sep[0] == 0 || strlen(o->sep) > 4 || strchr(o->sep, '"') ||
                 strchr(o->sep, '\n') || strchr(o->sep, '\r')))
    return rp_errf(err, RP_EINVAL, "%s: bad separator (1 to 4 bytes, no quote or line end)", path);
  if (o->ncontext < 0 || o->ncontext > RP_MAX_CONTEXT)
    return rp_errf(err, RP_EINVAL, "%s: at most %d context columns", path, RP_MAX_CONTEXT);
  if (o->nweights < 0 || o->nweights > RP_READ_MAX_WEIGHTS)
    return rp_errf(err, RP_EINVAL, "%s: at most %d event weights", path, RP_READ_MAX_WEIGHTS);
  if (o->nweights && !o->event.name && o->event.pos <= 0)
    return rp_errf(err, RP_EINVAL, "%s: weights need an event column (option 'event')", path);
  if (o->time_unit < RP_TIME_AUTO || o->time_unit > RP_TIME_MS)
    return rp_errf(err, RP_EINVAL, "%s: bad time unit", path);
  if (o->time_context && !o->time.name && o->time.pos <= 0)
    return rp_errf(err, RP_EINVAL, "%s: time_context needs a time column (option 'time')", path);
  if (o->max_line_bytes < 1 || (uint64_t)o->max_line_bytes > SIZE_MAX / 4)
    return rp_errf(err, RP_EINVAL,
                   "%s: max_line_bytes must be a positive number of bytes, got %lld", path,
                   (long long)o->max_line_bytes);
  return RP_OK;
}

/* Does p[0..n) hold the end of its first record (a newline outside
 * quotes, as rp_io_detect_sep reads quotes)? */
static int first_record_ends(const char *p, size_t n) {
  int inq = 0;
  for (const char *e = p + n; p < e; p++) {
    const char *q = inq ? memchr(p, '"', (size_t)(e - p)) : NULL;
    if (inq && !q) return 0;
    if (inq)
      p = q, inq = 0;
    else if (*p == '"')
      inq = 1;
    else if (*p == '\n')
      return 1;
  }
  return 0;
}

/* Sets up c from the first record of the buffer at `at` (BOM and blank
 * lines skipped; it is line c->line1); *hdr_end is past the header line when
 * there is one. */
int rp_io_read_setup(rctx *c, const rp_io_read_opts *o, rbuf *b, size_t at, size_t *hdr_end,
                     int64_t *hdr_lines, rp_err *err) {
  int rc;
  if (o->sep) {
    snprintf(c->sep, sizeof c->sep, "%s", o->sep);
  } else {
    /* the separator is counted on the whole first line, however long: a
     * partial line could miss it and give a wrong field count */
    while (!b->eof && !first_record_ends(b->buf + at, b->len - at)) {
      rc = b->len == b->cap ? rp_io_buf_grow_line(b, at, o->max_line_bytes, c->line1, err) : RP_OK;
      if (rc || (rc = rp_io_buf_refill(b, 0, err))) return rc;
    }
    rp_io_detect_sep(b->buf + at, b->len - at, c->sep);
  }
  c->seplen = strlen(c->sep);
  /* the first record, all fields */
  hdr h = {0};
  const char *next;
  int64_t nl;
  int nfields;
  char msg[160];
  const char *f[NROLES];
  size_t fl[NROLES];
  int r;
  for (;;) {
    r = rp_io_parse_record(c, NULL, b->buf + at, b->buf + b->len, b->eof, f, fl, &nfields, &next,
                           &nl, msg, sizeof msg, hdr_field, &h);
    if (r != 0 || h.oom) break;
    hdr_free(&h); /* incomplete: read more and parse again */
    rc = b->len == b->cap ? rp_io_buf_grow_line(b, at, o->max_line_bytes, c->line1, err) : RP_OK;
    if (rc || (rc = rp_io_buf_refill(b, 0, err))) return rc;
  }
  rc = RP_OK;
  if (h.oom) {
    rc = rp_enomem(err, "header");
    goto out;
  }
  if (r < 0) {
    rc = rp_errf(err, RP_EPARSE, "%s:%lld: %s", c->path, (long long)c->line1, msg);
    goto out;
  }
  size_t raw = (size_t)(next - (b->buf + at)) - (next[-1] == '\n');
  if ((uint64_t)raw > (uint64_t)o->max_line_bytes) {
    rc = rp_io_too_long(err, c->path, c->line1, o->max_line_bytes);
    goto out;
  }
  c->nf = nfields;
  *hdr_end = o->header ? (size_t)(next - b->buf) : at;
  *hdr_lines = o->header ? nl : 0;
  const rp_io_colref *refs[R_CTX0] = {&o->user, &o->item, &o->value, &o->time, &o->event};
  for (int k = 0; k < NROLES; k++) c->col[k] = -1;
  for (int k = 0; k < R_CTX0 && !rc; k++) rc = resolve(c, k, refs[k], &h, o->header, err);
  for (int k = 0; k < o->ncontext && !rc; k++)
    rc = resolve(c, R_CTX0 + k, &o->context[k], &h, o->header, err);
  if (rc) goto out;
  for (int k = 0; k < o->ncontext; k++)
    if (c->col[R_CTX0 + k] < 0) {
      rc = rp_errf(err, RP_EINVAL, "%s: context column %d is neither a name nor a position",
                   c->path, k + 1);
      goto out;
    }
  c->role = rp_malloc((size_t)c->nf);
  if (!c->role) {
    rc = rp_enomem(err, "read columns");
    goto out;
  }
  memset(c->role, -1, (size_t)c->nf);
  for (int k = 0; k < NROLES; k++) {
    int j = c->col[k];
    if (j < 0) continue;
    if (RP_NEVER(j >= c->nf)) { /* resolve() keeps every column within the first line */
      rc = rp_errf(err, RP_EINVAL, "%s: internal error: column %d of %d", c->path, j + 1, c->nf);
      goto out;
    }
    if (c->role[j] >= 0) {
      rc = rp_errf(err, RP_EINVAL, "%s: %s is used for both %s and %s", c->path, c->colname[k],
                   role_label(c->role[j]), role_label(k));
      goto out;
    }
    c->role[j] = (int8_t)k;
  }
out:
  hdr_free(&h);
  return rc;
}
