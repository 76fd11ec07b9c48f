"""Every column of "My orders" has a name in the accessibility tree (ux37): the column over
the cancel buttons had an empty header, which a screen reader announces as nothing before
each "Cancel". Its header is now visually hidden text; the table looks the same."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_every_my_orders_column_has_a_name(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 8) as (_node, w):
        headers = w.page.locator("#my-orders").get_by_role("columnheader")
        assert await headers.count() == 7
        names = [(await h.text_content() or "").strip() for h in await headers.all()]
        assert all(names), names
        assert names[-1] == "Cancel", names
        snapshot = await w.page.locator("#my-orders").aria_snapshot()
        assert 'columnheader "Cancel"' in snapshot, snapshot
        # (visually hidden: the text takes no room, the column looks as it did)
        box = await w.page.locator("#my-orders thead th").last.locator("span").bounding_box()
        assert box is not None and box["width"] <= 1 and box["height"] <= 1, box
        assert w.errors == []
