/*
 * answer.c -- answering a request: recommend (the C path through an
 * rp_recommender's `one`, or the Lua path through the recommender's
 * recommend method), request hooks and filters in the worker's Lua state,
 * the answer cache, JSON out, the impression log; similar items; events.
 *
 * A cached answer is the encoded list (reason, items, scores), keyed by
 * the generation's serial and the normalised request:
 *   "<serial>\x1f<user>\x1f<k>\x1f<exclude_seen>\x1f<history+values>\x1f<items>
 *    \x1f<deny>\x1f<attributes>\x1f<context>"
 * with lists sorted (ids never hold control characters, so the separators
 * cannot occur in them).  The user comes right after the serial, so a
 * user's feedback drops exactly their answers (a prefix), and a swapped-out
 * generation's answers go with their serial's prefix.  Answers are computed
 * through rp_cache_fetch: one computation per key at a time, and an
 * invalidation stops an answer being computed from being stored, so a list
 * from before the user's feedback or from an old model is never served.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "cache.h"
#include "host.h"
#include "rpl.h"
#include "serve.h"

/* ---- the answer cache ------------------------------------------------------------- */
struct rp_acache {
  rp_cache *c;
};

rp_acache *rp_acache_new(const rp_serve_settings *set, rp_err *err) {
  if (strcmp(set->cache_capacity, "0") == 0) return NULL;
  rp_cache_opts o;
  rp_cache_opts_init(&o);
  char *end;
  long long n = strtoll(set->cache_capacity, &end, 10);
  int rc = *end ? rp_cache_opts_set_string(&o, "capacity", set->cache_capacity, err)
                : rp_cache_opts_set_number(&o, "capacity", (double)n, err);
  if (!rc) rc = rp_cache_opts_set_number(&o, "ttl", set->cache_ttl, err);
  if (rc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err->msg);
    rp_errf(err, RP_EINVAL, "setting 'cache_capacity' or 'cache_ttl': %s", msg);
    return NULL;
  }
  rp_acache *a = rp_calloc(1, sizeof *a);
  if (!a) return rp_enomem(err, "answer cache"), NULL;
  if (!(a->c = rp_cache_new(&o, err))) {
    rp_free(a);
    return NULL;
  }
  return a;
}

void rp_acache_free(rp_acache *a) {
  if (!a) return;
  rp_cache_release(a->c);
  rp_free(a);
}

void rp_acache_forget_user(rp_acache *a, uint64_t serial, const char *user) {
  if (!a) return;
  char buf[400];
  int n = snprintf(buf, sizeof buf, "%llu\x1f%s\x1f", (unsigned long long)serial, user);
  if (n > 0 && (size_t)n < sizeof buf) rp_cache_invalidate_prefix(a->c, buf, (size_t)n);
}

void rp_acache_forget_serial(rp_acache *a, uint64_t serial) {
  if (!a) return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%llu\x1f", (unsigned long long)serial);
  rp_cache_invalidate_prefix(a->c, buf, (size_t)n);
}

void rp_acache_stats_get(rp_acache *a, rp_acache_stats *st) {
  memset(st, 0, sizeof *st);
  if (!a) return;
  rp_cache_stats cs;
  rp_cache_stats_read(a->c, &cs);
  st->hits = cs.hits;
  st->misses = cs.misses;
  st->evictions = cs.evictions;
  st->expired = cs.expirations;
  st->entries = (uint64_t)(cs.entries > 0 ? cs.entries : 0);
  st->bytes = (uint64_t)(cs.bytes > 0 ? cs.bytes : 0);
}

/* ---- one answer -------------------------------------------------------------------- */
typedef struct answer {
  int32_t n;
  const char **items;
  float *scores;
  const char *reason;
  const char *message; /* why the list is empty, or NULL */
} answer;

/* The value stored in the cache: n, lengths, scores, then the texts. */
typedef struct ahdr {
  uint32_t n, reason_len, msg_len, pad;
} ahdr;

static rp_cache_val *encode(const answer *a, rp_err *err) {
  size_t len = sizeof(ahdr) + sizeof(float) * (size_t)a->n + strlen(a->reason) + 1 +
               (a->message ? strlen(a->message) : 0) + 1;
  for (int32_t i = 0; i < a->n; i++) len += strlen(a->items[i]) + 1;
  rp_cache_val *v = rp_cache_val_alloc(len, RP_CACHE_BYTES, err);
  if (!v) return NULL;
  ahdr h = {(uint32_t)a->n, (uint32_t)strlen(a->reason),
            (uint32_t)(a->message ? strlen(a->message) : 0), 0};
  unsigned char *p = v->data;
  memcpy(p, &h, sizeof h);
  p += sizeof h;
  if (a->n) memcpy(p, a->scores, sizeof(float) * (size_t)a->n);
  p += sizeof(float) * (size_t)a->n;
  memcpy(p, a->reason, h.reason_len + 1);
  p += h.reason_len + 1;
  if (a->message) memcpy(p, a->message, h.msg_len);
  p[h.msg_len] = 0;
  p += h.msg_len + 1;
  for (int32_t i = 0; i < a->n; i++) {
    size_t l = strlen(a->items[i]) + 1;
    memcpy(p, a->items[i], l);
    p += l;
  }
  return v;
}

/* A view of an encoded answer (pointers into v, items in the arena). */
static int decode(const rp_cache_val *v, rp_arena *ar, answer *a) {
  ahdr h;
  memcpy(&h, v->data, sizeof h);
  const unsigned char *p = v->data + sizeof h;
  a->n = (int32_t)h.n;
  a->scores = rp_arena_alloc(ar, sizeof(float) * (h.n ? h.n : 1));
  a->items = rp_arena_alloc(ar, sizeof(char *) * (h.n ? h.n : 1));
  if (!a->scores || !a->items) return -1;
  if (h.n) memcpy(a->scores, p, sizeof(float) * h.n);
  p += sizeof(float) * h.n;
  a->reason = (const char *)p;
  p += h.reason_len + 1;
  a->message = h.msg_len ? (const char *)p : NULL;
  p += h.msg_len + 1;
  for (uint32_t i = 0; i < h.n; i++) {
    a->items[i] = (const char *)p;
    p += strlen((const char *)p) + 1;
  }
  return 0;
}

