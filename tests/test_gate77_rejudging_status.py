"""gate77: while a reset's walk has yet to judge a closed order again, its record says so.

reset74 runs the walk of every closed order after the node is ready (``/health``:
``rejudging``); meanwhile a closed order it has not reached yet still says what the old
chain had: ``GET /v1/orders/{hash}`` answered ``filled`` where the new chain holds it
fillable, the listings likewise, with nothing to tell the old chain's word from the new
one's. Now such a record carries ``metaData.chainStatus`` ``rejudging`` (the status names
are pinned: PRODUCT.md) and a listing page ``chainStatus`` ``rejudging`` while the walk
runs; once it is through, neither. Real Hardhat (``evm_revert`` while the node is down), a
loopback proxy holding the walk's chain read, a real node (reset74's set-up)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.rpcfault import Gate, gated_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reset74_walk_serving import _state_read


async def test_a_closed_order_not_walked_yet_says_it_is_being_rejudged(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    filled = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(filled))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await settled(c, node, api, taker)
        assert await api.status(filled) == "filled"
    revert(c, snap)  # the settlement undone while the node was down,
    c.rpc.call("hardhat_mine", hex(3))
    deployed = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)["hash"]
    identity = ChainIdentity(cfg.chain_id, cfg.exchange, deployed)
    store = Store(cfg.db, identity, c.domain)
    await store.reset_chain(identity)  # its reset committed, its walk not done (a kill)
    store.close()
    walk = Gate(_state_read)  # (the walk's read of the closed orders' state: held)
    walk.armed.set()
    with gated_proxy(c.rpc.url, [walk]) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            await wait_for(walk.held.is_set, timeout=30)
            assert node.rejudging
            other = c.sign(ask(c, CAROL, E18, 3100 * E6))
            assert (await api.post_order(other))[0] == 201  # (new: judged now)
            code, rec = await api.get(f"/v1/orders/{filled.hash_hex}")
            assert code == 200 and rec["metaData"]["status"] == "filled", rec  # (old word)
            assert rec["metaData"].get("chainStatus") == "rejudging", rec
            code, rec = await api.get(f"/v1/orders/{other.hash_hex}")
            assert code == 200 and "chainStatus" not in rec["metaData"], rec
            page = await api.listing("/v1/orders", maker=c.address(ALICE))
            assert page.get("chainStatus") == "rejudging", page

            walk.release.set()
            await wait_for(lambda: not node.rejudging, timeout=30)
            code, rec = await api.get(f"/v1/orders/{filled.hash_hex}")
            assert rec["metaData"]["status"] == "open", rec  # the new chain never filled it
            assert "chainStatus" not in rec["metaData"], rec
            page = await api.listing("/v1/orders", maker=c.address(ALICE))
            assert "chainStatus" not in page, page
