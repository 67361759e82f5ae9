/*
 * topk.c -- top-k selection: recommend for one vector, for a batch of
 * users (the rp_recommender interface), similar items and users.
 *
 * Selection keeps a bounded min-heap of the k best (score, index) pairs;
 * higher scores win and equal scores go to the lower index, so the order
 * is total and every path returns the same list.  Exclusions are sorted
 * index lists walked in step with the scan (a CSR row is one).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "als_impl.h"
#include "screen.h"

int64_t rp_als_sort_unique(int32_t *idx, int64_t n) {
  if (n <= 0) return 0;
  qsort(idx, (size_t)n, sizeof *idx, rp_cmp_i32);
  int64_t o = 0;
  for (int64_t j = 0; j < n; j++)
    if (idx[j] >= 0 && (o == 0 || idx[j] != idx[o - 1])) idx[o++] = idx[j];
  return o;
}

/* ---- items without factors ------------------------------------------------- */
typedef struct untrained {
  rp_als_list list;
  int32_t idx[];
} untrained;

void rp_als_untrained_free(void *list) { rp_free(list); }

static int zero_row(const float *y, int32_t f) {
  for (int32_t d = 0; d < f; d++)
    if (y[d] != 0) return 0;
  return 1;
}

const rp_als_list *rp_als_untrained(const rp_als_model *cm, rp_err *err) {
  rp_als_model *m = (rp_als_model *)cm; /* the cache only */
  const untrained *u = __atomic_load_n(&m->untrained, __ATOMIC_ACQUIRE);
  if (u) return &u->list;
  pthread_mutex_lock(&m->lock);
  if (!m->untrained) {
    int32_t f = m->factors, n = 0;
    for (int32_t i = 0; i < m->nitems; i++) n += zero_row(m->item_factors + (int64_t)i * f, f);
    untrained *t = rp_malloc(sizeof *t + sizeof(int32_t) * (size_t)n);
    if (t) {
      n = 0;
      for (int32_t i = 0; i < m->nitems; i++)
        if (zero_row(m->item_factors + (int64_t)i * f, f)) t->idx[n++] = i;
      t->list.idx = t->idx, t->list.n = n;
      __atomic_store_n(&m->untrained, t, __ATOMIC_RELEASE);
    }
  }
  u = m->untrained;
  pthread_mutex_unlock(&m->lock);
  if (!u) rp_enomem(err, "list of items without factors");
  return u ? &u->list : NULL;
}

/* ---- exclusion walker -------------------------------------------------------- */
typedef struct walker {
  int n;
  const rp_als_list *l;
  int64_t pos[RP_ALS_EXCL_SLOTS];
} walker;

static void walker_init(walker *w, const rp_als_list *l, int n) {
  w->n = n;
  w->l = l;
  for (int a = 0; a < n; a++) w->pos[a] = 0;
}

/* Is item i excluded?  Items must be asked in increasing order. */
static inline int walker_hit(walker *w, int32_t i) {
  for (int a = 0; a < w->n; a++) {
    const rp_als_list *l = &w->l[a];
    int64_t p = w->pos[a];
    while (p < l->n && l->idx[p] < i) p++;
    w->pos[a] = p;
    if (p < l->n && l->idx[p] == i) return 1;
  }
  return 0;
}

/* ---- one vector ------------------------------------------------------------------ */
/* Scores every candidate with the exact dot product (the reference path and
 * the path for allow lists). */
static void topk_exact(const rp_als_model *m, const float *x, walker *w, const rp_als_list *allow,
                       rp_topk *h) {
  int32_t f = m->factors;
  const float *Y = m->item_factors;
  if (allow) {
    for (int64_t a = 0; a < allow->n; a++) {
      int32_t i = allow->idx[a];
      if (i >= m->nitems) break;
      if (walker_hit(w, i)) continue;
      rp_topk_push(h, i, rp_als_dot(x, Y + (int64_t)i * f, f));
    }
    return;
  }
  for (int32_t i = 0; i < m->nitems; i++) {
    if (walker_hit(w, i)) continue;
    rp_topk_push(h, i, rp_als_dot(x, Y + (int64_t)i * f, f));
  }
}

