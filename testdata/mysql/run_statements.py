#!/usr/bin/python3
"""Runs a fixed list of statements against a MySQL/MariaDB server through
MySQLdb (Debian's python3-mysqldb, which calls libmariadb.so.3's
mysql_real_query once per statement) and prints one JSON line per statement:

    {"index": 0, "statement": "...", "ok": true, "error": null, "duration_ns": 123}

duration_ns is measured around the low-level `connection.query()` alone
(mysql_real_query; rows are fetched afterwards), so it is comparable with a
span that starts and ends at that call's entry and return.

usage: run_statements.py --socket PATH [--user root] [--password ""]
       run_statements.py --host 127.0.0.1 --port 3306 [...]
A line "ready PID" is printed first; with --wait the script then waits for a
line on stdin before running the statements (so probes can attach to it).
"""
import argparse
import json
import os
import sys
import time

import MySQLdb


def long_insert():
    """An INSERT of about 4 KB: many rows of number and string literals."""
    rows = []
    i = 0
    text = "INSERT INTO ut_items (id, name, score) VALUES "
    while len(text) + sum(len(r) + 2 for r in rows) < 4000:
        rows.append("(%d, 'item-%04d', %d.5)" % (1000 + i, i, i))
        i += 1
    return text + ", ".join(rows)


STATEMENTS = [
    "CREATE DATABASE IF NOT EXISTS uprobe_trace",
    "USE uprobe_trace",
    "DROP TABLE IF EXISTS ut_items",
    "CREATE TABLE ut_items (id INT PRIMARY KEY, name VARCHAR(64), score DOUBLE)",
    "INSERT INTO ut_items (id, name, score) VALUES (1, 'alice', 2.5), (2, 'bob''s', -1e3)",
    "SELECT SLEEP(0.05)",
    "SELECT id, name FROM ut_items WHERE name = 'alice' AND id IN (1, 2, 3) AND score > -10",
    "SELECT * FROM no_such_table",
    long_insert(),
    "SELECT COUNT(*) FROM ut_items",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", default="root")
    ap.add_argument("--password", default="")
    ap.add_argument("--wait", action="store_true")
    args = ap.parse_args()

    kw = dict(user=args.user, passwd=args.password)
    if args.socket:
        kw["unix_socket"] = args.socket
    else:
        kw.update(host=args.host, port=args.port)
    conn = MySQLdb.connect(**kw)
    print("ready %d" % os.getpid(), flush=True)
    if args.wait:
        sys.stdin.readline()

    for index, statement in enumerate(STATEMENTS):
        error = None
        start = time.perf_counter_ns()
        try:
            conn.query(statement)
            end = time.perf_counter_ns()
            result = conn.store_result()
            if result is not None:
                result.fetch_row(maxrows=0)
        except MySQLdb.Error as e:
            end = time.perf_counter_ns()
            error = "%s: %s" % (type(e).__name__, e)
        print(json.dumps({
            "index": index,
            "statement": statement,
            "ok": error is None,
            "error": error,
            "duration_ns": end - start,
        }), flush=True)
    conn.close()


if __name__ == "__main__":
    main()
