# Shared by tests/e2e/serve_*.sh (sourced, not run): a scratch directory, a
# small ALS model of the example shop, a real `recpipe serve` process on an
# ephemeral port, and curl helpers.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
BUILD=${BUILD:-build}
HTTPLOAD=$(pwd)/$BUILD/tools/httpload
[ -x "$HTTPLOAD" ] || HTTPLOAD=$(pwd)/build/tools/httpload
tmp=$(mktemp -d /tmp/recpipe-serve.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v curl >/dev/null || { echo "FAIL: curl is missing (make deps installs it)"; exit 1; }
[ -f examples/shop/events.csv.gz ] || { echo "FAIL: examples/shop missing (make examples)"; exit 1; }

# model: a small ALS model of the shop, its train matrix, and the answers
# the Lua API gives for a few requests (the reference the server must match)
make_model() {
  cat >"$tmp/train.lua" <<'LUA'
local rp = require "recpipe"
local dir = ...
local ev = rp.io.read_events("examples/shop/events.csv.gz", {
  user = "user_id", item = "item_id", time = "timestamp", event = "event",
  weights = { purchase = 5, addtocart = 3, view = 1 } })
local train = ev:to_matrix { aggregate = "sum" }
local als = rp.als.train(train, { factors = 16, iterations = 3, seed = 7 })
als:save(dir .. "/model.rpa")
train:save(dir .. "/train.rpm")
local f = assert(io.open(dir .. "/expect.txt", "w"))
local function put(name, items) f:write(name, " ", table.concat(items, ","), "\n") end
put("u42_5_seen", (als:recommend("u42", { k = 5, exclude = train })))
put("u42_5_all", (als:recommend("u42", { k = 5 })))
put("u42_10_seen", (als:recommend("u42", { k = 10, exclude = train })))
put("new_i1_i2_4", (als:recommend_new({ "i1", "i2" }, { k = 4 })))
put("sim_i1229_3", (als:similar_items("i1229", { k = 3, include_self = false })))
put("u42_allow", (als:recommend("u42", { k = 10, exclude = train,
  items = { "i1", "i2", "i3", "i1229" } })))
put("u42_deny", (als:recommend("u42", { k = 3, exclude = train, deny = { "i1229" } })))
f:close()
LUA
  "$BIN" run --quiet "$tmp/train.lua" "$tmp" || { echo "FAIL: training the test model"; exit 1; }
}
expect_of() { sed -n "s/^$1 //p" "$tmp/expect.txt"; }

# wait_for WHAT SECONDS CMD...: runs CMD every 50 ms until it succeeds; after
# SECONDS (a deadline for a loaded machine, not a timing assumption) the
# test fails saying WHAT did not happen.  Returns CMD's last status.
wait_for() {
  what=$1 secs=$2
  shift 2
  end=$(($(date +%s) + secs))
  until "$@"; do
    if [ "$(date +%s)" -ge "$end" ]; then
      fail "$what: not within $secs s"
      return 1
    fi
    sleep 0.05
  done
}
# start ARGS...: recpipe serve ARGS port=0 port_file=... (log to $tmp/server.log);
# waits until the port file appears and GET /readyz answers 200 (or the
# process dies: returns 1)
ready() {
  kill -0 "$pid" 2>/dev/null || return 0 # dead: stop waiting (start checks)
  [ -s "$tmp/port" ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$tmp/port")/readyz")" = 200 ]
}
start() {
  rm -f "$tmp/port"
  "$BIN" serve "$@" port=0 port_file="$tmp/port" >>"$tmp/server.log" 2>&1 &
  pid=$!
  wait_for "the server's /readyz" 300 ready || return 1
  kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
  port=$(cat "$tmp/port")
  url="http://127.0.0.1:$port"
}
# metric SERIES: the value of one series of /metrics ('name{labels}' as
# printed), empty when absent
metric() {
  curl -s "$url/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2; exit }'
}
# metric_ge SERIES N: the series is at least N
metric_ge() {
  v=$(metric "$1")
  [ -n "$v" ] && [ "$v" -ge "$2" ]
}
# committed: every line appended to both logs is on disk (written and
# fdatasync'ed, as the server reports it)
committed() {
  m=$(curl -s "$url/metrics")
  for l in impressions events; do
    a=$(echo "$m" | awk -v k="recpipe_log_lines_total{log=\"$l\"}" 'index($0, k " ") == 1 { print $2 }')
    c=$(echo "$m" | awk -v k="recpipe_log_committed_lines_total{log=\"$l\"}" 'index($0, k " ") == 1 { print $2 }')
    [ -n "$a" ] && [ "$a" = "$c" ] || return 1
  done
}
# stop [SIGNAL]: stops the server, waits, leaves its exit status in $rc
stop() {
  [ -n "$pid" ] || { rc=none; return; }
  kill -"${1:-TERM}" "$pid"
  wait "$pid"
  rc=$?
  pid=
}
# req METHOD PATH [BODY] [CURL ARGS...]: status to $code, body to $tmp/body
req() {
  m=$1 p=$2
  shift 2
  : >"$tmp/body"
  if [ "$m" = POST ]; then
    b=$1
    shift
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST --data-binary "$b" "$@" "$url$p")
  else
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$url$p")
  fi
}
# expect CODE METHOD PATH [BODY]: req, then the status must be CODE
expect() {
  want=$1
  shift
  req "$@"
  [ "$code" = "$want" ] || fail "$1 $2 ${3:-}: status $code, wanted $want: $(head -c 300 "$tmp/body")"
}
has() { grep -qF -- "$1" "$tmp/body" || fail "body lacks '$1': $(head -c 400 "$tmp/body")"; }
# items: the "items" array of the body as a comma-separated list
items() { sed -n 's/.*"items":\[\([^]]*\)\].*/\1/p' "$tmp/body" | tr -d '"'; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/body"; }
# fails_with TEXT SCRIPT [ARGS...]: recpipe serve SCRIPT port=0 log_dir=''
# ARGS exits 1 saying TEXT
fails_with() {
  text=$1 script=$2
  shift 2
  "$BIN" serve "$script" port=0 "log_dir=''" "$@" >"$tmp/out" 2>&1 && fail "serve $script $* started"
  grep -qF -- "$text" "$tmp/out" || fail "serve $*: wanted '$text', got: $(head -c 400 "$tmp/out")"
}
finish() {
  [ -n "$pid" ] && stop
  [ $fails -eq 0 ] || { echo "server log:"; tail -30 "$tmp/server.log"; exit 1; }
  exit 0
}
