"""review93d: a head the parser refuses is answered and said at debug only (attack93), and
one past the head's bound answered 431: nothing else told of either, so any client could
send them without a trace in the node's logs or metrics. Both are counted on ``/metrics``
(``sdex_http_heads_refused_total`` by reason), on a real node."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack93_bad_heads import BAD_HEADS, answer_to


async def refused(base: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as s, s.get(base + "/metrics") as r:
        text = await r.text()
    found = re.findall(r'^sdex_http_heads_refused_total\{reason="(\w+)"\} (\S+)$', text, re.M)
    return {reason: float(n) for reason, n in found}


async def test_refused_heads_are_counted_on_metrics(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_node, api):
        before = await refused(api.base)
        for raw in BAD_HEADS.values():
            status, _, _ = await answer_to(api.base, raw)
            assert status == 400
        huge = b"GET /health HTTP/1.1\r\nHost: a\r\n" + (b"X-A: " + b"b" * 4000 + b"\r\n") * 10
        status, _, _ = await answer_to(api.base, huge)  # (never ended, past MAX_HEAD: 431)
        assert status == 431
        after = await refused(api.base)
        gained = {k: after.get(k, 0) - before.get(k, 0) for k in ("malformed", "too_large")}
        assert gained == {"malformed": len(BAD_HEADS), "too_large": 1}, (before, after)
