"""review25: a restart whose catch-up fails says so on ``/health``.

The node reloads its stored orders as the saved mirror had them, then applies the blocks
mined while it was down (``Watcher.catch_up``) before it is ready. A catch-up whose chain
read failed was logged and the node made ready with its watcher's status still ``ok``:
``/health`` answered 200 ``"chain": "ok"`` with the book as of the saved head (an order
filled while the node was down shown open) until the watcher's own next poll failed too;
a read that hangs holds that poll up to the RPC client's 30 s. Real Hardhat, a real node,
a loopback proxy in front of the chain that fails the catch-up's log read and holds the
next one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_restart_mirror import post_and_save


@contextmanager
def failing_logs(upstream: str) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A proxy to ``upstream``; once ``on`` is set, its first ``eth_getLogs`` (alone or in a
    batch) is answered HTTP 502 and every later one held until ``release`` (at most 60 s)."""
    on, release = threading.Event(), threading.Event()
    seen = [0]
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if not on.is_set() or not any(
            isinstance(c, dict) and c.get("method") == "eth_getLogs" for c in calls
        ):
            return None
        with lock:
            seen[0] += 1
            first = seen[0] == 1
        if first:
            return 502, b"bad gateway"
        release.wait(60)
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url, on, release
        finally:
            release.set()


async def test_a_failed_catch_up_at_start_is_not_reported_ok(chain: Chain, tmp_path: Path) -> None:
    c = chain
    s = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    with failing_logs(c.deployment.rpc) as (rpc, on, release):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await post_and_save(node, api, c, [s])
        c.exchange.fill_order(c.sender(BOB), s, 300 * E6)  # (while the node is down)
        on.set()
        async with running_node(cfg) as (node, api):
            assert node.watcher.resumed  # (the saved mirror was used: its head on the chain)
            code, health = await api.get("/health")
            assert not health["caughtUp"]
            assert (code, health["status"], health["chain"]) == (503, "degraded", "unreachable")
            release.set()
