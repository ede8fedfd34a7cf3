#!/usr/bin/env bash
# A throw-away SLURM cluster on this one host, for the tests: munge, slurmctld
# and N slurmd as emulated nodes (node1..nodeN), fake GPUs, a small
# MaxArraySize. Everything lives under $CADENZA_SLURM_DIR; daemons are
# stopped by their pid files, never by name. Must run as root.
#
#   scripts/slurm-test-cluster.sh start   # prints nothing on success but the SLURM_CONF line
#   scripts/slurm-test-cluster.sh stop
#   scripts/slurm-test-cluster.sh env     # export SLURM_CONF=...
#
# Knobs: CADENZA_SLURM_DIR (/tmp/cadenza-slurm), CADENZA_SLURM_NODES (3),
# CADENZA_SLURM_GPUS (2 per node), CADENZA_SLURM_MAX_ARRAY (5),
# CADENZA_SLURM_PORT (6917: slurmctld; slurmd of nodeK on PORT+K).
set -euo pipefail

dir=${CADENZA_SLURM_DIR:-/tmp/cadenza-slurm}
nodes=${CADENZA_SLURM_NODES:-3}
gpus=${CADENZA_SLURM_GPUS:-2}
max_array=${CADENZA_SLURM_MAX_ARRAY:-5}
port=${CADENZA_SLURM_PORT:-6917}
conf=$dir/slurm.conf
sock=$dir/munge/munge.socket
export SLURM_CONF=$conf
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

say() { echo "slurm-test-cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }

# A pid is ours if it exists, is not a zombie (a killed daemon may linger
# unreaped) and has the expected command name (a reused pid is not ours).
is_running() {  # pidfile comm
  local pid state
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1  # a stopping daemon may remove its own pid file
  [ -r "/proc/$pid/stat" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$2" ] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
  [ "$state" != Z ] && [ "$state" != X ]
}

stop_by_pidfile() {  # pidfile comm
  is_running "$1" "$2" || { rm -f "$1"; return 0; }
  local pid i
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do is_running "$1" "$2" || { rm -f "$1"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

wait_until() {  # seconds command...
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.1; done
}

munge_works() { munge -S "$sock" -n | unmunge -S "$sock"; }
ctld_up() { scontrol ping | grep -q UP; }
nodes_idle() {
  local out
  out=$(sinfo -h -N -o '%N %t') || return 1
  [ "$(grep -c . <<<"$out")" -ge "$nodes" ] && ! grep -vqE ' (idle|mix|alloc)$' <<<"$out"
}
scheduler_ran() {  # SchedulerParameters take effect after the first scheduling pass
  [ "$(sdiag | awk '/Main schedule statistics/{m=1} m&&/Total cycles:/{print $3; exit}')" -ge 1 ]
}

write_conf() {
  local cpus=4 mem=4096 gres="" k
  [ "$gpus" -gt 0 ] && gres=" Gres=gpu:$gpus"
  cat >"$conf" <<CONF
# written by scripts/slurm-test-cluster.sh: $nodes emulated nodes on one host
ClusterName=cadenzatest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
MailProg=/bin/true
# No cgroups here: memory limits are not enforced on this cluster.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SlurmdParameters=config_overrides
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
# No slurmdbd: sacct does not work, as on some real clusters.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
CONF
  [ "$gpus" -gt 0 ] && echo "GresTypes=gpu" >>"$conf"
  [ "$max_array" -gt 0 ] && echo "MaxArraySize=$max_array" >>"$conf"
  for k in $(seq "$nodes"); do
    echo "NodeName=node$k NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((port + k)) CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem$gres State=UNKNOWN" >>"$conf"
  done
  # LLN: each job on the least-loaded node, so small jobs spread over the nodes.
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP LLN=YES" >>"$conf"
  rm -f "$dir/gres.conf"
  if [ "$gpus" -gt 0 ]; then  # fake GPUs: character devices nobody reads
    mkdir -p "$dir/fakedev"
    for k in $(seq 0 $((gpus - 1))); do [ -e "$dir/fakedev/gpu$k" ] || mknod "$dir/fakedev/gpu$k" c 1 3; done
    printf 'AutoDetect=off\nName=gpu File=%s/fakedev/gpu[0-%d]\n' "$dir" $((gpus - 1)) >"$dir/gres.conf"
  fi
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd switches to the job's user)"
  command -v slurmctld >/dev/null || die "slurm-wlm is not installed (scripts/setup-deps.sh --with-slurm)"
  stop 2>/dev/null || true
  rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  mkdir -p "$dir"/{state,spool,log,run,munge}
  for k in $(seq "$nodes"); do mkdir -p "$dir/spool/node$k"; done
  chmod 0711 "$dir/munge"  # munged insists
  [ -s "$dir/munge/munge.key" ] || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none
  chmod 0600 "$dir/munge/munge.key"
  write_conf
  munged --key-file="$dir/munge/munge.key" --socket="$sock" --pid-file="$dir/munge/munged.pid" \
         --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  wait_until 10 munge_works || die "munge does not work (see $dir/munge/munged.log)"
  slurmctld -f "$conf" || die "slurmctld: $(tail -3 "$dir/log/slurmctld.log")"
  wait_until 30 ctld_up || die "slurmctld does not answer: $(tail -3 "$dir/log/slurmctld.log")"
  for k in $(seq "$nodes"); do slurmd -f "$conf" -N "node$k" || die "slurmd node$k failed"; done
  wait_until 30 nodes_idle || { sinfo -N >&2; die "nodes did not come up"; }
  wait_until 30 scheduler_ran || say "warning: no scheduling pass yet"
  echo "export SLURM_CONF=$conf"
}

stop() {
  if is_running "$dir/run/slurmctld.pid" slurmctld; then
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
  fi
  local f
  for f in "$dir"/run/slurmd-*.pid; do [ -e "$f" ] && stop_by_pidfile "$f" slurmd; done
  stop_by_pidfile "$dir/run/slurmctld.pid" slurmctld
  stop_by_pidfile "$dir/munge/munged.pid" munged  # last: the others authenticate while stopping
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