/* ---- requests as Lua tables (hooks) ---------------------------------------------- */
static void push_list(lua_State *L, const char **ids, int32_t n) {
  lua_createtable(L, n, 0);
  for (int32_t i = 0; i < n; i++) {
    lua_pushstring(L, ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static void push_pairs(lua_State *L, const rp_kv *kv, int32_t n) {
  lua_createtable(L, 0, n);
  for (int32_t i = 0; i < n; i++) {
    lua_pushstring(L, kv[i].val);
    lua_setfield(L, -2, kv[i].key);
  }
}

/* Sets the request's lists and pairs as fields of the table at the top:
 * history, values, items (an allow list), deny, attributes, context; with
 * all, empty lists and pairs too (a hook sees every field). */
static void set_lists(lua_State *L, const rp_sreq *q, int all) {
  if (all || q->nhistory) {
    push_list(L, q->history, q->nhistory);
    lua_setfield(L, -2, "history");
  }
  if (q->values) {
    lua_createtable(L, q->nvalues, 0);
    for (int32_t i = 0; i < q->nvalues; i++) {
      lua_pushnumber(L, q->values[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "values");
  }
  if (q->allow) {
    push_list(L, q->allow, q->nallow);
    lua_setfield(L, -2, "items");
  }
  if (all || q->ndeny) {
    push_list(L, q->deny, q->ndeny);
    lua_setfield(L, -2, "deny");
  }
  if (all || q->nattributes) {
    push_pairs(L, q->attributes, q->nattributes);
    lua_setfield(L, -2, "attributes");
  }
  if (all || q->ncontext) {
    push_pairs(L, q->context, q->ncontext);
    lua_setfield(L, -2, "context");
  }
}

/* {user, k, exclude_seen, history, values, items, deny, attributes, context} */
static void push_request(lua_State *L, const rp_sreq *q, int32_t k, int excl) {
  lua_createtable(L, 0, 9);
  if (q->user) {
    lua_pushstring(L, q->user);
    lua_setfield(L, -2, "user");
  }
  lua_pushinteger(L, k);
  lua_setfield(L, -2, "k");
  lua_pushboolean(L, excl);
  lua_setfield(L, -2, "exclude_seen");
  set_lists(L, q, 1);
}

/* Reads a request table (a hook's, a warm entry) back into q, through the
 * same checks as a request's parameters.  Returns 0 or -1 with e set. */
static int read_request(lua_State *L, int t, rp_sreq *q, rp_arena *a, const rp_slimits *lim,
                        int32_t *k, int *excl, rp_serr *e) {
  t = lua_absindex(L, t);
  rp_sreq_init(q);
  static const char *const lists[] = {"history", "items", "deny", "values", NULL};
  static const char *const maps[] = {"attributes", "context", NULL};
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    int vt = lua_type(L, -1), rc = 0;
    char num[64];
    if (strcmp(key, "k") == 0 && vt == LUA_TNUMBER) {
      snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
      rc = rp_sreq_param(q, a, "k", lua_isinteger(L, -1) ? num : "x", lim, e);
    } else if (strcmp(key, "exclude_seen") == 0 && vt == LUA_TBOOLEAN) {
      rc = rp_sreq_param(q, a, key, lua_toboolean(L, -1) ? "true" : "false", lim, e);
    } else if ((strcmp(key, "user") == 0 || strcmp(key, "item") == 0) &&
               (vt == LUA_TSTRING || vt == LUA_TNUMBER)) {
      rc = rp_sreq_param(q, a, key, lua_tostring(L, -1), lim, e);
    } else {
      int i = 0, j = 0;
      while (lists[i] && strcmp(lists[i], key) != 0) i++;
      while (maps[j] && strcmp(maps[j], key) != 0) j++;
      if (lists[i] && vt == LUA_TTABLE) {
        if (i == 1) q->allow = rp_arena_alloc(a, sizeof(char *)); /* an empty allow list */
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer x = 1; x <= n && !rc; x++) {
          lua_rawgeti(L, -1, x);
          const char *s = lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING
                              ? lua_tostring(L, -1)
                              : "";
          rc = rp_sreq_param(q, a, key, *s ? s : "\x01", lim, e);
          lua_pop(L, 1);
        }
      } else if (maps[j] && vt == LUA_TTABLE) {
        lua_pushnil(L);
        while (!rc && lua_next(L, -2)) {
          char name[300];
          snprintf(name, sizeof name, "%s.%s", key,
                   lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
          const char *s =
              lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
              : lua_type(L, -1) == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
                                                : "";
          rc = rp_sreq_param(q, a, name, s, lim, e);
          lua_pop(L, 1);
        }
        if (rc) lua_pop(L, 1);
      } else if (!(strcmp(key, "user") == 0 && vt == LUA_TNIL)) {
        rc = rp_serr_set(e, 400, key, "request field '%s' has a bad type (%s)", key,
                         lua_typename(L, vt));
      }
    }
    lua_pop(L, 1);
    if (rc) {
      lua_pop(L, 1);
      return -1;
    }
  }
  if (rp_sreq_finish(q, lim, e)) return -1;
  if (q->k) *k = q->k;
  if (q->exclude_seen >= 0) *excl = q->exclude_seen;
  return 0;
}

/* ---- computing an answer --------------------------------------------------------- */
typedef struct actx {
  rp_server *s;
  rp_worker *w;
  rp_gen *g;
  rp_wstate *ws;
  const rp_sreq *q;
  int32_t k;
  int excl;
  int failed;   /* 1: a Lua error (500), message in err */
  int computed; /* the answer was computed here (a cache miss) */
  rp_serr err;
  /* how it is answered (route): by rec in C (rec NULL: recommend in Lua) */
  int routed;
  const rp_recommender *rec;
  const rp_csr *exclude;
  const char *reason;
  int hist;  /* rec gets the request's history and attributes */
  int chain; /* rec is a chain rule's: when it has nothing, the chain goes on */
} actx;

static int cmp_i32(const void *a, const void *b) { return rp_cmp_i32(a, b); }

/* ids on map into sorted unique indices in the worker's arena (unknown ids
 * dropped) */
static int32_t *indices(rp_arena *ar, const rp_idmap *map, const char **ids, int32_t n,
                        int32_t *out_n, int sort) {
  int32_t *ix = rp_arena_alloc(ar, sizeof *ix * (size_t)(n ? n : 1)), m = 0;
  if (!ix) return NULL;
  for (int32_t i = 0; i < n; i++) {
    int32_t j = map ? rp_idmap_find(map, ids[i], strlen(ids[i])) : -1;
    if (j >= 0) ix[m++] = j;
  }
  if (sort && m > 1) {
    qsort(ix, (size_t)m, sizeof *ix, cmp_i32);
    int32_t u = 1;
    for (int32_t i = 1; i < m; i++)
      if (ix[i] != ix[u - 1]) ix[u++] = ix[i];
    m = u;
  }
  *out_n = m;
  return ix;
}

/* The C path: rec->one with the request's ids looked up on its maps. */
static int answer_c(actx *c, answer *a) {
  const rp_recommender *rec = c->rec;
  rp_arena *ar = &c->w->arena;
  const rp_sreq *q = c->q;
  rp_rec_query rq;
  memset(&rq, 0, sizeof rq);
  rq.user = q->user && rec->users ? rp_idmap_find(rec->users, q->user, strlen(q->user)) : -1;
  rq.exclude = c->exclude;
  int32_t nh = 0;
  if (q->nhistory && c->hist) {
    /* history with its values, unknown items dropped */
    int32_t *h = rp_arena_alloc(ar, sizeof *h * (size_t)q->nhistory);
    float *hv = q->values ? rp_arena_alloc(ar, sizeof *hv * (size_t)q->nhistory) : NULL;
    if (!h || (q->values && !hv)) return -1;
    for (int32_t i = 0; i < q->nhistory; i++) {
      int32_t j = rec->items ? rp_idmap_find(rec->items, q->history[i], strlen(q->history[i])) : -1;
      if (j < 0) continue;
      if (hv) hv[nh] = q->values[i];
      h[nh++] = j;
    }
    rq.hist = h, rq.hval = hv, rq.nhist = nh;
  }
  if (q->ndeny && !(rq.deny = indices(ar, rec->items, q->deny, q->ndeny, &rq.ndeny, 1))) return -1;
  if (q->nattributes && c->hist) {
    const char **ak = rp_arena_alloc(ar, sizeof(char *) * (size_t)q->nattributes);
    const char **av = rp_arena_alloc(ar, sizeof(char *) * (size_t)q->nattributes);
    if (!ak || !av) return -1;
    for (int32_t i = 0; i < q->nattributes; i++)
      ak[i] = q->attributes[i].key, av[i] = q->attributes[i].val;
    rq.attr_keys = ak, rq.attr_vals = av, rq.nattrs = q->nattributes;
  }
  if (q->allow && !(rq.allow = indices(ar, rec->items, q->allow, q->nallow, &rq.nallow, 1)))
    return -1;
  int32_t k = c->k < rec->nitems ? c->k : rec->nitems;
  a->n = 0;
  a->reason = c->reason;
  if (k < 1 || (q->allow && rq.nallow == 0)) {
    a->reason = "none";
    a->message = "nothing to recommend (no candidate items)";
    a->items = NULL;
    return 0;
  }
  int32_t *ix = rp_arena_alloc(ar, sizeof *ix * (size_t)k);
  a->scores = rp_arena_alloc(ar, sizeof(float) * (size_t)k);
  a->items = rp_arena_alloc(ar, sizeof(char *) * (size_t)k);
  if (!ix || !a->scores || !a->items) return -1;
  rp_err err;
  if (rec->one(rec->self, &rq, k, ix, a->scores, &a->n, &err)) {
    c->failed = 1;
    rp_serr_set(&c->err, 500, "", "the recommender failed: %s", err.msg);
    return -1;
  }
  for (int32_t i = 0; i < a->n; i++) a->items[i] = rp_idmap_id(rec->items, ix[i], NULL);
  if (a->n == 0) {
    a->reason = "none";
    a->message = rq.user < 0 && !rq.nhist
                     ? (q->user ? "unknown user and no history" : "no user and no history")
                     : "nothing to recommend for this user";
  }
  return 0;
}

/* Runs the function at the top of the stack under pcall with the
 * traceback handler; on error fills c->err (500) and logs the traceback. */
static int lcall(actx *c, lua_State *L, int nargs, int nres, const char *what) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, rp_host_traceback);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  if (rc == LUA_OK) return 0;
  const char *msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
  rp_log(RP_LOG_WARN, "serve: %s failed: %s", what, msg);
  const char *nl = strchr(msg, '\n');
  rp_serr_set(&c->err, 500, "", "%s failed: %.*s", what, (int)(nl ? nl - msg : (long)strlen(msg)),
              msg);
  c->failed = 1;
  lua_pop(L, 1);
  return -1;
}

/* Copies a Lua list of ids (and scores) at items/scores into a. */
static int read_lists(actx *c, lua_State *L, int items, int scores, answer *a) {
  rp_arena *ar = &c->w->arena;
  if (!lua_istable(L, items)) {
    rp_serr_set(&c->err, 500, "", "the recommender returned %s instead of a list of items",
                luaL_typename(L, items));
    c->failed = 1;
    return -1;
  }
  lua_Integer n = luaL_len(L, items);
  if (n > c->k) n = c->k;
  a->n = 0;
  a->items = rp_arena_alloc(ar, sizeof(char *) * (size_t)(n ? n : 1));
  a->scores = rp_arena_alloc(ar, sizeof(float) * (size_t)(n ? n : 1));
  if (!a->items || !a->scores) return -1;
  int has_scores = lua_istable(L, scores);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, items, i);
    size_t len;
    const char *s = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                        ? lua_tolstring(L, -1, &len)
                        : NULL;
    if (!s || !rp_sid_ok(s, len, 1 << 16)) {
      lua_pop(L, 1);
      rp_serr_set(&c->err, 500, "", "the recommender returned a bad item id at position %d",
                  (int)i);
      c->failed = 1;
      return -1;
    }
    a->items[a->n] = rp_arena_strndup(ar, s, len);
    lua_pop(L, 1);
    float sc = NAN;
    if (has_scores) {
      lua_rawgeti(L, scores, i);
      if (lua_type(L, -1) == LUA_TNUMBER) sc = (float)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    if (!a->items[a->n]) return -1;
    a->scores[a->n++] = sc;
  }
  return 0;
}

/* The Lua path: R:recommend(user, opts) -> items, scores, reason. */
/* Pushes the recommender, method `name` of it, the recommender again, the
 * user and the recommend options {k, exclude, items, deny, history,
 * values, attributes, context}: a call of R:name(user, opts) ready to go. */
static void push_call(actx *c, lua_State *L, const char *name) {
  const rp_sreq *q = c->q;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ws->ref_rec);
  lua_getfield(L, -1, name);
  lua_insert(L, -2);
  lua_pushstring(L, q->user ? q->user : "");
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, c->k);
  lua_setfield(L, -2, "k");
  if (!c->excl) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "exclude");
  } else if (c->ws->seen) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ws->ref_opts);
    lua_getfield(L, -1, "seen");
    lua_setfield(L, -3, "exclude");
    lua_pop(L, 1);
  }
  set_lists(L, q, 0);
}

