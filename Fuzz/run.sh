#!/usr/bin/env bash
# Builds each libFuzzer harness (the parser sources compiled with
# -sanitize=fuzzer,address) and runs it for SECONDS (default 60).
# Prints, per harness: executions, corpus size, and crashes found.
#
#   bash Fuzz/run.sh [SECONDS] [HARNESS...]
# Harnesses: elf maps pclntab buildinfo.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}; shift || true
harnesses=("$@"); [ ${#harnesses[@]} -gt 0 ] || harnesses=(elf maps pclntab buildinfo)
bin=Fuzz/bin; work=Fuzz/corpus-work
mkdir -p "$bin" "$work"
swiftc_flags=(-O -parse-as-library -sanitize=fuzzer,address -I Sources/CLibDW -I Sources/CZlib -ldw -lelf -lz)

build() { # NAME SOURCES...
  local name=$1; shift
  echo "fuzz: building $name"
  # ld.gold warns about every ASan helper symbol; keep the log, show it on failure.
  swiftc "${swiftc_flags[@]}" -module-name "Fuzz_$name" "$@" -o "$bin/$name" >"$work/$name.build.log" 2>&1 \
    || { tail -30 "$work/$name.build.log"; exit 1; }
}

# The Go harnesses import Symbols: build it once as an instrumented static library.
symbols_module() {
  [ -f "$bin/libSymbols.a" ] && [ -z "$(find Sources/Symbols -newer "$bin/libSymbols.a" -name '*.swift')" ] && return
  echo "fuzz: building instrumented Symbols module"
  swiftc -O -parse-as-library -sanitize=fuzzer,address -I Sources/CLibDW -I Sources/CZlib \
    -emit-library -static -emit-module -module-name Symbols -emit-module-path "$bin/Symbols.swiftmodule" \
    Sources/Symbols/*.swift -o "$bin/libSymbols.a" >"$work/symbols.build.log" 2>&1 \
    || { tail -30 "$work/symbols.build.log"; exit 1; }
}

seed() { # NAME: fills the working corpus from testdata seeds
  local name=$1 dir="$work/$1"
  mkdir -p "$dir"
  case $name in
    elf)
      bash testdata/build.sh >/dev/null
      cp testdata/bin/fixture-pie "$dir/pie"; cp testdata/bin/fixture-nopie "$dir/nopie"
      head -c 4096 /lib/x86_64-linux-gnu/libz.so.1 > "$dir/libz-head"
      ;;
    maps) cp testdata/fuzz/maps/* "$dir/" ;;
    pclntab)
      bash testdata/build.sh >/dev/null
      # The real table of a small Go binary, cut to 64 KB so mutations reach the header often.
      objcopy -O binary --only-section=.gopclntab testdata/bin/go-client "$dir/full" && head -c 65536 "$dir/full" > "$dir/head" && rm "$dir/full"
      ;;
    buildinfo)
      bash testdata/build.sh >/dev/null
      objcopy -O binary --only-section=.go.buildinfo testdata/bin/go-server "$dir/server"
      objcopy -O binary --only-section=.go.buildinfo testdata/bin/go-client-pie "$dir/client-pie"
      ;;
  esac
}

summary=()
for h in "${harnesses[@]}"; do
  case $h in
    elf) build elf Sources/Symbols/*.swift Fuzz/ELFReaderFuzz.swift ;;
    maps) build maps Sources/Symbols/*.swift Fuzz/ProcMapsFuzz.swift ;;
    pclntab) symbols_module; build pclntab -I "$bin" Sources/GoRuntime/*.swift Fuzz/GoPCLNTabFuzz.swift -L "$bin" -lSymbols ;;
    buildinfo) symbols_module; build buildinfo -I "$bin" Sources/GoRuntime/*.swift Fuzz/GoBuildInfoFuzz.swift -L "$bin" -lSymbols ;;
    *) echo "fuzz: unknown harness $h" >&2; exit 2 ;;
  esac
  seed "$h"
  log="$work/$h.log"
  set +e
  "$bin/$h" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576 -print_final_stats=1 \
    -artifact_prefix="$work/$h-" "$work/$h" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  crashes=$( (ls "$work/$h-"crash-* "$work/$h-"leak-* "$work/$h-"oom-* "$work/$h-"timeout-* 2>/dev/null || true) | wc -l)
  corpus=$(ls "$work/$h" | wc -l)
  summary+=("$h: ${execs:-?} execs in ${seconds}s, corpus $corpus, crashes $crashes, exit $rc")
  [ $rc -eq 0 ] || tail -30 "$log"
done
printf 'fuzz summary:\n'; printf '  %s\n' "${summary[@]}"
for s in "${summary[@]}"; do [[ $s == *"crashes 0, exit 0" ]] || exit 1; done
