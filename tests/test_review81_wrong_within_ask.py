"""review81: a receipt asked for before a ``wrong-chain`` hold that began and ended while it
was in flight is not taken.

doubt80 voided an answer when a doubt was said since its ask (``ChainDoubt.doubts``, read by
the settler through ``Mirror.doubts_said``). The watcher's other hold, ``wrong-chain`` (the
endpoint's chain another chain id, or no Exchange: a backend on a reset devnet), holds
matching and sending just as a doubt does and ends the same way (``ChainDoubt.through``),
yet counted nothing there: an ask made before it, answered after it ended, was taken, and
another chain's "reverted" failed a sound pooled settlement, its orders free to be matched
again while its bytes were pooled on ours (the second settlement a paid revert). The same
count voids ``mark_unread``'s reads and a send's receipt. Real Hardhat, the node's settler
with its own SQLite store, adopt79's real proxy on loopback answering the settlement's
receipt as another chain's and holding that answer in flight, the node's ``ChainDoubt`` set
and proven as the watcher's polls do, the settler reading it through the real
``Mirror.doubts_said``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from sdex.mirror import Mirror
from sdex.mirror.doubt import AGREE, ChainDoubt
from tests.conftest import Chain
from tests.foreignanswer import answer_held_across

WRONG = "no Exchange at 0x5FbDB2315678afecb367f032d93F642f64180aa3 on this chain"


def wrong_then_ours(doubt: ChainDoubt) -> None:
    """As the watcher's polls set it: one ``wrong-chain`` poll, then ``AGREE`` on our chain
    (each sets its status, ``ok``, then gets through), the hold ended."""
    doubt.wrong_chain(WRONG)
    assert doubt.held
    for _ in range(AGREE):
        doubt.wrong_chain("")
        doubt.through()
    assert not doubt.held


async def test_a_wrong_chain_begun_and_ended_within_an_ask_voids_its_answer(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement pooled (mining paused); an ask for its receipt made with nothing held is
    held in flight, answered as another chain's: reverted. Meanwhile the watcher says
    ``wrong-chain`` and then polls our chain till the hold ends; then the answer comes. It
    is not taken (before: failed, "transaction reverted", its orders free while its bytes
    were pooled); the pool mined, it settles."""

    def said(doubt: ChainDoubt) -> Callable[[], int]:
        mirror = SimpleNamespace(doubt=doubt)  # (the node's mirror, as the settler reads it)
        return lambda: Mirror.doubts_said.fget(mirror)[0]  # type: ignore[attr-defined,no-any-return]

    await answer_held_across(
        chain, tmp_path, said, begun=lambda doubt: None, meanwhile=wrong_then_ours
    )


def test_each_wrong_chain_poll_is_counted_as_said() -> None:
    """The settler's count (``Mirror.doubts_said``) moves with each ``wrong-chain`` poll as
    with each doubt said, and not with a poll of another status."""
    doubt = ChainDoubt()
    mirror = SimpleNamespace(doubt=doubt)

    def said() -> int:
        return int(Mirror.doubts_said.fget(mirror)[0])  # type: ignore[attr-defined]

    base = said()
    doubt.wrong_chain("")
    assert said() == base
    doubt.wrong_chain(WRONG)
    doubt.wrong_chain(WRONG)
    assert said() == base + 2
    doubt.said("chain id 1, then 31337")
    assert said() == base + 3
