#!/bin/sh
# Operations end to end: the README's retrain example prints what the README
# says; the 16-week simulation (examples/operations/simulate.lua, scaled
# down) under `recpipe schedule` with the clock override: weekly gated
# retrains, a broken candidate refused while the live model keeps serving,
# drift alerts only after the taste shift (when pipelines/drift.lua is
# there), and the dashboard of it all rendered by headless Chromium.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-ops.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# ---- the README's two retrains ------------------------------------------------
[ -f examples/shop/events.csv.gz ] || "$BIN" run examples/generate.lua || exit 1
for t in 2024-05-01 2024-05-08; do
  RECPIPE_NOW=$t "$BIN" run -q examples/operations/retrain.yaml registry="$tmp/reg.db" >>"$tmp/retrain.out" 2>"$tmp/err" ||
    fail "retrain at $t: $(tail -5 "$tmp/err")"
done
awk '/^### Operations: registry/ { on = 1 } on && /^promoted shop v1/ { p = 1 } p && /^```$/ { exit } p { print }' \
  README.md >"$tmp/readme.out"
# the same lines, figures to one unit of their last printed digit (same.sh):
# another build or machine may sum floats in another order
. tests/e2e/lib/same.sh
awk "$SAME"' NR == FNR { out[++n] = $0; next } { if (!same(out[FNR], $0)) bad = 1 }
     END { exit bad || n != FNR }' "$tmp/retrain.out" "$tmp/readme.out" ||
  fail "README's retrain output differs:
$(diff "$tmp/readme.out" "$tmp/retrain.out")"

# ---- the simulation, scaled down --------------------------------------------------
shift=true
grep -q '"shift"' modules/gen/lua_gen.c || shift=false # until the generator has the option
"$BIN" run examples/operations/simulate.lua scale=small out="$tmp/sim" shift=$shift >"$tmp/sim.out" 2>&1 ||
  fail "simulation: $(tail -20 "$tmp/sim.out")"
grep -q "^simulation: every check holds" "$tmp/sim.out" || fail "simulation did not finish: $(tail -5 "$tmp/sim.out")"
grep -qE '^13 +2024-04-08 refuse ' "$tmp/sim.out" || fail "week 13 not refused: $(cat "$tmp/sim.out")"

# the dashboard shows it
U=$(mktemp -d "$tmp/profile.XXXXXX")
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$U" \
  --dump-dom "file://$tmp/sim/dashboard.html" >"$tmp/dom.html" 2>/dev/null || fail "chromium"
grep -qF 'data-status="refused"' "$tmp/dom.html" || fail "dashboard: no refused version"
grep -qF 'data-action="refuse" data-version="10"' "$tmp/dom.html" || fail "dashboard: no refusal row"
grep -qF 'class="live" data-name="shop" data-version="13"' "$tmp/dom.html" || fail "dashboard: live version"
if [ -f pipelines/drift.lua ]; then
  grep -qF 'class="alert"' "$tmp/dom.html" || fail "dashboard: no drift alert"
  grep -qF 'data-crossed="1"' "$tmp/dom.html" || fail "dashboard: no measure over its threshold"
fi
[ $fails -eq 0 ] || exit 1
echo "operations: ok"
