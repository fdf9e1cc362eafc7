#!/usr/bin/env bash
# End-to-end test of profiles/slurm on a real one-node SLURM cluster, started here by hand (no systemd).
#
#   1. installs Debian's slurmctld, slurmd, slurm-client and munge when they are missing (apt-get);
#   2. writes /etc/slurm/slurm.conf: this machine as the only node, partitions `cpu` (default) and `gpu`,
#      no accounting database (so the profile's squeue status check is what works), MinJobAge 600 s;
#   3. starts munged, slurmctld and slurmd and waits for the node to be idle;
#   4. runs the tiny workflow plus one GPU-routed model (tests/slurm/config.yaml) with
#      `--profile profiles/slurm`, CPU-sized (`gpu=0`: the `gpu` partition has no GPUs here);
#   5. meanwhile cancels (scancel) one running training job once, which Snakemake must resubmit;
#   6. checks (tests/slurm/check_run.py) that every rule ran through sbatch in its intended partition, that
#      the cancelled job was submitted again, with attempt x its time limit, and completed, and that the
#      workflow's outputs exist;
#   7. stops the daemons it started, by PID, and removes the slurm.conf it wrote.
# Before all that (it needs no cluster, so it also runs where SLURM is skipped, and in the pytest suite),
# tests/slurm/test_sbatch_calls.py checks the sbatch command lines the profile produces with a stand-in
# sbatch: a GPU model's training job asks for its GPU (`--gpus=1`, which this GPU-less cluster cannot show)
# and each retry asks for attempt x the memory and time.
#
# Run as root: `bash tests/slurm/run.sh`. Exit status 0: passed; 77: skipped, SLURM cannot run here (the
# reason is printed); anything else: failed. Environment:
#   FVC_SLURM_TEST_DIR          scratch folder (default: a new /tmp/fvc-slurm.XXXXXX), kept for inspection
#   FVC_SLURM_WORKFLOW_TIMEOUT  seconds the Snakemake run may take (default 1200; it takes about 300-450)
#
# The slurm.conf has to be at the default path: the plugin's job step strips SLURM_* variables (SLURM_CONF
# included) before the nested `srun`, which then reads /etc/slurm/slurm.conf. A slurm.conf this script did
# not write is never touched (the test skips).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONF=/etc/slurm/slurm.conf
MARKER="# written by fvc tests/slurm/run.sh"
SKIP=77
STARTED_PIDS=()       # "name:pid" of each daemon this script started; cleanup stops exactly these
WROTE_CONF=0
W=""

log() { printf '[slurm-test %(%H:%M:%S)T] %s\n' -1 "$*"; }

skip() {
    printf '\n%s\n' "################################################################################"
    printf '## SLURM TEST SKIPPED: %s\n' "$*"
    printf '%s\n\n' "################################################################################"
    exit "$SKIP"
}

fail() {
    log "FAILED: $*"
    exit 1
}

pid_alive() { kill -0 "$1" 2>/dev/null; }

# Sends TERM to each "name:pid", waits up to $1 seconds for all of them, then sends KILL to any left.
stop_pids() {
    local seconds=$1 entry
    shift
    for entry in "$@"; do
        if pid_alive "${entry##*:}"; then
            log "stopping ${entry%%:*} (pid ${entry##*:})"
            kill -TERM "${entry##*:}" 2>/dev/null || true
        fi
    done
    for _ in $(seq 1 $((seconds * 5))); do
        local alive=0
        for entry in "$@"; do pid_alive "${entry##*:}" && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.2
    done
    for entry in "$@"; do
        if pid_alive "${entry##*:}"; then
            log "${entry%%:*} (pid ${entry##*:}) ignored SIGTERM; sending SIGKILL"
            kill -KILL "${entry##*:}" 2>/dev/null || true
        fi
    done
}

