#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver for the end-to-end tests: accepts POST
/v1/traces, saves each accepted body as OUTDIR/N.pb, answers 200 with an
empty ExportTraceServiceResponse. POST /v1/metrics bodies are decoded with
the opentelemetry-proto package and appended to OUTDIR/metrics.jsonl (one
request a line, protobuf JSON mapping). Prints "listening PORT" when ready.

Usage: otlp_receiver.py OUTDIR [--port N] [--responses LIST] [--hang]
                         [--tls CERT KEY] [--client-ca CA]

  --port N          listen on this port (default: any free one)
  --responses LIST  answer the first requests with these instead of 200, in
                    order: CODE, CODE:RETRY_AFTER_SECONDS, or "hang"
                    (e.g. 503,429:1); later requests get 200
  --hang            every request: read it, then never answer
  --tls CERT KEY    serve HTTPS with this certificate chain and key (PEM)
  --client-ca CA    with --tls: require a client certificate signed by CA

Every request is logged to OUTDIR/requests.log as "MONOTONIC_SECONDS ANSWER"
(ANSWER: the status sent, or "hang").
"""
import argparse
import http.server
import itertools
import os
import signal
import threading
import time

# The test process starts children with most signals blocked; unblock the ones
# the tests stop us with, or terminate() would leave us running.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

parser = argparse.ArgumentParser()
parser.add_argument("outdir")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--responses", default="")
parser.add_argument("--hang", action="store_true")
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--client-ca")
args = parser.parse_args()

outdir = args.outdir
counter = itertools.count()
scripted = [r for r in args.responses.split(",") if r]
lock = threading.Lock()


def next_answer():
    if args.hang:
        return "hang"
    with lock:
        return scripted.pop(0) if scripted else "200"


def log(answer):
    with lock, open(os.path.join(outdir, "requests.log"), "a") as f:
        f.write(f"{time.monotonic():.6f} {answer}\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/metrics":
            return self.metrics(body)
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        answer = next_answer() if ok else "404"
        log(answer)
        if answer == "hang":
            threading.Event().wait()
        code, _, retry_after = answer.partition(":")
        if code == "200":
            with open(os.path.join(outdir, f"{next(counter)}.pb"), "wb") as f:
                f.write(body)
            with open(os.path.join(outdir, "headers.txt"), "a") as f:
                f.write(str(dict(self.headers)) + "\n")
        self.send_response(int(code))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def metrics(self, body):
        from google.protobuf import json_format
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        request.ParseFromString(body)
        with lock, open(os.path.join(outdir, "metrics.jsonl"), "a") as f:
            f.write(json_format.MessageToJson(request, indent=None) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
if args.tls:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*args.tls)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
