#!/usr/bin/env python3
"""Minimal uprobe harness, independent of uprobe-trace: opens counting
perf events on the kernel's uprobe PMU at (PATH, FILE OFFSET), one per CPU
for all processes (a per-pid event would follow only one thread, and Go
serves requests on many), then prints the number of hits each time a line
arrives on stdin ("count" -> prints N), and exits on EOF.

Usage: uprobe_count.py PATH OFFSET [OFFSET...]
Several offsets are summed. No BPF involved: if the count moves, the offset
is a real instruction boundary inside code that runs. Only processes
executing PATH itself can hit it.
"""
import ctypes
import os
import struct
import sys

SYS_perf_event_open = 298  # x86-64


def uprobe_pmu_type():
    with open("/sys/bus/event_source/devices/uprobe/type") as f:
        return int(f.read())


def open_uprobe(path, offset, cpu):
    libc = ctypes.CDLL(None, use_errno=True)
    cpath = ctypes.create_string_buffer(path.encode())
    attr = bytearray(128)
    # type, size, config(0 = entry probe), sample_period, sample_type, read_format, flags
    struct.pack_into("<IIQQQQQ", attr, 0, uprobe_pmu_type(), 128, 0, 0, 0, 0, 0)
    # config1 = path pointer at offset 56, config2 = file offset at 64
    struct.pack_into("<QQ", attr, 56, ctypes.addressof(cpath), offset)
    buf = (ctypes.c_char * 128).from_buffer(attr)
    fd = libc.syscall(SYS_perf_event_open, buf, ctypes.c_int(-1), ctypes.c_int(cpu), ctypes.c_int(-1),
                      ctypes.c_ulong(0))
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"perf_event_open(uprobe {path}:{offset:#x}, cpu {cpu}): {os.strerror(err)}")
    return fd, cpath


def main():
    path = sys.argv[1]
    offsets = [int(o, 0) for o in sys.argv[2:]]
    cpus = os.sched_getaffinity(0) | set(range(os.cpu_count()))
    fds = [open_uprobe(path, o, cpu) for o in offsets for cpu in sorted(cpus)]
    print("attached", flush=True)
    for _line in sys.stdin:
        total = sum(struct.unpack("<Q", os.read(fd, 8))[0] for fd, _ in fds)
        print(total, flush=True)


if __name__ == "__main__":
    main()
