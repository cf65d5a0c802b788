#!/usr/bin/env python3
"""Runs each command N times (output to /dev/null) and prints its median and
min wall time in ms, plus ratios of the first command against the second.

Usage: timeit.py N LABEL -- CMD... ::: LABEL -- CMD...
"""
import statistics
import subprocess
import sys
import time


def measure(cmd, n):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main():
    n = int(sys.argv[1])
    groups, cur = [], []
    for a in sys.argv[2:] + [":::"]:
        if a == ":::":
            groups.append(cur)
            cur = []
        else:
            cur.append(a)
    results = []
    for g in groups:
        label, cmd = g[0], g[2:]
        med, lo = measure(cmd, n)
        results.append((label, med, lo))
        print(f"  {label:<40} median {med:8.2f} ms   min {lo:8.2f} ms")
    (l1, m1, _), (l2, m2, _) = results[0], results[1]
    print(f"  ratio {l1} / {l2}: {m1 / m2:.2f}x (median)")


if __name__ == "__main__":
    main()
