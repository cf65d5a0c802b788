#!/usr/bin/env bash
# Benchmark (not a test): what one uprobe hit costs on this machine, per class
# of the probed instruction (DESIGN.md, Cost model).
#
# Benchmarks/probe_cost.c has one function per class, each starting with that
# instruction. Each is called CALLS times, ROUNDS times, with no probe, then with
# a bpftrace uprobe on its first instruction that runs a counting BPF program
# (`@n = count()`); the count is checked against the calls. Cost per hit =
# (probed - unprobed) / CALLS, from the lowest round of each, in the thread CPU
# time of the calling process (other agents on a shared core do not count; the
# kernel's trap handling runs on the calling thread and does). The last row is a
# uretprobe on the `push %rbp` function: entry (emulated) plus return trampoline.
#
# The "class" column is the kernel's handling as uprobe-trace's classifier
# (GoRuntime/ProbeInstruction.swift) predicts it for this kernel:
# emulated | optimized | single-stepped. Needs root and bpftrace.
#
#   bash Benchmarks/probe-cost.sh [CALLS] [ROUNDS]     # default 50000 3
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-50000} rounds=${2:-3}
[ "$(id -u)" -eq 0 ] || { echo "probe-cost.sh: needs root" >&2; exit 77; }
command -v bpftrace >/dev/null || { echo "probe-cost.sh: needs bpftrace (apt-get install bpftrace)" >&2; exit 1; }

work=$(mktemp -d)
tracer=""
cleanup() { [ -n "$tracer" ] && kill -INT "$tracer" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
bin="$work/probe_cost"
gcc -O1 -o "$bin" Benchmarks/probe_cost.c

# What each function's first instruction is, and its class on this kernel (6.18 rules).
declare -A text class
text=([cost_push]="push %rbp" [cost_jmp]="jmp rel8" [cost_call]="call rel32" [cost_jcc]="jbe rel8"
      [cost_nop]="nop" [cost_nop5]="nopl (5-byte nop)" [cost_nopw9]="nopw (9-byte, gcc padding)"
      [cost_cmp]="cmp \$0,%rdi" [cost_mov]="mov %rdi,%rax" [cost_lea]="lea 8(%rsp),%rax" [cost_sub]="sub \$8,%rsp"
      [cost_add]="add \$1,%rax" [cost_xor]="xor %eax,%eax" [cost_pop]="pop %rcx" [cost_endbr64]="endbr64" [cost_ret]="ret")
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
kernel=$((major * 100 + minor))
for f in cost_push cost_jmp cost_call cost_jcc cost_nop; do class[$f]=emulated; done
for f in cost_cmp cost_mov cost_lea cost_sub cost_add cost_xor cost_pop cost_endbr64 cost_ret; do class[$f]=single-stepped; done
if [ "$kernel" -ge 618 ]; then class[cost_nop5]=optimized; elif [ "$kernel" -ge 616 ]; then class[cost_nop5]=emulated; else class[cost_nop5]=single-stepped; fi
if [ "$kernel" -ge 619 ]; then class[cost_nopw9]=emulated; else class[cost_nopw9]=single-stepped; fi

# best FN: the lowest thread CPU ns and the lowest wall ns of ROUNDS runs.
best() {
  local cpu="" wall="" c w
  for _ in $(seq "$rounds"); do
    read -r c w < <("$bin" run "$1" "$calls")
    if [ -z "$cpu" ] || [ "$c" -lt "$cpu" ]; then cpu=$c; fi
    if [ -z "$wall" ] || [ "$w" -lt "$wall" ]; then wall=$w; fi
  done
  echo "$cpu $wall"
}

# probed KIND FN: best under a bpftrace counting probe of KIND (uprobe|uretprobe); checks the count.
probed() {
  local out="$work/bpftrace.out" best n
  bpftrace -e "$1:$bin:$2 { @n = count(); }" > "$out" 2>&1 &
  tracer=$!
  for _ in $(seq 100); do grep -q Attaching "$out" && break; sleep 0.1; done
  sleep 0.2
  best=$(best "$2")
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true; tracer=""
  n=$(sed -n 's/^@n: //p' "$out")
  if [ "$n" != "$((calls * rounds))" ]; then
    echo "probe-cost.sh: $1 $2 counted '${n}' hits for $((calls * rounds)) calls" >&2
    cat "$out" >&2
    exit 1
  fi
  echo "$best"
}

# per_hit PROBED BASE: "cpu wall" microseconds per hit.
per_hit() {
  awk -v p="$1" -v b="$2" -v c="$calls" 'BEGIN {
    split(p, pp, " "); split(b, bb, " ")
    for (i = 1; i <= 2; i++) { d[i] = (pp[i] - bb[i]) / c / 1000; if (d[i] < 0) d[i] = 0 }
    printf "%10.2f %10.2f", d[1], d[2] }'
}

echo "uprobe cost per hit on $(uname -r), $calls calls x $rounds rounds, bpftrace counting probe"
echo "cpu: thread CPU time of the caller (contention-free); wall: elapsed (includes host and guest contention)"
printf '%-28s %-15s %10s %10s\n' "first instruction" "class" "cpu us/hit" "wall us/hit"
for f in $("$bin" list); do
  base=$(best "$f")
  with=$(probed uprobe "$f")
  printf '%-28s %-15s %s\n' "${text[$f]}" "${class[$f]}" "$(per_hit "$with" "$base")"
done
base=$(best cost_push)
with=$(probed uretprobe cost_push)
printf '%-28s %-15s %s\n' "uretprobe (entry on push)" "emulated+ret" "$(per_hit "$with" "$base")"