/* Decides how c is answered: by the recommender in C (a C object), by a
 * chain's rule in C (the chain's `when` functions pick it, in Lua), or by
 * the recommender's recommend in Lua (c->rec NULL).  Returns -1 when a rule
 * raised (c->err set). */
static int route(actx *c) {
  rp_wstate *ws = c->ws;
  if (c->routed) return 0;
  c->routed = 1;
  c->rec = ws->rec;
  c->exclude = c->excl ? ws->seen : NULL;
  c->reason = c->g->reason;
  c->hist = 1;
  c->chain = 0;
  if (ws->rec || !ws->nrules) return 0;
  lua_State *L = ws->L;
  int top = lua_gettop(L);
  push_call(c, L, "_route");
  if (lcall(c, L, 3, 1, "recommend")) {
    lua_settop(L, top);
    return -1;
  }
  lua_Integer i = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_settop(L, top);
  if (i >= 1 && i <= ws->nrules && ws->rules[i - 1].rec) {
    const rp_rule *r = &ws->rules[i - 1];
    c->rec = r->rec;
    c->reason = r->label;
    c->hist = r->hist;
    c->exclude = !c->excl ? NULL : ws->seen ? ws->seen : ws->train;
    c->chain = 1;
  }
  return 0;
}

static int answer_lua(actx *c, answer *a) {
  lua_State *L = c->ws->L;
  int top = lua_gettop(L);
  push_call(c, L, "recommend");
  int rc = lcall(c, L, 3, 3, "recommend");
  if (rc == 0) {
    int items = top + 1, scores = top + 2, reason = top + 3;
    if (lua_isnil(L, items)) {
      a->n = 0;
      a->items = NULL;
      a->reason = "none";
      const char *m = lua_tostring(L, scores);
      a->message = rp_arena_strndup(&c->w->arena, m ? m : "no answer", strlen(m ? m : "no answer"));
    } else {
      rc = read_lists(c, L, items, scores, a);
      const char *r = lua_type(L, reason) == LUA_TSTRING ? lua_tostring(L, reason) : c->g->reason;
      a->reason = rp_arena_strndup(&c->w->arena, r, strlen(r));
      a->message = NULL;
      if (!rc && a->n == 0) a->reason = "none", a->message = "nothing to recommend for this user";
    }
  }
  lua_settop(L, top);
  return rc;
}

