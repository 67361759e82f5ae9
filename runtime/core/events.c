/*
 * events.c -- construction, growth and row selection of columnar logs.
 */
#include "events.h"

#include <string.h>

static void *grow(void *p, int64_t cap, size_t sz, int *ok) {
  if (!*ok) return p;
  void *q = rp_realloc(p, (size_t)cap * sz);
  if (!q) {
    *ok = 0;
    return p;
  }
  return q;
}

int rp_events_reserve(rp_events *ev, int64_t cap, rp_err *err) {
  if (cap <= ev->cap) return RP_OK;
  if (cap < 16) cap = 16;
  int ok = 1;
  ev->user = grow(ev->user, cap, sizeof *ev->user, &ok);
  ev->item = grow(ev->item, cap, sizeof *ev->item, &ok);
  ev->value = grow(ev->value, cap, sizeof *ev->value, &ok);
  if (ev->time) ev->time = grow(ev->time, cap, sizeof *ev->time, &ok);
  if (ev->event_names) ev->event = grow(ev->event, cap, sizeof *ev->event, &ok);
  for (int c = 0; c < ev->ncontext; c++)
    ev->context[c] = grow(ev->context[c], cap, sizeof *ev->context[c], &ok);
  if (!ok) return rp_enomem(err, "events");
  ev->cap = cap;
  return RP_OK;
}

int rp_events_shrink(rp_events *ev, rp_err *err) {
  int64_t cap = ev->n > 16 ? ev->n : 16;
  if (cap >= ev->cap) return RP_OK;
  int ok = 1;
  /* shrinking realloc may still fail (fault injection): keep the old block */
  ev->user = grow(ev->user, cap, sizeof *ev->user, &ok);
  ev->item = grow(ev->item, cap, sizeof *ev->item, &ok);
  ev->value = grow(ev->value, cap, sizeof *ev->value, &ok);
  if (ev->time) ev->time = grow(ev->time, cap, sizeof *ev->time, &ok);
  if (ev->event) ev->event = grow(ev->event, cap, sizeof *ev->event, &ok);
  for (int c = 0; c < ev->ncontext; c++)
    ev->context[c] = grow(ev->context[c], cap, sizeof *ev->context[c], &ok);
  ev->cap = cap; /* every column holds at least cap rows, shrunk or not */
  return ok ? RP_OK : rp_enomem(err, "events");
}

rp_events *rp_events_new(rp_idmap *users, rp_idmap *items, int has_time, rp_idmap *event_names,
                         int ncontext, const char *const *ctx_names, rp_idmap *const *ctx_dicts,
                         rp_err *err) {
  if (ncontext < 0 || ncontext > RP_MAX_CONTEXT)
    return rp_errf(err, RP_EINVAL, "at most %d context columns", RP_MAX_CONTEXT), NULL;
  rp_events *ev = rp_calloc(1, sizeof *ev);
  if (!ev) return rp_enomem(err, "events"), NULL;
  ev->users = users ? rp_idmap_retain(users) : rp_idmap_new(err);
  ev->items = items ? rp_idmap_retain(items) : rp_idmap_new(err);
  if (!ev->users || !ev->items) goto fail;
  ev->event_names = rp_idmap_retain(event_names);
  ev->ncontext = ncontext;
  for (int c = 0; c < ncontext; c++) {
    ev->context_names[c] = rp_strdup(ctx_names[c]);
    ev->context_dicts[c] =
        ctx_dicts && ctx_dicts[c] ? rp_idmap_retain(ctx_dicts[c]) : rp_idmap_new(err);
    if (!ev->context_names[c] || !ev->context_dicts[c]) goto fail;
  }
  /* allocate the minimum so every column pointer is valid */
  int ok = 1;
  int64_t cap = 16;
  ev->user = grow(NULL, cap, sizeof *ev->user, &ok);
  ev->item = grow(NULL, cap, sizeof *ev->item, &ok);
  ev->value = grow(NULL, cap, sizeof *ev->value, &ok);
  if (has_time) ev->time = grow(NULL, cap, sizeof *ev->time, &ok);
  if (event_names) ev->event = grow(NULL, cap, sizeof *ev->event, &ok);
  for (int c = 0; c < ncontext; c++) ev->context[c] = grow(NULL, cap, sizeof(int32_t), &ok);
  if (!ok) goto fail;
  ev->cap = cap;
  return ev;
fail:
  rp_enomem(err, "events");
  rp_events_free(ev);
  return NULL;
}

