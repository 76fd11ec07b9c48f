"""The dev-account picker at a phone's width (user28 left it, user29's trial): at 320 px the
select showed "#3 0x90f79bf6eb2c4f870365e7859", the address cut mid-way by the select's
edge (also at 375 and 440 px, and at 1,440 px, where the form's column is as narrow). Now
each option says the account's whole address where it fits and "#3 0x90f7…b906" where it
does not, at every width and after a resize; the whole address of the chosen account is
said under it ("dev account 0x…") at any width."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from sdex.order import to_checksum
from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

MEASURE = """() => {
  const sel = document.getElementById('dev-account');
  const cs = getComputedStyle(sel);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = cs.font;
  const text = sel.options[sel.selectedIndex].textContent;
  const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
  return { text, fits: ctx.measureText(text).width <= room,
           account: document.getElementById('account').textContent };
}"""


@in_module_loop
async def test_the_chosen_dev_account_fits_its_select_at_every_width(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    address = to_checksum(chain.address(3))  # (as every command says it: users89)
    async with node_and_page(chain, tmp_path, chromium, 3) as (_node, w):
        for width in (320, 375, 440, 600, 1440, 320):
            await w.page.set_viewport_size({"width": width, "height": 800})
            await w.page.wait_for_function(
                "() => { const s = document.getElementById('dev-account');"
                " return s.dataset.width === String(s.clientWidth); }",
                timeout=5_000,
            )  # (labelled for this width)
            got = await w.page.evaluate(MEASURE)
            assert got["fits"], (width, got)
            assert got["text"] in (f"#3 {address}", f"#3 {address[:6]}…{address[-4:]}"), got
            assert address in got["account"], (width, got)
            if width == 600:  # (one column: the select spans the page, the address fits)
                assert got["text"] == f"#3 {address}", got
        assert w.errors == []
