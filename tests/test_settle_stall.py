"""A settlement's fills write held by a stalled store (real Hardhat and SQLite: a trigger on
the writer's connection blocks its thread until the test lets it go). The node applies one
settlement's results at a time (``_results_lock``); it waits for the fills' commit at most
``store_wait`` seconds, says so on ``/health``, and goes on; the fills are stored and
published once the store moves."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import stall_writer, wait_for
from tests.test_node import BOB, E6, E18, bid, node_with_resting_ask


async def test_a_settlements_results_wait_for_a_stalled_store_only_so_long(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden12: ``_on_settled`` awaited its fills' commit with no bound while holding
    ``_results_lock``: a hung writer froze every later settlement's results (releases of
    failed matches, diagnoses, rematches) and ``/health`` said ``ok`` (the watcher's own
    bound is longer). Now, past ``store_wait``: ``failing`` naming the store, the lock let
    go; the write goes on and its fill is published once committed."""
    c = chain
    gate = threading.Event()
    async with node_with_resting_ask(c, tmp_path / "n.db") as (node, api, resting):
        node.store_wait = 0.3  # (the watcher's stays at 10 s: only the settlement says it)
        sub = node.events.subscribe()
        await stall_writer(node, gate, "stall_fills BEFORE INSERT ON fills")
        try:
            code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6)))
            assert code in (200, 201), (code, body)
            await wait_for(lambda: node.settler.settled >= 1, timeout=20)
            # the results went on while the fills' commit is still held
            await wait_for(lambda: node.settler.idle.is_set(), timeout=10)
            assert not node._results_lock.locked()
            code, health = await api.get("/health")
            assert code == 503 and health["chain"] == "failing", health
            assert "a settlement's fills" in health["chainMirror"]["problem"], health
        finally:
            gate.set()
        await wait_for(lambda: bool(node.store.fills(order_hash=resting.hash_hex.lower())[1]), 20)
        fills = node.store.fills(order_hash=resting.hash_hex.lower())[1]
        assert len(fills) == 1 and fills[0].ours, fills

        seen: list[dict[str, object]] = []

        def fill_published() -> bool:
            while not sub.queue.empty():
                item = sub.queue.get_nowait()
                if item is not None and item.event.get("type") == "fill":
                    seen.append(item.event)
            return bool(seen)

        await wait_for(fill_published, timeout=10)
        assert seen[0]["orderHash"] in (resting.hash_hex.lower(), fills[0].order_hash), seen
