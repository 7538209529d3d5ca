#!/usr/bin/env bash
# A throwaway PostgreSQL server on this machine, for Tunesmith's tests and for trying distributed workers locally.
#
#   scripts/postgres-local.sh start   [--port P] [--dir D] [--durable]   install if missing, initdb if needed, start; print the URL
#   scripts/postgres-local.sh stop    [--port P] [--dir D]   stop (data kept)
#   scripts/postgres-local.sh restart [--port P] [--dir D]   stop then start (workers ride it out; see docs/STORAGE.md)
#   scripts/postgres-local.sh status  [--port P] [--dir D]   exit 0 when up, 3 when down
#   scripts/postgres-local.sh url     [--port P] [--dir D]   print the URL
#   scripts/postgres-local.sh purge   [--port P] [--dir D]   stop and delete the data directory
#
# stdout carries only the URL (postgresql://tunesmith:PASSWORD@127.0.0.1:PORT/tunesmith); everything else goes to stderr,
# so `export TUNESMITH_TEST_POSTGRES=$(scripts/postgres-local.sh start)` works. The server listens on 127.0.0.1 only,
# runs as a non-root user (the `postgres` OS user when called as root, else the caller), and has durability switched off
# (fsync=off): it is for tests and trials, never for data you want to keep. `--durable` starts it with PostgreSQL's
# own durable defaults instead (fsync, synchronous_commit, full_page_writes on): what the benchmarks use. The password is random, made at initdb and
# kept in DIR/password (mode 600).
#
# Defaults: --port $TUNESMITH_PG_PORT or 55432, --dir $TUNESMITH_PG_DIR or /tmp/tunesmith-pg-PORT.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

cmd=${1:-}
[ $# -gt 0 ] && shift
PORT=${TUNESMITH_PG_PORT:-55432}
DIR=${TUNESMITH_PG_DIR:-}
DURABLE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --port) PORT=$2; shift 2 ;;
        --dir) DIR=$2; shift 2 ;;
        --durable) DURABLE=1; shift ;;
        *) echo "postgres-local.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
case "$PORT" in ''|*[!0-9]*) echo "postgres-local.sh: --port '$PORT' is not a number" >&2; exit 2 ;; esac
DIR=${DIR:-/tmp/tunesmith-pg-$PORT}
DATA=$DIR/data
SOCK=$DIR/run
LOG=$DIR/postgres.log
DB=tunesmith
ROLE=tunesmith

say() { printf 'postgres-local: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

pgbin() {
    local v
    v=$(ls -1 /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
    [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] && echo "/usr/lib/postgresql/$v/bin"
}

install_server() {
    [ -n "$(pgbin)" ] && return 0
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and this is not root: run 'apt-get install -y postgresql' first"
    say "installing PostgreSQL from apt"
    # Only the binaries: no default cluster on 5432, no service started by the package scripts.
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
    local policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=1; fi
    local rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends postgresql; } \
        </dev/null >"/tmp/tunesmith-pg-apt.log" 2>&1 || rc=$?
    [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || { tail -20 /tmp/tunesmith-pg-apt.log >&2; die "apt-get install postgresql failed"; }
    [ -n "$(pgbin)" ] || die "no initdb after installing postgresql"
}

# Server commands run as a non-root user: initdb and postgres refuse root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then (cd "$DIR" && runuser -u postgres -- "$@"); else (cd "$DIR" && "$@"); fi
}

is_up() { [ -n "$(pgbin)" ] && "$(pgbin)/pg_isready" -q -h "$SOCK" -p "$PORT" </dev/null; }

url() { echo "postgresql://$ROLE:$(cat "$DIR/password")@127.0.0.1:$PORT/$DB"; }

start() {
    install_server
    local bin; bin=$(pgbin)
    if [ "$(id -u)" = 0 ]; then
        install -d -o postgres -g postgres -m 0755 "$DIR" "$SOCK"
    else
        mkdir -p "$DIR" "$SOCK"
    fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA"
        # A random password per cluster, readable only by its owner.
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$DIR/password")
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR/password"
        say "initdb $DATA"
        as_owner "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
            --no-sync </dev/null >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
        cat >>"$DATA/postgresql.conf" <<EOF
# scripts/postgres-local.sh: a throwaway server on loopback
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    if is_up; then
        say "already running on 127.0.0.1:$PORT"
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then die "port $PORT on 127.0.0.1 is taken by another process (use --port)"; fi
        local durability=()
        # --durable: PostgreSQL's own defaults (every commit flushed to disk), as a production server and the
        # benchmarks compared with Optuna's figures run; otherwise the throwaway settings written at initdb.
        [ "$DURABLE" = 1 ] && durability=(-o "-c fsync=on -c synchronous_commit=on -c full_page_writes=on")
        as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" "${durability[@]}" -w -t 60 start </dev/null >/dev/null || { tail -20 "$LOG" >&2; die "pg_ctl start failed"; }
        say "started on 127.0.0.1:$PORT (data $DATA, log $LOG$([ "$DURABLE" = 1 ] && echo ', durable'))"
    fi
    local psql=("$bin/psql" -X -w -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
    local fsync; fsync=$("${psql[@]}" -Atc "SHOW fsync" </dev/null)
    if [ "$DURABLE" = 1 ] && [ "$fsync" != on ]; then
        die "the server on port $PORT is running with fsync=$fsync; stop it first to restart it --durable"
    fi
    local password; password=$(cat "$DIR/password")
    if [ "$("${psql[@]}" -Atc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'" </dev/null)" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$password'" </dev/null >/dev/null
    fi
    if [ "$("${psql[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" </dev/null)" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB OWNER $ROLE" </dev/null >/dev/null
    fi
    url
}

stop() {
    local bin; bin=$(pgbin)
    if [ -n "$bin" ] && [ -s "$DATA/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w -t 60 stop </dev/null >/dev/null || die "pg_ctl stop failed"
        say "stopped"
    else
        say "not running"
    fi
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) if is_up; then say "up on 127.0.0.1:$PORT"; else say "down"; exit 3; fi ;;
    url) [ -s "$DIR/password" ] || die "no cluster in $DIR (run start)"; url ;;
    purge) stop; rm -rf "$DIR"; say "removed $DIR" ;;
    *) echo "usage: $0 start|stop|restart|status|url|purge [--port P] [--dir D]" >&2; exit 2 ;;
esac
