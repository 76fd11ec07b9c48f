"""The fee of each trade under "Recent fills" (user62's trial: on a node that charges a fee
the fills list had no fee column, so what the seller and the buyer paid was seen nowhere on
the page). A trade's row says the seller's fee, in the quote it receives, and the buyer's,
in the base; a node without a fee shows 0. A real node serving dev wallets, the session's
Hardhat, two pages in Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import (
    Watched,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

SELLER, BUYER = 13, 14


async def fee_of_trade(w: Watched, seller: str) -> str:
    """The fee cell of the page's newest trade whose seller is ``seller`` (bounded wait)."""
    handle = await w.page.wait_for_function(
        """s => {
            for (const tr of document.querySelectorAll('#fills tbody tr[data-tx]')) {
                const cells = tr.querySelectorAll('td');
                if (cells[5].title.toLowerCase() === s.toLowerCase()) {
                    const fee = tr.querySelector('td.fee');
                    if (fee && !fee.textContent.includes('?')) return fee.textContent;
                }
            }
            return null;
        }""",
        arg=seller,
        timeout=30_000,
    )
    return str(await handle.json_value())


@in_module_loop
async def test_a_trades_fees_are_in_recent_fills(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    for bps, price, said in ((30, "2000", "6 USDC + 0.003 WETH"), (0, "1999", "0")):
        cfg = dev_config(
            chain,
            tmp_path / f"n{bps}.db",
            19,
            fee_bps=bps,
            fee_recipient=c.address(19) if bps else "0x" + "00" * 20,
        )
        async with running_node(cfg) as (_node, api), browser(chromium) as b:
            sells = await new_page(b, api.base)
            await choose_dev_account(sells, c.address(SELLER))
            buys = await new_page(b, api.base)
            await choose_dev_account(buys, c.address(BUYER))
            await place(sells, "sell", price, "1")
            await place(buys, "buy", price, "1")
            for w in (sells, buys):
                assert await fee_of_trade(w, c.address(SELLER)) == said
                assert w.errors == [] and w.foreign_requests() == []
