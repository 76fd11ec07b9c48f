"""wait74 (issue 11): a wallet group's orders wait no loop turn more than a lone order's.

At 1,000 orders/s on 8 nodes (two cores) a turn is long, and a wallet group's POST waited a
turn longer at each hop a lone order does not take: a callback that started the group's
task, the signatures' hand-over and its delivery on a crowded loop (the verdict of a spare
core, read only by busy turns, stuck through small ones), the writer's hand-over a turn after
the group's last row, the answer set by a callback on the commit. Here: a crowded loop's
chunk of signatures is checked at once, the cores' verdict is read again by a small turn, a
group is through the intake and its rows with the writer in the turn after its posts, and,
the rule kept, no 2xx comes before an order's own row is committed: a node process killed
the moment its first 2xx are out keeps every order it acknowledged.
"""

from __future__ import annotations

import dataclasses

from sdex.ingest.cores import SpareCore
from sdex.ingest.verify import EcdsaBatcher
from tests.test_http62_crowded_inline import _at_once
from tests.test_verify import _Readings, _signed


def crowded() -> SpareCore:
    """A core reading that says, every time it is read, that every core is taken (the loop
    thread waited twice as long as it ran since the last reading)."""
    readings = _Readings(*((1_000 * k, 2_000 * k) for k in range(1, 100_000)))
    core = SpareCore(read=readings, interval=0.0)
    core.spare()  # (the first reading: nothing to compare yet)
    assert core.spare() is False
    return core


async def test_a_crowded_loops_chunk_of_signatures_is_checked_at_once() -> None:
    """No core spare: each of a chunk's verdicts (``ecdsa_each``: a wallet group's, a peer's)
    is given as it is asked for, without waiting for the turn's end (before: queued for a
    hand-over that ran them on the loop a turn later, the chunk woken a turn after that)."""
    batcher = EcdsaBatcher(thread_min=1, spare_core=crowded())
    good, other = _signed(1), _signed(2)
    forged = dataclasses.replace(good, order=other.order)
    contract = dataclasses.replace(other, signature=b"\x01" * 100)
    chunk = batcher.ecdsa_each([good, forged, contract, other])
    got = [_at_once(anext(chunk)) for _ in range(4)]  # type: ignore[arg-type]
    assert got == [True, False, None, True]
    await chunk.aclose()
    assert (batcher.inline, batcher.crowded, batcher.handovers) == (3, 3, 0)
    assert not batcher._in_flight and not batcher._pending


async def test_the_cores_are_read_again_by_a_turn_of_few_orders() -> None:
    """A core was spare at the last reading; the machine has filled up since. A turn of
    fewer than ``thread_min`` orders reads the cores again (at most once an interval) and
    checks its order at once (before: only a turn of ``thread_min`` or more read them, so
    the first verdict, spare, held through any run of small turns: each order waited for
    the turn's end and its delivery, two turns, on a crowded loop)."""
    clock = [0.0]
    readings = _Readings((1_000, 0), (2_000, 5_000))
    core = SpareCore(read=readings, clock=lambda: clock[0], interval=1.0)
    assert core.spare() is True
    batcher = EcdsaBatcher(thread_min=4, spare_core=core)
    clock[0] = 1.0  # an interval on: the loop waited 5x what it ran
    assert _at_once(batcher.ecdsa_ok(_signed(3))) is True
    assert (batcher.crowded, readings.reads) == (1, 2)
