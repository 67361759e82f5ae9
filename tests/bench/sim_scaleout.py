#!/usr/bin/env python3
"""Communication volume and memory of distributed ALS per iteration:
recpipe's all-gather exchange against Spark MLlib's blocked exchange.

usage: python3 tests/bench/sim_scaleout.py [--events 1e9] [--users 5e7]
           [--items 1e7] [--factors 128] [--mem-gb 64] [--seed 1]

The log is simulated, not stored: the events per item and per user are
drawn from power laws (Zipf exponents 0.9 for items, 0.6 for users, the
shape of retail and media logs) scaled so the counts sum to --events, then
Poisson noise; every user and item is placed in one of N blocks at random
(a hash).  For each N:

  all-gather   every process receives the whole factor matrix of the side
               it solves against: each factor row goes to the N - 1 other
               processes, per iteration 4 f (U + I) (N - 1) bytes in all.
  blocked      (Spark's ALS) item i's factors go only to the user blocks
               holding one of its d_i events, besides its own: expected
               (N - 1)(1 - (1 - 1/N)^d_i) copies; users likewise.

Memory per process (4-byte floats, 8 bytes per stored value and index,
both orientations of the matrix):
  all-gather, replicated (as implemented: every rank holds the whole
               matrix and both factor matrices)
               4 f (U + I) + 16 nnz + 16 (U + I)
  all-gather, one side at a time (partitioned matrix; the gathered side
               freed after its half-step)
               4 f max(U, I) + 4 f (U + I) / N + 16 nnz / N + ...
  blocked      4 f (U + I) / N + 4 f (factors received by one block) + 16 nnz / N
The largest item count that fits --mem-gb at N = 64 is printed for each.
"""
import argparse

import numpy as np

GB = 1e9


def degrees(n, total, exponent, rng):
    ranks = np.arange(1, int(n) + 1, dtype=np.float64)
    w = ranks ** -exponent
    lam = w * (total / w.sum())
    return rng.poisson(lam).astype(np.float64)


def copies(d, n_blocks):
    """expected number of other blocks that need a row with d events"""
    if n_blocks == 1:
        return np.zeros_like(d)
    return (n_blocks - 1) * (1.0 - np.power(1.0 - 1.0 / n_blocks, d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=float, default=1e9)
    ap.add_argument("--users", type=float, default=5e7)
    ap.add_argument("--items", type=float, default=1e7)
    ap.add_argument("--factors", type=int, default=128)
    ap.add_argument("--mem-gb", type=float, default=64)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    E, U, I, f = a.events, a.users, a.items, a.factors
    du = degrees(U, E, 0.6, rng)
    di = degrees(I, E, 0.9, rng)
    nnz = du.sum()
    row = 4.0 * f  # bytes of one factor row
    print(f"events {E:.3g}, users {U:.3g}, items {I:.3g}, f = {f}; simulated nnz {nnz:.4g}")
    print(f"items with no event {np.mean(di == 0):.1%}, users {np.mean(du == 0):.1%}; "
          f"top item {di.max():.3g} events")
    print()
    print("| N | all-gather GB/iter (total) | blocked GB/iter (total) | blocked / all-gather "
          "| all-gather sent per process GB | blocked per process GB | blocked: factors a "
          "block receives GB |")
    print("|---|---|---|---|---|---|---|")
    for n in (2, 4, 8, 16, 32, 64):
        ag = row * (U + I) * (n - 1)
        bi = row * copies(di, n).sum()
        bu = row * copies(du, n).sum()
        bl = bi + bu
        # a user block receives the item factors its users rated (largest half-step)
        recv = max(bi, bu) / n
        print(f"| {n} | {ag / GB:.1f} | {bl / GB:.1f} | {bl / ag:.3f} | {ag / n / GB:.2f} "
              f"| {bl / n / GB:.2f} | {recv / GB:.2f} |")
    print()
    n = 64
    mem = a.mem_gb * GB
    # largest item count that fits `mem` at N = 64, each design (nnz and U fixed)
    fixed_rep = 4 * f * U + 16 * nnz + 16 * U
    i_rep = (mem - fixed_rep) / (4 * f + 16)
    # one side at a time: the user side dominates until I > U
    def one_side(i):
        return 4 * f * max(U, i) + 4 * f * (U + i) / n + 16 * nnz / n + 16 * (U + i) / n
    lo, hi = 0.0, 1e12
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if one_side(mid) <= mem else (lo, mid)
    i_one = lo
    # blocked: a block receives at most every item factor once (I) and in this
    # simulation about recv bytes; the bound 4 f I / N * (N - 1) is used for
    # the fit, i.e. at worst all items
    bi64 = row * copies(di, n).sum() / n
    blocked_here = 4 * f * (U + I) / n + bi64 + 16 * nnz / n
    print(f"memory per process at N = {n}, {a.mem_gb:g} GB per process:")
    print(f"  all-gather, replicated: {(fixed_rep + (4 * f + 16) * I) / GB:.1f} GB; "
          f"fits up to {max(i_rep, 0):.3g} items")
    print(f"  all-gather, one side at a time: {one_side(I) / GB:.1f} GB; fits up to {i_one:.3g} items")
    print(f"  blocked: {blocked_here / GB:.1f} GB at {I:.3g} items")


if __name__ == "__main__":
    main()
