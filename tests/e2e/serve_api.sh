#!/bin/sh
# recpipe serve, every endpoint and error path, through a real server
# process on an ephemeral port with curl: answers equal what the Lua API
# gives for the same model (recommend with and without seen items, fold-in,
# allow and deny lists, similar items), events, health, metrics, request
# ids, the cache, admin auth, limits, malformed HTTP.
. "$(dirname "$0")/lib/serve.sh"
make_model
cat >"$tmp/serve.yaml" <<YAML
model: $tmp/model.rpa
seen: $tmp/train.rpm
workers: 2
log_dir: $tmp/logs
max_body: 4096
max_batch: 5
YAML
start "$tmp/serve.yaml" || { fail "server did not start: $(cat "$tmp/server.log")"; finish; }

# ---- recommend: the same lists as the Lua API ------------------------------------
expect 200 GET "/v1/recommend?user=u42&k=5"
[ "$(items)" = "$(expect_of u42_5_seen)" ] || fail "u42 k=5: $(items), Lua: $(expect_of u42_5_seen)"
has '"reason":"cf"'
has '"user":"u42"'
has '"cached":false'
version=$(field model_version)
[ -n "$version" ] || fail "no model_version"
[ -n "$(field request_id)" ] || fail "no request_id"
expect 200 GET "/v1/recommend?user=u42&k=5"
has '"cached":true'
[ "$(items)" = "$(expect_of u42_5_seen)" ] || fail "cached u42: $(items)"
expect 200 GET "/v1/recommend?user=u42"
[ "$(items)" = "$(expect_of u42_10_seen)" ] || fail "u42 default k: $(items)"
expect 200 GET "/v1/recommend?user=u42&k=5&exclude_seen=false"
[ "$(items)" = "$(expect_of u42_5_all)" ] || fail "exclude_seen=false: $(items), Lua: $(expect_of u42_5_all)"
expect 200 POST /v1/recommend '{"user":"u42","k":5,"exclude_seen":false}'
[ "$(items)" = "$(expect_of u42_5_all)" ] || fail "POST exclude_seen=false: $(items)"
expect 200 POST /v1/recommend '{"history":["i1","i2"],"k":4}'
[ "$(items)" = "$(expect_of new_i1_i2_4)" ] || fail "fold-in: $(items), Lua: $(expect_of new_i1_i2_4)"
grep -q '"user"' "$tmp/body" && fail "anonymous answer names a user"
expect 200 GET "/v1/recommend?history=i1,i2&k=4"
[ "$(items)" = "$(expect_of new_i1_i2_4)" ] || fail "GET fold-in: $(items)"
expect 200 GET "/v1/recommend?history=i1&history=i2&k=4"
[ "$(items)" = "$(expect_of new_i1_i2_4)" ] || fail "GET fold-in, repeated: $(items)"
expect 200 POST /v1/recommend '{"user":"u42","items":["i1","i2","i3","i1229","nosuch"]}'
[ "$(items)" = "$(expect_of u42_allow)" ] || fail "allow list: $(items), Lua: $(expect_of u42_allow)"
expect 200 GET "/v1/recommend?user=u42&k=3&deny=i1229"
[ "$(items)" = "$(expect_of u42_deny)" ] || fail "deny list: $(items), Lua: $(expect_of u42_deny)"
expect 200 POST /v1/recommend '{"user":"u42","items":[]}'
has '"items":[]'
has '"reason":"none"'
expect 200 GET "/v1/recommend?user=nobody-knows-me"
has '"items":[]'
has '"message":"unknown user and no history"'
expect 200 POST /v1/recommend '{"user":"u42","k":2,"context":{"device":"mobile","n":3},"attributes":{"age_band":"25-34"}}'
[ "$(items)" = "$(expect_of u42_5_seen | cut -d, -f1-2)" ] || fail "context: $(items)"
expect 200 GET "/v1/recommend?user=u42&k=2" -H "X-Request-Id: my-req.42"
has '"request_id":"my-req.42"'
curl -s -D "$tmp/headers" -o /dev/null -H "X-Request-Id: bad id!" "$url/v1/recommend?user=u42"
grep -qi '^X-Request-Id: [0-9a-f]\{16\}' "$tmp/headers" || fail "a bad X-Request-Id is not replaced"
grep -qi '^Content-Type: application/json' "$tmp/headers" || fail "content type: $(cat "$tmp/headers")"

