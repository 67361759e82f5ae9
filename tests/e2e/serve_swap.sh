#!/bin/sh
# Hot swap under load: a client hammers GET /v1/recommend over 8 keep-alive
# connections while the model file is replaced and reloaded (SIGHUP and
# POST /v1/admin/reload, ten times, each model answering some of the load
# before the next swap), including a reload of a corrupt file:
# every answer is 200, no connection fails, the answers move to the new
# model versions, the corrupt reload is refused and reported in /metrics
# while the old model keeps serving.
. "$(dirname "$0")/lib/serve.sh"
make_model
cat >"$tmp/train2.lua" <<'LUA'
local rp = require "recpipe"
local m = rp.sparse.load(... .. "/train.rpm")
rp.als.train(m, { factors = 16, iterations = 2, seed = 99 }):save(... .. "/model2.rpa")
LUA
"$BIN" run --quiet "$tmp/train2.lua" "$tmp" || fail "second model"
cp "$tmp/model.rpa" "$tmp/live.rpa"
cat >"$tmp/serve.yaml" <<YAML
model: $tmp/live.rpa
seen: $tmp/train.rpm
workers: 2
log_dir: $tmp/logs
YAML
start "$tmp/serve.yaml" || { fail "start: $(cat "$tmp/server.log")"; finish; }
req GET "/v1/recommend?user=u1"
v0=$(field model_version)
i=1
while [ $i -le 3000 ]; do
  echo "/v1/recommend?user=u$(((i * 7919) % 5000 + 1))&k=10"
  i=$((i + 1))
done >"$tmp/paths"
"$HTTPLOAD" load "$port" "$tmp/paths" 8 600 >"$tmp/load.out" 2>&1 &
lp=$!
answered() { metric 'recpipe_requests_total{endpoint="recommend",code="200"}'; }
# the load runs until it is stopped below; each model serves some of it
wait_for "the load's first answers" 300 metric_ge \
  'recpipe_requests_total{endpoint="recommend",code="200"}' 50
replace() { # replace FILE: a new model file renamed over the live one
  cp "$1" "$tmp/live.rpa.tmp" && mv "$tmp/live.rpa.tmp" "$tmp/live.rpa"
}
for n in 1 2 3 4 5 6 7 8 9 10; do
  case $n in
  3) # a corrupt file: refused, the old model keeps serving
    head -c 5000 "$tmp/model.rpa" >"$tmp/bad.rpa"
    replace "$tmp/bad.rpa"
    expect 500 POST /v1/admin/reload ''
    has "reload failed"
    has "truncated model file"
    replace "$tmp/model2.rpa" ;;
  *) if [ $((n % 2)) = 0 ]; then replace "$tmp/model2.rpa"; else replace "$tmp/model.rpa"; fi ;;
  esac
  if [ $((n % 2)) = 0 ]; then
    ok0=$(metric 'recpipe_model_reloads_total{result="ok"}')
    kill -HUP "$pid"
    wait_for "the reload of SIGHUP $n" 300 metric_ge 'recpipe_model_reloads_total{result="ok"}' $((ok0 + 1))
  else
    expect 200 POST /v1/admin/reload ''
    has '"reloaded":true'
  fi
  a0=$(answered)
  wait_for "answers of the model of reload $n" 300 metric_ge \
    'recpipe_requests_total{endpoint="recommend",code="200"}' $((a0 + 20))
done
kill -TERM $lp
wait $lp
cat "$tmp/load.out"
total=$(sed -n 's/^requests //p' "$tmp/load.out")
ok=$(sed -n 's/^status 200 //p' "$tmp/load.out")
errs=$(sed -n 's/^errors //p' "$tmp/load.out")
nv=$(sed -n 's/^versions //p' "$tmp/load.out")
[ "${total:-0}" -ge 200 ] || fail "too few requests under load: $total"
[ "$ok" = "$total" ] || fail "non-200 answers during the swaps: $(cat "$tmp/load.out")"
[ "$errs" = 0 ] || fail "socket errors during the swaps: $errs"
[ "${nv:-0}" -ge 3 ] || fail "answers came from $nv model versions, wanted several"
req GET "/v1/recommend?user=u1"
[ "$(field model_version)" != "$v0" ] || fail "the model version did not change"
expect 200 GET /metrics
has 'recpipe_model_reloads_total{result="failed"} 1'
grep -q 'recpipe_model_reloads_total{result="ok"} 10' "$tmp/body" ||
  fail "reloads: $(grep reloads_total "$tmp/body")"
has 'recpipe_model_last_reload_error_info{message="'
grep -q "reload failed, the model .* keeps serving: .*truncated model file" "$tmp/server.log" ||
  fail "the failed reload is not logged"
stop
[ "$rc" = 0 ] || fail "exit status $rc"
finish
