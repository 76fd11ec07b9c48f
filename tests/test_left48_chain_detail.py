"""left48: a node's ``CHAIN_UNAVAILABLE`` says why in fields, and the wallet reads them
(the node's body: ``tests/test_user30_cli_chain_down.py``).

The wallet (``sdex.walletui._chain_unavailable``) cut the node's sentence ("the node does
not follow the chain now: WHY; try again") apart by regex to say WHY: a node that worded it
otherwise had its framing said twice. Now the error body carries ``detail`` (``chainStatus``,
``why``; added beside the SRA fields, none renamed) and the wallet says ``detail.why``."""

from __future__ import annotations

from sdex.answers import NodeApiError
from sdex.errors import FieldError
from sdex.walletui import _said_refused


def refused(sentence: str, detail: object) -> NodeApiError:
    """A node's CHAIN_UNAVAILABLE answer: its sentence, and ``detail`` as its body has it."""
    body = {"code": 100, "reason": "Validation Failed", "rejection": "CHAIN_UNAVAILABLE"}
    errors = [FieldError("chain", 1005, sentence)]
    return NodeApiError(
        503, "Validation Failed", 100, errors, "CHAIN_UNAVAILABLE", {**body, "detail": detail}
    )


def test_the_wallet_says_the_detail_not_the_sentence_cut_apart() -> None:
    said = "le noeud ne suit pas la chaine : injoignable ; reessayez"  # (another node's words)
    e = refused(said, {"chainStatus": "unreachable", "why": "it cannot reach the chain"})
    assert _said_refused(e, 60).reason == (
        "nothing was posted: the node does not follow its chain now (it cannot reach the "
        "chain) and takes no orders until it does; try again later"
    )
    for hostile in ({"why": "x" * 10_000}, {"why": "a\nb"}, {"why": 5}, "why", None):
        reason = _said_refused(refused(said, hostile), 60).reason
        assert f"({said})" in reason, reason  # (the sentence, bounded, as it is)
