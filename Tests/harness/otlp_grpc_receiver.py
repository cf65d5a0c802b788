#!/usr/bin/env python3
"""An OTLP/gRPC receiver for the tests (grpcio + opentelemetry-proto's generated
services): TraceService/Export bodies are saved as OUTDIR/N.pb (the request
re-serialized: protobuf serialization of one message is deterministic), and
MetricsService/Export requests appended to OUTDIR/metrics.jsonl. Prints
"listening PORT" when ready.

Usage: otlp_grpc_receiver.py OUTDIR [--tls CERT KEY] [--fail CODE[:RETRY_SECONDS],...]

  --fail LIST   answer the first trace exports with these status codes (names
                such as UNAVAILABLE), RESOURCE_EXHAUSTED:2 with a RetryInfo of 2 s
"""
import argparse, itertools, os, signal, threading
from concurrent import futures

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

parser = argparse.ArgumentParser()
parser.add_argument("outdir")
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--fail", default="")
args = parser.parse_args()
counter = itertools.count()
lock = threading.Lock()
failures = [f for f in args.fail.split(",") if f]


def retry_info_trailer(seconds):
    # google.rpc.Status{code, details: [Any{type_url RetryInfo, value RetryInfo{retry_delay Duration{seconds}}}]},
    # encoded by hand (field numbers from google/rpc/status.proto and error_details.proto).
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload
    duration = varint(1 << 3 | 0) + varint(seconds)
    retry_info = field(1, duration)
    any_msg = field(1, b"type.googleapis.com/google.rpc.RetryInfo") + field(2, retry_info)
    status = varint(1 << 3 | 0) + varint(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]) + field(3, any_msg)
    return (("grpc-status-details-bin", status),)


class Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        with lock:
            failure = failures.pop(0) if failures else None
            with open(os.path.join(args.outdir, "requests.log"), "a") as f:
                f.write((failure or "OK") + "\n")
        if failure:
            name, _, retry = failure.partition(":")
            if retry:
                context.set_trailing_metadata(retry_info_trailer(int(retry)))
            context.abort(getattr(grpc.StatusCode, name), "scripted failure")
        with lock, open(os.path.join(args.outdir, f"{next(counter)}.pb"), "wb") as f:
            f.write(request.SerializeToString())
        with lock, open(os.path.join(args.outdir, "metadata.txt"), "a") as f:
            f.write(repr(sorted(dict(context.invocation_metadata()).items())) + "\n")
        return trace_service_pb2.ExportTraceServiceResponse()


class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        with lock, open(os.path.join(args.outdir, "metrics.jsonl"), "a") as f:
            f.write(json_format.MessageToJson(request, indent=None) + "\n")
        return metrics_service_pb2.ExportMetricsServiceResponse()


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
if args.tls:
    creds = grpc.ssl_server_credentials([(open(args.tls[1], "rb").read(), open(args.tls[0], "rb").read())])
    port = server.add_secure_port("127.0.0.1:0", creds)
else:
    port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(f"listening {port}", flush=True)
server.wait_for_termination()
