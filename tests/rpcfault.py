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
