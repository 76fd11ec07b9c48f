"""review52: while the mirror replays the chain's past, a peer's soft-cancelled orders are
taken with the chain's fills of them (``NodePeering._filled_before``, user50). A chain that
closed the connection on that read (``aiohttp.ServerDisconnectedError``: neither a
``ChainError`` nor an ``OSError``, so not caught) failed the whole slice: its cancels were
not held, the bootstrap went on to the next page, and anyone could then post those orders
to this node and trade them (attack38). Now any failure of that read takes the cancels
with the mirror's fills, as a hung read does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sdex.node.core import Node
from sdex.node.peering import TAKE_SLICE
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.sends31proxy import Action, Drop, Proxy, hostile_proxy
from tests.test_attack38_cancelled_entries import PEER, entry
from tests.test_node import ALICE, E6, E18, ask


class Dropping:
    """The proxy's switch: while ``on``, every connection to the chain is dropped."""

    on = False

    def rule(self, method: str, _: int) -> Action:
        return Drop(served=False) if self.on else None


@asynccontextmanager
async def dropping_node(c: Chain, tmp: Path) -> AsyncIterator[tuple[Node, Api, Proxy, Dropping]]:
    """A node whose chain is reached through a proxy that drops every connection while its
    switch is on; caught up with the chain when given."""
    dropping = Dropping()
    async with hostile_proxy(c.rpc.url, dropping.rule) as proxy:
        cfg = node_config(c, tmp / "n.db", rpc=proxy.url)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=20)
            yield node, api, proxy, dropping


async def test_a_dropped_fills_read_still_holds_the_peers_cancels(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with dropping_node(c, tmp_path) as (node, api, proxy, dropping):
        cancelled: list[SignedOrder] = [
            c.sign(ask(c, ALICE, E18, (1000 + i) * E6)) for i in range(3)
        ]
        dropping.on = True  # (the chain drops every connection: the mirror falls behind)
        c.rpc.call("hardhat_mine", "0x1")
        await wait_for(lambda: not node.mirror_ready(), timeout=30)
        calls = proxy.seen["eth_call"]
        verdicts = await node.take_cancelled_many([entry(c, s) for s in cancelled], PEER)
        assert proxy.seen["eth_call"] > calls  # (the fills were asked for: dropped)
        assert verdicts == ["accepted"] * 3  # (before: ServerDisconnectedError)
        for s in cancelled:
            code, body = await api.get(f"/v1/orders/{s.hash_hex}")
            assert code == 200 and body["metaData"]["status"] == "cancelled", body
        dropping.on = False
        await wait_for(node.mirror_ready, timeout=30)
        code, body = await api.post_order(cancelled[0])  # (posted again: still cancelled)
        assert body["metaData"]["status"] == "cancelled", (code, body)


async def test_a_page_of_cancels_is_read_in_one_call(chain: Chain, tmp_path: Path) -> None:
    """The chain's fills of a page's genuine entries in one ``getOrderStates`` read, not one
    a slice of ``TAKE_SLICE`` (a 500-entry page: 32 reads in a row, each bounded only by
    ``FILLED_READ_WAIT``, 2 s: a slow chain held the bootstrap's walk past its deadline)."""
    c = chain
    behind = False

    def rule(method: str, _: int) -> Action:  # (the mirror held behind; reads answered)
        return Drop(served=False) if behind and method != "eth_call" else None

    async with hostile_proxy(c.rpc.url, rule) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=20)
            cancelled = [c.sign(ask(c, ALICE, E18, (1000 + i) * E6)) for i in range(5 * TAKE_SLICE)]
            behind = True
            c.rpc.call("hardhat_mine", "0x1")
            await wait_for(lambda: not node.mirror_ready(), timeout=30)
            calls = node.peer_batcher.calls
            verdicts = await node.take_cancelled_many([entry(c, s) for s in cancelled], PEER)
            assert verdicts == ["accepted"] * len(cancelled)
            assert node.peer_batcher.calls - calls == 1  # (before: 5, one a slice)
            behind = False
            code, body = await api.get(f"/v1/orders/{cancelled[-1].hash_hex}")
            assert code == 200 and body["metaData"]["status"] == "cancelled", body
