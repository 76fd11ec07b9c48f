"""review17's leftover: ``GET /v1/depth`` takes the most a depth can cost (``depth_most``,
200 records) from its client's listing budget before it runs; an answer that read nothing
(a pair the node does not list, 400) now costs 1 record, as a listing page that returned
nothing does, not the 200: a client that asked for unlisted pairs a few times is not locked
out of a real depth read for the budget's refill."""

from __future__ import annotations

import json
from pathlib import Path

from sdex.httpkit import RateLimit
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_book_events import connect

UNLISTED = "0x" + "ab" * 20


async def test_asking_for_unlisted_pairs_does_not_spend_the_depth_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """A listing budget of 800 records, no refill to speak of: five asks for a pair the node
    does not list (each charged 200 and kept: the fifth was already refused 429), then the
    listed pair's depth, answered 200."""
    cfg = node_config(chain, tmp_path / "n.db", listing_rate_limit=RateLimit(rate=0.01, burst=800))
    async with running_node(cfg) as (node, api):
        pair = node.book.pairs[0]
        statuses = []
        for _ in range(5):
            code, body = await api.get("/v1/depth", baseToken=pair.base, quoteToken=UNLISTED)
            statuses.append((code, body.get("code")))
        assert statuses == [(400, 100)] * 5, statuses
        code, body = await api.get("/v1/depth", baseToken=pair.base, quoteToken=pair.quote)
        assert code == 200 and body["bids"] == [] and body["asks"] == [], (code, body)


async def test_book_requests_for_unlisted_pairs_do_not_spend_the_depth_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """The same on ``/v1/ws``: a book request was charged ``SNAPSHOT_COST`` (200) to the
    client's listing budget and kept whatever it cost, so four subscribes to a pair the node
    does not list (each answered an error event) spent 800 and the fifth was refused 103,
    and so was the client's ``GET /v1/depth`` (429). Now each costs 1."""
    cfg = node_config(chain, tmp_path / "n.db", listing_rate_limit=RateLimit(rate=0.01, burst=800))
    async with running_node(cfg) as (node, api):
        pair = node.book.pairs[0]
        request = {"op": "subscribe", "channel": "book", "baseToken": pair.base}
        async with await connect(api) as ws:
            answers = []
            for _ in range(6):
                await ws.send_json({**request, "quoteToken": UNLISTED})
                ev = json.loads((await ws.receive(timeout=10)).data)
                answers.append((ev["type"], ev.get("code")))
        assert answers == [("error", 100)] * 6, answers
        code, body = await api.get("/v1/depth", baseToken=pair.base, quoteToken=pair.quote)
        assert code == 200 and body["bids"] == [] and body["asks"] == [], (code, body)
