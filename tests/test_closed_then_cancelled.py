"""An order closed as filled or expired that its maker then cancels by hash on chain: the
chain's verdict is CANCELLED (the Exchange checks the cancelled flag first), and the node
follows it, as it already did for a cancel-up-to (``tests/test_node_evict.py``). Real
Hardhat, a real node, SQLite.

Failed before (reorg30's differential test found it): the node kept ``filled`` / ``expired``
after a cancel by hash, as the closed order was not judged again, while a cancel-up-to
re-closed the same order as ``cancelled``: one chain state, two statuses."""

from __future__ import annotations

import time
from pathlib import Path

from sdex.chain import OrderStatus as ChainStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_verify28_reorg_expiry import timestamp


async def test_a_filled_order_cancelled_on_chain_is_cancelled(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(signed))[0] == 201
        c.exchange.fill_order(c.sender(BOB), signed, 3000 * E6)
        await synced(node, c)
        assert (await meta(api, signed))["status"] == "filled"
        c.exchange.cancel_order(c.sender(ALICE), signed.order)
        assert c.exchange.order_states([signed])[0].status == ChainStatus.CANCELLED
        await synced(node, c)

        async def cancelled() -> bool:
            m = await meta(api, signed)
            return m["status"] == "cancelled" and m["filledMakerAmount"] == str(E18)

        await wait_for(cancelled, timeout=10)


async def test_an_expired_order_cancelled_on_chain_is_cancelled(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        expiry = max(timestamp(c), int(time.time())) + 600
        signed = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=expiry))
        assert (await api.post_taken(signed))[0] == 201
        c.rpc.call("evm_increaseTime", 1200)
        c.rpc.call("evm_mine")
        await synced(node, c)
        assert (await meta(api, signed))["status"] == "expired"
        c.exchange.cancel_order(c.sender(ALICE), signed.order)
        assert c.exchange.order_states([signed])[0].status == ChainStatus.CANCELLED
        await synced(node, c)

        async def cancelled() -> bool:
            return (await meta(api, signed))["status"] == "cancelled"

        await wait_for(cancelled, timeout=10)
