#!/usr/bin/env bash
# CI: install PostgreSQL when missing, start a throwaway server, and print only its URL on stdout
# (.ci/run exports it as TUNESMITH_TEST_POSTGRES for the PostgreSQL tests).
set -euo pipefail
exec "$(dirname "$0")/postgres-local.sh" start --port "${TUNESMITH_PG_PORT:-55432}"