/* settings.filter(items, scores, req) -> items, scores */
static int apply_filter(actx *c, answer *a) {
  lua_State *L = c->ws->L;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ws->ref_filter);
  push_list(L, a->items, a->n);
  lua_createtable(L, a->n, 0);
  for (int32_t i = 0; i < a->n; i++) {
    lua_pushnumber(L, a->scores[i]);
    lua_rawseti(L, -2, i + 1);
  }
  push_request(L, c->q, c->k, c->excl);
  int rc = lcall(c, L, 3, 2, "filter");
  if (rc == 0) {
    const char *reason = a->reason;
    rc = read_lists(c, L, top + 1, top + 2, a);
    a->reason = reason;
    if (!rc && a->n == 0 && !a->message) a->message = "the filter removed every item";
  }
  lua_settop(L, top);
  return rc;
}

static int compute(actx *c, answer *a) {
  memset(a, 0, sizeof *a);
  int rc = route(c);
  if (!rc) rc = c->rec ? answer_c(c, a) : answer_lua(c, a);
  /* a chain rule with nothing for the user: the chain goes on, in Lua */
  if (!rc && c->chain && a->n == 0) rc = answer_lua(c, a);
  if (rc == 0 && c->ws->ref_filter != LUA_NOREF && a->n > 0) rc = apply_filter(c, a);
  if (rc && !c->failed) {
    c->failed = 1;
    rp_serr_set(&c->err, 503, "", "not enough memory to answer");
  }
  if (!a->reason) a->reason = "none";
  return rc;
}

static int fetch_cb(void *ud, const void *key, size_t klen, rp_cache_val **out, double *ttl,
                    rp_err *err) {
  (void)key, (void)klen, (void)ttl;
  actx *c = ud;
  answer a;
  c->computed = 1;
  if (compute(c, &a)) return rp_errf(err, RP_EINVAL, "%s", c->err.message);
  *out = encode(&a, err);
  return *out ? RP_OK : RP_ENOMEM;
}

/* ---- the cache key ------------------------------------------------------------------- */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}
static int cmp_kv(const void *a, const void *b) {
  return strcmp(((const rp_kv *)a)->key, ((const rp_kv *)b)->key);
}

