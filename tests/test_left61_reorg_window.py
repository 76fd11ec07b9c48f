"""left61: the settler's retried write of its settlement's fills (``_fills_written``, after
the store refused it once) landing while the watcher handles a reorg: after the reorg's
removal of the undone blocks' fills was queued, before the node applied the reorg
(``_apply_block``, which moved ``DurableFills.epoch``). The retry still saw the old epoch
and its write, queued after the removal, stored the old block's fills (reorg60 closed the
window after ``_apply_block``, not this one). Real Hardhat (``evm_snapshot``/``evm_revert``),
a real node through a loopback proxy that holds the watcher's log reads once the reorg is
under way, and its SQLite store refusing the first write by a trigger. The settler's pause
before its retry ends when the test sees the watcher held in that window (``Paused``), not
after a fixed time: a pause of 20 s raced a loaded machine's watcher (failing while the store
held its fills, then slow to see the reorg), and the retry came before the window."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sdex.node.settlefills as settlefills
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import head
from tests.test_reorg60_retried_fills import settled_refusing_fills
from tests.test_reorg_false_fills import forget_nonces, on_chain, stored

PAUSE = 600.0
"""The settler's pause before it writes the fills again, at most (``Paused`` ends it)."""
WAIT = 120.0
"""Seconds the test waits for each state it needs (a loaded machine's watcher is slow)."""


class Paused:
    """``settlefills``' ``asyncio`` whose ``sleep`` (the settler's pause between two fills
    writes) sets ``began``, then ends once ``over`` is set (its seconds at most)."""

    def __init__(self) -> None:
        self.began = asyncio.Event()
        self.over = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.began.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.over.wait()


async def test_a_fills_write_retried_while_a_reorg_is_under_way_is_not_stored(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(settlefills, "FILLS_WRITE_PAUSES", (PAUSE,))
    paused = Paused()
    monkeypatch.setattr(settlefills, "asyncio", paused)
    held, release = threading.Event(), threading.Event()
    reorged: list[Callable[[], bool]] = []  # (set once the node runs)

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if (
            reorged
            and reorged[0]()
            and any(isinstance(r, dict) and r.get("method") == "eth_call" for r in calls)
        ):
            held.set()
            release.wait(WAIT)
        return None

    with _proxy(c.rpc.url, intercept) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: node.watcher.caught_up.is_set())
            snap, fork, orders, settled_at = await settled_refusing_fills(c, node, api)

            async def confirmed() -> bool:  # (from the receipt: its fills write refused)
                return [await api.status(s) for s in orders] == ["filled", "filled"]

            await wait_for(confirmed, timeout=WAIT)
            assert stored(node, orders) == []  # (refused: the settler pauses, then again)
            await wait_for(paused.began.is_set, timeout=WAIT)  # (its write refused: paused)

            try:
                reorgs = node.watcher.reorgs
                # a log read once the watcher counts the reorg (its removal queued) waits
                reorged.append(lambda: node.watcher.reorgs > reorgs)
                assert c.rpc.call("evm_revert", snap) is True  # the settlement's block goes
                forget_nonces(c)
                for _ in range(settled_at - fork + 2):  # (past the watcher's head)
                    c.rpc.call("evm_mine")
                # the undone blocks' fills removed, the reorg not yet applied by the node
                await wait_for(held.is_set, WAIT)
                await asyncio.wrap_future(
                    node.store._writer.submit(lambda db: db.execute("DROP TRIGGER no_fills"))
                )
                paused.over.set()  # (the settler's retry: within the window)
                # the settlement's retried write done (the watcher is held: its are not)
                await wait_for(lambda: not node._fills_writing, timeout=WAIT)
            finally:
                reorged.clear()
                release.set()
                paused.over.set()
            number = head(c)[0]

            def past_the_reorg() -> bool:
                at = node.watcher.applied
                return at is not None and at.number >= number and at.hash == head(c)[1]

            await wait_for(past_the_reorg, timeout=WAIT)
            assert on_chain(c, orders) == []
            # before: the retry's 2 fills of the undone block, stored for good
            assert stored(node, orders) == []
