/*
 * reader_pieces.c -- a block of an event log cut into pieces at line ends,
 * parsed by a pool of threads, and the parallel pieces merged into the
 * result in file order.
 */
#include "reader_impl.h"

#if defined(__AVX512BW__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* ---- merging a parallel piece into the result ------------------------------------
 * Interns the ids noted while the piece was parsed, in file order, writes
 * their indices into its rows, and moves the rows down to row ev->n when
 * earlier pieces left a gap. */
int rp_io_merge_piece(const rctx *c, rp_events *ev, piece *pc, int64_t line0, rp_err *err) {
  const rp_events *v = &pc->view;
  for (int64_t k = 0; k < pc->nrefs; k++) {
    const uref *u = &pc->refs[k];
    const char *id = u->ptr ? u->ptr : pc->scratch + u->off;
    rp_idmap *m = u->role == R_USER    ? ev->users
                  : u->role == R_ITEM  ? ev->items
                  : u->role == R_EVENT ? ev->event_names
                                       : ev->context_dicts[u->role - R_CTX0];
    int32_t idx;
    int rc = rp_idmap_intern_h(m, id, u->len, u->hash, &idx, err);
    if (rc) return rc;
    uint32_t val;
    if (u->role <= R_ITEM && canon(id, u->len, &val) &&
        rp_io_idcache_set(c->dc[u->role], val, idx, m, err))
      return RP_ENOMEM;
    if (u->role == R_USER)
      v->user[u->row] = idx;
    else if (u->role == R_ITEM)
      v->item[u->row] = idx;
    else if (u->role == R_EVENT) {
      if (idx > INT16_MAX - 1)
        return rp_errf(err, RP_EINVAL, "%s:%lld: more than %d distinct event types in %s", c->path,
                       (long long)line0, INT16_MAX, c->colname[R_EVENT]);
      v->event[u->row] = (int16_t)idx;
    } else {
      v->context[u->role - R_CTX0][u->row] = idx;
    }
  }
  int64_t o = ev->n, n = v->n;
  if (o != pc->base && n > 0) {
    memmove(ev->user + o, v->user, (size_t)n * sizeof *v->user);
    memmove(ev->item + o, v->item, (size_t)n * sizeof *v->item);
    memmove(ev->value + o, v->value, (size_t)n * sizeof *v->value);
    if (ev->time) memmove(ev->time + o, v->time, (size_t)n * sizeof *v->time);
    if (ev->event) memmove(ev->event + o, v->event, (size_t)n * sizeof *v->event);
    for (int q = 0; q < ev->ncontext; q++)
      memmove(ev->context[q] + o, v->context[q], (size_t)n * sizeof *v->context[q]);
  }
  ev->n = o + n;
  return RP_OK;
}

/* points piece pc's view at the result's columns from row base on */
void rp_io_piece_view(piece *pc, const rp_events *ev, int64_t base) {
  rp_events *v = &pc->view;
  *v = *ev;
  v->user += base;
  v->item += base;
  v->value += base;
  if (v->time) v->time += base;
  if (v->event) v->event += base;
  for (int q = 0; q < v->ncontext; q++) v->context[q] += base;
  v->n = 0;
  v->cap = pc->nlines;
  pc->base = base;
  pc->sink = v;
  pc->direct = 0;
}

void rp_io_piece_free(piece *pc) {
  rp_free(pc->refs);
  rp_free(pc->scratch);
}

/* newlines in p[0..n) */
static int64_t count_nl(const char *p, size_t n) {
  int64_t c = 0;
  size_t i = 0;
#if defined(__AVX512BW__)
  __m512i nl = _mm512_set1_epi8('\n');
  for (; i + 64 <= n; i += 64)
    c +=
        __builtin_popcountll(_mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)(p + i)), nl));
#elif defined(__AVX2__)
  __m256i nl = _mm256_set1_epi8('\n');
  for (; i + 32 <= n; i += 32)
    c += __builtin_popcount((unsigned)_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i)), nl)));
#elif defined(__SSE2__)
  __m128i nl = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16)
    c += __builtin_popcount(
        (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl)));
#endif
  for (; i < n; i++) c += p[i] == '\n';
  return c;
}

/* ---- parser threads ------------------------------------------------------------------
 * The calling thread and up to MAX_PIECES - 1 workers take the pieces of a
 * block in turn (an atomic counter), so a thread slowed by other work on a
 * shared machine simply takes fewer.  Workers sleep on a condition variable
 * between blocks: no spinning. */
static void take_pieces(pool *p, int np) {
  int k;
  while ((k = atomic_fetch_add(&p->next, 1)) < np) rp_io_parse_piece(p->c, &p->pcs[k]);
}

static void *worker(void *arg) {
  pool *p = arg;
  int seen = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
    if (p->quit) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    seen = p->gen;
    int np = p->np;
    pthread_mutex_unlock(&p->mu);
    take_pieces(p, np);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
  }
  return NULL;
}

/* Starts up to n - 1 workers (fewer when threads cannot be created: the
 * result is the same); returns how many threads parse. */
int rp_io_pool_start(pool *p, const rctx *c, piece *pcs, int n) {
  memset(p, 0, sizeof *p);
  p->c = c;
  p->pcs = pcs;
  if (n <= 1 || pthread_mutex_init(&p->mu, NULL)) return 1;
  if (pthread_cond_init(&p->go, NULL) || pthread_cond_init(&p->done, NULL)) {
    pthread_mutex_destroy(&p->mu);
    return 1;
  }
  for (int k = 0; k < n - 1 && k < MAX_PIECES; k++) {
    if (pthread_create(&p->th[k], NULL, worker, p)) break;
    p->nworkers = k + 1;
  }
  return p->nworkers + 1;
}

/* parses pieces 0..np-1 */
void rp_io_pool_run(pool *p, int np) {
  if (np == 1 || !p->nworkers) {
    for (int k = 0; k < np; k++) rp_io_parse_piece(p->c, &p->pcs[k]);
    return;
  }
  atomic_store(&p->next, 0);
  pthread_mutex_lock(&p->mu);
  p->np = np;
  p->pending = p->nworkers;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  take_pieces(p, np);
  pthread_mutex_lock(&p->mu);
  while (p->pending) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void rp_io_pool_stop(pool *p) {
  if (!p->nworkers) return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->mu);
  for (int k = 0; k < p->nworkers; k++) pthread_join(p->th[k], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
}

/* cuts [0, n) of buf (complete records, no quotes) into pieces of about
 * `each` bytes at line ends, at most MAX_PIECES; returns their number */
int rp_io_cut(const char *buf, size_t n, size_t each, piece *pcs) {
  size_t np = n / (each ? each : 1);
  if (np < 1) np = 1;
  if (np > MAX_PIECES) np = MAX_PIECES;
  const char *s = buf, *e = buf + n;
  int k = 0;
  for (; k < (int)np && s < e; k++) {
    const char *t = e;
    if (k < (int)np - 1) {
      const char *target = buf + n / np * (size_t)(k + 1);
      if (target < s) target = s;
      const char *nlp = memchr(target, '\n', (size_t)(e - target));
      t = nlp ? nlp + 1 : e;
    }
    pcs[k].start = s;
    pcs[k].end = t;
    /* lines: newlines, plus a last line without one */
    pcs[k].nlines = count_nl(s, (size_t)(t - s)) + (t > s && t[-1] != '\n');
    s = t;
  }
  if (k == 0) {
    pcs[0].start = pcs[0].end = buf;
    pcs[0].nlines = 0;
    k = 1;
  }
  return k;
}
