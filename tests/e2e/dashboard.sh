#!/bin/sh
# recpipe dashboard rendered by headless Chromium: the page parses into
# what the registry holds (runs by status, the live version, every model
# version with its decision, the refusal's interval, a measure's threshold
# and its crossing, click-through per version and reason, the alert, the
# failed run's message), fetches nothing, logs no console error, and draws
# a non-blank screenshot.
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null 2>&1 || { echo "dashboard: $CHROMIUM not found (make deps installs chromium)"; exit 1; }
tmp=$(mktemp -d /tmp/recpipe-dash.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2'"; }
count() { grep -oF -- "$2" "$1" | wc -l | tr -d ' '; }

cat >"$tmp/fill.lua" <<'EOF2'
local rp = require "recpipe"
local dir = ...
local reg = rp.registry.open(dir .. "/reg.db")
local f = io.open(dir .. "/m.bin", "w"); f:write("model"); f:close()
local t0 = 1704672000
for w = 1, 6 do
  local run = reg:begin { pipeline = "retrain", job = "weekly" }
  local v = reg:register("shop", dir .. "/m.bin",
    { run = run, metrics = { ndcg = { 0.20 + w / 100, 0.19 + w / 100, 0.21 + w / 100 } } })
  if w == 1 then
    reg:_decide("shop", v, { action = "initial", reason = "first" })
  elseif w == 4 then
    reg:_decide("shop", v, { action = "refuse", metric = "ndcg@10", diff = -0.1234, lo = -0.15,
                             hi = -0.09, reason = "refused: shuffled <items>" })
  else
    reg:_decide("shop", v, { action = "promote", reason = "better" })
  end
  run:measure("psi.item_popularity", w == 5 and 0.61 or 0.02 * w, { threshold = 0.25 })
  run:measure("ctr", 0.05 + w / 1000, { model = "shop", version = v, label = "cf" })
  if w == 5 then run:alert("psi.item_popularity", "item popularity shifted", 0.61, 0.25) end
  run:finish(w == 3 and "failed" or "ok", w == 3 and "exit status 2: out of luck" or nil)
end
EOF2
RECPIPE_NOW=2024-03-01 "$BIN" run -q "$tmp/fill.lua" "$tmp" || { echo "cannot fill"; exit 1; }
"$BIN" dashboard "$tmp/reg.db" -o "$tmp/dash.html" --title "Shop operations" || fail "dashboard"
for bad in "<script" "http://" "https://" "<link" "src=" "@import"; do
  grep -qiF -- "$bad" "$tmp/dash.html" && fail "the page has '$bad' (must be self-contained)"
done

chrome() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$tmp/profile.XXXXXX")" --enable-logging=stderr --v=0 \
    --host-resolver-rules="MAP * ~NOTFOUND" "$@"
}
chrome --dump-dom "file://$tmp/dash.html" >"$tmp/dom.html" 2>"$tmp/chrome.log" || fail "chromium --dump-dom failed: $(tail -5 "$tmp/chrome.log")"
chrome --window-size=1100,2600 --screenshot="$tmp/shot.png" "file://$tmp/dash.html" \
  >/dev/null 2>>"$tmp/chrome.log" || fail "chromium --screenshot failed"
grep -i "console" "$tmp/chrome.log" | grep -qi "error" && fail "console errors: $(grep -i console "$tmp/chrome.log" | head -3)"
size=$(wc -c <"$tmp/shot.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || fail "screenshot too small ($size bytes): blank page?"

d=$tmp/dom.html
has "$d" "<title>Shop operations</title>"
has "$d" 'data-runs-ok="5" data-runs-failed="1" data-runs-running="0" data-models="6" data-alerts="1"'
has "$d" 'class="live" data-name="shop" data-version="6"'
[ "$(count "$d" 'data-chart="versions"')" = 1 ] || fail "one versions chart"
[ "$(count "$d" 'data-status="refused"')" = 1 ] || fail "one refused version"
[ "$(count "$d" 'data-status="promoted"')" = 4 ] || fail "four promoted versions"
[ "$(count "$d" 'data-status="live"')" = 1 ] || fail "one live version"
has "$d" 'data-version="4" data-status="refused"'
[ "$(count "$d" 'class="interval"')" = 6 ] || fail "six intervals"
has "$d" 'data-action="refuse" data-version="4"'
has "$d" "ndcg@10 -0.1234 [-0.15, -0.09]"
has "$d" "refused: shuffled &lt;items&gt;"
has "$d" 'data-name="psi.item_popularity" data-count="6" data-crossed="1"'
has "$d" 'data-threshold="0.25"'
[ "$(count "$d" 'data-crossed="1"')" -ge 2 ] || fail "the crossing point"
[ "$(count "$d" 'class="serving" data-name="ctr"')" = 6 ] || fail "ctr per version"
has "$d" 'data-version="6" data-label="cf" data-value="0.056000000000000001"'
has "$d" 'class="alert" data-name="psi.item_popularity"'
has "$d" "item popularity shifted"
has "$d" 'data-run="3" data-status="failed"'
has "$d" "exit status 2: out of luck"
[ $fails -eq 0 ] || exit 1
echo "dashboard: ok (screenshot $size bytes)"
