/*
 * reader.c -- delimited text to Events (first version: correct, simple;
 * to be replaced by the fast parser).
 */
#include "reader.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rio.h"

void rp_read_opts_init(rp_read_opts *o) {
  memset(o, 0, sizeof *o);
  o->header = 1;
  o->user.name = "user";
  o->item.name = "item";
}

#define MAXF 256

typedef struct {
  rp_reader *rd;
  char *buf;
  size_t cap, len, off;
  int eof;
} linebuf;

/* next line (without \n / \r\n) into *line; returns 1, 0 at end, -1 error */
static int next_line(linebuf *lb, char **line, size_t *n, rp_err *err) {
  for (;;) {
    char *nl = memchr(lb->buf + lb->off, '\n', lb->len - lb->off);
    if (nl) {
      *line = lb->buf + lb->off;
      *n = (size_t)(nl - *line);
      lb->off = (size_t)(nl - lb->buf) + 1;
      if (*n && (*line)[*n - 1] == '\r') (*n)--;
      return 1;
    }
    if (lb->eof) {
      if (lb->off < lb->len) {
        *line = lb->buf + lb->off;
        *n = lb->len - lb->off;
        lb->off = lb->len;
        if (*n && (*line)[*n - 1] == '\r') (*n)--;
        return 1;
      }
      return 0;
    }
    memmove(lb->buf, lb->buf + lb->off, lb->len - lb->off);
    lb->len -= lb->off;
    lb->off = 0;
    if (lb->len + 65536 > lb->cap) {
      char *nb = rp_realloc(lb->buf, lb->cap * 2);
      if (!nb) return rp_enomem(err, "line buffer"), -1;
      lb->buf = nb;
      lb->cap *= 2;
    }
    ssize_t k = rp_reader_read(lb->rd, lb->buf + lb->len, lb->cap - lb->len - 1, err);
    if (k < 0) return -1;
    if (k == 0) lb->eof = 1;
    lb->len += (size_t)k;
  }
}

/* split line into fields in place (RFC 4180 quotes); returns count */
static int split(char *s, size_t n, const char *sep, char **f, size_t *fl) {
  size_t seplen = strlen(sep);
  int k = 0;
  size_t i = 0;
  for (;;) {
    if (k == MAXF) return k + 1;
    if (i < n && s[i] == '"') {
      size_t w = i, r = i + 1;
      f[k] = s + i;
      for (; r < n; r++) {
        if (s[r] == '"') {
          if (r + 1 < n && s[r + 1] == '"') {
            s[w++] = '"';
            r++;
          } else {
            r++;
            break;
          }
        } else {
          s[w++] = s[r];
        }
      }
      fl[k++] = w - i;
      i = r;
      if (i >= n) return k;
      if (strncmp(s + i, sep, seplen) == 0)
        i += seplen;
      else
        return -k - 1; /* garbage after closing quote */
      continue;
    }
    char *p = seplen == 1 ? memchr(s + i, sep[0], n - i) : NULL;
    if (seplen > 1) {
      for (size_t j = i; j + seplen <= n; j++)
        if (memcmp(s + j, sep, seplen) == 0) {
          p = s + j;
          break;
        }
    }
    f[k] = s + i;
    if (!p) {
      fl[k++] = n - i;
      return k;
    }
    fl[k++] = (size_t)(p - (s + i));
    i = (size_t)(p - s) + seplen;
  }
}

static int resolve(const rp_colref *c, char **names, size_t *nl, int nf, int header) {
  if (c->pos > 0) return c->pos - 1;
  if (!c->name) return -2;
  if (!header) return -1;
  for (int j = 0; j < nf; j++)
    if (strlen(c->name) == nl[j] && memcmp(c->name, names[j], nl[j]) == 0) return j;
  return -1;
}

