#!/bin/sh
# recpipe schedule end to end, with the clock override: the schedule's keys
# (unknown ones refused, listing the known), due slots, missed slots run
# once, retries with a doubling backoff, never two runs of a job at once
# (two real schedulers on one registry), wall-time and memory limits
# killing runaway children, SIGTERM stopping children cleanly, a scheduler
# killed with -9 resumed, overrides and RECPIPE_NOW seen by the child.
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-sched.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() {
  want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, wanted $want; stderr: $(head -c 600 "$tmp/err")"
}
has() { grep -qF -- "$2" "$tmp/$1" || fail "$1 lacks '$2'; it was: $(head -c 600 "$tmp/$1")"; }

# the job every test runs: options as key=value overrides
cat >"$tmp/job.lua" <<'EOF'
local rp = require "recpipe"
local cfg = rp.config.args({ sleep = 0, fail = false, spin = false, grow = false, tag = "" }, ...)
local reg = rp.registry.open(os.getenv("RECPIPE_REGISTRY"))
local run <close> = reg:begin { pipeline = "job", config = cfg }
run:log("info", "tag=%s now=%s job=%s", cfg.tag, os.getenv("RECPIPE_NOW"), os.getenv("RECPIPE_JOB"))
if cfg.sleep > 0 then os.execute("sleep " .. cfg.sleep) end
if cfg.spin then while true do end end
if cfg.grow then local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end end
if cfg.fail then error("asked to fail") end
EOF
# q.lua REGISTRY WHAT [FILTER-KEY FILTER-VALUE]: prints one row a line
cat >"$tmp/q.lua" <<'EOF'
local rp = require "recpipe"
local path, what, k, v = ...
local reg = rp.registry.open(path, { recover = false })
local f = {}
if k then f[k] = tonumber(v) or v end
local rows = reg:list(what, f)
for i = #rows, 1, -1 do
  local r = rows[i]
  if what == "runs" then
    print(("%d %s %s %s %.0f %s"):format(r.id, r.job or "-", r.status, r.slot and ("%.0f"):format(r.slot) or "-",
      r.started, (r.message or ""):gsub("\n", " ")))
  elseif what == "logs" then print(r.run, r.message)
  else print(r.name, r.slot, r.done, r.attempts, r.retry_at) end
end
EOF
q() { "$BIN" run -q "$tmp/q.lua" "$@"; }
nruns() { q "$1" runs | wc -l | tr -d ' '; }

# ---- keys: defined once, unknown ones refused -------------------------------------
d=$tmp/keys; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
printf 'jobs:\n  - {name: a, pipeline: job.lua, evry: 7d}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "jobs[1]: unknown key 'evry' (known: name, pipeline, every, cron, start, config, timeout, memory, retries, backoff, alert_exit)"
printf 'jobz: []\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "unknown key 'jobz' (known: registry, jobs, stop_grace, poll)"
printf 'jobs:\n  - {name: a, pipeline: job.lua}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "job 'a': give exactly one of 'every' (7d) and 'cron'"
printf 'jobs:\n  - {name: a, pipeline: job.lua, every: 7x}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "bad duration '7x'"
printf 'jobs:\n  - {name: a, pipeline: job.lua, cron: "61 * * * *"}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "cron minute field '61': values must be in 0-59"
printf 'jobs:\n  - {name: a, pipeline: nope.lua, every: 1d}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "pipeline 'nope.lua' not found"
printf 'jobs:\n  - {name: a, pipeline: job.lua, every: 1d}\n  - {name: a, pipeline: job.lua, every: 2d}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "two jobs are named 'a'"
printf 'jobs:\n  - {name: "a b", pipeline: job.lua, every: 1d}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "only letters, digits"
printf 'jobs: [\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --list "$d/s.yaml"
has err "s.yaml:"
expect 1 "$BIN" schedule --now=tomorrow "$d/s.yaml"
has err "--now: bad time 'tomorrow'"
expect 1 "$BIN" schedule
has err "usage: recpipe schedule"

# ---- due slots, missed slots once, overrides and the clock -------------------------
d=$tmp/due; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
cat >"$d/s.yaml" <<'EOF'
registry: reg.db
jobs:
  - name: weekly
    pipeline: job.lua
    every: 7d
    start: 2024-01-08
    config: {tag: "hello world", sleep: 0}
