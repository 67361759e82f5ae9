/*
 * screen.c -- exact top-k over all items in a quarter of the memory
 * traffic: an int8 copy of the item factors screens, the float factors
 * decide.
 *
 * Scoring one user against 50,000 items at f = 64 reads 12.8 MB of float
 * factors: memory-bound (~450 us on this machine).  Here every item row is
 * quantised once, y_i ~ s_i q_i with q_i in [-127, 127]^f (s_i = max|y_i|
 * / 127), and the query too, x ~ t qx.  The integer dot product D_i = qx.q_i
 * (AVX-512 VNNI: 64 multiply-adds per instruction) gives an approximate
 * score a_i = t s_i D_i with a guaranteed error bound.  Writing x_d =
 * t qx_d + ex_d, y_d = s q_d + ey_d with |ex_d| <= t/2, |ey_d| <= s/2:
 *
 *   |x.y - a_i| <= s_i (|x|_1/2 + f t/2 + t |q_i|_1 / 2)  =: e_i
 *
 * (plus an allowance for float rounding in both computations).  With L the
 * k-th largest lower bound a_i - e_i over the candidate items, every item
 * of the exact top k has a_i + e_i >= L; those few candidates are rescored
 * with the exact float dot product rp_als_dot and selected.  The result is
 * therefore the brute-force result, bit for bit -- the same items, the same
 * scores, the same tie order.  When too many candidates survive (a nearly
 * degenerate catalogue) the query falls back to the exact scan.
 *
 * Layout: items in groups of 16; per group and per 4 dimensions 64 bytes
 * (16 items x 4 dims), stored offset by 128 as unsigned bytes (VNNI
 * multiplies unsigned by signed bytes; the offset costs one correction per
 * query: D_i = acc_i - 128 sum(qx)).
 *
 * Batches (rp_als_recommend_batch) run the same screen for 8 users at a
 * time over tiles of 1,024 items, so each 64-byte panel loaded feeds 8
 * VNNI instructions and a tile stays in L2 while a block of users passes.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "screen.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define RP_VNNI 1
#else
#define RP_VNNI 0
#endif

/* candidates kept per query before falling back to the exact scan (about
 * k ln(n/k) plus a band around the threshold are expected) */
#define CAND_CAP(k) (2048 + 8 * (int64_t)(k))
#define USERS_PER_BLOCK 64
#define GROUPS_PER_TILE 64

typedef struct screen {
  int32_t f, fq, nitems, ngroups;
  uint8_t *panel; /* ngroups x fq/4 x 64 */
  float *scale;   /* ngroups x 16: s_i (0 for padding) */
  float *mscale;  /* s_i |q_i|_1 */
} screen;

void rp_als_screen_free(void *p) {
  screen *s = p;
  if (!s) return;
  rp_free(s->panel);
  rp_free(s->scale);
  rp_free(s->mscale);
  rp_free(s);
}

int rp_als_screen_ready(const rp_als_model *m) {
  return __atomic_load_n(&m->screen, __ATOMIC_ACQUIRE) != NULL;
}

static screen *build(const rp_als_model *m, rp_err *err) {
  int32_t f = m->factors, fq = (f + 3) & ~3, ng = (m->nitems + 15) / 16;
  screen *s = rp_calloc(1, sizeof *s);
  if (!s) return rp_enomem(err, "screening copy"), NULL;
  s->f = f, s->fq = fq, s->nitems = m->nitems, s->ngroups = ng;
  s->panel = rp_malloc((size_t)ng * 16 * (size_t)fq + 64);
  s->scale = rp_calloc((size_t)ng * 16 + 16, sizeof(float));
  s->mscale = rp_calloc((size_t)ng * 16 + 16, sizeof(float));
  if (!s->panel || !s->scale || !s->mscale) {
    rp_als_screen_free(s);
    return rp_enomem(err, "screening copy"), NULL;
  }
  memset(s->panel, 128, (size_t)ng * 16 * (size_t)fq); /* q = 0 */
  for (int32_t i = 0; i < m->nitems; i++) {
    const float *y = m->item_factors + (int64_t)i * f;
    float mx = 0;
    for (int32_t d = 0; d < f; d++) mx = fmaxf(mx, fabsf(y[d]));
    if (!(mx > 0) || !isfinite(mx)) continue; /* zero row: score 0, bound 0 */
    float sc = mx / 127.0f, inv = 127.0f / mx;
    int32_t n1 = 0;
    uint8_t *g = s->panel + (size_t)(i / 16) * 16 * (size_t)fq;
    for (int32_t d = 0; d < f; d++) {
      int q = (int)lrintf(y[d] * inv);
      q = q > 127 ? 127 : q < -127 ? -127 : q;
      n1 += q < 0 ? -q : q;
      g[(size_t)(d / 4) * 64 + (size_t)(i % 16) * 4 + (size_t)(d % 4)] = (uint8_t)(q + 128);
    }
    s->scale[i] = sc;
    s->mscale[i] = sc * (float)n1;
  }
  return s;
}

