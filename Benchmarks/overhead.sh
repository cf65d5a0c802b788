#!/usr/bin/env bash
# Benchmark (not a test): what tracing costs the traced Go server.
# wrk against the testdata server's /sleep?ms=0 and /sleep?ms=1, DURATION s
# each, in three configurations interleaved round by round:
#   untraced  - nothing attached
#   traced    - uprobe-trace --pid PID --go-http --quiet
#   floor     - bare uprobes on the same entry + RET file offsets, with no
#               BPF program at all (counting perf events opened by
#               Tests/harness/uprobe_count.py): what any uprobe tracer pays.
#               Debian's bpftrace 0.17 cannot be used for this: it refuses
#               probes inside a function ("compiled without offset support").
# Prints requests/s and p99 latency per configuration, the ratios, spans per
# request and events lost. Targets: traced >= 0.97x untraced at 1 ms;
# traced >= 0.90x the floor at 0 ms; 0 lost events. Needs root.
#
#   bash Benchmarks/overhead.sh [DURATION] [ROUNDS]
#   METRICS=1 bash Benchmarks/overhead.sh   # traced with --metrics-addr, scraped every second
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10} rounds=${2:-2}
metrics=${METRICS:-0}
bin=${UPROBE_TRACE_BIN:-.build/release/uprobe-trace}
[ "$(id -u)" -eq 0 ] || { echo "overhead.sh: needs root" >&2; exit 77; }
[ -x "$bin" ] || { echo "build first: make release" >&2; exit 1; }
bash testdata/build.sh >/dev/null
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
ulimit -l unlimited 2>/dev/null || true

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The server gets one core (GOMAXPROCS=1, CPU 1), wrk the other (CPU 0).
GOMAXPROCS=1 taskset -c 1 testdata/bin/go-server > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q listening "$work/server.log" && break; sleep 0.1; done
addr=$(sed -n 's/^listening //p' "$work/server.log")

