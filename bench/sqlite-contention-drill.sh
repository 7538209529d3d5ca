#!/usr/bin/env bash
# SQLite contention drill: one `run` and three `worker`s (each `parallel: 2`, so 8 trials at once) on ONE SQLite file,
# short command trials (SLEEP seconds each, default 0.05), and one worker killed with kill -9 after KILL_AFTER seconds
# (default 4). Prints each process's exit, the trials by state, the distinct trial numbers, the crash recoveries, any
# "locked"/"busy" line any process printed, and `PRAGMA integrity_check`. Everything lives in a mktemp dir, removed after.
#   bench/sqlite-contention-drill.sh           # TRIALS=400 SLEEP=0.05 KILL_AFTER=4
set -euo pipefail
CLI=${CLI:-"dotnet $(cd "$(dirname "$0")/.." && pwd)/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
trials=${TRIALS:-400}
work=$(mktemp -d); cd "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat > obj.py <<'PY'
import json, os, sys, time
time.sleep(float(os.environ.get("SLEEP", "0.05")))
print("tunesmith:result " + json.dumps({"loss": (float(sys.argv[1]) - 0.3) ** 2}))
PY
cat > study.yaml <<Y
name: contention
direction: minimize
metric: loss
command: python3 obj.py {x}
space:
  x: { float: [0, 1] }
sampler: { random: { seed: 1 } }
trials: $trials
parallel: 2
Y
url="sqlite:///$work/s.db"
export SLEEP=${SLEEP:-0.05}
$CLI create study.yaml --storage "$url" > create.out 2>&1
start=$(date +%s.%N)
$CLI run study.yaml --storage "$url" > run.out 2> run.err & run=$!
for i in 1 2 3; do $CLI worker --study contention --storage "$url" > w$i.out 2> w$i.err & eval "w$i=\$!"; done
sleep "${KILL_AFTER:-4}"; kill -9 "$w2"; echo "killed worker 2 (pid $w2) with kill -9 after ${KILL_AFTER:-4} s"
r0=0; wait "$run" || r0=$?; r1=0; wait "$w1" || r1=$?; r3=0; wait "$w3" || r3=$?
wait "$w2" 2>/dev/null || true
echo "exits: run $r0, worker1 $r1, worker3 $r3"
end=$(date +%s.%N)
python3 - "$work/s.db" "$trials" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
states = dict(c.execute("SELECT state, count(*) FROM trials GROUP BY state").fetchall())
numbers = [n for (n,) in c.execute("SELECT number FROM trials ORDER BY number")]
reasons = [r for (r,) in c.execute("SELECT value_json FROM trial_attributes WHERE key = 'fail_reason'")]
print(f"trials by state {states}; {len(numbers)} trials, numbers 0..{numbers[-1]}, {len(set(numbers))} distinct")
print(f"complete {states.get('complete', 0)} of budget {sys.argv[2]}; failed: {reasons}")
print(f"integrity_check: {c.execute('PRAGMA integrity_check').fetchone()[0]}")
PY
echo "lines with locked/busy: $(cat ./*.err ./*.out | grep -ci 'locked\|busy' || true); wall $(python3 -c "print(round($end-$start,1))") s"
