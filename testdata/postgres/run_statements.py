#!/usr/bin/python3
"""Runs a fixed list of statements against a PostgreSQL server through libpq
(libpq.so.5) and prints one JSON line per statement:

    {"index": 0, "api": "PQexec", "statement": "...", "expect": "...",
     "operation": "SELECT", "ok": true, "sqlstate": null, "duration_ns": 123}

`expect` is the sanitized text the tracer should export (written by hand
here, not computed), `operation` its db.operation.name. duration_ns is the
client's own time around the call that runs the statement.

Four ways of running a statement:
- psycopg2 (Debian's python3-psycopg2), a synchronous connection: its
  cursor.execute() calls PQexec once per statement (parameters are
  interpolated by psycopg2 into the text, so they arrive as literals);
- libpq itself through ctypes: PQexecParams ($1 placeholders, values sent
  apart), PQprepare + PQexecPrepared, and the asynchronous PQsendQuery /
  PQsendQueryParams + PQgetResult loop;
- psycopg2 with async_=1 (PQsendQuery, then PQconsumeInput / PQisBusy /
  PQgetResult driven by poll()).

usage: run_statements.py --host SOCKET_DIR --port PORT [--wait | --wait-file PATH]
A line "ready PID" is printed first; with --wait the script then waits for a
line on stdin before running the statements (so probes can attach to it), with
--wait-file until PATH exists.
"""
import argparse
import ctypes
import json
import os
import select
import sys
import time

import psycopg2
import psycopg2.extensions


def long_insert():
    """An INSERT of about 4 KB: many rows of number and string literals."""
    rows, i = [], 0
    head = "INSERT INTO ut_items (id, name, score) VALUES "
    while len(head) + sum(len(r) + 2 for r in rows) < 4000:
        rows.append("(%d, 'item-%04d', %d.5)" % (1000 + i, i, i))
        i += 1
    return head + ", ".join(rows), head + ", ".join("(?, ?, ?)" for _ in rows)


LONG, LONG_EXPECT = long_insert()

# (statement, expected sanitized text, operation); psycopg2 statements may carry
# %s parameters, given as a tuple after them.
PSYCOPG2 = [
    ("DROP TABLE IF EXISTS ut_items", None, "DROP TABLE IF EXISTS ut_items", "DROP"),
    ('CREATE TABLE ut_items (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, "Mixed Case" TEXT)', None,
     'CREATE TABLE ut_items (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, "Mixed Case" TEXT)', "CREATE"),
    ("INSERT INTO ut_items (id, name, score) VALUES (1, 'alice', 2.5), (2, 'bob''s', -1e3)", None,
     "INSERT INTO ut_items (id, name, score) VALUES (?, ?, ?), (?, ?, ?)", "INSERT"),
    ("SELECT pg_sleep(0.05)", None, "SELECT pg_sleep(?)", "SELECT"),
    ("UPDATE ut_items SET score = score + 1, \"Mixed Case\" = E'it\\'s' WHERE name = 'alice'", None,
     "UPDATE ut_items SET score = score + ?, \"Mixed Case\" = ? WHERE name = ?", "UPDATE"),
    ("SELECT * FROM no_such_table WHERE id = 7", None, "SELECT * FROM no_such_table WHERE id = ?", "SELECT"),
    ("SELECT id, name FROM ut_items WHERE name = %s AND id IN %s", ("alice", (1, 2, 3)),
     "SELECT id, name FROM ut_items WHERE name = ? AND id IN (?, ?, ?)", "SELECT"),
    ("SELECT $tag$a secret; 'quoted'$tag$ AS t, $$x$$ AS u, 42::int -- trailing comment", None,
     "SELECT ? AS t, ? AS u, ?::int", "SELECT"),
    (LONG, None, LONG_EXPECT, "INSERT"),
    ("SELECT pg_sleep(0.05)", None, "SELECT pg_sleep(?)", "SELECT"),
    ("SELECT pg_sleep(0.05)", None, "SELECT pg_sleep(?)", "SELECT"),
    ("SELECT count(*) FROM ut_items", None, "SELECT count(*) FROM ut_items", "SELECT"),
]


def emit(out, index, api, statement, expect, operation, ok, sqlstate, duration_ns, **extra):
    line = {"index": index, "api": api, "statement": statement, "expect": expect, "operation": operation,
            "ok": ok, "sqlstate": sqlstate, "duration_ns": duration_ns}
    line.update(extra)
    out.append(line)


