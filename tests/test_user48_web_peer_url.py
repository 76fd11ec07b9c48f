"""A peer's URL on a phone (user48's trial): at 390 px the Network panel's URL column
folded `http://127.0.0.1:28002` as "http://127.0.0.1:2800" / "2", which reads as port 2800.
The URL now folds only after its `://` and before its `:port` (a host too long for the
column still folds where it must: the panel never scrolls sideways)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import browser, chromium, in_module_loop, new_page, two_nodes, url_of

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

LINES = """(url) => {
  const td = [...document.querySelectorAll('#peers tbody td')].find(c => c.title === url);
  if (!td) return null;
  const lines = [];  // the cell's text, line by line as laid out
  let top = null;
  const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    for (let i = 0; i < n.length; i++) {
      const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
      const rect = r.getClientRects()[0];
      if (!rect) continue;
      if (top === null || Math.abs(rect.top - top) > 2) { lines.push(''); top = rect.top; }
      lines[lines.length - 1] += n.data[i];
    }
  }
  return lines;
}"""


@in_module_loop
async def test_a_peers_url_never_folds_inside_its_port(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with two_nodes(chain, tmp_path) as (n1, n2), browser(chromium) as b:
        w = await new_page(b, url_of(n1))
        peer = url_of(n2)
        host, port = peer.removeprefix("http://").rsplit(":", 1)
        for width in (360, 390):
            await w.page.set_viewport_size({"width": width, "height": 800})
            await w.page.wait_for_function(f"() => ({LINES})({peer!r}) !== null")
            lines = await w.page.evaluate(LINES, peer)
            assert "".join(lines) == peer, (width, lines)
            assert len(lines) > 1, (width, lines)  # (narrow enough to fold at all)
            assert any(line.endswith(":" + port) for line in lines), (width, lines)
            assert any(host in line for line in lines), (width, lines)
        assert w.errors == []
