"""doubt80: a receipt asked for before a doubt that began and ended while it was in flight
is not taken.

adopt79 made a settlement's wait take no receipt asked for in a doubt, or answered in one.
A doubt said and proven while one ask was in flight (a slow backend's answer: the other
chain's) met neither rule: asked before it, answered after it, the answer was taken, and
another chain's "reverted" failed a sound pooled settlement, its orders free to be matched
again while its bytes were pooled on ours (adopt79's second test failed so 1 run in 6 with
its neighbours). Now the answers of another chain said since the ask (``ChainDoubt.doubts``,
``NonceLane.said``) void it too: asked again. Real Hardhat, the node's settler with its own
SQLite store, adopt79's real proxy on loopback (``tests.foreignanswer``) answering the
settlement's receipt as another chain's and holding that answer in flight, the node's
``ChainDoubt`` said and proven as the watcher does."""

from __future__ import annotations

from pathlib import Path

from sdex.mirror.doubt import ChainDoubt
from tests.conftest import Chain
from tests.foreignanswer import answer_held_across
from tests.test_held79_doubt_settlements import WHY, proven


async def test_a_doubt_begun_and_proven_within_an_ask_voids_its_answer(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement pooled (mining paused); an ask for its receipt made with no doubt is
    held in flight, answered as another chain's: reverted. Meanwhile a doubt is said and
    proven; then the answer comes. It is not taken (before: failed, "transaction reverted",
    its orders free while its bytes were pooled: failed 3 of 3); the pool mined, it settles."""

    def said_and_proven(doubt: ChainDoubt) -> None:
        doubt.said(WHY)
        proven(doubt)

    await answer_held_across(
        chain,
        tmp_path,
        said=lambda doubt: lambda: doubt.doubts,  # (the node's: its mirror's ``ChainDoubt``)
        begun=lambda doubt: None,
        meanwhile=said_and_proven,
    )
