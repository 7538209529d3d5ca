#!/usr/bin/env bash
# PBT kill drill: a PBT study of command trials whose checkpoint is SIZE_MB (default 100) MB, the runner that copies a
# checkpoint for an exploit killed with SIGKILL as soon as the copy starts (its temporary .N.copy-* directory appears).
#   WORKERS=1 (default): `tunesmith run` (parallel 2) is killed, then `run` again.
#   WORKERS=2: `run` and a `worker` (parallel 1 each) share the study; the one copying is killed, the other finishes.
#   KILL_DELAY=S: kill S seconds after the copy starts instead (the copy has then usually landed and the program restarted).
# Each start of a trial program that finds a checkpoint checks it: whole (size and trailer), and trained with the params it
# now runs with or with the source's params it was perturbed from (consistent), and not older than TUNESMITH_RESUME_STEP.
#   bench/pbt-kill-drill.sh [ROUNDS]          TUNESMITH_DRILL_URL=postgresql://... for PostgreSQL (a schema of its own)
set -uo pipefail
CLI=${CLI:-"dotnet $(cd "$(dirname "$0")/.." && pwd)/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
rounds=${1:-3}; workers=${WORKERS:-1}; export SIZE_MB=${SIZE_MB:-100} STEPS=${STEPS:-8} STEP_SECONDS=${STEP_SECONDS:-0.5}
root=$(mktemp -d /tmp/pbt-kill-drill.XXXXXX)
complete=0; bad_total=0; orphans_total=0; partial_total=0; hit=0
for r in $(seq 1 "$rounds"); do
  work="$root/$r"; mkdir -p "$work"; cd "$work"
  cat > train.py <<'PY'
import hashlib, json, math, os, signal, sys, time
q = float(os.environ["TUNESMITH_PARAM_Q"]); d = os.environ["TUNESMITH_TRIAL_DIR"]; n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
size = int(float(os.environ["SIZE_MB"]) * 1024 * 1024); steps = int(os.environ["STEPS"]); pause = float(os.environ["STEP_SECONDS"])
ckpt = os.path.join(d, "weights.bin"); stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
def log(**kv):
    kv.update(trial=n, q=q, resume=os.environ.get("TUNESMITH_RESUME_STEP"), restore=os.environ.get("TUNESMITH_RESTORE_FROM"))
    with open(os.environ["DRILL_LOG"], "a") as f: f.write(json.dumps(kv) + "\n")
start, w = 0, 0.0
if os.path.exists(ckpt):
    data = open(ckpt, "rb").read(); header = data.split(b"\n", 1)[0]
    whole = len(data) == size and data[-32:] == hashlib.sha256(header).digest()
    meta = json.loads(header) if whole else {}
    resume = os.environ.get("TUNESMITH_RESUME_STEP")
    ok = whole and (math.isclose(meta["q"], q) or any(math.isclose(min(max(meta["q"] * f, 0.1), 1.0), q) for f in (2.0, 0.5)))
    log(event="load", whole=whole, consistent=ok, ckpt=meta, resume_ok=resume is None or (whole and meta["step"] >= int(resume)))
    if not whole: sys.exit(7)
    start, w = meta["step"], meta["w"]
for step in range(start + 1, steps + 1):
    w += q; time.sleep(pause)
    header = json.dumps({"owner": n, "step": step, "w": w, "q": q}).encode()
    with open(ckpt + ".tmp", "wb") as f:
        f.write(header + b"\n"); f.write(b"\0" * (size - len(header) - 33)); f.write(hashlib.sha256(header).digest())
    os.replace(ckpt + ".tmp", ckpt)
    print("tunesmith:report " + json.dumps({"step": step, "score": w}), flush=True)
    if stop: sys.exit(0)
print("tunesmith:result " + json.dumps({"score": w}), flush=True)
PY
  cat > pbt.yaml <<Y
name: pbt
command: python3 train.py
metric: score
direction: maximize
space:
  q: { float: [0.1, 1.0] }
trials: 6
parallel: $((3 - workers))
scheduler: { pbt: { population: 2, interval: 2, quantile: 0.5, resample_probability: 0, perturbation_factors: [2.0, 0.5] } }
Y
  export DRILL_LOG="$work/drill.log"
  if [ -n "${TUNESMITH_DRILL_URL:-}" ]; then
    schema="pbtdrill_$$_$r"; psql "$TUNESMITH_DRILL_URL" -qAtc "CREATE SCHEMA $schema" >/dev/null
    url="$TUNESMITH_DRILL_URL$([[ $TUNESMITH_DRILL_URL == *\?* ]] && echo '&' || echo '?')search_path=$schema"
    worker_of() { PGOPTIONS="-c search_path=$schema" psql "$TUNESMITH_DRILL_URL" -qAtc "SELECT worker FROM trials WHERE number = $1"; }
  else
    url="sqlite:///$work/t.db"; worker_of() { sqlite3 "$work/t.db" "SELECT worker FROM trials WHERE number = $1"; }
  fi
  mine() { for p in $(pgrep -f 'python3 train.py'); do [ "$(readlink /proc/$p/cwd 2>/dev/null)" = "$work" ] && echo "$p"; done; }
  $CLI run pbt.yaml --storage "$url" -v > run1.out 2> run1.err & first=$!
  if [ "$workers" = 2 ]; then
    until [ -e "$work/runs" ] || ! kill -0 $first 2>/dev/null; do sleep 0.05; done
    $CLI worker --study pbt --storage "$url" -v > worker.out 2> worker.err & second=$!
  fi
  copy=""
  while kill -0 $first 2>/dev/null; do
    copy=$(ls -d runs/*/trials/.*.copy-* 2>/dev/null | head -1); [ -n "$copy" ] && break; sleep 0.01
  done
  victim=""
  if [ -n "$copy" ]; then
    n=$(basename "$copy" | cut -d. -f2)
    pid=$(worker_of "$n" | cut -d: -f2); victim=$pid
    sleep "${KILL_DELAY:-0}"
    if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then hit=$((hit + 1)); else copy="$copy (NOT killed: no runner found)"; fi
  fi
  sleep 1
  survivor=""; [ "$workers" = 2 ] && survivor=$([ "$victim" = "$first" ] && echo "$second" || echo "$first")
  # Programs that outlived the killed runner: any not started by the surviving worker.
  left=$(for p in $(mine); do [ "$(cut -d' ' -f4 /proc/$p/stat 2>/dev/null)" != "$survivor" ] && echo "$p"; done | wc -l); orphans_total=$((orphans_total + left))
  if [ "$workers" = 2 ]; then
    wait "$survivor"; rc=$?
  else
    wait $first 2>/dev/null; $CLI run pbt.yaml --storage "$url" -v > run2.out 2> run2.err; rc=$?
  fi
  wait 2>/dev/null
  counts=$($CLI status --study pbt --storage "$url" --format json | python3 -c "import json,sys; c=json.load(sys.stdin)['studies'][0]['counts']; print(c['complete'], c['running'] + c['waiting'])")
  read -r done open <<< "$counts"
  bad=$(python3 -c "import json; print(sum(1 for l in open('$DRILL_LOG') if (e:=json.loads(l))['event']=='load' and not (e['whole'] and e['consistent'] and e['resume_ok'])))" 2>/dev/null || echo 0)
  loads=$(grep -c '"load"' "$DRILL_LOG" 2>/dev/null || echo 0)
  partial=$(ls -d runs/*/trials/.*.copy-* runs/*/trials/.*.replaced-* 2>/dev/null | wc -l)
  [ "$done" = 6 ] && [ "$open" = 0 ] && complete=$((complete + 1))
  bad_total=$((bad_total + bad)); partial_total=$((partial_total + partial))
  echo "round $r: killed at ${copy:-(no copy seen)}; finishing runner exit $rc; $done of 6 complete, $open left open; programs alive 1 s after the kill $left; checkpoint loads $loads, bad $bad; partial copies left $partial; $(grep -ch 'starts afresh' run2.err worker.err run1.err 2>/dev/null | paste -sd+ | bc) retries started afresh, $(grep -ch 'goes on from that copy' run2.err worker.err run1.err 2>/dev/null | paste -sd+ | bc) went on from a landed copy"
  [ -n "${TUNESMITH_DRILL_URL:-}" ] && psql "$TUNESMITH_DRILL_URL" -qAtc "SET client_min_messages = warning; DROP SCHEMA $schema CASCADE" >/dev/null
  cd /; rm -rf "$work"
done
echo "summary: $complete of $rounds rounds complete the budget; $hit kills landed at a copy; $bad_total bad checkpoint loads; $orphans_total programs outlived their runner; $partial_total partial copies left"
rm -rf "$root"
