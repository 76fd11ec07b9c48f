"""An order the chain's clock has already expired, placed from the page (user48's trial):
"Expires in (s)" 1 on a devnet whose clock ran 56 s ahead said its expiry "is not after the
chain's latest block" (60 and 70 were refused too, though after it: the node also counts a
settlement's time to land) and "give it more seconds", so a newcomer guessed. It now says
how many seconds the node takes, and the node takes that many."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_an_expired_order_says_the_seconds_the_node_takes(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 5) as (node, w):
        chain.rpc.call("evm_increaseTime", 600)  # the chain's clock ten minutes ahead
        chain.rpc.call("evm_mine")
        page = w.page
        await page.fill("#expiry", "60")
        await page.check('input[name="side"][value="buy"]')
        await page.fill("#price", "1500")
        await page.fill("#amount", "0.5")
        await page.click("#submit")
        await page.wait_for_function("() => document.getElementById('err-expiry').textContent")
        said = await page.text_content("#err-expiry") or ""
        assert "not after the chain's latest block" not in said, said
        seconds = re.search(r"nothing was posted: give it at least (\d+) seconds$", said)
        assert seconds is not None, said
        assert node.records == {}  # nothing taken
        await page.fill("#expiry", seconds[1])
        taken = await place(w, "buy", "1500", "0.5")
        assert bytes.fromhex(taken[2:]) in node.records
        assert [e for e in w.errors if "400 (Bad Request)" not in e] == []
