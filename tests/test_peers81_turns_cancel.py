"""A mass cancel of reads waiting in ``Turns`` on many keys asks few bounds (peers81): a pass
asks only the parked keys whose room came back or whose bound may have risen (below its
``ceiling``, ``ReadKeys.ceiling``). Before, each pass asked every parked key's bound (turns80
left it: 200 parked keys, 77-95 us a read), and each cancelled call makes a pass: cancelling
the calls parked on K keys asked ~K bounds each, K^2 in all.

Counted, not timed: ``KEYS`` makers with a record each, their ``MAKER_READS`` turns held,
``WAITING`` more reads each parked behind them; every waiting read cancelled (a deadline, or
its peer gone), one at a time; then the holders end and nothing is left."""

from __future__ import annotations

import asyncio

from sdex.chain.arpcturns import Turns
from sdex.ingest.readturns import MAKER_READS, ReadKeys

KEYS = 200
WAITING = 2


async def asked_a_cancel() -> float:
    """``limit``'s answers asked for, a cancelled read."""
    rk = ReadKeys()  # (every maker with a record: the node's until ``recorded_by`` is set)
    asked = 0

    def limit(key: str) -> int:
        nonlocal asked
        asked += 1
        return rk.limit(key)

    turns = Turns(MAKER_READS, limit, rk.ceiling)  # (as ``Eip1271Batcher`` makes it)
    gate = asyncio.Event()

    async def read(key: str) -> None:
        async with turns.turns([key]):
            await gate.wait()

    makers = [f"maker:0x{k:040x}" for k in range(KEYS)]
    holders = [asyncio.ensure_future(read(m)) for m in makers for _ in range(MAKER_READS)]
    waiting = [asyncio.ensure_future(read(m)) for m in makers for _ in range(WAITING)]
    async with asyncio.timeout(60):
        while turns.waited < len(waiting) or sum(turns._busy.values()) < len(holders):
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert len(turns._parked) == KEYS
    asked = 0
    for task in waiting:
        task.cancel()
        await asyncio.sleep(0)
    async with asyncio.timeout(60):
        await asyncio.gather(*waiting, return_exceptions=True)
    cancelled = asked / len(waiting)
    gate.set()
    async with asyncio.timeout(60):
        await asyncio.gather(*holders)
    assert not (turns._busy or turns._waiting or turns._passed or turns._at or turns._parked)
    return cancelled


def test_a_mass_cancel_asks_few_bounds_a_cancel() -> None:
    asked = asyncio.run(asked_a_cancel())
    assert asked <= 4, asked  # (before: ~KEYS / 2 a cancel)
