#!/usr/bin/env python3
"""Minimal uprobe harness, independent of uprobe-trace: opens a counting
perf event on the kernel's uprobe PMU at (PATH, FILE OFFSET) for PID,
then prints the number of hits each time a line arrives on stdin
("count" -> prints N), and exits on EOF.

Usage: uprobe_count.py PATH OFFSET PID [OFFSET...]
Several offsets are summed. No BPF involved: if the count moves, the offset
is a real instruction boundary inside code the process executes.
"""
import ctypes
import os
import struct
import sys

SYS_perf_event_open = 298  # x86-64


def uprobe_pmu_type():
    with open("/sys/bus/event_source/devices/uprobe/type") as f:
        return int(f.read())


def open_uprobe(path, offset, pid):
    libc = ctypes.CDLL(None, use_errno=True)
    cpath = ctypes.create_string_buffer(path.encode())
    attr = bytearray(128)
    # type, size, config(0 = entry probe), sample_period, sample_type, read_format, flags
    struct.pack_into("<IIQQQQQ", attr, 0, uprobe_pmu_type(), 128, 0, 0, 0, 0, 0)
    # config1 = path pointer at offset 56, config2 = file offset at 64
    struct.pack_into("<QQ", attr, 56, ctypes.addressof(cpath), offset)
    buf = (ctypes.c_char * 128).from_buffer(attr)
    fd = libc.syscall(SYS_perf_event_open, buf, ctypes.c_int(pid), ctypes.c_int(-1), ctypes.c_int(-1),
                      ctypes.c_ulong(0))
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"perf_event_open(uprobe {path}:{offset:#x}, pid {pid}): {os.strerror(err)}")
    return fd, cpath


def main():
    path, pid = sys.argv[1], int(sys.argv[3])
    offsets = [int(o, 0) for o in [sys.argv[2]] + sys.argv[4:]]
    fds = [open_uprobe(path, o, pid) for o in offsets]
    print("attached", flush=True)
    for _line in sys.stdin:
        total = sum(struct.unpack("<Q", os.read(fd, 8))[0] for fd, _ in fds)
        print(total, flush=True)


if __name__ == "__main__":
    main()
