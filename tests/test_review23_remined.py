"""An IOC closed ``removed`` because a reorg undid its fill, that fill then mined again (the
same transaction): its record says what it is now, not "its fills were undone". Fully
filled again: ``filled``; partly (its rest was dropped at arrival): ``removed`` as the
settlement said it ("partly filled; the unmatched rest was dropped"). Real Hardhat, a real
node on loopback, and ``sdex audit`` against it (review23; the seventeenth session's note
left the old reason text)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.audit import audit_network
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import reorg, settled, the_settlement
from tests.test_mirror import meta, reorged_at_head, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

ROWS = [
    # (the IOC's base amount, its status and reason once its fill is mined again)
    (E18, "filled", "filled"),
    (2 * E18, "removed", "ioc: partly filled; the unmatched rest was dropped"),
]


@pytest.mark.parametrize(("amount", "status", "reason"), ROWS, ids=["whole", "part"])
async def test_an_ioc_whose_undone_fill_is_mined_again_says_what_it_is_now(
    chain: Chain, tmp_path: Path, amount: int, status: str, reason: str
) -> None:
    c = chain
    path = tmp_path / "n.db"
    async with running_node(node_config(c, path)) as (node, api):
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(resting))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        taker = c.sign(bid(c, BOB, amount, 3000 * E6 * amount // E18))
        code, posted = await api.post_taken(taker, "ioc")
        assert code == 201 and posted["matches"], posted

        await settled(c, node, api, taker)
        first = await meta(api, taker)
        assert (first["status"], first["reason"]) == (status, reason), first
        tx, raw = await the_settlement(c, api)

        reorg(c, snap)

        async def undone() -> bool:
            return reorged_at_head(node, c) and (await meta(api, taker))["status"] == "removed"

        await wait_for(undone, timeout=20)
        assert (await meta(api, taker))["filledMakerAmount"] == "0"

        assert c.rpc.call("eth_sendRawTransaction", raw).lower() == tx
        c.rpc.call("evm_mine")
        await synced(node, c)

        async def listed() -> bool:
            return bool((await api.get("/v1/fills"))[1]["total"] == 2)

        await wait_for(listed, timeout=20)
        m = await meta(api, taker)
        assert (m["status"], m["reason"], m["filledMakerAmount"]) == (
            status,
            reason,
            first["filledMakerAmount"],
        ), m
        report = await asyncio.to_thread(
            audit_network, c.deployment, [api.base], orders=[], sync_timeout=5.0
        )
        assert report.ok, report.to_json()