static void key_list(rp_jbuf *b, rp_arena *ar, const char **ids, int32_t n) {
  const char **s = rp_arena_alloc(ar, sizeof *s * (size_t)(n ? n : 1));
  if (!s) {
    b->oom = 1;
    return;
  }
  if (n) memcpy(s, ids, sizeof *s * (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp_str);
  for (int32_t i = 0; i < n; i++) {
    if (i && strcmp(s[i], s[i - 1]) == 0) continue;
    rp_jbuf_puts(b, s[i]);
    rp_jbuf_add(b, "\x1e", 1);
  }
  rp_jbuf_add(b, "\x1f", 1);
}

static void key_pairs(rp_jbuf *b, rp_arena *ar, const rp_kv *kv, int32_t n) {
  rp_kv *s = rp_arena_alloc(ar, sizeof *s * (size_t)(n ? n : 1));
  if (!s) {
    b->oom = 1;
    return;
  }
  if (n) memcpy(s, kv, sizeof *s * (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp_kv);
  for (int32_t i = 0; i < n; i++) {
    rp_jbuf_puts(b, s[i].key);
    rp_jbuf_add(b, "=", 1);
    rp_jbuf_puts(b, s[i].val);
    rp_jbuf_add(b, "\x1e", 1);
  }
  rp_jbuf_add(b, "\x1f", 1);
}

static void make_key(rp_jbuf *b, rp_arena *ar, uint64_t serial, const rp_sreq *q, int32_t k,
                     int excl) {
  rp_jbuf_reset(b);
  rp_jbuf_printf(b, "%llu\x1f%s\x1f%d\x1f%d\x1f", (unsigned long long)serial,
                 q->user ? q->user : "", (int)k, excl);
  /* history: pairs of id and value (order does not matter to any scorer) */
  if (q->nhistory) {
    rp_kv *h = rp_arena_alloc(ar, sizeof *h * (size_t)q->nhistory);
    if (!h) {
      b->oom = 1;
      return;
    }
    for (int32_t i = 0; i < q->nhistory; i++) {
      char num[32];
      snprintf(num, sizeof num, "%.9g", q->values ? (double)q->values[i] : 1.0);
      h[i].key = q->history[i];
      h[i].val = rp_arena_strndup(ar, num, strlen(num));
      if (!h[i].val) {
        b->oom = 1;
        return;
      }
    }
    key_pairs(b, ar, h, q->nhistory);
  } else {
    rp_jbuf_add(b, "\x1f", 1);
  }
  if (q->allow)
    key_list(b, ar, q->allow, q->nallow);
  else
    rp_jbuf_add(b, "*\x1f", 2);
  key_list(b, ar, q->deny, q->ndeny);
  key_pairs(b, ar, q->attributes, q->nattributes);
  key_pairs(b, ar, q->context, q->ncontext);
}

/* ---- recommend ------------------------------------------------------------------- */
void rp_answer_error(rp_worker *w, const rp_serr *e, const char *rid, rp_reply *r) {
  rp_jbuf *b = &w->out;
  rp_jbuf_reset(b);
  rp_jbuf_puts(b, "{\"error\":");
  rp_jbuf_jstr(b, e->message);
  if (e->field[0]) {
    rp_jbuf_puts(b, ",\"field\":");
    rp_jbuf_jstr(b, e->field);
  }
  rp_jbuf_printf(b, ",\"status\":%d", e->status);
  if (rid) {
    rp_jbuf_puts(b, ",\"request_id\":");
    rp_jbuf_jstr(b, rid);
  }
  rp_jbuf_puts(b, "}\n");
  r->status = e->status;
  r->body = b->p;
  r->len = b->n;
}

static void oom_reply(rp_worker *w, const char *rid, rp_reply *r) {
  rp_serr e;
  rp_serr_set(&e, 503, "", "not enough memory to answer");
  rp_jbuf_free(&w->out);
  rp_answer_error(w, &e, rid, r);
}

/* The impression lines of an answer. */
static void log_impressions(rp_server *s, rp_worker *w, const char *rid, const char *user,
                            const char *version, const answer *a, double now) {
  if (!s->impressions || a->n == 0) return;
  rp_jbuf *b = &w->line;
  rp_jbuf_reset(b);
  char ts[40];
  snprintf(ts, sizeof ts, "%.3f", now);
  for (int32_t i = 0; i < a->n; i++) {
    rp_jbuf_puts(b, rid);
    rp_jbuf_add(b, ",", 1);
    rp_jbuf_puts(b, ts);
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, user ? user : "-");
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, a->items[i]);
    rp_jbuf_add(b, ",", 1);
    rp_jbuf_uint(b, (uint64_t)i + 1);
    rp_jbuf_add(b, ",", 1);
    rp_jbuf_float(b, a->scores[i]);
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, version);
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, a->reason);
    rp_jbuf_add(b, "\n", 1);
  }
  if (!b->oom) rp_slog_append(s->impressions, b->p, b->n);
}

static void render(rp_worker *w, const char *rid, const rp_gen *g, const char *user,
                   const answer *a, int cached, rp_reply *r) {
  rp_jbuf *b = &w->out;
  rp_jbuf_reset(b);
  rp_jbuf_puts(b, "{\"request_id\":");
  rp_jbuf_jstr(b, rid);
  rp_jbuf_puts(b, ",\"model_version\":");
  rp_jbuf_jstr(b, g->version);
  rp_jbuf_puts(b, ",\"reason\":");
  rp_jbuf_jstr(b, a->reason);
  if (user) {
    rp_jbuf_puts(b, ",\"user\":");
    rp_jbuf_jstr(b, user);
  }
  rp_jbuf_puts(b, ",\"items\":[");
  for (int32_t i = 0; i < a->n; i++) {
    if (i) rp_jbuf_add(b, ",", 1);
    rp_jbuf_jstr(b, a->items[i]);
  }
  rp_jbuf_puts(b, "],\"scores\":[");
  for (int32_t i = 0; i < a->n; i++) {
    if (i) rp_jbuf_add(b, ",", 1);
    rp_jbuf_float(b, a->scores[i]);
  }
  rp_jbuf_puts(b, "]");
  if (a->message) {
    rp_jbuf_puts(b, ",\"message\":");
    rp_jbuf_jstr(b, a->message);
  }
  rp_jbuf_puts(b, cached ? ",\"cached\":true}\n" : ",\"cached\":false}\n");
  r->status = 200;
  r->body = b->p;
  r->len = b->n;
}

/* Runs settings.on_request(req) and reads the request back.  Returns 0, or
 * -1 with c->err set (the hook refused: 400; it failed: 500). */
static int request_hook(actx *c, rp_sreq *q2) {
  lua_State *L = c->ws->L;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ws->ref_on_request);
  push_request(L, c->q, c->k, c->excl);
  lua_pushvalue(L, -1);
  lua_insert(L, top + 1); /* keep the table */
  if (lcall(c, L, 1, 2, "on_request")) {
    lua_settop(L, top);
    return -1;
  }
  int rc = 0;
  if (lua_type(L, top + 2) == LUA_TBOOLEAN && !lua_toboolean(L, top + 2)) {
    const char *m = lua_tostring(L, top + 3);
    rc = rp_serr_set(&c->err, 400, "request", "%s", m ? m : "refused by the on_request hook");
  } else {
    int t = lua_istable(L, top + 2) ? top + 2 : top + 1;
    int32_t k = c->k;
    int excl = c->excl;
    rc = read_request(L, t, q2, &c->w->arena, &c->s->lim, &k, &excl, &c->err);
    if (rc == 0) c->k = k, c->excl = excl, c->q = q2;
  }
  lua_settop(L, top);
  return rc;
}

/* ---- batches ------------------------------------------------------------------
 * A plain request -- a user the C recommender knows, none of history, items,
 * deny or attributes, no on_request hook, not in the cache -- waits for the
 * end of its worker's event cycle and is scored with the other requests of
 * that cycle in one rec->recommend call: the ALS batch kernel screens eight
 * users per pass over each tile of items, so a cycle of n requests reads the
 * item factors about n/8 times instead of n.  The answer is the one the
 * single-request path gives (the same exact top k). */
struct rp_pending {
  rp_gen *g;                 /* held (rp_gen_acquire) until the answer is sent */
  const rp_recommender *rec; /* scored by rec (the recommender or a chain rule's) */
  const rp_csr *exclude;
  const char *reason;
  int chain;
  int32_t u, k, excl, n, done;
  int32_t *items;
  float *scores;
  char *user, *key;
  size_t klen;
  uint64_t epoch; /* feedback epoch when asked: a later feedback keeps it out of the cache */
  rp_serr err;
};