# ---- recommend: every bad request is a 4xx JSON error naming the field ------------------
bad() { # bad CODE FIELD METHOD PATH [BODY]
  want=$1 fld=$2
  shift 2
  expect "$want" "$@"
  has "\"field\":\"$fld\""
  has "\"status\":$want"
  has '"error":"'
}
bad 400 k GET "/v1/recommend?user=u42&k=0"
bad 400 k GET "/v1/recommend?user=u42&k=1001"
bad 400 k GET "/v1/recommend?user=u42&k=abc"
bad 400 k GET "/v1/recommend?user=u42&k=2.5"
bad 400 k POST /v1/recommend '{"user":"u42","k":"5"}'
bad 400 k POST /v1/recommend '{"user":"u42","k":1e9}'
bad 400 exclude_seen GET "/v1/recommend?user=u42&exclude_seen=maybe"
bad 400 frob GET "/v1/recommend?user=u42&frob=1"
has "unknown field 'frob' (known: user"
bad 400 frob POST /v1/recommend '{"user":"u42","frob":1}'
bad 400 user GET "/v1/recommend?user="
bad 400 user POST /v1/recommend '{"user":""}'
bad 400 user POST /v1/recommend '{"user":["u42"]}'
bad 400 user POST /v1/recommend '{"user":"a\u0001b"}'
bad 400 user GET "/v1/recommend?user=u42&user=u43"
bad 400 user POST /v1/recommend '{"user":"u42","user":"u43"}'
bad 400 history POST /v1/recommend '{"history":"i1"}'
bad 400 'history[1]' POST /v1/recommend '{"history":["i1",{}]}'
bad 400 values POST /v1/recommend '{"history":["i1","i2"],"values":[1]}'
bad 400 values POST /v1/recommend '{"history":["i1"],"values":["x"]}'
bad 400 deny POST /v1/recommend '{"user":"u42","deny":{"a":1}}'
bad 400 allow POST /v1/recommend '{"user":"u42","items":["i1"],"allow":["i2"]}'
bad 400 attributes POST /v1/recommend '{"attributes":["a"]}'
bad 400 context.x POST /v1/recommend '{"context":{"x":[1]}}'
long=$(head -c 300 /dev/zero | tr '\0' a)
bad 400 user GET "/v1/recommend?user=$long"
many=$(seq 1 1001 | sed 's/^/"i/; s/$/"/' | paste -sd, -)
bad 413 body POST /v1/recommend "{\"history\":[$many]}"
expect 400 POST /v1/recommend '{"user":'
has '"error":"malformed JSON body'
expect 400 POST /v1/recommend '[1,2]'
has "the body must be a JSON object"
expect 400 POST /v1/recommend ''
deep=$(head -c 3000 /dev/zero | tr '\0' '[')
expect 400 POST /v1/recommend "$deep"
bad 404 path GET /v2/recommend
bad 404 path GET /
bad 405 method DELETE /v1/recommend
bad 405 method GET /v1/events
curl -s -D "$tmp/headers" -o /dev/null -X PUT "$url/v1/events"
grep -qi '^Allow: POST' "$tmp/headers" || fail "405 without Allow: $(cat "$tmp/headers")"

# ---- similar -----------------------------------------------------------------------------
expect 200 GET "/v1/similar?item=i1229&k=3"
[ "$(items)" = "$(expect_of sim_i1229_3)" ] || fail "similar: $(items), Lua: $(expect_of sim_i1229_3)"
has '"item":"i1229"'
has "\"model_version\":\"$version\""
bad 400 item GET "/v1/similar?k=3"
bad 404 item GET "/v1/similar?item=nosuch"
bad 400 user GET "/v1/similar?item=i1&user=u1"
bad 400 k GET "/v1/similar?item=i1&k=-1"

