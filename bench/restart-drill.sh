#!/usr/bin/env bash
# Restart drill (PostgreSQL): a 40-trial study of command trials, parallel 2, on a throwaway server of its own
# (scripts/postgres-local.sh on port $DRILL_PORT, default 55499), which is stopped after 2 s of the run and started
# again DOWN seconds later (default 8). Prints the trials completed, the warning lines the run printed and what they
# said, and the wall time; then deletes the server. Never touches any other server.
#   bench/restart-drill.sh            DOWN=20 bench/restart-drill.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CLI=${CLI:-"dotnet $root/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
port=${DRILL_PORT:-55499}; down=${DOWN:-8}
pg() { "$root/scripts/postgres-local.sh" "$1" --port "$port" --dir "$work/pg"; }
work=$(mktemp -d); chmod 755 "$work"; cd "$work"   # the server runs as user postgres
trap 'pg purge >/dev/null 2>&1 || true; cd /; rm -rf "$work"' EXIT
url=$(pg start 2>/dev/null)
source "$root/bench/drill-study.sh"; drill_study 40
start=$(date +%s.%N)
$CLI run study.yaml --storage "$url" > run.out 2> run.err & pid=$!
sleep 2; pg stop >/dev/null 2>&1; sleep "$down"; pg start >/dev/null 2>&1
rc=0; wait $pid || rc=$?
end=$(date +%s.%N)
counts=$(psql "$url" -qAtc "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM trials GROUP BY state ORDER BY state) c")
echo "down ${down} s: exit $rc, trials {$counts}, warning lines $(grep -c '^tunesmith: warning' run.err || true), wall $(python3 -c "print(round($end-$start,1))") s"
grep '^tunesmith: warning' run.err | sed -E 's/postgresql:[^ ]*/URL/' | cut -c1-160 || true
