#!/usr/bin/env bash
# gen-vmlinux.sh OUTPUT_DIR
# Called by the BPFCompiler plugin for the BPF C that includes "vmlinux.h"
# (CO-RE programs on kernel functions and tracepoints): the kernel's types as C,
# from the build host's BTF. Generated at build time, never committed (~3 MB).
set -euo pipefail
out=$1
btf=${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}
bpftool=""
for t in /usr/sbin/bpftool /usr/bin/bpftool bpftool; do command -v "$t" >/dev/null 2>&1 && { bpftool=$t; break; }; done
[ -n "$bpftool" ] || { echo "error: bpftool not found (Debian package bpftool); run scripts/setup.sh" >&2; exit 1; }
[ -r "$btf" ] || { echo "error: $btf missing: the build host's kernel has no BTF (CONFIG_DEBUG_INFO_BTF); set VMLINUX_BTF to a vmlinux with BTF" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp "$out/.vmlinux.XXXXXX")
"$bpftool" btf dump file "$btf" format c > "$tmp"
mv "$tmp" "$out/vmlinux.h"
