#!/usr/bin/env bash
# Benchmark (not a test): `uprobe-trace symbols dump --json` against
# `readelf -Ws` on the same files in the same run; prints medians and ratios.
# Target: ours <= 1.0x readelf on each. Also the Go section (issue: GoRuntime):
# `symbols dump --json` on Go builds against `go tool nm` + `objdump -d`,
# the two tools a person would otherwise run (target <= 0.5x).
#
#   bash Benchmarks/symbols.sh [RUNS]      (make bench builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bin=${UPROBE_TRACE_BIN:-.build/release/uprobe-trace}
[ -x "$bin" ] || { echo "build first: swift build -c release" >&2; exit 1; }
bash testdata/build.sh >/dev/null
t=Benchmarks/timeit.py

echo "symbols dump --json vs readelf -Ws ($runs runs each, median)"
for f in /lib/x86_64-linux-gnu/libssl.so.3 /lib/x86_64-linux-gnu/libc.so.6 testdata/bin/go-bigserver; do
  echo "$f ($(du -h "$f" | cut -f1))"
  python3 $t "$runs" uprobe-trace -- "$bin" symbols dump "$f" --json ::: readelf -- readelf -Ws "$f"
done

echo
echo "Go section: symbols dump --json vs go tool nm + objdump -d"
for f in testdata/bin/go-server testdata/bin/go-server-stripped testdata/bin/go-bigserver; do
  echo "$f"
  python3 $t 5 uprobe-trace -- "$bin" symbols dump "$f" --json ::: "nm+objdump" -- bash -c "go tool nm '$f' >/dev/null 2>&1; objdump -d '$f' >/dev/null"
done
