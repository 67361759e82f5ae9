#!/bin/sh
# The recpipe command line: exit codes, messages, arg/..., YAML runs with
# typed overrides, logging levels, progress bars only on a terminal, and
# `require "recpipe"` from another directory.
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect CODE CMD... : runs CMD, stdout to $tmp/out, stderr to $tmp/err
expect() {
  want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, wanted $want; stderr: $(head -c 400 "$tmp/err")"
}
has() { # has FILE TEXT : FILE (out or err) contains TEXT literally
  grep -qF -- "$2" "$tmp/$1" || fail "$1 lacks '$2'; it was: $(head -c 400 "$tmp/$1")"
}
hasnt() { ! grep -qF -- "$2" "$tmp/$1" || fail "$1 has '$2'"; }
empty() { [ ! -s "$tmp/$1" ] || fail "$1 not empty: $(head -c 400 "$tmp/$1")"; }

# ---- commands -----------------------------------------------------------------
expect 0 "$BIN" version
grep -qE '^recpipe [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4' "$tmp/out" || fail "version: $(cat "$tmp/out")"
expect 0 "$BIN" --version
has out "recpipe "
expect 0 "$BIN" help
has out "usage: recpipe <command>"
empty err
expect 0 "$BIN" --help
has out "usage: recpipe <command>"
expect 0 "$BIN" run --help
has out "usage: recpipe run"
expect 0 "$BIN" help run
has out "usage: recpipe run"
expect 1 "$BIN"
has err "usage: recpipe <command>"
expect 1 "$BIN" frobnicate
has err "recpipe: unknown command 'frobnicate'"
expect 1 "$BIN" --frob run x.lua
has err "recpipe: unknown option '--frob'"
expect 1 "$BIN" run
has err "recpipe: run needs a script or a YAML config"
expect 1 "$BIN" run "$tmp/missing.lua"
has err "recpipe: cannot open '$tmp/missing.lua': No such file or directory"
expect 1 "$BIN" --log-level loud run x.lua
has err "bad --log-level 'loud' (error, warn, info or debug)"

# ---- scripts: arg, ..., exit status, errors ---------------------------------------
cat >"$tmp/args.lua" <<'EOF'
local a, b = ...
print(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2], a, b, select("#", ...))
EOF
expect 0 "$BIN" run "$tmp/args.lua" one "two words"
has out "2	$tmp/args.lua	one	two words	run	$BIN	one	two words	2"
expect 0 "$BIN" run --quiet "$tmp/args.lua" --not-an-option
has out "1	$tmp/args.lua	--not-an-option	nil	--quiet	run	--not-an-option	nil	1"
echo 'print("stdin", arg[0], ...)' | "$BIN" run - x >"$tmp/out" 2>"$tmp/err" || fail "run - failed"
has out "stdin	-	x"

cat >"$tmp/err.lua" <<'EOF'
local function inner() error("boom: bad value 42") end
local function outer() inner() end
outer()
EOF
expect 1 "$BIN" run "$tmp/err.lua"
has err "recpipe: $tmp/err.lua:1: boom: bad value 42"
has err "stack traceback:"
has err "err.lua:1: in upvalue 'inner'"
has err "err.lua:2: in local 'outer'"
empty out
printf 'local x = = 1\n' >"$tmp/syntax.lua"
expect 1 "$BIN" run "$tmp/syntax.lua"
has err "recpipe: $tmp/syntax.lua:1: unexpected symbol near '='"
printf 'error({code = 1})\n' >"$tmp/tbl.lua"
expect 1 "$BIN" run "$tmp/tbl.lua"
has err "(error object is a table value)"
printf 'os.exit(3)\n' >"$tmp/exit3.lua"
expect 3 "$BIN" run "$tmp/exit3.lua"
printf 'local rp = require "recpipe"\nrp.io.read_events("%s/none.csv")\n' "$tmp" >"$tmp/ioerr.lua"
expect 1 "$BIN" run "$tmp/ioerr.lua"
has err "none.csv"
has err "stack traceback:"

# Ctrl-C: the script stops with "interrupted!" and a traceback, status 1
# The script says when it spins (a file), so the signal never arrives during
# start-up, whatever the machine's load (a fixed delay made this flaky).
cat >"$tmp/spin.lua" <<'LUA'
local function spin()
  local f = assert(io.open(arg[1], "w"))
  f:write("spinning")
  f:close()
  while true do end
