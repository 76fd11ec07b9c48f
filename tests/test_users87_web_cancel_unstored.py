"""users87: the web page's cancel button acts on the node's 503 for a cancel it took but has
not stored (users86's ``cancel_unstored``), as ``sdex cancel`` does since users87.

It showed the 503 as a form error and left the row as it was; the user was told to send the
same cancel again, which the page offers only by a click that signs anew. Now the page sends
the same signed cancel again after 1, 2 and 4 s (saying so in its notice line), and once the
node stores it, shows the row cancelled with no error.

Real Hardhat (the suite's chain), a real node served in-process on loopback with dev wallets
(its SQLite store's writer held by a job waiting on a ``threading.Event``, as users86's test),
the page in headless Chromium (Playwright)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for, writer_stuck
from tests.test_users87_cancel_unstored_cli import _answers
from tests.test_web import (
    _is,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    my_status,
    new_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_the_pages_cancel_not_stored_is_sent_again_till_it_is(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    async with (
        browser(chromium) as b,
        running_node(dev_config(c, tmp_path / "n.db", 19)) as (
            node,
            api,
        ),
    ):
        await wait_for(node.replayed, 60)
        w = await new_page(b, api.base)
        await choose_dev_account(w, c.deployment.accounts[3].address)
        h = await place(w, "sell", "2345.5", "0.01")
        await wait_for(lambda: _is(my_status(w, h), "open"), timeout=15)
        node.store_wait = 1.0  # (its commit wait: a 503 a second after the cancel)
        seen = _answers(node)
        with writer_stuck(node):
            await w.page.click(f'#my-orders tr[data-hash="{h}"] button.soft-cancel')
            await wait_for(lambda: 503 in seen, 60)  # (its first try: taken, not stored)
        await wait_for(lambda: seen[-1] == 200, 30)  # before: [503], never sent again
        await wait_for(lambda: _is(my_status(w, h), "cancelled"), timeout=15)
        assert await w.page.text_content("#err-form") == ""  # before: the 503's reason
        others = [e for e in w.errors if "status of 503" not in e]  # (Chromium logs each 503)
        assert others == [] and w.foreign_requests() == [], w.errors
