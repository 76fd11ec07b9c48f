"""An IOC or FOK order whose fills a reorg (or a devnet reset) undoes never rests: it is
closed (``removed``), not reopened. Real Hardhat (``evm_snapshot``/``evm_revert``), a real
node on loopback.

review20: after a devnet restarted on the same port, a wallet's IOC buy of 1 WETH, told "partly
matched; the unmatched rest was dropped (ioc)" and settled for 0.3 WETH, was back in the
book as a resting bid for the whole 1 WETH (status ``open``, "reopened: the chain no longer
has what closed it"), where anyone could sell into it: a trade its maker never agreed to.
On a restart such an order was closed already ("ioc: not resting after restart")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten, half_filled_ask, reorg, reorged, settled, soft_cancel
from tests.test_mirror import meta, reorged_at_head, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


@pytest.mark.parametrize(("tif", "evicted"), [("ioc", False), ("fok", False), ("ioc", True)])
async def test_a_one_shot_order_a_reorg_unfills_is_closed_not_reopened(
    chain: Chain, tmp_path: Path, tif: str, evicted: bool
) -> None:
    """``evicted``: closed long enough to have left memory (read back from the store, with
    its time in force, when the reorg comes)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2 if evicted else 10.0)
    async with running_node(cfg) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))  # GTC: reopens
        assert (await api.post_taken(resting))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        # an IOC bid for twice what rests (its rest dropped); a FOK bid for all of it
        base = 2 * E18 if tif == "ioc" else E18
        taker = c.sign(bid(c, BOB, base, base * 3000 * E6 // E18))
        code, posted = await api.post_taken(taker, tif)
        assert code == 201 and posted["matches"], posted
        await settled(c, node, api, taker)
        assert (await meta(api, taker))["filledMakerAmount"] == str(3000 * E6)
        if evicted:
            await forgotten(node, taker)
        reorg(c, snap)

        async def quiet() -> bool:  # (reorged; then at the head, nothing of it in flight)
            return (
                reorged_at_head(node, c)
                and (await meta(api, taker))["pendingMakerAmount"] == "0"
                and (await meta(api, resting))["pendingMakerAmount"] == "0"
            )

        await wait_for(quiet, timeout=20)
        assert (await meta(api, resting))["status"] == "open"  # (GTC: back in the book)
        m = await meta(api, taker)
        assert (m["status"], m["filledMakerAmount"]) == ("removed", "0"), m
        assert m["reason"].startswith(f"{tif}: "), m
        assert (await api.get("/v1/fills"))[1]["total"] == 0  # (nothing settled it again)
        assert c.exchange.order_info(taker.order).filled == 0
        pair = {"baseToken": c.weth.address, "quoteToken": c.usdc.address}
        _, book = await api.get("/v1/orderbook", **pair)
        assert book["bids"]["records"] == []
        # nothing sells into it: Carol's ask at its price rests, unmatched
        code, carol = await api.post_taken(c.sign(ask(c, CAROL, E18, 3000 * E6)))
        assert code == 201 and carol["matches"] == [], carol


async def test_a_soft_cancelled_orders_filled_amount_follows_a_reorg(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's ask, half filled on chain, then soft-cancelled: it stays cancelled through a
    reorg that undoes the fill (her cancel stands), and its filled amount is the chain's, 0.
    review20 (a devnet reset, live): ``filledMakerAmount`` kept the undone fill, the page's
    "My orders" showed 0.25 WETH filled with no fill listed anywhere."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting, snap = await half_filled_ask(c, node, api)
        assert (await meta(api, resting))["filledMakerAmount"] == str(E18 // 2)
        await soft_cancel(c, api, resting, ALICE)

        await reorged(c, node, snap)
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        m = await meta(api, resting)
        assert (m["status"], m["filledMakerAmount"]) == ("cancelled", "0"), m


async def test_a_partly_filled_ioc_stays_closed_when_its_maker_cancels_up_to(
    chain: Chain, tmp_path: Path
) -> None:
    """Bob's IOC bid for 2 WETH takes the 1 resting (its rest dropped: closed, 1 WETH left
    fillable on chain). His cancel-up-to below its salt has the node judge his orders again:
    the IOC keeps its close and its reason, and its dropped rest never rests. Before, the
    chain's "fillable" reopened it into the book with the 1 WETH its maker was told was
    dropped."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(resting))[0] == 201
        ioc = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
        code, posted = await api.post_taken(ioc, "ioc")
        assert code == 201 and posted["matches"], posted
        await settled(c, node, api, ioc)
        before = await meta(api, ioc)
        assert before["filledMakerAmount"] == str(3000 * E6), before
        c.exchange.cancel_orders_up_to(c.sender(BOB), ioc.order.salt)  # (it stays valid)
        await synced(node, c)
        after = await meta(api, ioc)
        assert (after["status"], after["reason"]) == (before["status"], before["reason"]), after
        assert after["filledMakerAmount"] == before["filledMakerAmount"]
        pair = {"baseToken": c.weth.address, "quoteToken": c.usdc.address}
        _, book = await api.get("/v1/orderbook", **pair)
        assert book["bids"]["records"] == []
