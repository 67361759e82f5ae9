/*
 * gen_log.c -- rp_gen_events: sessions of a generated log, written in time
 * order.
 *
 * Two passes keep the memory small and the row count exact.
 *   1. For every user, sessions are planned (how many views, which of them
 *      come from the user's clusters or the whole catalogue, re-views,
 *      add-to-carts, purchases: enough to count the session's events) until
 *      the user's budget of events is used; the last session is cut to fit.
 *      Each session gets a start time drawn from the user's density (drift
 *      of the user's cluster, hour of day, weekday, after the user joined).
 *      Only (start, user, session number, length) is kept.
 *   2. Sessions are sorted by start (stable radix sort, so ties keep user
 *      order) and filled in: the plan is drawn again from the same stream,
 *      items and gaps from a second one.  Events of overlapping sessions are
 *      ordered through a small heap keyed by (time, sequence): everything
 *      not later than the next session's start can be written.
 * Every stream is keyed by (seed, purpose, user, session), so the output
 * depends on the options only.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gen_world.h"
#include "iotext.h"

/* ---- options ------------------------------------------------------------- */
const char *const rp_gen_time_format_names[] = {"unix", "iso", NULL};

/* The options of rp_gen_events, in the order rp.gen.options() lists them
 * (shift, a table {at, users, items, tilt}, is read by the binding onto
 * the shift_* fields, whose defaults are set by rp_gen_opts_init). */
#define O rp_gen_opts
#define SHARE(f, key, d) RP_OPT_N(O, f, key, d, 0, 1, 0)
const rp_optdesc rp_gen_optdesc[] = {
    {"path", RP_OPT_STR, RP_OPTF_(O, path), 0, NULL, 0, 0, 0, NULL,
     "the events CSV to write (.gz: compressed); required"},
    RP_OPT_S(O, items_path, "items_path", NULL),
    RP_OPT_S(O, users_path, "users_path", NULL),
    RP_OPT_S(O, truth_path, "truth_path", NULL),
    RP_OPT_I(O, users, "users", 1000, 1, 1000000000),
    RP_OPT_I(O, items, "items", 500, 1, 1000000000),
    {"clusters", RP_OPT_INT, RP_OPTF_(O, clusters), 0, NULL, 0, 2000, 0, NULL, "0: min(16, items)"},
    RP_OPT_I(O, events, "events", 20000, 0, 9.3e18),
    RP_OPT_SEED_(O, seed, "seed", 42),
    RP_OPT_I(O, days, "days", 180, 1, 36500),
    RP_OPT_T(O, start, "start", 1704067200, 0, 253402300799.0), /* 2024-01-01 00:00:00 UTC */
    RP_OPT_N(O, popularity, "popularity", 1.2, 0, 10, 0),
    RP_OPT_N(O, activity, "activity", 1.0, 0, 5, 0),
    SHARE(affinity, "affinity", 0.7),
    SHARE(secondary, "secondary", 0.15),
    RP_OPT_N(O, session, "session", 4.0, 1, 50, 0),
    SHARE(cart_rate, "cart_rate", 0.1),
    SHARE(purchase_rate, "purchase_rate", 0.5),
    RP_OPT_N(O, drift, "drift", 0.5, 0, 5, 0),
    SHARE(new_users, "new_users", 0.2),
    SHARE(new_items, "new_items", 0.1),
    SHARE(revisit, "revisit", 0.3),
    RP_OPT_E(O, time_format, "time_format", RP_GEN_TIME_UNIX, rp_gen_time_format_names),
    RP_OPT_I(O, gzip_level, "gzip_level", 6, 1, 9),
    RP_OPT_X("shift", "a table {at = time, users = 0.5, items = 0.5, tilt = 1}: a taste shift"),
    RP_OPT_END};
#undef SHARE
#undef O

void rp_gen_opts_init(rp_gen_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_gen_optdesc, o);
  o->shift_at = -1;
  o->shift_users = 0.5;
  o->shift_items = 0.5;
  o->shift_tilt = 1.0;
}

static int range(rp_err *err, const char *name, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    return rp_errf(err, RP_EINVAL, "gen: '%s' must be in [%g, %g], got %g", name, lo, hi, v);
  return RP_OK;
}