rp_events *rp_events_like(const rp_events *ev, rp_err *err) {
  return rp_events_new(ev->users, ev->items, ev->time != NULL, ev->event_names, ev->ncontext,
                       (const char *const *)ev->context_names, ev->context_dicts, err);
}

void rp_events_free(rp_events *ev) {
  if (!ev) return;
  rp_free(ev->user);
  rp_free(ev->item);
  rp_free(ev->value);
  rp_free(ev->time);
  rp_free(ev->event);
  for (int c = 0; c < ev->ncontext; c++) {
    rp_free(ev->context_names[c]);
    rp_free(ev->context[c]);
    rp_idmap_release(ev->context_dicts[c]);
  }
  rp_idmap_release(ev->users);
  rp_idmap_release(ev->items);
  rp_idmap_release(ev->event_names);
  rp_free(ev);
}

int rp_events_append_row(rp_events *dst, const rp_events *src, int64_t i, rp_err *err) {
  if (dst->n == dst->cap && rp_events_reserve(dst, dst->cap * 2, err)) return RP_ENOMEM;
  int64_t j = dst->n++;
  dst->user[j] = src->user[i];
  dst->item[j] = src->item[i];
  dst->value[j] = src->value[i];
  if (dst->time) dst->time[j] = src->time ? src->time[i] : 0;
  if (dst->event) dst->event[j] = src->event ? src->event[i] : 0;
  for (int c = 0; c < dst->ncontext; c++) dst->context[c][j] = src->context[c][i];
  return RP_OK;
}

rp_events *rp_events_take(const rp_events *ev, const int64_t *idx, int64_t n, rp_err *err) {
  rp_events *r = rp_events_like(ev, err);
  if (!r) return NULL;
  if (rp_events_reserve(r, n, err)) {
    rp_events_free(r);
    return NULL;
  }
  for (int64_t k = 0; k < n; k++) {
    int64_t i = idx[k];
    r->user[k] = ev->user[i];
    r->item[k] = ev->item[i];
    r->value[k] = ev->value[i];
    if (r->time) r->time[k] = ev->time[i];
    if (r->event) r->event[k] = ev->event[i];
    for (int c = 0; c < r->ncontext; c++) r->context[c][k] = ev->context[c][i];
  }
  r->n = n;
  return r;
}

rp_events *rp_events_select(const rp_events *ev, const uint8_t *keep, rp_err *err) {
  int64_t n = 0;
  for (int64_t i = 0; i < ev->n; i++) n += keep[i] != 0;
  int64_t *idx = rp_malloc((size_t)(n ? n : 1) * sizeof *idx);
  if (!idx) return rp_enomem(err, "events"), NULL;
  for (int64_t i = 0, k = 0; i < ev->n; i++)
    if (keep[i]) idx[k++] = i;
  rp_events *r = rp_events_take(ev, idx, n, err);
  rp_free(idx);
  return r;
}

int rp_events_context_index(const rp_events *ev, const char *name) {
  for (int c = 0; c < ev->ncontext; c++)
    if (strcmp(ev->context_names[c], name) == 0) return c;
  return -1;
}

size_t rp_events_bytes(const rp_events *ev) {
  size_t row = sizeof(int32_t) * 2 + sizeof(float) + (ev->time ? sizeof(int64_t) : 0) +
               (ev->event ? sizeof(int16_t) : 0) + (size_t)ev->ncontext * sizeof(int32_t);
  return (size_t)ev->cap * row;
}

int rp_events_time_range(const rp_events *ev, int64_t *tmin, int64_t *tmax) {
  if (!ev->time || ev->n == 0) return 0;
  int64_t lo = ev->time[0], hi = ev->time[0];
  for (int64_t i = 1; i < ev->n; i++) {
    if (ev->time[i] < lo) lo = ev->time[i];
    if (ev->time[i] > hi) hi = ev->time[i];
  }
  *tmin = lo;
  *tmax = hi;
  return 1;
}
