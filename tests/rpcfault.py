"""A JSON-RPC proxy on loopback in front of the test chain that answers one method with a
fault (a method-allowlist proxy's HTTP 403, a JSON-RPC error, a slow refusal) and forwards
everything else."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def faulty_proxy(upstream: str, method: str, fault: str) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` whose answer to ``method`` is ``fault``: "403",
    "-32600", "-32000" (JSON-RPC errors) or "slow" (-32601 after 0.8 s)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            req = json.loads(body)
            if isinstance(req, dict) and req.get("method") == method:
                if fault == "403":
                    self._answer(403, b"forbidden")
                    return
                if fault == "slow":
                    time.sleep(0.8)
                code = -32601 if fault == "slow" else int(fault)
                error = {"code": code, "message": "Unsupported method / method not allowed"}
                self._answer(200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "error": error}))
                return
            fwd = urllib.request.Request(
                upstream, body, {"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(fwd, timeout=30) as resp:
                self._answer(resp.status, resp.read())

        def _answer(self, status: int, payload: bytes | str) -> None:
            data = payload.encode() if isinstance(payload, str) else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


DOMAIN_SELECTOR = "0x84b0196e"
"""``eip712Domain()``: the one ``eth_call`` a node makes before it loads its stored orders."""


@contextmanager
def holding_proxy(upstream: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` that holds every ``eth_call`` but ``eip712Domain()``
    (alone or in a batch) until the event it yields is set (at most 60 s), and forwards the
    rest at once: a node whose start reads its stored orders' state waits there."""
    release = threading.Event()

    def held(req: object) -> bool:
        calls = req if isinstance(req, list) else [req]
        for c in calls:
            if isinstance(c, dict) and c.get("method") == "eth_call":
                data = str((c.get("params") or [{}])[0].get("data") or "")
                if not data.startswith(DOMAIN_SELECTOR):
                    return True
        return False

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if held(json.loads(body)):
                release.wait(60)
            fwd = urllib.request.Request(
                upstream, body, {"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(fwd, timeout=30) as resp:
                data = resp.read()
                self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
