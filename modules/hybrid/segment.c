/*
 * segment.c -- popularity within user segments ("what people like this one
 * take"), smoothed towards global popularity.
 *
 * A segment is the set of a user's features in the chosen fields, named by
 * joining them ("age=[25,35)&gender=M").  With w_ui the history weights,
 * c_s(i) = sum over the segment's users of w_ui, N_s its users with a
 * history, c(i) and N the same over everyone, an item scores
 *   (c_s(i) + m c(i) / N) / (N_s + m)
 * for a user of segment s: the share of the segment that took it, shrunk
 * towards the global share by m pseudo-users, so a segment of three people
 * does not answer with their three favourites alone.  Only the segments'
 * own counts are stored (a sparse segments x items matrix, at most the
 * history's size); a request fills the shrunk global share and overwrites
 * the segment's items.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid.h"

typedef struct {
  rp_hyb_rec base;
  rp_idmap *names; /* segment names */
  int32_t *seg_of; /* per user row of the features, -1 = none */
  int32_t nseg_of;
  rp_csr *cs;    /* segments x items: c_s(i), only what each segment took */
  double *ns;    /* N_s */
  double *share; /* c(i) / N */
  float *global; /* c(i) / N, -inf when nobody took i */
  double m;      /* shrinkage */
  int fallback;  /* users without a segment get global popularity */
  /* request-time look-up: the segment's fields, and each segment by its
   * features sorted and joined with \x1f (independent of column order) */
  char *fields[8];
  int nfields;
  rp_idmap *canon;
  int32_t *canon_seg;
} segment;

static void segment_destroy(rp_hyb_rec *r) {
  segment *g = (segment *)r;
  for (int f = 0; f < g->nfields; f++) rp_free(g->fields[f]);
  rp_idmap_release(g->canon);
  rp_free(g->canon_seg);
  rp_idmap_release(g->names);
  rp_free(g->seg_of);
  rp_csr_free(g->cs);
  rp_free(g->ns);
  rp_free(g->share);
  rp_free(g->global);
}

int32_t rp_hyb_segment_of(const rp_hyb_rec *r, int32_t u, int32_t *nsegments) {
  const segment *g = (const segment *)r;
  if (nsegments) *nsegments = g->names->n;
  return u >= 0 && u < g->nseg_of ? g->seg_of[u] : -1;
}

const char *rp_hyb_segment_name(const rp_hyb_rec *r, int32_t s) {
  const segment *g = (const segment *)r;
  return s >= 0 && s < g->names->n ? rp_idmap_id(g->names, s, NULL) : "";
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* parts[0..n) sorted and joined with \x1f into *buf (grown as needed) */
static int join_sorted(const char **parts, int n, char **buf, size_t *cap, size_t *len) {
  qsort(parts, (size_t)n, sizeof *parts, cmp_cstr);
  size_t need = 1;
  for (int i = 0; i < n; i++) need += strlen(parts[i]) + 1;
  if (need > *cap) {
    char *b = rp_realloc(*buf, need * 2);
    if (!b) return -1;
    *buf = b;
    *cap = need * 2;
  }
  *len = 0;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(parts[i]);
    if (i) (*buf)[(*len)++] = '\x1f';
    memcpy(*buf + *len, parts[i], l);
    *len += l;
  }
  (*buf)[*len] = 0;
  return 0;
}

int32_t rp_hyb_segment_find(const rp_hyb_rec *r, const char *const *keys, const char *const *vals,
                            int32_t n) {
  if (r->kind != RP_HYB_SEGMENT) return -1;
  const segment *g = (const segment *)r;
  if (!g->canon || g->nfields == 0) return -1;
  char comp[8][300];
  const char *parts[8];
  int np = 0;
  for (int f = 0; f < g->nfields; f++)
    for (int32_t i = 0; i < n; i++)
      if (strcmp(keys[i], g->fields[f]) == 0) {
        int w = snprintf(comp[np], sizeof comp[np], "%s=%s", keys[i], vals[i]);
        if (w > 0 && (size_t)w < sizeof comp[np]) parts[np] = comp[np], np++;
        break;
      }
  if (np == 0) return -1;
  char *buf = NULL;
  size_t cap = 0, len = 0;
  int32_t s = -1;
  if (join_sorted(parts, np, &buf, &cap, &len) == 0) {
    int32_t c = rp_idmap_find(g->canon, buf, len);
    s = c >= 0 ? g->canon_seg[c] : -1;
  }
  rp_free(buf);
  return s;
}

