#!/usr/bin/env bash
# A throw-away OpenSSH server on 127.0.0.1 for the ssh remote and sync tests
# and benchmarks: its own host key, a user key it accepts, one it refuses,
# and an ssh_config with three aliases:
#   cadenza-test             logs in (key accepted, host key known)
#   cadenza-test-unknown-key the host key is not in its known_hosts
#   cadenza-test-denied      a key the server does not accept
# Usage: eval "$(scripts/sshd-test-server.sh start)"   exports CADENZA_TEST_SSH_CONFIG
#        scripts/sshd-test-server.sh stop              stops it by its pid file
# Runs as root (sshd logs users in only as root can); needs openssh-server
# and rsync (scripts/setup-deps.sh --with-ssh).
set -euo pipefail
dir="${CADENZA_TEST_SSHD_DIR:-/tmp/cadenza-test-sshd}"
pidfile="$dir/sshd.pid"

stop() {
  local pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 0  # sshd removes its pid file as it exits
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
}

start() {
  stop
  rm -rf "$dir"
  mkdir -p "$dir" /run/sshd
  chmod 700 "$dir"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C cadenza-test-host
  ssh-keygen -q -t ed25519 -N '' -f "$dir/user_key" -C cadenza-test-user
  ssh-keygen -q -t ed25519 -N '' -f "$dir/other_key" -C cadenza-test-refused
  cp "$dir/user_key.pub" "$dir/authorized_keys"
  local port
  for port in $(seq 22220 22299); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null || break  # free: nothing answers
  done
  cat > "$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $pidfile
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
CONF
  echo "[127.0.0.1]:$port $(cat "$dir/host_key.pub")" > "$dir/known_hosts"
  : > "$dir/empty_known_hosts"
  local user; user="$(id -un)"
  cat > "$dir/ssh_config" <<CONF
Host cadenza-test cadenza-test-unknown-key cadenza-test-denied
  HostName 127.0.0.1
  Port $port
  User $user
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  LogLevel ERROR
Host cadenza-test
  IdentityFile $dir/user_key
  UserKnownHostsFile $dir/known_hosts
Host cadenza-test-unknown-key
  IdentityFile $dir/user_key
  UserKnownHostsFile $dir/empty_known_hosts
Host cadenza-test-denied
  IdentityFile $dir/other_key
  UserKnownHostsFile $dir/known_hosts
CONF
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  for _ in $(seq 50); do
    if ssh -F "$dir/ssh_config" -o BatchMode=yes cadenza-test true 2>/dev/null; then
      echo "export CADENZA_TEST_SSH_CONFIG=$dir/ssh_config"
      return 0
    fi
    sleep 0.1
  done
  echo "sshd-test-server.sh: sshd did not accept a login; see $dir/sshd.log" >&2
  stop
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
