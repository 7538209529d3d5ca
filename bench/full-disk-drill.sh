#!/usr/bin/env bash
# Full-disk drill: a study of command trials (TRIALS, default 80; parallel 2; each 0.3 s, writing a 64 KB checkpoint
# into its trial directory) whose SQLite database and trial directories are on a small tmpfs (SIZE, default 16m). After
# FILL_AFTER seconds (default 8) a `dd` fills the tmpfs while the study runs. Then the filler is removed and `run` is run
# again. Prints each run's exit and last stderr line, the trials by state after the fault and at the end, and
# PRAGMA integrity_check both times. The tmpfs lives in a private mount namespace (unshare --mount --map-root-user, no
# root needed) inside a mktemp dir: it goes away with the drill and never touches the real disk.
#   bench/full-disk-drill.sh                 # the database and the trial directories on the small disk
#   TRIALS_ELSEWHERE=1 bench/full-disk-drill.sh   # only the database on it (the trial directories in the mktemp dir)
#   DB_ELSEWHERE=1 bench/full-disk-drill.sh       # only the trial directories on it (the database in the mktemp dir)
set -euo pipefail
db=disk/s.db; [ -n "${DB_ELSEWHERE:-}" ] && db=s.db
CLI=${CLI:-"dotnet $(cd "$(dirname "$0")/.." && pwd)/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/disk" "$work/trials"
cat > "$work/obj.py" <<'PY'
import json, os, sys, time
x = float(sys.argv[1])
for step in range(3):
    time.sleep(0.1)
    with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "ckpt.bin"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    print("tunesmith:report " + json.dumps({"step": step, "loss": (x - 0.3) ** 2 + 1.0 / (step + 1)}), flush=True)
print("tunesmith:result " + json.dumps({"loss": (x - 0.3) ** 2}), flush=True)
PY
cat > "$work/study.yaml" <<Y
name: fill
direction: minimize
metric: loss
command: python3 $work/obj.py {x}
$( [ -n "${TRIALS_ELSEWHERE:-}" ] && echo "workdir: $work/trials" )
$( [ -n "${DB_ELSEWHERE:-}" ] && echo "workdir: $work/disk" )
space:
  x: { float: [0.0, 1.0] }
sampler: { random: { seed: 1 } }
trials: ${TRIALS:-80}
parallel: 2
Y
cat > "$work/drill.sh" <<S
set -u
mount -t tmpfs -o size=${SIZE:-16m} tmpfs "$work/disk" || exit 97
cd "$work"
count() { python3 -c "
import sqlite3, sys
c = sqlite3.connect('file:$work/$db?mode=ro', uri=True)
print(dict(c.execute('SELECT state, count(*) FROM trials GROUP BY state').fetchall()), 'integrity_check:', c.execute('PRAGMA integrity_check').fetchone()[0])"; }
$CLI run study.yaml --storage "sqlite:///$work/$db" > run1.out 2> run1.err & pid=\$!
sleep ${FILL_AFTER:-8}; dd if=/dev/zero of="$work/disk/filler" bs=64k 2>/dev/null; echo "disk filled at ${FILL_AFTER:-8} s"
r=0; wait \$pid || r=\$?
echo "run 1: exit \$r; last line: \$(tail -1 run1.err)"
echo "after the fault: \$(count)"
rm -f "$work/disk/filler"
r=0; $CLI run study.yaml --storage "sqlite:///$work/$db" > run2.out 2> run2.err || r=\$?
echo "run 2 (space freed): exit \$r; last line: \$(tail -1 run2.err)"
echo "at the end: \$(count)"
S
unshare --mount --map-root-user bash "$work/drill.sh"
