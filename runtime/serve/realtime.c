/*
 * realtime.c -- real-time signals in the served model (issue 13, setting
 * realtime = true).
 *
 * POST /v1/events records each event; with realtime on, the events of
 * users the served ALS model knows are also kept here (per generation:
 * a reload starts from the new model's own training) and, before the POST
 * is answered, each such user's factors are recomputed by
 * rp_als_partial_fit from their row of the seen matrix (the training
 * interactions) plus every event kept for them, each weighted by
 * realtime_weights ("purchase=5,addtocart=3,view=1"; types not named
 * weigh 1), and the user's session is set (rp_als_set_session): each item
 * of the kept events gains realtime_session_weight per event in the
 * user's answers -- on the example shop the next events of a user are
 * mostly re-views, add-to-carts and purchases of what they just saw
 * (tests/bench/RESULTS.md, "realtime quality").  The next answer for the
 * user therefore reflects the events (the caller drops the user's cached
 * answers).  Users the model does not
 * know and items it does not know are left out: the maps of a served
 * model are shared read-only, and new users are served by fold-in from
 * their request's history anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "als.h"
#include "serve.h"

typedef struct rt_event {
  char *item;
  float w;
} rt_event;

typedef struct rt_user {
  struct rt_user *next;
  char *user;
  rt_event *ev;
  int32_t n, cap;
} rt_user;

#define RT_BUCKETS 4096

struct rp_realtime {
  pthread_mutex_t lock;
  uint64_t serial; /* the generation the users' events belong to */
  rt_user *bucket[RT_BUCKETS];
};

rp_realtime *rp_realtime_new(rp_err *err) {
  rp_realtime *rt = rp_calloc(1, sizeof *rt);
  if (!rt) {
    rp_enomem(err, "realtime state");
    return NULL;
  }
  pthread_mutex_init(&rt->lock, NULL);
  return rt;
}

static void clear(rp_realtime *rt) {
  for (int b = 0; b < RT_BUCKETS; b++) {
    rt_user *u = rt->bucket[b];
    while (u) {
      rt_user *next = u->next;
      for (int32_t i = 0; i < u->n; i++) rp_free(u->ev[i].item);
      rp_free(u->ev);
      rp_free(u->user);
      rp_free(u);
      u = next;
    }
    rt->bucket[b] = NULL;
  }
}

void rp_realtime_free(rp_realtime *rt) {
  if (!rt) return;
  clear(rt);
  pthread_mutex_destroy(&rt->lock);
  rp_free(rt);
}

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* the user's entry, created when absent (NULL when out of memory) */
static rt_user *user_of(rp_realtime *rt, const char *id) {
  uint32_t b = rp_idmap_hash(id, strlen(id)) % RT_BUCKETS;
  for (rt_user *u = rt->bucket[b]; u; u = u->next)
    if (strcmp(u->user, id) == 0) return u;
  rt_user *u = rp_calloc(1, sizeof *u);
  if (!u || !(u->user = dup(id))) {
    rp_free(u);
    return NULL;
  }
  u->next = rt->bucket[b];
  rt->bucket[b] = u;
  return u;
}

/* the weight of event type `type` in "t1=w1,t2=w2,..." (1 when not named) */
static float weight(const char *spec, const char *type) {
  size_t tl = strlen(type);
  for (const char *p = spec; p && *p;) {
    const char *eq = strchr(p, '='), *end = strchr(p, ',');
    if (!eq || (end && eq > end)) break;
    if ((size_t)(eq - p) == tl && strncmp(p, type, tl) == 0) return strtof(eq + 1, NULL);
    p = end ? end + 1 : NULL;
  }
  return 1.0f;
}

/* Refits user u of model m from the seen row plus the kept events, then
 * sets the user's session: the items of the kept events, session_w each. */
