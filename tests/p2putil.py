"""In-process gossip nodes on loopback: the real driver (``Gossip``), its routes on a real
aiohttp server, and an in-memory node behind them (``MemoryNode``). For the transport tests
(``tests/test_stream.py``) and ``bench/p2p_transport.py``; nothing here touches a chain."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from aiohttp import web

from sdex.gossip import Gossip, GossipConfig, NodeKey
from sdex.gossip.checks import PartialVerdicts
from sdex.gossip.routes import add_routes
from sdex.httpkit import RateLimit
from sdex.sim.orders import OrderSet
from tests.portpick import on_a_picked_port


@dataclass
class Notice:
    status: int
    body: dict[str, object]
    stored: Any = None
    """(the node's: what the answer waits for; none in memory)"""


class Book(OrderSet):
    """The node's open orders as the core reads them (an in-memory ``OrderView``)."""


class MemoryNode(Book):
    """A node's order view and intake in memory: an order is a dict with a ``hash``; one
    with ``"forged": true`` is bad faith (its sender pays)."""

    def __init__(self) -> None:
        super().__init__()
        self.gossip: Gossip | None = None
        self.checked = 0

    whole = False
    """Answer a fetch with every order asked for, not those that fit (as a node before answers
    were filled by bytes did, or a liar): an answer too large is then ``TOO_LARGE``."""

    def open_orders_by_hash(self, hashes: Iterable[str], max_bytes: int) -> list[dict[str, str]]:
        return super().open_orders_by_hash(hashes, 2**62 if self.whole else max_bytes)

    def post(self, order: dict[str, Any]) -> None:
        """A wallet's order: kept and announced."""
        self.add(order)
        assert self.gossip is not None
        self.gossip.announce(order)

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        self.checked += 1
        if not isinstance(obj, dict) or not isinstance(obj.get("hash"), str):
            return "rejected"
        if obj.get("forged"):
            return "forged"
        if obj["hash"] in self.orders:
            return "known"
        self.add(obj)
        assert self.gossip is not None
        self.gossip.announce(obj, exclude=peer)
        return "accepted"

    async def submit_many_from_peer(self, objs: list[object], peer: str | list[str]) -> list[str]:
        who = peer if isinstance(peer, list) else [peer] * len(objs)
        return [await self.submit_from_peer(o, p) for o, p in zip(objs, who, strict=True)]

    async def submit_each_from_peer(
        self, objs: list[object], peer: str | list[str], reading: Callable[[], object] | None
    ) -> AsyncGenerator[tuple[int, str], None]:
        """``submit_many_from_peer``'s verdicts, each (index, verdict), once it answers
        (no chain reads here: never ``reading``); tests stand in for it there. Failing midway
        (``PartialVerdicts``), the verdicts given, then what it raised."""
        try:
            verdicts = await self.submit_many_from_peer(objs, peer)
        except PartialVerdicts as e:
            for i, v in enumerate(e.verdicts):
                if v:
                    yield i, v
            raise e.__cause__ or e from None
        for i, v in enumerate(verdicts):
            yield i, v

    on_loop = 0
    """Signatures of peers' orders "recovered" on the loop (``signatures_on_loop``): a test's."""

    def signatures_on_loop(self) -> int:
        return self.on_loop

    def known_copy(self, obj: object) -> bool:
        """As the node's: the very same order (every field), not just its hash."""
        if not isinstance(obj, dict) or obj.get("forged") or not isinstance(obj.get("hash"), str):
            return False
        return self.orders.get(obj["hash"]) == obj

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        return Notice(200, {"applied": True})

    async def cancelled_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        return [], after  # (no soft cancels held in memory)

    async def take_cancelled_many(self, entries: list[object], peer: str) -> list[str]:
        return ["rejected"] * len(entries)

    async def settlement_notice(self, tx_hash: str) -> bool:
        return False


class Dear(MemoryNode):
    """A node whose intake takes ``dear`` seconds of the loop's CPU an order (a subclass
    sets it)."""

    dear = 0.0

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        end = time.thread_time() + self.dear
        while time.thread_time() < end:
            pass
        return await super().submit_from_peer(obj, peer)


def order(i: int) -> dict[str, Any]:
    """An order-sized dict (the fields of a signed order, ~700 bytes of JSON)."""
    h = "0x" + f"{i:064x}"[-64:]
    return {
        "hash": h,
        "makerToken": "0x" + "11" * 20,
        "takerToken": "0x" + "22" * 20,
        "makerAmount": str(10**16 + i),
        "takerAmount": str(2 * 10**7 + i),
        "maker": "0x" + "33" * 20,
        "taker": "0x" + "00" * 20,
        "sender": "0x" + "00" * 20,
        "feeRecipient": "0x" + "00" * 20,
        "takerTokenFeeAmount": "0",
        "expiry": "1900000000",
        "salt": str(10**70 + i),
        "verifyingContract": "0x" + "44" * 20,
        "chainId": "31337",
        "signature": "0x" + f"{i:0130x}"[-130:],
    }


@dataclass
class Member:
    node: MemoryNode
    gossip: Gossip
    url: str
    runner: web.AppRunner


async def serve_gossip(
    cfg: GossipConfig,
    seeds: list[str],
    admin: bool = True,
    make: type[MemoryNode] = MemoryNode,
    limit: RateLimit | None = None,
) -> Member:
    """One node: a ``make`` (a ``MemoryNode``) behind a ``Gossip`` (not started), its routes
    served on a free loopback port (``limit``: its peers' rate limit, default none to speak
    of); the caller cleans its ``runner`` up."""

    async def start(port: int) -> Member:
        url = f"http://127.0.0.1:{port}"
        node = make()
        g = Gossip(node, url, seeds, cfg, NodeKey.generate())
        node.gossip = g
        app = web.Application()
        add_routes(app, g, limit or RateLimit(), admin=admin)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return Member(node, g, url, runner)

    return await on_a_picked_port(start)  # (its port may be taken before it binds it)


@contextlib.asynccontextmanager
async def gossip_net(
    n: int,
    configs: list[GossipConfig] | None = None,
    connect: bool = True,
    makes: list[type[MemoryNode]] | None = None,
) -> AsyncIterator[list[Member]]:
    """``n`` nodes (of ``makes``' kinds), each seeded with node 0; with ``connect``, until
    each knows all others."""
    members: list[Member] = []
    try:
        for i in range(n):
            cfg = configs[i] if configs else GossipConfig(dial_interval=0.1)
            make = makes[i] if makes else MemoryNode
            members.append(await serve_gossip(cfg, [members[0].url] if i else [], make=make))
        for m in members:
            await m.gossip.start()
        if connect:
            async with asyncio.timeout(20):
                while any(len(m.gossip.peers) < n - 1 for m in members):
                    await asyncio.sleep(0.05)
        yield members
    finally:
        for m in members:
            await m.runner.shutdown()
            await m.gossip.stop()
            await m.runner.cleanup()


Taker = TypeVar("Taker", bound=MemoryNode)


@contextlib.asynccontextmanager
async def notice_pair(
    cfg: GossipConfig, make: type[Taker]
) -> AsyncIterator[tuple[Member, Member, Taker]]:
    """Node 0 (a ``MemoryNode``) and node 1 (a ``make``: the notices' taker), ``cfg`` each,
    connected: both, and node 1's node."""
    async with gossip_net(2, [cfg, cfg], makes=[MemoryNode, make]) as (a, b):
        node = b.node
        assert isinstance(node, make)
        yield a, b, node


def peer_entry(m: Member, key: str) -> dict[str, Any]:
    """``m``'s stats entry (``/health``'s ``gossip.peers``) of its peer ``key``."""
    peers: list[dict[str, Any]] = m.gossip.core.stats()["peers"]  # type: ignore[assignment]
    return next(p for p in peers if p["key"] == key)


class Holding(MemoryNode):
    """A notices' taker: what it is sent in ``got`` (in order of arrival), its answers
    waiting (as its subclass says) on ``hold``, which the test sets to let them go."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[str] = []
        self.hold: asyncio.Future[None] = asyncio.get_running_loop().create_future()


@contextlib.asynccontextmanager
async def admitted_peer(node: Any, node_url: str) -> AsyncIterator[Member]:
    """A quiet peer (its own anti-entropy rounds never run) seeded with a real node's
    ``node_url``, once ``node``'s gossip admitted it (its hello, dialled back)."""
    quiet = GossipConfig(dial_interval=0.1, ae_interval=1e6)
    peer = await serve_gossip(quiet, [node_url])
    try:
        await peer.gossip.start()
        async with asyncio.timeout(20):
            while node.gossip.peers.get(peer.gossip.node_id) is None:
                await asyncio.sleep(0.05)
        yield peer
    finally:
        await peer.runner.shutdown()
        await peer.gossip.stop()
        await peer.runner.cleanup()


@contextlib.contextmanager
def lines_run(files: set[str]) -> Iterator[list[int]]:
    """Lines of the code in ``files`` run meanwhile, on this thread (a count of its work that
    no load on the machine changes)."""
    count = [0]

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        count[0] += event == "line"
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename in files else None

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        yield count
    finally:
        sys.settrace(old)