static int rp_als_topk_scratch(const rp_als_model *m, const float *x, int32_t k,
                               const rp_als_list *excl, int nexcl, const rp_als_list *allow,
                               rp_topk *h, int32_t *out_items, float *out_scores, int32_t *out_n) {
  walker w;
  walker_init(&w, excl, nexcl);
  h->n = 0;
  h->k = k;
  if (!allow && rp_als_screen_ready(m))
    rp_als_screen_topk(m, x, excl, nexcl, h);
  else
    topk_exact(m, x, &w, allow, h);
  *out_n = rp_topk_sorted(h, out_items, out_scores);
  return RP_OK;
}

static int check_excl(int nexcl, rp_err *err) {
  if (nexcl < 0 || nexcl > RP_ALS_MAX_EXCL)
    return rp_errf(err, RP_EINVAL, "at most %d exclusion lists, got %d", RP_ALS_MAX_EXCL, nexcl);
  return RP_OK;
}

static int topk_flags_locked(const rp_als_model *m, const float *x, int32_t k,
                             const rp_als_list *excl_in, int nexcl, const rp_als_list *allow,
                             int flags, int32_t *out_items, float *out_scores, int32_t *out_n,
                             rp_err *err) {
  *out_n = 0;
  if (check_excl(nexcl, err)) return RP_EINVAL;
  if (k > m->nitems) k = m->nitems;
  if (k <= 0) return RP_OK;
  rp_als_list excl[RP_ALS_EXCL_SLOTS];
  for (int a = 0; a < nexcl; a++) excl[a] = excl_in[a];
  if (!(flags & RP_ALS_UNTRAINED)) {
    const rp_als_list *u = rp_als_untrained(m, err);
    if (!u) return RP_ENOMEM;
    if (u->n) excl[nexcl++] = *u;
  }
  rp_topk h;
  rp_topk_init(&h, k, rp_malloc(sizeof(int32_t) * (size_t)k), rp_malloc(sizeof(float) * (size_t)k));
  int rc = RP_OK;
  if (!h.scores || !h.items)
    rc = rp_enomem(err, "top-k heap");
  else if (allow || (rc = rp_als_screen_prepare((rp_als_model *)m, err)) == RP_OK)
    rc = rp_als_topk_scratch(m, x, k, excl, nexcl, allow, &h, out_items, out_scores, out_n);
  rp_free(h.scores);
  rp_free(h.items);
  return rc;
}

int rp_als_topk_locked(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                       int nexcl, const rp_als_list *allow, int32_t *out_items, float *out_scores,
                       int32_t *out_n, rp_err *err) {
  return topk_flags_locked(m, x, k, excl, nexcl, allow, 0, out_items, out_scores, out_n, err);
}

