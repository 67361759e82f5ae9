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
 * does not answer with their three favourites alone.
 */
#include <math.h>
#include <string.h>

#include "hybrid.h"

typedef struct {
  rp_hyb_rec base;
  rp_idmap *names; /* segment names */
  int32_t *seg_of; /* per user row of the features, -1 = none */
  int32_t nseg_of;
  float *pop;   /* (nseg + 1) x nitems; row nseg is global */
  int fallback; /* users without a segment get the global row */
} segment;

static void segment_destroy(rp_hyb_rec *r) {
  segment *g = (segment *)r;
  rp_idmap_release(g->names);
  rp_free(g->seg_of);
  rp_free(g->pop);
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

static int segment_one(const rp_hyb_rec *r, const rp_hyb_req *q, rp_hyb_scratch *s, int32_t k,
                       int32_t *items, float *scores, int32_t *n, rp_err *err) {
  (void)err;
  const segment *g = (const segment *)r;
  int32_t seg = rp_hyb_segment_of(r, q->user, NULL);
  *n = 0;
  if (seg < 0 && !g->fallback) return RP_OK;
  int32_t row = seg >= 0 ? seg : g->names->n, ni = r->api.nitems;
  const float *sc = g->pop + (size_t)row * (size_t)ni;
  *n = rp_hyb_topk(sc, ni, r->tiebreak, s->mask, q->allow, q->nallow, k, items, scores);
  return RP_OK;
}

/* Names each user's segment; fills g->names / g->seg_of. */
static int name_segments(segment *g, const rp_features *users, const rp_segment_opts *o,
                         rp_err *err) {
  const rp_csr *m = users->m;
  char *buf = NULL;
  size_t cap = 0;
  int rc = RP_OK;
  g->nseg_of = m->nrows;
  g->seg_of = rp_malloc((size_t)(m->nrows ? m->nrows : 1) * sizeof *g->seg_of);
  if (!g->seg_of) return rp_enomem(err, "segments");
  for (int32_t u = 0; u < m->nrows && !rc; u++) {
    size_t len = 0;
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
    }
    if (!rc && len) rc = rp_idmap_intern(g->names, buf, len, &g->seg_of[u], err);
  }
  rp_free(buf);
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
  double *cs = NULL, *c = NULL, *ns = NULL;
  if (!(g->names = rp_idmap_new(err))) goto fail;
  if (users && o && o->nfields > 0 && (rc = name_segments(g, users, o, err))) goto fail;
  int32_t ni = history->ncols, nseg = g->names->n;
  int ok = 1;
  size_t cells = rp_mulsize((size_t)nseg + 1, (size_t)(ni ? ni : 1), &ok);
  g->pop = ok ? rp_malloc(cells * sizeof *g->pop) : NULL;
  cs = ok ? rp_calloc(cells, sizeof *cs) : NULL;
  ns = rp_calloc((size_t)nseg + 1, sizeof *ns);
  r->tiebreak = rp_calloc((size_t)(ni ? ni : 1), sizeof *r->tiebreak);
  if (!g->pop || !cs || !ns || !r->tiebreak) {
    rp_enomem(err, "segment popularity");
    goto fail;
  }
  c = cs + (size_t)nseg * (size_t)ni; /* the global row */
  for (int32_t u = 0; u < history->nrows; u++) {
    if (history->indptr[u + 1] == history->indptr[u]) continue;
    int32_t s = u < g->nseg_of ? g->seg_of[u] : -1;
    ns[nseg] += 1;
    if (s >= 0) ns[s] += 1;
    for (int64_t t = history->indptr[u]; t < history->indptr[u + 1]; t++) {
      c[history->indices[t]] += (double)history->data[t];
      if (s >= 0)
        cs[(size_t)s * (size_t)ni + (size_t)history->indices[t]] += (double)history->data[t];
    }
  }
  double m = o ? o->shrinkage : 0, N = ns[nseg] > 0 ? ns[nseg] : 1;
  /* an item nobody (in the segment, or with shrinkage anybody) took is
   * not a candidate */
  for (int32_t i = 0; i < ni; i++) {
    g->pop[(size_t)nseg * (size_t)ni + (size_t)i] = c[i] > 0 ? (float)(c[i] / N) : -INFINITY;
    r->tiebreak[i] = (float)c[i];
  }
  for (int32_t s = 0; s < nseg; s++) {
    double den = ns[s] + m;
    for (int32_t i = 0; i < ni; i++) {
      size_t at = (size_t)s * (size_t)ni + (size_t)i;
      double v = den > 0 ? (cs[at] + m * c[i] / N) / den : c[i] / N;
      g->pop[at] = v > 0 ? (float)v : -INFINITY;
    }
  }
  rp_free(cs);
  rp_free(ns);
  r->api.name = "segment_popularity";
  r->api.self = r;
  r->api.users = history->rowmap;
  r->api.items = history->colmap;
  r->api.nusers = history->rowmap ? history->rowmap->n : history->nrows;
  r->api.nitems = ni;
  r->api.recommend = rp_hyb_batch;
  *out = r;
  return RP_OK;
fail:
  rp_free(cs);
  rp_free(ns);
  rp_hyb_rec_free(r);
  return rc ? rc : (err ? err->status : RP_ENOMEM);
}
