#!/usr/bin/env python3
"""partner.py — a small, real partner service for the tests and the demo.

    partner.py --port N [--name NAME] [--data FILE.json] [--port-file F]
               [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]

--port 0 picks a free port and writes it to --port-file. "ready" is printed
on stdout once the socket listens. --data seeds records from a JSON file
shaped {"LOCAL_ID": {"DATASET": {record}}}. With --tls-cert and --tls-key
it speaks https; with --tls-client-ca too, it requires a client certificate
signed by those CAs (mTLS).

Service routes (HTTP/1.1, keep-alive):
  GET /                              200 {"name": NAME} (health)
  GET /citizens/{local_id}/{dataset} 200 the stored record, or 404
  PUT /citizens/{local_id}/{dataset} (or POST) stores the JSON object body,
      204. An Idempotency-Key is applied once: a repeat with the same body is
      counted as a duplicate and answered 204, a repeat with another body
      is refused with 409.

Control routes (never subject to the behaviour, never recorded):
  POST /_control/records    {local_id, dataset, record}: seeds a record
  POST /_control/behaviour  {mode, ms?, local_id?}: how service routes answer
        normal | hang (never) | garbage (200, not JSON) | errorNNN (e.g.
        error500, error400, error409) | fail_every_other (503, then normal,
        ...) | slow_ms (answers after ms); with local_id, only requests for
        that local id misbehave
  POST /_control/reset      forgets requests, pushes and behaviour
  GET  /_control/received   {"received": [...], "duplicates": N}: pushes in
        order with their idempotency_key, request_id, traceparent, record
        and body (the bytes received, as text)
  GET  /_control/requests   [{"method", "path", "port", "traceparent",
        "host"}]: raw request targets seen, with the client's port (same
        port = connection reused), the W3C traceparent header sent (or
        null) and every Host header sent (a list)
"""
import argparse
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, name, records):
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.name = name
        self.records = records          # {(local_id, dataset): record}
        self.reset()

    def reset(self):
        self.behaviour = {"mode": "normal"}
        self.calls = 0                  # for fail_every_other
        self.requests = []
        self.received = []
        self.duplicates = 0
        self.keys = {}                  # idempotency key -> body bytes


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, size caps) are part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "partner/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, body=None, raw=None):
        data = raw if raw is not None else (
            b"" if body is None else
            json.dumps(body, separators=(",", ":")).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self):
        try:
            return json.loads(self.read_body() or b"null")
        except ValueError:
            return None

    def do_GET(self):
        self.route("GET")

    def do_PUT(self):
        self.route("PUT")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control/"):
            return self.control(method, path[len("/_control/"):])
        body = self.read_body()
        with self.state.lock:
            self.state.requests.append({"method": method, "path": self.path,
                                        "port": self.client_address[1],
                                        "traceparent": self.headers.get("traceparent"),
                                        "host": self.headers.get_all("Host", [])})
        parts = path.split("/")
        local_id = None
        if len(parts) == 4 and parts[0] == "" and parts[1] == "citizens":
            local_id = urllib.parse.unquote(parts[2])
        if self.misbehave(local_id):
            return
        if path == "/" and method == "GET":
            return self.reply(200, {"name": self.state.name})
        if local_id is None:
            return self.reply(404, {"error": "no such route"})
        if method == "GET":
            return self.fetch(local_id, parts[3])
        if method in ("PUT", "POST"):
            return self.push(local_id, parts[3], body)
        self.reply(405, {"error": "method not allowed"})

    def misbehave(self, local_id):
        """Answers as the behaviour says; True if it answered already."""
        st = self.state
        with st.lock:
            b = dict(st.behaviour)
            st.calls += 1
            odd_call = st.calls % 2 == 1
        if "local_id" in b and b["local_id"] != local_id:
            return False
        mode = b["mode"]
        if mode == "hang":
            st.stopping.wait(3600)
            self.close_connection = True
            return True
        if mode == "slow_ms":
            time.sleep(b.get("ms", 1000) / 1000)
        elif mode == "garbage":
            self.reply(200, raw=b"<html>this is not json")
            return True
        elif mode == "fail_every_other" and odd_call:
            self.reply(503, {"error": "unavailable"})
            return True
        elif re.fullmatch(r"error[1-5][0-9][0-9]", mode):
            self.reply(int(mode[5:]), {"error": mode})
            return True
        return False

    def fetch(self, local_id, dataset):
        with self.state.lock:
            record = self.state.records.get((local_id, dataset))
        if record is None:
            return self.reply(404, {"error": "no record"})
        self.reply(200, record)

    def push(self, local_id, dataset, body):
        try:
            record = json.loads(body)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            return self.reply(400, {"error": "body is not a JSON object"})
        key = self.headers.get("Idempotency-Key")
        st = self.state
        with st.lock:
            seen = st.keys.get(key) if key is not None else None
            if seen is None or seen == body:
                st.received.append({
                    "local_id": local_id, "dataset": dataset,
                    "record": record, "body": body.decode("utf-8", "replace"),
                    "idempotency_key": key,
                    "request_id": self.headers.get("X-Request-Id"),
                    "traceparent": self.headers.get("traceparent"),
                    "duplicate": seen is not None,
                })
            if seen is None:
                st.records[(local_id, dataset)] = record
                if key is not None:
                    st.keys[key] = body
            elif seen == body:
                st.duplicates += 1
        if seen is not None and seen != body:
            return self.reply(409, {"error": "key reused for another body"})
        self.reply(204)

    def control(self, method, what):
        arg = self.read_json() if method == "POST" else None
        status, body = self.control_answer(method, what, arg)
        self.reply(status, body)

    def control_answer(self, method, what, arg):
        st = self.state
        with st.lock:
            if method == "GET" and what == "received":
                return 200, {"received": list(st.received),
                             "duplicates": st.duplicates}
            if method == "GET" and what == "requests":
                return 200, list(st.requests)
            if method == "POST" and what == "reset":
                st.reset()
                return 204, None
            if (method == "POST" and what == "records" and
                    isinstance(arg, dict) and
                    {"local_id", "dataset", "record"} <= arg.keys()):
                st.records[(arg["local_id"], arg["dataset"])] = arg["record"]
                return 204, None
            if (method == "POST" and what == "behaviour" and
                    isinstance(arg, dict) and "mode" in arg):
                st.behaviour = arg
                st.calls = 0
                return 204, None
        return 404, {"error": "no such control route"}


def load_records(path):
    if path is None:
        return {}
    with open(path) as f:
        data = json.load(f)
    return {(lid, ds): rec for lid, sets in data.items()
            for ds, rec in sets.items()}


def main():
    ap = argparse.ArgumentParser(description="A partner service for tests.")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="partner")
    ap.add_argument("--data")
    ap.add_argument("--port-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.name, load_records(args.data))
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    if args.port_file:
        # Written whole, then renamed, so a reader never sees half a port.
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.state.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