end
spin()
LUA
"$BIN" run "$tmp/spin.lua" "$tmp/ready" >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while [ ! -s "$tmp/ready" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
got=$?
[ "$got" = 1 ] || fail "Ctrl-C: exited $got, wanted 1; stderr: $(head -c 400 "$tmp/err")"
has err ": interrupted!"
has err "in local 'spin'"

# ---- require "recpipe" from another directory ---------------------------------------
cat >"$tmp/pkg.lua" <<'EOF'
local rp = require "recpipe"
assert(rp.io and rp.sparse and rp.gen and rp.config and rp.log, "package incomplete")
print("ok", rp.version)
EOF
(cd / && "$BIN" run "$tmp/pkg.lua") >"$tmp/out" 2>"$tmp/err" || fail "require from / failed: $(cat "$tmp/err")"
has out "ok	"

# ---- YAML configs ---------------------------------------------------------------------
cat >"$tmp/show.lua" <<'EOF'
local cfg = ...
local keys = {}
for k in pairs(cfg) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do
  local v = cfg[k]
  if type(v) == "table" then
    local parts = {}
    for kk, vv in pairs(v) do parts[#parts + 1] = tostring(kk) .. "=" .. tostring(vv) .. ":" .. (math.type(vv) or type(vv)) end
    table.sort(parts)
    v = "{" .. table.concat(parts, " ") .. "}"
  else
    v = tostring(v) .. ":" .. (math.type(v) or type(v))
  end
  print(k, v)
end
print("arg0", arg[0])
EOF
cat >"$tmp/run.yaml" <<'EOF'
pipeline: ./show.lua
k: 10
als: {factors: 32}
drop: me
EOF
expect 0 "$BIN" run "$tmp/run.yaml" k=20 name="'10'" als.solver=cg als.factors=64 x.y=1.5 drop= flag=true
has out "k	20:integer"
has out "name	10:string"
has out "als	{factors=64:integer solver=cg:string}"
has out "x	{y=1.5:float}"
has out "flag	true:boolean"
has out "_config_file	$tmp/run.yaml:string"
has out "arg0	$tmp/./show.lua"
hasnt out "drop"
expect 1 "$BIN" run "$tmp/run.yaml" =3
has err "bad override '=3'"
expect 1 "$BIN" run "$tmp/run.yaml" k.z=1
has err "bad override 'k.z=1': 'k' is not a table"
printf 'pipeline: explore\nkcore: [1, 2\n' >"$tmp/bad.yaml"
expect 1 "$BIN" run "$tmp/bad.yaml"
grep -qE "^recpipe: $tmp/bad.yaml:[0-9]+:[0-9]+: " "$tmp/err" || fail "bad YAML: $(cat "$tmp/err")"
printf 'k: 1\n' >"$tmp/nopipe.yaml"
expect 1 "$BIN" run "$tmp/nopipe.yaml"
has err "$tmp/nopipe.yaml: missing 'pipeline: NAME'"
printf 'pipeline: no_such_pipeline\n' >"$tmp/unknown.yaml"
expect 1 "$BIN" run "$tmp/unknown.yaml"
has err "pipeline 'no_such_pipeline' not found (looked for "
has err "pipelines/no_such_pipeline.lua)"
printf 'pipeline: ./err.lua\n' >"$tmp/fails.yaml"
expect 1 "$BIN" run "$tmp/fails.yaml"
has err "err.lua:1: boom: bad value 42"
has err "stack traceback:"
# a mistake in a config: the config file and the message, no traceback;
# an error in the user's own code keeps its traceback (fails.yaml above)
printf 'user,item,time\nu1,i1,1\nu2,i1,2\nu1,i2,3\n' >"$tmp/tiny.csv"
printf 'pipeline: evaluate\ndata: {path: %s/tiny.csv, read: {time: time}}\nsplit: {method: bogus}\n' \
  "$tmp" >"$tmp/cfgerr.yaml"
expect 1 "$BIN" run "$tmp/cfgerr.yaml"
has err "recpipe: $tmp/cfgerr.yaml: split.method must be one of by_time, random, leave_last, per_user_time, got 'bogus'"
hasnt err "stack traceback"
hasnt err "tune.lua"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "config error: more than one line: $(cat "$tmp/err")"
printf 'pipeline: drift\nwindow_dayz: 3\n' >"$tmp/cfgerr2.yaml"
expect 1 "$BIN" run "$tmp/cfgerr2.yaml"
has err "recpipe: $tmp/cfgerr2.yaml: unknown key 'window_dayz' (known: compare, data,"
hasnt err "stack traceback"
# key=value arguments to a script that loads a config name the file too
expect 1 "$BIN" run pipelines/evaluate.lua "$tmp/cfgerr.yaml"
has err "recpipe: $tmp/cfgerr.yaml: split.method must be one of"
hasnt err "stack traceback"
printf -- '- 1\n' >"$tmp/list.yaml"
expect 1 "$BIN" run "$tmp/list.yaml"
has err "a config must be a YAML mapping"

# ---- logging ----------------------------------------------------------------------------
cat >"$tmp/log.lua" <<'EOF'
local rp = require "recpipe"
rp.log.debug("dbg %d", 1)
rp.log.info("hello %s %d", "world", 5)
rp.log.warn("careful")
rp.log.error("bad")
EOF
expect 0 "$BIN" run "$tmp/log.lua"
grep -qE '^\[ *[0-9]+\.[0-9]{2}s\] info: hello world 5$' "$tmp/err" || fail "info line: $(cat "$tmp/err")"
has err "] warn: careful"
has err "] error: bad"
hasnt err "dbg"
empty out
expect 0 "$BIN" run --quiet "$tmp/log.lua"
hasnt err "hello"
has err "warn: careful"
expect 0 "$BIN" run --log-level debug "$tmp/log.lua"
has err "] debug: dbg 1"
expect 0 "$BIN" run --log-level=error "$tmp/log.lua"
hasnt err "careful"
has err "error: bad"

# ---- progress bars: on a terminal only, never with --quiet or in CI -------------------------
cat >"$tmp/progress.lua" <<'EOF'
local rp = require "recpipe"
for i = 1, 3 do rp.log.progress("working", i, 3); local t = rp.clock(); while rp.clock() - t < 0.12 do end end
rp.log.progress("working", 3, 3, true)
print("done")
EOF
expect 0 "$BIN" run "$tmp/progress.lua"
hasnt err "working"
if command -v script >/dev/null 2>&1; then
  # script(1) gives the command a pseudo-terminal and records what it drew
  env -u CI TERM=xterm script -qec "'$BIN' run '$tmp/progress.lua'" "$tmp/tty.log" >/dev/null 2>&1 </dev/null
  grep -qF "working [" "$tmp/tty.log" || fail "no progress bar on a terminal: $(cat -v "$tmp/tty.log")"
  # done/total, rate, elapsed, ETA while running; the summary line stays
  grep -qE "working \[#+\.*\] +[0-9.]+%  [12]/3  [0-9.]+/s  [0-9.]+s  ETA [0-9.]+s" "$tmp/tty.log" ||
    fail "progress line without done/total, rate, elapsed, ETA: $(cat -v "$tmp/tty.log")"
  grep -qE "working: 3/3 in [0-9.]+s \([0-9.]+/s\)" "$tmp/tty.log" ||
    fail "no summary line: $(cat -v "$tmp/tty.log")"
  CI=true TERM=xterm script -qec "'$BIN' run '$tmp/progress.lua'" "$tmp/tty.log" >/dev/null 2>&1 </dev/null
  ! grep -qF "working" "$tmp/tty.log" || fail "progress bar drawn with CI=true"
  env -u CI TERM=xterm script -qec "'$BIN' run --quiet '$tmp/progress.lua'" "$tmp/tty.log" >/dev/null 2>&1 </dev/null
  ! grep -qF "working" "$tmp/tty.log" || fail "progress bar drawn with --quiet"
  grep -qF "done" "$tmp/tty.log" || fail "script under a terminal did not run: $(cat -v "$tmp/tty.log")"
fi

if [ $fails -ne 0 ]; then
  echo "cli.sh: $fails failures"
  exit 1
fi
echo "cli.sh: ok"