# ---- events --------------------------------------------------------------------------------
expect 202 POST /v1/events '{"request_id":"r1","user":"u42","item":"i1229","event":"click"}'
has '"accepted":1'
expect 202 POST /v1/events '[{"user":"u1","item":"i1","event":"view","time":1700000000},{"user":"u,2","item":"i\"2","event":"purchase"}]'
has '"accepted":2'
expect 202 POST /v1/events '{"events":[{"user":"u3","item":"i3","event":"addtocart"}]}'
bad 400 event POST /v1/events '{"user":"u1","item":"i1","event":"clik"}'
has "unknown event type 'clik' (known: view, click, addtocart, purchase)"
bad 400 'events[1].event' POST /v1/events '[{"user":"u1","item":"i1","event":"view"},{"user":"u1","item":"i1","event":7}]'
bad 400 user POST /v1/events '{"item":"i1","event":"view"}'
bad 400 item POST /v1/events '{"user":"u1","event":"view"}'
bad 400 time POST /v1/events '{"user":"u1","item":"i1","event":"view","time":"now"}'
bad 400 extra POST /v1/events '{"user":"u1","item":"i1","event":"view","extra":1}'
bad 400 events POST /v1/events '{"events":[]}'
bad 400 events POST /v1/events '{"events":{}}'
bad 400 'events[0]' POST /v1/events '[1]'
bad 413 events POST /v1/events '[{"user":"u","item":"i","event":"view"},{"user":"u","item":"i","event":"view"},{"user":"u","item":"i","event":"view"},{"user":"u","item":"i","event":"view"},{"user":"u","item":"i","event":"view"},{"user":"u","item":"i","event":"view"}]'
expect 400 POST /v1/events 'user=u1'
has "malformed JSON body"
big=$(head -c 5000 /dev/zero | tr '\0' ' ')
bad 413 body POST /v1/events "{$big}"
# a body past max_body sent without Content-Length (chunked) is refused too
printf '{%5000s}' ' ' >"$tmp/big.json"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big.json" "$url/v1/events")
[ "$code" = 413 ] || fail "chunked big body: $code"

# ---- feedback drops the user's cached answers ------------------------------------------------
expect 200 GET "/v1/recommend?user=u7&k=3"
expect 200 GET "/v1/recommend?user=u7&k=3"
has '"cached":true'
expect 202 POST /v1/events '{"user":"u7","item":"i1","event":"click"}'
expect 200 GET "/v1/recommend?user=u7&k=3"
has '"cached":false'

# ---- health, readiness, metrics --------------------------------------------------------
expect 200 GET /healthz
has '"status":"ok"'
expect 200 GET /readyz
expect 200 GET /metrics
for m in 'recpipe_requests_total{endpoint="recommend",code="200"}' \
  'recpipe_requests_total{endpoint="recommend",code="400"}' \
  'recpipe_request_duration_seconds_bucket{endpoint="recommend",le="+Inf"}' \
  'recpipe_request_duration_seconds_sum{endpoint="recommend"}' \
  'recpipe_cache_hits_total' 'recpipe_cache_misses_total' 'recpipe_cache_evictions_total' \
  "recpipe_model_info{version=\"$version\"} 1" 'recpipe_model_loaded_timestamp_seconds' \
  'recpipe_answers_total{reason="cf"}' 'recpipe_answers_total{reason="none"}' \
  'recpipe_feedback_events_total{event="click"} 2' 'recpipe_feedback_events_total{event="purchase"} 1' \
  'recpipe_log_lines_total{log="events"}' 'process_resident_memory_bytes' \
  '# TYPE recpipe_request_duration_seconds histogram' '# TYPE recpipe_requests_total counter'; do
  has "$m"
done
hits=$(sed -n 's/^recpipe_cache_hits_total //p' "$tmp/body")
[ "${hits:-0}" -ge 2 ] || fail "cache hits: $hits"
curl -s -D "$tmp/headers" -o /dev/null "$url/metrics"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$tmp/headers" || fail "metrics content type"

# ---- admin: loopback without a token; a reload never serves the old model's cache ----------
expect 200 GET "/v1/recommend?user=u42&k=5"
expect 200 GET "/v1/recommend?user=u42&k=5"
has '"cached":true'
expect 200 POST /v1/admin/reload ''
has '"reloaded":true'
expect 200 GET "/v1/recommend?user=u42&k=5"
has '"cached":false'
[ "$(items)" = "$(expect_of u42_5_seen)" ] || fail "after a reload: $(items)"
bad 405 method GET /v1/admin/reload
bad 404 path GET /dashboard
has "no registry configured (setting 'registry')"

