"""A JSON-RPC proxy on loopback whose one backend stays on a chain after it was replaced
(gate77): the old chain's blocks recorded before its node stopped, answered for every lone
``eth_getBlockByNumber`` of a recorded number and for every other ask of "latest" (from the
first, while ``flapping``); batches, and everything else, go to the chain behind the URL (the
node restarted on the same port: the new chain). Such an endpoint proves a reset to no
two-read rule (``sdex.watch.fork``) while it flaps: the watcher says ``behind`` and ``ok`` in
turn."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sdex.chain import Rpc
from tests.rpcfault import Answer, _proxy


class OldBackend:
    """The old chain's blocks by number and its head, answered while ``flapping`` is set."""

    def __init__(self) -> None:
        self.blocks: dict[str, object] = {}
        self.head: object = None
        self.flapping = threading.Event()
        self.latest_old = 0
        """"latest" answered from the old chain."""
        self.latest_new = 0
        """"latest" forwarded to the new chain while flapping."""
        self._lock = threading.Lock()

    def record(self, rpc: Rpc) -> None:
        """Every block of the chain behind ``rpc`` now, and its head."""
        top = int(rpc.call("eth_blockNumber"), 16)
        self.blocks = {
            hex(n): rpc.call("eth_getBlockByNumber", hex(n), False) for n in range(top + 1)
        }
        self.head = self.blocks[hex(top)]

    def intercept(self, req: object) -> Answer | None:
        if not self.flapping.is_set() or not isinstance(req, dict):
            return None
        if req.get("method") != "eth_getBlockByNumber":
            return None
        which = (req.get("params") or [None])[0]
        if which == "latest":
            with self._lock:
                old = self.latest_old <= self.latest_new
                if old:
                    self.latest_old += 1
                else:
                    self.latest_new += 1
            if not old:
                return None
            block = self.head
        elif isinstance(which, str) and which in self.blocks:
            block = self.blocks[which]
        else:
            return None
        answer = {"jsonrpc": "2.0", "id": req.get("id"), "result": block}
        return 200, json.dumps(answer).encode()


@contextmanager
def old_backend_proxy(upstream: str) -> Iterator[tuple[str, OldBackend]]:
    """The URL of a proxy to ``upstream`` with an ``OldBackend`` (idle until it flaps)."""
    old = OldBackend()
    with _proxy(upstream, old.intercept) as url:
        yield url, old