# Also the fallback when CI's `timeout -k 10` sends TERM: everything here fits in those 10 seconds.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    local jobs=""
    [ -n "${WATCHER_PID:-}" ] && pid_alive "$WATCHER_PID" && kill -TERM "$WATCHER_PID" 2>/dev/null
    [ -n "${SNAKEMAKE_PID:-}" ] && pid_alive "$SNAKEMAKE_PID" && log "stopping snakemake (pid $SNAKEMAKE_PID)" &&
        kill -TERM "$SNAKEMAKE_PID" 2>/dev/null
    if [ "$WROTE_CONF" = 1 ]; then
        jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ' || true)
    fi
    if [ -n "${jobs// /}" ]; then
        # Jobs still queued or running (a failed or interrupted run): their slurmstepd would outlive slurmd.
        log "cancelling the test cluster's remaining jobs: $jobs"
        # shellcheck disable=SC2086
        scancel --full $jobs 2>/dev/null || true
        for _ in $(seq 1 15); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    [ -n "${SNAKEMAKE_PID:-}" ] && stop_pids 2 "snakemake:$SNAKEMAKE_PID"
    ((${#STARTED_PIDS[@]})) && stop_pids 4 "${STARTED_PIDS[@]}"
    STARTED_PIDS=()
    if [ "$WROTE_CONF" = 1 ] && [ -f "$CONF" ] && head -n 1 "$CONF" | grep -qF "$MARKER"; then
        rm -f "$CONF"
    fi
    [ -n "$W" ] && log "scratch folder (logs, results): $W"
    exit "$status"
}

# ---------------------------------------------------------------------------------------------- install

install_slurm() {
    local needed=(slurmctld slurmd sbatch squeue scancel sinfo munged)
    local missing=0 cmd
    for cmd in "${needed[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing=1
    done
    if [ "$missing" = 0 ]; then
        log "slurm and munge already installed"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || skip "slurm/munge are not installed and there is no apt-get to install them"
    log "installing slurmctld slurmd slurm-client munge with apt-get"
    local t0=$SECONDS
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge; } >"$W/apt.log" 2>&1; then
        tail -n 20 "$W/apt.log" >&2
        skip "apt-get could not install slurm-wlm/munge (no package mirror reachable?); see $W/apt.log"
    fi
    log "TIMING install: $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------------------------------------ munge

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running; using it"
        return
    fi
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        log "creating munge key $key"
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile="$key" --force
        elif command -v create-munge-key >/dev/null 2>&1; then
            create-munge-key -f
        else
            dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
        fi
    fi
    chown munge:munge /etc/munge "$key"
    chmod 700 /etc/munge
    chmod 400 "$key"
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force
    local pid=""
    for _ in $(seq 1 50); do
        if [ -s /run/munge/munged.pid ]; then pid=$(cat /run/munge/munged.pid); break; fi
        sleep 0.1
    done
    [ -n "$pid" ] || fail "munged did not start (see /var/log/munge/munged.log)"
    STARTED_PIDS+=("munged:$pid")
    munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
    log "munged started (pid $pid)"
}

# ------------------------------------------------------------------------------------------------ slurm

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARKER"; then
        skip "$CONF exists and was not written by this test (a real SLURM installation?); not touching it"
    fi
    local host cpus mem real_mem ctld_port slurmd_port
    host=$(hostname -s)
    # The CPUs this process may use, and 85 % of the memory slurmd finds (slurmd -C: "... RealMemory=N").
    cpus=$(nproc)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
    real_mem=$((mem * 85 / 100))
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
    mkdir -p /etc/slurm "$W/spool" "$W/state"
    cat >"$CONF" <<EOF
$MARKER; removed when the test ends. Scratch: $W
ClusterName=fvctest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# One line per finished job (id, name, state, partition): the test's record of where each job ran.
JobCompType=jobcomp/filetxt
JobCompLoc=$W/jobcomp.log
# Finished jobs stay visible to squeue (the profile's status command) for 10 minutes.
MinJobAge=600
# A cancelled job's processes get SIGKILL 5 s after SIGTERM (default 30 s).
KillWait=5
ReturnToService=2
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmdSpoolDir=$W/spool
StateSaveLocation=$W/state
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
    WROTE_CONF=1
    log "wrote $CONF: node $host, $cpus CPUs, RealMemory $real_mem MB, partitions cpu (default) and gpu"
}

start_daemon() {
    local name=$1 pidfile=$2
    shift 2
    rm -f "$pidfile"
    "$@" || fail "$name did not start: $(tail -n 20 "$W/$name.log" 2>/dev/null)"
    local pid=""
    for _ in $(seq 1 100); do
        if [ -s "$pidfile" ]; then pid=$(cat "$pidfile"); break; fi
        sleep 0.1
    done
    [ -n "$pid" ] && pid_alive "$pid" || fail "$name did not stay up: $(tail -n 20 "$W/$name.log" 2>/dev/null)"
    STARTED_PIDS+=("$name:$pid")
    log "$name started (pid $pid)"
}

start_slurm() {
    local t0=$SECONDS state=""
    start_munge
    write_conf
    start_daemon slurmctld "$W/slurmctld.pid" /usr/sbin/slurmctld -i -f "$CONF"
    start_daemon slurmd "$W/slurmd.pid" /usr/sbin/slurmd -f "$CONF"
    for _ in $(seq 1 120); do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
        [ "$state" = idle ] && break
        sleep 0.5
    done
    [ "$state" = idle ] || fail "node not idle after 60 s (state '$state'); slurmd log: $(tail -n 20 "$W/slurmd.log")"
    log "TIMING cluster start: $((SECONDS - t0)) s ($(sinfo --version))"
    sinfo -o '%P %a %D %c %m %t %N'
}

