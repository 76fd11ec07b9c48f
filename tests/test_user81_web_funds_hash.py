"""The funds line after a reorg of a plain transfer at the same height (user81: the page read
the wallet's funds again when the chain head's number moved, or the node said one of the
account's fills was undone, ui80; a reorg that undid a transfer to the account and mined as
many blocks as it undid left the number as it was, and the funds line went on saying the
balance of a transfer the chain no longer had). The head's hash is on ``/web/status`` now,
and the page reads the funds again when it moves. The session's Hardhat (``evm_revert``,
then as many blocks: the head's number as before), a real node serving dev wallets, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_ui80_web_funds_reorg import weth_shown
from tests.test_web import E18, _is, chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_reorg_that_undid_a_transfer_at_the_same_height_reads_the_funds_again(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    me, giver = 15, 5
    async with node_and_page(chain, tmp_path, chromium, account=me) as (_node, w):
        await w.page.wait_for_selector("#funds div[data-token=WETH]", timeout=15_000)
        before = chain.weth.balance_of(chain.address(me))
        await wait_for(lambda: _is(weth_shown(w), before), timeout=15)
        snapshot = chain.rpc.call("evm_snapshot")
        height = int(chain.rpc.call("eth_blockNumber"), 16)
        chain.weth.transfer(chain.sender(giver), chain.address(me), E18 // 7)
        after = chain.weth.balance_of(chain.address(me))
        assert after == before + E18 // 7
        await wait_for(lambda: _is(weth_shown(w), after), timeout=15)
        mined = int(chain.rpc.call("eth_blockNumber"), 16)

        assert chain.rpc.call("evm_revert", snapshot) is True
        for _ in range(mined - height):
            chain.rpc.call("evm_mine")  # (as many blocks as were undone: the same head number)
        assert int(chain.rpc.call("eth_blockNumber"), 16) == mined
        assert chain.weth.balance_of(chain.address(me)) == before
        await wait_for(lambda: _is(weth_shown(w), before), timeout=20)  # (was `after`, on)
        assert w.errors == [] and w.foreign_requests(w.dev_rpc) == []