void rp_pending_free(rp_server *s, rp_worker *w, rp_pending *p) {
  if (!p) return;
  rp_free(p->items);
  rp_free(p->scores);
  rp_free(p->user);
  rp_free(p->key);
  rp_free(p);
  rp_gen_release(s, w->id);
}

/* Puts c's request into the batch when it qualifies; 1 when it did. */
static int try_batch(actx *c, rp_pending **pending) {
  rp_server *s = c->s;
  rp_worker *w = c->w;
  const rp_sreq *q = c->q;
  if (!q->user || q->nhistory || q->allow || q->ndeny || q->nattributes ||
      c->ws->ref_on_request != LUA_NOREF)
    return 0;
  if (route(c)) return -1;
  const rp_recommender *rec = c->rec;
  if (!rec || !rec->users) return 0;
  int32_t u = rp_idmap_find(rec->users, q->user, strlen(q->user));
  if (u < 0 || u >= rec->nusers) return 0;
  if (w->nbatch == w->batch_cap) {
    int cap = w->batch_cap ? 2 * w->batch_cap : 64;
    rp_pending **b = rp_realloc(w->batch, sizeof *b * (size_t)cap);
    if (!b) return 0;
    w->batch = b;
    w->batch_cap = cap;
  }
  rp_pending *p = rp_calloc(1, sizeof *p);
  if (!p) return 0;
  p->u = u;
  p->rec = rec;
  p->exclude = c->exclude;
  p->reason = c->reason;
  p->chain = c->chain;
  p->k = c->k < rec->nitems ? c->k : rec->nitems;
  p->excl = c->excl;
  p->user = rp_strdup(q->user);
  p->epoch = atomic_load(&s->feedback_epoch);
  p->items = rp_malloc(sizeof(int32_t) * (size_t)(p->k > 0 ? p->k : 1));
  p->scores = rp_malloc(sizeof(float) * (size_t)(p->k > 0 ? p->k : 1));
  if (s->cache && !w->key.oom && (p->key = rp_malloc(w->key.n))) {
    memcpy(p->key, w->key.p, w->key.n);
    p->klen = w->key.n;
  }
  if (!p->user || !p->items || !p->scores || (s->cache && !p->key)) {
    rp_free(p->items), rp_free(p->scores), rp_free(p->user), rp_free(p->key), rp_free(p);
    return 0;
  }
  p->g = rp_gen_acquire(s, w->id); /* the same generation: the caller holds it too */
  w->batch[w->nbatch++] = p;
  *pending = p;
  return 1;
}

void rp_answer_batch(rp_server *s, rp_worker *w) {
  (void)s;
  /* one rec->recommend call per (recommender, exclusion) among the batch */
  for (;;) {
    int n = 0;
    int32_t kmax = 0;
    rp_pending *first = NULL;
    for (int i = 0; i < w->nbatch; i++) {
      rp_pending *p = w->batch[i];
      if (p->done) continue;
      if (!first) first = p;
      if (p->rec != first->rec || p->exclude != first->exclude) continue;
      if (p->k > kmax) kmax = p->k;
      n++;
    }
    if (!n) break;
    const rp_recommender *rec = first->rec;
    const rp_csr *exclude = first->exclude;
    int32_t *users = rp_malloc(sizeof *users * (size_t)n),
            *cnt = rp_malloc(sizeof *cnt * (size_t)n);
    int32_t *items = rp_malloc(sizeof *items * (size_t)n * (size_t)(kmax ? kmax : 1));
    float *scores = rp_malloc(sizeof *scores * (size_t)n * (size_t)(kmax ? kmax : 1));
    rp_err err = {0, ""};
    int rc = !users || !cnt || !items || !scores ? rp_enomem(&err, "batch") : RP_OK;
    int j = 0;
    for (int i = 0; i < w->nbatch && users; i++) {
      rp_pending *p = w->batch[i];
      if (!p->done && p->rec == rec && p->exclude == exclude) users[j++] = p->u;
    }
    if (!rc && kmax > 0)
      rc = rec->recommend(rec->self, users, n, kmax, exclude, 1, items, scores, cnt, &err);
    j = 0;
    for (int i = 0; i < w->nbatch; i++) {
      rp_pending *p = w->batch[i];
      if (p->done || p->rec != rec || p->exclude != exclude) continue;
      p->done = 1;
      if (rc) {
        rp_serr_set(&p->err, rc == RP_ENOMEM ? 503 : 500, "", "the recommender failed: %s",
                    err.msg);
      } else if (kmax > 0) {
        p->n = cnt[j] < p->k ? cnt[j] : p->k;
        if (p->n) {
          memcpy(p->items, items + (size_t)j * (size_t)kmax, sizeof(int32_t) * (size_t)p->n);
          memcpy(p->scores, scores + (size_t)j * (size_t)kmax, sizeof(float) * (size_t)p->n);
        }
      }
      j++;
    }
    rp_free(users);
    rp_free(cnt);
    rp_free(items);
    rp_free(scores);
  }
}

void rp_answer_pending(rp_server *s, rp_worker *w, rp_pending *p, const char *rid, rp_reply *r) {
  rp_gen *g = p->g;
  rp_wstate *ws = &g->w[w->id];
  if (p->err.status) {
    rp_answer_error(w, &p->err, rid, r);
    rp_pending_free(s, w, p);
    return;
  }
  rp_sreq q;
  rp_sreq_init(&q);
  q.user = p->user;
  q.k = p->k;
  actx c = {.s = s, .w = w, .g = g, .ws = ws, .q = &q, .k = p->k, .excl = p->excl};
  answer a = {p->n, rp_arena_alloc(&w->arena, sizeof(char *) * (size_t)(p->n ? p->n : 1)),
              p->scores, p->reason, NULL};
  if (!a.items) {
    oom_reply(w, rid, r);
    rp_pending_free(s, w, p);
    return;
  }
  for (int32_t i = 0; i < p->n; i++) a.items[i] = rp_idmap_id(p->rec->items, p->items[i], NULL);
  if (a.n == 0 && p->chain) { /* the rule had nothing: the chain goes on */
    if (answer_lua(&c, &a)) {
      rp_answer_error(w, &c.err, rid, r);
      rp_pending_free(s, w, p);
      return;
    }
  } else if (a.n == 0) {
    a.reason = "none", a.message = "nothing to recommend for this user";
  }
  if (ws->ref_filter != LUA_NOREF && a.n > 0 && apply_filter(&c, &a)) {
    rp_answer_error(w, &c.err, rid, r);
    rp_pending_free(s, w, p);
    return;
  }
  if (p->key && atomic_load(&s->feedback_epoch) == p->epoch) {
    rp_err err;
    rp_cache_val *v = encode(&a, &err);
    if (v) rp_cache_put(s->cache->c, p->key, p->klen, v, RP_CACHE_TTL_DEFAULT, NULL, &err);
    rp_cache_val_release(v);
  }
  rp_count(&s->wm[w->id].reasons[rp_server_reason(s, a.reason)], 1);
  log_impressions(s, w, rid, p->user, g->version, &a, rp_unix_now());
  render(w, rid, g, p->user, &a, 0, r);
  if (w->out.oom) oom_reply(w, rid, r);
  rp_pending_free(s, w, p);
}

