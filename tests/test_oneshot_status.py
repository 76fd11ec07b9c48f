"""The status of an IOC or FOK order once its match settled, from what matched (a table):
``filled`` only when nothing of its maker amount is left; a partly filled IOC whose rest was
dropped is ``removed`` (reason: the rest was unmatched), its ``filledMakerAmount`` what
traded and ``remainingMakerAmount`` what was dropped. Real Hardhat, a real node on loopback.

review20: such an IOC showed ``filled`` with ``remainingMakerAmount`` > 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

CASES = [
    # tif, resting asks (WETH), bid (WETH), status, filled (USDC), remaining (USDC)
    ("ioc", 1, 2, "removed", 3000, 3000),  # partly filled: its rest dropped
    ("ioc", 2, 2, "filled", 6000, 0),
    ("ioc", 2, 1, "filled", 3000, 0),
    ("fok", 1, 1, "filled", 3000, 0),
    ("ioc", 0, 1, "removed", 0, 3000),  # nothing crossed: dropped whole
    ("fok", 1, 2, "removed", 0, 6000),  # killed
]


@pytest.mark.parametrize(("tif", "rests", "size", "status", "filled", "remaining"), CASES)
async def test_a_one_shot_orders_status_says_what_traded(
    chain: Chain,
    tmp_path: Path,
    tif: str,
    rests: int,
    size: int,
    status: str,
    filled: int,
    remaining: int,
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        if rests:
            resting = c.sign(ask(c, ALICE, rests * E18, rests * 3000 * E6))
            assert (await api.post_taken(resting))[0] == 201
        taker = c.sign(bid(c, BOB, size * E18, size * 3000 * E6))
        code, posted = await api.post_taken(taker, tif)
        assert code == 201, posted

        async def settled() -> bool:
            return (await meta(api, taker))["pendingMakerAmount"] == "0"

        await wait_for(settled, timeout=20)
        await synced(node, c)
        assert c.exchange.order_info(taker.order).filled == filled * E6
        m = await meta(api, taker)
        got = (m["status"], m["filledMakerAmount"], m["remainingMakerAmount"])
        assert got == (status, str(filled * E6), str(remaining * E6)), (m["reason"], m)
        assert m["remainingFillableMakerAmount"] == "0", m
        code, listed = await api.get("/v1/orders", maker=c.address(BOB))
        assert code == 200
        (rec,) = listed["records"]
        assert rec["metaData"]["status"] == status, rec
