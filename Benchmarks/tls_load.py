#!/usr/bin/python3
"""TLS load for Benchmarks/tls.sh: THREADS keep-alive HTTPS connections
(Debian python3, libssl.so.3) GET PATH for SECONDS; prints requests/s.

Usage: tls_load.py PORT PATH SECONDS THREADS
"""
import http.client
import ssl
import sys
import threading
import time

port, path, seconds, threads = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
counts = [0] * threads
deadline = time.monotonic() + seconds


def worker(i):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    while time.monotonic() < deadline:
        conn.request("GET", path)
        conn.getresponse().read()
        counts[i] += 1


ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
start = time.monotonic()
for t in ts:
    t.start()
for t in ts:
    t.join()
print(f"{sum(counts) / (time.monotonic() - start):.1f} {sum(counts)}")
