#!/bin/sh
# `make install PREFIX=...` into a temporary prefix: the installed binary
# finds the package's Lua files and pipelines from any directory, and
# `make uninstall` removes them again.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
prefix=$(mktemp -d /tmp/recpipe-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
# the build under test: make test passes its variables (SAN, TSAN, MARCH)
vars=${RP_MAKEVARS:-SAN=$(case $BIN in *build-san*) echo 1 ;; *) echo 0 ;; esac)}
fail() { echo "FAIL: $*"; exit 1; }

make --no-print-directory install PREFIX="$prefix" $vars >"$prefix/make.log" 2>&1 ||
  fail "make install: $(tail -20 "$prefix/make.log")"
rp="$prefix/bin/recpipe"
[ -x "$rp" ] || fail "no $rp"
[ -f "$prefix/share/recpipe/lua/init.lua" ] || fail "no init.lua under $prefix/share/recpipe/lua"

cat >"$prefix/check.lua" <<'LUA'
local rp = require "recpipe"
local T = require "recpipe.test"
assert(rp.io and rp.sparse and rp.gen and rp.config.args, "package incomplete")
assert(rp.split.kfold and rp.hybrid.chain and rp.metrics.compare, "module extensions not loaded")
print(rp.paths.lua)
print(rp.paths.pipelines)
LUA
out=$(cd / && "$rp" run "$prefix/check.lua" 2>&1) || fail "installed binary: $out"
lua=$(echo "$out" | sed -n 1p)
pipes=$(echo "$out" | sed -n 2p)
[ -f "$lua/init.lua" ] || fail "rp.paths.lua is $lua"
case $lua in "$prefix"/*) ;; *) fail "lua files from $lua, not from the prefix" ;; esac
case $pipes in "$prefix"/*) ;; *) fail "pipelines from $pipes, not from the prefix" ;; esac

# a YAML config naming an installed pipeline runs it
if [ -f pipelines/explore.lua ]; then
  [ -f "$pipes/explore.lua" ] || fail "explore.lua not installed in $pipes"
  "$BIN" run --quiet examples/generate.lua out="$prefix/shop" users=200 items=100 events=5000 ||
    fail "generate"
  printf 'pipeline: explore\ninput: %s/shop/events.csv.gz\n' "$prefix" >"$prefix/explore.yaml"
  out=$(cd / && "$rp" run --quiet "$prefix/explore.yaml" 2>&1) || fail "installed explore: $out"
  echo "$out" | grep -q "^  events  *5,000$" || fail "installed explore printed: $out"
fi

make --no-print-directory uninstall PREFIX="$prefix" >/dev/null 2>&1 || fail "make uninstall"
[ ! -e "$rp" ] && [ ! -e "$prefix/share/recpipe" ] || fail "uninstall left files"
echo "install.sh: ok"
