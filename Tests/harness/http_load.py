#!/usr/bin/env python3
"""HTTP load for the end-to-end tests: sends a request plan with N parallel
keep-alive connections and prints one JSON line per request with what the
client saw and what the handler measured about itself.

Usage: http_load.py HOST:PORT CONCURRENCY < plan
The plan has one request target per line (e.g. "/sleep?ms=5&id=17").
Output lines: {"target", "status" (0 = connection closed, e.g. a panic),
"handler_ns" (X-Handler-Ns or null), "body_sha" (sha256 of the body),
"client_ns" (from just before the request is sent to the last body byte
read: every server-side span of the request lies inside it)}.
"""
import hashlib
import http.client
import json
import queue
import sys
import threading
import time


def worker(addr, jobs, results):
    conn = http.client.HTTPConnection(addr, timeout=10)
    while True:
        target = jobs.get()
        if target is None:
            return
        try:
            t0 = time.monotonic_ns()
            conn.request("GET", target)
            resp = conn.getresponse()
            body = resp.read()
            client_ns = time.monotonic_ns() - t0
            headers = {k.lower(): v for k, v in resp.getheaders() if k.lower() not in ("date", "x-handler-ns")}
            results.put({"target": target, "status": resp.status,
                         "handler_ns": int(resp.getheader("X-Handler-Ns")) if resp.getheader("X-Handler-Ns") else None,
                         "body_sha": hashlib.sha256(body).hexdigest(),
                         "headers": headers, "client_ns": client_ns})
        except (http.client.HTTPException, ConnectionError, OSError):
            conn.close()
            conn = http.client.HTTPConnection(addr, timeout=10)
            results.put({"target": target, "status": 0, "handler_ns": None, "body_sha": None, "headers": {},
                         "client_ns": None})


def main():
    addr, concurrency = sys.argv[1], int(sys.argv[2])
    targets = [l.strip() for l in sys.stdin if l.strip()]
    jobs, results = queue.Queue(), queue.Queue()
    for t in targets:
        jobs.put(t)
    threads = [threading.Thread(target=worker, args=(addr, jobs, results)) for _ in range(concurrency)]
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while not results.empty():
        print(json.dumps(results.get()))


if __name__ == "__main__":
    main()
