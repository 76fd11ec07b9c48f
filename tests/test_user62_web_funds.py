"""The account's funds on the page (user62's trial: the page showed no balance and no
allowance, so a wallet learnt only after posting that it could not pay). With an account
chosen, the page says for each token of the pair what the wallet holds, what it lets the
Exchange take, what its open orders at this node offer, and what is free for a new order;
it reads them again at each new block, and the preview says when an order offers more than
is free. A real node serving dev wallets, the session's Hardhat, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from sdex.wallet import fmt_amount
from tests.conftest import Chain
from tests.test_web import Watched, chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

ACCOUNT = 12
E18 = 10**18
UINT256_MAX = 2**256 - 1


async def shows(w: Watched, token: str, **want: int) -> None:
    """Wait (bounded) until the page's funds line of ``token`` has the ``want`` figures
    (balance, allowance, held, free: base units)."""
    await w.page.wait_for_function(
        """([t, want]) => {
            const el = document.querySelector(`#funds [data-token='${t}']`);
            return !!el && Object.entries(want).every(([k, v]) => el.dataset[k] === v);
        }""",
        arg=[token, {k: str(v) for k, v in want.items()}],
        timeout=15_000,
    )


@in_module_loop
async def test_the_page_shows_the_wallets_funds_and_what_is_free_for_an_order(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    me = c.address(ACCOUNT)
    ex = c.exchange.address
    async with node_and_page(chain, tmp_path, chromium, ACCOUNT) as (_node, w):
        weth, usdc = c.weth.balance_of(me), c.usdc.balance_of(me)
        assert c.weth.allowance(me, ex) == UINT256_MAX  # (the devnet approves every account)
        await shows(w, "WETH", balance=weth, allowance=UINT256_MAX, held=0, free=weth)
        await shows(w, "USDC", balance=usdc, held=0, free=usdc)
        line = await w.page.text_content("#funds [data-token='WETH']") or ""
        assert f"WETH: {fmt_amount(weth, 18)} in the wallet" in line, line
        assert "approved for the Exchange: unlimited" in line, line

        # a resting sell: its WETH is in an open order, no longer free
        await place(w, "sell", "99999", "1")
        await shows(w, "WETH", balance=weth, held=E18, free=weth - E18)
        try:
            # a smaller approval (another block): read again, what is free follows it
            c.weth.approve(c.sender(ACCOUNT), ex, 3 * E18)
            await shows(w, "WETH", balance=weth, allowance=3 * E18, held=E18, free=2 * E18)
            line = await w.page.text_content("#funds [data-token='WETH']") or ""
            assert "approved for the Exchange: 3 ·" in line and "free for new orders: 2" in line
            # before anything is signed, the preview says an order offers more than is free
            await w.page.check('input[name="side"][value="sell"]')
            await w.page.fill("#price", "99999")
            await w.page.fill("#amount", "5")
            await w.page.wait_for_function(
                "s => document.getElementById('preview').textContent.includes(s)",
                arg="the wallet has 2 WETH free for new orders",
                timeout=10_000,
            )
            await w.page.fill("#amount", "2")
            await w.page.wait_for_function(
                "() => !document.getElementById('preview').textContent.includes('free for')",
                timeout=10_000,
            )
        finally:
            c.weth.approve(c.sender(ACCOUNT), ex, UINT256_MAX)
        assert w.errors == [] and w.foreign_requests() == []
