#!/bin/sh
# rp.dist under Open MPI: 1, 2 and 3 processes (mpirun --oversubscribe):
#  - rank, size, gather and sum agree on every rank, summed in rank order;
#  - an error on one rank ends every rank with that rank's message, never
#    a hang (each run has a time limit);
#  - read_events over day files (a glob, a list, onto given maps): the log,
#    the maps and the report of one process reading one file with the days
#    in order, on every rank; a missing file names the rank and the file;
#  - a pipeline (read, split, k-core, ALS with CG and Cholesky, evaluate with
#    bootstrap intervals, save) gives byte-identical model files and
#    reports on 1 x 1, 1 x 2, 2 x 1, 3 x 1 and 2 x 2 processes x threads;
#    so does examples/scaleout.lua on 1 and 2 processes.
# Skipped (exit 77) only when mpirun is absent (`make deps` installs it).
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
. tests/e2e/lib/mpi.sh
tmp=$(mktemp -d /tmp/recpipe-dist.XXXXXX)
trap '[ -n "$KEEP" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat >"$tmp/basics.lua" <<'LUA'
local rp = require "recpipe"
local d = rp.dist
local r, n = d.rank(), d.size()
local g = d.gather({ rank = r, name = "p" .. r })
assert(#g == n, "gather: one value per rank")
for k = 1, n do assert(g[k].rank == k - 1 and g[k].name == "p" .. (k - 1), "gather order") end
local s = d.sum({ one = 1, rank = r, half = 0.5 })
assert(s.one == n and s.rank == n * (n - 1) // 2 and s.half == n / 2, "sum")
local lo, hi = d.range(10)
local shares = d.gather({ lo, hi })
local covered = 0
for k = 1, n do
  assert(shares[k][1] == covered + 1, "ranges are contiguous in rank order")
  covered = shares[k][2]
end
assert(covered == 10, "ranges cover 1..10")
d.barrier()
if n > 1 then assert(d.stats().bytes_sent > 0, "bytes counted") end
print(("rank %d of %d ok"):format(r, n))
LUA
for np in 1 2 3; do
  mpi_run "$np" "$BIN" run --quiet "$tmp/basics.lua" >"$tmp/b$np.out" 2>"$tmp/b$np.err" ||
    fail "basics on $np processes: $(cat "$tmp/b$np.err")"
  [ "$(grep -c ' of '"$np"' ok$' "$tmp/b$np.out")" -eq "$np" ] ||
    fail "basics on $np processes: $(cat "$tmp/b$np.out")"
done

# an error on rank 1 while rank 0 and 2 wait in a collective: every rank
# ends, the exit status is not 0 and the message names rank 1
cat >"$tmp/fail.lua" <<'LUA'
local rp = require "recpipe"
if rp.dist.rank() == 1 then error("rank one has bad data") end
rp.dist.barrier()
print("passed the barrier")
LUA
mpi_run 3 "$BIN" run --quiet "$tmp/fail.lua" >"$tmp/f.out" 2>"$tmp/f.err"
rc=$?
[ $rc -ne 0 ] || fail "an error on rank 1: exit 0"
[ $rc -ne 124 ] || fail "an error on rank 1: the run hung (killed after the time limit)"
grep -q 'recpipe: rank 1: .*fail.lua:2: rank one has bad data' "$tmp/f.err" ||
  fail "an error on rank 1: message: $(cat "$tmp/f.err")"
grep -q 'passed the barrier' "$tmp/f.out" && fail "a rank passed the barrier"

# ---- read_events over day files: the same log, maps and report on 1, 2, 3
cat >"$tmp/gen.lua" <<'LUA'
local dir = arg[1]
local r = 11
local function rnd(m)
  r = (r * 1103515245 + 12345) % 2147483648
  return (r >> 16) % m
end
local types = { "view", "click", "buy" }
for day = 1, 5 do
  local f = assert(io.open(("%s/day%d.csv"):format(dir, day), "w"))
  f:write("user,item,value,time,type,device\n")
  for i = 1, 300 do
    f:write(("u%d,i%d,%d,%d,%s,%s\n"):format(rnd(40 + 12 * day), rnd(30 + 6 * day), 1 + rnd(5),
      1700000000 + day * 86400 + i, types[1 + rnd(day == 3 and 3 or 2)],
      day % 2 == 0 and "mobile" or "web"))
  end
  f:close()
end
LUA
mkdir -p "$tmp/days"
"$BIN" run --quiet "$tmp/gen.lua" "$tmp/days" || fail "generate day files"
cat >"$tmp/read.lua" <<'LUA'
local rp = require "recpipe"
local dir, out = arg[1], arg[2]
local opt = { value = "value", time = "time", event = "type", context = { "device" } }
local ev, rep = rp.io.read_events(dir .. "/day*.csv", opt)
local first = rp.io.read_events(dir .. "/day1.csv", opt)
local rest = rp.io.read_events({ dir .. "/day2.csv", dir .. "/day3.csv", dir .. "/day4.csv" },
  { users = first.users, items = first.items })
local mine = { ev.users:ids(), ev.items:ids(), first.users:ids(), rep.rows, rep.lines, #rest }
local all = rp.dist.gather(mine)
for r = 2, #all do
  for k = 1, #mine do
    local a, b = all[1][k], all[r][k]
    assert(type(a) ~= "table" and a == b or table.concat(a, ",") == table.concat(b, ","),
      "rank " .. (r - 1) .. " differs from rank 0 in field " .. k)
  end
end
if rp.dist.rank() == 0 then
  ev:write(out .. ".csv")
  local f = assert(io.open(out .. ".ids", "w"))
  f:write(table.concat(ev.users:ids(), ","), "\n", table.concat(ev.items:ids(), ","), "\n",
    table.concat(first.users:ids(), ","), "\n", rep.rows, " ", rep.files, "\n")
  f:close()
end
LUA
for np in 1 2 3; do
  mpi_run "$np" "$BIN" run --quiet "$tmp/read.lua" "$tmp/days" "$tmp/read$np" 2>"$tmp/r$np.err" ||
    fail "read on $np processes: $(cat "$tmp/r$np.err")"
done
# the reference: one process reading one file with the days in order
{ head -1 "$tmp/days/day1.csv"; for d in 1 2 3 4 5; do tail -n +2 "$tmp/days/day$d.csv"; done; } \
  >"$tmp/all.csv"
"$BIN" run --quiet - "$tmp/all.csv" "$tmp/ref" <<'LUA' || fail "reference read"
local rp = require "recpipe"
local ev = rp.io.read_events(arg[1], { value = "value", time = "time", event = "type",
  context = { "device" } })
ev:write(arg[2] .. ".csv")
LUA
cmp -s "$tmp/read1.csv" "$tmp/ref.csv" || fail "a list of files differs from one file"
for np in 2 3; do
  cmp -s "$tmp/read1.csv" "$tmp/read$np.csv" || fail "read on $np processes: another log"
  cmp -s "$tmp/read1.ids" "$tmp/read$np.ids" || fail "read on $np processes: other id maps"
done
grep -qx '1500 5' "$tmp/read1.ids" || fail "report: $(tail -1 "$tmp/read1.ids")"

# a missing file read by rank 1 (files 3 and 4 of 4 on 2 processes)
cat >"$tmp/missing.lua" <<'LUA'
local rp = require "recpipe"
local d = arg[1]
rp.io.read_events({ d .. "/day1.csv", d .. "/day2.csv", d .. "/gone.csv", d .. "/day4.csv" })
print("read")
LUA
mpi_run 2 "$BIN" run --quiet "$tmp/missing.lua" "$tmp/days" >"$tmp/m.out" 2>"$tmp/m.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "missing file on rank 1: exit $rc"
grep -q "recpipe: rank 1: cannot open '$tmp/days/gone.csv'" "$tmp/m.err" ||
  fail "missing file on rank 1: message: $(cat "$tmp/m.err")"
grep -q '^read' "$tmp/m.out" && fail "a rank went on after the missing file"

# ---- a whole pipeline: read, split, k-core, train (CG and Cholesky),
# evaluate, save: byte-identical model files and reports on 1, 2 and 3
# processes and 1 or 2 threads per process
cat >"$tmp/gen2.lua" <<'LUA'
local dir = arg[1]
local r = 5
local function rnd(m)
  r = (r * 1103515245 + 12345) % 2147483648
  return (r >> 16) % m
end
local types = { "view", "click", "buy" }
for day = 1, 6 do
  local f = assert(io.open(("%s/day%d.csv"):format(dir, day), "w"))
  f:write("user,item,time,type\n")
  for i = 1, 1500 do
    local u = rnd(250 + 10 * day)
    local it = (u * 7 + rnd(25) * rnd(6)) % (120 + 5 * day) -- users share tastes
    f:write(("u%d,i%d,%d,%s\n"):format(u, it, 1700000000 + day * 86400 + i, types[1 + rnd(3)]))
  end
  f:close()
end
LUA
mkdir -p "$tmp/log"
"$BIN" run --quiet "$tmp/gen2.lua" "$tmp/log" || fail "generate the log"
cat >"$tmp/pipe.lua" <<'LUA'
local rp = require "recpipe"
local dir, out, threads = arg[1], arg[2], tonumber(arg[3])
local ev = rp.io.read_events(dir .. "/day*.csv", { time = "time", event = "type",
  weights = { view = 1, click = 2, buy = 5 } })
local train_ev, test_ev = rp.split.by_time(ev, { test_fraction = 0.2 })
local train = train_ev:to_matrix():kcore { min_user = 2, min_item = 2 }
local test = test_ev:to_matrix()
local lines = {}
for _, solver in ipairs { "cg", "cholesky" } do
  local model = rp.als.train(train, { factors = 12, iterations = 4, seed = 9, alpha = 2,
    regularization = 0.05, solver = solver, threads = threads })
  model:save(out .. "." .. solver .. ".rpm")
  if rp.dist.rank() == 0 then -- the factors in hex: every bit
    local f = assert(io.open(out .. "." .. solver .. ".factors", "w"))
    for _, side in ipairs { model.user_factors, model.item_factors } do
      for _, row in ipairs(side:totable()) do
        for _, x in ipairs(row) do f:write(("%a "):format(x)) end
        f:write("\n")
      end
    end
    f:close()
  end
  local rep = rp.metrics.evaluate(model, train, test, { k = 5, bootstrap = 200, seed = 3,
    metrics = { "precision", "recall", "map", "ndcg", "hit_rate", "mrr", "auc", "coverage" } })
  for _, m in ipairs { "precision", "recall", "map", "ndcg", "hit_rate", "mrr", "auc", "coverage" } do
    lines[#lines + 1] = ("%s %s %.17g"):format(solver, m, rep[m])
  end
  lines[#lines + 1] = ("%s ndcg_ci %.17g %.17g users %d"):format(solver, rep.ci.ndcg[1],
    rep.ci.ndcg[2], rep.users)
end
if rp.dist.rank() == 0 then
  local f = assert(io.open(out .. ".report", "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end
LUA
SOURCE_DATE_EPOCH=1700000000
export SOURCE_DATE_EPOCH
for run in 1:1 1:2 2:1 3:1 2:2; do
  np=${run%:*} th=${run#*:}
  OMP_NUM_THREADS=$th mpi_run "$np" "$BIN" run --quiet "$tmp/pipe.lua" "$tmp/log" "$tmp/p$np.$th" \
    "$th" 2>"$tmp/p$np.$th.err" || fail "pipeline on $np x $th: $(cat "$tmp/p$np.$th.err")"
done
# the factors and reports of every run are those of 1 x 1; the model files
# too, but for the `threads` option they record (1 x 2 and 2 x 2 against 1 x 2)
for run in 1.2 2.1 3.1 2.2; do
  for f in cg.factors cholesky.factors report; do
    cmp -s "$tmp/p1.1.$f" "$tmp/p$run.$f" || fail "processes x threads $run: $f differs from 1 x 1"
  done
  ref=p1.${run#*.}
  for f in cg.rpm cholesky.rpm; do
    cmp -s "$tmp/$ref.$f" "$tmp/p$run.$f" || fail "processes x threads $run: $f differs from $ref"
  done
done
[ "$(wc -l <"$tmp/p1.1.cg.factors")" -gt 100 ] || fail "too few factor rows"
grep -q '^cg ndcg 0\.[0-9]' "$tmp/p1.1.report" || fail "report: $(cat "$tmp/p1.1.report")"
# more users than one Gram group (16 chunks of 4096 rows): the groups of
# X^T X are summed on different ranks and added in group order
cat >"$tmp/wide.lua" <<'LUA'
local rp = require "recpipe"
local path, out = arg[1], arg[2]
if rp.dist.rank() == 0 then
  local f = assert(io.open(path, "w"))
  f:write("user,item\n")
  local r = 3
  for u = 1, 140000 do
    for _ = 1, 2 do
      r = (r * 1103515245 + 12345) % 2147483648
      f:write(("u%d,i%d\n"):format(u, (u + (r >> 16)) % 40))
    end
  end
  f:close()
end
rp.dist.barrier()
local ev = rp.io.read_events(path)
local model = rp.als.train(ev:to_matrix(), { factors = 4, iterations = 2, seed = 1, threads = 1 })
model:save(out)
LUA
for np in 1 3; do
  mpi_run "$np" "$BIN" run --quiet "$tmp/wide.lua" "$tmp/wide$np.csv" "$tmp/wide$np.rpm" \
    2>"$tmp/w$np.err" || fail "140,000 users on $np processes: $(cat "$tmp/w$np.err")"
done
cmp -s "$tmp/wide1.rpm" "$tmp/wide3.rpm" || fail "140,000 users: 3 processes differ from 1"

# a model file written under MPI loads in one process, with the factors
"$BIN" run --quiet - "$tmp/p2.1.cg.rpm" <<'LUA' || fail "the 2-process model does not load"
local rp = require "recpipe"
local m = rp.als.load(arg[1])
assert(m.factors == 12 and m.iterations == 4, "model header")
LUA

# examples/scaleout.lua (the shop log in weekly files) on 1 and 2 processes:
# the same figures and model file
if [ -f examples/shop/events.csv.gz ]; then
  for np in 1 2; do
    mpi_run "$np" "$BIN" run --quiet examples/scaleout.lua "" "$tmp/so$np" >"$tmp/so$np.out" \
      2>"$tmp/so$np.err" || fail "scaleout.lua on $np: $(cat "$tmp/so$np.err")"
  done
  grep -q '^ndcg@10 0\.[0-9]' "$tmp/so1.out" || fail "scaleout.lua: $(cat "$tmp/so1.out")"
  [ "$(grep '^ndcg' "$tmp/so1.out")" = "$(grep '^ndcg' "$tmp/so2.out")" ] ||
    fail "scaleout.lua: other figures on 2 processes"
  cmp -s "$tmp/so1/model.rpm" "$tmp/so2/model.rpm" || fail "scaleout.lua: other model on 2"
  grep -q '^2 processes: [0-9]* files, [0-9]* events' "$tmp/so2.out" || fail "scaleout.lua: the read"
else
  echo "examples/shop absent (make examples): scaleout.lua not run"
fi

[ $fails -eq 0 ] && echo "dist: all passed"
[ $fails -eq 0 ]
