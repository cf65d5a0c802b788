#!/usr/bin/env bash
# Benchmark (not a test): what `--postgres` adds to a libpq client per
# statement. A private PostgreSQL 15 cluster (testdata/postgres/pg.sh) and
# Debian's python3 + psycopg2 running COUNT `SELECT 1` (PQexec: 1 send probe +
# 3 PQgetResult calls = 7 hits) on one connection; the client's own CPU time
# (os.times: user + system, where the uprobe traps are charged) and wall time
# per statement, in interleaved rounds of three configurations:
#   untraced  nothing attached
#   entry     UPROBE_TRACE_ENTRY_SITES=1: PQsendQuery probed at its entry
#             (`mov $1,%edx`, single-stepped)
#   traced    the default sites (all emulated)
# Prints the median over rounds of µs per statement for each.
#
#   bash Benchmarks/postgres-cost.sh [COUNT] [ROUNDS]    (root)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3000} rounds=${2:-5}
bin=${UPROBE_TRACE_BIN:-.build/debug/uprobe-trace}
[ "$(id -u)" -eq 0 ] || { echo "postgres-cost.sh: needs root" >&2; exit 77; }
[ -x "$bin" ] || { echo "build first: swift build" >&2; exit 1; }
work=$(mktemp -d /tmp/ut-pgcost-XXXXXX) tool=""
port=$((30000 + $$ % 20000))
cleanup() {
  [ -n "$tool" ] && kill -INT "$tool" 2>/dev/null && wait "$tool" 2>/dev/null || true
  bash testdata/postgres/pg.sh stop "$work" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
bash testdata/postgres/pg.sh start "$work" "$port" $$ >/dev/null
cat > "$work/client.py" <<PY
import os, sys, time, psycopg2
conn = psycopg2.connect("host=$work port=$port user=postgres dbname=postgres"); conn.autocommit = True
cur = conn.cursor()
for _ in range(200): cur.execute("SELECT 1")
t0, c0 = time.monotonic(), os.times()
for _ in range($count): cur.execute("SELECT 1")
t1, c1 = time.monotonic(), os.times()
cpu = (c1.user - c0.user) + (c1.system - c0.system)
print("%.2f %.2f" % (cpu / $count * 1e6, (t1 - t0) / $count * 1e6))
PY
run() { # CONFIG
  case $1 in
    untraced) /usr/bin/python3 "$work/client.py" ;;
    *) if [ "$1" = entry ]; then UPROBE_TRACE_ENTRY_SITES=1 "$bin" --postgres --quiet 2>"$work/tool.err" & else "$bin" --postgres --quiet 2>"$work/tool.err" & fi
       tool=$!
       for _ in $(seq 1 100); do grep -q attached "$work/tool.err" 2>/dev/null && break; sleep 0.1; done
       /usr/bin/python3 "$work/client.py"
       kill -INT "$tool"; wait "$tool" 2>/dev/null || true; tool="" ;;
  esac
}
declare -A cpu wall
configs=(untraced entry traced)
for r in $(seq 1 "$rounds"); do
  for i in 0 1 2; do
    c=${configs[$(( (i + r) % 3 ))]}
    read -r u w < <(run "$c")
    cpu[$c]+="$u " wall[$c]+="$w "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "postgres-cost: $count x SELECT 1 via psycopg2 (PQexec), $rounds rounds, median µs per statement"
for c in "${configs[@]}"; do
  printf '  %-9s client CPU %8s µs   wall %8s µs\n' "$c" "$(echo "${cpu[$c]}" | median)" "$(echo "${wall[$c]}" | median)"
done
