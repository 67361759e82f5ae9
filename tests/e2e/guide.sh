#!/bin/sh
# The README's guide stays true: the walk-through script in the README is
# examples/first_pipeline.lua verbatim, it runs, and what it prints agrees
# with the example log filtered and k-cored independently (awk); the sample
# output of `make demo` and the rp.gen example's numbers are what the
# programs print.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-guide.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { [ "$2" = "$3" ] || fail "$1: the script printed '$2', the log says '$3'"; }

script=examples/first_pipeline.lua
# the first ```lua block after the walk-through's heading
awk '/^### A pipeline script, step by step/ { on = 1 } on && /^```lua$/ { inb = 1; next }
     inb && /^```$/ { exit } inb { print }' README.md >"$tmp/readme.lua"
cmp -s "$tmp/readme.lua" $script || fail "README's walk-through differs from $script:
$(diff "$tmp/readme.lua" $script | head -10)"

[ -f examples/shop/events.csv.gz ] || "$BIN" run examples/generate.lua || exit 1
"$BIN" run --quiet $script >"$tmp/out" 2>"$tmp/err" || { fail "$script: $(cat "$tmp/err")"; exit 1; }

# the same filters by hand: not u1..u3, from 2024-02-01 (1706745600), mobile or desktop
zcat examples/shop/events.csv.gz | tail -n +2 |
  awk -F, '$1 != "u1" && $1 != "u2" && $1 != "u3" && $4 >= 1706745600 &&
           ($5 == "mobile" || $5 == "desktop")' >"$tmp/kept.csv"
n=$(wc -l <"$tmp/kept.csv")
nu=$(cut -d, -f1 "$tmp/kept.csv" | sort -u | wc -l)
ni=$(cut -d, -f2 "$tmp/kept.csv" | sort -u | wc -l)
check "kept" "$(sed -n 's/^kept \([0-9]*\) events from \([-0-9]*\), \([0-9]*\) users, \([0-9]*\) items$/\1 \2 \3 \4/p' "$tmp/out")" \
  "$n 2024-02-01 $nu $ni"

awk -F, '{ s[$1 " " $2] = 1 } END { for (k in s) print k, 1 }' "$tmp/kept.csv" >"$tmp/pairs"
set -- $(awk -v MU=3 -v MI=5 -f tests/e2e/kcore.awk "$tmp/pairs")
check "matrix before k-core" "$(sed -n 2p "$tmp/out")" \
  "recpipe.Matrix(5000 x 2000, $3 non-zeros)"
check "k-core" "$(sed -n 3p "$tmp/out")" \
  "k-core removed $4 users, $5 items, $6 interactions in $7 round(s)"
check "matrix after k-core" "$(sed -n 4p "$tmp/out")" \
  "recpipe.Matrix(5000 x 2000, ${10} non-zeros)"

# the README's sample output of `make demo` is what explore prints
"$BIN" run pipelines/explore.lua examples/shop/events.csv.gz >"$tmp/explore.out" 2>&1 ||
  fail "explore: $(cat "$tmp/explore.out")"
awk '/^which prints what is in the log/ { on = 1 } on && /^```$/ { if (inb) exit; inb = 1; next }
     inb && $0 != "  ..." { print }' README.md >"$tmp/sample"
[ "$(wc -l <"$tmp/sample")" -gt 10 ] || fail "README sample output not found"
while IFS= read -r line; do
  grep -qxF -- "$line" "$tmp/explore.out" || fail "README sample line not printed by explore: '$line'"
done <"$tmp/sample"

# the rp.gen example's numbers
want=$(sed -n 's/^print(r.events, r.users, r.items, r.pairs) *-- //p' README.md)
got=$(cd "$tmp" && mkdir shop && "$BIN" run - <<'LUA'
local rp = require "recpipe"
local r = rp.gen.events { path = "shop/events.csv.gz", users = 5000, items = 2000,
  events = 300000, seed = 42 }
print(r.events, r.users, r.items, r.pairs)
LUA
)
check "rp.gen example in the README" "$(echo "$got" | tr '\t' ' ')" "$want"

if [ $fails -ne 0 ]; then
  echo "guide.sh: $fails failures"
  exit 1
fi
echo "guide.sh: ok"
