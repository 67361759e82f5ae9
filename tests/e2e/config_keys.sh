#!/bin/sh
# Pipeline YAML keys (issue 11): every key of a pipeline's config is checked
# against what the pipeline reads; a misspelt one is refused, naming the
# file and listing the known keys, instead of running with defaults.  The
# options rp.io.read_events takes are all accepted under data.read.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
tmp=$(mktemp -d /tmp/recpipe-keys.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# a small log: 60 users, 30 items, times over 40 days
awk 'BEGIN { print "user,item,time"; s = 7
  for (n = 0; n < 1500; n++) { s = (s * 1103515245 + 12345) % 2147483648
    printf "u%d,i%d,%d\n", s % 60, (s / 60) % 30, 1700000000 + (s % 3456000) } }' >"$tmp/log.csv"

# base PIPELINE EXTRA: a config of PIPELINE on the small log plus EXTRA lines
base() {
  cat <<YAML
pipeline: $1
data:
  path: $tmp/log.csv
  read: {user: user, item: item, time: time}
YAML
  printf '%s\n' "$2"
}
eval_models='models:
  - {name: pop, type: popularity}
eval: {k: 5, bootstrap: 20, curve_k: 0}
report: ""'

# refused: the run stops before reading data, exit 1, the message names the
# file, the key and the known keys
refused() { # name yaml-text expected-substring
  printf '%s\n' "$2" >"$tmp/$1.yaml"
  out=$("$BIN" run --quiet "$tmp/$1.yaml" 2>&1)
  rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected 1: $out"
  case $out in *"$tmp/$1.yaml: "*"$3"*) ;; *) fail "$1: expected '$3' naming the file, got: $out" ;; esac
}
refused modles "$(base evaluate "$eval_models
modles: [{type: als}]")" \
  "unknown key 'modles' (known: data, eval, matrix, models, report, results, split)"
refused eval_kk "$(base evaluate "$eval_models" | sed 's/^eval: {k: 5/eval: {kk: 20/')" \
  "unknown key 'eval.kk' (known under eval: bootstrap, curve_k, k, metrics, seed, threshold)"
refused agregate "$(base evaluate "$eval_models
matrix: {agregate: max}")" \
  "unknown key 'matrix.agregate' (known under matrix: aggregate, half_life_days)"
refused read_typo "$(base evaluate "$eval_models" | sed 's/time: time}/time: time, treads: 2}/')" \
  "unknown key 'data.read.treads' (known under data.read: "
refused split_typo "$(base evaluate "$eval_models
split: {method: by_time, test_fractio: 0.1}")" \
  "split (by_time): unknown option 'test_fractio' (known: test_fraction, cutoff, keep_unknown)"
refused tune_search "$(base tune "model: {type: popularity}
search: {method: grid, trails: 3, space: {}}
out: $tmp/tune")" "unknown key 'search.trails' (known under search: method, seed, space, trials)"
refused backtest_typo "$(base backtest "model: {type: popularity}
backtest: {train_days: 10, cadence: [7]}
report: \"\"")" "unknown key 'backtest.cadence' (known under backtest: cadences, expanding, k,"

refused coldstart_typo "$(base coldstart "cold_items: {fraction: 0.1, sed: 3}")" \
  "unknown key 'cold_items.sed' (known under cold_items: fraction, k, seed, strategies)"
refused coldstart_attrs "$(base coldstart "item_attributes:
  - {path: x.csv, wieght: 2}")" \
  "unknown key 'item_attributes[1].wieght' (known under item_attributes[1]: options, path, weight)"
refused retrain_typo "$(base retrain "kcore: {min_users: 3}")" \
  "unknown key 'kcore.min_users' (known under kcore: min_item, min_user)"
refused explore_typo "$(printf 'pipeline: explore\ninput: %s\ncolumns: {usr: user}\n' "$tmp/log.csv")" \
  "unknown key 'columns.usr' (known under columns: event, item, time, user, value)"
refused drift_typo "$(base drift "monitor: {bins: 5}")" \
  "unknown key 'monitor.bins' (known under monitor: context_bins, epsilon, item_bins)"

# accepted: read_events's own options under data.read (threads, unknown, ...)
base evaluate "$eval_models" | sed 's/time: time}/time: time, threads: 2, unknown: add, on_error: stop}/' \
  >"$tmp/good.yaml"
out=$("$BIN" run --quiet "$tmp/good.yaml" 2>&1) || fail "data.read.threads/unknown refused: $out"
case $out in *ndcg*) ;; *) fail "evaluate printed no table: $out" ;; esac

[ "$fails" = 0 ] && echo "config_keys: ok"
exit $((fails > 0))
