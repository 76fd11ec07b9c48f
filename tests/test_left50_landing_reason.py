"""Left50 (review49): an IOC or FOK order that traded nothing because of the node's landing
time (the crossing order, or the order itself, expires before a settlement could land:
attack48, landing49) was answered ``dropped`` or ``killed`` with no word of why, as if
nothing crossed it. Its record's ``reason`` (the POST answer's ``metaData``, its event,
``GET /v1/orders/{hash}``) now says so, after the same outcome word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.answers import PostedOrder
from sdex.node.core import Node
from sdex.walletui import posted_summary
from tests.conftest import Chain
from tests.nodeutil import Api
from tests.sandwich import node_on
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review49_landing_and_prune import STALL, stalled_trade


async def crossed_expiring_is_why(c: Chain, node: Node, api: Api, **kw: Any) -> None:
    """Alice's ask expiring within the landing time (``kw``: more of its fields), then Bob's
    IOC and FOK bids across it: each trades nothing and its reason says why."""
    soon = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=node.chain_time() + 4, **kw))
    code, body = await api.post_order(soon)
    assert code == 201 and body["metaData"]["status"] == "open", body
    for tif, word in (("ioc", "dropped"), ("fok", "killed")):
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3100 * E6)), tif)
        assert code == 201 and body["matches"] == [], body
        assert body["outcome"] == word, body
        reason = body["metaData"]["reason"]
        assert reason.startswith(word + ": the orders it crosses expire within"), reason


async def test_an_ioc_or_fok_unmatched_for_the_landing_time_says_why(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with node_on(c, tmp_path) as (node, api):
        await stalled_trade(c, node, api)  # (its settlement landed STALL s after it formed)
        assert node.settler.stages.landing >= STALL - 1
        await crossed_expiring_is_why(c, node, api)
        # the IOC's own expiry within the landing time, a healthy ask across it
        healthy = c.sign(ask(c, ALICE, E18, 3050 * E6))
        assert (await api.post_order(healthy))[0] == 201
        own = c.sign(bid(c, BOB, E18, 3100 * E6, expiry=node.chain_time() + 4))
        code, body = await api.post_order(own, "ioc")
        assert code == 201 and body["matches"] == [], body
        assert body["metaData"]["reason"].startswith("dropped: it expires within"), body
        code, rec = await api.get(f"/v1/orders/{own.hash_hex}")
        assert code == 200 and rec["metaData"]["reason"] == body["metaData"]["reason"], rec
        # nothing crossing: the plain word, as before
        far = c.sign(bid(c, BOB, E18, 1000 * E6))
        code, body = await api.post_order(far, "ioc")
        assert code == 201 and body["metaData"]["reason"] == "dropped", body


def test_sdex_order_says_the_nodes_reason() -> None:
    """``sdex order``'s words for such an answer carry the node's reason after its own."""
    meta = {"reason": "dropped: the orders it crosses expire within 6 s, the time ..."}
    posted = PostedOrder("0x" + "ab" * 32, "removed", meta, "dropped", [], True)
    words = posted_summary(posted)
    assert "no match: dropped (ioc), nothing traded — the orders it crosses" in words, words
    plain = PostedOrder("0x" + "ab" * 32, "removed", {"reason": "dropped"}, "dropped", [], True)
    assert "nothing traded[/]" in posted_summary(plain)
