#!/usr/bin/env bash
# A real single-machine Slurm (munged + slurmctld + slurmd on 127.0.0.1) for Tunesmith's Slurm tests and for trying
# `tunesmith slurm submit` without a cluster.
#
#   scripts/slurm-local.sh start    install slurm + munge when missing, write the config, start the daemons;
#                                   prints only the config path on stdout (export SLURM_CONF=$(scripts/slurm-local.sh start))
#   scripts/slurm-local.sh stop     cancel this cluster's jobs, stop its daemons (by pid file; state kept)
#   scripts/slurm-local.sh status   exit 0 when the cluster is up, 3 when it is down
#   scripts/slurm-local.sh purge    stop and delete the state directory (fresh job ids)
#
# Settings (environment): TUNESMITH_SLURM_DIR (state, default /tmp/tunesmith-slurm), TUNESMITH_SLURM_CPUS (CPUs the node
# advertises, default 8: more than the machine has, so several one-trial jobs run at once), TUNESMITH_SLURM_GPUS (fake
# GPUs, default 4), TUNESMITH_SLURM_MAX_ARRAY (MaxArraySize, default 1001), TUNESMITH_SLURM_PORT (slurmctld port, default
# 6827; slurmd uses the next one).
#
# Nothing is written to /etc/slurm: Slurm's programs find this cluster through SLURM_CONF only, so this machine does not
# look like a cluster login node to the rest of the test suite (see docs/SLURM.md, "login-node guard").
# The node is "localhost" at 127.0.0.1 whatever the hostname. There is no accounting daemon: Tunesmith reads job states
# from `scontrol show job` (finished jobs stay visible for an hour, MinJobAge=3600). Fake GPUs are /dev/null symlinks
# listed in gres.conf, so Slurm hands out CUDA_VISIBLE_DEVICES as on a real GPU node. The settings that make tests quick:
# batch_sched_delay=0 (jobs start within about a second), sched_interval=3 and cred_expire=10 (a requeued job runs again
# after about 12 s instead of 2 minutes), KillWait=5 (SIGTERM to SIGKILL). Must run as root; no systemd needed.
# Partitions: debug (default) and second are never preempted; a job in urgent (PriorityTier=10) preempts jobs in low,
# which are requeued (PreemptType=preempt/partition_prio, PreemptMode=REQUEUE, GraceTime=10 s from SIGTERM to SIGKILL).
# `start` on a running cluster whose settings differ from what it writes restarts the daemons in place (jobs are kept).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

DIR=${TUNESMITH_SLURM_DIR:-/tmp/tunesmith-slurm}
CPUS=${TUNESMITH_SLURM_CPUS:-8}
GPUS=${TUNESMITH_SLURM_GPUS:-4}
MAX_ARRAY=${TUNESMITH_SLURM_MAX_ARRAY:-1001}
CTLD_PORT=${TUNESMITH_SLURM_PORT:-6827}
SLURMD_PORT=$((CTLD_PORT + 1))
CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF
MUNGE_SOCKET=$DIR/munge/socket

say() { echo "[slurm-local] $*" >&2; }
fail() { say "error: $*"; exit 1; }

# alive PIDFILE NAME: the pid in the file is a live (non-zombie) process called NAME.
alive() {
    local pid state
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
    [ "$state" != Z ]
}

# stop_daemon PIDFILE NAME: SIGTERM that one pid, wait up to 20 s, then SIGKILL.
stop_daemon() {
    local pid i
    alive "$1" "$2" || { rm -f "$1"; return 0; }
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do alive "$1" "$2" || { rm -f "$1"; return 0; }; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

# until_ok SECONDS WHAT CMD...: retry CMD every 0.2 s.
until_ok() {
    local end=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt "$end" ] || { say "gave up waiting for $what"; return 1; }
        sleep 0.2
    done
}

