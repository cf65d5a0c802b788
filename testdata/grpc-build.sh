#!/usr/bin/env bash
# Builds the gRPC fixtures (go/grpc: server, client, and the hand-written echo
# service they share) with grpc-go from Debian (golang-google-grpc-dev 1.33.3,
# source under /usr/share/gocode/src), by Go 1.19 and by the newest toolchain,
# normal and stripped:
#
#   testdata/bin/grpc/go<MINOR>/<normal|stripped>/grpc-<server|client>
#   testdata/bin/grpc/go19/gopath-<normal|stripped>/grpc-server   (GOPATH mode, see below)
#
# Module mode with a vendor directory, not GOPATH mode: a GOPATH build records no
# dependency versions in .go.buildinfo, and the GoGRPC family reads grpc-go's
# version there to pick struct offsets for stripped binaries. So the module is
# copied to $CACHE/grpc-fixture/src, its vendor/ holds symlinks into
# /usr/share/gocode/src and a modules.txt naming the Debian package versions,
# and `go build -mod=vendor` needs no network. Incremental as go-matrix.sh: GOCACHE
# outside the clone, linked binaries kept in $CACHE/fixtures/<hash>. Called by build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/bin/grpc"
gocode=/usr/share/gocode/src
cache=$(bash "$here/../scripts/go-toolchains.sh" --cache)
if [ ! -d "$gocode/google.golang.org/grpc" ]; then
  echo "grpc-build.sh: $gocode/google.golang.org/grpc missing; apt-get install golang-google-grpc-dev (scripts/setup.sh)" >&2
  exit 1
fi

# module path, version recorded in the binary (the Debian package's upstream version).
modules=(
  "google.golang.org/grpc v1.33.3"
  "github.com/golang/protobuf v1.3.5"
  "golang.org/x/net v0.7.0"
  "golang.org/x/sys v0.3.0"
  "golang.org/x/text v0.7.0"
  "google.golang.org/genproto v0.0.0-20200413115906-b5235f6e3e2e"
)
sources=("$here/go/grpc/go.mod" "$here/go/grpc/echo/echo.go" "$here/go/grpc/server/main.go" "$here/go/grpc/client/main.go" "$0")

src="$cache/grpc-fixture/src"
stamp=$(cat "${sources[@]}" | sha256sum | cut -c1-32)
if [ "$(cat "$src/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$src" && mkdir -p "$src"
  cp -r "$here/go/grpc/echo" "$here/go/grpc/server" "$here/go/grpc/client" "$src/"
  { echo "module example.com/grpcfixture"; echo; echo "go 1.19"; echo; echo "require ("
    for m in "${modules[@]}"; do echo "	$m"; done; echo ")"; } > "$src/go.mod"
  # Every non-standard package the programs import, found in GOPATH mode.
  gp="$cache/grpc-fixture/gopath"
  rm -rf "$gp" && mkdir -p "$gp/src/example.com/grpcfixture"
  cp -r "$here/go/grpc/echo" "$here/go/grpc/server" "$here/go/grpc/client" "$gp/src/example.com/grpcfixture/"
  pkgs=$(cd "$gp/src/example.com/grpcfixture" && GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="$cache/gocache" \
    go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./server ./client | grep -v '^example.com/' | sort -u)
  : > "$src/modules.txt.tmp"
  for m in "${modules[@]}"; do
    path=${m% *}
    echo "# $m" >> "$src/modules.txt.tmp"
    echo "## explicit; go 1.17" >> "$src/modules.txt.tmp"
    for p in $pkgs; do
      case $p in "$path"|"$path"/*)
        echo "$p" >> "$src/modules.txt.tmp"
        mkdir -p "$src/vendor/$(dirname "$p")"
        # Only the package's own directory: symlink its .go files (subpackages are listed separately).
        mkdir -p "$src/vendor/$p"
        for f in "$gocode/$p"/*.go "$gocode/$p"/*.s; do  # (tests too: harmless, never compiled)
          [ -e "$f" ] && ln -sf "$f" "$src/vendor/$p/"
        done ;;
      esac
    done
  done
  mv "$src/modules.txt.tmp" "$src/vendor/modules.txt"
  echo "$stamp" > "$src/.stamp"
fi

build() { # build GOROOT MINOR VARIANT PROG
  local goroot=$1 minor=$2 variant=$3 prog=$4 flags=()
  [ "$variant" = stripped ] && flags=(-ldflags='-s -w')
  local version key dest="$out/go$minor/$variant/grpc-$prog"
  version=$(GOROOT=$goroot GOTOOLCHAIN=local "$goroot/bin/go" env GOVERSION)
  key=$(echo "grpc $version $variant $prog $stamp" | sha256sum | cut -c1-32)
  if [ -e "$dest" ] && [ "$(cat "$dest.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")" "$cache/fixtures/$key"
  local kept="$cache/fixtures/$key/grpc-$prog"
  if [ ! -e "$kept" ]; then
    (cd "$src" && env GOROOT="$goroot" GOTOOLCHAIN=local GOFLAGS=-mod=vendor GO111MODULE=on \
      GOCACHE="$cache/gocache" GOPATH="$cache/gopath" CGO_ENABLED=0 \
      "$goroot/bin/go" build "${flags[@]}" -o "$kept.tmp" "./$prog")
    mv "$kept.tmp" "$kept"
  fi
  rm -f "$dest"
  cp "$kept" "$dest"
  echo "$key" > "$dest.key"
}

# GOPATH mode (GO111MODULE=off, GOPATH=...:/usr/share/gocode), as a Debian-style build
# makes it: .go.buildinfo then names no module, so only DWARF can give the offsets
# (gopath-normal works; gopath-stripped is the clear "which grpc-go?" error).
build_gopath() { # build_gopath VARIANT
  local variant=$1 flags=()
  [ "$variant" = stripped ] && flags=(-ldflags='-s -w')
  local dest="$out/go19/gopath-$variant/grpc-server" key
  key=$(echo "grpc gopath go1.19 $variant $stamp" | sha256sum | cut -c1-32)
  if [ -e "$dest" ] && [ "$(cat "$dest.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")" "$cache/fixtures/$key"
  local kept="$cache/fixtures/$key/grpc-server"
  if [ ! -e "$kept" ]; then
    (cd "$cache/grpc-fixture/gopath/src/example.com/grpcfixture" && env GO111MODULE=off GOFLAGS= \
      GOPATH="$cache/grpc-fixture/gopath:/usr/share/gocode" GOCACHE="$cache/gocache" CGO_ENABLED=0 \
      /usr/lib/go-1.19/bin/go build "${flags[@]}" -o "$kept.tmp" ./server)
    mv "$kept.tmp" "$kept"
  fi
  rm -f "$dest"
  cp "$kept" "$dest"
  echo "$key" > "$dest.key"
}
build_gopath normal
build_gopath stripped

newest=$(bash "$here/../scripts/go-toolchains.sh" --list | tail -1)
for tc in "19 /usr/lib/go-1.19" "${newest#1.}"; do
  minor=${tc%% *}; goroot=${tc#* }
  for variant in normal stripped; do
    for prog in server client; do build "$goroot" "$minor" "$variant" "$prog"; done
  done
done
