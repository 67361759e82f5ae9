#!/usr/bin/python3
"""Reference for bench_sparse: the same operations with scipy/numpy.

usage: bench_sparse_ref.py LOG.csv [runs]
Reads the log with pandas (not timed), maps ids to dense codes (not timed),
then times: COO -> CSR with duplicates summed (what to_matrix{aggregate="sum"}
does) and the iterated (3, 5) k-core written the usual numpy way (recount,
mask rows/columns below the thresholds, drop zeros, repeat)."""
import sys, time
import numpy as np, pandas as pd
from scipy.sparse import coo_matrix, diags

path = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
df = pd.read_csv(path)
u, users = pd.factorize(df.iloc[:, 0])
i, items = pd.factorize(df.iloc[:, 1])
v = df.iloc[:, 2].to_numpy(np.float32)
shape = (len(users), len(items))


def build():
    return coo_matrix((v, (u, i)), shape=shape).tocsr()  # sums duplicates


def kcore(X, mu, mi):
    rounds = 0
    while True:
        rc = np.diff(X.indptr)
        cc = np.bincount(X.indices, minlength=X.shape[1])
        br = (rc > 0) & (rc < mu)
        bc = (cc > 0) & (cc < mi)
        if not br.any() and not bc.any():
            return X, rounds
        X = (diags((~br).astype(np.float32)) @ X @ diags((~bc).astype(np.float32))).tocsr()
        X.eliminate_zeros()
        rounds += 1


def med(f):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2], out


tb, X = med(build)
tk, (K, rounds) = med(lambda: kcore(X, 3, 5))
tt, _ = med(lambda: kcore(build(), 3, 5))
print(f"scipy reference: {X.shape[0]} x {X.shape[1]}, {X.nnz} non-zeros; "
      f"k-core {K.nnz} non-zeros after {rounds} rounds")
print(f"scipy coo->csr (sum)               median {1e3 * tb:7.1f} ms")
print(f"scipy kcore (3, 5)                 median {1e3 * tk:7.1f} ms")
print(f"scipy build + kcore                median {1e3 * tt:7.1f} ms")
