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
Two more statements follow through libmariadb itself (ctypes), passing
(unsigned long)-1 as the length, which makes mysql_real_query call strlen:
a short one and one of about 2 KB; their lines have "nul_terminated": true.

A line "ready PID" is printed first; with --wait the script then waits for a
line on stdin before running the statements (so probes can attach to it).
"""
import argparse
import ctypes
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

NUL_TERMINATED = [
    "SELECT 'nul-terminated', 42",
    "SELECT '" + "x" * 2000 + "' AS long_nul_terminated",
]


class NulTerminatedClient:
    """A second connection through libmariadb.so.3 directly (the library
    MySQLdb already loaded), for mysql_real_query(m, stmt, (unsigned long)-1)."""

    def __init__(self, socket, user, password):
        lib = ctypes.CDLL("libmariadb.so.3")
        lib.mysql_init.restype = ctypes.c_void_p
        lib.mysql_init.argtypes = [ctypes.c_void_p]
        lib.mysql_real_connect.restype = ctypes.c_void_p
        lib.mysql_real_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                           ctypes.c_char_p, ctypes.c_uint, ctypes.c_char_p, ctypes.c_ulong]
        lib.mysql_real_query.restype = ctypes.c_int
        lib.mysql_real_query.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong]
        lib.mysql_store_result.restype = ctypes.c_void_p
        lib.mysql_store_result.argtypes = [ctypes.c_void_p]
        lib.mysql_free_result.argtypes = [ctypes.c_void_p]
        lib.mysql_error.restype = ctypes.c_char_p
        lib.mysql_error.argtypes = [ctypes.c_void_p]
        lib.mysql_close.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.m = lib.mysql_init(None)
        if not lib.mysql_real_connect(self.m, None, user.encode(), password.encode(), None, 0,
                                      socket.encode() if socket else None, 0):
            raise RuntimeError(lib.mysql_error(self.m).decode())

    def query(self, statement):
        rc = self.lib.mysql_real_query(self.m, statement.encode(), ctypes.c_ulong(-1).value)
        end = time.perf_counter_ns()
        if rc != 0:
            return end, self.lib.mysql_error(self.m).decode()
        result = self.lib.mysql_store_result(self.m)
        if result:
            self.lib.mysql_free_result(result)
        return end, None

    def close(self):
        self.lib.mysql_close(self.m)


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
    raw = NulTerminatedClient(args.socket, args.user, args.password)
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

    for index, statement in enumerate(NUL_TERMINATED, start=len(STATEMENTS)):
        start = time.perf_counter_ns()
        end, error = raw.query(statement)
        print(json.dumps({
            "index": index,
            "statement": statement,
            "ok": error is None,
            "error": error,
            "duration_ns": end - start,
            "nul_terminated": True,
        }), flush=True)
    raw.close()


if __name__ == "__main__":
    main()