EOF
expect 0 "$BIN" schedule --list --now=2024-01-07 "$d/s.yaml"
has out "weekly           every 7d"
has out "2024-01-08T00:00:00Z"
expect 0 "$BIN" schedule --once --now=2024-01-10 "$d/s.yaml"
[ "$(nruns "$d/reg.db")" = 1 ] || fail "first slot: $(q "$d/reg.db" runs)"
q "$d/reg.db" logs >"$tmp/out"
has out "tag=hello world now=1704844800 job=weekly"
q "$d/reg.db" runs >"$tmp/out"
has out "1 weekly ok 1704672000"
expect 0 "$BIN" schedule --once --now=2024-01-12 "$d/s.yaml"
[ "$(nruns "$d/reg.db")" = 1 ] || fail "slot done, yet it ran again"
RECPIPE_NOW=2024-02-10 "$BIN" schedule --once "$d/s.yaml" 2>/dev/null || fail "RECPIPE_NOW run"
q "$d/reg.db" runs >"$tmp/out"
[ "$(wc -l <"$tmp/out" | tr -d ' ')" = 2 ] || fail "four missed slots must run once: $(cat "$tmp/out")"
has out "2 weekly ok 1707091200"
expect 0 "$BIN" schedule --list --now=2024-02-10 "$d/s.yaml"
has out "#2 ok"
has out "2024-02-12T00:00:00Z"

# ---- retries with a doubling backoff, then the slot is given up ----------------------
d=$tmp/retry; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
cat >"$d/s.yaml" <<'EOF'
jobs:
  - {name: flaky, pipeline: job.lua, cron: "0 3 * * *", retries: 2, backoff: 10m, config: {fail: true}}
EOF
T=1704855600 # 2024-01-10T03:00Z, a slot
expect 1 "$BIN" schedule --once --now=$T "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 1 ] || fail "first attempt"
expect 0 "$BIN" schedule --once --now=$((T + 300)) "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 1 ] || fail "retried before the backoff"
expect 0 "$BIN" schedule --list --now=$((T + 300)) "$d/s.yaml"
has out "2024-01-10T03:10:00Z (retry)"
expect 1 "$BIN" schedule --once --now=$((T + 600)) "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 2 ] || fail "second attempt after 10m"
expect 0 "$BIN" schedule --once --now=$((T + 1500)) "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 2 ] || fail "the backoff doubles to 20m"
expect 1 "$BIN" schedule --once --now=$((T + 1800)) "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 3 ] || fail "third attempt after 20m more"
expect 0 "$BIN" schedule --once --now=$((T + 7200)) "$d/s.yaml"
[ "$(nruns "$d/registry.db")" = 3 ] || fail "retries 2: three attempts in all"
q "$d/registry.db" runs >"$tmp/out"
has out "3 flaky failed 1704855600"
has out "asked to fail"
has out "exit status 1"
expect 0 "$BIN" schedule --list --now=$((T + 7200)) "$d/s.yaml"
has out "2024-01-11T03:00:00Z"

# ---- an alert's exit status is not a failure -------------------------------------------
d=$tmp/alert; mkdir -p "$d"
printf 'os.exit(2)\n' >"$d/check.lua"
printf 'jobs:\n  - {name: check, pipeline: check.lua, every: 1d}\n  - {name: strict, pipeline: check.lua, every: 1d, alert_exit: 0, retries: 0}\n' >"$d/s.yaml"
expect 1 "$BIN" schedule --once --now=2024-01-10 "$d/s.yaml"
q "$d/registry.db" runs >"$tmp/out"
has out "check ok 1704844800"
has out "strict failed 1704844800"
has out "exit status 2"

