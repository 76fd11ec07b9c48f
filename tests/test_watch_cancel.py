"""A node's stop ends its watcher even when a new head wakes the watcher in the same turn of
the event loop as the cancel (a real node on the test devnet).

review17: ``test_book_events``' rebuild test hung 1 run in 9 under load (pytest's 300 s
timeout, the node's stop awaiting a watcher task that was "cancelling" and polled on, a
new ``Event.wait`` task a second): the watcher waited for its next head with
``asyncio.wait_for``, which on Python 3.11 returns the awaited result, swallowing the
cancel, when that result came in the same turn as the cancel (a receipt or a newHeads
announcement while the node stops).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for


async def test_a_cancel_that_comes_with_a_new_head_ends_the_watcher(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        watcher = node.watcher
        task = next(t for t in node._tasks if t.get_name() == "watcher")
        # idle: waiting for its next head (the safety poll's second at most)
        await wait_for(lambda: bool(watcher._new_head._waiters), 30)
        watcher._new_head.set()  # a head wakes it, and the node stops, in one turn
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        if task not in done:
            task.cancel()  # (a second cancel, in no race, ends it: no hang at the stop)
            await asyncio.wait({task}, timeout=10)
        assert task in done, "the watcher went on polling after it was cancelled"
        assert task.cancelled()
