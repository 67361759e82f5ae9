/*
 * request.c -- request bodies and parameters into C structs; see request.h.
 * JSON is parsed by cJSON (never by hand); this file only walks the tree,
 * checks types and limits, and copies strings into the request's arena.
 */
#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* ---- arena ------------------------------------------------------------------ */
struct rp_arena_chunk {
  rp_arena_chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

#define CHUNK 16384

void rp_arena_init(rp_arena *a, size_t limit) {
  a->head = NULL;
  a->used = 0;
  a->limit = limit;
}

void *rp_arena_alloc(rp_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (a->limit && a->used + n > a->limit) return NULL;
  rp_arena_chunk *c = a->head;
  if (!c || c->size - c->used < n) {
    size_t size = n > CHUNK ? n : CHUNK;
    c = rp_malloc(sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  a->used += n;
  return p;
}

char *rp_arena_strndup(rp_arena *a, const char *s, size_t n) {
  char *d = rp_arena_alloc(a, n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

void rp_arena_reset(rp_arena *a) {
  /* keep the oldest chunk (the last in the list): most requests fit in it */
  rp_arena_chunk *c = a->head, *keep = NULL;
  while (c) {
    rp_arena_chunk *next = c->next;
    if (!next && c->size == CHUNK) {
      keep = c;
    } else {
      rp_free(c);
    }
    c = next;
  }
  if (keep) keep->used = 0;
  a->head = keep;
  a->used = 0;
}

void rp_arena_free(rp_arena *a) {
  rp_arena_chunk *c = a->head;
  while (c) {
    rp_arena_chunk *next = c->next;
    rp_free(c);
    c = next;
  }
  a->head = NULL;
  a->used = 0;
}

/* ---- errors -------------------------------------------------------------- */
int rp_serr_set(rp_serr *e, int status, const char *field, const char *fmt, ...) {
  e->status = status;
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

static int nomem(rp_serr *e) {
  return rp_serr_set(e, 413, "", "request too large (its parsed form passed the memory limit)");
}

int rp_sid_ok(const char *s, size_t len, int32_t max) {
  if (len == 0 || len > (size_t)max) return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

/* A value shown in a message: at most 40 bytes, control characters as '?'. */
static const char *shown(const char *s, char *buf, size_t size) {
  size_t n = 0;
  for (; s[n] && n + 4 < size && n < 40; n++)
    buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
  if (s[n])
    memcpy(buf + n, "...", 4);
  else
    buf[n] = 0;
  return buf;
}

/* An id, attribute or context value: a string, or an integer written as
 * its text (17 is "17"); copied to the arena. */
static const char *id_text(rp_arena *a, const cJSON *v, const char *field, int32_t max,
                           rp_serr *e) {
  char num[32], sb[48];
  const char *s;
  if (cJSON_IsString(v)) {
    s = v->valuestring;
  } else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
             fabs(v->valuedouble) < 9.007199254740992e15) {
    snprintf(num, sizeof num, "%.0f", v->valuedouble);
    s = num;
  } else {
    rp_serr_set(e, 400, field, "%s must be a string, got %s", field,
                cJSON_IsNumber(v)  ? "a non-integer number"
                : cJSON_IsBool(v)  ? "a boolean"
                : cJSON_IsNull(v)  ? "null"
                : cJSON_IsArray(v) ? "an array"
                                   : "an object");
    return NULL;
  }
  size_t len = strlen(s);
  if (!rp_sid_ok(s, len, max)) {
    if (len == 0)
      rp_serr_set(e, 400, field, "%s must not be empty", field);
    else if (len > (size_t)max)
      rp_serr_set(e, 400, field, "%s is too long (%zu bytes, at most %d)", field, len, (int)max);
    else
      rp_serr_set(e, 400, field, "%s must not hold control characters, got '%s'", field,
                  shown(s, sb, sizeof sb));
    return NULL;
  }
  char *d = rp_arena_strndup(a, s, len);
  if (!d) nomem(e);
  return d;
}

/* ---- recommend ------------------------------------------------------------- */
void rp_sreq_init(rp_sreq *q) {
  memset(q, 0, sizeof *q);
  q->exclude_seen = -1;
}

static const char *const req_fields[] = {"user",    "item",       "k",       "exclude_seen",
                                         "history", "values",     "items",   "allow",
                                         "deny",    "attributes", "context", NULL};

static int unknown_field(rp_serr *e, const char *name, const char *const *known) {
  char list[512], sb[48];
  size_t n = 0;
  list[0] = 0;
  for (int i = 0; known[i] && n + 1 < sizeof list; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", known[i]);
  return rp_serr_set(e, 400, name, "unknown field '%s' (known: %s)", shown(name, sb, sizeof sb),
                     list);
}

/* A JSON array of ids into an arena array. */
static int id_array(rp_arena *a, const cJSON *v, const char *field, const rp_slimits *lim,
                    const char ***out, int32_t *n, rp_serr *e) {
  if (!cJSON_IsArray(v)) return rp_serr_set(e, 400, field, "%s must be an array of ids", field);
  int len = cJSON_GetArraySize(v);
  if (len > lim->max_list)
    return rp_serr_set(e, 400, field, "%s holds %d ids, at most %d are allowed", field, len,
                       (int)lim->max_list);
  const char **ids = rp_arena_alloc(a, sizeof *ids * (size_t)(len ? len : 1));
  if (!ids) return nomem(e);
  int32_t i = 0;
  char name[96];
  for (const cJSON *x = v->child; x; x = x->next, i++) {
    snprintf(name, sizeof name, "%s[%d]", field, (int)i);
    if (!(ids[i] = id_text(a, x, name, lim->max_id, e))) return -1;
  }
  *out = ids;
  *n = i;
  return 0;
}

static int number_array(rp_arena *a, const cJSON *v, const char *field, const rp_slimits *lim,
                        float **out, int32_t *n, rp_serr *e) {
  if (!cJSON_IsArray(v)) return rp_serr_set(e, 400, field, "%s must be an array of numbers", field);
  int len = cJSON_GetArraySize(v);
  if (len > lim->max_list)
    return rp_serr_set(e, 400, field, "%s holds %d numbers, at most %d are allowed", field, len,
                       (int)lim->max_list);
  float *x = rp_arena_alloc(a, sizeof *x * (size_t)(len ? len : 1));
  if (!x) return nomem(e);
  int32_t i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || fabs(c->valuedouble) > 3.4e38)
      return rp_serr_set(e, 400, field, "%s[%d] must be a finite number", field, (int)i);
    x[i] = (float)c->valuedouble;
  }
  *out = x;
  *n = i;
  return 0;
}

/* A JSON object of scalars (strings, numbers, booleans) into key/value
 * text pairs. */
static int pairs(rp_arena *a, const cJSON *v, const char *field, const rp_slimits *lim, rp_kv **out,
                 int32_t *n, rp_serr *e) {
  if (!cJSON_IsObject(v))
    return rp_serr_set(e, 400, field, "%s must be an object of names and values", field);
  int len = cJSON_GetArraySize(v);
  if (len > lim->max_pairs)
    return rp_serr_set(e, 400, field, "%s holds %d names, at most %d are allowed", field, len,
                       (int)lim->max_pairs);
  rp_kv *kv = rp_arena_alloc(a, sizeof *kv * (size_t)(len ? len : 1));
  if (!kv) return nomem(e);
  int32_t i = 0;
  char name[96];
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    const char *k = c->string ? c->string : "";
    snprintf(name, sizeof name, "%s.%s", field, k);
    if (!rp_sid_ok(k, strlen(k), lim->max_id))
      return rp_serr_set(e, 400, field, "%s: names must be non-empty text of at most %d bytes",
                         field, (int)lim->max_id);
    if (!(kv[i].key = rp_arena_strndup(a, k, strlen(k)))) return nomem(e);
    if (cJSON_IsBool(c)) {
      kv[i].val = cJSON_IsTrue(c) ? "true" : "false";
    } else if (cJSON_IsNumber(c) && c->valuedouble != floor(c->valuedouble) &&
               isfinite(c->valuedouble)) {
      char num[40];
      snprintf(num, sizeof num, "%.17g", c->valuedouble);
      if (!(kv[i].val = rp_arena_strndup(a, num, strlen(num)))) return nomem(e);
    } else if (!(kv[i].val = id_text(a, c, name, lim->max_id, e))) {
      return -1;
    }
  }
  *out = kv;
  *n = i;
  return 0;
}

static int set_k(rp_sreq *q, double v, int isnum, const char *text, const rp_slimits *lim,
                 rp_serr *e) {
  char sb[48];
  if (!isnum || v != floor(v) || !isfinite(v)) {
    if (text)
      return rp_serr_set(e, 400, "k", "k must be an integer, got '%s'", shown(text, sb, sizeof sb));
    return rp_serr_set(e, 400, "k", "k must be an integer");
  }
  if (v < 1 || v > lim->max_k)
    return rp_serr_set(e, 400, "k", "k must be an integer in 1..%d, got %.0f", (int)lim->max_k, v);
  q->k = (int32_t)v;
  return 0;
}

static int json_field(rp_sreq *q, rp_arena *a, const cJSON *v, const rp_slimits *lim, rp_serr *e) {
  const char *f = v->string ? v->string : "";
  if (strcmp(f, "user") == 0) {
    if (cJSON_IsNull(v)) return 0;
    return (q->user = id_text(a, v, "user", lim->max_id, e)) ? 0 : -1;
  }
  if (strcmp(f, "item") == 0) return (q->item = id_text(a, v, "item", lim->max_id, e)) ? 0 : -1;
  if (strcmp(f, "k") == 0) return set_k(q, v->valuedouble, cJSON_IsNumber(v), NULL, lim, e);
  if (strcmp(f, "exclude_seen") == 0) {
    if (!cJSON_IsBool(v))
      return rp_serr_set(e, 400, "exclude_seen", "exclude_seen must be true or false");
    q->exclude_seen = cJSON_IsTrue(v);
    return 0;
  }
  if (strcmp(f, "history") == 0)
    return id_array(a, v, "history", lim, &q->history, &q->nhistory, e);
  if (strcmp(f, "values") == 0) {
    return number_array(a, v, "values", lim, &q->values, &q->nvalues, e);
  }
  if (strcmp(f, "items") == 0 || strcmp(f, "allow") == 0) {
    if (q->allow) return rp_serr_set(e, 400, f, "give either items or allow, not both");
    return id_array(a, v, f, lim, &q->allow, &q->nallow, e);
  }
  if (strcmp(f, "deny") == 0) return id_array(a, v, "deny", lim, &q->deny, &q->ndeny, e);
  if (strcmp(f, "attributes") == 0)
    return pairs(a, v, "attributes", lim, &q->attributes, &q->nattributes, e);
  if (strcmp(f, "context") == 0) return pairs(a, v, "context", lim, &q->context, &q->ncontext, e);
  return unknown_field(e, f, req_fields);
}

static int body_error(rp_serr *e, const char *body, size_t len) {
  const char *at = cJSON_GetErrorPtr();
  size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : len;
  return rp_serr_set(e, 400, "", "malformed JSON body (near byte %zu)", off);
}

int rp_sreq_json(rp_sreq *q, rp_arena *a, const char *body, size_t len, const rp_slimits *lim,
                 rp_serr *e) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  if (!root) return body_error(e, body, len);
  int rc = 0;
  if (!cJSON_IsObject(root)) {
    rc = rp_serr_set(e, 400, "", "the body must be a JSON object");
  } else {
    for (const cJSON *v = root->child; v && !rc; v = v->next) {
      /* a repeated field would silently lose the first value: refuse it */
      for (const cJSON *w = root->child; w != v; w = w->next)
        if (w->string && v->string && strcmp(w->string, v->string) == 0) {
          rc = rp_serr_set(e, 400, v->string, "field '%s' given twice", v->string);
          break;
        }
      if (!rc) rc = json_field(q, a, v, lim, e);
    }
  }
  cJSON_Delete(root);
  return rc;
}

/* A parameter list ("i1,i2" or repeated parameters) appended to *ids. */
static int param_list(rp_arena *a, const char *key, const char *val, const rp_slimits *lim,
                      const char ***ids, int32_t *n, rp_serr *e) {
  int32_t add = 1;
  for (const char *p = val; *p; p++) add += *p == ',';
  if (*n + add > lim->max_list)
    return rp_serr_set(e, 400, key, "%s holds more than %d ids", key, (int)lim->max_list);
  const char **nw = rp_arena_alloc(a, sizeof *nw * (size_t)(*n + add));
  if (!nw) return nomem(e);
  if (*n) memcpy(nw, *ids, sizeof *nw * (size_t)*n);
  const char *s = val;
  char name[96], sb[48];
  for (;;) {
    const char *c = strchr(s, ',');
    size_t len = c ? (size_t)(c - s) : strlen(s);
    if (!rp_sid_ok(s, len, lim->max_id)) {
      snprintf(name, sizeof name, "%s[%d]", key, (int)*n);
      return rp_serr_set(e, 400, name,
                         "%s must be a non-empty id of at most %d bytes without "
                         "control characters, got '%s'",
                         name, (int)lim->max_id, shown(val, sb, sizeof sb));
    }
    if (!(nw[(*n)++] = rp_arena_strndup(a, s, len))) return nomem(e);
    if (!c) break;
    s = c + 1;
  }
  *ids = nw;
  return 0;
}

static int param_pair(rp_arena *a, const char *field, const char *name, const char *val,
                      const rp_slimits *lim, rp_kv **kv, int32_t *n, rp_serr *e) {
  char full[96], sb[48];
  snprintf(full, sizeof full, "%s.%s", field, name);
  if (*n >= lim->max_pairs)
    return rp_serr_set(e, 400, field, "%s holds more than %d names", field, (int)lim->max_pairs);
  if (!rp_sid_ok(name, strlen(name), lim->max_id) || !rp_sid_ok(val, strlen(val), lim->max_id))
    return rp_serr_set(e, 400, full, "%s must be non-empty text of at most %d bytes, got '%s'",
                       full, (int)lim->max_id, shown(val, sb, sizeof sb));
  rp_kv *nw = rp_arena_alloc(a, sizeof *nw * (size_t)(*n + 1));
  if (!nw) return nomem(e);
  if (*n) memcpy(nw, *kv, sizeof *nw * (size_t)*n);
  nw[*n].key = rp_arena_strndup(a, name, strlen(name));
  nw[*n].val = rp_arena_strndup(a, val, strlen(val));
  if (!nw[*n].key || !nw[*n].val) return nomem(e);
  (*n)++;
  *kv = nw;
  return 0;
}

static const char *const param_names[] = {
    "user",  "item",  "k",    "exclude_seen",    "history",      "values",
    "items", "allow", "deny", "attributes.NAME", "context.NAME", NULL};

int rp_sreq_param(rp_sreq *q, rp_arena *a, const char *key, const char *val, const rp_slimits *lim,
                  rp_serr *e) {
  char sb[48];
  if (!val) val = "";
  if (strcmp(key, "user") == 0 || strcmp(key, "item") == 0) {
    if (!rp_sid_ok(val, strlen(val), lim->max_id))
      return rp_serr_set(e, 400, key,
                         "%s must be a non-empty id of at most %d bytes without "
                         "control characters",
                         key, (int)lim->max_id);
    const char **slot = key[0] == 'u' ? &q->user : &q->item;
    if (*slot) return rp_serr_set(e, 400, key, "parameter '%s' given twice", key);
    return (*slot = rp_arena_strndup(a, val, strlen(val))) ? 0 : nomem(e);
  }
  if (strcmp(key, "k") == 0) {
    char *end;
    double v = strtod(val, &end);
    return set_k(q, v, *val && !*end && strspn(val, "0123456789") == strlen(val), val, lim, e);
  }
  if (strcmp(key, "exclude_seen") == 0) {
    if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
      q->exclude_seen = 1;
    else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
      q->exclude_seen = 0;
    else
      return rp_serr_set(e, 400, key, "exclude_seen must be true or false, got '%s'",
                         shown(val, sb, sizeof sb));
    return 0;
  }
  if (strcmp(key, "history") == 0)
    return param_list(a, key, val, lim, &q->history, &q->nhistory, e);
  if (strcmp(key, "items") == 0 || strcmp(key, "allow") == 0)
    return param_list(a, key, val, lim, &q->allow, &q->nallow, e);
  if (strcmp(key, "deny") == 0) return param_list(a, key, val, lim, &q->deny, &q->ndeny, e);
  if (strcmp(key, "values") == 0) {
    int32_t n = 0;
    for (const char *p = val; *p; p++) n += *p == ',';
    n += 1;
    int32_t have = q->nvalues;
    if (have + n > lim->max_list)
      return rp_serr_set(e, 400, key, "values holds more than %d numbers", (int)lim->max_list);
    float *x = rp_arena_alloc(a, sizeof *x * (size_t)(have + n));
    if (!x) return nomem(e);
    if (have) memcpy(x, q->values, sizeof *x * (size_t)have);
    const char *s = val;
    for (int32_t i = 0; i < n; i++) {
      char *end;
      double v = strtod(s, &end);
      if (end == s || (*end && *end != ',') || !isfinite(v) || fabs(v) > 3.4e38)
        return rp_serr_set(e, 400, "values", "values[%d] must be a finite number, got '%s'",
                           (int)(have + i), shown(s, sb, sizeof sb));
      x[have + i] = (float)v;
      s = *end ? end + 1 : end;
    }
    q->values = x;
    q->nvalues = have + n;
    return 0;
  }
  if (strncmp(key, "attributes.", 11) == 0)
    return param_pair(a, "attributes", key + 11, val, lim, &q->attributes, &q->nattributes, e);
  if (strncmp(key, "context.", 8) == 0)
    return param_pair(a, "context", key + 8, val, lim, &q->context, &q->ncontext, e);
  return unknown_field(e, key, param_names);
}

int rp_sreq_finish(rp_sreq *q, const rp_slimits *lim, rp_serr *e) {
  (void)lim;
  if (q->values && q->nvalues != q->nhistory)
    return rp_serr_set(e, 400, "values", "values must be as long as history (%d), got %d",
                       (int)q->nhistory, (int)q->nvalues);
  return 0;
}

/* ---- events -------------------------------------------------------------------- */
static const char *const event_fields[] = {"user", "item", "event", "request_id", "time", NULL};

static int one_event(rp_arena *a, const cJSON *o, int idx, const rp_slimits *lim,
                     const char *const *types, int ntypes, rp_sevent *ev, rp_serr *e) {
  char name[96], pre[32], sb[48];
  if (idx >= 0)
    snprintf(pre, sizeof pre, "events[%d].", idx);
  else
    pre[0] = 0;
  if (!cJSON_IsObject(o)) {
    snprintf(name, sizeof name, "events[%d]", idx);
    return rp_serr_set(e, 400, idx >= 0 ? name : "", "%s must be a JSON object",
                       idx >= 0 ? name : "the event");
  }
  memset(ev, 0, sizeof *ev);
  ev->request_id = "";
  for (const cJSON *v = o->child; v; v = v->next) {
    const char *f = v->string ? v->string : "";
    snprintf(name, sizeof name, "%s%s", pre, f);
    int i = 0;
    while (event_fields[i] && strcmp(event_fields[i], f) != 0) i++;
    if (!event_fields[i]) {
      unknown_field(e, name, event_fields);
      return -1;
    }
    for (const cJSON *w = o->child; w != v; w = w->next)
      if (w->string && strcmp(w->string, f) == 0)
        return rp_serr_set(e, 400, name, "field '%s' given twice", name);
    if (i == 4) {
      if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
          v->valuedouble > 32503680000.0)
        return rp_serr_set(e, 400, name, "%s must be Unix seconds (a number >= 0)", name);
      ev->time = v->valuedouble;
      continue;
    }
    const char *s = id_text(a, v, name, lim->max_id, e);
    if (!s) return -1;
    if (i == 0) ev->user = s;
    if (i == 1) ev->item = s;
    if (i == 2) ev->event = s;
    if (i == 3) ev->request_id = s;
  }
  const char *missing = !ev->user ? "user" : !ev->item ? "item" : !ev->event ? "event" : NULL;
  if (missing) {
    snprintf(name, sizeof name, "%s%s", pre, missing);
    return rp_serr_set(e, 400, name, "%s is required", name);
  }
  for (int t = 0; t < ntypes; t++)
    if (strcmp(types[t], ev->event) == 0) return 0;
  char list[512];
  size_t n = 0;
  list[0] = 0;
  for (int t = 0; t < ntypes && n + 1 < sizeof list; t++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", t ? ", " : "", types[t]);
  snprintf(name, sizeof name, "%sevent", pre);
  return rp_serr_set(e, 400, name, "unknown event type '%s' (known: %s)",
                     shown(ev->event, sb, sizeof sb), list);
}

int rp_sevents_json(rp_arena *a, const char *body, size_t len, const rp_slimits *lim,
                    const char *const *types, int ntypes, rp_sevent **out, rp_serr *e) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  if (!root) return body_error(e, body, len);
  const cJSON *list = NULL;
  int rc = -1, single = 0;
  if (cJSON_IsArray(root)) {
    list = root;
  } else if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "events")) {
    list = cJSON_GetObjectItemCaseSensitive(root, "events");
    for (const cJSON *v = root->child; v; v = v->next)
      if (!v->string || strcmp(v->string, "events") != 0) {
        unknown_field(e, v->string ? v->string : "", (const char *const[]){"events", NULL});
        goto done;
      }
    if (!cJSON_IsArray(list)) {
      rp_serr_set(e, 400, "events", "events must be an array of event objects");
      goto done;
    }
  } else if (cJSON_IsObject(root)) {
    single = 1;
  } else {
    rp_serr_set(e, 400, "",
                "the body must be an event object, an array of them or "
                "{\"events\": [...]}");
    goto done;
  }
  int n = single ? 1 : cJSON_GetArraySize(list);
  if (n == 0) {
    rp_serr_set(e, 400, "events", "no events given");
    goto done;
  }
  if (n > lim->max_batch) {
    rp_serr_set(e, 413, "events", "%d events in one request, at most %d are allowed", n,
                (int)lim->max_batch);
    goto done;
  }
  rp_sevent *ev = rp_arena_alloc(a, sizeof *ev * (size_t)n);
  if (!ev) {
    nomem(e);
    goto done;
  }
  if (single) {
    if (one_event(a, root, -1, lim, types, ntypes, ev, e)) goto done;
  } else {
    int i = 0;
    for (const cJSON *o = list->child; o; o = o->next, i++)
      if (one_event(a, o, i, lim, types, ntypes, &ev[i], e)) goto done;
  }
  *out = ev;
  rc = n;
done:
  cJSON_Delete(root);
  return rc;
}
