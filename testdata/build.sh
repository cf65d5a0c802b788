#!/usr/bin/env bash
# Builds every fixture binary into testdata/bin/ (never committed).
# Rebuilds only what is older than its source. Run from anywhere.
#
#   c/fixture.c    -> bin/fixture-pie      (gcc -fPIE -pie)
#                  -> bin/fixture-nopie    (gcc -fno-pie -no-pie)
#                  -> bin/fixture-gz       (PIE, debug sections SHF_COMPRESSED)
#   c/system_fixture.c -> bin/system-fixture (known syscalls and TCP traffic; --syscalls/--tcp tests)
#   bpf/site_count.bpf.c -> bin/site_count.bpf.o (clang -target bpf; uprobe_multi tests)
#   go/server      -> bin/go-server        (go build)
#                  -> bin/go-server-stripped (go build -ldflags='-s -w')
#                  -> bin/go-server-pie    (go build -buildmode=pie)
#   go/client      -> bin/go-client, bin/go-client-stripped, bin/go-client-pie
#   go/bigserver   -> bin/go-bigserver     (benchmarks: a >= 8 MB Go binary)
#   go/greet       a local module (example.com/greet, `replace`d to ./greet in go/go.mod)
#                  that server and client both import, so their build info lists a dep
#   go-matrix.sh   server and client built by every Go toolchain × variant:
#                  bin/go<MINOR>/<VARIANT>/go-<server|client> (see go-matrix.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/bin"
mkdir -p "$out"
# Tests in several suites call this at once: one build at a time.
exec 9>"$out/.lock"
flock 9

stale() { # stale OUTPUT SOURCE...
  [ ! -e "$1" ] && return 0
  local o=$1; shift
  for s in "$@"; do [ "$s" -nt "$o" ] && return 0; done
  return 1
}

if stale "$out/fixture-pie" "$here/c/fixture.c" "$0"; then
  gcc -O1 -g -fPIE -pie -o "$out/fixture-pie" "$here/c/fixture.c"
fi
if stale "$out/fixture-nopie" "$here/c/fixture.c" "$0"; then
  gcc -O1 -g -fno-pie -no-pie -o "$out/fixture-nopie" "$here/c/fixture.c"
fi

if stale "$out/fixture-gz" "$here/c/fixture.c" "$0"; then
  # Debug sections compressed with SHF_COMPRESSED (zlib), for the decompression tests.
  gcc -O1 -g -gz=zlib -fPIE -pie -o "$out/fixture-gz" "$here/c/fixture.c"
fi

if stale "$out/system-fixture" "$here/c/system_fixture.c"; then
  gcc -O1 -g -Wall -o "$out/system-fixture" "$here/c/system_fixture.c"
fi

if stale "$out/site_count.bpf.o" "$here/bpf/site_count.bpf.c" "$0"; then
  clang=""
  for c in /usr/bin/clang /usr/bin/clang-14 clang; do command -v "$c" >/dev/null 2>&1 && { clang=$c; break; }; done
  [ -n "$clang" ] || { echo "build.sh: clang not found; run scripts/setup.sh" >&2; exit 1; }
  "$clang" -target bpf -O2 -g -I/usr/include/x86_64-linux-gnu -Wall -Werror \
    -c "$here/bpf/site_count.bpf.c" -o "$out/site_count.bpf.o"
fi

if command -v go >/dev/null 2>&1; then
  # The build cache lives outside the clone (scripts/go-toolchains.sh --cache), so a
  # fresh clone on the same machine compiles nothing again.
  cache=$(bash "$here/../scripts/go-toolchains.sh" --cache)
  export GOFLAGS=-mod=mod GOCACHE="${GOCACHE:-$cache/gocache}" GOPATH="${GOPATH:-$cache/gopath}" CGO_ENABLED=0
  for prog in server client; do
    src=("$here/go/$prog/main.go" "$here/go/go.mod" "$here/go/greet/go.mod" "$here/go/greet/greet.go")
    if stale "$out/go-$prog" "${src[@]}" "$0"; then
      (cd "$here/go" && go build -o "$out/go-$prog" "./$prog")
    fi
    if stale "$out/go-$prog-stripped" "${src[@]}" "$0"; then
      (cd "$here/go" && go build -ldflags='-s -w' -o "$out/go-$prog-stripped" "./$prog")
    fi
    if stale "$out/go-$prog-pie" "${src[@]}" "$0"; then
      (cd "$here/go" && go build -buildmode=pie -o "$out/go-$prog-pie" "./$prog")
    fi
  done
  # Benchmarks only: a larger service (>= 8 MB) linking more of the standard library.
  if stale "$out/go-bigserver" "$here/go/bigserver/main.go" "$0"; then
    (cd "$here/go" && go build -o "$out/go-bigserver" ./bigserver)
  fi
  bash "$here/go-matrix.sh"
  bash "$here/grpc-build.sh" # gRPC server and client: bin/grpc/go<MINOR>/<normal|stripped>/grpc-<server|client>
else
  echo "build.sh: go not found; Go fixtures not built (run scripts/setup.sh)" >&2
  exit 1
fi
