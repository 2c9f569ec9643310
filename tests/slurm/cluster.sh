#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on localhost, for testing the slurm profile.
#
#   tests/slurm/cluster.sh start DIR   # install what is missing, write DIR/etc/slurm.conf,
#                                      # start munged, (mariadbd, slurmdbd,) slurmctld, slurmd,
#                                      # wait until the node is idle
#   source DIR/env                     # SLURM_CONF and PATH for sbatch, sacct, snakemake
#   tests/slurm/cluster.sh stop DIR    # stop every daemon started in DIR (by its pid file)
#   tests/slurm/cluster.sh status DIR  # sinfo / squeue / daemon pids
#
# Everything (config, keys, sockets, state, spool, logs, database) lives in DIR; apart from
# installing the packages nothing under /etc or /var is touched and no system service is started.
# Needs root (installs Debian packages when missing, runs the daemons as root). TCP ports:
# SLURM_TEST_PORT (slurmctld, default 6817), +1 (slurmd), +2 (slurmdbd), +3 (MariaDB, 127.0.0.1
# only); every request to the SLURM daemons is authenticated by the munge key in DIR.
#
# Accounting: the executor plugin polls `sacct` for job states. On Slurm 22.05 (Debian 12)
# `sacct` needs slurmdbd (there is no text-file accounting storage any more), and slurmdbd needs
# MariaDB, so with SLURM_TEST_ACCOUNTING=slurmdbd (the default) both run here as well, from a
# private data directory. SLURM_TEST_ACCOUNTING=none skips them (lighter): `sacct` then fails,
# the plugin must be run with `--slurm-status-command squeue` (MinJobAge is high enough), and
# finished jobs are listed by `sacct --completion` from the job completion file (jobcomp/filetxt,
# written in both modes).
set -euo pipefail

PORT=${SLURM_TEST_PORT:-6817}
ACCOUNTING=${SLURM_TEST_ACCOUNTING:-slurmdbd}
CLUSTER=synthmir
PARTITION=test

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Install the Debian packages among "$@" that are not installed yet.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] \
        || die "missing packages; run: apt-get install --no-install-recommends ${missing[*]}"
    log "installing ${missing[*]}"
    # Keep the system services these packages ship (munge, mariadb, slurm*) from being started
    # by their install scripts: this script runs its own daemons from DIR.
    local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
    } || rc=$?
    [ $made_policy = 1 ] && rm -f $policy
    return $rc
}

