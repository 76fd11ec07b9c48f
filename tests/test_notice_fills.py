"""A peer's settlement notice closes an order only once the fills that explain it are
stored (``NodePeering._notice_fills_stored``). Real Hardhat, a real node on loopback.

Before (a leftover since the notices came): the notice's orders were judged from the chain
and their rows committed ``filled`` while their fills waited for the watcher to reach the
transaction's block: meanwhile ``GET /v1/orders/{hash}`` said filled and ``GET
/v1/fills?orderHash=`` listed nothing, and a node stopped then restarted so."""

from __future__ import annotations

import json
from pathlib import Path

from sdex.gossip import NodeKey, PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_mirror import synced
from tests.test_mirror_lag import HoldBlock
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_an_order_a_peers_notice_closes_has_its_fills_stored_first(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's ask is filled on chain (Bob's ``fillOrder``) while the node's watcher is held
    in the block before; a peer's notice of that transaction closes it on the node. When
    its row is committed ``filled``, its fill is stored (and listed); the watcher, let go,
    stores and publishes it no second time."""
    c = chain
    path = tmp_path / "n.db"
    async with running_node(node_config(c, path)) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        resting = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
        assert (await api.post_taken(resting))[0] == 201
        hold = HoldBlock(node)  # the watcher inside block n, before its verdicts
        await hold.inside(c.weth.approve(c.sender(ALICE), c.exchange.address, E18).block_number)
        mined = c.exchange.fill_order(c.sender(BOB), resting, 300 * E6)  # block n+1: all of it
        published: list[dict[str, object]] = []
        publish = node.events.publish

        def seen(event: dict[str, object]) -> None:
            if event.get("type") == "fill":
                published.append(event)
            publish(event)

        node.events.publish = seen  # type: ignore[method-assign]

        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        body = json.dumps({"txHash": mined.tx_hash}).encode()
        assert (
            await _raw_signed_post(peer, api.base, "/p2p/settlements", body, addressee(node)) == 200
        )
        rows = await node.store.committed_rows([resting.hash_hex])
        assert rows[resting.hash_hex][0][1] == "filled"
        _, stored = node.store.fills(order_hash=resting.hash_hex)
        assert [(f.tx_hash, f.maker_filled) for f in stored] == [(mined.tx_hash, E18 // 10)]
        code, rec = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "filled"
        listed = await api.listing("/v1/fills", orderHash=resting.hash_hex)
        assert [f["transactionHash"] for f in listed["records"]] == [mined.tx_hash]
        await wait_for(lambda: len(published) == 1)

        hold.release()
        await synced(node, c)
        _, stored = node.store.fills(order_hash=resting.hash_hex)
        assert len(stored) == 1 and len(published) == 1
