"""The reference service of tests/bench/bench_serve.sh: FastAPI + uvicorn
doing implicit's scoring in numpy (item factors . user factors, seen items
masked, argpartition for the top k), on the same model and seen matrix
files as recpipe serve.  It reads them itself, from the documented file
formats (README, File formats), so nothing of recpipe is in its path.

    RP_MODEL=model.rpa RP_SEEN=train.rpm /usr/bin/python3 -m uvicorn \\
        serve_ref:app --workers 2 --port 8091 --log-level warning
"""
import os
import struct

import numpy as np
from fastapi import FastAPI, HTTPException


def read_ids(buf, off, count, interleaved):
    """count ids: interleaved (u32 length, bytes)... or all lengths then all bytes"""
    ids = []
    if interleaved:
        for _ in range(count):
            (n,) = struct.unpack_from("<I", buf, off)
            ids.append(bytes(buf[off + 4:off + 4 + n]).decode())
            off += 4 + n
        return ids, off
    lens = np.frombuffer(buf, "<u4", count, off)
    off += 4 * count
    for n in lens:
        ids.append(bytes(buf[off:off + n]).decode())
        off += int(n)
    return ids, off


def load_model(path):
    buf = memoryview(open(path, "rb").read())
    assert bytes(buf[:8]) == b"\x89RPA\r\n\x1a\n", "not a recpipe ALS model file"
    f, nusers, nitems = struct.unpack_from("<3i", buf, 16)
    U, I = struct.unpack_from("<2i", buf, 16 + 4 * 11)
    off = 152
    users, off = read_ids(buf, off, max(U, 0), False)
    items, off = read_ids(buf, off, max(I, 0), False)
    X = np.frombuffer(buf, "<f4", nusers * f, off).reshape(nusers, f)
    off += 4 * nusers * f
    Y = np.frombuffer(buf, "<f4", nitems * f, off).reshape(nitems, f)
    return users, items, X, Y


def load_matrix(path):
    buf = memoryview(open(path, "rb").read())
    assert bytes(buf[:8]) == b"\x89RPM\r\n\x1a\n", "not a recpipe matrix file"
    nrows, ncols = struct.unpack_from("<2i", buf, 16)
    (nnz,) = struct.unpack_from("<q", buf, 24)
    R, C = struct.unpack_from("<2i", buf, 32)
    RB, CB = struct.unpack_from("<2q", buf, 40)
    off = 64
    rows, off = read_ids(buf, off, R, True)
    off = 64 + RB + CB
    indptr = np.frombuffer(buf, "<i8", nrows + 1, off)
    off += 8 * (nrows + 1)
    indices = np.frombuffer(buf, "<i4", nnz, off)
    return rows, indptr, indices


users, items, X, Y = load_model(os.environ["RP_MODEL"])
user_index = {u: i for i, u in enumerate(users[:X.shape[0]])}
seen_rows, seen_ptr, seen_idx = load_matrix(os.environ["RP_SEEN"])
seen_index = {u: i for i, u in enumerate(seen_rows)}
items_arr = np.array(items[:Y.shape[0]], dtype=object)
app = FastAPI()


@app.get("/v1/recommend")
def recommend(user: str, k: int = 10):
    u = user_index.get(user)
    if u is None:
        raise HTTPException(404, "unknown user")
    scores = Y @ X[u]
    r = seen_index.get(user)
    if r is not None:
        scores[seen_idx[seen_ptr[r]:seen_ptr[r + 1]]] = -np.inf
    top = np.argpartition(-scores, k)[:k]
    top = top[np.argsort(-scores[top])]
    return {"user": user, "items": items_arr[top].tolist(), "scores": scores[top].tolist()}
