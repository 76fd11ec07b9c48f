"""review52: while the mirror replays the chain's past, a peer's soft-cancelled orders are
taken with the chain's fills of them (``NodePeering._filled_before``, user50). A chain that
closed the connection on that read (``aiohttp.ServerDisconnectedError``: neither a
``ChainError`` nor an ``OSError``, so not caught) failed the whole slice: its cancels were
not held, the bootstrap went on to the next page, and anyone could then post those orders
to this node and trade them (attack38). Now any failure of that read takes the cancels
with the mirror's fills, as a hung read does."""

from __future__ import annotations

from pathlib import Path

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sends31proxy import Action, Drop, hostile_proxy
from tests.test_attack38_cancelled_entries import PEER, entry
from tests.test_node import ALICE, E6, E18, ask


async def test_a_dropped_fills_read_still_holds_the_peers_cancels(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    dropping = False

    def rule(method: str, _: int) -> Action:
        return Drop(served=False) if dropping else None

    async with hostile_proxy(c.rpc.url, rule) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=20)
            cancelled: list[SignedOrder] = [
                c.sign(ask(c, ALICE, E18, (1000 + i) * E6)) for i in range(3)
            ]
            dropping = True  # (the chain drops every connection: the mirror falls behind)
            c.rpc.call("hardhat_mine", "0x1")
            await wait_for(lambda: not node.mirror_ready(), timeout=30)
            calls = proxy.seen["eth_call"]
            verdicts = await node.take_cancelled_many([entry(c, s) for s in cancelled], PEER)
            assert proxy.seen["eth_call"] > calls  # (the fills were asked for: dropped)
            assert verdicts == ["accepted"] * 3  # (before: ServerDisconnectedError)
            for s in cancelled:
                code, body = await api.get(f"/v1/orders/{s.hash_hex}")
                assert code == 200 and body["metaData"]["status"] == "cancelled", body
            dropping = False
            await wait_for(node.mirror_ready, timeout=30)
            code, body = await api.post_order(cancelled[0])  # (posted again: still cancelled)
            assert body["metaData"]["status"] == "cancelled", (code, body)
