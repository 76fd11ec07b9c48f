"""A push goes out on its peer's open stream in the turn the core asks for it, no task, and
its answer is handed to the core by the stream's reader (``Gossip._push_now``,
``Link.send_now``); the answer, a timeout and a stream that closes first end as on the task's
path (``Gossip._call``): the orders arrive, an unanswered push is tried again, a closed stream
falls back to HTTP. A frame the socket cannot take now (unsent bytes, too large) goes by the
task's path. Real gossip drivers on loopback, in-memory nodes (``tests.p2putil``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sdex.gossip import GossipConfig
from sdex.gossip.stream import NOW_MOST, StreamDown
from tests.p2putil import Member, gossip_net, order
from tests.taskutil import tasks_started
from tests.test_stream import open_link, posted_to_all, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)
QUIET = GossipConfig(dial_interval=0.1, ae_interval=3600.0, peer_exchange_interval=3600.0)


def named(tasks: list[asyncio.Task[Any]], name: str) -> int:
    return sum(1 for t in tasks if t.get_name() == name)


@contextmanager
def stuck_intake(m: Member) -> Iterator[asyncio.Event]:
    """``m``'s peer intake waits for the event meanwhile (then checks as before); after
    it, new checks go straight through."""
    never = asyncio.Event()
    real = m.node.submit_many_from_peer

    async def stuck(objs: list[object], peer: str | list[str]) -> list[str]:
        await never.wait()
        return await real(objs, peer)

    m.node.submit_many_from_peer = stuck  # type: ignore[method-assign]
    try:
        yield never
    finally:
        m.node.submit_many_from_peer = real  # type: ignore[method-assign]


def pushes(m: Member) -> int:
    return int(m.gossip.core.stats()["ordersSent"])  # type: ignore[call-overload]


async def test_a_push_on_an_open_stream_starts_no_task_and_is_answered() -> None:
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        await open_link(a, b)
        frames = a.gossip.stats()["streamFramesSent"]
        sent = pushes(a)
        with tasks_started() as tasks:
            for i in range(5):
                o = order(300 + i)
                a.node.post(o)
                await until(lambda o=o: o["hash"] in b.node.orders)  # type: ignore[misc]
                await until(lambda i=i: pushes(a) == sent + i + 1)  # type: ignore[misc]
        assert named(tasks, "gossip-push") == 0  # (main: one a push)
        assert int(a.gossip.stats()["streamFramesSent"]) > int(frames)  # type: ignore[call-overload]


async def test_a_large_push_goes_by_the_task() -> None:
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        await open_link(a, b)
        big = {**order(400), "pad": "x" * NOW_MOST}  # (the in-memory node keeps any field)
        sent = pushes(a)
        with tasks_started() as tasks:
            a.node.post(big)
            await until(lambda: big["hash"] in b.node.orders)
            await until(lambda: pushes(a) == sent + 1)
        assert named(tasks, "gossip-push") == 1


async def test_an_unanswered_push_times_out_and_goes_again() -> None:
    cfg = GossipConfig(dial_interval=0.1, ae_interval=3600.0, timeout=0.3)
    async with gossip_net(2, [cfg] * 2) as (a, b):
        link = await open_link(a, b)
        with stuck_intake(b) as never:
            o = order(500)
            a.node.post(o)
            await until(lambda: not link.open, timeout=10)  # (timed out: a fresh stream)
        never.set()
        await until(lambda: o["hash"] in b.node.orders, timeout=20)


async def test_a_stream_that_closes_before_the_answer_falls_back_to_http() -> None:
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        link = await open_link(a, b)
        told: list[object] = []
        assert link.send_now("GET", "/digest", None, None, 5.0, told.append)
        await link.close()
        assert len(told) == 1 and isinstance(told[0], StreamDown)
        assert not link.send_now("GET", "/digest", None, None, 5.0, told.append)
        # a push whose stream closes under it goes again over HTTP (a task), and arrives
        link = await open_link(a, b)
        with stuck_intake(b) as never:
            o = order(600)
            a.node.post(o)
            await until(lambda: len(link._told) == 1)
            with tasks_started() as tasks:
                await link.close()
            assert named(tasks, "gossip-push") == 1 and not link._told
        never.set()  # (the peer's checks run one at a time: the stuck one first)
        await until(lambda: o["hash"] in b.node.orders, timeout=20)


async def test_orders_reach_every_node_with_pushes_written_at_once() -> None:
    async with gossip_net(4, [FAST] * 4) as net:
        await until(
            lambda: all(m.gossip.streams and len(m.gossip.streams.links) == 3 for m in net), 30
        )
        await posted_to_all(net, 700, 60, every=7, pause=0.01)
