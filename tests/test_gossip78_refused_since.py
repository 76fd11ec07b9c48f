"""``Refused.note``'s ``since`` (the chain count a check began in) is always named (gossip78):
it was optional, and a call that left it out kept a verdict the chain gave (filled,
cancelled, expired) across a reorg that undid it, the order skipped by anti-entropy for
``REFUSED_SECONDS``. And a verdict's hash is one identity whatever its case."""

from __future__ import annotations

import pytest

from sdex.ingest.rejections import RejectionCode
from sdex.node.refused import KEPT, Refused

H = "0x" + "ab" * 32


@pytest.mark.parametrize("code", sorted(KEPT, key=lambda c: c.name), ids=lambda c: c.name)
def test_a_verdict_noted_without_its_chain_count_is_refused(code: RejectionCode) -> None:
    r = Refused()
    r.forget_chain()  # (a reorg before the note: a check from before it must say so)
    with pytest.raises(TypeError):
        r.note(code, "p", H, 0.0)  # type: ignore[call-arg]
    assert len(r) == 0 and not r.holds("p", H, 1.0)


@pytest.mark.parametrize(
    "code", [RejectionCode.FULLY_FILLED, RejectionCode.CANCELLED, RejectionCode.EXPIRED]
)
def test_a_chain_verdict_from_before_a_reorg_is_not_kept(code: RejectionCode) -> None:
    r = Refused()
    since = r.chain_epoch
    r.forget_chain()
    assert not r.note(code, "p", H, 0.0, since=since)
    assert r.note(code, "p", H, 0.0, since=r.chain_epoch)


@pytest.mark.parametrize(
    ("noted", "asked"),
    [(H.upper().replace("0X", "0x"), H), (H, "0x" + H[2:].upper()), ("0X" + H[2:], H)],
)
def test_a_verdicts_hash_is_one_identity_whatever_its_case(noted: str, asked: str) -> None:
    r = Refused()
    assert r.note(RejectionCode.TOKEN_NOT_SUPPORTED, "p", noted, 0.0, since=r.chain_epoch)
    assert r.holds("p", asked, 1.0) and r.holds("q", asked.lower(), 1.0)
    assert r.note(RejectionCode.TOKEN_NOT_SUPPORTED, "p", asked, 0.0, since=r.chain_epoch)
    assert len(r) == 1