int rp_als_screen_prepare(rp_als_model *m, rp_err *err) {
  if (rp_als_screen_ready(m) || m->nitems < 64) return RP_OK; /* small catalogues: exact scan */
  int rc = RP_OK;
  pthread_mutex_lock(&m->lock);
  if (!m->screen) {
    screen *s = build(m, err);
    if (s)
      __atomic_store_n(&m->screen, s, __ATOMIC_RELEASE);
    else
      rc = RP_ENOMEM;
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* ---- one query's state ----------------------------------------------------- */
typedef struct query {
  int8_t *qx;   /* fq (padded with 0) */
  float t, A;   /* t, and the item-independent part of the bound */
  int32_t corr; /* 128 sum(qx) */
  float L;      /* k-th largest lower bound so far (-inf until k seen) */
  int32_t k, nlb;
  float *lb; /* min-heap of lower bounds, k */
  int32_t ncand, overflow, cap;
  int32_t *cand; /* cap */
  float *cup;    /* upper bounds of the candidates */
  /* exclusions */
  int nexcl;
  const rp_als_list *excl;
  int64_t pos[RP_ALS_EXCL_SLOTS];
} query;

/* Quantises x; returns 0 when x is zero (the caller scans exactly). */
static int query_init(query *q, const screen *s, const float *x) {
  int32_t f = s->f;
  float mx = 0, l1 = 0;
  for (int32_t d = 0; d < f; d++) mx = fmaxf(mx, fabsf(x[d])), l1 += fabsf(x[d]);
  if (!(mx > 0) || !isfinite(l1)) return 0;
  float t = mx / 127.0f, inv = 127.0f / mx;
  int32_t sum = 0;
  for (int32_t d = 0; d < s->fq; d++) {
    int v = d < f ? (int)lrintf(x[d] * inv) : 0;
    v = v > 127 ? 127 : v < -127 ? -127 : v;
    q->qx[d] = (int8_t)v;
    sum += v;
  }
  q->t = t;
  q->corr = 128 * sum;
  /* the bound's constant part, with room for float rounding in the exact
   * and the approximate scores (relative 1e-4 f of |x|_1 max|y|) */
  q->A = l1 * (0.5f + 1e-4f * (float)f) + (float)f * t * 0.5f;
  q->L = -INFINITY;
  q->nlb = 0;
  q->ncand = 0;
  q->overflow = 0;
  for (int a = 0; a < q->nexcl; a++) q->pos[a] = 0;
  return 1;
}

static void lb_push(query *q, float v) {
  float *h = q->lb;
  if (q->nlb < q->k) {
    int32_t a = q->nlb++;
    h[a] = v;
    while (a > 0 && h[(a - 1) / 2] > h[a]) {
      float t = h[a];
      h[a] = h[(a - 1) / 2];
      h[(a - 1) / 2] = t;
      a = (a - 1) / 2;
    }
    if (q->nlb == q->k) q->L = h[0];
    return;
  }
  if (v <= h[0]) return;
  h[0] = v;
  for (int32_t a = 0;;) {
    int32_t l = 2 * a + 1, r = l + 1, w = a;
    if (l < q->nlb && h[l] < h[w]) w = l;
    if (r < q->nlb && h[r] < h[w]) w = r;
    if (w == a) break;
    float t = h[a];
    h[a] = h[w];
    h[w] = t;
    a = w;
  }
  q->L = h[0];
}

/* 16-bit mask of excluded items in [base, base + 16); groups may be skipped
 * (the walk only moves forward) */
static inline uint32_t excl_mask(query *q, int32_t base) {
  uint32_t m = 0;
  for (int a = 0; a < q->nexcl; a++) {
    const rp_als_list *l = &q->excl[a];
    int64_t p = q->pos[a];
    while (p < l->n && l->idx[p] < base + 16) {
      if (l->idx[p] >= base) m |= 1u << (l->idx[p] - base);
      p++;
    }
    q->pos[a] = p;
  }
  return m;
}

/* Given the 16 approximate scores and bounds of group g, updates L and the
 * candidates. */
static inline void consider(query *q, const screen *s, int32_t g, const float *approx,
                            const float *bound) {
  int32_t base = g * 16;
  uint32_t valid = base + 16 <= s->nitems ? 0xFFFFu : (1u << (s->nitems - base)) - 1;
  valid &= ~excl_mask(q, base);
  for (uint32_t m = valid; m; m &= m - 1) {
    int l = __builtin_ctz(m);
    float lo = approx[l] - bound[l], up = approx[l] + bound[l];
    if (up < q->L) continue;
    if (q->ncand == q->cap) {
      q->overflow = 1;
    } else {
      q->cand[q->ncand] = base + l;
      q->cup[q->ncand++] = up;
    }
    if (lo > q->L || q->nlb < q->k) lb_push(q, lo);
  }
}

#if RP_VNNI
/* approximate scores and bounds of group g from the integer sums */
static inline void finish_group(const query *q, const screen *s, int32_t g, __m512i acc,
                                float *approx, float *bound) {
  __m512 sc = _mm512_loadu_ps(s->scale + (int64_t)g * 16);
  __m512 D = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(q->corr)));
  __m512 a = _mm512_mul_ps(_mm512_mul_ps(D, _mm512_set1_ps(q->t)), sc);
  __m512 b = _mm512_fmadd_ps(
      sc, _mm512_set1_ps(q->A),
      _mm512_mul_ps(_mm512_set1_ps(0.5f * q->t), _mm512_loadu_ps(s->mscale + (int64_t)g * 16)));
  b = _mm512_mul_ps(b, _mm512_set1_ps(1.0001f));
  _mm512_storeu_ps(approx, a);
  _mm512_storeu_ps(bound, b);
}