static int segment_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                       int32_t *items, float *scores, int32_t *n, rp_err *err) {
  (void)err;
  const segment *g = (const segment *)r;
  int32_t seg = rp_hyb_segment_of(r, q->user, NULL);
  if (seg < 0) seg = q->segment;
  *n = 0;
  if (seg < 0 && !g->fallback) return RP_OK;
  int32_t ni = r->api.nitems;
  if (seg < 0) {
    *n = rp_hyb_topk(g->global, ni, r->tiebreak, s->mask, q->allow, q->nallow, k, items, scores);
    return RP_OK;
  }
  /* (c_s(i) + m c(i)/N) / (N_s + m): the shrunk global share for every
   * item, then the segment's own counts where it has any */
  double den = g->ns[seg] + g->m;
  float *sc = s->scores;
  for (int32_t i = 0; i < ni; i++) {
    double v = den > 0 ? (0 + g->m * g->share[i]) / den : g->share[i];
    sc[i] = v > 0 ? (float)v : -INFINITY;
  }
  for (int64_t t = g->cs->indptr[seg]; t < g->cs->indptr[seg + 1]; t++) {
    int32_t i = g->cs->indices[t];
    double v = den > 0 ? ((double)g->cs->data[t] + g->m * g->share[i]) / den : g->share[i];
    sc[i] = v > 0 ? (float)v : -INFINITY;
  }
  *n = rp_hyb_topk(sc, ni, r->tiebreak, s->mask, q->allow, q->nallow, k, items, scores);
  return RP_OK;
}

/* Names each user's segment; fills g->names / g->seg_of. */
static int name_segments(segment *g, const rp_features *users, const rp_segment_opts *o,
                         rp_err *err) {
  const rp_csr *m = users->m;
  char *buf = NULL, *cbuf = NULL;
  size_t cap = 0, ccap = 0, clen;
  int rc = RP_OK;
  const char **parts = NULL;
  int32_t pcap = 0;
  g->nseg_of = m->nrows;
  g->seg_of = rp_malloc((size_t)(m->nrows ? m->nrows : 1) * sizeof *g->seg_of);
  if (!g->seg_of) return rp_enomem(err, "segments");
  for (int q = 0; q < o->nfields && q < 8; q++) {
    const char *fname = users->field_names[o->fields[q]];
    if (!(g->fields[q] = rp_strdup(fname ? fname : ""))) return rp_enomem(err, "segments");
    g->nfields = q + 1;
  }
  if (!(g->canon = rp_idmap_new(err))) return RP_ENOMEM;
  for (int32_t u = 0; u < m->nrows && !rc; u++) {
    size_t len = 0;
    int np = 0;
    g->seg_of[u] = -1;
    for (int64_t t = m->indptr[u]; t < m->indptr[u + 1]; t++) {
      int32_t j = m->indices[t], in = 0;
      for (int q = 0; q < o->nfields; q++) in |= users->field_of[j] == o->fields[q];
      if (!in || m->data[t] == 0.0f) continue;
      size_t fl;
      const char *fname = rp_idmap_id(m->colmap, j, &fl);
      if (len + fl + 2 > cap) {
        size_t nc = (len + fl + 2) * 2;
        char *nb = rp_realloc(buf, nc);
        if (!nb) {
          rc = rp_enomem(err, "segments");
          break;
        }
        buf = nb;
        cap = nc;
      }
      if (len) buf[len++] = '&';
      memcpy(buf + len, fname, fl);
      len += fl;
      if (np == pcap) {
        int32_t nc = pcap ? 2 * pcap : 16;
        const char **np2 = rp_realloc(parts, (size_t)nc * sizeof *parts);
        if (!np2) {
          rc = rp_enomem(err, "segments");
          break;
        }
        parts = np2;
        pcap = nc;
      }
      parts[np++] = fname;
    }
    if (rc || !len) continue;
    int32_t before = g->names->n, c;
    rc = rp_idmap_intern(g->names, buf, len, &g->seg_of[u], err);
    if (!rc && g->names->n > before) { /* a new segment: its canonical name too */
      if (join_sorted(parts, np, &cbuf, &ccap, &clen)) {
        rc = rp_enomem(err, "segments");
      } else if (!(rc = rp_idmap_intern(g->canon, cbuf, clen, &c, err))) {
        int32_t *cs = rp_realloc(g->canon_seg, (size_t)g->canon->n * sizeof *cs);
        if (!cs)
          rc = rp_enomem(err, "segments");
        else
          g->canon_seg = cs, cs[c] = g->seg_of[u];
      }
    }
  }
  rp_free(buf);
  rp_free(cbuf);
  rp_free(parts);
  return rc;
}

