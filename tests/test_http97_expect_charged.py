"""http97 (attack95's finding): a request refused 417 (an ``Expect`` other than
``100-continue``) is charged to its client's request budget and counted on ``/metrics``.

The 417 is answered before any route or middleware (``sdex.node.headlimit``), so it went
around the ``guard``'s rate limit and its request counter: attack95 had 30k such answers in
5 s, none on ``/metrics``, none taken from the budget, cheaper than any answered request.
Now it is a request as any other refused one: a token taken (a 429 past the budget, with
``Retry-After``), and ``sdex_http_requests_total{route="expect_refused"}`` counts it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest

from sdex.httpkit import RateLimit
from sdex.node.appstate import METRICS_KEY
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack93_bad_heads import answer_to

BURST = 5


def asking(expect: str) -> bytes:
    return (
        f"GET /health HTTP/1.1\r\nHost: a\r\nExpect: {expect}\r\nConnection: close\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("fronts", [0, 1])
async def test_a_refused_expectation_is_charged_and_counted(
    chain: Chain, tmp_path: Path, fronts: int
) -> None:
    """With a front process too: it hands such a request to the node, which answers it."""
    limit = RateLimit(rate=0.01, burst=BURST)
    cfg = node_config(chain, tmp_path / "n.db", rate_limit=limit, fronts=fronts)
    async with running_node(cfg) as (_node, api):
        statuses = []
        for _ in range(BURST + 3):
            status, headers, _body = await answer_to(api.base, asking("bogus"))
            statuses.append(status)
            assert "x-ratelimit-limit" in headers, headers
        assert statuses == [417] * BURST + [429] * 3, statuses
        # the budget is spent for every route of this client, as by any request
        plain = b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        status, headers, _body = await answer_to(api.base, plain)
        assert status == 429 and "retry-after" in headers, (status, headers)
        assert api.app is not None
        scraped = generate_latest(api.app[METRICS_KEY].registry).decode()
        counted = {
            line.split("status=")[1][1:4]: float(line.rsplit(" ", 1)[1])
            for line in scraped.splitlines()
            if line.startswith("sdex_http_requests_total{") and 'route="expect_refused"' in line
        }
        assert counted == {"417": BURST, "429": 3}, counted
