"""wallet74 (a new user's trial of ``make demo KEEP=1``): the page's dev-account picker offers
the accounts wallets trade with, each by its index in the deployment file, and not the node
operators' (the file's last three: ``sdex demo``'s nodes sign their settlements with them, and
the README has nodes run on the last two) nor this node's own operator.

Before: all 20 were offered, the operators' among them unmarked; an order traded from a
node's operator account shares that account's nonces with the node's settlements (the
mix-up ``sdex node`` warns of, ux49). A real node on the test chain (Hardhat) serves the
page to Debian's Chromium (Playwright)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from sdex.order import to_checksum
from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import CHROMIUM, browser, dev_config, new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@pytest.mark.parametrize("operator", [19, 5])
async def test_the_page_offers_no_operators_account(
    chain: Chain,
    tmp_path: Path,
    chromium: Browser,
    operator: int,
) -> None:
    accounts = chain.deployment.accounts
    wanted = [i for i in range(len(accounts) - 3) if i != operator]
    async with (
        browser(chromium) as b,
        running_node(dev_config(chain, tmp_path / "n.db", operator)) as (_, api),
    ):
        code, body = await api.get("/web/dev-wallets")
        assert code == 200 and body["enabled"], body
        assert [a["index"] for a in body["accounts"]] == wanted, body
        assert [a["address"] for a in body["accounts"]] == [accounts[i].address for i in wanted]
        w = await new_page(b, api.base)
        await w.page.wait_for_function(
            "n => document.querySelectorAll('#dev-account option').length === n",
            arg=len(wanted) + 1,
        )
        labels = await w.page.eval_on_selector_all(
            "#dev-account option", "os => os.slice(1).map((o) => o.textContent)"
        )
    assert [label.split()[0] for label in labels] == [f"#{i}" for i in wanted], labels
    shown = [to_checksum(accounts[i].address)[:6] for i in wanted]  # (users89: checksummed)
    assert all(a in label for a, label in zip(shown, labels, strict=True)), labels