int rp_read_events(const char *path, const rp_read_opts *o, rp_events **out, rp_read_report *rep,
                   rp_err *err) {
  rp_read_report dummy;
  if (!rep) rep = &dummy;
  memset(rep, 0, sizeof *rep);
  *out = NULL;
  double t0 = rp_now();
  linebuf lb = {0};
  lb.cap = 1 << 20;
  lb.buf = rp_malloc(lb.cap);
  if (!lb.buf) return rp_enomem(err, "read buffer");
  lb.rd = rp_reader_open(path, err);
  if (!lb.rd) {
    rp_free(lb.buf);
    return err ? err->status : RP_EIO;
  }
  rp_events *ev = NULL;
  rp_idmap *evnames = NULL;
  int rc = RP_OK;
  char *line;
  size_t n;
  int64_t lineno = 0;
  char *f[MAXF + 1], *hf[MAXF + 1];
  size_t fl[MAXF + 1], hfl[MAXF + 1];
  char *hcopy = NULL;
  char sep[4] = {0};
  int nf_header = 0;
  int r = next_line(&lb, &line, &n, err);
  if (r < 0) {
    rc = err->status;
    goto done;
  }
  if (r == 0) {
    rc = rp_errf(err, RP_EPARSE, "%s: empty file", path);
    goto done;
  }
  lineno = 1;
  if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3, n -= 3;
  if (o->sep)
    snprintf(sep, sizeof sep, "%s", o->sep);
  else if (memmem(line, n, "::", 2))
    strcpy(sep, "::");
  else if (memchr(line, '\t', n))
    strcpy(sep, "\t");
  else if (memchr(line, ',', n))
    strcpy(sep, ",");
  else if (memchr(line, ';', n))
    strcpy(sep, ";");
  else
    strcpy(sep, ",");
  hcopy = rp_malloc(n + 1);
  if (!hcopy) {
    rc = rp_enomem(err, "header");
    goto done;
  }
  memcpy(hcopy, line, n);
  hcopy[n] = 0;
  nf_header = split(hcopy, n, sep, hf, hfl);
  if (nf_header < 0) nf_header = -nf_header - 1;
  int cu = resolve(&o->user, hf, hfl, nf_header, o->header);
  int ci = resolve(&o->item, hf, hfl, nf_header, o->header);
  int cv = resolve(&o->value, hf, hfl, nf_header, o->header);
  int ct = resolve(&o->time, hf, hfl, nf_header, o->header);
  int ce = resolve(&o->event, hf, hfl, nf_header, o->header);
  int cc[RP_MAX_CONTEXT];
  const char *cnames[RP_MAX_CONTEXT];
  for (int c = 0; c < o->ncontext; c++) {
    cc[c] = resolve(&o->context[c], hf, hfl, nf_header, o->header);
    cnames[c] = o->context[c].name ? o->context[c].name : "context";
  }
  struct {
    const char *what;
    int col;
    const rp_colref *ref;
  } req[] = {{"user", cu, &o->user},
             {"item", ci, &o->item},
             {"value", cv, &o->value},
             {"time", ct, &o->time},
             {"event", ce, &o->event}};
  for (int q = 0; q < 5; q++)
    if (req[q].col == -1) {
      rc = rp_errf(err, RP_EINVAL, "%s: %s column '%s' not found in the header", path, req[q].what,
                   req[q].ref->name ? req[q].ref->name : "?");
      goto done;
    }
  for (int c = 0; c < o->ncontext; c++)
    if (cc[c] < 0) {
      rc = rp_errf(err, RP_EINVAL, "%s: context column '%s' not found in the header", path,
                   cnames[c]);
      goto done;
    }
  if (ce >= 0) {
    evnames = rp_idmap_new(err);
    if (!evnames) {
      rc = RP_ENOMEM;
      goto done;
    }
  }
  ev = rp_events_new(o->users, o->items, ct >= 0, evnames, o->ncontext, cnames, NULL, err);
  if (!ev) {
    rc = err->status;
    goto done;
  }
  int nf_expect = nf_header;
  int first_data = !o->header;
  for (;;) {
    if (!first_data) {
      r = next_line(&lb, &line, &n, err);
      if (r < 0) {
        rc = err->status;
        goto done;
      }
      if (r == 0) break;
      lineno++;
    }
    first_data = 0;
    if (n == 0) continue;
    rep->lines++;
    rep->bytes += n + 1;
    int nf = split(line, n, sep, f, fl);
    char msg[256];
    msg[0] = 0;
    if (nf < 0)
      snprintf(msg, sizeof msg, "%s:%lld: text after a closing quote", path, (long long)lineno);
    else if (nf != nf_expect)
      snprintf(msg, sizeof msg, "%s:%lld: expected %d fields, found %d", path, (long long)lineno,
               nf_expect, nf);
    float value = 1.0f;
    int64_t tm = 0;
    if (!msg[0] && cv >= 0) {
      char tmp[64], *end;
      size_t L = fl[cv] < 63 ? fl[cv] : 63;
      memcpy(tmp, f[cv], L);
      tmp[L] = 0;
      double d = strtod(tmp, &end);
      if (end == tmp || *end || !isfinite(d))
        snprintf(msg, sizeof msg, "%s:%lld: value column: '%s' is not a finite number", path,
                 (long long)lineno, tmp);
      value = (float)d;
    }
    if (!msg[0] && ct >= 0) {
      char tmp[64], *end;
      size_t L = fl[ct] < 63 ? fl[ct] : 63;
      memcpy(tmp, f[ct], L);
      tmp[L] = 0;
      errno = 0;
      long long v = strtoll(tmp, &end, 10);
      if (end == tmp || *end || errno)
        snprintf(msg, sizeof msg, "%s:%lld: time column: '%s' is not a time", path,
                 (long long)lineno, tmp);
      tm = o->time_unit == RP_TIME_MS ? v / 1000 : v;
    }
    if (!msg[0] && (fl[cu] == 0 || fl[ci] == 0))
      snprintf(msg, sizeof msg, "%s:%lld: empty %s id", path, (long long)lineno,
               fl[cu] == 0 ? "user" : "item");
    if (msg[0]) {
      if (o->on_error == RP_ONERR_STOP) {
        rc = rp_errf(err, RP_EPARSE, "%s", msg);
        goto done;
      }
      if (rep->nfirst < RP_READ_FIRST_ERRORS) snprintf(rep->first[rep->nfirst++], 256, "%s", msg);
      rep->skipped++;
      continue;
    }
    int32_t code = 0;
    if (ce >= 0) {
      if (o->nweights) {
        int w = -1;
        for (int q = 0; q < o->nweights; q++)
          if (strlen(o->weight_names[q]) == fl[ce] &&
              memcmp(o->weight_names[q], f[ce], fl[ce]) == 0)
            w = q;
        if (w < 0) {
          rep->dropped_type++;
          continue;
        }
        value = o->weight_values[w];
      }
      if ((rc = rp_idmap_intern(evnames, f[ce], fl[ce], &code, err))) goto done;
    }
    int32_t u, it;
    if (o->unknown == RP_UNKNOWN_DROP) {
      u = rp_idmap_find(ev->users, f[cu], fl[cu]);
      it = rp_idmap_find(ev->items, f[ci], fl[ci]);
      if (u < 0 || it < 0) {
        rep->dropped_unknown++;
        continue;
      }
    } else if ((rc = rp_idmap_intern(ev->users, f[cu], fl[cu], &u, err)) ||
               (rc = rp_idmap_intern(ev->items, f[ci], fl[ci], &it, err))) {
      goto done;
    }
    if (ev->n == ev->cap && (rc = rp_events_reserve(ev, ev->cap * 2, err))) goto done;
    int64_t j = ev->n;
    ev->user[j] = u;
    ev->item[j] = it;
    ev->value[j] = value;
    if (ev->time) ev->time[j] = tm;
    if (ev->event) ev->event[j] = (int16_t)code;
    for (int c = 0; c < o->ncontext; c++) {
      int32_t k;
      if ((rc = rp_idmap_intern(ev->context_dicts[c], f[cc[c]], fl[cc[c]], &k, err))) goto done;
      ev->context[c][j] = k;
    }
    ev->n++;
  }
  rep->rows = ev->n;
done:
  rep->seconds = rp_now() - t0;
  rp_free(hcopy);
  rp_free(lb.buf);
  rp_reader_close(lb.rd);
  rp_idmap_release(evnames);
  if (rc) {
    rp_events_free(ev);
    return rc;
  }
  *out = ev;
  return RP_OK;
}