static void recommend_in(rp_server *s, rp_worker *w, rp_gen *g, const rp_sreq *q, const char *rid,
                         rp_reply *r, int warm, rp_pending **pending) {
  rp_wstate *ws = &g->w[w->id];
  actx c = {.s = s,
            .w = w,
            .g = g,
            .ws = ws,
            .q = q,
            .k = q->k ? q->k : g->k,
            .excl = q->exclude_seen >= 0 ? q->exclude_seen : g->exclude_seen};
  rp_sreq q2;
  if (ws->ref_on_request != LUA_NOREF && request_hook(&c, &q2)) {
    rp_answer_error(w, &c.err, rid, r);
    return;
  }
  answer a;
  int cached = 0;
  rp_cache_val *v = NULL;
  if (s->cache) make_key(&w->key, &w->arena, g->serial, c.q, c.k, c.excl);
  if (pending && !warm && (!s->cache || (!w->key.oom && w->key.n <= RP_CACHE_KEY_MAX))) {
    /* the batch path, unless the cache has the answer */
    if (s->cache && rp_cache_get(s->cache->c, w->key.p, w->key.n, &v)) {
      if (decode(v, &w->arena, &a)) {
        rp_cache_val_release(v);
        oom_reply(w, rid, r);
        return;
      }
      rp_count(&s->wm[w->id].cache_hits, 1);
      rp_count(&s->wm[w->id].reasons[rp_server_reason(s, a.reason)], 1);
      log_impressions(s, w, rid, c.q->user, g->version, &a, rp_unix_now());
      render(w, rid, g, c.q->user, &a, 1, r);
      if (w->out.oom) oom_reply(w, rid, r);
      rp_cache_val_release(v);
      return;
    }
    int tb = try_batch(&c, pending);
    if (tb < 0) {
      rp_answer_error(w, &c.err, rid, r);
      return;
    }
    if (tb) {
      if (s->cache) rp_count(&s->wm[w->id].cache_misses, 1);
      r->status = 0;
      return;
    }
  }
  if (s->cache) {
    if (!w->key.oom && w->key.n <= RP_CACHE_KEY_MAX) {
      rp_err err;
      if (rp_cache_fetch(s->cache->c, w->key.p, w->key.n, RP_CACHE_TTL_DEFAULT, fetch_cb, &c, &v,
                         &err)) {
        rp_serr e;
        if (c.failed)
          e = c.err;
        else
          rp_serr_set(&e, 500, "", "%s", err.msg);
        rp_answer_error(w, &e, rid, r);
        return;
      }
      int was_hit = cached = !c.computed;
      if (!v || decode(v, &w->arena, &a)) {
        rp_cache_val_release(v);
        oom_reply(w, rid, r);
        return;
      }
      if (!warm) {
        rp_wmetrics *m = &s->wm[w->id];
        rp_count(was_hit ? &m->cache_hits : &m->cache_misses, 1);
      }
    }
  }
  if (!v) {
    if (compute(&c, &a)) {
      rp_answer_error(w, &c.err, rid, r);
      return;
    }
  }
  if (!warm) {
    rp_count(&s->wm[w->id].reasons[rp_server_reason(s, a.reason)], 1);
    log_impressions(s, w, rid, c.q->user, g->version, &a, rp_unix_now());
    render(w, rid, g, c.q->user, &a, cached, r);
    if (w->out.oom) oom_reply(w, rid, r);
  }
  rp_cache_val_release(v);
}

void rp_answer_recommend(rp_server *s, rp_worker *w, const rp_sreq *q, const char *rid, rp_reply *r,
                         rp_pending **pending) {
  rp_gen *g = rp_gen_acquire(s, w->id);
  recommend_in(s, w, g, q, rid, r, 0, pending);
  rp_gen_release(s, w->id);
}

void rp_answer_warm(rp_server *s, rp_gen *g) {
  if (!s->cache) return;
  rp_worker w;
  memset(&w, 0, sizeof w);
  w.id = 0;
  rp_arena_init(&w.arena, 64 << 20);
  lua_State *L = g->w[0].L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, g->w[0].ref_opts);
  lua_getfield(L, -1, "warm");
  int n = 0;
  if (lua_istable(L, -1)) {
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_rawgeti(L, -1, i);
      rp_sreq q;
      rp_serr e;
      int32_t k = 0;
      int excl = -1;
      rp_reply r;
      if (!lua_istable(L, -1) || read_request(L, -1, &q, &w.arena, &s->lim, &k, &excl, &e)) {
        rp_log(RP_LOG_WARN, "serve: warm request %d is not a request table (%s): skipped", (int)i,
               lua_istable(L, -1) ? e.message : "not a table");
      } else {
        recommend_in(s, &w, g, &q, "warm", &r, 1, NULL);
        n++;
      }
      lua_pop(L, 1);
      rp_arena_reset(&w.arena);
    }
  }
  lua_pop(L, 2);
  rp_arena_free(&w.arena);
  rp_jbuf_free(&w.out);
  rp_jbuf_free(&w.line);
  rp_jbuf_free(&w.key);
  if (n) rp_log(RP_LOG_INFO, "serve: %d answers warmed into the cache", n);
}