static void refit(rp_als_model *m, const rp_csr *seen, int32_t u, const rt_user *e,
                  double session_w) {
  int64_t ns = seen && u < seen->nrows ? rp_csr_rowlen(seen, u) : 0, n = 0;
  int32_t *r = rp_malloc(sizeof(int32_t) * (size_t)(ns + e->n + 1));
  int32_t *c = rp_malloc(sizeof(int32_t) * (size_t)(ns + e->n + 1));
  float *v = rp_malloc(sizeof(float) * (size_t)(ns + e->n + 1));
  rp_err err;
  if (!r || !c || !v) {
    rp_log(RP_LOG_WARN, "serve: realtime: out of memory refitting a user");
    goto done;
  }
  for (int64_t j = 0; j < ns; j++) {
    int64_t a = seen->indptr[u] + j;
    if (seen->indices[a] >= m->nitems) continue;
    r[n] = 0, c[n] = seen->indices[a], v[n++] = seen->data[a];
  }
  int64_t first = n;
  for (int32_t j = 0; j < e->n; j++) {
    int32_t i = rp_idmap_find(m->items, e->ev[j].item, strlen(e->ev[j].item));
    if (i < 0 || i >= m->nitems) continue;
    r[n] = 0, c[n] = i, v[n++] = e->ev[j].w;
  }
  rp_csr *row = rp_csr_build(1, m->nitems, r, c, v, NULL, n, RP_AGG_SUM, NULL, NULL, &err);
  if (!row || rp_als_partial_fit(m, 0, &u, row, 1, &err))
    rp_log(RP_LOG_WARN, "serve: realtime: refitting user '%s' failed: %s", e->user, err.msg);
  /* c[first..n): the events' items (rp_csr_build leaves c as it was) */
  else if (session_w > 0 &&
           rp_als_set_session(m, u, c + first, (int32_t)(n - first), (float)session_w, &err))
    rp_log(RP_LOG_WARN, "serve: realtime: the session of user '%s' failed: %s", e->user, err.msg);
  rp_csr_free(row);
done:
  rp_free(r), rp_free(c), rp_free(v);
}

void rp_realtime_events(rp_realtime *rt, const rp_gen *g, const char *weights, const rp_sevent *ev,
                        int n) {
  /* the generation's ALS models (workers may share one) and their seen */
  rp_als_model *models[64];
  const rp_csr *seens[64];
  int nm = 0;
  for (int w = 0; w < g->nworkers && nm < 64; w++) {
    const rp_recommender *rec = g->w[w].rec;
    if (!rec || strcmp(rec->name, "als") != 0) continue;
    rp_als_model *m = rec->self;
    int seen_before = 0;
    for (int a = 0; a < nm; a++) seen_before |= models[a] == m;
    if (seen_before || !m->users || !m->items) continue;
    const rp_csr *s = g->w[w].seen;
    if (s && (!rp_als_maps_compatible(m->users, s->rowmap) ||
              !rp_als_maps_compatible(m->items, s->colmap)))
      s = NULL;
    models[nm] = m, seens[nm++] = s;
  }
  if (!nm) return;
  pthread_mutex_lock(&rt->lock);
  if (rt->serial != g->serial) clear(rt), rt->serial = g->serial;
  for (int i = 0; i < n; i++) {
    int known = 0;
    for (int a = 0; a < nm && !known; a++)
      known = rp_idmap_find(models[a]->users, ev[i].user, strlen(ev[i].user)) >= 0;
    if (!known) continue;
    rt_user *u = user_of(rt, ev[i].user);
    if (u && u->n == u->cap) {
      int32_t cap = u->cap ? 2 * u->cap : 8;
      rt_event *ne = rp_realloc(u->ev, sizeof *ne * (size_t)cap);
      if (ne) u->ev = ne, u->cap = cap;
    }
    if (!u || u->n == u->cap || !(u->ev[u->n].item = dup(ev[i].item))) {
      rp_log(RP_LOG_WARN, "serve: realtime: out of memory keeping an event");
      continue;
    }
    u->ev[u->n++].w = weight(weights, ev[i].event);
  }
  /* refit each user of the batch once (events arrive grouped by user or
   * not: a user already refitted in this batch is skipped) */
  for (int i = 0; i < n; i++) {
    int again = 0;
    for (int j = 0; j < i && !again; j++) again = strcmp(ev[j].user, ev[i].user) == 0;
    if (again) continue;
    uint32_t b = rp_idmap_hash(ev[i].user, strlen(ev[i].user)) % RT_BUCKETS;
    const rt_user *e = rt->bucket[b];
    while (e && strcmp(e->user, ev[i].user) != 0) e = e->next;
    if (!e) continue;
    for (int a = 0; a < nm; a++) {
      int32_t u = rp_idmap_find(models[a]->users, e->user, strlen(e->user));
      if (u >= 0 && u < models[a]->nusers)
        refit(models[a], seens[a], u, e, g->realtime_session_weight);
    }
  }
  pthread_mutex_unlock(&rt->lock);
}
