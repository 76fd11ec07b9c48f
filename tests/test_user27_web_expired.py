"""An order the chain's clock has already expired, placed from the page (user27's trial):
"Expires in (s)" 1 on a devnet whose clock runs ahead read "expiry: expiry 1796417203 is
not after the latest block" under the field, a bare Unix time. It now says what happened
and what to do, as ``sdex order`` does; nothing was posted. user48: it said the expiry "is
not after the chain's latest block" of one that was (the node also counts a settlement's
time to land) and "give it more seconds"; it says how many the node takes now."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import (
    chromium,
    in_module_loop,
    node_and_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_an_order_the_chain_expired_is_said_so(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 5) as (node, w):
        chain.rpc.call("evm_increaseTime", 3600)  # the chain's clock an hour ahead
        chain.rpc.call("evm_mine")
        page = w.page
        await page.check('input[name="side"][value="buy"]')
        await page.fill("#price", "1500")
        await page.fill("#amount", "0.5")
        await page.fill("#expiry", "60")
        await page.click("#submit")
        await page.wait_for_function("() => document.getElementById('err-expiry').textContent")
        said = await page.text_content("#err-expiry") or ""
        assert said.startswith("the order expired before the node took it"), said
        assert "not after the chain's latest block" not in said, said  # (user48: it was)
        seconds = re.search(r"nothing was posted: give it at least (\d+) seconds$", said)
        assert seconds is not None, said
        assert await page.get_attribute("#expiry", "aria-invalid") == "true"
        assert node.records == {}  # nothing taken
        # (user48: "give it more seconds" left a newcomer guessing; the node takes that many)
        await page.fill("#expiry", seconds[1])
        taken = await place(w, "buy", "1500", "0.5")
        assert bytes.fromhex(taken[2:]) in node.records
        # (the browser logs the refused POST, and nothing else went wrong)
        assert [e for e in w.errors if "400 (Bad Request)" not in e] == []
