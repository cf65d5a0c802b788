"""Abuses a metrics endpoint the way a hostile or broken network client would,
then scrapes it; prints one JSON object with what each client saw.

usage: metrics_abuse.py HOST PORT IDLE_CONNECTIONS
"""
import json, socket, sys, threading, time

host, port, idle_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def connect():
    return socket.create_connection((host, port), timeout=10)


def reply_of(sock):
    """Reads until the server closes; returns (status code or 0, seconds taken)."""
    start = time.monotonic()
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, time.monotonic() - start, data


def scrape():
    start = time.monotonic()
    s = connect()
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, data = reply_of(s)
    s.close()
    return {"status": status, "seconds": time.monotonic() - start,
            "has_metrics": b"uprobe_trace_spans_produced_total" in data}


result = {}
# Idle connections that never send a byte (more than the server keeps open).
idle = [connect() for _ in range(idle_count)]
time.sleep(0.2)
result["scrape_beside_idle"] = scrape()

# A slowloris: a byte of a request head every 50 ms, in the background.
slow_seen = {}
def slowloris():
    s = connect()
    start = time.monotonic()
    try:
        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 200:
            s.send(bytes([b]))
            time.sleep(0.05)
    except OSError:
        pass
    slow_seen["closed_after"] = time.monotonic() - start
slow = threading.Thread(target=slowloris)
slow.start()
time.sleep(0.3)
result["scrape_beside_slowloris"] = scrape()

# A 2 MB request head.
big = connect()
try:
    big.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * (2 << 20) + b"\r\n\r\n")
except OSError:
    pass  # the server may answer and close before reading it all
status, _, _ = reply_of(big)
result["big_head_status"] = status

# Garbage bytes ending like a head.
g = connect()
g.sendall(bytes(range(1, 200)) + b"\r\n\r\n")
result["garbage_status"], _, _ = reply_of(g)

result["scrape_after"] = scrape()
slow.join()
result["slowloris_closed_after"] = slow_seen.get("closed_after", -1)
for s in idle:
    s.close()
print(json.dumps(result), flush=True)
