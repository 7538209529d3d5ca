# Sourced by the storage drills: writes, in the current folder, the study they run (TRIALS command trials, parallel 2,
# each a python3 program that sleeps 0.2 s and prints its value).
drill_study() {
  cat > obj.py <<'PY'
import sys, time
time.sleep(0.2)
print(float(sys.argv[1]))
PY
  cat > study.yaml <<Y
name: drill
command: python3 obj.py {x}
space:
  x: { float: [0, 1] }
trials: $1
parallel: 2
Y
}
