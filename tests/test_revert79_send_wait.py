"""revert79: a send waits for the blocks known when it looks (``Unapplied.settled``), not for
those that come while it waits (under other parties' steady traffic a watcher a block behind
kept a send waiting block after block), nor for the node's own, and never past its bound."""

from __future__ import annotations

import asyncio
import time

from sdex.watch.unapplied import Unapplied


async def test_a_send_waits_for_the_blocks_known_when_it_looked() -> None:
    u = Unapplied()
    u.caught_up(10)
    u.saw(11)
    waiting = asyncio.ensure_future(u.settled(5.0))
    await asyncio.sleep(0)
    u.saw(12)  # (known after it looked: not waited for)
    assert not waiting.done()
    u.caught_up(11)
    async with asyncio.timeout(5):
        await waiting
    assert u.send_waits == 1 and u.known and u.known[0][0] == 12


async def test_a_send_waits_for_no_own_block_and_not_past_its_bound() -> None:
    u = Unapplied()
    u.caught_up(10)
    u.own = lambda n: n == 11
    u.saw(11)
    await u.settled(5.0)  # (its own settlement's block alone: at once)
    assert u.send_waits == 0
    u.saw(12)
    began = time.monotonic()
    await u.settled(0.05)  # (never applied: it goes after its bound)
    assert 0.04 <= time.monotonic() - began < 2 and u.send_waits == 1