int rp_gen_check(const rp_gen_opts *o, rp_err *err) {
  if (!o->path || !*o->path) return rp_errf(err, RP_EINVAL, "gen: 'path' is required");
  rp_err e;
  if (rp_opts_check(rp_gen_optdesc, o, &e)) return rp_errf(err, RP_EINVAL, "gen: %s", e.msg);
  if (o->clusters > o->items)
    return rp_errf(err, RP_EINVAL, "gen: 'clusters' (%d) must not exceed 'items' (%d)", o->clusters,
                   o->items);
  if (o->start > 253402300799LL - (int64_t)o->days * 86400)
    return rp_errf(err, RP_EINVAL, "gen: 'start' must be between 1970 and 9999, got %lld",
                   (long long)o->start);
  if (o->affinity + o->secondary > 1 + 1e-12)
    return rp_errf(err, RP_EINVAL, "gen: 'affinity' + 'secondary' must be <= 1, got %g + %g",
                   o->affinity, o->secondary);
  if (o->shift_at >= 0) {
    int64_t end = o->start + (int64_t)o->days * 86400;
    if (o->shift_at < o->start || o->shift_at >= end) {
      char a[24], b[24], c[24];
      rp_gen_format_time(o->shift_at < 0 ? 0 : o->shift_at, 0, a);
      rp_gen_format_time(o->start, 0, b);
      rp_gen_format_time(end, 0, c);
      return rp_errf(err, RP_EINVAL,
                     "gen: 'shift.at' must be inside the period [%s, %s), got %s (%lld)", b, c, a,
                     (long long)o->shift_at);
    }
    if (range(err, "shift.users", o->shift_users, 0, 1) ||
        range(err, "shift.items", o->shift_items, 0, 1) ||
        range(err, "shift.tilt", o->shift_tilt, 0, 5))
      return RP_EINVAL;
  }
  return RP_OK;
}

/* ---- dates ------------------------------------------------------------------ */
static char *put2(char *p, int v) {
  *p++ = (char)('0' + v / 10);
  *p++ = (char)('0' + v % 10);
  return p;
}

int rp_gen_format_time(int64_t t, int date_only, char *buf) {
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), y;
  int64_t sec = t - days * 86400;
  int m, d;
  rp_civil_from_days(days, &y, &m, &d);
  char *p = buf;
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  p = put2(p, (int)(y / 100));
  p = put2(p, (int)(y % 100));
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  p = put2(p, d);
  if (!date_only) {
    *p++ = ' ';
    p = put2(p, (int)(sec / 3600));
    *p++ = ':';
    p = put2(p, (int)(sec / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sec % 60));
  }
  *p = 0;
  return (int)(p - buf);
}

/* ---- session plans -------------------------------------------------------- */
#define MAXV 64     /* views per session at most */
#define REVIEW 0.12 /* chance a view (after the first) returns to an earlier item */
#define SAME_DEVICE 0.8
#define HOME_COUNTRY 0.97
enum { SRC_PRIMARY, SRC_SECONDARY, SRC_GLOBAL, SRC_REPEAT };
enum { EV_VIEW, EV_CART, EV_PURCHASE };
static const char *const ev_names[] = {"view", "addtocart", "purchase"};

typedef struct plan {
  int nv, nevents;
  uint8_t src[MAXV], rep[MAXV], cart[MAXV], buy[MAXV];
} plan;

/* Draws a session's shape from r: views (1 + geometric, mean o->session),
 * where each comes from, which are carted (own-cluster items and re-viewed
 * ones likelier, each item at most once) and which carts are bought. */
