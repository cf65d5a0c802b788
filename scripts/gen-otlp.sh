#!/usr/bin/env bash
# Regenerates Sources/OTLP/Generated from ../shared/opentelemetry-proto with protoc and
# protoc-gen-swift built from swift-protobuf at the version Package.swift uses.
# Not swift-protobuf's build plugin: that one compiles protoc from C++ (~10 min).
# The clone and build live in .build-protoc/ (git-ignored by .build*/), never committed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
mirror="${SWIFT_PROTOBUF_GIT:-/opt/swift-packages/apple/swift-protobuf.git}"
proto_root="${OTLP_PROTO_ROOT:-$root/../shared/opentelemetry-proto}"
work="$root/.build-protoc"
out="$root/Sources/OTLP/Generated"

command -v protoc >/dev/null || { echo "gen-otlp: protoc missing (apt-get install -y protobuf-compiler)" >&2; exit 1; }
[ -d "$proto_root/opentelemetry/proto" ] || { echo "gen-otlp: no protos at $proto_root (set OTLP_PROTO_ROOT)" >&2; exit 1; }

mkdir -p "$work"
if [ ! -d "$work/swift-protobuf/.git" ]; then
  git clone -q "$mirror" "$work/swift-protobuf"
fi
git -C "$work/swift-protobuf" fetch -q --tags || true
git -C "$work/swift-protobuf" checkout -q "$version"
(cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift)
plugin="$(cd "$work/swift-protobuf" && swift build -c release --show-bin-path)/protoc-gen-swift"

rm -rf "$out"
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
  -I "$proto_root" \
  --swift_out="$out" \
  --swift_opt=Visibility=Public \
  --swift_opt=FileNaming=PathToUnderscores \
  opentelemetry/proto/common/v1/common.proto \
  opentelemetry/proto/resource/v1/resource.proto \
  opentelemetry/proto/trace/v1/trace.proto \
  opentelemetry/proto/collector/trace/v1/trace_service.proto \
  opentelemetry/proto/metrics/v1/metrics.proto \
  opentelemetry/proto/collector/metrics/v1/metrics_service.proto
echo "gen-otlp: wrote $(ls "$out" | wc -l) files to $out (protoc $(protoc --version | cut -d' ' -f2), swift-protobuf $version)"
