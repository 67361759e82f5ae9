#!/bin/sh
# The impression and event logs survive kill -9 and SIGTERM: once the
# server reports the lines committed (recpipe_log_committed_lines_total, at
# most fsync_ms after they were acknowledged), all of them are on disk after
# kill -9; a torn last line (a write cut short) is reported by
# rp.io.read_events, never fatal, and cut off when the server opens the log
# again; SIGTERM drains and flushes everything acknowledged; a kill -9 in
# the middle of heavy logging leaves logs that still read.
. "$(dirname "$0")/lib/serve.sh"
make_model
logs=$tmp/logs
day=$(date -u +%F)
evlog=$logs/events-$day.csv
implog=$logs/impressions-$day.csv
cat >"$tmp/serve.yaml" <<YAML
model: $tmp/model.rpa
seen: $tmp/train.rpm
workers: 2
log_dir: $logs
fsync_ms: 50
cache_capacity: 0
YAML
cat >"$tmp/read.lua" <<'LUA'
-- prints: events, torn line (or nil), impressions, torn line (or nil)
local rp = require "recpipe"
local ev, r1 = rp.io.read_events(arg[1], { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", weights = { view = 1, click = 1, addtocart = 3, purchase = 5 } })
local imp, r2 = rp.io.read_events(arg[2], { user = "user_id", item = "item_id", time = "timestamp",
  value = "score", context = { "request_id", "model_version", "reason" } })
print(#ev, r1.torn_line, #imp, r2.torn_line)
LUA
readback() { "$BIN" run --quiet "$tmp/read.lua" "$evlog" "$implog" 2>"$tmp/read.err"; }
post_events() { # post_events FROM TO: events u$i, 5 per request, each acknowledged
  i=$1
  while [ $i -le $2 ]; do
    b="[{\"user\":\"u$i\",\"item\":\"i1\",\"event\":\"view\"},{\"user\":\"u$i\",\"item\":\"i2\",\"event\":\"click\"},{\"user\":\"u$i\",\"item\":\"i3\",\"event\":\"addtocart\"},{\"user\":\"u$i\",\"item\":\"i4\",\"event\":\"purchase\"},{\"user\":\"u$i\",\"item\":\"i5\",\"event\":\"view\",\"request_id\":\"r$i\"}]"
    expect 202 POST /v1/events "$b"
    i=$((i + 1))
  done
}

# ---- kill -9 after the commit window: nothing acknowledged is lost ------------------
start "$tmp/serve.yaml" || { fail "start: $(cat "$tmp/server.log")"; finish; }
post_events 1 40
for u in 1 2 3 4 5 6 7 8 9 10; do expect 200 GET "/v1/recommend?user=u$u&k=5"; done
wait_for "the logs committed" 120 committed
[ "$(metric 'recpipe_log_committed_lines_total{log="events"}')" = 200 ] ||
  fail "committed events: $(metric 'recpipe_log_committed_lines_total{log="events"}')"
stop KILL
set -- $(readback) || fail "read after kill -9: $(cat "$tmp/read.err")"
[ "$1" = 200 ] || fail "events after kill -9: $1 of 200 acknowledged"
[ "$2" = nil ] || fail "torn events line after a quiet kill -9: $2"
[ "$3" = 50 ] || fail "impressions after kill -9: $3 of 50"

# ---- a torn last line: reported by the reader, cut by the server ----------------------------
printf 'u99,i9,cli' >>"$evlog"
printf 'abc123,17000' >>"$implog"
set -- $(readback) || fail "read with torn lines: $(cat "$tmp/read.err")"
[ "$1" = 200 ] && [ "$2" = 202 ] || fail "torn events line: read $1, torn at $2 (wanted 200, line 202)"
[ "$3" = 50 ] && [ "$4" = 52 ] || fail "torn impressions line: read $3, torn at $4 (wanted 50, line 52)"
grep -q "the last line has no line end and does not parse: ignored as torn" "$tmp/read.err" ||
  fail "no torn-line warning: $(cat "$tmp/read.err")"
start "$tmp/serve.yaml" || { fail "restart: $(cat "$tmp/server.log")"; finish; }
grep -q "events-$day.csv ended in a torn line (a crash while writing): cut 10 bytes" "$tmp/server.log" ||
  fail "torn events tail not reported: $(cat "$tmp/server.log")"
grep -q "impressions-$day.csv ended in a torn line" "$tmp/server.log" || fail "torn impressions tail"
expect 200 GET /metrics
has 'recpipe_log_torn_lines_repaired_total{log="events"} 1'
has 'recpipe_log_torn_lines_repaired_total{log="impressions"} 1'

# ---- SIGTERM right after the last acknowledgement: all of it is written ---------------------
post_events 41 60
expect 200 GET "/v1/recommend?user=u11&k=5"
stop TERM
[ "$rc" = 0 ] || fail "SIGTERM exit status $rc"
set -- $(readback) || fail "read after SIGTERM: $(cat "$tmp/read.err")"
[ "$1" = 300 ] && [ "$2" = nil ] || fail "events after SIGTERM: $1 (torn $2), wanted 300"
[ "$3" = 55 ] && [ "$4" = nil ] || fail "impressions after SIGTERM: $3 (torn $4), wanted 55"
[ "$(head -1 "$evlog")" = "user_id,item_id,event,timestamp,request_id" ] || fail "events header"
[ "$(grep -c '^user_id,' "$evlog")" = 1 ] || fail "header written twice"
grep -q '^u40,i5,view,[0-9.]*,r40$' "$evlog" || fail "event line format: $(tail -1 "$evlog")"

# ---- kill -9 in the middle of heavy logging: the logs still read ------------------------------
i=1
while [ $i -le 2000 ]; do echo "/v1/recommend?user=u$i&k=20"; i=$((i + 1)); done >"$tmp/paths"
start "$tmp/serve.yaml" fsync_ms=1 || { fail "start 3"; finish; }
"$HTTPLOAD" load "$port" "$tmp/paths" 8 600 >"$tmp/load.out" 2>&1 &
lp=$!
# killed while the load goes on, once more than 1000 impressions are on disk
wait_for "1000 impressions committed under load" 300 \
  metric_ge 'recpipe_log_committed_lines_total{log="impressions"}' 1001
stop KILL
kill -TERM $lp
wait $lp
set -- $(readback) || fail "read after kill -9 under load: $(cat "$tmp/read.err")"
[ "$1" = 300 ] || fail "events after kill -9 under load: $1"
[ "${3:-0}" -gt 1000 ] || fail "impressions after kill -9 under load: $3"
# one more start cuts whatever was torn, and the next stop leaves clean logs
start "$tmp/serve.yaml" || fail "start 4"
stop TERM
set -- $(readback)
[ "$2" = nil ] && [ "$4" = nil ] || fail "torn lines after a restart: $2 $4"

# ---- rotate: none writes one file per log ----------------------------------------------------
start "$tmp/serve.yaml" "log_dir=$tmp/flat" rotate=none || fail "start rotate=none"
expect 202 POST /v1/events '{"user":"u1","item":"i1","event":"view"}'
stop TERM
[ -f "$tmp/flat/events.csv" ] && [ -f "$tmp/flat/impressions.csv" ] ||
  fail "rotate=none files: $(ls "$tmp/flat")"
finish