static void plan_session(const rp_gen_opts *o, rp_rng *r, plan *p) {
  static const double cart_f[4] = {1.5, 1.0, 0.5, 2.0};
  static const double buy_f[3] = {1.2, 1.0, 0.7};
  double more = 1.0 - 1.0 / o->session;
  int nv = 1;
  while (nv < MAXV && rp_rng_uniform(r) < more) nv++;
  uint8_t carted[MAXV];
  int ncart = 0, nbuy = 0;
  for (int k = 0; k < nv; k++) {
    int orig = k;
    carted[k] = 0;
    if (k > 0 && rp_rng_uniform(r) < REVIEW) {
      int j = (int)rp_rng_below(r, (uint64_t)k);
      orig = p->src[j] == SRC_REPEAT ? p->rep[j] : j;
      p->src[k] = SRC_REPEAT;
      p->rep[k] = (uint8_t)orig;
    } else {
      double x = rp_rng_uniform(r);
      p->src[k] = x < o->affinity                  ? SRC_PRIMARY
                  : x < o->affinity + o->secondary ? SRC_SECONDARY
                                                   : SRC_GLOBAL;
    }
    double y = rp_rng_uniform(r);
    p->cart[k] = !carted[orig] && y < o->cart_rate * cart_f[p->src[k]];
    if (p->cart[k]) carted[orig] = 1, ncart++;
  }
  for (int k = 0; k < nv; k++) {
    p->buy[k] = 0;
    if (!p->cart[k]) continue;
    int osrc = p->src[k] == SRC_REPEAT ? p->src[p->rep[k]] : p->src[k];
    p->buy[k] = rp_rng_uniform(r) < o->purchase_rate * buy_f[osrc];
    nbuy += p->buy[k];
  }
  p->nv = nv;
  p->nevents = nv + ncart + nbuy;
}

/* ---- pass 1: sessions ------------------------------------------------------ */
typedef struct session {
  uint32_t t; /* start, seconds from the period's start */
  int32_t user;
  uint32_t j;   /* the user's session number (keys its streams) */
  uint32_t len; /* events to write (the plan's count, or less for the last) */
} session;

static uint32_t draw_start(const gen_world *w, rp_rng *r, int32_t u) {
  double span = (double)(w->T - w->ujoin[u]);
  uint32_t t = w->ujoin[u];
  for (int tries = 0; tries < 1000; tries++) {
    t = w->ujoin[u] + (uint32_t)(rp_rng_uniform(r) * span);
    if (rp_rng_uniform(r) * w->wmax < gen_time_weight(w, w->uc1[u], t)) break;
  }
  return t;
}

static int plan_all(const gen_world *w, session **out, size_t *nout, rp_err *err) {
  const rp_gen_opts *o = w->o;
  size_t n = 0, cap = (size_t)(o->events / 4 + 16);
  session *s = rp_malloc(cap * sizeof *s);
  if (!s) return rp_enomem(err, "generator sessions");
  for (int32_t u = 0; u < w->nu; u++) {
    rp_rng tr, pr;
    gen_rng(&tr, o->seed, GEN_S_TIMES, (uint64_t)u, 0);
    int64_t budget = w->ubudget[u];
    for (uint32_t j = 0; budget > 0; j++) {
      plan p;
      gen_rng(&pr, o->seed, GEN_S_PLAN, (uint64_t)u, j);
      plan_session(o, &pr, &p);
      if (n == cap) {
        session *g = rp_realloc(s, (cap + cap / 2) * sizeof *s);
        if (!g) {
          rp_free(s);
          return rp_enomem(err, "generator sessions");
        }
        s = g;
        cap += cap / 2;
      }
      uint32_t len = p.nevents < budget ? (uint32_t)p.nevents : (uint32_t)budget;
      s[n++] = (session){draw_start(w, &tr, u), u, j, len};
      budget -= len;
    }
  }
  *out = s;
  *nout = n;
  return RP_OK;
}