def run_psycopg2(dsn, out):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    for statement, params, expect, operation in PSYCOPG2:
        ok, state = True, None
        t0 = time.monotonic_ns()
        try:
            cur.execute(statement, params)
        except psycopg2.Error as e:
            ok, state = False, e.pgcode
        t1 = time.monotonic_ns()
        emit(out, len(out), "PQexec", statement, expect, operation, ok, state, t1 - t0)
    conn.close()


class LibPQ:
    """libpq.so.5 (the one psycopg2 already loaded) called directly."""

    PGRES_FATAL_ERROR = 7
    PG_DIAG_SQLSTATE = ord("C")

    def __init__(self):
        lib = ctypes.CDLL("libpq.so.5")
        p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        sig = {
            "PQconnectdb": (p, [s]), "PQstatus": (i, [p]), "PQerrorMessage": (s, [p]), "PQfinish": (None, [p]),
            "PQexec": (p, [p, s]),
            "PQexecParams": (p, [p, s, i, p, ctypes.POINTER(s), p, p, i]),
            "PQprepare": (p, [p, s, s, i, p]),
            "PQexecPrepared": (p, [p, s, i, ctypes.POINTER(s), p, p, i]),
            "PQsendQuery": (i, [p, s]),
            "PQsendQueryParams": (i, [p, s, i, p, ctypes.POINTER(s), p, p, i]),
            "PQgetResult": (p, [p]), "PQresultStatus": (i, [p]), "PQresultErrorField": (s, [p, i]),
            "PQclear": (None, [p]),
            "PQenterPipelineMode": (i, [p]), "PQexitPipelineMode": (i, [p]), "PQpipelineSync": (i, [p]),
        }
        for name, (res, args) in sig.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.lib = lib

    def outcome(self, res):
        """(ok, sqlstate) of a result, and clears it."""
        status = self.lib.PQresultStatus(res)
        state = self.lib.PQresultErrorField(res, self.PG_DIAG_SQLSTATE) if res else None
        self.lib.PQclear(res)
        return status != self.PGRES_FATAL_ERROR and res is not None, state.decode() if state else None

    @staticmethod
    def values(*vs):
        return (ctypes.c_char_p * len(vs))(*[v.encode() for v in vs])


