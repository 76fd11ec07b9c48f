"""doubt80: a receipt asked for before a doubt that began and ended while it was in flight
is not taken.

adopt79 made a settlement's wait take no receipt asked for in a doubt, or answered in one.
A doubt said and proven while one ask was in flight (a slow backend's answer: the other
chain's) met neither rule: asked before it, answered after it, the answer was taken, and
another chain's "reverted" failed a sound pooled settlement, its orders free to be matched
again while its bytes were pooled on ours (adopt79's second test failed so 1 run in 6 with
its neighbours). Now the answers of another chain said since the ask (``ChainDoubt.doubts``,
``NonceLane.said``) void it too: asked again. Real Hardhat, the node's settler with its own
SQLite store, adopt79's real proxy on loopback answering the settlement's receipt as
another chain's and holding that answer in flight, the node's ``ChainDoubt`` said and
proven as the watcher does."""

from __future__ import annotations

import threading
from pathlib import Path

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.test_adopt79_doubt_receipt import (
    foreign_receipt_proxy,
    pooled_in_doubt,
    settled_template,
)
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY, mine_pool, proven
from tests.test_settlement_fallback import running_settler


async def test_a_doubt_begun_and_proven_within_an_ask_voids_its_answer(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement pooled (mining paused); an ask for its receipt made with no doubt is
    held in flight, answered as another chain's: reverted. Meanwhile a doubt is said and
    proven; then the answer comes. It is not taken (before: failed, "transaction reverted",
    its orders free while its bytes were pooled: failed 3 of 3); the pool mined, it settles."""
    template = await settled_template(chain, tmp_path)
    gate = threading.Event()
    with foreign_receipt_proxy(chain.rpc.url, template, gate) as (url, other, told):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path / "b") as (s, results):
            doubt = ChainDoubt()
            s.said = lambda: doubt.doubts  # (the node's: its mirror's ``ChainDoubt``)
            try:
                operator, before = await pooled_in_doubt(s, c, chain, doubt)
                other.set()
                await wait_for(lambda: told[0] > 0, 30)  # (an answer held in flight)
                other.clear()
                doubt.said(WHY)
                proven(doubt)
                asks = told[1]
                gate.set()  # (the held answer given; an ask after it: the answer was judged)
                await wait_for(lambda: bool(results) or told[1] > asks, 30)
                assert results == [], results
            finally:
                gate.set()
                mine_pool(chain)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert counts(chain, operator) == (before[0] + 1,) * 2