int rp_hyb_segment_new(const rp_csr *history, const rp_features *users, const rp_segment_opts *o,
                       rp_hyb_rec **out, rp_err *err) {
  *out = NULL;
  if (users && history->rowmap && users->m->rowmap && users->m->rowmap != history->rowmap)
    return rp_errf(err, RP_EINVAL,
                   "segment_popularity: the user features are not on the training data's user "
                   "map (read them with map = ev.users)");
  if (o && (o->nfields < 0 || o->nfields > 8 || o->shrinkage < 0))
    return rp_errf(err, RP_EINVAL, "segment_popularity: bad options");
  segment *g = rp_calloc(1, sizeof *g);
  if (!g) return rp_enomem(err, "segment popularity");
  rp_hyb_rec *r = &g->base;
  r->destroy = segment_destroy;
  r->kind = RP_HYB_SEGMENT;
  r->reason = o && o->nfields > 0 ? "segment" : "popularity";
  r->one = segment_one;
  g->fallback = !(o && o->strict);
  int rc = RP_OK;
  int32_t *tr = NULL, *tc = NULL;
  float *tv = NULL;
  if (!(g->names = rp_idmap_new(err))) goto fail;
  if (users && o && o->nfields > 0 && (rc = name_segments(g, users, o, err))) goto fail;
  int32_t ni = history->ncols, nseg = g->names->n;
  g->m = o ? o->shrinkage : 0;
  g->ns = rp_calloc((size_t)nseg + 1, sizeof *g->ns);
  g->share = rp_calloc((size_t)(ni ? ni : 1), sizeof *g->share);
  g->global = rp_malloc((size_t)(ni ? ni : 1) * sizeof *g->global);
  r->tiebreak = rp_calloc((size_t)(ni ? ni : 1), sizeof *r->tiebreak);
  size_t nz = (size_t)(history->nnz ? history->nnz : 1);
  tr = rp_malloc(nz * sizeof *tr), tc = rp_malloc(nz * sizeof *tc), tv = rp_malloc(nz * sizeof *tv);
  if (!g->ns || !g->share || !g->global || !r->tiebreak || !tr || !tc || !tv) {
    rp_enomem(err, "segment popularity");
    goto fail;
  }
  /* global counts (in share, divided below) and the segments' triplets */
  double N = 0;
  int64_t nt = 0;
  for (int32_t u = 0; u < history->nrows; u++) {
    if (history->indptr[u + 1] == history->indptr[u]) continue;
    int32_t sg = u < g->nseg_of ? g->seg_of[u] : -1;
    N += 1;
    if (sg >= 0) g->ns[sg] += 1;
    for (int64_t t = history->indptr[u]; t < history->indptr[u + 1]; t++) {
      g->share[history->indices[t]] += (double)history->data[t];
      if (sg >= 0) tr[nt] = sg, tc[nt] = history->indices[t], tv[nt++] = history->data[t];
    }
  }
  if (!(g->cs = rp_csr_build(nseg, ni, tr, tc, tv, NULL, nt, RP_AGG_SUM, NULL, NULL, err)))
    goto fail;
  if (N <= 0) N = 1;
  /* an item nobody took is not a candidate */
  for (int32_t i = 0; i < ni; i++) {
    r->tiebreak[i] = (float)g->share[i];
    g->share[i] /= N;
    g->global[i] = g->share[i] > 0 ? (float)g->share[i] : -INFINITY;
  }
  rp_free(tr);
  rp_free(tc);
  rp_free(tv);
  r->api.name = "segment_popularity";
  r->api.self = r;
  r->api.users = history->rowmap;
  r->api.items = history->colmap;
  r->api.nusers = history->rowmap ? history->rowmap->n : history->nrows;
  r->api.nitems = ni;
  r->api.recommend = rp_hyb_batch;
  r->api.one = rp_hyb_one;
  *out = r;
  return RP_OK;
fail:
  rp_free(tr);
  rp_free(tc);
  rp_free(tv);
  rp_hyb_rec_free(r);
  return rc ? rc : (err ? err->status : RP_ENOMEM);
}
