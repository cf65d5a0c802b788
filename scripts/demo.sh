#!/usr/bin/env bash
# make demo: start the testdata Go server, trace it with --go-http, send a few
# requests with curl, and show the spans uprobe-trace prints. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${UPROBE_TRACE_BIN:-.build/debug/uprobe-trace}
if [ "$(id -u)" -ne 0 ]; then echo "demo: uprobes need root: sudo make demo" >&2; exit 77; fi
bash testdata/build.sh >/dev/null

echo "== what uprobe-trace sees in the server (symbols dump):"
"$bin" symbols dump testdata/bin/go-server --no-go --grep serverHandler.ServeHTTP
"$bin" symbols dump testdata/bin/go-server | sed -n '/^probe functions/,/^struct offsets/p' | head -6

out=$(mktemp -d)
trap 'kill $server $tracer 2>/dev/null || true; rm -rf "$out"' EXIT
testdata/bin/go-server > "$out/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q listening "$out/server.log" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening //p' "$out/server.log")

echo
echo "== uprobe-trace --pid $server --go-http   (server at $addr)"
"$bin" --pid "$server" --go-http --duration 4 &
tracer=$!
sleep 1.5
for t in "/sleep?ms=12" "/status?code=404" "/sleep?ms=3&user=ada" "/status?code=503" "/panic" "/call?url=http://$addr/sleep?ms=5"; do
  curl -s -o /dev/null "http://$addr$t" || true
done
wait $tracer || true