# Wait up to $2 seconds for command $1 (a string, run by bash) to succeed, 5 s per attempt.
wait_for() {
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        timeout 5 bash -c "$1" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_config() {
    local dir=$1 cpus mem
    cpus=$(nproc)
    local overrides=""
    # The workflow's train and evaluate jobs ask for 2 CPUs: on a 1-core machine declare 2 anyway.
    if [ "$cpus" -lt 2 ]; then cpus=2; overrides="SlurmdParameters=config_overrides"; fi
    # Leave some memory to the OS and to whatever else runs on this machine.
    mem=$(awk '/MemAvailable/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    mkdir -p "$dir"/{etc,munge,state,spool,run,log,db}
    chmod 700 "$dir/munge"
    local storage="accounting_storage/none" storage_lines=""
    if [ "$ACCOUNTING" = slurmdbd ]; then
        storage="accounting_storage/slurmdbd"
        storage_lines="AccountingStorageHost=localhost
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$dir/munge/munge.socket
JobAcctGatherFrequency=5
AccountingStoreFlags=job_comment"
    fi
    cat > "$dir/etc/slurm.conf" <<EOF
# Single-node test cluster written by tests/slurm/cluster.sh; everything lives in $dir.
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers, CI runners): track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for an hour (the plugin's squeue mode needs it).
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
AccountingStorageType=$storage
$storage_lines
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
$overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    cat > "$dir/etc/cgroup.conf" <<EOF
# Not used (proctrack/linuxproc, task/none); present so no daemon goes looking for /etc/slurm.
CgroupAutomount=no
IgnoreSystemd=yes
EOF
    if [ "$ACCOUNTING" = slurmdbd ]; then
        cat > "$dir/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageLoc=slurm_acct_db
StorageUser=root
EOF
        chmod 600 "$dir/etc/slurmdbd.conf"
    fi
    # snakemake-executor-plugin-slurm-jobstep runs `srun` inside each job with every SLURM_*
    # variable but the job's id removed, SLURM_CONF included (upstream issue #164), so srun would
    # look for /etc/slurm/slurm.conf. Put an srun first on PATH that restores SLURM_CONF.
    mkdir -p "$dir/bin"
    local srun
    srun=$(PATH=/usr/local/bin:/usr/bin:/bin command -v srun)
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$dir/etc/slurm.conf" "$srun" > "$dir/bin/srun"
    chmod +x "$dir/bin/srun"
    printf 'export SLURM_CONF=%s\nexport PATH=%s:$PATH\n' "$dir/etc/slurm.conf" "$dir/bin" \
        > "$dir/env"
}

start_munge() {
    local dir=$1
    pid_alive "$dir/run/munged.pid" && return 0
    local key=$dir/munge/munge.key sock=$dir/munge/munge.socket
    [ -s "$key" ] || mungekey --create --keyfile="$key" 2>/dev/null \
        || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    chmod 600 "$dir/munge/munge.key"
    # --force: the temp dir's parents (/tmp) are world-writable, which munged distrusts.
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    wait_for "munge -S '$sock' -n </dev/null | unmunge -S '$sock'" 10 \
        || die "munged did not start; see $dir/log/munged.log"
}

start_mariadb() {
    local dir=$1 sock=$dir/db/mysqld.sock
    pid_alive "$dir/run/mariadbd.pid" && return 0
    if [ ! -d "$dir/db/data/mysql" ]; then
        mariadb-install-db --no-defaults --user=root --datadir="$dir/db/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$dir/log/mariadb-install.log" 2>&1 \
            || die "mariadb-install-db failed; see $dir/log/mariadb-install.log"
    fi
    # Small buffers: this database holds a few dozen job records.
    mariadbd --no-defaults --user=root --datadir="$dir/db/data" --socket="$sock" \
        --bind-address=127.0.0.1 --port=$((PORT + 3)) --pid-file="$dir/run/mariadbd.pid" \
        --log-error="$dir/log/mariadb.log" --skip-log-bin --innodb-buffer-pool-size=32M \
        --innodb-log-file-size=16M --innodb-lock-wait-timeout=900 --performance-schema=OFF \
        --skip-name-resolve \
        >/dev/null 2>&1 &
    wait_for "mariadb --no-defaults -uroot -S '$sock' -e 'select 1'" 60 \
        || die "MariaDB did not start; see $dir/log/mariadb.log"
    # slurmdbd connects over TCP as root without a password (the server listens on 127.0.0.1 only).
    mariadb --no-defaults -uroot -S "$sock" -e \
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1';
         CREATE DATABASE IF NOT EXISTS slurm_acct_db;"
}

start_slurmdbd() {
    local dir=$1
    pid_alive "$dir/run/slurmdbd.pid" && return 0
    # slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF.
    SLURM_CONF=$dir/etc/slurm.conf slurmdbd
    wait_for "SLURM_CONF='$dir/etc/slurm.conf' sacctmgr -n list cluster" 60 \
        || die "slurmdbd did not start; see $dir/log/slurmdbd.log"
    # Register the cluster before slurmctld starts, so it reports to the database at once.
    SLURM_CONF=$dir/etc/slurm.conf sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
}

start() {
    local dir
    [ $# -eq 1 ] || die "usage: $0 start DIR"
    [ "$(id -u)" = 0 ] || die "the test cluster runs its daemons as root; run as root"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    local packages=(slurm-wlm munge)
    [ "$ACCOUNTING" = slurmdbd ] && packages+=(slurmdbd mariadb-server)
    ensure_packages "${packages[@]}"
    # Whatever fails from here on, leave nothing running.
    STARTED_OK=0
    trap '[ "$STARTED_OK" = 1 ] || { log "start failed; stopping what started"; stop "$dir"; }' EXIT
    if ! pid_alive "$dir/run/slurmctld.pid"; then
        local port
        for port in $PORT $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                die "port $port is in use (a test cluster left running? \`$0 stop ITS_DIR\`," \
                    "or choose other ports with SLURM_TEST_PORT)"
            fi
        done
    fi
    write_config "$dir"
    export SLURM_CONF=$dir/etc/slurm.conf
    start_munge "$dir"
    if [ "$ACCOUNTING" = slurmdbd ]; then
        start_mariadb "$dir"
        start_slurmdbd "$dir"
    fi
    pid_alive "$dir/run/slurmctld.pid" || slurmctld -f "$SLURM_CONF"
    wait_for "scontrol ping | grep -q UP" 30 \
        || die "slurmctld did not start; see $dir/log/slurmctld.log"
    pid_alive "$dir/run/slurmd.pid" || slurmd -f "$SLURM_CONF" -N localhost
    wait_for "sinfo -h -n localhost -o %T | grep -qx idle" 60 \
        || die "node not idle: $(sinfo -h -N -o '%N %T %E' 2>&1); see $dir/log/slurmd.log"
    STARTED_OK=1
    log "up: $(sinfo -h -o '%P %D %c cpus %m MB %T') (accounting: $ACCOUNTING)"
    cat "$dir/env"
}

# Stop one daemon by its pid file; SIGKILL if it is still there after $3 seconds.
stop_daemon() {
    local name=$1 pidfile=$2 wait=${3:-10} pid i
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < wait * 4; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) still running; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop() {
    local dir
    [ $# -eq 1 ] || die "usage: $0 stop DIR"
    [ -d "$1" ] || return 0
    dir=$(cd "$1" && pwd)
    if [ -f "$dir/etc/slurm.conf" ] && pid_alive "$dir/run/slurmctld.pid"; then
        # Cancel whatever is left, so slurmstepd processes go away with their jobs.
        SLURM_CONF=$dir/etc/slurm.conf timeout 10 scancel --full --quiet \
            "$(SLURM_CONF=$dir/etc/slurm.conf squeue -h -o %i | tr '\n' ' ')" 2>/dev/null || true
    fi
    stop_daemon slurmd "$dir/run/slurmd.pid" 15
    stop_daemon slurmctld "$dir/run/slurmctld.pid" 15
    stop_daemon slurmdbd "$dir/run/slurmdbd.pid" 15
    stop_daemon mariadbd "$dir/run/mariadbd.pid" 30
    stop_daemon munged "$dir/run/munged.pid" 5
    # The accounting database (~100 MB) is disposable; logs, jobcomp.txt and state stay.
    if [ -d "$dir/db/data" ] && ! pid_alive "$dir/run/mariadbd.pid"; then rm -rf "$dir/db/data"; fi
    log "stopped daemons in $dir"
}

status() {
    local dir
    dir=$(cd "$1" && pwd)
    export SLURM_CONF=$dir/etc/slurm.conf
    local f
    for f in "$dir"/run/*.pid; do
        [ -e "$f" ] || continue
        printf '%s %s %s\n' "$(basename "$f" .pid)" "$(cat "$f")" \
            "$(pid_alive "$f" && echo running || echo dead)"
    done
    sinfo || true
    squeue || true
}

case ${1:-} in
    start | stop | status)
        cmd=$1
        shift
        "$cmd" "$@"
        ;;
    *) die "usage: $0 start|stop|status DIR" ;;
esac
