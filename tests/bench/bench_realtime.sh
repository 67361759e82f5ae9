#!/bin/sh
# Real-time signals (issue 13; RESULTS.md, "Serving: realtime"): the quality
# gain of what recpipe serve's realtime = true does on POST /v1/events (the
# refit of the user's factors from their training row plus the events, and
# the session boost of the events' items) for each test user's first 1, 2,
# 3 test-period events, against the frozen model, NDCG@10 with paired 95%
# intervals, on the held-out users of the example shop (odd numbers; the
# weight was chosen on the even ones: realtime_eval.lua ... val); and the
# cost of one user's refit against one recommend.
#
#   sh tests/bench/bench_realtime.sh
BIN=${BIN:-./recpipe}
[ -f examples/shop/events.csv.gz ] || { echo "bench_realtime: make examples first, skipped" >&2; exit 0; }
echo "machine: $(nproc) cores, load $(uptime | sed 's/.*load average: //')"
# the server's default realtime_session_weight, from its settings list
weight=$("$BIN" serve --help | awk '$1 == "realtime_session_weight" { print $2 }')
[ -n "$weight" ] || { echo "bench_realtime: no realtime_session_weight in serve --help"; exit 1; }
"$BIN" run tests/bench/realtime_eval.lua 32 10 "$weight" test || exit 1

# ---- over HTTP: realtime on against off --------------------------------------
# 300 pairs of POST /v1/events (one view of a known user) and GET
# /v1/recommend for that user (k = 10, seen excluded, a new user each pair:
# no cache hits), each timed by curl (time_total: connect to last byte);
# medians.  The refit runs in the POST, so realtime's cost per pair is the
# POST's change, and the GET's p50 is the request it is measured against.
command -v curl >/dev/null || { echo "bench_realtime: no curl, HTTP part skipped"; exit 0; }
tmp=$(mktemp -d /tmp/recpipe-rt.XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/train.lua" <<'LUA'
local rp = require "recpipe"
local dir = ...
local ev = rp.io.read_events("examples/shop/events.csv.gz", { user = "user_id", item = "item_id",
  time = "timestamp", event = "event", weights = { purchase = 5, addtocart = 3, view = 1 } })
local train = ev:to_matrix { aggregate = "sum" }
rp.als.train(train, { factors = 32, iterations = 10, regularization = 0.05, seed = 42 })
  :save(dir .. "/model.rpa")
train:save(dir .. "/train.rpm")
LUA
"$BIN" run --quiet "$tmp/train.lua" "$tmp" || exit 1
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] * 1e6 }'; }
for mode in off on; do
  cat >"$tmp/s.yaml" <<YAML
model: $tmp/model.rpa
seen: $tmp/train.rpm
workers: 2
log_dir: $tmp/logs-$mode
realtime: $([ $mode = on ] && echo true || echo false)
realtime_weights: purchase=5,addtocart=3,view=1
YAML
  rm -f "$tmp/port"
  "$BIN" serve "$tmp/s.yaml" port=0 port_file="$tmp/port" >"$tmp/server-$mode.log" 2>&1 &
  pid=$!
  n=0
  until [ -s "$tmp/port" ] && curl -sf "http://127.0.0.1:$(cat "$tmp/port")/readyz" >/dev/null; do
    n=$((n + 1)); [ $n -gt 600 ] && { echo "bench_realtime: server did not start"; exit 1; }; sleep 0.1
  done
  url="http://127.0.0.1:$(cat "$tmp/port")"
  : >"$tmp/post-$mode"; : >"$tmp/get-$mode"
  for u in $(seq 1 300); do
    curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' \
      -d "{\"user\":\"u$u\",\"item\":\"i$((u % 50 + 1))\",\"event\":\"view\"}" "$url/v1/events" >>"$tmp/post-$mode"
    curl -s -o /dev/null -w '%{time_total}\n' "$url/v1/recommend?user=u$u&k=10" >>"$tmp/get-$mode"
  done
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  echo "realtime $mode: POST /v1/events p50 $(med <"$tmp/post-$mode") us, GET /v1/recommend p50 $(med <"$tmp/get-$mode") us"
done
echo "load after: $(uptime | sed 's/.*load average: //')"