def run_libpq(dsn, out):
    pq = LibPQ()
    lib = pq.lib
    conn = lib.PQconnectdb(dsn.encode())
    if lib.PQstatus(conn) != 0:
        raise SystemExit("PQconnectdb: %s" % lib.PQerrorMessage(conn))

    def timed(api, statement, expect, operation, call, **extra):
        t0 = time.monotonic_ns()
        res = call()
        t1 = time.monotonic_ns()
        ok, state = pq.outcome(res)
        emit(out, len(out), api, statement, expect, operation, ok, state, t1 - t0, **extra)

    q = "SELECT $1::text || 'x', $2::int + 1, pg_sleep(0.01)"
    timed("PQexecParams", q, "SELECT $1::text || ?, $2::int + ?, pg_sleep(?)", "SELECT",
          lambda: lib.PQexecParams(conn, q.encode(), 2, None, LibPQ.values("param-secret", "41"), None, None, 0),
          parameters=2)
    q = "INSERT INTO ut_items (id, name, score) VALUES ($1, $2, 0.5)"
    timed("PQprepare", q, "INSERT INTO ut_items (id, name, score) VALUES ($1, $2, ?)", "PREPARE",
          lambda: lib.PQprepare(conn, b"ut_insert", q.encode(), 2, None), name="ut_insert", parameters=2)
    timed("PQexecPrepared", q, "INSERT INTO ut_items (id, name, score) VALUES ($1, $2, ?)", "INSERT",
          lambda: lib.PQexecPrepared(conn, b"ut_insert", 2, LibPQ.values("77", "prepared-secret"), None, None, 0),
          name="ut_insert", parameters=2)
    timed("PQexecPrepared", q, "INSERT INTO ut_items (id, name, score) VALUES ($1, $2, ?)", "INSERT",
          lambda: lib.PQexecPrepared(conn, b"ut_insert", 2, LibPQ.values("77", "duplicate"), None, None, 0),
          name="ut_insert", parameters=2)
    # The async API: send, then PQgetResult until NULL; the client's time covers both.
    for api, q, expect, send in [
        ("PQsendQuery", "SELECT pg_sleep(0.02); SELECT 'two', 2",
         "SELECT pg_sleep(?); SELECT ?, ?", lambda q: lib.PQsendQuery(conn, q)),
        ("PQsendQueryParams", "SELECT $1::int * 2 FROM no_such_table",
         "SELECT $1::int * ? FROM no_such_table",
         lambda q: lib.PQsendQueryParams(conn, q, 1, None, LibPQ.values("21"), None, None, 0)),
    ]:
        t0 = time.monotonic_ns()
        if not send(q.encode()):
            raise SystemExit("%s failed: %s" % (api, lib.PQerrorMessage(conn)))
        ok, state, results = True, None, 0
        while True:
            res = lib.PQgetResult(conn)
            if not res:
                break
            results += 1
            r_ok, r_state = pq.outcome(res)
            ok, state = ok and r_ok, state or r_state
        t1 = time.monotonic_ns()
        emit(out, len(out), api, q, expect, "SELECT", ok, state, t1 - t0, results=results)
    # A send while a statement is still in flight: libpq refuses it (returns 0,
    # "another command is already in progress"); the running one keeps its text.
    q = "SELECT pg_sleep(0.01), 'first'"
    t0 = time.monotonic_ns()
    lib.PQsendQuery(conn, q.encode())
    refused = lib.PQsendQuery(conn, b"SELECT 'refused'") == 0
    ok, state = True, None
    while True:
        res = lib.PQgetResult(conn)
        if not res:
            break
        r_ok, r_state = pq.outcome(res)
        ok, state = ok and r_ok, state or r_state
    t1 = time.monotonic_ns()
    emit(out, len(out), "PQsendQuery", q, "SELECT pg_sleep(?), ?", "SELECT", ok, state, t1 - t0, refused_sends=int(refused))

    # Pipeline mode is not followed past its first statement (the connection is
    # busy from then on): the others get no span, and never a wrong one.
    pipeline = [("SELECT 'p1', pg_sleep(0.01)", "SELECT ?, pg_sleep(?)"), ("SELECT 'p2'", "SELECT ?"),
                ("SELECT 'p3' FROM no_such_table", "SELECT ? FROM no_such_table")]
    if not lib.PQenterPipelineMode(conn):
        raise SystemExit("PQenterPipelineMode: %s" % lib.PQerrorMessage(conn))
    t0 = time.monotonic_ns()
    for q, _ in pipeline:
        if not lib.PQsendQueryParams(conn, q.encode(), 0, None, None, None, None, 0):
            raise SystemExit("PQsendQueryParams (pipeline): %s" % lib.PQerrorMessage(conn))
    lib.PQpipelineSync(conn)
    for n, (q, expect) in enumerate(pipeline):
        ok, state = True, None
        while True:
            res = lib.PQgetResult(conn)
            if not res:
                break
            r_ok, r_state = pq.outcome(res)
            ok, state = ok and r_ok, state or r_state
        t1 = time.monotonic_ns()
        emit(out, len(out), "pipeline", q, expect, "SELECT", ok, state, t1 - t0, parameters=0, traced=(n == 0))
    lib.PQclear(lib.PQgetResult(conn))  # PGRES_PIPELINE_SYNC
    lib.PQexitPipelineMode(conn)
    lib.PQfinish(conn)


def wait_async(conn):
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [])
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [])


def run_psycopg2_async(dsn, out):
    conn = psycopg2.connect(dsn, async_=1)
    wait_async(conn)
    cur = conn.cursor()
    for q, expect in [("SELECT pg_sleep(0.03), 'async'", "SELECT pg_sleep(?), ?"),
                      ("SELECT 1/0", "SELECT ?/?")]:
        ok, state = True, None
        t0 = time.monotonic_ns()
        try:
            cur.execute(q)
            wait_async(conn)
        except psycopg2.Error as e:
            ok, state = False, e.pgcode
        t1 = time.monotonic_ns()
        emit(out, len(out), "psycopg2-async", q, expect, "SELECT", ok, state, t1 - t0)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", required=True)
    ap.add_argument("--wait", action="store_true")
    ap.add_argument("--wait-file")
    a = ap.parse_args()
    dsn = "host=%s port=%s user=postgres dbname=postgres" % (a.host, a.port)
    # Load libpq (through psycopg2) before saying ready, so the probes find it mapped.
    psycopg2.connect(dsn).close()
    LibPQ()
    print("ready %d" % os.getpid(), flush=True)
    if a.wait:
        sys.stdin.readline()
    if a.wait_file:
        deadline = time.monotonic() + 60
        while not os.path.exists(a.wait_file) and time.monotonic() < deadline:
            time.sleep(0.01)
    out = []
    run_psycopg2(dsn, out)
    run_libpq(dsn, out)
    run_psycopg2_async(dsn, out)
    for line in out:
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
