#!/usr/bin/env bash
# mariadb.sh start DIR [WATCH_PID] | stop DIR
#
# A private MariaDB server for the MySQL probe tests: data in DIR/data, unix
# socket DIR/sock, no TCP (skip-networking), no config files read
# (--no-defaults), runs as root when started by root. `start` returns once the
# server answers on the socket and prints the socket path; with WATCH_PID the
# server is also stopped when that process exits (a test that crashes does not
# leave it behind). `stop` shuts it down and waits for it to exit.
set -euo pipefail
# Close every inherited descriptor above stderr: the server and the watchdog
# outlive this script, and a caller's descriptor they kept open would be held
# for their lifetime (Foundation's Process detects a child's exit by such a
# socket: waitUntilExit would wait for the server).
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
done
cmd=${1:?usage: mariadb.sh start DIR [WATCH_PID] | stop DIR}
dir=${2:?usage: mariadb.sh start DIR [WATCH_PID] | stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock=$dir/sock pidfile=$dir/mariadbd.pid log=$dir/mariadbd.log
user=$(id -un)

stop() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case $cmd in
start)
  command -v mariadbd >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
  command -v mariadbd >/dev/null 2>&1 || { echo "mariadb.sh: mariadbd not found; run scripts/setup.sh" >&2; exit 1; }
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { echo "mariadb.sh: mariadb-install-db failed:" >&2; tail -20 "$dir/install.log" >&2; exit 1; }
  fi
  stop
  mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --skip-networking \
    --pid-file="$pidfile" --user="$user" --log-error="$log" \
    --innodb-buffer-pool-size=16M --skip-log-bin --performance-schema=OFF >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 300); do
    if [ -S "$sock" ] && mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then
      if [ -n "${3:-}" ]; then
        # Watchdog: stop the server when the process that started it is gone.
        ( watch=$3; while kill -0 "$watch" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
          kill -TERM "$server" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
      fi
      echo "$sock"
      exit 0
    fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "mariadb.sh: mariadbd did not become ready; log:" >&2
  tail -20 "$log" >&2 || true
  kill -TERM "$server" 2>/dev/null || true
  exit 1
  ;;
stop)
  stop
  ;;
*)
  echo "usage: mariadb.sh start DIR [WATCH_PID] | stop DIR" >&2
  exit 2
  ;;
esac
