#!/usr/bin/env bash
# Builds the Go fixture matrix: every toolchain scripts/go-toolchains.sh lists ×
# every variant, for the server and the client, into
#
#   testdata/bin/go<MINOR>/<VARIANT>/go-<PROG>     e.g. bin/go1.27/cgo-stripped/go-server
#
#   normal         go build                                   (CGO_ENABLED=0)
#   stripped       go build -ldflags='-s -w'                  (CGO_ENABLED=0)
#   pie            go build -buildmode=pie                    (CGO_ENABLED=0; oldest and newest Go only)
#   cgo-stripped   go build -ldflags='-linkmode=external -s -w' (CGO_ENABLED=1: gcc links)
#   cgo-pie-stripped  the same with -buildmode=pie                (newest Go only)
#
# Incremental twice over: GOCACHE is outside the clone, and each linked binary is kept
# in $CACHE/fixtures/<hash of toolchain, variant, sources> and copied into bin/,
# so a fresh clone on a machine that built the same sources before links nothing.
# Prints one line per toolchain with its time. Called by build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/bin"
toolchains=$(bash "$here/../scripts/go-toolchains.sh" --list)
cache=$(bash "$here/../scripts/go-toolchains.sh" --cache)
mkdir -p "$cache/fixtures" "$cache/gocache" "$cache/gopath"

progs=(server client)
sources=("$here/go/go.mod" "$here/go/greet/go.mod" "$here/go/greet/greet.go")
for p in "${progs[@]}"; do sources+=("$here/go/$p/main.go"); done
oldest=$(echo "$toolchains" | head -1 | cut -d' ' -f1)
newest=$(echo "$toolchains" | tail -1 | cut -d' ' -f1)

variants_for() { # variants_for MINOR
  echo normal stripped cgo-stripped
  if [ "$1" = "$oldest" ] || [ "$1" = "$newest" ]; then echo pie; fi
  if [ "$1" = "$newest" ]; then echo cgo-pie-stripped; fi
}

build_one() { # build_one MINOR GOROOT VARIANT PROG
  local minor=$1 goroot=$2 variant=$3 prog=$4
  local cgo=0 flags=()
  case $variant in
    normal) ;;
    stripped) flags=(-ldflags='-s -w') ;;
    pie) flags=(-buildmode=pie) ;;
    cgo-stripped) cgo=1; flags=(-ldflags='-linkmode=external -s -w') ;;
    cgo-pie-stripped) cgo=1; flags=(-buildmode=pie -ldflags='-linkmode=external -s -w') ;;
    *) echo "go-matrix: unknown variant $variant" >&2; return 1 ;;
  esac
  local version key dest="$out/go$minor/$variant/go-$prog"
  version=$(GOROOT=$goroot "$goroot/bin/go" env GOVERSION)
  key=$( { echo "$version $variant $prog ${flags[*]} cgo=$cgo"; cat "${sources[@]}"; } | sha256sum | cut -c1-32)
  if [ -e "$dest" ] && [ "$(cat "$dest.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")" "$cache/fixtures/$key"
  local kept="$cache/fixtures/$key/go-$prog"
  if [ ! -e "$kept" ]; then
    (cd "$here/go" && env GOROOT="$goroot" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
      GOCACHE="$cache/gocache" GOPATH="$cache/gopath" CGO_ENABLED=$cgo \
      "$goroot/bin/go" build "${flags[@]}" -o "$kept.tmp" "./$prog")
    mv "$kept.tmp" "$kept"
  fi
  rm -f "$dest"
  # A copy, not a hard link: a uprobe attached to a file (no --pid) fires in every
  # process of that inode, so two clones must not share one.
  cp "$kept" "$dest"
  echo "$key" >"$dest.key"
}

build_toolchain() { # build_toolchain MINOR GOROOT
  local start=$SECONDS v p
  # The tests run this version's `go tool nm`; Go 1.24+ builds it on first use, into GOCACHE.
  env GOROOT="$2" GOTOOLCHAIN=local GOCACHE="$cache/gocache" "$2/bin/go" tool nm >/dev/null 2>&1 || true
  for v in $(variants_for "$1"); do
    for p in "${progs[@]}"; do build_one "$1" "$2" "$v" "$p"; done
  done
  echo "go-matrix: go$1 $(variants_for "$1" | tr '\n' ' ')done in $((SECONDS - start)) s"
}

# Two toolchains at a time: the Go compiler already uses every core, but linking does not.
failed=0
pids=()
while read -r minor goroot; do
  build_toolchain "$minor" "$goroot" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
done <<<"$toolchains"
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
