"""review24: an attacker's look at ``Link.send_now`` (a call written by hand in its caller's
turn, no task): the order of calls when some go by ``request``'s task instead, and the
bookkeeping of every path. Real gossip drivers on loopback, in-memory nodes
(``tests.p2putil``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sdex.gossip import GossipConfig
from sdex.gossip.stream import NOW_MOST, Link, StreamDown
from tests.p2putil import Member, gossip_net, order
from tests.test_stream import dial_link, newest_served, open_link, until

QUIET = GossipConfig(dial_interval=0.1, ae_interval=3600.0, peer_exchange_interval=3600.0)


def wire_order(b: Member, a: Member) -> list[str]:
    """The paths of the requests ``b`` reads from ``a``'s stream, in the order read (the
    served side's real codec, watched)."""
    served = newest_served(b, a)
    real, seen = served.codec.open, []

    def opened(data: bytes) -> bytes:
        payload = real(data)
        seen.append(str(json.loads(payload)["p"]))
        return payload

    served.codec.open = opened  # type: ignore[method-assign,assignment]
    return seen


def call(link: Link, tasks: list[asyncio.Task[Any]], path: str, body: object) -> None:
    """As ``Gossip``: written now if ``send_now`` takes it, else by ``request`` in a task."""
    method = "GET" if body is None else "POST"
    if not link.send_now(method, path, None, body, 10.0, lambda result: None):
        tasks.append(asyncio.create_task(link.request(method, path, None, body, 10.0)))


async def test_a_call_declined_for_its_size_is_not_overtaken() -> None:
    """A push too large to write now goes by a task; a small call made after it in the same
    turn went out at once, ahead of it (the peer read them out of order)."""
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        link = await open_link(a, b)
        seen = wire_order(b, a)
        big = {"orders": [{**order(900), "pad": "x" * NOW_MOST}]}
        tasks: list[asyncio.Task[Any]] = []
        call(link, tasks, "/orders", big)
        call(link, tasks, "/digest", None)
        call(link, tasks, "/digest", None)
        await until(lambda: len(seen) >= 3)
        assert seen == ["/orders", "/digest", "/digest"]
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_peer_not_reading_gets_no_call_written_by_hand() -> None:
    """The peer stops reading (a slow loris): once the socket holds unsent bytes ``send_now``
    writes nothing more (the calls go by ``request``, with aiohttp's flow control), and when
    the peer reads again it reads every call, in the order made."""
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        link = await open_link(a, b)
        seen = wire_order(b, a)
        peer_side = newest_served(b, a).ws._req.transport  # type: ignore[union-attr]
        assert peer_side is not None
        peer_side.pause_reading()
        transport = link.ws._writer.transport  # type: ignore[union-attr]
        big = {"orders": [{**order(910 + i), "pad": "x" * (4 * NOW_MOST)} for i in range(16)]}
        tasks: list[asyncio.Task[Any]] = []
        for _ in range(64):  # (a megabyte each, until the kernel's buffers are full)
            call(link, tasks, "/orders", big)
            await asyncio.sleep(0)
            if transport.get_write_buffer_size():
                break
        assert transport.get_write_buffer_size() > 0
        sent = len(tasks)
        for _ in range(3):
            call(link, tasks, "/digest", None)
        assert len(tasks) == sent + 3  # (none written by hand)
        peer_side.resume_reading()
        await until(lambda: len(seen) >= sent + 3)
        assert seen == ["/orders"] * sent + ["/digest"] * 3
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_link_closed_before_its_reader_ran_tells_every_call() -> None:
    """``close`` in the turn the link was dialed (its reader not yet started, so its
    ``finally`` never runs): a call written by ``send_now`` must still be told."""
    async with gossip_net(2, [QUIET] * 2) as (a, b):
        await open_link(a, b)
        assert a.gossip.streams is not None and a.gossip.streams.session is not None
        link = await dial_link(a, b, grouped=True)
        told: list[object] = []
        assert link.send_now("GET", "/digest", None, None, 5.0, told.append)
        await link.close()
        assert len(told) == 1 and isinstance(told[0], StreamDown)
        assert not link._told and not len(link._deadlines)
