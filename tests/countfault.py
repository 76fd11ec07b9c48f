"""A JSON-RPC proxy on loopback in front of the test chain that answers the settler's nonce
reads (``SigningLane._count``: the operator's pending count, in a batch with the view's block
or alone) as a script says, one step a read, and forwards everything else: an endpoint that
lies or flaps once (count77)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.rpcfault import Answer, _proxy


@dataclass
class CountScript:
    """What the next nonce reads get, one step each once ``armed``: an int is added to the
    chain's count (a lie), "garbage" answers a count that is no quantity, "badjson" a body
    that is no JSON, "error" a JSON-RPC error, ("hold", s) holds the read ``s`` seconds
    first; None forwards it as it is. ``answered``: the counts given, as given."""

    steps: list[object] = field(default_factory=list)
    armed: threading.Event = field(default_factory=threading.Event)
    answered: list[object] = field(default_factory=list)
    reads: int = 0


def _is_count(calls: list[dict[str, object]]) -> bool:
    first = calls[0] if calls else {}
    params = first.get("params")
    if first.get("method") != "eth_getTransactionCount" or not isinstance(params, list):
        return False
    return params[1:] == ["pending"] and len(calls) <= 2


@contextmanager
def count_proxy(upstream: str) -> Iterator[tuple[str, CountScript]]:
    """The URL of a proxy to ``upstream`` answering the settler's nonce reads as its
    ``CountScript`` says (``armed``, a step a read)."""
    script = CountScript()
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, list) or not script.armed.is_set():
            return None
        calls = [c for c in req if isinstance(c, dict)]
        if not _is_count(calls):
            return None
        with lock:
            script.reads += 1
            if not script.steps:
                return None
            step = script.steps.pop(0)
        if step is None:
            return None
        if step == "badjson":
            return 200, b"{not json"
        if isinstance(step, tuple) and step[0] == "hold":
            time.sleep(float(step[1]))
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answers = resp.status, json.loads(resp.read())
        first = next(a for a in answers if a["id"] == calls[0]["id"])
        if step == "garbage":
            first["result"] = "0xnot-a-count"
        elif step == "error":
            del first["result"]
            first["error"] = {"code": -32000, "message": "header not found"}
        elif isinstance(step, int):
            first["result"] = hex(int(first["result"], 16) + step)
        script.answered.append(first.get("result"))
        return status, json.dumps(answers).encode()

    with _proxy(upstream, intercept) as url:
        yield url, script