# ---- malformed HTTP, answered by libmicrohttpd, the server stays up ------------------------
raw() { printf "$1" | "$HTTPLOAD" raw "$port"; }
case $(raw 'GARBAGE\r\n\r\n') in "HTTP/1.1 400"* | closed) ;; *) fail "garbage request line: $(raw 'GARBAGE\r\n\r\n')" ;; esac
case $(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n') in
"HTTP/1.1 400"* | closed) ;; *) fail "bad header line accepted" ;; esac
hdr=$(head -c 40000 /dev/zero | tr '\0' a)
case $(raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $hdr\r\n\r\n") in
# (the server may close before the client has sent it all: a reset is a refusal too)
"HTTP/1.1 431"* | "HTTP/1.1 413"* | "HTTP/1.1 400"* | closed) ;; *) fail "40 KB header accepted" ;; esac
case $(raw 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n') in
"HTTP/1.1 413"* | "HTTP/1.1 400"*) ;; *) fail "huge Content-Length" ;; esac
case $(raw 'GET /healthz HTTP/9.9\r\n\r\n') in "HTTP/1.1 505"* | "HTTP/1.1 400"* | closed) ;; *) fail "HTTP/9.9" ;; esac
expect 200 GET /healthz

# ---- SIGTERM: exit 0; the logs read back with rp.io.read_events -------------------------------
stop TERM
[ "$rc" = 0 ] || fail "SIGTERM exit status $rc"
cat >"$tmp/read.lua" <<'LUA'
local rp = require "recpipe"
local dir = ...
local imp, ir = rp.io.read_events(dir .. "/logs/impressions-" .. os.date("!%Y-%m-%d") .. ".csv",
  { user = "user_id", item = "item_id", time = "timestamp", context = { "request_id", "model_version", "reason" } })
local ev, er = rp.io.read_events(dir .. "/logs/events-" .. os.date("!%Y-%m-%d") .. ".csv",
  { user = "user_id", item = "item_id", time = "timestamp", event = "event",
    weights = { view = 1, click = 1, addtocart = 3, purchase = 5 }, context = { "request_id" } })
print(#imp, #ev, ir.torn_line, er.torn_line)
local st = ev:stats()
print(st.event_types.click, st.event_types.purchase, ev:row(1).request_id, ev:row(3).user, ev:row(3).item)
LUA
"$BIN" run --quiet "$tmp/read.lua" "$tmp" >"$tmp/read.out" 2>&1 || fail "reading the logs: $(cat "$tmp/read.out")"
# impressions: one line per item of every non-empty answer (count them from the log's own text)
nimp=$(($(wc -l <"$tmp/logs/impressions-$(date -u +%F).csv") - 1))
set -- $(head -1 "$tmp/read.out")
[ "$1" = "$nimp" ] || fail "impressions read $1, file has $nimp lines"
[ "$nimp" -gt 30 ] || fail "too few impressions: $nimp"
[ "$2" = 5 ] || fail "events read back: $2, wanted 5"
[ "$3" = nil ] && [ "$4" = nil ] || fail "torn lines after a clean stop: $3 $4"
sed -n 2p "$tmp/read.out" | grep -qx '2	1	r1	u,2	i"2' || fail "events: $(sed -n 2p "$tmp/read.out")"
grep -q "serve: stopped" "$tmp/server.log" || fail "no stop message"

# ---- admin with a token, and on a non-loopback address -------------------------------------
start "$tmp/serve.yaml" admin_token=s3cret || fail "restart failed"
bad 401 Authorization POST /v1/admin/reload ''
expect 401 POST /v1/admin/reload '' -H "Authorization: Bearer wrong"
expect 200 POST /v1/admin/reload '' -H "Authorization: Bearer s3cret"
expect 401 GET /dashboard
expect 404 GET /dashboard -H "Authorization: Bearer s3cret"
stop
start "$tmp/serve.yaml" host=0.0.0.0 || fail "start on 0.0.0.0 failed"
expect 403 POST /v1/admin/reload ''
has "non-loopback address"
expect 403 GET /dashboard
expect 200 GET "/v1/recommend?user=u42&k=1"
stop
RECPIPE_ADMIN_TOKEN=envtok start "$tmp/serve.yaml" host=0.0.0.0 || fail "start with env token"
expect 401 POST /v1/admin/reload ''
expect 200 POST /v1/admin/reload '' -H "Authorization: Bearer envtok"
finish
