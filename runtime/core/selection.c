/*
 * selection.c -- bounded top-k selection; see selection.h.
 */
#include "selection.h"

#include <string.h>

static void swap(rp_topk *t, int32_t a, int32_t b) {
  float s = t->scores[a];
  int32_t i = t->items[a];
  t->scores[a] = t->scores[b], t->items[a] = t->items[b];
  t->scores[b] = s, t->items[b] = i;
}

/* the root of the first n slots moves down to its place (min-heap: the
 * worse child comes up) */
static void sift_down(rp_topk *t, int32_t a, int32_t n) {
  for (;;) {
    int32_t l = 2 * a + 1, r = l + 1, w = a;
    if (l < n && rp_topk_better(t, t->scores[w], t->items[w], t->scores[l], t->items[l])) w = l;
    if (r < n && rp_topk_better(t, t->scores[w], t->items[w], t->scores[r], t->items[r])) w = r;
    if (w == a) return;
    swap(t, a, w);
    a = w;
  }
}

void rp_topk_add_(rp_topk *t, int32_t item, float score) {
  if (t->n < t->k) {
    int32_t a = t->n++;
    t->items[a] = item, t->scores[a] = score;
    while (a > 0) {
      int32_t p = (a - 1) / 2;
      if (!rp_topk_better(t, t->scores[p], t->items[p], t->scores[a], t->items[a])) break;
      swap(t, a, p);
      a = p;
    }
    return;
  }
  t->items[0] = item, t->scores[0] = score; /* beats the worst: replaces it */
  sift_down(t, 0, t->n);
}

int32_t rp_topk_finish(rp_topk *t) {
  /* heap sort: the worst goes to the back */
  for (int32_t last = t->n - 1; last > 0; last--) {
    swap(t, 0, last);
    sift_down(t, 0, last);
  }
  return t->n;
}

int32_t rp_topk_sorted(rp_topk *t, int32_t *items, float *scores) {
  int32_t n = rp_topk_finish(t);
  memcpy(items, t->items, (size_t)n * sizeof *items);
  memcpy(scores, t->scores, (size_t)n * sizeof *scores);
  t->n = 0;
  return n;
}
