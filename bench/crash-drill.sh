#!/usr/bin/env bash
# Crash drill: a 30-trial study, parallel 2, `tunesmith run` killed with SIGKILL mid-study, then `tunesmith run` again.
# Prints how many trials completed, the trial programs left running, and how long recovery took.
set -euo pipefail
CLI=${CLI:-"dotnet $(cd "$(dirname "$0")/.." && pwd)/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
STORAGE=${1:-sqlite}
work=$(mktemp -d); cd "$work"
export DRILL_SLEEP=$((7200 + RANDOM))   # marks this drill's trial children
cat > obj.py <<'PY'
import os, subprocess, sys, time
subprocess.Popen(["sleep", os.environ["DRILL_SLEEP"]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
print(float(sys.argv[1]))
PY
cat > study.yaml <<'Y'
name: drill
command: python3 obj.py {x}
space:
  x: { float: [0, 1] }
trials: 30
parallel: 2
Y
url=${TUNESMITH_DRILL_URL:-sqlite:///$work/t.db}
$CLI run study.yaml --storage "$url" -q & pid=$!
sleep ${KILL_AFTER:-4}; kill -9 $pid; wait $pid 2>/dev/null || true
sleep 0.5
count() { { pgrep -f "$1" || true; } | wc -l; }
left=$(count "python3 obj.py"); sleeps=$(count "^sleep $DRILL_SLEEP")
start=$(date +%s.%N)
$CLI run study.yaml --storage "$url" > /dev/null 2> rerun.err || true
end=$(date +%s.%N)
$CLI status --study drill --storage "$url" --format json > status.json
echo "after kill -9: trial programs alive $left, their children alive $sleeps"
echo "rerun: $(python3 -c "import json;d=json.load(open('status.json'))['studies'][0]['counts'];print(d)") in $(python3 -c "print(round($end-$start,1))") s"
echo "leftover children after rerun: $(count "^sleep $DRILL_SLEEP")"
echo "trials recovered by the rerun: $(grep -c 'marked Failed (crashed' rerun.err || true)"
grep 'marked Failed' rerun.err || true
rm -rf "$work"