install_missing() {
    local missing=() p policy=0
    # slurm-wlm is the metapackage of slurmctld, slurmd and the clients; without recommends it pulls nothing else big.
    for p in slurm-wlm munge; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'ok installed' >/dev/null || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    # The packages' own service scripts must not start system daemons: we run private ones.
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=1; fi
    local rc=0
    { apt-get -o DPkg::Lock::Timeout=300 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -q --no-install-recommends "${missing[@]}"; } </dev/null >"$DIR.apt.log" 2>&1 || rc=$?
    [ $policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || { tail -5 "$DIR.apt.log" >&2; fail "apt-get install failed (log $DIR.apt.log)"; }
}

write_config() {
    local out=${1:-$CONF} mem i
    mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
    mem=${mem:-4096}
    mkdir -p "$DIR/etc" "$DIR/log" "$DIR/spool/ctld" "$DIR/spool/d" "$DIR/gpu"
    local gres="" types=""
    if [ "$GPUS" -gt 0 ]; then
        # Slurm only sets CUDA_VISIBLE_DEVICES for GRES files that are character devices.
        for ((i = 0; i < GPUS; i++)); do ln -sfn /dev/null "$DIR/gpu/nvidia$i"; done
        echo "NodeName=localhost Name=gpu File=$DIR/gpu/nvidia[0-$((GPUS - 1))]" > "$DIR/etc/gres.conf"
        gres=" Gres=gpu:$GPUS"; types="GresTypes=gpu"
    fi
    # Jobs that ask for no memory get a share of the node, else each would hold all of it and they would run one by one.
    local per_cpu=$((mem / CPUS)); [ $per_cpu -gt 1024 ] && per_cpu=1024
    cat > "$out" <<EOF
# Written by Tunesmith's scripts/slurm-local.sh: one node on 127.0.0.1, for tests.
ClusterName=tunesmith
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$per_cpu
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=3,bf_interval=2
MinJobAge=3600
MaxArraySize=$MAX_ARRAY
MaxJobCount=20000
KillWait=5
InactiveLimit=0
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$types
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$mem$gres State=UNKNOWN
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=OFF
PartitionName=second Nodes=localhost MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=OFF
PartitionName=low Nodes=localhost MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10
PartitionName=urgent Nodes=localhost MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
}

start_munge() {
    alive "$DIR/munge/pid" munged && return 0
    install -d -o munge -g munge -m 0755 "$DIR/munge"
    [ -s "$DIR/munge/key" ] || dd if=/dev/urandom of="$DIR/munge/key" bs=1024 count=1 status=none
    chown munge:munge "$DIR/munge/key"; chmod 0400 "$DIR/munge/key"
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/key" --pid-file="$DIR/munge/pid" \
        --log-file="$DIR/munge/log" --seed-file="$DIR/munge/seed" </dev/null || fail "munged did not start (log $DIR/munge/log)"
    until_ok 15 munged bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'" || fail "munge does not answer"
}

node_idle() { sinfo -h -n localhost -o %t | grep -E '^(idle|mix|alloc)$' >/dev/null; }
ctld_up() { scontrol ping | grep 'is UP' >/dev/null; }

up() { alive "$DIR/munge/pid" munged && alive "$DIR/slurmctld.pid" slurmctld && alive "$DIR/slurmd.pid" slurmd && node_idle; }

start() {
    [ "$(id -u)" = 0 ] || fail "must run as root (it starts munged, slurmctld and slurmd)"
    mkdir -p "$DIR"
    install_missing
    if up; then
        # A running cluster whose settings this script now writes differently (e.g. after an update of the script) is
        # restarted in place: slurmctld and slurmd recover their state, running jobs go on.
        write_config "$CONF.new"
        if cmp -s "$CONF" "$CONF.new"; then rm -f "$CONF.new"; echo "$CONF"; return 0; fi
        say "settings changed: restarting slurmctld and slurmd (jobs are kept)"
        mv "$CONF.new" "$CONF"
        stop_daemon "$DIR/slurmd.pid" slurmd
        stop_daemon "$DIR/slurmctld.pid" slurmctld
    fi
    start_munge
    write_config
    alive "$DIR/slurmctld.pid" slurmctld || slurmctld </dev/null || fail "slurmctld did not start (log $DIR/log/slurmctld.log)"
    until_ok 30 slurmctld ctld_up || { tail -5 "$DIR/log/slurmctld.log" >&2; fail "slurmctld does not answer"; }
    alive "$DIR/slurmd.pid" slurmd || slurmd -N localhost </dev/null || fail "slurmd did not start (log $DIR/log/slurmd.log)"
    if ! until_ok 20 "node localhost" node_idle; then
        scontrol update NodeName=localhost State=RESUME </dev/null || true
        until_ok 10 "node localhost" node_idle || { tail -5 "$DIR/log/slurmd.log" >&2; fail "node localhost is not usable"; }
    fi
    say "up: $(sinfo -h -o '%P %c CPUs %G' | tr '\n' ' ')(SLURM_CONF=$CONF)"
    echo "$CONF"
}

stop() {
    if alive "$DIR/slurmctld.pid" slurmctld; then
        local jobs
        jobs=$(squeue -h -o %F 2>/dev/null </dev/null | sort -u | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086
            scancel $jobs </dev/null 2>/dev/null || true
            until_ok 20 "jobs to end" bash -c '[ -z "$(squeue -h -o %i)" ]' || true
        fi
    fi
    stop_daemon "$DIR/slurmd.pid" slurmd
    stop_daemon "$DIR/slurmctld.pid" slurmctld
    stop_daemon "$DIR/munge/pid" munged
    say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if up; then say "up (SLURM_CONF=$CONF)"; exit 0; else say "down"; exit 3; fi ;;
    purge) stop; rm -rf "$DIR"; say "removed $DIR" ;;
    *) echo "usage: $0 start|stop|status|purge" >&2; exit 2 ;;
esac
