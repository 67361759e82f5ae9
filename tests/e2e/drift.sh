#!/bin/sh
# pipelines/drift.lua end to end (examples/drift.yaml with overrides):
#  - the calibration claim, scaled down: on a 16-week shop log with a
#    taste shift in week 10 (examples/generate.lua shift.at=...), weekly
#    checks with the default thresholds exit 0 in the five weeks before
#    the shift and 2 (alert) in the first check after it;
#  - the report file; config keys and thresholds checked (exit 1);
#  - serving logs in recpipe serve's layout (daily files): a click-through
#    drop alerts, a steady one does not;
#  - with rp.registry built in: the run, its measures and alerts recorded.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-drift.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$BIN" run --quiet examples/generate.lua out="$tmp/shop" users=3000 items=1200 events=100000 \
  days=112 shift.at=2024-03-06 >/dev/null 2>&1 || { echo "FAIL: generate"; exit 1; }
grep -q '^user_shift,' "$tmp/shop/truth.csv" || fail "the generated log has no shift"

# weeks start on Mondays from 2024-01-01; the check of week w runs at its end
week_end() { date -u -d "2024-01-01 + $(($1 * 7)) days" +%Y-%m-%d; }
for w in 5 6 7 8 9 10; do
  now=$(week_end $w)
  "$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now="$now" \
    report="$tmp/w$w.csv" >"$tmp/w$w.out" 2>"$tmp/w$w.err"
  rc=$?
  want=0
  [ $w -eq 10 ] && want=2
  [ $rc -eq $want ] || fail "week $w (now $now): exit $rc, want $want: $(cat "$tmp/w$w.err")"
  echo "week $w: exit $rc, $(tail -1 "$tmp/w$w.out")"
done
# week 10: the item popularity measures fire against both references and
# the alerts are logged; nothing else does
grep -q '^1710115200,previous,item_psi,,[0-9.e-]*,0.25,above,true$' "$tmp/w10.csv" ||
  fail "week 10: no item_psi alert against the previous week"
grep -q '^1710115200,train,item_psi,,[0-9.e-]*,0.25,above,true$' "$tmp/w10.csv" ||
  fail "week 10: no item_psi alert against the training data"
grep -q 'warn: drift alert (previous): item_psi ' "$tmp/w10.err" || fail "week 10: alert not logged"
[ "$(grep -c ',true$' "$tmp/w10.csv")" -ge 2 ] || fail "week 10: too few alerts"
grep -q ',true$' "$tmp/w9.csv" && fail "week 9 has an alert"
head -1 "$tmp/w9.csv" | grep -qx 'now,comparison,measure,column,value,threshold,direction,alert' ||
  fail "report header"
[ "$(wc -l <"$tmp/w9.csv")" -eq 29 ] || fail "week 9 report: $(wc -l <"$tmp/w9.csv") lines, want 29"
grep -q '^1710115200,previous,new_users,,[0-9.e-]*,,above,false$' "$tmp/w10.csv" ||
  fail "new_users against the previous week is reported with its threshold off"
grep -q 'context_tv\[country\]' "$tmp/w10.out" || fail "context columns in the printed table"

# the README's sample output (Drift checks) is what the check prints on the
# full-size log of the guide
"$BIN" run --quiet examples/generate.lua out="$tmp/full" days=112 events=200000 \
  shift.at=2024-03-06 >/dev/null 2>&1 || fail "generate the full-size log"
"$BIN" run --quiet examples/drift.yaml data.path="$tmp/full/events.csv.gz" now=2024-03-11 \
  report= >"$tmp/full.out" 2>/dev/null
