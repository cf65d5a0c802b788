#!/usr/bin/python3
"""HTTPS test server for the OpenSSL probes (Debian python3: its _ssl uses libssl.so.3,
which calls SSL_read_ex / SSL_write_ex).

Generates a self-signed certificate into a temporary directory with the openssl CLI,
listens on 127.0.0.1 (port 0 unless --port), prints `listening PORT`, and serves
HTTP/1.1 with keep-alive from a ThreadingHTTPServer:

  /sleep?ms=N     sleeps N ms, 200 with a Content-Length body
  /status?code=N  answers with status N (and a Content-Length body)
  /query          (with --mysql-socket) runs `SELECT ?, SLEEP(0.005)` through MySQLdb
                  (libmariadb's mysql_real_query) on a connection of the handling
                  thread, and answers 200 with the row
  /pgquery        (with --pg-dsn) runs `SELECT %s, pg_sleep(0.005)` through psycopg2
                  (libpq's PQexec) on a connection of the handling thread, 200 with the row
  /_timings       "PATH_WITH_QUERY NANOSECONDS" per request served so far: the
                  server's own measurement, from the return of the read that
                  carried the request head to just after the body was written
"""
import argparse
import http.server
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

timings = []
timings_lock = threading.Lock()
mysql_socket = None
per_thread = threading.local()


def mysql_connection():
    # One connection per handler thread, made on its first /query (MySQLdb's
    # connect runs queries of its own: they belong to that request too).
    if getattr(per_thread, "db", None) is None:
        import MySQLdb
        per_thread.db = MySQLdb.connect(unix_socket=mysql_socket, user="root")
    return per_thread.db


pg_dsn = None


def pg_connection():
    # As mysql_connection: one per handler thread, made on its first /pgquery.
    if getattr(per_thread, "pg", None) is None:
        import psycopg2
        per_thread.pg = psycopg2.connect(pg_dsn)
        per_thread.pg.autocommit = True
    return per_thread.pg


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes; without TCP_NODELAY the body
    # waits for the client's delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        # As BaseHTTPRequestHandler does, but the clock starts when the read that
        # carried the request head returns (the buffered readline gets the whole
        # head from one SSL_read_ex), so the measurement covers the same window
        # as the span: head parsing and the handler, up to the last body write.
        self.raw_requestline = self.rfile.readline(65537)
        self.t0 = time.monotonic_ns()
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501)
            return
        method()
        self.wfile.flush()

    def do_GET(self):
        t0 = self.t0
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/_timings":
            with timings_lock:
                body = "".join(f"{p} {ns}\n" for p, ns in timings).encode()
            self.answer(200, body)
            return
        if url.path == "/sleep":
            time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
            self.answer(200, b"slept\n")
        elif url.path == "/query" and mysql_socket:
            cursor = mysql_connection().cursor()
            cursor.execute("SELECT %s, SLEEP(0.005)", (query.get("id", ["0"])[0],))
            self.answer(200, f"{cursor.fetchone()}\n".encode())
        elif url.path == "/pgquery" and pg_dsn:
            cursor = pg_connection().cursor()
            cursor.execute("SELECT %s, pg_sleep(0.005)", (query.get("id", ["0"])[0],))
            self.answer(200, f"{cursor.fetchone()}\n".encode())
        elif url.path == "/status":
            code = int(query.get("code", ["200"])[0])
            self.answer(code, f"status {code}\n".encode())
        else:
            self.answer(404, b"not found\n")
        with timings_lock:
            timings.append((self.path, time.monotonic_ns() - t0))

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    # Started from a thread that blocks signals (libdispatch), we would inherit
    # the mask and ignore SIGTERM / SIGINT.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mysql-socket", help="MariaDB unix socket for /query")
    parser.add_argument("--pg-dsn", help="libpq connection string for /pgquery")
    args = parser.parse_args()
    global mysql_socket, pg_dsn
    mysql_socket = args.mysql_socket
    pg_dsn = args.pg_dsn
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-days", "1", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        print(f"listening {server.server_address[1]}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(main())