/* ---- similar ------------------------------------------------------------------------ */
void rp_answer_similar(rp_server *s, rp_worker *w, const rp_sreq *q, const char *rid, rp_reply *r) {
  rp_gen *g = rp_gen_acquire(s, w->id);
  rp_wstate *ws = &g->w[w->id];
  rp_serr e;
  answer a;
  memset(&a, 0, sizeof a);
  int32_t k = q->k ? q->k : g->k;
  actx c = {.s = s, .w = w, .g = g, .ws = ws, .q = q, .k = k};
  if (!q->item) {
    rp_serr_set(&e, 400, "item", "item is required (/v1/similar?item=ID)");
    goto fail;
  }
  if (ws->similar_als) {
    const rp_als_model *m = ws->similar_als;
    int32_t i = m->items ? rp_idmap_find(m->items, q->item, strlen(q->item)) : -1;
    if (i < 0 || i >= m->nitems) {
      rp_serr_set(&e, 404, "item", "unknown item '%s'", q->item);
      goto fail;
    }
    if (k > m->nitems) k = m->nitems;
    int32_t *ix = rp_arena_alloc(&w->arena, sizeof *ix * (size_t)k);
    a.scores = rp_arena_alloc(&w->arena, sizeof(float) * (size_t)k);
    a.items = rp_arena_alloc(&w->arena, sizeof(char *) * (size_t)k);
    rp_err err;
    if (!ix || !a.scores || !a.items) {
      rp_gen_release(s, w->id);
      oom_reply(w, rid, r);
      return;
    }
    if (rp_als_similar(m, 0, i, k, 0, ix, a.scores, &a.n, &err)) {
      rp_serr_set(&e, 500, "", "similar items failed: %s", err.msg);
      goto fail;
    }
    for (int32_t j = 0; j < a.n; j++) a.items[j] = rp_idmap_id(m->items, ix[j], NULL);
  } else if (ws->ref_similar != LUA_NOREF) {
    lua_State *L = ws->L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ws->ref_similar);
    lua_getfield(L, -1, "similar_items");
    lua_insert(L, -2);
    lua_pushstring(L, q->item);
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, k);
    lua_setfield(L, -2, "k");
    int rc = lcall(&c, L, 3, 2, "similar_items");
    if (rc == 0 && lua_isnil(L, top + 1)) {
      rp_serr_set(&e, 404, "item", "%s",
                  lua_tostring(L, top + 2) ? lua_tostring(L, top + 2) : "unknown item");
      lua_settop(L, top);
      goto fail;
    }
    if (rc == 0) rc = read_lists(&c, L, top + 1, top + 2, &a);
    lua_settop(L, top);
    if (rc) {
      e = c.err;
      goto fail;
    }
  } else {
    rp_serr_set(&e, 404, "item", "this model does not answer similar items (set 'similar')");
    goto fail;
  }
  rp_jbuf *b = &w->out;
  rp_jbuf_reset(b);
  rp_jbuf_puts(b, "{\"request_id\":");
  rp_jbuf_jstr(b, rid);
  rp_jbuf_puts(b, ",\"model_version\":");
  rp_jbuf_jstr(b, g->version);
  rp_jbuf_puts(b, ",\"reason\":\"similar\",\"item\":");
  rp_jbuf_jstr(b, q->item);
  rp_jbuf_puts(b, ",\"items\":[");
  for (int32_t i = 0; i < a.n; i++) {
    if (i) rp_jbuf_add(b, ",", 1);
    rp_jbuf_jstr(b, a.items[i]);
  }
  rp_jbuf_puts(b, "],\"scores\":[");
  for (int32_t i = 0; i < a.n; i++) {
    if (i) rp_jbuf_add(b, ",", 1);
    rp_jbuf_float(b, a.scores[i]);
  }
  rp_jbuf_puts(b, "]}\n");
  rp_gen_release(s, w->id);
  r->status = 200;
  r->body = b->p;
  r->len = b->n;
  if (b->oom) oom_reply(w, rid, r);
  return;
fail:
  rp_gen_release(s, w->id);
  rp_answer_error(w, &e, rid, r);
}

/* ---- events --------------------------------------------------------------------------- */
/* What accepted events change in the serving state, once they are in the
 * event log: the counters by type, and the users' cached answers, dropped
 * (the epoch keeps a batch computed before them out of the cache).  This is
 * where real-time updates of the users' factors plug in (issue 13: fold
 * the events since training into the user's factors so that the next
 * answer reflects them); such an update must also bump the epoch and drop
 * the user's answers, as here. */
static void feedback(rp_server *s, rp_worker *w, const rp_sevent *ev, int n) {
  atomic_fetch_add(&s->feedback_epoch, 1);
  rp_gen *g = rp_gen_acquire(s, w->id);
  uint64_t serial = g->serial;
  if (g->realtime && s->realtime) rp_realtime_events(s->realtime, g, g->realtime_weights, ev, n);
  rp_gen_release(s, w->id);
  rp_wmetrics *m = &s->wm[w->id];
  for (int i = 0; i < n; i++) {
    for (int t = 0; t < s->set.nevent_types && t < RP_NEVTYPES; t++)
      if (strcmp(s->set.event_types[t], ev[i].event) == 0) {
        rp_count(&m->events[t], 1);
        break;
      }
    if (s->cache && (i == 0 || strcmp(ev[i].user, ev[i - 1].user) != 0))
      rp_acache_forget_user(s->cache, serial, ev[i].user);
  }
}

void rp_answer_events(rp_server *s, rp_worker *w, const rp_sevent *ev, int n, const char *rid,
                      rp_reply *r) {
  double now = rp_unix_now();
  rp_jbuf *b = &w->line;
  rp_jbuf_reset(b);
  for (int i = 0; i < n; i++) {
    rp_csv_field(b, ev[i].user);
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, ev[i].item);
    rp_jbuf_add(b, ",", 1);
    rp_csv_field(b, ev[i].event);
    rp_jbuf_printf(b, ",%.3f,", ev[i].time > 0 ? ev[i].time : now);
    rp_csv_field(b, ev[i].request_id);
    rp_jbuf_add(b, "\n", 1);
  }
  if (b->oom) {
    oom_reply(w, rid, r);
    return;
  }
  if (s->events && rp_slog_append(s->events, b->p, b->n)) {
    rp_serr e;
    rp_serr_set(&e, 503, "",
                "the event log is behind (backlog full): nothing was recorded, "
                "retry later");
    rp_answer_error(w, &e, rid, r);
    return;
  }
  feedback(s, w, ev, n);
  rp_jbuf *o = &w->out;
  rp_jbuf_reset(o);
  rp_jbuf_puts(o, "{\"request_id\":");
  rp_jbuf_jstr(o, rid);
  rp_gen *g = rp_gen_acquire(s, w->id);
  rp_jbuf_puts(o, ",\"model_version\":");
  rp_jbuf_jstr(o, g->version);
  rp_gen_release(s, w->id);
  rp_jbuf_printf(o, ",\"accepted\":%d}\n", n);
  r->status = 202;
  r->body = o->p;
  r->len = o->n;
  if (o->oom) oom_reply(w, rid, r);
}