[ $? -eq 2 ] || fail "the guide's check does not exit 2"
awk '/^### Drift checks/ { on = 1 } on && /^```sh$/ { insh = 1; next } insh && /^```$/ { insh = 0; next }
     on && !insh && /^```$/ { if (inb) exit; inb = 1; next } inb { print }' README.md >"$tmp/sample"
[ "$(wc -l <"$tmp/sample")" -gt 25 ] || fail "README drift sample not found"
cmp -s "$tmp/sample" "$tmp/full.out" || fail "README drift sample differs from the output:
$(diff "$tmp/sample" "$tmp/full.out" | head -10)"

# thresholds and config keys are checked before any work
"$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now=2024-03-11 \
  thresholds.previous.item_psi=1 thresholds.train.item_psi=1 thresholds.previous.item_tv=false \
  thresholds.train.item_tv=false report= >/dev/null 2>&1
[ $? -eq 0 ] || fail "raised thresholds still alert"
"$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now=2024-02-05 \
  exit_code=7 thresholds.previous.item_psi=0.001 report= >/dev/null 2>&1
[ $? -eq 7 ] || fail "exit_code is not used"
"$BIN" run --quiet examples/drift.yaml windw_days=7 >"$tmp/bad.out" 2>&1
[ $? -eq 1 ] || fail "an unknown key does not fail"
grep -q "examples/drift.yaml: unknown key 'windw_days' (known: compare, data, exit_code, model, models, monitor, now, registry, report, serving, thresholds, train, window_days)" \
  "$tmp/bad.out" || fail "unknown key message: $(head -1 "$tmp/bad.out")"
"$BIN" run --quiet examples/drift.yaml thresholds.train.item_psy=0.2 >"$tmp/bad.out" 2>&1
[ $? -eq 1 ] || fail "an unknown measure does not fail"
grep -q "drift: thresholds.train: unknown measure 'item_psy' (known: volume, item_psi," \
  "$tmp/bad.out" || fail "unknown measure message: $(head -1 "$tmp/bad.out")"
"$BIN" run --quiet examples/drift.yaml monitor.bins=5 >"$tmp/bad.out" 2>&1
grep -q "examples/drift.yaml: unknown key 'monitor.bins' (known under monitor: context_bins, epsilon, item_bins)" "$tmp/bad.out" ||
  fail "unknown section key message: $(head -1 "$tmp/bad.out")"

# serving logs as recpipe serve writes them: impressions-DAY.csv and
# events-DAY.csv.  The check at 2024-03-04 (one-day horizon) compares the
# requests of [02-25, 03-03) with those of [02-18, 02-25): 20 requests a day
# of 3 items each, clicked 1 in 2 before 02-25 and 1 in `every` after.
write_serving() { # dir, clicks-every-n in the last week
  mkdir -p "$1"
  "$BIN" run - "$1" "$2" <<'EOF'
local dir, every = arg[1], tonumber(arg[2])
local rp = require "recpipe"
local t0 = rp.split.time("2024-02-15")
local files = {}
local function put(prefix, t, header, line)
  local day = os.date("!%Y-%m-%d", t)
  local name = ("%s/%s-%s.csv"):format(dir, prefix, day)
  if not files[name] then
    files[name] = assert(io.open(name, "w"))
    files[name]:write(header)
  end
  files[name]:write(line)
end
local q = 0
for d = 0, 18 do
  for r = 1, 20 do
    q = q + 1
    local t = t0 + d * 86400 + r * 3600
    local u = ("u%d"):format(r)
    for pos = 1, 3 do
      put("impressions", t, "request_id,timestamp,user_id,item_id,position,score,model_version,reason\n",
        ("q%d,%d.000,%s,i%d,%d,%.2f,3,cf\n"):format(q, t, u, (q + pos) % 50, pos, 1 - pos / 10))
    end
    local n = t < t0 + 10 * 86400 and 2 or every
    if q % n == 0 then
      put("events", t + 60, "user_id,item_id,event,timestamp,request_id\n",
        ("%s,i%d,click,%d.000,q%d\n"):format(u, (q + 1) % 50, t + 60, q))
    end
  end
end
for _, f in pairs(files) do f:close() end
EOF
}
write_serving "$tmp/steady" 2
write_serving "$tmp/drop" 10
for case in steady drop; do
  "$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now=2024-03-04 \
    serving.log_dir="$tmp/$case" report="$tmp/$case.csv" >"$tmp/$case.out" 2>"$tmp/$case.err"
  echo "serving $case: exit $? ($(grep -c ',serving,' "$tmp/$case.csv") serving rows)"
done
grep -q ',serving,ctr,,0.5,,below,false$' "$tmp/steady.csv" || fail "steady: ctr 0.5 not reported"
grep -q ',serving,ctr_drop,,0,0.25,above,false$' "$tmp/steady.csv" || fail "steady: ctr_drop 0"
grep -q ',true$' "$tmp/steady.csv" && fail "steady serving logs alert"
grep -q ',serving,ctr,,0.1[0-9]*,,below,false$' "$tmp/drop.csv" || fail "drop: ctr 0.1 not reported"
grep -q ',serving,ctr_drop,,0.8[0-9]*,0.25,above,true$' "$tmp/drop.csv" || fail "drop: no ctr_drop alert"
grep -q 'serving version 3 .* ctr 0.1000' "$tmp/drop.out" || fail "drop: the by-version line"
grep -q 'warn: drift alert (serving): ctr_drop 0.8 > 0.25' "$tmp/drop.err" || fail "drop: alert not logged"

# two models' answers: a retrain with another seed stays close; a model
# trained with the item ids shuffled does not (the broken candidate)
"$BIN" run - "$tmp/shop/events.csv.gz" "$tmp" <<'EOF' || fail "training the models"
local rp = require "recpipe"
local path, dir = arg[1], arg[2]
local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", weights = { purchase = 5, addtocart = 3, view = 1 } })
local train = ev:where { to = "2024-02-19" }:to_matrix()
local o = { factors = 16, iterations = 8, seed = 1 }
rp.als.train(train, o):save(dir .. "/a.rpa")
o.seed = 2
rp.als.train(train, o):save(dir .. "/b.rpa")
local ids, list = train.items:ids(), {}
for u, row in pairs(train:totable()) do
  for i, v in pairs(row) do
    local k = train.items:index(i)
    list[#list + 1] = { u, ids[(k * 7919) % #ids + 1], v }
  end
end
rp.als.train(rp.sparse.from_triplets(list), o):save(dir .. "/shuffled.rpa")
EOF
for case in b shuffled; do
  "$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now=2024-02-26 \
    models.reference="$tmp/a.rpa" models.current="$tmp/$case.rpa" models.users=500 \
    report="$tmp/models-$case.csv" >/dev/null 2>"$tmp/models-$case.err"
  rc=$?
  echo "models a vs $case: exit $rc, $(grep ',models,jaccard,' "$tmp/models-$case.csv")"
  [ $case = b ] && [ $rc -ne 0 ] && fail "a retrain alerts: $(cat "$tmp/models-$case.err")"
  [ $case = shuffled ] && [ $rc -ne 2 ] && fail "the shuffled model does not alert"
done
grep -q ',models,jaccard,,[0-9.e-]*,0.2,below,true$' "$tmp/models-shuffled.csv" ||
  fail "shuffled: no jaccard alert"
grep -q ',models,rbo,,[0-9.e-]*,0.3,below,false$' "$tmp/models-b.csv" || fail "retrain: rbo row"

# the registry (rp.registry, when this recpipe has it)
if echo 'os.exit(require("recpipe").registry and 0 or 3)' | "$BIN" run - 2>/dev/null; then
  "$BIN" run --quiet examples/drift.yaml data.path="$tmp/shop/events.csv.gz" now=2024-03-11 \
    registry="$tmp/reg.db" report= >/dev/null 2>&1
  [ $? -eq 2 ] || fail "registry run: exit status"
  n=$(sqlite3 "$tmp/reg.db" "SELECT count(*) FROM measures WHERE name = 'previous.item_psi'")
  [ "$n" = 1 ] || fail "registry: previous.item_psi recorded $n times"
  n=$(sqlite3 "$tmp/reg.db" "SELECT count(*) FROM alerts")
  [ "$n" -ge 2 ] || fail "registry: $n alerts"
  s=$(sqlite3 "$tmp/reg.db" "SELECT status FROM runs WHERE pipeline = 'drift'")
  [ "$s" = ok ] || fail "registry: the run is '$s'"
  echo "registry: measures and alerts recorded"
else
  echo "registry: this build has no rp.registry; the registry part is not exercised"
fi

[ $fails -eq 0 ] && echo "drift: ok"
exit $((fails > 0))
