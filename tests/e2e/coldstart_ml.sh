#!/bin/sh
# The cold-start quality claims on MovieLens (README api-hybrid, RESULTS
# hybrid), checked from what `recpipe run examples/coldstart_ml100k.yaml`
# and `examples/coldstart_mlsmall.yaml` print:
#   - new users with 3 and 5 known interactions: the chain's NDCG@10 is
#     above popularity's with the two 95% intervals disjoint (and the
#     pipeline's own verdict line, on the paired difference, says "better");
#   - the tuned chain's guarantee (chain: auto, rp.hybrid.tune_chain on each
#     outer fold's training users) at every reveal size: its NDCG@10 is not
#     below the best single strategy's by more than the paired interval's
#     half-width, and above popularity's with a paired interval above zero;
#   - new items: projection's recall@K is at least twice random placement's.
# Opt-in: needs ../shared/data (MovieLens is not part of recpipe); exits 77
# (skip) without it.  About 30 s (the tuning is most of it).
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
D=../shared/data
if [ ! -f $D/movielens-100k/u.data ] && [ ! -f $D/movielens-latest-small/ratings.csv ]; then
  echo "SKIP coldstart_ml: MovieLens not found in $D"
  exit 77
fi
tmp=$(mktemp -d /tmp/recpipe-coldstart-ml.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The printed tables as lines "SECTION STRATEGY METRIC VALUE LO HI"
# (SECTION: reveal0, reveal1, ..., cold; METRIC: ndcg, recall, ... without
# the @K), and the verdict lines as "verdict SECTION STRATEGY TEXT".
parse() {
  awk -F'|' '
    /^\*\*reveal [0-9]+:/ { split($0, w, /[ :]+/); sec = "reveal" w[2]; next }
    /^\*\*cold items:/ { sec = "cold"; next }
    /^\| *strategy *\|/ {
      for (i = 2; i < NF; i++) { h = $i; gsub(/^ +| +$/, "", h); sub(/@.*/, "", h); col[i] = h }
      ncol = NF; next }
    /^\| *---/ { next }
    /^\| / && sec != "" {
      s = $2; gsub(/ /, "", s)
      for (i = 4; i < ncol; i++) {
        n = split($i, v, /[][ ,]+/); k = 0
        for (j = 1; j <= n; j++) if (v[j] != "") num[++k] = v[j]
        if (k == 3) print sec, s, col[i], num[1], num[2], num[3]
      }
      next }
    /^- [a-z_]+ .* popularity: / && sec != "" {
      s = $0; sub(/^- /, "", s); sub(/ .*/, "", s)
      t = $0; sub(/.*\(paired\), /, "", t)
      print "verdict", sec, s, t }
  ' "$1"
}
# field F (4 value, 5 lo, 6 hi) of SECTION STRATEGY METRIC
get() { awk -v s="$2" -v n="$3" -v m="$4" -v f="$5" '$1 == s && $2 == n && $3 == m { print $f; exit }' "$1"; }

check() { # name config
  name=$1 cfg=$2
  "$BIN" run --quiet "$cfg" results="$tmp/$name.md" >"$tmp/$name.out" 2>"$tmp/$name.err" ||
    { fail "$name: $cfg failed: $(tail -5 "$tmp/$name.err")"; return; }
  parse "$tmp/$name.out" >"$tmp/$name.parsed"
  for r in 3 5; do
    sec=reveal$r
    cv=$(get "$tmp/$name.parsed" $sec chain ndcg 4) clo=$(get "$tmp/$name.parsed" $sec chain ndcg 5)
    pv=$(get "$tmp/$name.parsed" $sec popularity ndcg 4) phi=$(get "$tmp/$name.parsed" $sec popularity ndcg 6)
    verdict=$(awk -v s=$sec '$1 == "verdict" && $2 == s && $3 == "chain" { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$tmp/$name.parsed")
    if [ -z "$cv" ] || [ -z "$pv" ]; then
      fail "$name reveal $r: no chain or popularity NDCG@10 row found; the section printed:"
      awk -v r="$r" '$0 ~ "^\\*\\*reveal " r ":" { on = 1; print; next } on && /^\*\*/ { exit } on' "$tmp/$name.out"
      continue
    fi
    if awk -v cv="$cv" -v clo="$clo" -v pv="$pv" -v phi="$phi" 'BEGIN { exit !(cv > pv && clo > phi) }' &&
      [ "$verdict" = "better" ]; then
      echo "$name reveal $r: chain NDCG@10 $cv [$clo, ...] > popularity $pv [..., $phi]: $verdict"
    else
      fail "$name reveal $r: chain NDCG@10 $cv (lower bound $clo) vs popularity $pv (upper bound $phi); verdict '$verdict'"
    fi
  done
  for r in 0 1 3 5; do
    g=$(awk -v r="$r" '$0 ~ "^\\*\\*reveal " r ":" { on = 1 } on && /^- guarantee \(chain\)/ { print; exit }' "$tmp/$name.out")
    case $g in
      *": met; vs popularity "*": above zero") echo "$name reveal $r: ${g#- }" ;;
      *) fail "$name reveal $r: the guarantee does not hold: ${g:-no guarantee line}" ;;
    esac
  done
  proj=$(get "$tmp/$name.parsed" cold projection recall 4)
  rand=$(get "$tmp/$name.parsed" cold random_placement recall 4)
  if [ -z "$proj" ] || [ -z "$rand" ]; then
    fail "$name cold items: no projection or random_placement recall row found; printed:"
    sed -n '/^\*\*cold items:/,$p' "$tmp/$name.out"
  else
    if awk -v p="$proj" -v q="$rand" 'BEGIN { exit !(p >= 2 * q) }'; then
      echo "$name cold items: projection recall $proj, random placement $rand (at least 2x)"
    else
      fail "$name cold items: projection recall $proj is not at least twice random placement's $rand"
    fi
  fi
}

if [ -f $D/movielens-100k/u.data ]; then check ml100k examples/coldstart_ml100k.yaml; fi
if [ -f $D/movielens-latest-small/ratings.csv ]; then check mlsmall examples/coldstart_mlsmall.yaml; fi
[ $fails -eq 0 ] || exit 1
echo "coldstart_ml e2e: ok"
