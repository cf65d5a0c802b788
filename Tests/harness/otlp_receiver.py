#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver for the end-to-end tests: accepts POST
/v1/traces, saves each body as OUTDIR/N.pb, answers 200 with an empty
ExportTraceServiceResponse. Prints "listening PORT" when ready.

Usage: otlp_receiver.py OUTDIR
"""
import http.server
import itertools
import os
import sys

outdir = sys.argv[1]
counter = itertools.count()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        if ok:
            with open(os.path.join(outdir, f"{next(counter)}.pb"), "wb") as f:
                f.write(body)
            with open(os.path.join(outdir, "headers.txt"), "a") as f:
                f.write(str(dict(self.headers)) + "\n")
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
