#!/usr/bin/env bash
# Benchmark (not a test): the extra cost per syscall of `--syscalls`, for the
# traced process and for every other (untraced) process on the host.
#
# Two copies of Benchmarks/syscall_loop.c each make CALLS getppid syscalls per
# round and report the thread CPU ns per call. ROUNDS rounds without the tool
# (baseline), then ROUNDS rounds with `uprobe-trace --pid A --syscalls` attached:
# A is traced (raw_syscalls sys_enter/sys_exit programs record every call:
# start time in a hash, count and log2 histogram in a per-CPU hash), B is not
# (the same programs run for it and return after one tgid compare). Lowest
# round of each; extra = with − without. The tool's own count of A's getppid
# calls (its table at exit) is checked against CALLS × ROUNDS. No
# --metrics-addr: serving metrics turns on the kernel's per-program run
# statistics, which cost every program run two clock reads. For scale, when bpftrace is
# installed: B again under bpftrace's raw_syscalls sys_enter/sys_exit probes
# with a pid filter that matches nothing (what a bpftrace one-liner for one
# process costs everyone else). Needs root.
#
#   bash Benchmarks/syscall-cost.sh [CALLS] [ROUNDS]     # default 1000000 5
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-1000000} rounds=${2:-5}
[ "$(id -u)" -eq 0 ] || { echo "syscall-cost.sh: needs root" >&2; exit 77; }
tool=${UPROBE_TRACE_BIN:-.build/debug/uprobe-trace}
[ -x "$tool" ] || { echo "syscall-cost.sh: build first (swift build), or set UPROBE_TRACE_BIN" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
gcc -O1 -o "$work/loop" Benchmarks/syscall_loop.c

start_loop() { # NAME: fifo in, file out; sets pid in NAME.pid
  mkfifo "$work/$1.in"
  "$work/loop" "$calls" < "$work/$1.in" > "$work/$1.out" &
  pids+=($!)
  exec {fd}>"$work/$1.in"
  eval "${1}_fd=$fd"
  until [ -s "$work/$1.out" ]; do sleep 0.05; done
  eval "${1}_pid=$(head -1 "$work/$1.out")"
}
round() { # NAME: one round, prints ns/call
  local fd_var="${1}_fd" before
  before=$(wc -l < "$work/$1.out")
  echo go >&"${!fd_var}"
  until [ "$(wc -l < "$work/$1.out")" -gt "$before" ]; do sleep 0.02; done
  tail -1 "$work/$1.out"
}
lowest() { sort -g | head -1; }

start_loop a
start_loop b
declare -a base_a base_b traced_a untraced_b
for _ in $(seq "$rounds"); do base_a+=("$(round a)"); base_b+=("$(round b)"); done

"$tool" --pid "$a_pid" --syscalls --quiet > /dev/null 2> "$work/tool.err" &
tool_pid=$!
pids+=($tool_pid)
until grep -q "attached" "$work/tool.err"; do
  kill -0 "$tool_pid" 2>/dev/null || { cat "$work/tool.err" >&2; exit 1; }
  sleep 0.05
done
for _ in $(seq "$rounds"); do traced_a+=("$(round a)"); untraced_b+=("$(round b)"); done
kill -INT "$tool_pid"; wait "$tool_pid" 2>/dev/null || true
# The exit table's row: % time, seconds, usecs/call, calls, syscall.
counted=$(awk '$NF == "getppid" { print $4 }' "$work/tool.err")

ref=""
if command -v bpftrace >/dev/null 2>&1; then
  bpftrace -e 'tracepoint:raw_syscalls:sys_enter /pid == 1/ { } tracepoint:raw_syscalls:sys_exit /pid == 1/ { }' > "$work/bt.out" 2>&1 &
  bt=$!
  pids+=($bt)
  until grep -q "Attaching" "$work/bt.out"; do kill -0 "$bt" 2>/dev/null || break; sleep 0.05; done
  sleep 0.5
  declare -a ref_b
  for _ in $(seq "$rounds"); do ref_b+=("$(round b)"); done
  kill -INT "$bt"; wait "$bt" 2>/dev/null || true
  ref=$(printf '%s\n' "${ref_b[@]}" | lowest)
fi

ba=$(printf '%s\n' "${base_a[@]}" | lowest); bb=$(printf '%s\n' "${base_b[@]}" | lowest)
ta=$(printf '%s\n' "${traced_a[@]}" | lowest); ub=$(printf '%s\n' "${untraced_b[@]}" | lowest)
echo "getppid, thread CPU ns per call, lowest of $rounds rounds of $calls calls"
printf '%-38s %10s %10s %10s\n' "" "without" "with" "extra"
printf '%-38s %10.1f %10.1f %10.1f\n' "traced process (--pid, --syscalls)" "$ba" "$ta" "$(echo "$ta - $ba" | bc -l)"
printf '%-38s %10.1f %10.1f %10.1f\n' "untraced process" "$bb" "$ub" "$(echo "$ub - $bb" | bc -l)"
[ -n "$ref" ] && printf '%-38s %10.1f %10.1f %10.1f\n' "untraced, bpftrace raw_syscalls /pid/" "$bb" "$ref" "$(echo "$ref - $bb" | bc -l)"
echo "uprobe-trace counted $counted getppid calls of the traced process; expected $((calls * rounds))"
[ "$counted" = "$((calls * rounds))" ] || { echo "syscall-cost.sh: count mismatch" >&2; exit 1; }
