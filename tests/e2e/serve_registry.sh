#!/bin/sh
# recpipe serve following a model registry (settings registry, live): the
# server answers with the live version of "shop", and when a script promotes
# a new version with rp.registry (or rolls back) while the server runs, the
# answers move to it within the poll interval (waited for with a deadline,
# never assumed) without a restart; a promoted version whose file is corrupt
# is refused once (the old one keeps serving) and not retried until the
# live pointer moves again; GET /dashboard serves the registry's page; and
# the start-up errors of these settings.
. "$(dirname "$0")/lib/serve.sh"
make_model
cat >"$tmp/train2.lua" <<'LUA'
local rp = require "recpipe"
local dir = ...
local m = rp.sparse.load(dir .. "/train.rpm")
local als = rp.als.train(m, { factors = 16, iterations = 2, seed = 99 })
als:save(dir .. "/model2.rpa")
print(table.concat((als:recommend("u42", { k = 5, exclude = m })), ","))
LUA
"$BIN" run --quiet "$tmp/train2.lua" "$tmp" >"$tmp/expect2.txt" || fail "second model"
v1_items=$(expect_of u42_5_seen)
v2_items=$(cat "$tmp/expect2.txt")
[ "$v1_items" != "$v2_items" ] || fail "the two models answer alike: the test would prove nothing"
head -c 5000 "$tmp/model.rpa" >"$tmp/bad.rpa"
# reg.lua DB ACTION [ARG]: what an operator's script does with rp.registry
cat >"$tmp/reg.lua" <<'LUA'
local rp = require "recpipe"
local db, action, a = ...
local reg <close> = rp.registry.open(db)
if action == "register" then
  print(reg:register("shop", a))
elseif action == "promote" then
  local ok, d = reg:promote("shop", tonumber(a), { gate = false, reason = "e2e" })
  assert(ok, d.reason)
  print(d.action)
elseif action == "rollback" then
  print(reg:rollback("shop", { reason = "e2e rollback" }))
end
LUA
reg() { "$BIN" run --quiet "$tmp/reg.lua" "$tmp/reg/registry.db" "$@" || fail "reg.lua $*"; }
mkdir -p "$tmp/reg"
[ "$(reg register "$tmp/model.rpa")" = 1 ] || fail "register v1"
[ "$(reg promote 1)" = initial ] || fail "promote v1"

cat >"$tmp/serve.yaml" <<YAML
registry: $tmp/reg/registry.db
live: shop
registry_poll: 0.2
seen: $tmp/train.rpm
workers: 2
log_dir: $tmp/logs
YAML
start "$tmp/serve.yaml" || { fail "start: $(cat "$tmp/server.log")"; finish; }
serving() { # serving VERSION ITEMS: the answers come from that version
  expect 200 GET "/v1/recommend?user=u42&k=5"
  [ "$(field model_version)" = "$1" ] || fail "model_version $(field model_version), wanted $1"
  [ "$(items)" = "$2" ] || fail "$1: u42's answer $(items), wanted $2"
}
live_is() { [ "$(metric 'recpipe_model_live_version{name="shop"}')" = "$1" ]; }
serving shop-v1 "$v1_items"
live_is 1 || fail "live version metric: $(metric 'recpipe_model_live_version{name="shop"}')"

# ---- a promotion while the server runs: followed ------------------------------------
[ "$(reg register "$tmp/model2.rpa")" = 2 ] || fail "register v2"
[ "$(reg promote 2)" = promote ] || fail "promote v2"
wait_for "the server following the promotion to v2" 120 live_is 2
serving shop-v2 "$v2_items"
grep -q "reloading (the registry's live shop is v2, serving v1)" "$tmp/server.log" ||
  fail "the reload's reason is not logged: $(grep reloading "$tmp/server.log")"

# ---- a rollback: followed back ----------------------------------------------------------
[ "$(reg rollback)" = 1 ] || fail "rollback"
wait_for "the server following the rollback to v1" 120 live_is 1
serving shop-v1 "$v1_items"

# ---- a corrupt version: refused once, the old one serves, then it moves on ---------------------
[ "$(reg register "$tmp/bad.rpa")" = 3 ] || fail "register v3"
reg promote 3 >/dev/null
wait_for "the failed load of v3" 120 metric_ge 'recpipe_model_reloads_total{result="failed"}' 1
serving shop-v1 "$v1_items"
grep -q "reload failed, the model shop-v1 keeps serving: .*truncated model file" "$tmp/server.log" ||
  fail "the failed load is not logged"
reg promote 2 >/dev/null
wait_for "the server following the promotion of v2 after v3" 120 live_is 2
serving shop-v2 "$v2_items"
[ "$(metric 'recpipe_model_reloads_total{result="failed"}')" = 1 ] ||
  fail "v3 was tried more than once: $(metric 'recpipe_model_reloads_total{result="failed"}') failed reloads"
[ "$(metric 'recpipe_model_reloads_total{result="ok"}')" = 3 ] ||
  fail "reloads: $(metric 'recpipe_model_reloads_total{result="ok"}'), wanted 3"
[ "$(metric recpipe_registry_errors_total)" = 0 ] || fail "registry errors: $(metric recpipe_registry_errors_total)"

# ---- the dashboard ------------------------------------------------------------------------
curl -s -D "$tmp/headers" -o "$tmp/dash.html" "$url/dashboard"
grep -q '^HTTP/1.1 200' "$tmp/headers" || fail "dashboard: $(head -1 "$tmp/headers")"
grep -qi '^Content-Type: text/html' "$tmp/headers" || fail "dashboard content type"
grep -q '<!DOCTYPE html>' "$tmp/dash.html" || fail "dashboard: not a page"
grep -q 'Promotions and refusals' "$tmp/dash.html" || fail "dashboard: no promotions"
grep -q 'e2e rollback' "$tmp/dash.html" || fail "dashboard: the rollback is not on it"
grep -q '</html>' "$tmp/dash.html" || fail "dashboard: cut short"
stop
[ "$rc" = 0 ] || fail "exit status $rc"

# ---- start-up errors -------------------------------------------------------------------------
printf 'live: shop\n' >"$tmp/nolive.yaml"
fails_with "setting 'live' needs 'registry'" "$tmp/nolive.yaml"
fails_with "has no live version of 'other'" "$tmp/serve.yaml" live=other
fails_with "give 'model' or 'live', not both" "$tmp/serve.yaml" "model=$tmp/model.rpa"
fails_with "setting 'live': model name" "$tmp/serve.yaml" "live=a/b"
fails_with "setting 'registry'" "$tmp/serve.yaml" "registry=$tmp/nosuch.db"
printf 'local rp = require "recpipe"\nreturn rp.als.load("%s"), { live = "shop" }\n' "$tmp/model.rpa" >"$tmp/script_live.lua"
fails_with "unknown setting 'live'" "$tmp/script_live.lua"
finish