/* may any lane of the group matter?  (upper bound >= L for some lane) */
static inline int group_alive(const query *q, const float *approx, const float *bound) {
  if (q->nlb < q->k) return 1;
  __m512 up = _mm512_add_ps(_mm512_loadu_ps(approx), _mm512_loadu_ps(bound));
  return _mm512_cmp_ps_mask(up, _mm512_set1_ps(q->L), _CMP_GE_OQ) != 0;
}
#endif

/* groups [g0, g1) for users q[0..nu) (nu <= 8) */
static void screen_groups(const screen *s, query *const *q, int nu, int32_t g0, int32_t g1) {
  int32_t nq = s->fq / 4;
  (void)nq; /* used by the VNNI kernels only */
  float approx[16], bound[16];
#if RP_VNNI
  size_t gs = (size_t)16 * (size_t)s->fq;
  if (nu == 8) {
    for (int32_t g = g0; g < g1; g++) {
      const uint8_t *P = s->panel + (size_t)g * gs;
      __m512i acc[8];
      for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_si512();
      for (int32_t c = 0; c < nq; c++) {
        __m512i p = _mm512_loadu_si512(P + (size_t)c * 64);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
          int32_t quad;
          memcpy(&quad, q[r]->qx + 4 * c, 4);
          acc[r] = _mm512_dpbusd_epi32(acc[r], p, _mm512_set1_epi32(quad));
        }
      }
      for (int r = 0; r < 8; r++) {
        finish_group(q[r], s, g, acc[r], approx, bound);
        if (group_alive(q[r], approx, bound)) consider(q[r], s, g, approx, bound);
      }
    }
    return;
  }
  /* one user: four groups at a time, so four independent accumulator
   * chains hide the latency of VPDPBUSD */
  for (int r = 0; r < nu; r++) {
    query *u = q[r];
    int32_t g = g0;
    for (; g + 4 <= g1; g += 4) {
      const uint8_t *P = s->panel + (size_t)g * gs;
      __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
      for (int32_t c = 0; c < nq; c++) {
        int32_t quad;
        memcpy(&quad, u->qx + 4 * c, 4);
        __m512i b = _mm512_set1_epi32(quad);
        const uint8_t *pc = P + (size_t)c * 64;
        a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(pc), b);
        a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(pc + gs), b);
        a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(pc + 2 * gs), b);
        a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(pc + 3 * gs), b);
      }
      __m512i acc[4] = {a0, a1, a2, a3};
      for (int e = 0; e < 4; e++) {
        finish_group(u, s, g + e, acc[e], approx, bound);
        if (group_alive(u, approx, bound)) consider(u, s, g + e, approx, bound);
      }
    }
    for (; g < g1; g++) {
      const uint8_t *P = s->panel + (size_t)g * gs;
      __m512i acc = _mm512_setzero_si512();
      for (int32_t c = 0; c < nq; c++) {
        int32_t quad;
        memcpy(&quad, u->qx + 4 * c, 4);
        acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(P + (size_t)c * 64),
                                  _mm512_set1_epi32(quad));
      }
      finish_group(u, s, g, acc, approx, bound);
      if (group_alive(u, approx, bound)) consider(u, s, g, approx, bound);
    }
  }
