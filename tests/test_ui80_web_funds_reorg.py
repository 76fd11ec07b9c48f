"""The funds line after a reorg that undid the account's fill (ui80's trial: the page reads
the wallet's funds when the chain head's number moves; a reorg that undid a fill and mined as
many blocks as it undid left that number as it was, and the funds line went on saying the
balances of a trade the chain no longer had). The node's ``reverted`` fill event of the
account's order has it read them again. The session's Hardhat (``evm_revert``, then one block:
the head's number as before), a real node serving dev wallets, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_web import (
    E6,
    E18,
    Watched,
    _is,
    chromium,
    in_module_loop,
    node_and_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


async def weth_shown(w: Watched) -> int:
    """The WETH balance the funds line says (base units), or -1 while it says none."""
    v: str | None = await w.page.get_attribute("#funds div[data-token=WETH]", "data-balance")
    return int(v) if v is not None else -1


@in_module_loop
async def test_a_reorg_that_undid_my_fill_at_the_same_height_reads_the_funds_again(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    maker, taker = 16, 15
    async with node_and_page(chain, tmp_path, chromium, account=taker) as (_node, w):
        await w.page.wait_for_selector("#funds div[data-token=WETH]", timeout=15_000)
        before = chain.weth.balance_of(chain.address(taker))
        await wait_for(lambda: _is(weth_shown(w), before), timeout=15)
        ask = chain.sign(chain.order(maker, chain.weth, E18 // 10, chain.usdc, 200 * E6))
        snapshot = chain.rpc.call("evm_snapshot")
        height = int(chain.rpc.call("eth_blockNumber"), 16)
        chain.exchange.fill_order(chain.sender(taker), ask, 200 * E6)
        after = chain.weth.balance_of(chain.address(taker))
        assert after > before
        await wait_for(lambda: _is(weth_shown(w), after), timeout=15)

        assert chain.rpc.call("evm_revert", snapshot) is True
        mined = int(chain.rpc.call("eth_blockNumber"), 16)
        for _ in range(height + 1 - mined):
            chain.rpc.call("evm_mine")  # (as many blocks as were undone: the same head number)
        assert int(chain.rpc.call("eth_blockNumber"), 16) == height + 1
        assert chain.weth.balance_of(chain.address(taker)) == before
        await wait_for(lambda: _is(weth_shown(w), before), timeout=20)
        assert w.errors == [] and w.foreign_requests(w.dev_rpc) == []
