"""What the page says under the form when a crossing order's settlement fails (user27's
trial: after a devnet restart under a running node, the first settlement went out on a
stale nonce and was lost). The IOC order was closed, ``removed`` with the reason "ioc:
dropped after its match failed to settle", and the page said "removed (matched in full,
settlement pending on chain)": the POST's outcome, as if still on its way. It now says the
settlement failed and nothing traded, with the node's reason; ``sdex order`` said so
already."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_settlement_pipeline import take_nonce
from tests.test_web import (
    _is,
    choose_dev_account,
    chromium,
    in_module_loop,
    my_status,
    node_and_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_lost_settlement_is_said_as_failed(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 5) as (node, w):
        await place(w, "sell", "1500", "2")
        await choose_dev_account(w, chain.address(6))
        chain.rpc.call("evm_setAutomine", False)
        try:
            taker = await place(w, "buy", "1500", "0.5", tif="ioc")
            row = w.page.locator("#inflight tbody tr[data-tx]")
            await row.wait_for(timeout=10_000)
            said = await w.page.text_content("#last-order") or ""
            assert "settlement pending on chain" in said, said
            tx = await row.get_attribute("data-tx")
            # (Hardhat answers true; anvil, which serves it too, the dropped one's hash)
            at = int(chain.rpc.call("eth_getTransactionCount", node.sender.address, "latest"), 16)
            assert chain.rpc.call("hardhat_dropTransaction", tx) in (True, tx)
            take_nonce(chain, at)  # (lost78: its bytes are sent again until its nonce is taken)
            chain.rpc.call("evm_mine")
            # the settler finds its nonce taken by another: the IOC's match failed
            await wait_for(lambda: node.settler.lost == 1, timeout=20)
            await wait_for(lambda: _is(my_status(w, taker), "removed"), timeout=20)
            await w.page.wait_for_function(
                "() => !document.getElementById('last-order').textContent.includes('pending')",
                timeout=10_000,
            )
            said = await w.page.text_content("#last-order") or ""
            assert said.endswith(
                ": removed (settlement failed, nothing traded: "
                "ioc: dropped after its match failed to settle)"
            ), said
        finally:
            chain.rpc.call("evm_setAutomine", True)
            chain.rpc.call("evm_mine")  # (the settler's filler for the lost nonce)
        assert w.errors == []