#else
  for (int r = 0; r < nu; r++) {
    query *u = q[r];
    for (int32_t g = g0; g < g1; g++) {
      const uint8_t *P = s->panel + (size_t)g * 16 * (size_t)s->fq;
      for (int l = 0; l < 16; l++) {
        int32_t acc = 0;
        for (int32_t d = 0; d < s->fq; d++)
          acc += (int32_t)P[(size_t)(d / 4) * 64 + (size_t)l * 4 + (size_t)(d % 4)] * u->qx[d];
        float sc = s->scale[g * 16 + l];
        approx[l] = (float)(acc - u->corr) * u->t * sc;
        bound[l] = (sc * u->A + 0.5f * u->t * s->mscale[g * 16 + l]) * 1.0001f;
      }
      consider(u, s, g, approx, bound);
    }
  }
#endif
}

/* Rescores the surviving candidates exactly into h (empty on entry).
 * Returns 0 when the screen overflowed (the caller scans exactly). */
static int rescore(const rp_als_model *m, const query *q, const float *x, rp_topk *h) {
  if (q->overflow) return 0;
  int32_t f = m->factors;
  for (int32_t c = 0; c < q->ncand; c++) {
    if (q->cup[c] < q->L) continue;
    int32_t i = q->cand[c];
    rp_topk_push(h, i, rp_als_dot(x, m->item_factors + (int64_t)i * f, f));
  }
  return 1;
}

/* the exact scan over all items (zero queries, overflows) */
static void exact_all(const rp_als_model *m, const float *x, const rp_als_list *excl, int nexcl,
                      rp_topk *h) {
  int64_t pos[RP_ALS_EXCL_SLOTS] = {0};
  int32_t f = m->factors;
  h->n = 0;
  for (int32_t i = 0; i < m->nitems; i++) {
    int skip = 0;
    for (int a = 0; a < nexcl; a++) {
      while (pos[a] < excl[a].n && excl[a].idx[pos[a]] < i) pos[a]++;
      if (pos[a] < excl[a].n && excl[a].idx[pos[a]] == i) skip = 1;
    }
    if (!skip) rp_topk_push(h, i, rp_als_dot(x, m->item_factors + (int64_t)i * f, f));
  }
}

/* scratch of one query: qx, candidates, lower-bound heap (in one block) */
static size_t query_bytes(const screen *s, int32_t k) {
  return (size_t)((s->fq + 63) & ~63) + sizeof(float) * (size_t)k +
         (sizeof(int32_t) + sizeof(float)) * (size_t)CAND_CAP(k) + 64;
}

static void query_bind(query *q, void *mem, const screen *s, int32_t k) {
  char *p = mem;
  q->qx = (int8_t *)p;
  p += (s->fq + 63) & ~63;
  q->cap = (int32_t)CAND_CAP(k);
  q->cand = (int32_t *)p;
  p += sizeof(int32_t) * (size_t)q->cap;
  q->cup = (float *)p;
  p += sizeof(float) * (size_t)q->cap;
  q->lb = (float *)p;
  q->k = k;
}

void rp_als_screen_topk(const rp_als_model *m, const float *x, const rp_als_list *excl, int nexcl,
                        rp_topk *h) {
  const screen *s = __atomic_load_n(&m->screen, __ATOMIC_ACQUIRE);
  char stack[40960];
  size_t need = query_bytes(s, h->k);
  void *mem = need <= sizeof stack ? stack : rp_malloc(need);
  query q;
  if (!mem) { /* no memory for the screen: the exact scan needs none */
    exact_all(m, x, excl, nexcl, h);
    return;
  }
  query_bind(&q, mem, s, h->k);
  q.excl = excl, q.nexcl = nexcl;
  query *qp = &q;
  if (!query_init(&q, s, x)) {
    exact_all(m, x, excl, nexcl, h);
  } else {
    screen_groups(s, &qp, 1, 0, s->ngroups);
    if (!rescore(m, &q, x, h)) exact_all(m, x, excl, nexcl, h);
  }
  if (mem != stack) rp_free(mem);
}

