#!/usr/bin/env bash
# Connection-kill drill (PostgreSQL only): a 40-trial study of command trials, parallel 2, run twice in fresh schemas:
# once quietly, once while every connection of the run is killed on the server (pg_terminate_backend, only this run's
# connections: its own application_name) every KILL_EVERY seconds. Prints the trials completed, the kills, the retry
# lines the run printed, and both wall times. Never stops or restarts the server.
#   TUNESMITH_DRILL_URL=postgresql://user:pw@host:port/db bench/connection-kill-drill.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CLI=${CLI:-"dotnet $root/src/Tunesmith.Cli/bin/Debug/net10.0/Tunesmith.Cli.dll"}
url=${TUNESMITH_DRILL_URL:?set TUNESMITH_DRILL_URL to a postgresql:// URL}
every=${KILL_EVERY:-1}
work=$(mktemp -d); cd "$work"
source "$root/bench/drill-study.sh"; drill_study 40
sep() { case "$url" in *\?*) echo "&";; *) echo "?";; esac; }
tag="tsdrill$RANDOM$RANDOM"
schemas=()
cleanup() { for s in "${schemas[@]}"; do psql "$url" -qAtc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
drill() { # $1: quiet|kill
  local schema="${tag}_$1"; schemas+=("$schema")
  psql "$url" -qAtc "CREATE SCHEMA $schema" >/dev/null
  local run_url="$url$(sep)search_path=$schema&application_name=$schema"
  local start end kills=0
  start=$(date +%s.%N)
  $CLI run study.yaml --storage "$run_url" > "$1.out" 2> "$1.err" & local pid=$!
  if [ "$1" = kill ]; then
    while kill -0 $pid 2>/dev/null; do
      sleep "$every"
      n=$(psql "$url" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$schema'")
      kills=$((kills + n))
    done
  fi
  local rc=0; wait $pid || rc=$?
  end=$(date +%s.%N)
  local counts; counts=$(psql "$url" -qAtc "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM $schema.trials GROUP BY state ORDER BY state) c")
  local values; values=$(psql "$url" -qAtc "SELECT count(*) FROM $schema.trials WHERE state = 'complete' AND value IS NOT NULL")
  echo "$1: exit $rc, trials {$counts}, $values values stored, connections killed $kills, warning lines $(grep -c "^tunesmith: warning" "$1.err" || true) (outages begun $(grep -c "transient fault" "$1.err" || true), ended $(grep -c "reachable again" "$1.err" || true)), wall $(python3 -c "print(round($end-$start,1))") s"
}
drill quiet
drill kill
