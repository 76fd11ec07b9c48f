"""left48: a node's ``CHAIN_UNAVAILABLE`` says why in fields, and the wallet reads them.

The wallet (``sdex.walletui._chain_unavailable``) cut the node's sentence ("the node does
not follow the chain now: WHY; try again") apart by regex to say WHY: a node that worded it
otherwise had its framing said twice. Now the error body carries ``detail`` (``chainStatus``,
``why``; added beside the SRA fields, none renamed) and the wallet says ``detail.why``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.answers import NodeApiError
from sdex.errors import FieldError
from sdex.walletui import _said_refused
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, E6, E18, ask
from tests.test_user29_cli_words import cuttable


async def test_the_error_body_says_why_the_chain_is_not_followed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with cuttable(c.deployment.rpc) as (rpc, cut):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (_node, api):
            cut.set()

            async def unreachable() -> bool:
                return bool((await api.get("/health"))[1].get("chain") == "unreachable")

            await wait_for(unreachable, timeout=60)
            code, body = await api.post_order(c.sign(ask(c, ALICE, E18, 3000 * E6)))
            assert (code, body["rejection"]) == (503, "CHAIN_UNAVAILABLE"), body
            assert body["detail"] == {
                "chainStatus": "unreachable",
                "why": "it cannot reach the chain",
            }
            assert body["code"] == 100 and body["validationErrors"][0]["reason"] == (
                "the node does not follow the chain now: it cannot reach the chain; try again"
            )  # (the SRA fields as they were)


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