/* ---- batches ---------------------------------------------------------------- */
int rp_als_screen_batch(const rp_als_model *m, const int32_t *users, int32_t n, int32_t k,
                        int32_t kout, const rp_csr *exclude, const rp_als_list *skip, int threads,
                        int32_t *out_items, float *out_scores, int32_t *out_n, rp_err *err) {
  const screen *s = __atomic_load_n(&m->screen, __ATOMIC_ACQUIRE);
  int nt = rp_threads(threads);
  int32_t nblocks = (n + USERS_PER_BLOCK - 1) / USERS_PER_BLOCK;
  if (nt > nblocks) nt = nblocks;
  size_t qb = (query_bytes(s, k) + 63) & ~(size_t)63;
  size_t per_thread =
      qb * USERS_PER_BLOCK + sizeof(float) * (size_t)k + sizeof(int32_t) * (size_t)k;
  char *mem = rp_malloc(per_thread * (size_t)nt);
  if (!mem) return rp_enomem(err, "batch top-k scratch");
  int32_t f = m->factors;
#pragma omp parallel num_threads(nt)
  {
    char *tm = mem + per_thread * (size_t)omp_get_thread_num();
    query qs[USERS_PER_BLOCK];
    rp_als_list ex[USERS_PER_BLOCK][2];
    rp_topk h;
    rp_topk_init(&h, k, (int32_t *)(tm + qb * USERS_PER_BLOCK + sizeof(float) * (size_t)k),
                 (float *)(tm + qb * USERS_PER_BLOCK));
#pragma omp for schedule(dynamic, 1)
    for (int32_t blk = 0; blk < nblocks; blk++) {
      int32_t a0 = blk * USERS_PER_BLOCK, a1 = a0 + USERS_PER_BLOCK < n ? a0 + USERS_PER_BLOCK : n;
      query *live[USERS_PER_BLOCK];
      int32_t who[USERS_PER_BLOCK], nl = 0;
      for (int32_t a = a0; a < a1; a++) {
        int32_t u = users[a];
        out_n[a] = 0;
        if (!rp_als_knows_user_locked(m, u)) continue;
        query *q = &qs[nl];
        query_bind(q, tm + qb * (size_t)nl, s, k);
        int ne = 0;
        if (exclude && u < exclude->nrows && exclude->indptr[u + 1] > exclude->indptr[u]) {
          ex[nl][ne].idx = exclude->indices + exclude->indptr[u];
          ex[nl][ne++].n = exclude->indptr[u + 1] - exclude->indptr[u];
        }
        if (skip) ex[nl][ne++] = *skip;
        q->excl = ex[nl], q->nexcl = ne;
        const float *x = m->user_factors + (int64_t)u * f;
        if (!query_init(q, s, x)) { /* cannot happen for a known user; be safe */
          exact_all(m, x, q->excl, q->nexcl, &h);
          out_n[a] =
              rp_topk_sorted(&h, out_items + (int64_t)a * kout, out_scores + (int64_t)a * kout);
          continue;
        }
        live[nl] = q;
        who[nl++] = a;
      }
      for (int32_t g0 = 0; g0 < s->ngroups; g0 += GROUPS_PER_TILE) {
        int32_t g1 = g0 + GROUPS_PER_TILE < s->ngroups ? g0 + GROUPS_PER_TILE : s->ngroups;
        for (int32_t r = 0; r < nl; r += 8)
          screen_groups(s, live + r, nl - r < 8 ? nl - r : 8, g0, g1);
      }
      for (int32_t r = 0; r < nl; r++) {
        int32_t a = who[r];
        const float *x = m->user_factors + (int64_t)users[a] * f;
        h.n = 0;
        if (!rescore(m, live[r], x, &h)) exact_all(m, x, live[r]->excl, live[r]->nexcl, &h);
        out_n[a] =
            rp_topk_sorted(&h, out_items + (int64_t)a * kout, out_scores + (int64_t)a * kout);
      }
    }
  }
  rp_free(mem);
  return RP_OK;
}
