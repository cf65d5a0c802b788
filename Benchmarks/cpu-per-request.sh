#!/usr/bin/env bash
# Benchmark (not a test): the Go server's own CPU time per request, untraced
# and traced with `uprobe-trace --pid PID --go-http`, on the testdata server
# built by Go 1.19 (testdata/bin/go-server) and by the newest Go toolchain in
# /var/cache/uprobe-trace/go. CPU per request does not swing with the VM's
# neighbours the way throughput does: utime+stime of the server process
# (/proc/PID/stat, which includes the uprobe traps and BPF programs that run
# in its context) divided by the keep-alive requests to /sleep?ms=0 that wrk
# (one thread, 8 connections, SECONDS per run) completed, from CPU 0 to the
# server on CPU 1 (GOMAXPROCS=1): the server saturated, as in
# Benchmarks/overhead.sh. (wrk has no request count: a Lua wrk.thread:stop()
# still waits out the duration, so the count is wrk's own "N requests in".) Untraced and traced runs alternate, round by
# round; the figure is the median per configuration. Target: traced - untraced
# <= 5 us per request. Needs root.
#
#   bash Benchmarks/cpu-per-request.sh [SECONDS] [ROUNDS]
#   UPROBE_TRACE_BIN=/other/build/uprobe-trace bash Benchmarks/cpu-per-request.sh   # another build
#   GO_SERVERS="/path/a /path/b" bash Benchmarks/cpu-per-request.sh                 # other servers
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10} rounds=${2:-3}
bin=${UPROBE_TRACE_BIN:-.build/release/uprobe-trace}
[ "$(id -u)" -eq 0 ] || { echo "cpu-per-request.sh: needs root" >&2; exit 77; }
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
bash testdata/build.sh >/dev/null
ulimit -l unlimited 2>/dev/null || true

work=$(mktemp -d)
server_pid="" tracer=""
cleanup() {
  [ -n "$tracer" ] && kill "$tracer" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

servers=${GO_SERVERS:-}
if [ -z "$servers" ]; then
  servers=$PWD/testdata/bin/go-server
  newest=$(ls /var/cache/uprobe-trace/go 2>/dev/null | sort -V | tail -1)
  if [ -n "$newest" ]; then
    goroot=/var/cache/uprobe-trace/go/$newest/go
    (cd testdata/go && GOROOT=$goroot GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE=$PWD/../bin/.gocache-$newest \
      "$goroot/bin/go" build -o "$work/go-server-$newest" ./server)
    servers="$servers $work/go-server-$newest"
  else
    echo "note: no Go toolchain in /var/cache/uprobe-trace/go: Go 1.19 only" >&2
  fi
fi

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() { # ADDRESS [SECONDS] -> requests completed
  taskset -c 0 wrk -t1 -c8 -d"${2:-$seconds}s" "http://$1/sleep?ms=0" > "$work/wrk.txt" 2>&1
  sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.txt"
}
# Server CPU microseconds per request over one load run, and the request count.
measure() { # ADDRESS
  local a b n
  a=$(cpu_ticks "$server_pid"); n=$(load "$1"); b=$(cpu_ticks "$server_pid")
  python3 -c "print(f'{($b - $a) * 1e6 / $hz / $n:.2f}')"
  echo "$n" >> "$work/counts"
}

for server in $servers; do
  GOMAXPROCS=1 taskset -c 1 "$server" > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do grep -q listening "$work/server.log" && break; sleep 0.1; done
  addr=$(sed -n 's/^listening //p' "$work/server.log")
  version=$("$bin" symbols dump "$server" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["go"]["version"])')
  load "$addr" 3 > /dev/null # warm-up
  : > "$work/counts"
  untraced="" traced="" spans=0
  for _ in $(seq "$rounds"); do
    untraced+="$(measure "$addr") "
    taskset -c 0 "$bin" --pid "$server_pid" --go-http --quiet 2> "$work/tracer.err" &
    tracer=$!
    for _ in $(seq 100); do grep -q attached "$work/tracer.err" && break; sleep 0.1; done
    probes=$(sed -n 's/.*attached \([0-9]*\) probes.*/\1/p' "$work/tracer.err")
    traced+="$(measure "$addr") "
    kill -INT "$tracer"; wait "$tracer" || true; tracer=""
    spans=$((spans + $(sed -n 's/^uprobe-trace: \([0-9]*\) spans.*/\1/p' "$work/tracer.err")))
  done
  python3 - "$version" "$probes" "$spans" "$work/counts" "$untraced" "$traced" <<'PY'
import statistics, sys
version, probes, spans = sys.argv[1], sys.argv[2], int(sys.argv[3])
counts = [int(x) for x in open(sys.argv[4]).read().split()]
sent = sum(counts[1::2])  # traced runs alternate with untraced ones
u = [float(x) for x in sys.argv[5].split()]
t = [float(x) for x in sys.argv[6].split()]
mu, mt = statistics.median(u), statistics.median(t)
print(f"{version}: server CPU per /sleep?ms=0 request ({len(u)} rounds, {sum(counts)} requests; {probes} probes attached)")
print(f"  untraced {mu:7.2f} us   (rounds: {' '.join(f'{x:.2f}' for x in u)})")
print(f"  traced   {mt:7.2f} us   (rounds: {' '.join(f'{x:.2f}' for x in t)})")
print(f"  extra    {mt - mu:+7.2f} us per request  target <= 5 us: {'met' if mt - mu <= 5 else 'NOT met'};  spans {spans} for {sent} traced requests")
PY
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
done
