#!/usr/bin/env bash
# Builds each libFuzzer harness (the parser sources it needs, compiled with
# -sanitize=fuzzer,address) and runs it for SECONDS (default 60), one after
# the other. Prints a summary table and exits 1 if any harness crashed.
# Inputs that crashed are copied to testdata/fuzz/NAME-regressions/, which
# the unit tests replay; commit them with the fix.
#
#   bash Fuzz/run.sh [SECONDS] [HARNESS...]
# Harnesses: elf maps pclntab buildinfo x86 http sql traceparent headwindow h2.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}; shift || true
harnesses=("$@"); [ ${#harnesses[@]} -gt 0 ] || harnesses=(elf maps pclntab buildinfo x86 http sql traceparent headwindow h2)
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

# Symbols imports SystemSupport, and the Go harnesses import Symbols: each is built
# once as an instrumented static library with its module, rebuilt when a source changes.
module() { # NAME SOURCES...
  local name=$1; shift
  [ -f "$bin/lib$name.a" ] && [ -z "$(find "$@" -newer "$bin/lib$name.a")" ] && return
  echo "fuzz: building instrumented $name module"
  swiftc -O -parse-as-library -sanitize=fuzzer,address -I Sources/CLibDW -I Sources/CZlib -I "$bin" \
    -emit-library -static -emit-module -module-name "$name" -emit-module-path "$bin/$name.swiftmodule" \
    "$@" -o "$bin/lib$name.a" >"$work/$name.build.log" 2>&1 \
    || { tail -30 "$work/$name.build.log"; exit 1; }
}
system_module() { module SystemSupport Sources/SystemSupport/*.swift; }
symbols_module() { system_module; module Symbols Sources/Symbols/*.swift; }

seed() { # NAME: fills the working corpus from testdata seeds and earlier crashes
  local name=$1 dir="$work/$1"
  mkdir -p "$dir"
  case $name in
    elf)
      bash testdata/build.sh >/dev/null
      cp testdata/bin/fixture-pie "$dir/pie"; cp testdata/bin/fixture-nopie "$dir/nopie"
      head -c 4096 /lib/x86_64-linux-gnu/libz.so.1 > "$dir/libz-head"
      ;;
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
  local d
  for d in "testdata/fuzz/$name" "testdata/fuzz/$name-regressions"; do
    [ -d "$d" ] && cp "$d"/* "$dir/"
  done
  return 0
}

tracing=Sources/Tracing
rows=(); failed=0
for h in "${harnesses[@]}"; do
  max_len=1048576
  case $h in
    elf) system_module; build elf -I "$bin" Sources/Symbols/*.swift Fuzz/ELFReaderFuzz.swift -L "$bin" -lSystemSupport ;;
    maps) system_module; build maps -I "$bin" Sources/Symbols/*.swift Fuzz/ProcMapsFuzz.swift -L "$bin" -lSystemSupport ;;
    pclntab) symbols_module; build pclntab -I "$bin" Sources/GoRuntime/*.swift Fuzz/GoPCLNTabFuzz.swift -L "$bin" -lSymbols -lSystemSupport ;;
    buildinfo) symbols_module; build buildinfo -I "$bin" Sources/GoRuntime/*.swift Fuzz/GoBuildInfoFuzz.swift -L "$bin" -lSymbols -lSystemSupport ;;
    x86)
      symbols_module; max_len=8192
      build x86 -I "$bin" Sources/GoRuntime/{X86Decoder,ReturnSites,GoRuntimeError}.swift Fuzz/X86DecoderFuzz.swift -L "$bin" -lSymbols -lSystemSupport ;;
    http) max_len=65536; build http $tracing/{HTTPHead,HTTPHeadParser}.swift Fuzz/HTTPHeadParserFuzz.swift ;;
    sql) max_len=8192; build sql $tracing/{SQLLexer,SQLStatement}.swift Fuzz/SQLStatementFuzz.swift ;;
    # TraceID and SpanID live in Span.swift, whose random ids need SecureRandom.
    traceparent) max_len=256; build traceparent $tracing/{TraceParent,Span,SecureRandom}.swift Fuzz/TraceParentFuzz.swift ;;
    headwindow) max_len=4096; build headwindow $tracing/RequestHeadWindow.swift Fuzz/RequestHeadWindowFuzz.swift ;;
    h2) max_len=65536; build h2 $tracing/{HPACKDecoder,HTTP2FrameParser,HTTP2Stream}.swift Fuzz/HTTP2StreamFuzz.swift ;;
    *) echo "fuzz: unknown harness $h" >&2; exit 2 ;;
  esac
  seed "$h"
  log="$work/$h.log"
  rm -f "$work/$h-"*-*
  echo "fuzz: running $h for ${seconds}s"
  set +e
  # Without the Swift backtracer: under ASan it reports its own memory reads as bugs.
  SWIFT_BACKTRACE=enable=no "$bin/$h" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len="$max_len" -print_final_stats=1 \
    -artifact_prefix="$work/$h-" "$work/$h" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec/ {print $2}' "$log")
  crashes=0
  for a in "$work/$h-"crash-* "$work/$h-"leak-* "$work/$h-"oom-* "$work/$h-"timeout-*; do
    [ -f "$a" ] || continue
    crashes=$((crashes + 1))
    # "found-" keeps it out of .gitignore's crash-*.
    mkdir -p "testdata/fuzz/$h-regressions"
    kind=$(basename "$a"); kind=${kind#"$h-"}
    cp "$a" "testdata/fuzz/$h-regressions/found-$kind"
    echo "fuzz: $h: kept $a as testdata/fuzz/$h-regressions/found-$kind"
  done
  if [ $rc -ne 0 ] && [ $crashes -eq 0 ]; then crashes=1; fi # e.g. a deadly signal without an artifact
  [ $crashes -eq 0 ] || { failed=1; tail -40 "$log"; }
  rows+=("$(printf '%-12s %8s %14s %10s %8s %8s' "$h" "$seconds" "${execs:-?}" "${rate:-?}" "$(ls "$work/$h" | wc -l)" "$crashes")")
done
echo "fuzz summary ($(date -u +%F), $(nproc) CPUs, $(uname -r)):"
printf '%-12s %8s %14s %10s %8s %8s\n' harness seconds executions exec/s corpus crashes
printf '%s\n' "${rows[@]}"
exit $failed