/* Stable LSD radix sort of sessions by start (two 16-bit digits). */
static int sort_sessions(session *s, size_t n, rp_err *err) {
  session *tmp = rp_malloc(n * sizeof *tmp + 1);
  size_t *cnt = rp_malloc(65536 * sizeof *cnt);
  if (!tmp || !cnt) {
    rp_free(tmp);
    rp_free(cnt);
    return rp_enomem(err, "generator sort");
  }
  session *src = s, *dst = tmp;
  for (int shift = 0; shift < 32; shift += 16) {
    memset(cnt, 0, 65536 * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[(src[i].t >> shift) & 0xffff]++;
    size_t sum = 0;
    for (size_t k = 0; k < 65536; k++) {
      size_t c = cnt[k];
      cnt[k] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) dst[cnt[(src[i].t >> shift) & 0xffff]++] = src[i];
    session *t = src;
    src = dst;
    dst = t;
  }
  /* two passes: the result is back in s */
  rp_free(tmp);
  rp_free(cnt);
  return RP_OK;
}

/* ---- pass 2: what each user has seen ------------------------------------------
 * For every user, the items seen so far with their view counts, sorted by
 * item (one small array per user: a session's look-ups stay in a few cache
 * lines), so a view drawn on an item the user has seen c times is kept only
 * with probability o->revisit / c (else drawn again, by popularity 8 times,
 * then 8 times with equal chances): users explore the catalogue, and come
 * back to an item less the more they have seen it, instead of viewing the
 * head of their cluster hundreds of times. */
typedef struct seenitem {
  int32_t item;
  uint32_t count;
} seenitem;

typedef struct seenlist {
  seenitem *v;
  uint32_t n, cap;
} seenlist;

/* Position of item in l (or where it would go). */
static uint32_t seen_find(const seenlist *l, int32_t item) {
  uint32_t lo = 0, hi = l->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (l->v[mid].item < item)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* How many views of item the user has so far. */
static uint32_t seen_count(const seenlist *l, int32_t item) {
  uint32_t k = seen_find(l, item);
  return k < l->n && l->v[k].item == item ? l->v[k].count : 0;
}

/* Counts a view of item; *added is set when it is the user's first. */
static int seen_add(seenlist *l, int32_t item, int *added, rp_err *err) {
  uint32_t k = seen_find(l, item);
  *added = !(k < l->n && l->v[k].item == item);
  if (*added) {
    if (l->n == l->cap) {
      uint32_t cap = l->cap ? 2 * l->cap : 4;
      seenitem *v = rp_realloc(l->v, cap * sizeof *v);
      if (!v) return rp_enomem(err, "generator seen items");
      l->v = v;
      l->cap = cap;
    }
    memmove(l->v + k + 1, l->v + k, (l->n - k) * sizeof *l->v);
    l->v[k] = (seenitem){item, 0};
    l->n++;
  }
  l->v[k].count++;
  return RP_OK;
}

/* ---- pass 2: events ---------------------------------------------------------- */
typedef struct pending {
  uint32_t t;
  uint8_t type, device, country;
  uint64_t seq;
  int32_t user, item;
} pending;

typedef struct emitter {
  const gen_world *w;
  rp_writer *out;
  rp_gen_report *rep;
  pending *heap;
  size_t nheap, cap;
  uint64_t seq;
  uint8_t *useen, *iseen;
  seenlist *seen; /* per user */
  int64_t pairs;
  size_t len;
  char buf[1 << 16];
} emitter;

static int before(const pending *a, const pending *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int push(emitter *e, pending p, rp_err *err) {
  if (e->nheap == e->cap) {
    size_t cap = e->cap ? 2 * e->cap : 1024;
    pending *h = rp_realloc(e->heap, cap * sizeof *h);
    if (!h) return rp_enomem(err, "generator event queue");
    e->heap = h;
    e->cap = cap;
  }
  p.seq = e->seq++;
  size_t i = e->nheap++;
  while (i > 0 && before(&p, &e->heap[(i - 1) / 2])) {
    e->heap[i] = e->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  e->heap[i] = p;
  return RP_OK;
}

static pending pop(emitter *e) {
  pending top = e->heap[0], last = e->heap[--e->nheap];
  size_t i = 0, n = e->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && before(&e->heap[c + 1], &e->heap[c])) c++;
    if (!before(&e->heap[c], &last)) break;
    e->heap[i] = e->heap[c];
    i = c;
  }
  if (n) e->heap[i] = last;
  return top;
}

static int write_event(emitter *e, const pending *p, rp_err *err) {
  if (e->len > sizeof e->buf - 128) {
    if (rp_writer_write(e->out, e->buf, e->len, err)) return err->status;
    e->rep->bytes += e->len;
    e->len = 0;
  }
  const rp_gen_opts *o = e->w->o;
  int64_t t = o->start + (int64_t)p->t;
  char *q = e->buf + e->len;
  *q++ = 'u';
  q = gen_put_uint(q, (uint64_t)p->user + 1);
  *q++ = ',';
  *q++ = 'i';
  q = gen_put_uint(q, (uint64_t)p->item + 1);
  *q++ = ',';
  q = gen_put_str(q, ev_names[p->type]);
  *q++ = ',';
  if (o->time_format == RP_GEN_TIME_ISO)
    q += rp_gen_format_time(t, 0, q);
  else
    q = gen_put_uint(q, (uint64_t)t);
  *q++ = ',';
  q = gen_put_str(q, gen_devices[p->device]);
  *q++ = ',';
  q = gen_put_str(q, gen_countries[p->country]);
  *q++ = '\n';
  e->len = (size_t)(q - e->buf);
  rp_gen_report *r = e->rep;
  if (r->events == 0) r->tmin = t;
  r->tmax = t;
  r->events++;
  r->views += p->type == EV_VIEW;
  r->carts += p->type == EV_CART;
  r->purchases += p->type == EV_PURCHASE;
  if (!e->useen[p->user]) e->useen[p->user] = 1, r->users++;
  if (!e->iseen[p->item]) e->iseen[p->item] = 1, r->items++;
  return RP_OK;
}

/* Writes every pending event at or before t (UINT32_MAX: all). */
static int drain(emitter *e, uint32_t t, rp_err *err) {
  while (e->nheap > 0 && e->heap[0].t <= t) {
    pending p = pop(e);
    if (write_event(e, &p, err)) return err->status;
  }
  return RP_OK;
}

static double gap(rp_rng *r, double fixed, double mean) {
  return fixed - mean * log(1.0 - rp_rng_uniform(r));
}

/* Fills in session s and queues its events. */
static int fill_session(emitter *e, const session *s, rp_err *err) {
  const gen_world *w = e->w;
  const rp_gen_opts *o = w->o;
  int32_t u = s->user;
  plan p;
  rp_rng pr, r;
  gen_rng(&pr, o->seed, GEN_S_PLAN, (uint64_t)u, s->j);
  plan_session(o, &pr, &p);
  gen_rng(&r, o->seed, GEN_S_FILL, (uint64_t)u, s->j);
  pending ev = {0};
  ev.user = u;
  ev.device =
      rp_rng_uniform(&r) < SAME_DEVICE ? w->udevice[u] : (uint8_t)rp_rng_below(&r, GEN_NDEVICES);
  ev.country = rp_rng_uniform(&r) < HOME_COUNTRY ? w->ucountry[u]
                                                 : (uint8_t)rp_rng_below(&r, GEN_NCOUNTRIES);
  double t = s->t, last = (double)(w->T - 1);
  uint32_t left = s->len;
  int32_t item[MAXV];
  for (int k = 0; k < p.nv && left > 0; k++) {
    uint32_t now = (uint32_t)(t < last ? t : last);
    if (p.src[k] == SRC_REPEAT) {
      item[k] = item[p.rep[k]];
    } else {
      int32_t c = p.src[k] == SRC_PRIMARY     ? gen_user_cluster(w, u, now, 0)
                  : p.src[k] == SRC_SECONDARY ? gen_user_cluster(w, u, now, 1)
                                              : gen_draw_cluster(w, &r, now);
      /* by popularity first; a user who has seen the cluster's head looks
       * further, with equal chances for every item */
      for (int tries = 0; tries < 16; tries++) {
        item[k] = gen_draw_item(w, &r, c, now, tries >= 8);
        uint32_t seen = seen_count(&e->seen[u], item[k]);
        if (!seen || rp_rng_uniform(&r) * seen < o->revisit) break;
      }
    }
    ev.item = item[k];
    ev.type = EV_VIEW;
    ev.t = now;
    int added;
    if (push(e, ev, err) || seen_add(&e->seen[u], item[k], &added, err)) return err->status;
    e->pairs += added;
    left--;
    if (p.cart[k] && left > 0) {
      t += gap(&r, 2, 15);
      ev.type = EV_CART;
      ev.t = (uint32_t)(t < last ? t : last);
      if (push(e, ev, err)) return err->status;
      left--;
    }
    t += gap(&r, 5, 40);
  }
  t += gap(&r, 10, 30); /* checkout */
  for (int k = 0; k < p.nv && left > 0; k++) {
    if (!p.buy[k]) continue;
    ev.item = item[k];
    ev.type = EV_PURCHASE;
    ev.t = (uint32_t)(t < last ? t : last);
    if (push(e, ev, err)) return err->status;
    left--;
    t += 1 + (double)rp_rng_below(&r, 15);
  }
  return RP_OK;
}

static int write_log(const gen_world *w, const session *s, size_t n, rp_writer *out,
                     rp_gen_report *rep, rp_err *err) {
  emitter *e = rp_calloc(1, sizeof *e);
  if (!e) return rp_enomem(err, "generator");
  e->w = w;
  e->out = out;
  e->rep = rep;
  e->useen = rp_calloc((size_t)w->nu, 1);
  e->iseen = rp_calloc((size_t)w->ni, 1);
  e->seen = rp_calloc((size_t)w->nu, sizeof *e->seen);
  int rc = RP_OK;
  if (!e->useen || !e->iseen || !e->seen) {
    rc = rp_enomem(err, "generator");
    goto done;
  }
  static const char header[] = "user_id,item_id,event,timestamp,device,country\n";
  memcpy(e->buf, header, sizeof header - 1);
  e->len = sizeof header - 1;
  for (size_t i = 0; i < n && !rc; i++) {
    rc = drain(e, s[i].t, err);
    if (!rc) rc = fill_session(e, &s[i], err);
    if ((i & 0xffff) == 0) rp_progress("generating", (double)i, (double)n, 0);
  }
  if (!rc) rc = drain(e, UINT32_MAX, err);
  if (!rc && e->len) {
    rc = rp_writer_write(out, e->buf, e->len, err);
    rep->bytes += e->len;
  }
  rp_progress("generating", (double)n, (double)n, 1);
  rep->pairs = e->pairs;
done:
  for (int32_t u = 0; e->seen && u < w->nu; u++) rp_free(e->seen[u].v);
  rp_free(e->seen);
  rp_free(e->heap);
  rp_free(e->useen);
  rp_free(e->iseen);
  rp_free(e);
  return rc;
}

/* ---- the whole run ---------------------------------------------------------------- */
int rp_gen_events(const rp_gen_opts *o, rp_gen_report *rep, rp_err *err) {
  rp_gen_report dummy;
  if (!rep) rep = &dummy;
  memset(rep, 0, sizeof *rep);
  int rc = rp_gen_check(o, err);
  if (rc) return rc;
  gen_world w;
  rc = gen_world_build(&w, o, err);
  if (rc) return rc;
  rep->clusters = w.K;
  enum { NW = 4 };
  const char *paths[NW] = {o->items_path, o->users_path, o->truth_path, o->path};
  int (*writers[NW - 1])(const gen_world *, rp_writer *, rp_err *) = {
      gen_write_items, gen_write_users, gen_write_truth};
  rp_writer *out[NW] = {NULL, NULL, NULL, NULL};
  session *s = NULL;
  size_t ns = 0;
  for (int k = 0; k < NW && !rc; k++) {
    if (!paths[k]) continue;
    out[k] = rp_writer_open(paths[k], err);
    if (!out[k])
      rc = err->status;
    else if (!(rc = rp_writer_gzip_level(out[k], o->gzip_level, err)) && k < NW - 1)
      rc = writers[k](&w, out[k], err);
  }
  if (!rc) rc = plan_all(&w, &s, &ns, err);
  if (!rc) rc = sort_sessions(s, ns, err);
  if (!rc) rc = write_log(&w, s, ns, out[NW - 1], rep, err);
  rep->sessions = (int64_t)ns;
  /* commit only when everything was written: the events file last */
  for (int k = 0; k < NW; k++) {
    if (!out[k]) continue;
    if (!rc)
      rc = rp_writer_commit(out[k], err);
    else
      rp_writer_abort(out[k]);
  }
  rp_free(s);
  gen_world_free(&w);
  return rc;
}
