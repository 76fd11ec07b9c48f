"""checks75: the peers' check queue (``PeerChecks``) with orders whose chain reads end late,
in any order: every check gets each of its orders' verdicts, in its orders' order; the reads
left pending stay within their bounds (a peer's under ``reads_per_peer + chunk``, all, each
peer's counted up to ``reads_per_peer``, under ``reads + chunk``: reads78, and so all under
the peers' bounds together); every order goes through the intake once; at the end nothing is left
pending, parked, queued or leading. The intake here answers at once, except each order
marked slow, whose verdict comes after its own delay, once the call said ``reading``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.checks import STRANGERS, CheckHooks, PeerChecks, Submit
from sdex.gossip.timing import CheckTiming

CHUNK, READS, PER_PEER = 4, 6, 2
SENDERS = 4

checks_st = st.lists(
    st.tuples(
        st.integers(0, SENDERS - 1),  # sender
        st.lists(st.integers(0, 4), min_size=0, max_size=7),  # each order's delay (0: none)
        st.integers(0, 3),  # loop turns before it arrives
    ),
    min_size=1,
    max_size=12,
)


async def scenario(checks: list[tuple[int, list[int], int]]) -> None:
    seen: list[object] = []
    worst = {"all": 0, "peer": 0, "counted": 0}
    q: PeerChecks

    async def late(i: int, o: object, delay: int) -> tuple[int, str]:
        for _ in range(delay):
            await asyncio.sleep(0)
        return i, f"ok-{o}"

    async def submit(
        objs: list[object], senders: list[str], reading: Callable[[], None]
    ) -> AsyncGenerator[tuple[int, str], None]:
        seen.extend(objs)
        await asyncio.sleep(0)  # (the signatures' hand-over)
        slow = []
        for i, o in enumerate(objs):
            assert isinstance(o, tuple)
            if o[2]:
                slow.append(asyncio.ensure_future(late(i, o, o[2])))
            else:
                yield i, f"ok-{o}"
        if slow:
            reading()
            worst["all"] = max(worst["all"], q.pending_reads)
            worst["peer"] = max(worst["peer"], *q.reads.owners.values(), 0)
            counted = sum(min(n, PER_PEER) for n in q.reads.owners.values())
            worst["counted"] = max(worst["counted"], counted)
            for fut in asyncio.as_completed(slow):
                i, verdict = await fut
                yield i, verdict

    q = queue_of(submit, CHUNK, READS, PER_PEER)

    async def one(k: int, sender: int, delays: list[int], wait: int) -> None:
        for _ in range(wait):
            await asyncio.sleep(0)
        orders: list[object] = [(k, j, d) for j, d in enumerate(delays)]
        results, _began = await q.run(f"peer-{sender}", k, orders)
        assert results == [f"ok-{o}" for o in orders]  # (each its own, in order)

    async with asyncio.timeout(30):
        await asyncio.gather(*(one(k, s, d, w) for k, (s, d, w) in enumerate(checks)))
    every = [(k, j, d) for k, (_s, ds, _w) in enumerate(checks) for j, d in enumerate(ds)]
    assert sorted(seen) == sorted(every)  # (each order checked once)
    assert worst["counted"] < READS + CHUNK and worst["peer"] < PER_PEER + CHUNK, worst
    assert worst["all"] < SENDERS * (PER_PEER + CHUNK), worst
    assert q.pending_reads == 0 and q.parked == 0
    assert not q.reads.owners and not q.reads.parked_checks
    assert not q._queue and not q._leading and not q._reading


@settings(max_examples=150, deadline=None)
@given(checks_st)
def test_every_check_gets_its_verdicts_and_the_reads_stay_bounded(
    checks: list[tuple[int, list[int], int]],
) -> None:
    asyncio.run(scenario(checks))


def slow_queue(
    held: asyncio.Event, chunk: int, owner: Callable[[str], str], reads: int, per_peer: int
) -> PeerChecks:
    """A check queue (``reads``, ``per_peer``: its bounds of pending reads) whose intake
    accepts every order, a call of the lone order ``"slow"`` after a read held until
    ``held`` (reads78)."""

    async def submit(
        objs: list[object], senders: list[str], reading: Callable[[], None]
    ) -> AsyncGenerator[tuple[int, str], None]:
        await asyncio.sleep(0)
        if objs == ["slow"]:
            reading()
            await held.wait()
        for i in range(len(objs)):
            yield i, "accepted"

    return queue_of(submit, chunk, reads, per_peer, owner)


def queue_of(
    submit: Submit,
    chunk: int,
    reads: int,
    per_peer: int,
    owner: Callable[[str], str] = lambda sender: sender,
) -> PeerChecks:
    """A check queue on ``submit`` with these bounds, no sender banned or charged."""
    hooks = CheckHooks(
        submit=submit,
        banned=lambda _s: False,
        judge=lambda _c, _v: None,
        penalize=lambda _s, _n: None,
        chunk=lambda: chunk,
        timing=CheckTiming(),
        reads=lambda: reads,
        reads_per_peer=lambda: per_peer,
        owner=owner,
    )
    return PeerChecks(hooks)


async def test_strangers_share_one_bound_of_pending_reads() -> None:
    """Keys not in the peer table are free to make: their pending reads count against one
    owner (``STRANGERS``), so a stranger at the bound parks every stranger's next check,
    while an admitted peer's go on; all are answered once the read ends."""
    held = asyncio.Event()

    def owner(sender: str) -> str:
        return sender if sender.startswith("peer") else STRANGERS

    q = slow_queue(held, CHUNK, owner, reads=64, per_peer=1)  # (64: the hooks' default)
    async with asyncio.timeout(10):
        slow = asyncio.create_task(q.run("stranger-1", 1, ["slow"]))
        while not q.pending_reads:
            await asyncio.sleep(0)
        other = asyncio.create_task(q.run("stranger-2", 2, ["fast"]))
        peer = asyncio.create_task(q.run("peer-1", 3, ["fast"]))
        assert (await peer)[0] == ["accepted"]
        assert not other.done() and q.parked == 1
        held.set()
        assert (await slow)[0] == ["accepted"] and (await other)[0] == ["accepted"]
    assert q.pending_reads == 0 and q.parked == 0 and not q._queue