# --------------------------------------------------------------------------------------------- workflow

# Cancels the first running `transfer` training job once it has run for a few seconds (the job Snakemake
# must then resubmit), and records its id in $W/cancelled_job.
cancel_one_training_job() {
    local id="" comment
    for _ in $(seq 1 1200); do
        while read -r id comment; do
            case "$comment" in
                rule_train_wildcards_transfer_*)
                    sleep 4
                    if squeue -h -j "$id" -t RUNNING -o %i 2>/dev/null | grep -qx "$id"; then
                        scancel "$id"
                        echo "$id $comment" >"$W/cancelled_job"
                        echo "[slurm-test watcher] scancel $id ($comment) while RUNNING"
                        return 0
                    fi
                    ;;
            esac
        done < <(squeue -h -t RUNNING -o '%i %k' 2>/dev/null || true)
        sleep 1
    done
    echo "[slurm-test watcher] no running transfer training job seen; nothing cancelled"
}

run_workflow() {
    local timeout_s=${FVC_SLURM_WORKFLOW_TIMEOUT:-1200} t0=$SECONDS status=0
    local run="$W/run"
    mkdir -p "$run"
    cd "$REPO"
    cancel_one_training_job >"$W/watcher.log" 2>&1 &
    WATCHER_PID=$!
    log "running the workflow on SLURM (timeout ${timeout_s}s); Snakemake's log: $W/snakemake.log"
    # The test cluster has no GPUs and little memory: GPU counts go to 0 and training memory down, while the
    # partitions still follow the registry's needs_gpu. One thread per job lets two jobs share the 2 CPUs;
    # the shorter status-check interval keeps a chain of short jobs from waiting on the poll.
    # In the background, in this script's process group: a TERM to the script runs its cleanup at once
    # (bash defers traps while a foreground child runs), and CI's timeout reaches Snakemake too.
    python -m snakemake \
        --profile profiles/slurm \
        --snakefile "$REPO/Snakefile" \
        --directory "$run" \
        --configfile "$REPO/tests/slurm/config.yaml" \
        --set-resources train:gpu=0 train:mem_mb=1500 \
        --max-threads 1 \
        --slurm-keep-successful-logs \
        --slurm-init-seconds-before-status-checks 5 \
        --seconds-between-status-checks 5 \
        >"$W/snakemake.log" 2>&1 &
    SNAKEMAKE_PID=$!
    while pid_alive "$SNAKEMAKE_PID"; do
        if ((SECONDS - t0 >= timeout_s)); then
            log "the workflow ran past ${timeout_s}s; stopping it"
            stop_pids 5 "snakemake:$SNAKEMAKE_PID"
            break
        fi
        sleep 1
    done
    wait "$SNAKEMAKE_PID" || status=$?
    SNAKEMAKE_PID=""
    WORKFLOW_SECONDS=$((SECONDS - t0))
    if pid_alive "$WATCHER_PID"; then kill -TERM "$WATCHER_PID" 2>/dev/null || true; fi
    wait "$WATCHER_PID" 2>/dev/null || true
    cat "$W/watcher.log"
    # The controller's view of every job of the run (finished ones stay MinJobAge = 600 s), for the checker.
    squeue --states=all -h -o '%i|%P|%T|%k' >"$W/squeue.txt" || true
    log "TIMING workflow: ${WORKFLOW_SECONDS} s (exit status $status)"
    if [ "$status" != 0 ]; then
        tail -n 80 "$W/snakemake.log"
        fail "snakemake --profile profiles/slurm exited with status $status"
    fi
    grep -E "Finished jobid|steps \(100%\) done|Complete log" "$W/snakemake.log" | tail -n 3
}

main() {
    log "sbatch command lines (stand-in sbatch, no cluster): GPU request and growing limits on retries"
    (cd "$REPO" && python -m pytest -q -p no:cacheprovider tests/slurm/test_sbatch_calls.py) ||
        fail "the profile's sbatch command lines are wrong (tests/slurm/test_sbatch_calls.py)"
    [ "$(id -u)" = 0 ] || skip "needs root (installs packages, starts munged/slurmctld/slurmd); run: sudo bash $0"
    W="${FVC_SLURM_TEST_DIR:-$(mktemp -d /tmp/fvc-slurm.XXXXXX)}"
    mkdir -p "$W"
    trap cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    log "scratch folder: $W"
    install_slurm
    start_slurm
    run_workflow
    python3 "$REPO/tests/slurm/check_run.py" --scratch "$W" --config "$REPO/tests/slurm/config.yaml"
    log "PASSED: workflow completed on SLURM; partitions and scancel retry verified"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
