"""pandas_read.py FILE RUNS: median time of pandas.read_csv (the reference
for bench_read.sh; pandas does no id mapping)."""
import sys, time
import pandas as pd

path, runs = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(runs):
    t = time.perf_counter()
    df = pd.read_csv(path)
    ts.append(time.perf_counter() - t)
    rows = len(df)
    del df
ts.sort()
med = ts[(len(ts) - 1) // 2]
print("pandas read_csv %s: median %.3f s of %d (min %.3f, max %.3f), %d rows, pandas %s"
      % (path, med, runs, ts[0], ts[-1], rows, pd.__version__))
print("RESULT pandas seconds=%.4f" % med)
