"""left63's ``_recheck_settled`` change pinned: an order due a recheck (a block touched it
while its own fills were in flight) whose record was closed and evicted from memory (past
``closed_grace``) while its own settlement's block was ahead of the mirror. left63 feared the
recheck, looking the record up in memory first, dropped it and kept the book's filled amount
for good; it now checks for the block first and loads the record back from the store. The
ordering is reorg62's (``tests/test_reorg62_recheck.py``: a reset held in the watcher while
the order's last match settles and closes it ``filled`` over a fill the reset undid), with a
grace of 0 and the next poll held until the record has left memory. (This did not fail
before left63's change, 0 of 3: the block's apply loads the orders of its fills back from the
store, ``NodeChainState._apply_block``, before ``_recheck_settled`` runs; it pins the
outcome.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_reorg62_recheck import closed_during_a_held_reset, takes_the_chains_filled


class PollHold:
    """Holds ``node``'s watcher at the start of its next poll once ``armed``, until
    ``release`` (the polls under way go on)."""

    def __init__(self, node: Node) -> None:
        self.armed, self.gate, self.entered = False, asyncio.Event(), asyncio.Event()
        self._poll = node.watcher.poll_once
        node.watcher.poll_once = self._held  # type: ignore[method-assign]

    async def _held(self) -> bool:
        if self.armed and not self.gate.is_set():
            self.entered.set()
            await asyncio.wait_for(self.gate.wait(), 60)
        return await self._poll()

    def release(self) -> None:
        self.gate.set()


async def test_an_order_evicted_while_its_block_is_ahead_still_takes_the_chains_filled(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=2, closed_grace=0.0)
    async with running_node(cfg) as (node, api):
        sell, hold = await closed_during_a_held_reset(c, node, api)
        polls = PollHold(node)
        polls.armed = True  # (the reset's poll, held, goes on: the next one waits)
        hold.release()
        try:
            # the reset's verdicts pass it over (its own receipt ahead): due a recheck
            await wait_for(lambda: sell.hash in node._recheck, timeout=30)
            await asyncio.wait_for(polls.entered.wait(), 30)
            assert node.mirror.ahead()[0], "the second settlement's block is ahead"
            # closed, stored, past its grace of 0: out of memory while its block is ahead
            await wait_for(lambda: sell.hash not in node.records, timeout=30)
        finally:
            polls.release()
        # before left63's change too: the chain's 0.2 (see the module's docstring)
        await takes_the_chains_filled(c, node, api, sell)
