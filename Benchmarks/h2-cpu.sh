#!/usr/bin/env bash
# Benchmark (not a test): the server CPU per request that `--go-http` adds to a
# Go HTTPS server speaking HTTP/2, and the probe hits per request. The testdata
# server (-tls-cert/-tls-key; HTTP/2 by ALPN) built by Go 1.19 and by the
# newest toolchain of the fixture matrix (testdata/bin/go1.*/normal), pinned to
# CPU 1 with GOMAXPROCS=1; h2load (nghttp2-client) on CPU 0 sends exactly COUNT
# requests of /sleep?ms=0 over 8 connections, one stream at a time each, over
# HTTP/2 and then (h2load --h1) over HTTP/1.1 to the same server. CPU from
# /proc/PID/stat (utime + stime: includes the uprobe traps and BPF programs run
# in the server's context), untraced and traced (`--pid PID --go-http --quiet`)
# alternating, round by round; the figure is the median per configuration and
# the extra is traced - untraced of the same round. Hits per request: run_cnt
# of each of the tool's BPF programs (kernel.bpf_stats_enabled on for the run),
# and the programs' own time per hit (run_time_ns / run_cnt). bpf_stats adds a
# little to every hit, so the CPU figures are a little high.
#
#   bash Benchmarks/h2-cpu.sh [COUNT] [ROUNDS]        (root)
#   UPROBE_TRACE_BIN=.build/debug/uprobe-trace bash Benchmarks/h2-cpu.sh   # BPF cost is the same in a debug build
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000} rounds=${2:-3}
bin=${UPROBE_TRACE_BIN:-.build/release/uprobe-trace}
[ "$(id -u)" -eq 0 ] || { echo "h2-cpu.sh: needs root" >&2; exit 77; }
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v h2load >/dev/null || { echo "h2-cpu.sh: needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }
bash testdata/build.sh >/dev/null
work=$(mktemp -d)
server="" tool=""
stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
  [ -n "$tool" ] && kill -INT "$tool" 2>/dev/null
  [ -n "$server" ] && kill "$server" 2>/dev/null
  echo "$stats_was" > /proc/sys/kernel/bpf_stats_enabled
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
echo 1 > /proc/sys/kernel/bpf_stats_enabled
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

ticks() { awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
# "NAME RUN_CNT RUN_TIME_NS" for every BPF program the tool holds.
progs() {
  for f in /proc/"$1"/fdinfo/*; do
    id=$(awk '/^prog_id:/ { print $2 }' "$f" 2>/dev/null) || continue
    if [ -n "$id" ]; then
      bpftool prog show id "$id" --json 2>/dev/null | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("name","?"), p.get("run_cnt",0), p.get("run_time_ns",0))'
    fi
  done | sort | uniq || true
}

newest=$(ls -d testdata/bin/go1.* | sort -V | tail -1)
for dir in testdata/bin/go1.19 "$newest"; do
  exe=$dir/normal/go-server
  GOMAXPROCS=1 taskset -c 1 "$exe" -tls-cert "$work/cert.pem" -tls-key "$work/key.pem" > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
  port=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/server.log")
  url="https://127.0.0.1:$port/sleep?ms=0"
  taskset -c 0 h2load -n 2000 -c 8 -m 1 "$url" > /dev/null  # warm-up
  : > "$work/results"
  for r in $(seq "$rounds"); do
    for proto in h2 h1; do
      flag=(); [ "$proto" = h1 ] && flag=(--h1)
      for config in untraced traced; do
        tool=""
        if [ "$config" = traced ]; then
          taskset -c 0 "$bin" --pid "$server" --go-http --quiet 2> "$work/tool.err" &
          tool=$!
          for _ in $(seq 100); do grep -q attached "$work/tool.err" && break; sleep 0.1; done
          progs "$tool" > "$work/p0"
        fi
        s0=$(ticks "$server")
        taskset -c 0 h2load "${flag[@]}" -n "$count" -c 8 -m 1 "$url" > "$work/h2load.txt"
        s1=$(ticks "$server")
        grep -q "succeeded, 0 errored\|$count succeeded" "$work/h2load.txt" || sed -n '/requests:/p' "$work/h2load.txt" >&2
        if [ -n "$tool" ]; then
          progs "$tool" > "$work/p1"
          join "$work/p0" "$work/p1" | awk -v n="$count" -v p="$proto" '{ if ($4 - $2 > 0) printf "hits %s %s %.2f %.0f\n", p, $1, ($4 - $2) / n, ($5 - $3) / ($4 - $2) }' >> "$work/hits"
          kill -INT "$tool"; wait "$tool" || true; tool=""
        fi
        echo "$r $proto $config $((s1 - s0))" >> "$work/results"
      done
    done
  done
  python3 - "$exe" "$count" "$(getconf CLK_TCK)" "$work/results" "$work/hits" <<'PY'
import collections, statistics, sys
exe, count, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = collections.defaultdict(dict)
for line in open(sys.argv[4]):
    r, proto, config, t = line.split()
    rows[(proto, config)][r] = int(t) * 1e6 / hz / count
print(f"{exe}: server CPU per /sleep?ms=0 request over TLS, {count} requests per run, {len(rows[('h2', 'untraced')])} rounds")
for proto in ["h2", "h1"]:
    u, t = rows[(proto, "untraced")], rows[(proto, "traced")]
    extra = [t[r] - u[r] for r in u]
    print(f"  {proto}: untraced {statistics.median(u.values()):7.2f} us  traced {statistics.median(t.values()):7.2f} us  "
          f"extra {statistics.median(extra):+6.2f} us per request (rounds: {' '.join(f'{x:+.2f}' for x in extra)})")
hits = collections.defaultdict(list)
for line in open(sys.argv[5]):
    _, proto, name, h, ns = line.split()
    hits[(proto, name)].append((float(h), float(ns)))
for (proto, name), h in sorted(hits.items()):
    print(f"  hits per {proto} request: {name:22} {statistics.median(x for x, _ in h):.2f}   BPF {statistics.median(y for _, y in h):.0f} ns per hit")
PY
  rm -f "$work/hits"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
done
