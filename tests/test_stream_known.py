"""A push of copies the node holds already is answered in the stream reader's own turn
(``Served.answer_now``, ``routes._frame_now``, ``Gossip.answer_known``): no task, the same
answer and the same checks as the task's path. Real gossip drivers, their routes on real
aiohttp servers on loopback, in-memory nodes behind them (``tests.p2putil``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sdex.gossip import GossipConfig
from sdex.gossip.outbox import SHORT_ID
from sdex.gossip.served import Served
from sdex.gossip.stream import Link
from tests.p2putil import gossip_net, order
from tests.taskutil import tasks_seen
from tests.test_stream import dial_link, newest_served, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)


@contextmanager
def served_tasks(served: Served) -> Iterator[list[str]]:
    """The tasks started for ``served``'s requests meanwhile (``Served._serve``)."""
    seen: list[str] = []

    def of_served(_: asyncio.Task[Any], coro: Coroutine[Any, Any, Any]) -> None:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None and frame.f_locals.get("self") is served:
            seen.append(getattr(coro, "__qualname__", ""))

    with tasks_seen(of_served):
        yield seen


async def push(link: Link, body: object) -> tuple[int, Any]:
    return await link.request("POST", "/orders", None, body, 10)


HELD = order(2)
CASES: list[tuple[str, object, int, dict[str, int] | None, int]] = [
    # (case, body, status, counts, tasks started)
    ("held copy", {"orders": [HELD]}, 200, {"known": 1}, 0),
    ("held copy twice, with hints", {"orders": [HELD, HELD], "also": ["ab"]}, 200, {"known": 2}, 0),
    ("new order", {"orders": [order(5)]}, 200, {"accepted": 1}, 1),
    ("held and new", {"orders": [HELD, order(6)]}, 200, {"accepted": 1, "known": 1}, 1),
    ("held copy changed", {"orders": [{**HELD, "makerAmount": "1"}]}, 200, {"known": 1}, 1),
    ("no orders", {"orders": []}, 200, {}, 1),
    ("orders not a list", {"orders": {"a": HELD}}, 400, None, 1),
    ("body not an object", [HELD], 400, None, 1),
]


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize(("case", "body", "status", "counts", "tasks"), CASES)
async def test_a_push_of_held_copies_is_answered_without_a_task(
    grouped: bool,
    case: str,
    body: object,
    status: int,
    counts: dict[str, int] | None,
    tasks: int,
) -> None:
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.add(HELD)
        link = await dial_link(a, b, grouped)
        try:
            served = newest_served(b, a)
            known = b.gossip.push_timing.known
            with served_tasks(served) as seen:
                got = await push(link, body)
            assert got[0] == status, (case, got)
            if counts is not None:
                assert {k: v for k, v in got[1].items() if v} == counts
            assert len(seen) == tasks, (case, seen)
            assert b.gossip.push_timing.known - known == (1 if tasks == 0 else 0)
        finally:
            await link.close()


async def test_a_held_push_from_a_cut_link_is_refused_as_before() -> None:
    """The fast path keeps ``_frame``'s checks: a link the operator cut answers 503."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.add(HELD)
        link = await dial_link(a, b, True)
        try:
            b.gossip.links_blocked.add(a.url)
            status, body = await push(link, {"orders": [HELD]})
            assert status == 503 and "cut" in str(body)
        finally:
            b.gossip.links_blocked.discard(a.url)
            await link.close()


@pytest.mark.parametrize("grouped", [True, False])
async def test_held_pushes_read_together_are_answered_each_its_own(grouped: bool) -> None:
    """Held pushes whose frames were read together, mixed with pushes of new orders: every
    call gets its own answer; a dialer that did not ask for grouped answers one frame each
    (one that did: at most one each, those read together in one)."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.add(HELD)
        link = await dial_link(a, b, grouped)
        try:
            served = newest_served(b, a)
            before = served.answer_frames
            bodies = [[HELD], [order(7)], [HELD, HELD], [HELD], [order(8)], [HELD]]
            calls = [asyncio.create_task(push(link, {"orders": o})) for o in bodies]
            replies = await asyncio.gather(*calls)
            assert [(r[0], r[1]["known"], r[1]["accepted"]) for r in replies] == [
                (200, 1, 0), (200, 0, 1), (200, 2, 0), (200, 1, 0), (200, 0, 1), (200, 1, 0)
            ]  # fmt: skip
            sent = served.answer_frames - before
            assert sent == len(bodies) if not grouped else 1 <= sent <= len(bodies)
        finally:
            await link.close()


async def test_a_held_push_s_hints_reach_the_core() -> None:
    """Answered in the reader's turn, a held push still tells the core who sent it and whom
    it went to (``also``, ``more``: ``core.receive``), as the task's path does."""
    async with gossip_net(3, [FAST] * 3) as (a, b, c):
        core = b.gossip.core
        await until(lambda: c.gossip.node_id in core.mesh)
        b.node.add(order(1))
        b.node.add(order(2))
        link = await dial_link(a, b, True)
        try:
            served = newest_served(b, a)
            short = c.gossip.node_id[-SHORT_ID:]
            body = {"orders": [order(1), order(2)], "also": [], "more": [[short, [1]]]}
            with served_tasks(served) as seen:
                status, counts = await push(link, body)
            assert status == 200 and counts["known"] == 2 and seen == []
            hinted = core._heard._hinted
            assert hinted.get(order(2)["signature"]) == {c.gossip.node_id}
            assert order(1)["signature"] not in hinted
        finally:
            await link.close()


async def test_a_ping_read_with_a_held_push_does_not_hold_its_answer() -> None:
    """A push of held copies and a PING read off the socket together: the answer goes at
    once. review23: the PING counted as a frame still to read, so the answer was held for
    it, and aiohttp's ``receive`` answers a PING itself and waits on for a data frame: the
    answer waited for the dialer's next call (here: never, so the call timed out)."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        b.node.add(HELD)
        link = await dial_link(a, b, True)
        try:
            reading = newest_served(b, a).ws._writer.transport  # type: ignore[union-attr]
            reading.pause_reading()  # (both frames then come in one read)
            got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            assert link.send_now("POST", "/orders", None, {"orders": [HELD]}, 10, got.set_result)
            await link.ws.ping()
            reading.resume_reading()
            result = await asyncio.wait_for(got, 5)
            assert isinstance(result, tuple) and result[0] == 200, result
            assert result[1]["known"] == 1
        finally:
            await link.close()
