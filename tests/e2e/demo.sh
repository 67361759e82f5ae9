#!/bin/sh
# `make demo` end to end: runs exactly what it runs (the explore pipeline on
# the generated example log) and checks every number it prints against the
# log itself, computed here independently with awk: events, users, items,
# event types, time range, events per user and item, the weighted matrix,
# and the k-core filter (a plain iterative reference).  Then the YAML run of
# the same pipeline must print the same, and overrides must take effect.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
# the build under test: make test passes its variables (SAN, TSAN, MARCH)
vars=${RP_MAKEVARS:-SAN=$(case $BIN in *build-san*) echo 1 ;; *) echo 0 ;; esac)}
tmp=$(mktemp -d /tmp/recpipe-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# value LABEL: the text after the label on the line "  LABEL   text", commas removed
value() { sed -n "s/^  $1  *//p" "$tmp/out" | head -1 | tr -d ,; }
check() { [ "$2" = "$3" ] || fail "$1: explore printed '$2', the log says '$3'"; }

make -s --no-print-directory demo $vars >"$tmp/make.out" 2>"$tmp/make.err" ||
  { fail "make demo: $(tail -20 "$tmp/make.err")"; exit 1; }
# explore's part: after the build's and deps' lines, before second_pipeline's
sed -n '/^Log /,$p' "$tmp/make.out" | sed '/^train [0-9]* events/,$d' >"$tmp/out"
log=examples/shop/events.csv.gz
[ -f $log ] || { fail "make demo did not generate $log"; exit 1; }
zcat $log >"$tmp/log.csv"

# ---- the log -------------------------------------------------------------------
[ "$(head -1 "$tmp/log.csv")" = "user_id,item_id,event,timestamp,device,country" ] ||
  fail "header: $(head -1 "$tmp/log.csv")"
events=$(($(wc -l <"$tmp/log.csv") - 1))
check "events (generator: 300000)" "$events" 300000
check events "$(value events)" "$events"
check users "$(value users)" "$(tail -n +2 "$tmp/log.csv" | cut -d, -f1 | sort -u | wc -l)"
check items "$(value items)" "$(tail -n +2 "$tmp/log.csv" | cut -d, -f2 | sort -u | wc -l)"
for t in view addtocart purchase; do
  n=$(tail -n +2 "$tmp/log.csv" | cut -d, -f3 | grep -cx $t)
  value "event types" | grep -q "$t $n (" || fail "event type $t: $(value 'event types') (log: $n)"
done
range=$(tail -n +2 "$tmp/log.csv" | awk -F, 'NR == 1 || $4 < lo { lo = $4 } $4 > hi { hi = $4 }
  END { print lo, hi }')
lo=$(date -u -d "@${range% *}" '+%Y-%m-%d %H:%M')
hi=$(date -u -d "@${range#* }" '+%Y-%m-%d %H:%M')
value "time range" | grep -qF "$lo .. $hi UTC" || fail "time range: $(value 'time range') (log: $lo .. $hi)"

# events per user / item: min, max, mean (quantiles in between depend on interpolation)
for side in user item; do
  col=1
  [ $side = item ] && col=2
  want=$(tail -n +2 "$tmp/log.csv" | cut -d, -f$col | sort | uniq -c |
    awk '{ n++; s += $1; if (n == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
         END { m = s / n; printf "%d %d %s", lo, hi, (m == int(m) || m >= 100) ? sprintf("%d", m + 0.5) : sprintf("%.1f", m) }')
  got=$(value "per $side" | awk '{ print $1, $7, $8 }')
  check "events per $side (min max mean)" "$got" "$want"
done

# ---- the matrix and the k-core, by a plain reference -------------------------------
pairs() { # weights purchase=5 addtocart=3 view=1, summed per (user, item)
  tail -n +2 "$tmp/log.csv" | awk -F, '{ w = $3 == "purchase" ? 5 : $3 == "addtocart" ? 3 : 1; s[$1 " " $2] += w }
    END { for (k in s) print k, s[k] }'
}
pairs >"$tmp/pairs"
ref() { awk -v MU="$1" -v MI="$2" -f tests/e2e/kcore.awk "$tmp/pairs"; }
# explore's matrix lines -> the same 11 numbers
got() {
  # (value has removed the thousands separators and the commas between phrases)
  b=$(value "before k-core" | sed 's/ users x / /; s/ items / /; s/ non-zeros.*//')
  k=$(value "k-core" | sed 's/.*removed //; s/ users\{0,1\} / /; s/ items\{0,1\} / /;
    s/ interactions\{0,1\} ([^)]*) in / /; s/ rounds\{0,1\}$//')
  a=$(value "after k-core" | sed 's/ users x / /; s/ items / /; s/ non-zeros.*//')
  s=$(value "values" | sed 's/.*sum //')
  echo "$b $k $a $s"
}
check "matrix and k-core (3, 5)" "$(got)" "$(ref 3 5)"

# ---- the same pipeline from YAML, and overrides -------------------------------------
"$BIN" run examples/explore.yaml >"$tmp/yaml.out" 2>"$tmp/yaml.err" || fail "yaml run: $(cat "$tmp/yaml.err")"
grep -v '^  read ' "$tmp/out" >"$tmp/a"
grep -v '^  read ' "$tmp/yaml.out" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "YAML run differs: $(diff "$tmp/a" "$tmp/b" | head -5)"
"$BIN" run examples/explore.yaml kcore.min_user=10 kcore.min_item=20 >"$tmp/out" 2>"$tmp/err" ||
  fail "yaml run with overrides: $(cat "$tmp/err")"
check "matrix and k-core (10, 20) from YAML" "$(got)" "$(ref 10 20)"
"$BIN" run pipelines/explore.lua $log kcore.min_user=10 kcore.min_item=20 >"$tmp/out" 2>"$tmp/err" ||
  fail "script run with overrides: $(cat "$tmp/err")"
check "matrix and k-core (10, 20) from the command line" "$(got)" "$(ref 10 20)"

# ---- the end of make demo: the trained model answering through recpipe serve ----------
# the served lists equal what the pipeline printed for the same model
want=$(sed -n 's/^u42 -> cf: //p' "$tmp/make.out" | tr ' ' ,)
got=$(grep -A1 "v1/recommend?user=u42&k=5'" "$tmp/make.out" | tail -1 |
  sed -n 's/.*"reason":"cf","user":"u42","items":\[\([^]]*\)\].*/\1/p' | tr -d '"')
[ -n "$want" ] && [ "$got" = "$want" ] || fail "served u42: '$got', the pipeline printed '$want'"
want=$(sed -n 's/^new user with i1, i2: //p' "$tmp/make.out" | tr ' ' ,)
got=$(grep -A1 'v1/recommend -d' "$tmp/make.out" | tail -1 |
  sed -n 's/.*"reason":"fold_in","items":\[\([^]]*\)\].*/\1/p' | tr -d '"')
[ -n "$want" ] && [ "$got" = "$want" ] || fail "served history i1, i2: '$got', the pipeline printed '$want'"

if [ $fails -ne 0 ]; then
  echo "demo.sh: $fails failures"
  exit 1
fi
echo "demo.sh: ok"