int rp_als_topk_flags(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                      int nexcl, const rp_als_list *allow, int flags, int32_t *out_items,
                      float *out_scores, int32_t *out_n, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = topk_flags_locked(m, x, k, excl, nexcl, allow, flags, out_items, out_scores, out_n, err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_topk(const rp_als_model *m, const float *x, int32_t k, const rp_als_list *excl,
                int nexcl, const rp_als_list *allow, int32_t *out_items, float *out_scores,
                int32_t *out_n, rp_err *err) {
  return rp_als_topk_flags(m, x, k, excl, nexcl, allow, 0, out_items, out_scores, out_n, err);
}

/* ---- session boosts ------------------------------------------------------------------
 * The users with a session, sorted by user: each has its items (sorted,
 * unique) and what is added to their scores.  Read under the model's read
 * lock, replaced under its write lock. */
typedef struct session {
  int32_t user, n;
  int32_t *items;
  float *boost;
} session;

typedef struct sessions {
  session *v;
  int32_t n, cap;
} sessions;

static void session_clear(session *s) {
  rp_free(s->items);
  rp_free(s->boost);
}

void rp_als_sessions_free(void *p) {
  sessions *ss = p;
  if (!ss) return;
  for (int32_t a = 0; a < ss->n; a++) session_clear(&ss->v[a]);
  rp_free(ss->v);
  rp_free(ss);
}

/* the position of user u in ss (or where it would go) */
static int32_t session_pos(const sessions *ss, int32_t u) {
  int32_t lo = 0, hi = ss->n;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (ss->v[mid].user < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static const session *session_of(const rp_als_model *m, int32_t u) {
  const sessions *ss = m->sessions;
  if (!ss || !ss->n) return NULL;
  int32_t a = session_pos(ss, u);
  return a < ss->n && ss->v[a].user == u ? &ss->v[a] : NULL;
}

int rp_als_set_session(rp_als_model *m, int32_t u, const int32_t *items, int32_t n, float weight,
                       rp_err *err) {
  if (!isfinite(weight))
    return rp_errf(err, RP_EINVAL, "session weight must be a finite number, got %g",
                   (double)weight);
  if (n < 0 || (n && !items)) return rp_errf(err, RP_EINVAL, "session: bad item list (%d)", n);
  /* the new session, built outside the lock: sorted items, weight per
   * occurrence */
  session s = {u, 0, NULL, NULL};
  if (n) {
    s.items = rp_malloc(sizeof(int32_t) * (size_t)n);
    s.boost = rp_malloc(sizeof(float) * (size_t)n);
    if (!s.items || !s.boost) {
      session_clear(&s);
      return rp_enomem(err, "session");
    }
    int32_t k = 0;
    for (int32_t a = 0; a < n; a++)
      if (items[a] >= 0 && items[a] < m->nitems) s.items[k++] = items[a];
    qsort(s.items, (size_t)k, sizeof(int32_t), rp_cmp_i32);
    for (int32_t a = 0; a < k; a++) {
      if (s.n && s.items[s.n - 1] == s.items[a]) {
        s.boost[s.n - 1] += weight;
      } else {
        s.items[s.n] = s.items[a];
        s.boost[s.n++] = weight;
      }
    }
  }
  pthread_rwlock_wrlock(&m->rw);
  int rc = RP_OK;
  sessions *ss = m->sessions;
  if (u < 0 || u >= m->nusers) {
    rc = rp_errf(err, RP_EINVAL, "session: user %d is not a user of the model (it has %d)", u,
                 m->nusers);
    goto out;
  }
  if (!ss && s.n) {
    if (!(ss = rp_calloc(1, sizeof *ss))) {
      rc = rp_enomem(err, "sessions");
      goto out;
    }
    m->sessions = ss;
  }
  if (!ss) goto out;
  int32_t a = session_pos(ss, u);
  int found = a < ss->n && ss->v[a].user == u;
  if (found && s.n) {
    session old = ss->v[a];
    ss->v[a] = s;
    s = old; /* freed below */
  } else if (found) {
    session_clear(&ss->v[a]);
    memmove(ss->v + a, ss->v + a + 1, sizeof *ss->v * (size_t)(ss->n - a - 1));
    ss->n--;
  } else if (s.n) {
    if (ss->n == ss->cap) {
      int32_t cap = ss->cap ? 2 * ss->cap : 16;
      session *v = rp_realloc(ss->v, sizeof *v * (size_t)cap);
      if (!v) {
        rc = rp_enomem(err, "sessions");
        goto out;
      }
      ss->v = v, ss->cap = cap;
    }
    memmove(ss->v + a + 1, ss->v + a, sizeof *ss->v * (size_t)(ss->n - a));
    ss->v[a] = s;
    ss->n++;
    s.items = NULL, s.boost = NULL;
  }
out:
  pthread_rwlock_unlock(&m->rw);
  session_clear(&s);
  return rc;
}

int32_t rp_als_session_count(const rp_als_model *m) {
  rp_als_model_rdlock(m);
  const sessions *ss = m->sessions;
  int32_t n = ss ? ss->n : 0;
  rp_als_model_unlock(m);
  return n;
}

/* a candidate of the merge: item and score, best first, ties lower index */
typedef struct cand {
  int32_t i;
  float s;
} cand;

static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->s != y->s) return x->s < y->s ? 1 : -1;
  return (x->i > y->i) - (x->i < y->i);
}

/* Top k for x with session s's boosts: the top k + s->n without boosts
 * holds every unboosted item of the boosted top k (at most s->n boosted
 * items rank above it); the session's own items that pass the same
 * exclusions (a second scan restricted to them) get their boost; the
 * merge of the two is exact. */
static int session_topk_locked(const rp_als_model *m, const session *s, const float *x, int32_t k,
                               const rp_als_list *excl, int nexcl, const rp_als_list *allow,
                               int flags, int32_t *out_items, float *out_scores, int32_t *out_n,
                               rp_err *err) {
  int64_t kk64 = (int64_t)k + s->n;
  int32_t kk = kk64 < m->nitems ? (int32_t)kk64 : m->nitems, na = 0, nb = 0, nc = 0;
  cand *c = rp_malloc(sizeof *c * (size_t)(kk + s->n));
  int32_t *ai = rp_malloc(sizeof(int32_t) * (size_t)(kk + 2 * s->n));
  float *as = rp_malloc(sizeof(float) * (size_t)(kk + s->n));
  int rc = RP_OK;
  if (!c || !ai || !as) {
    rc = rp_enomem(err, "session top-k");
    goto done;
  }
  int32_t *bi = ai + kk, *own = ai + kk + s->n;
  float *bs = as + kk;
  /* the session's items that are candidates at all */
  int32_t no = 0;
  for (int32_t a = 0, b = 0; a < s->n; a++) {
    if (allow) {
      while (b < allow->n && allow->idx[b] < s->items[a]) b++;
      if (b == allow->n || allow->idx[b] != s->items[a]) continue;
    }
    own[no++] = s->items[a];
  }
  if ((rc = topk_flags_locked(m, x, kk, excl, nexcl, allow, flags, ai, as, &na, err))) goto done;
  if (no) {
    rp_als_list ol = {own, no};
    if ((rc = topk_flags_locked(m, x, no, excl, nexcl, &ol, flags, bi, bs, &nb, err))) goto done;
  }
  for (int32_t a = 0; a < nb; a++) {
    const int32_t *p = bsearch(&bi[a], s->items, (size_t)s->n, sizeof(int32_t), rp_cmp_i32);
    c[nc++] = (cand){bi[a], bs[a] + s->boost[p - s->items]};
  }
  for (int32_t a = 0; a < na; a++)
    if (!bsearch(&ai[a], s->items, (size_t)s->n, sizeof(int32_t), rp_cmp_i32))
      c[nc++] = (cand){ai[a], as[a]};
  qsort(c, (size_t)nc, sizeof *c, cmp_cand);
  *out_n = nc < k ? nc : k;
  for (int32_t a = 0; a < *out_n; a++) out_items[a] = c[a].i, out_scores[a] = c[a].s;
done:
  rp_free(c);
  rp_free(ai);
  rp_free(as);
  return rc;
}

int rp_als_user_topk_locked(const rp_als_model *m, int32_t u, int32_t k, const rp_als_list *excl,
                            int nexcl, const rp_als_list *allow, int flags, int32_t *out_items,
                            float *out_scores, int32_t *out_n, rp_err *err) {
  *out_n = 0;
  if (!rp_als_knows_user_locked(m, u)) return RP_OK;
  const float *x = m->user_factors + (int64_t)u * m->factors;
  const session *s = session_of(m, u);
  if (s && k > 0)
    return session_topk_locked(m, s, x, k < m->nitems ? k : m->nitems, excl, nexcl, allow, flags,
                               out_items, out_scores, out_n, err);
  return topk_flags_locked(m, x, k, excl, nexcl, allow, flags, out_items, out_scores, out_n, err);
}

int rp_als_recommend_user_flags(const rp_als_model *m, int32_t u, int32_t k,
                                const rp_als_list *excl, int nexcl, const rp_als_list *allow,
                                int flags, int32_t *out_items, float *out_scores, int32_t *out_n,
                                rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = rp_als_user_topk_locked(m, u, k, excl, nexcl, allow, flags, out_items, out_scores, out_n,
                                   err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_recommend_user(const rp_als_model *m, int32_t u, int32_t k, const rp_als_list *excl,
                          int nexcl, const rp_als_list *allow, int32_t *out_items,
                          float *out_scores, int32_t *out_n, rp_err *err) {
  return rp_als_recommend_user_flags(m, u, k, excl, nexcl, allow, 0, out_items, out_scores, out_n,
                                     err);
}

/* ---- batch ------------------------------------------------------------------------ */
static int recommend_batch_plain(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags,
                                 const rp_als_list *allow, int32_t *out_items, float *out_scores,
                                 int32_t *out_n, rp_err *err);

/* The batch, then the users with a session answered again with their
 * boosts (few: the realtime users of a server). */
static int recommend_batch(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *exclude, int threads, int flags, const rp_als_list *allow,
                           int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err) {
  int rc = recommend_batch_plain(m, users, n, k, exclude, threads, flags, allow, out_items,
                                 out_scores, out_n, err);
  const sessions *ss = m->sessions;
  if (rc || !ss || !ss->n) return rc;
  for (int32_t a = 0; a < n && !rc; a++) {
    int32_t u = users[a];
    if (!session_of(m, u)) continue;
    rp_als_list ex = {NULL, 0};
    if (exclude && u < exclude->nrows) {
      ex.idx = exclude->indices + exclude->indptr[u];
      ex.n = exclude->indptr[u + 1] - exclude->indptr[u];
    }
    rc = rp_als_user_topk_locked(m, u, k, &ex, 1, allow, flags, out_items + (int64_t)a * k,
                                 out_scores + (int64_t)a * k, &out_n[a], err);
  }
  return rc;
}

static int recommend_batch_plain(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags,
                                 const rp_als_list *allow, int32_t *out_items, float *out_scores,
                                 int32_t *out_n, rp_err *err) {
  if (n <= 0) return RP_OK;
  int32_t kk = k < m->nitems ? k : m->nitems;
  for (int32_t a = 0; a < n; a++) out_n[a] = 0;
  if (kk <= 0) return RP_OK;
  int rc = rp_als_screen_prepare((rp_als_model *)m, err);
  if (rc) return rc;
  const rp_als_list *skip = NULL;
  if (!(flags & RP_ALS_UNTRAINED)) {
    if (!(skip = rp_als_untrained(m, err))) return RP_ENOMEM;
    if (!skip->n) skip = NULL;
  }
  if (!allow && rp_als_screen_ready(m))
    return rp_als_screen_batch(m, users, n, kk, k, exclude, skip, threads, out_items, out_scores,
                               out_n, err);
  int nt = rp_threads(threads);
  if (nt > n) nt = n;
  float *hs = rp_malloc(sizeof(float) * (size_t)kk * (size_t)nt);
  int32_t *hi = rp_malloc(sizeof(int32_t) * (size_t)kk * (size_t)nt);
  if (!hs || !hi) {
    rp_free(hs);
    rp_free(hi);
    return rp_enomem(err, "top-k heaps");
  }
  int saved = rp_als_blas_begin();
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    rp_topk h;
    rp_topk_init(&h, kk, hi + (size_t)t * kk, hs + (size_t)t * kk);
#pragma omp for schedule(dynamic, 16)
    for (int32_t a = 0; a < n; a++) {
      int32_t u = users[a];
      if (!rp_als_knows_user_locked(m, u)) continue;
      rp_als_list ex[2] = {{NULL, 0}, {NULL, 0}};
      if (exclude && u < exclude->nrows) {
        ex[0].idx = exclude->indices + exclude->indptr[u];
        ex[0].n = exclude->indptr[u + 1] - exclude->indptr[u];
      }
      if (skip) ex[1] = *skip;
      rp_als_topk_scratch(m, m->user_factors + (int64_t)u * m->factors, kk, ex, 2, allow, &h,
                          out_items + (int64_t)a * k, out_scores + (int64_t)a * k, &out_n[a]);
    }
  }
  rp_als_blas_end(saved);
  rp_free(hs);
  rp_free(hi);
  return RP_OK;
}

int rp_als_recommend_batch_allow(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags,
                                 const rp_als_list *allow, int32_t *out_items, float *out_scores,
                                 int32_t *out_n, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = recommend_batch(m, users, n, k, exclude, threads, flags, allow, out_items, out_scores,
                           out_n, err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_recommend_batch_flags(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                                 const rp_csr *exclude, int threads, int flags, int32_t *out_items,
                                 float *out_scores, int32_t *out_n, rp_err *err) {
  return rp_als_recommend_batch_allow(m, users, n, k, exclude, threads, flags, NULL, out_items,
                                      out_scores, out_n, err);
}

int rp_als_recommend_batch(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                           const rp_csr *exclude, int threads, int32_t *out_items,
                           float *out_scores, int32_t *out_n, rp_err *err) {
  return rp_als_recommend_batch_flags(m, users, n, k, exclude, threads, 0, out_items, out_scores,
                                      out_n, err);
}

/* ---- similar --------------------------------------------------------------------- */
static const float *norms(rp_als_model *m, int which, rp_err *err) {
  pthread_mutex_lock(&m->lock);
  float **slot = which ? &m->user_norms : &m->item_norms;
  if (!*slot) {
    int32_t rows = which ? m->nusers : m->nitems, f = m->factors;
    const float *F = which ? m->user_factors : m->item_factors;
    float *nv = rp_malloc(sizeof(float) * (size_t)(rows ? rows : 1));
    if (nv)
      for (int32_t r = 0; r < rows; r++) {
        const float *v = F + (int64_t)r * f;
        nv[r] = sqrtf(rp_als_dot(v, v, f));
      }
    else
      rp_enomem(err, "norms");
    *slot = nv;
  }
  const float *res = *slot;
  pthread_mutex_unlock(&m->lock);
  return res;
}

/* The k rows most similar to row idx (valid, nonzero norm) into h (k set)
 * and out: every row, or the candidates of allow (sorted). */
static void similar_scan(const rp_als_model *m, int which, int32_t idx, int include_self,
                         const rp_als_list *allow, const float *nv, rp_topk *h, int32_t *out_idx,
                         float *out_scores, int32_t *out_n) {
  int32_t rows = which ? m->nusers : m->nitems, f = m->factors;
  const float *F = which ? m->user_factors : m->item_factors, *q = F + (int64_t)idx * f;
  float qn = nv[idx];
  h->n = 0;
  int64_t n = allow ? allow->n : rows;
  for (int64_t a = 0; a < n; a++) {
    int32_t r = allow ? allow->idx[a] : (int32_t)a;
    if (r < 0 || r >= rows) continue;
    if (r == idx && !include_self) continue;
    float s = nv[r] > 0 ? rp_als_dot(q, F + (int64_t)r * f, f) / (qn * nv[r]) : 0.0f;
    rp_topk_push(h, r, s);
  }
  *out_n = rp_topk_sorted(h, out_idx, out_scores);
}

static int similar_batch(const rp_als_model *m, int which, const int32_t *q, int32_t nq, int32_t k,
                         int include_self, const rp_als_list *allow, int threads, int32_t kout,
                         int32_t *out_idx, float *out_scores, int32_t *out_n, rp_err *err) {
  int32_t rows = which ? m->nusers : m->nitems;
  for (int32_t a = 0; a < nq; a++) out_n[a] = 0;
  const float *nv = norms((rp_als_model *)m, which, err);
  if (!nv) return RP_ENOMEM;
  if (k > rows) k = rows;
  if (k <= 0 || nq <= 0) return RP_OK;
  int nt = rp_threads(threads);
  if (nt > nq) nt = nq;
  float *hs = rp_malloc(sizeof(float) * (size_t)k * (size_t)nt);
  int32_t *hi = rp_malloc(sizeof(int32_t) * (size_t)k * (size_t)nt);
  if (!hs || !hi) {
    rp_free(hs);
    rp_free(hi);
    return rp_enomem(err, "top-k heaps");
  }
#pragma omp parallel num_threads(nt) if (nq > 1)
  {
    int t = omp_get_thread_num();
    rp_topk h;
    rp_topk_init(&h, k, hi + (size_t)t * k, hs + (size_t)t * k);
#pragma omp for schedule(dynamic, 16)
    for (int32_t a = 0; a < nq; a++)
      if (q[a] >= 0 && q[a] < rows && nv[q[a]] > 0)
        similar_scan(m, which, q[a], include_self, allow, nv, &h, out_idx + (int64_t)a * kout,
                     out_scores + (int64_t)a * kout, &out_n[a]);
  }
  rp_free(hs);
  rp_free(hi);
  return RP_OK;
}

int rp_als_similar_batch(const rp_als_model *m, int which, const int32_t *q, int32_t n, int32_t k,
                         int include_self, const rp_als_list *allow, int threads, int32_t *out_idx,
                         float *out_scores, int32_t *out_n, rp_err *err) {
  rp_als_model_rdlock(m);
  int rc = similar_batch(m, which, q, n, k, include_self, allow, threads, k, out_idx, out_scores,
                         out_n, err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_similar_in(const rp_als_model *m, int which, int32_t idx, int32_t k, int include_self,
                      const rp_als_list *allow, int32_t *out_idx, float *out_scores, int32_t *out_n,
                      rp_err *err) {
  *out_n = 0;
  rp_als_model_rdlock(m);
  int32_t rows = which ? m->nusers : m->nitems;
  int rc = idx < 0 || idx >= rows ? rp_errf(err, RP_EINVAL, "%s index %d out of range",
                                            which ? "user" : "item", (int)idx)
                                  : similar_batch(m, which, &idx, 1, k, include_self, allow, 1, k,
                                                  out_idx, out_scores, out_n, err);
  rp_als_model_unlock(m);
  return rc;
}

int rp_als_similar(const rp_als_model *m, int which, int32_t idx, int32_t k, int include_self,
                   int32_t *out_idx, float *out_scores, int32_t *out_n, rp_err *err) {
  return rp_als_similar_in(m, which, idx, k, include_self, NULL, out_idx, out_scores, out_n, err);
}
