/*
 * selection.h -- the k best of a stream of (score, index) candidates: a bounded
 * min-heap whose root is the worst kept candidate.  Higher score wins, then
 * (when a tiebreak array is given) the higher tiebreak[index], then the
 * lower index: a total order, so the result does not depend on the order
 * candidates arrive in.  NaN is not ordered: callers leave it out.  ALS,
 * baselines and hybrids all select through it.
 */
#ifndef RP_SELECTION_H
#define RP_SELECTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp_topk {
  int32_t k, n;          /* capacity, count kept */
  int32_t *items;        /* k slots (borrowed) */
  float *scores;         /* k slots (borrowed) */
  const float *tiebreak; /* per index, or NULL (borrowed) */
} rp_topk;

/* Starts an empty selection of at most k in the caller's items/scores
 * arrays (k slots each), without tiebreak (set t->tiebreak to use one). */
static inline void rp_topk_init(rp_topk *t, int32_t k, int32_t *items, float *scores) {
  t->k = k, t->n = 0, t->items = items, t->scores = scores, t->tiebreak = NULL;
}
/* Does (sa, ia) beat (sb, ib)? */
static inline int rp_topk_better(const rp_topk *t, float sa, int32_t ia, float sb, int32_t ib) {
  if (sa != sb) return sa > sb;
  if (t->tiebreak && t->tiebreak[ia] != t->tiebreak[ib]) return t->tiebreak[ia] > t->tiebreak[ib];
  return ia < ib;
}
/* Keeps a candidate that rp_topk_push admits (out of line: the heap work). */
void rp_topk_add_(rp_topk *t, int32_t item, float score);
/* Offers a candidate: kept when fewer than k are kept or it beats the
 * worst kept (the common rejection is a compare, inline). */
static inline void rp_topk_push(rp_topk *t, int32_t item, float score) {
  if (t->n < t->k || (t->k > 0 && rp_topk_better(t, score, item, t->scores[0], t->items[0])))
    rp_topk_add_(t, item, score);
}
/* Sorts the kept candidates best first in t's own arrays; returns their
 * count (t->n). */
int32_t rp_topk_finish(rp_topk *t);
/* The same, then copied to items/scores (room for t->n each) and t emptied
 * for the next selection; returns the count. */
int32_t rp_topk_sorted(rp_topk *t, int32_t *items, float *scores);

#endif