# The probe points a /sleep request reaches, as file offsets: ServeHTTP's entry
# and every RET, and runtime.newproc1's RETs (uprobe-trace follows goroutine
# creation in programs that make client calls, as go-server does; net/http
# starts one goroutine per request for the connection's background read).
offsets=$("$bin" symbols dump testdata/bin/go-server --json | python3 -c '
import json, sys
f = {f["name"]: f for f in json.load(sys.stdin)["go"]["functions"]}
s, n = f["net/http.serverHandler.ServeHTTP"], f["runtime.newproc1"]
print(" ".join(str(o) for o in [s["file_offset"]] + s["ret_offsets"] + n["ret_offsets"]))')

# Cases: /sleep?ms=0 driven to saturation (32 connections), where the cost per
# request shows fully in throughput; /sleep?ms=1 with 1 connection (latency
# bound: the added time per request) and with 8 (8 sleeps expire together and
# queue on the server's single core, so each request also waits for the
# others' probe hits).
cases=("/sleep?ms=0 32" "/sleep?ms=1 1" "/sleep?ms=1 8")
run_wrk() { # PATH CONNECTIONS -> "req/s p99_ms total_requests"
  taskset -c 0 wrk -t$(( $2 > 1 ? 2 : 1 )) -c"$2" -d"${dur}s" --latency "http://$addr$1" > "$work/wrk.txt" 2>&1
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
total = int(re.search(r"(\d+) requests in", t).group(1))
print(f"{rps} {p99} {total}")
PY
}

declare -A rps p99
spans_total=0; requests_traced=0; lost_total=0
for case in "${cases[@]}"; do
  read -r url conns <<<"$case"
  path="$url c$conns"
  for r in $(seq "$rounds"); do
    read -r a b _ <<<"$(run_wrk "$url" "$conns")"; rps[$path,untraced]+="$a "; p99[$path,untraced]+="$b "

    extra=(); [ "$metrics" = 1 ] && extra=(--metrics-addr 127.0.0.1:0)
    "$bin" --pid "$server_pid" --go-http --quiet "${extra[@]}" 2> "$work/tracer.err" &
    tracer=$!
    for _ in $(seq 100); do grep -q attached "$work/tracer.err" && break; sleep 0.1; done
    scraper=""
    if [ "$metrics" = 1 ]; then
      for _ in $(seq 100); do grep -q "metrics on" "$work/tracer.err" && break; sleep 0.1; done
      murl=$(sed -n 's/.*metrics on \(http[^ ]*\).*/\1/p' "$work/tracer.err")
      # As a Prometheus would, once a second, from wrk's core.
      (while curl -sf -o "$work/metrics.txt" "$murl"; do sleep 1; done) & scraper=$!
    fi
    read -r a b n <<<"$(run_wrk "$url" "$conns")"; rps[$path,traced]+="$a "; p99[$path,traced]+="$b "
    if [ -n "$scraper" ]; then
      kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null || true
      grep -q '^uprobe_trace_events_received_total{family="go_http"}' "$work/metrics.txt" || { echo "overhead.sh: no metrics scraped" >&2; exit 1; }
    fi
    kill -INT $tracer; wait $tracer || true
    s=$(sed -n 's/^uprobe-trace: \([0-9]*\) spans.*/\1/p' "$work/tracer.err")
    # "events lost in the kernel: go_http 12, openssl 0" -> 12
    l=$(sed -n 's/.*events lost in the kernel: //p' "$work/tracer.err" | tr ',' '\n' | awk '{s += $2} END {print s + 0}')
    spans_total=$((spans_total + ${s:-0})); requests_traced=$((requests_traced + n)); lost_total=$((lost_total + ${l:-0}))

    # stdin stays open (a fifo nobody writes) so the harness keeps its probes until killed.
    rm -f "$work/fifo"; mkfifo "$work/fifo"
    python3 Tests/harness/uprobe_count.py testdata/bin/go-server $offsets < <(cat "$work/fifo") > "$work/floor.log" 2>&1 &
    floor=$!
    exec 8>"$work/fifo"
    for _ in $(seq 100); do grep -q "attached" "$work/floor.log" && break; sleep 0.1; done
    read -r a b _ <<<"$(run_wrk "$url" "$conns")"; rps[$path,floor]+="$a "; p99[$path,floor]+="$b "
    exec 8>&-
    wait $floor 2>/dev/null || true
  done
done

python3 - "$spans_total" "$requests_traced" "$lost_total" <<PY
import statistics, sys
rps = {$(for k in "${!rps[@]}"; do printf '"%s": [%s], ' "$k" "$(echo ${rps[$k]} | tr ' ' ',')"; done)}
p99 = {$(for k in "${!p99[@]}"; do printf '"%s": [%s], ' "$k" "$(echo ${p99[$k]} | tr ' ' ',')"; done)}
med = lambda xs: statistics.median(xs)
for path in ("/sleep?ms=0 c32", "/sleep?ms=1 c1", "/sleep?ms=1 c8"):
    print(f"{path.replace(' c', ' with ')} connections  (median of $rounds rounds, {'$dur'} s each)")
    for c in ("untraced", "traced", "floor"):
        print(f"  {c:<9} {med(rps[f'{path},{c}']):10.0f} req/s   p99 {med(p99[f'{path},{c}']):7.3f} ms")
    u, t, b = (med(rps[f"{path},{c}"]) for c in ("untraced", "traced", "floor"))
    print(f"  traced/untraced throughput {t/u:.3f}x   traced/floor {t/b:.3f}x   p99 traced/untraced {med(p99[f'{path},traced'])/med(p99[f'{path},untraced']):.2f}x")
spans, reqs, lost = map(int, sys.argv[1:])
print("traced = with --metrics-addr, scraped every second" if "$metrics" == "1" else "traced = without --metrics-addr")
print(f"spans per request: {spans/reqs:.3f} ({spans} spans / {reqs} requests seen by wrk)   events lost: {lost}")
PY