# ---- never two runs of one job at once: two schedulers, one registry -------------------
d=$tmp/lease; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
printf 'jobs:\n  - {name: slow, pipeline: job.lua, every: 1d, config: {sleep: 4}}\n' >"$d/s.yaml"
"$BIN" schedule --once --now=2024-01-10 "$d/s.yaml" 2>"$tmp/s1" &
p1=$!
"$BIN" schedule --once --now=2024-01-10 "$d/s.yaml" 2>"$tmp/s2" & # racing the first
p2=$!
i=0 # and a third once the run is surely running
while [ $i -lt 600 ] && ! q "$d/registry.db" runs 2>/dev/null | grep -q running; do sleep 0.1; i=$((i + 1)); done
"$BIN" schedule --once --now=2024-01-10 "$d/s.yaml" 2>"$tmp/s3"
wait $p1; wait $p2
[ "$(nruns "$d/registry.db")" = 1 ] || fail "two schedulers ran the job twice: $(q "$d/registry.db" runs)"
cp "$tmp/s3" "$tmp/err"
has err "a run is already running (another scheduler?): skipped"

# ---- limits: wall time and memory ---------------------------------------------------------
d=$tmp/limits; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
cat >"$d/s.yaml" <<'EOF'
poll: 50ms
jobs:
  - {name: spin, pipeline: job.lua, every: 1d, timeout: 1s, retries: 0, config: {spin: true}}
  - {name: grow, pipeline: job.lua, every: 1d, memory: 64M, retries: 0, config: {grow: true}}
EOF
expect 1 "$BIN" schedule --once --now=2024-01-10 "$d/s.yaml"
q "$d/registry.db" runs >"$tmp/out"
has out "wall-time limit 1s exceeded"
has out "memory limit 64M exceeded"
has out "killed by signal 9"

# ---- SIGTERM stops the children; the slot runs again on the next start --------------------
d=$tmp/term; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
# a sleep no other process on the machine has (other tests may run at once)
nap=30.$(( $$ % 100000 + 1))
printf 'stop_grace: 5s\njobs:\n  - {name: long, pipeline: job.lua, every: 1d, config: {sleep: %s}}\n' $nap >"$d/s.yaml"
"$BIN" schedule --now=2024-01-10 "$d/s.yaml" 2>"$tmp/err" &
p=$!
i=0
while [ $i -lt 600 ] && ! q "$d/registry.db" runs 2>/dev/null | grep -q running; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 600 ] || fail "the long run never started"
kill -TERM $p
i=0
while [ $i -lt 100 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -0 $p 2>/dev/null && { fail "scheduler still running 10 s after SIGTERM"; kill -9 $p; }
wait $p 2>/dev/null
q "$d/registry.db" runs >"$tmp/out"
has out "1 long failed"
has out "stopped by the scheduler (SIGTERM)"
i=0 # a signalled process may take a moment to be scheduled and die on a loaded machine
while [ $i -lt 30 ] && pgrep -f "sleep $nap" >/dev/null; do sleep 0.1; i=$((i + 1)); done
pgrep -f "sleep $nap" >/dev/null && fail "a child outlived SIGTERM"
printf 'jobs:\n  - {name: long, pipeline: job.lua, every: 1d}\n' >"$d/s.yaml"
expect 0 "$BIN" schedule --once --now=2024-01-10T01:00 "$d/s.yaml"
q "$d/registry.db" runs >"$tmp/out"
has out "2 long ok 1704844800"

# ---- kill -9 of the scheduler: the child dies with it, the run is failed, the slot resumes --
d=$tmp/kill; mkdir -p "$d"; cp "$tmp/job.lua" "$d/"
printf 'jobs:\n  - {name: k, pipeline: job.lua, every: 1d, config: {sleep: 20, tag: k9}}\n' >"$d/s.yaml"
"$BIN" schedule --once --now=2024-01-10 "$d/s.yaml" 2>/dev/null &
p=$!
i=0
while [ $i -lt 600 ] && ! q "$d/registry.db" logs 2>/dev/null | grep -q "tag=k9"; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 600 ] || fail "the k9 run never started"
kill -9 $p
wait $p 2>/dev/null
sleep 0.3
printf 'jobs:\n  - {name: k, pipeline: job.lua, every: 1d}\n' >"$d/s.yaml"
expect 0 "$BIN" schedule --once --now=2024-01-10T02:00 "$d/s.yaml"
q "$d/registry.db" runs >"$tmp/out"
has out "1 k failed"
has out "crashed or killed"
has out "2 k ok 1704844800"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "schedule: ok"
