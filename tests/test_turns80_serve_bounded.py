"""turns80: a turn's end in ``Turns`` no longer looks at every waiting call (peers79 measured
the walk: ~1.4 ms of loop a read with 1,600 reads waiting, 48-55x the cost at 50). Counted,
not timed: the bounds ``limit`` is asked for, a read, from the reads' coming to their last
one's end, hardly move from 100 reads waiting to 1,600 (the walk asked for each waiting
call's at every coming and turn's end: 77 a read at 100, 1,582 at 1,600; now 18 and 26).
And the calls cancelled or timed out while waiting, kept turns or not, leave nothing behind
in its indexes."""

from __future__ import annotations

import asyncio

from bench.peers79_turns import keys_of
from sdex.chain.arpcturns import Turns
from sdex.ingest.readturns import MAKER_READS, ReadKeys


async def asked_a_read(n: int) -> float:
    """``limit``'s answers a read asks for, from ``n`` reads' coming to the last one's end
    (peers79's reads: a maker each, a fifth of them in the pool, from 8 submitters and 4
    newcomer host groups)."""
    rk = ReadKeys(recorded=lambda m: int(m, 16) % 5 != 0)
    asked = 0

    def limit(key: str) -> int:
        nonlocal asked
        asked += 1
        return rk.limit(key)

    turns = Turns(MAKER_READS, limit)
    gate = asyncio.Event()

    async def read(keys: list[str]) -> None:
        async with turns.turns(keys):
            await gate.wait()
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(read(k)) for k in keys_of(rk, n)]
    while turns.waited + sum(turns._busy.values()) < n:  # (every read in line or in)
        await asyncio.sleep(0)
    gate.set()
    async with asyncio.timeout(60):
        await asyncio.gather(*tasks)
    assert not turns._busy and not turns._waiting and not turns._passed
    return asked / n


def test_a_turns_end_asks_for_few_bounds_however_many_wait() -> None:
    few, many = asyncio.run(asked_a_read(100)), asyncio.run(asked_a_read(1600))
    assert many <= 2 * few, (few, many)  # (the walk: 77 and 1,582)
    assert many <= 100, many


def indexes_empty(turns: Turns) -> bool:
    return not (
        turns._waiting
        or turns._passed
        or turns._at
        or turns._fresh
        or turns._parked
        or turns._kept
        or turns._open
    )


async def cycles(turns: Turns, rounds: int, calls: int) -> int:
    """``rounds`` times: ``calls`` calls for keys "a" and "b" wait behind a holder of "a"
    that never ends, calls for "b" alone pass them until they keep "b"'s turns, then every
    one waiting is cancelled or times out (alternately). The keeping calls seen, all rounds."""
    kept = 0
    timeouts: dict[int, asyncio.Timeout] = {}
    for r in range(rounds):
        timeouts.clear()

        async def both(i: int) -> None:
            async with asyncio.timeout(None) as t:
                timeouts[i] = t
                async with turns.turns(("a", "b")):
                    raise AssertionError("served while a is held")

        async def b_alone() -> None:
            async with turns.turn("b"):
                await asyncio.sleep(0)

        waiting = [asyncio.ensure_future(both(i)) for i in range(calls)]
        passing = [asyncio.ensure_future(b_alone()) for _ in range(calls)]
        async with asyncio.timeout(30):
            while not turns._kept:  # (passed OVERTAKEN_MOST times: keeping b's turns)
                await asyncio.sleep(0)
        kept += len(turns._kept["b"])
        assert len(turns._at) <= 2 * calls and len(turns._waiting) <= 2 * calls
        for i, t in enumerate(waiting):
            if (i + r) % 2:
                t.cancel()
            else:
                timeouts[i].reschedule(asyncio.get_running_loop().time())
        async with asyncio.timeout(30):
            outcomes = await asyncio.gather(*waiting, return_exceptions=True)
            await asyncio.gather(*passing)  # (b's kept turns went with them)
        assert all(isinstance(o, TimeoutError | asyncio.CancelledError) for o in outcomes)
        assert indexes_empty(turns), r
        assert turns._busy == {"a": 1}
    return kept


def test_cancelled_and_timed_out_waiters_leave_nothing_behind() -> None:
    async def run() -> None:
        turns = Turns(1)
        held = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with turns.turn("a"):
                held.set()
                await release.wait()

        h = asyncio.ensure_future(holder())
        await held.wait()
        assert await cycles(turns, rounds=20, calls=50) > 0
        release.set()
        await h
        assert indexes_empty(turns) and not turns._busy

    asyncio.run(run())
