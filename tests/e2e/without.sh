#!/bin/sh
# A module really can be left out (issue 11): for each of monitor, sparse and
# dist, `make WITHOUT=m` builds the binary without modules/m (its core,
# binding and include path; for dist, runtime/solo/dist.c implements
# dist.h in one process).  Each binary is checked for:
#  - rp.m absent, `require "recpipe.m"` failing;
#  - m's code not linked in (nm: its luaopen and its own symbols; for dist
#    no reference to MPI at all);
#  - the rest giving the same answers, to the bit, as the full build: a
#    read, a split, matrices and their methods (Matrix and Dense are the
#    runtime's types, there without rp.sparse), ALS (whose collectives are
#    dist.h's), evaluation, popularity (hex floats compared);
#  - what needs m failing with the reason (drift without monitor; mpirun
#    without dist).
# The build under test's variables (SAN, TSAN, MARCH) are passed on, so each
# variant proves it for itself.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
vars=${RP_MAKEVARS:-SAN=$(case $BIN in *build-san*) echo 1 ;; *) echo 0 ;; esac)}
tmp=$(mktemp -d /tmp/recpipe-without.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

awk 'BEGIN { print "user,item,time"; s = 11
  for (n = 0; n < 2000; n++) { s = (s * 1103515245 + 12345) % 2147483648
    printf "u%d,i%d,%d\n", s % 80, (s / 80) % 40, 1700000000 + (s % 3456000) } }' >"$tmp/log.csv"
cat >"$tmp/check.lua" <<LUA
local rp = require "recpipe"
local without = ...
if without then
  assert(rp[without] == nil, "rp." .. without .. " is present")
  assert(not pcall(require, "recpipe." .. without), "recpipe." .. without .. " can be required")
end
local ev = rp.io.read_events("$tmp/log.csv", { time = "time" })
local tr, te = rp.split.by_time(ev, { test_fraction = 0.2 })
local train, test = tr:to_matrix(), te:to_matrix()
local out = {}
local function put(fmt, ...) out[#out + 1] = fmt:format(...) end
-- the data model's methods, whichever modules are in
local core = train:kcore { min_user = 3, min_item = 3 }
local t = core:transpose()
local rc = train:row_counts()
local evk = ev:kcore { min_user = 3, min_item = 3 }
put("kcore %d x %d nnz %d, transpose %d x %d, rows %d, events %d -> %d", core.nrows,
  core.ncols, core.nnz, t.nrows, t.ncols, #rc, #ev, #evk)
put("bm25 sum %a", train:bm25():sum())
local m = rp.als.train(train, { factors = 8, iterations = 3, seed = 7 })
local items, scores = m:recommend(ev.users:id(1), { k = 5, exclude = train })
put("recommend %s %a", table.concat(items, " "), scores[1])
put("user factor %a", m.user_factors:get(1, 1))
local r = rp.metrics.evaluate(m, train, test, { metrics = { "ndcg", "recall" } })
assert(r.users > 0 and r.ndcg >= 0 and r.ndcg <= 1, "evaluate")
put("evaluate %d users ndcg %a recall %a", r.users, r.ndcg, r.recall)
local pop = rp.baseline.popularity(tr)
assert(#pop:recommend(ev.users:id(1), { k = 5 }) == 5, "popularity")
print("ok " .. table.concat(out, "; "))
LUA
full=$("$BIN" run "$tmp/check.lua" 2>&1) || fail "full build: $full"
case $full in "ok "*) ;; *) fail "the full build printed: $full" ;; esac

for m in monitor sparse dist; do
  make --no-print-directory -j2 WITHOUT=$m $vars >"$tmp/make.log" 2>&1 ||
    fail "make WITHOUT=$m: $(tail -20 "$tmp/make.log")"
  bin=$(sed -n 's/^  LD \(.*recpipe\)$/\1/p' "$tmp/make.log" | tail -1)
  [ -n "$bin" ] || bin=$(ls -d build*-without-$m*/recpipe 2>/dev/null | head -1)
  [ -x "$bin" ] || fail "no binary (make said: $(tail -3 "$tmp/make.log"))"
  case $bin in *without-$m*) ;; *) fail "the binary $bin is not the WITHOUT=$m build's" ;; esac
  # its code is not linked in (and the full build has it: the pattern is right)
  case $m in
    monitor) pat='luaopen_recpipe_monitor\|rp_monitor_' ;;
    sparse) pat='luaopen_recpipe_sparse\|sparse_from_triplets\|sparse_load' ;;
    dist) pat='luaopen_recpipe_dist\|MPI_' ;;
  esac
  # (nm: defined symbols and references, not the host's weak ones)
  if command -v nm >/dev/null; then
    nm "$bin" | grep -v ' w ' | grep -q "$pat" &&
      fail "$m's code is linked into $bin: $(nm "$bin" | grep -v ' w ' | grep "$pat" | head -3)"
    nm "$BIN" | grep -v ' w ' | grep -q "$pat" || fail "the full build lacks $m ($pat)"
  fi
  out=$("$bin" run "$tmp/check.lua" $m 2>&1) || fail "script without $m: $out"
  [ "$out" = "$full" ] || fail "without $m '$out', full build '$full'"
  # the full build has the module (the absence check can fail)
  "$BIN" run "$tmp/check.lua" $m >/dev/null 2>&1 && fail "the full build has no rp.$m"
  # what needs the module fails, saying why
  case $m in
    monitor)
      "$bin" run pipelines/drift.lua data.path="$tmp/log.csv" >/dev/null 2>&1 &&
        fail "drift ran without rp.monitor" ;;
    dist)
      said=$(OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "$bin" run "$tmp/check.lua" 2>&1) &&
        fail "ran under mpirun without modules/dist"
      case $said in *"built without modules/dist"*) ;; *) fail "mpirun without dist said: $said" ;; esac ;;
  esac
  echo "without $m: ok ($bin)"
done
echo "without.sh: ok ($full)"
