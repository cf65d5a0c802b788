#!/usr/bin/python3
"""Keep-alive HTTPS client for Benchmarks/tls-cpu.sh: one connection (Debian
python3, libssl.so.3: SSL_read_ex / SSL_write_ex), COUNT GETs of PATH after
WARMUP unmeasured ones; prints the CPU this process spent on the COUNT
requests, from /proc/self/stat (utime + stime, clock ticks), and the count.

Usage: tls_keepalive.py PORT PATH COUNT [WARMUP]
"""
import http.client
import os
import ssl
import sys

port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 200


def cpu_ticks():
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
for _ in range(warmup):
    conn.request("GET", path)
    conn.getresponse().read()
start = cpu_ticks()
for _ in range(count):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
print(cpu_ticks() - start, count, os.sysconf("SC_CLK_TCK"))
