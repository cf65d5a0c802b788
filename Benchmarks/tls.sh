#!/usr/bin/env bash
# Benchmark (not a test): the cost of --ssl on a TLS workload, against bcc's
# sslsniff on the same library, in one run. A Debian-python HTTPS server
# (testdata/python/https_server.py) under a keep-alive Python HTTPS client
# (both use /lib/x86_64-linux-gnu/libssl.so.3, both sides are traced),
# interleaved rounds of: untraced, `uprobe-trace --ssl --quiet`,
# `sslsniff-bpfcc -g -n` (OpenSSL only, output discarded).
# Prints requests/s, ratios and events lost. Target: our overhead <= sslsniff's.
#
#   bash Benchmarks/tls.sh [SECONDS] [ROUNDS]      (needs root, bpfcc-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10} rounds=${2:-2}
bin=${UPROBE_TRACE_BIN:-.build/release/uprobe-trace}
[ "$(id -u)" -eq 0 ] || { echo "tls.sh: needs root" >&2; exit 77; }
[ -x "$bin" ] || { echo "build first: make release" >&2; exit 1; }
# sslsniff compiles its BPF at run time with the kernel's headers; kernels
# without them (these Firecracker VMs: no linux-headers, no IKHEADERS) cannot
# run it, and the comparison is then reported as unavailable, with the reason.
sniff=$(command -v sslsniff-bpfcc || true)
sniff_unavailable=""
[ -n "$sniff" ] || sniff_unavailable="sslsniff-bpfcc not installed (apt-get install bpfcc-tools)"
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

/usr/bin/python3 testdata/python/https_server.py > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
port=$(sed -n 's/^listening //p' "$work/server.log")
load() { /usr/bin/python3 Benchmarks/tls_load.py "$port" "/sleep?ms=0" "$dur" 4 | cut -d' ' -f1; }

declare -a untraced ours sslsniff
lost=0
for r in $(seq "$rounds"); do
  untraced+=("$(load)")

  "$bin" --ssl --quiet 2> "$work/ours.err" &
  t=$!
  for _ in $(seq 100); do grep -q attached "$work/ours.err" && break; sleep 0.1; done
  ours+=("$(load)")
  kill -INT $t; wait $t || true
  l=$(sed -n 's/.*events lost in the kernel: //p' "$work/ours.err" | tr ',' '\n' | awk '{s += $2} END {print s + 0}'); lost=$((lost + ${l:-0}))

  [ -n "$sniff_unavailable" ] && continue
  "$sniff" -g -n > "$work/sniff.out" 2> "$work/sniff.err" &
  s=$!
  for _ in $(seq 300); do grep -q FUNC "$work/sniff.out" && break; kill -0 $s 2>/dev/null || break; sleep 0.1; done
  if ! kill -0 $s 2>/dev/null; then
    sniff_unavailable="sslsniff-bpfcc failed to start: $(grep -m1 -iE 'unable|error|exception' "$work/sniff.err" || tail -1 "$work/sniff.err")"
    continue
  fi
  sslsniff+=("$(load)")
  kill -INT $s; wait $s || true
  sniff_lost=$(grep -o "Possibly lost [0-9]* samples" "$work/sniff.out" "$work/sniff.err" | awk '{s+=$3} END {print s+0}')
done

python3 - "${untraced[*]}" "${ours[*]}" "${sslsniff[*]:-}" "$lost" "${sniff_lost:-0}" "$sniff_unavailable" <<'PY'
import statistics, sys
u, o = (statistics.median(map(float, a.split())) for a in sys.argv[1:3])
print(f"HTTPS /sleep?ms=0, 4 keep-alive clients (median of rounds)")
print(f"  untraced      {u:8.0f} req/s")
print(f"  uprobe-trace  {o:8.0f} req/s   {o/u:.3f}x untraced   overhead {1-o/u:.1%}   events lost {sys.argv[4]}")
if sys.argv[6]:
    print(f"  sslsniff      unavailable: {sys.argv[6]}")
else:
    s = statistics.median(map(float, sys.argv[3].split()))
    print(f"  sslsniff      {s:8.0f} req/s   {s/u:.3f}x untraced   overhead {1-s/u:.1%}   lost samples reported {sys.argv[5]}")
    print(f"  target ours <= sslsniff's overhead: {'met' if o >= s else 'NOT met'}")
PY
