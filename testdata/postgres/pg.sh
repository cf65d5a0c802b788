#!/usr/bin/env bash
# pg.sh start DIR PORT [WATCH_PID] | stop DIR
#
# A private PostgreSQL 15 cluster for the libpq probe tests: data in DIR/data,
# unix socket in DIR (.s.PGSQL.PORT), no TCP (listen_addresses=''), trust
# authentication for the `postgres` role, fsync off. PostgreSQL refuses to run
# as root, so the cluster runs as the `postgres` user (Debian's package makes
# it), which owns DIR. initdb runs once per machine into a template under
# /var/cache/uprobe-trace (outside the clone) that each start copies (~0.1 s
# instead of ~2 s). `start` returns once the server accepts connections and
# prints DIR; with WATCH_PID the server is also stopped when that process exits.
# `stop` is `pg_ctl stop -m immediate`.
set -euo pipefail
# Close inherited descriptors above stderr (the server outlives this script;
# see mysql/mariadb.sh for why).
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
done
usage="usage: pg.sh start DIR PORT [WATCH_PID] | stop DIR"
cmd=${1:?$usage}
dir=${2:?$usage}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
user=postgres
as_pg() { if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi; }

case $cmd in
start)
  port=${3:?$usage}
  [ -x "$bin/postgres" ] || { echo "pg.sh: $bin/postgres not found; run scripts/setup.sh (postgresql)" >&2; exit 1; }
  id "$user" >/dev/null 2>&1 || { echo "pg.sh: no user $user (Debian's postgresql package creates it)" >&2; exit 1; }
  cache=${UPROBE_TRACE_CACHE:-/var/cache/uprobe-trace}/postgres-15-initdb
  mkdir -p "${cache%/*}"
  if [ ! -f "$cache/PG_VERSION" ]; then
    tmp=$(mktemp -d "${cache%/*}/.pg-initdb-XXXXXX")
    chown "$user" "$tmp"
    as_pg "$bin/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --no-sync --no-instructions >"$tmp/initdb.log" 2>&1 \
      || { echo "pg.sh: initdb failed:" >&2; tail -20 "$tmp/initdb.log" >&2; exit 1; }
    mv -T "$tmp/data" "$cache" 2>/dev/null || true   # another run may have won the race
    rm -rf "$tmp"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cp -a "$cache" "$dir/data"
  chown -R "$user" "$dir"
  chmod 700 "$dir/data"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=20" \
    start >/dev/null \
    || { echo "pg.sh: server did not start; log:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  if [ -n "${4:-}" ]; then
    server=$(head -1 "$dir/data/postmaster.pid")
    ( watch=$4; while kill -0 "$watch" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
      kill -QUIT "$server" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
  fi
  echo "$dir"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_pg "$bin/pg_ctl" -D "$dir/data" stop -m immediate -w -t 10 >/dev/null 2>&1 || {
    kill -KILL "$(head -1 "$dir/data/postmaster.pid")" 2>/dev/null || true; }
  ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
