"""landing49: ``match_by`` (the time a settlement of a match made now may land) keeps an
order expiring by then from being matched, and only that: the engine closes as expired
only what ``now`` (the chain's time) says is, so the order stays and trades once
``match_by`` falls back before its expiry."""

from __future__ import annotations

from sdex.book import RemovalReason
from sdex.matching import Outcome, TimeInForce
from tests.test_book import A, B, C, ask, bid
from tests.test_matching import NOW, engine, rest


def test_a_resting_order_expiring_by_match_by_is_passed_not_closed() -> None:
    eng = engine()
    soon = ask(A, 5, 50, expiry=NOW + 10)
    far = ask(B, 5, 55)
    rest(eng, soon, far)
    r = eng.submit(bid(C, 5, 60), NOW, TimeInForce.IOC, 0, NOW + 30)
    assert r.removed == ()  # (was: closed as expired)
    assert [m.resting for m in r.matches] == [far]  # the worse price: ``soon`` is passed
    assert eng.book.get(soon.hash).resting  # type: ignore[union-attr]
    # uncross and rematch pass it too, while the landing time lasts
    late = bid(C, 5, 50)
    assert eng.submit(late, now=NOW, match_by=NOW + 30).outcome is Outcome.RESTED
    assert eng.uncross(now=NOW, match_by=NOW + 30) == []
    assert not eng.rematch(late.hash, now=NOW, match_by=NOW + 30, older_only=False).matches
    # the landing time drops: it trades
    (res,) = eng.uncross(now=NOW, match_by=NOW + 5)
    assert [m.resting for m in res.matches] == [soon]


def test_an_incoming_order_expiring_by_match_by_is_not_matched() -> None:
    eng = engine()
    rest(eng, ask(A, 5, 50))
    soon = bid(C, 5, 50, expiry=NOW + 10)
    r = eng.submit(soon, now=NOW, tif=TimeInForce.IOC, match_by=NOW + 10)
    assert r.outcome is Outcome.DROPPED and not r.matches
    r = eng.submit(soon, now=NOW, match_by=NOW + 10)  # GTC: it rests, unmatched
    assert r.outcome is Outcome.RESTED and not r.matches
    assert eng.book.expire(NOW + 10) == [(soon.hash, RemovalReason.EXPIRED)]
