/*
 * concat.c -- rp_events_concat: one log from several read onto the same
 * maps (a daily-rotated log, several months of files).  Event types and
 * context values are matched by name: each part has dictionaries of its
 * own, the result one merged dictionary per column.
 */
#include <string.h>

#include "events.h"

/* Codes of dictionary `from` re-expressed on `to` (names added as needed):
 * map[c] for every code c of from; a new array owned by the caller. */
static int32_t *recode(const rp_idmap *from, rp_idmap *to, int32_t limit, const char *what,
                       rp_err *err) {
  int32_t *map = rp_malloc(((size_t)from->n + 1) * sizeof *map);
  if (!map) return rp_enomem(err, "events"), NULL;
  for (int32_t c = 0; c < from->n; c++) {
    size_t len;
    const char *s = rp_idmap_id(from, c, &len);
    if (rp_idmap_intern(to, s, len, &map[c], err)) {
      rp_free(map);
      return NULL;
    }
    if (map[c] >= limit) {
      rp_errf(err, RP_EINVAL, "concat: more than %d distinct %s", limit, what);
      rp_free(map);
      return NULL;
    }
  }
  return map;
}

rp_events *rp_events_concat(rp_events *const *parts, int n, rp_err *err) {
  if (n < 1) return rp_errf(err, RP_EINVAL, "concat: no logs given"), NULL;
  const rp_events *p0 = parts[0];
  int has_time = 1, has_event = 1;
  int64_t total = 0;
  for (int k = 0; k < n; k++) {
    if (parts[k]->users != p0->users || parts[k]->items != p0->items)
      return rp_errf(err, RP_EINVAL,
                     "concat: log %d is not on the first log's user and item maps (read it "
                     "with users = first.users, items = first.items)",
                     k + 1),
             NULL;
    has_time &= parts[k]->time != NULL;
    has_event &= parts[k]->event != NULL;
    total += parts[k]->n;
  }
  /* context columns: those of the first log that every log has */
  const char *names[RP_MAX_CONTEXT];
  int src[RP_MAX_CONTEXT], nc = 0;
  for (int c = 0; c < p0->ncontext; c++) {
    int all = 1;
    for (int k = 1; k < n && all; k++)
      all = rp_events_context_index(parts[k], p0->context_names[c]) >= 0;
    if (all) src[nc] = c, names[nc++] = p0->context_names[c];
  }
  rp_idmap *evn = has_event ? rp_idmap_new(err) : NULL;
  if (has_event && !evn) return NULL;
  rp_events *out = rp_events_new(p0->users, p0->items, has_time, evn, nc, names, NULL, err);
  rp_idmap_release(evn);
  if (!out || rp_events_reserve(out, total, err)) goto fail;
  for (int k = 0; k < n; k++) {
    const rp_events *p = parts[k];
    int64_t at = out->n;
    memcpy(out->user + at, p->user, (size_t)p->n * sizeof *p->user);
    memcpy(out->item + at, p->item, (size_t)p->n * sizeof *p->item);
    memcpy(out->value + at, p->value, (size_t)p->n * sizeof *p->value);
    if (has_time) memcpy(out->time + at, p->time, (size_t)p->n * sizeof *p->time);
    if (has_event) {
      int32_t *map = recode(p->event_names, out->event_names, INT16_MAX, "event types", err);
      if (!map) goto fail;
      for (int64_t r = 0; r < p->n; r++) out->event[at + r] = (int16_t)map[p->event[r]];
      rp_free(map);
    }
    for (int c = 0; c < nc; c++) {
      int j = k == 0 ? src[c] : rp_events_context_index(p, names[c]);
      int32_t *map = recode(p->context_dicts[j], out->context_dicts[c], INT32_MAX, "values", err);
      if (!map) goto fail;
      for (int64_t r = 0; r < p->n; r++) out->context[c][at + r] = map[p->context[j][r]];
      rp_free(map);
    }
    out->n += p->n;
  }
  return out;
fail:
  rp_events_free(out);
  return NULL;
}
