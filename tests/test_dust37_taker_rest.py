"""An incoming order partly filled at a better price keeps its rest open while the chain
would still fill it (dust37).

A taker filled at the resting price (price improvement) gives a part of its maker amount
that need not be whole units of its own price (``Entry.unit``: ``makerAmount/g``); with
coprime amounts its unit is the whole order, so its rest was below one unit and closed as
dust (``book.get`` None) on every configuration. The contract (``sdex.fillmath``, the twin
of LibFill.sol) still fills that rest: as the resting (left) side of ``matchOrders`` it
receives ``ceil(x * takerAmount / makerAmount)``, at its price or better, for any part. So a
rest that is not whole units stays open at its exact fillable, and trades all at once (a
part of it would leave a smaller rest); it is closed only below the book's minimums (what
no match may move: less than its token's minimum, or receiving less than the taker token's).

Fixed by dust38: such a rest is *all or nothing* at its own cost (``Entry.aon``: ``R``
maker units for ``ceil(R * takerAmount / makerAmount)``, exactly what the contract fills with
``maxLeftFill = R``), at the level of that price, not its order's (dust37's attempt kept it at
its order's level, which it costs more than: a third party's ask crossing that level was
blocked and closed as dust). docs/ARCHITECTURE.md, "Rests that are not whole units".
"""

from __future__ import annotations

from math import gcd

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.book import OrderBook
from sdex.fillmath import match_amounts
from sdex.matching import MatchingEngine
from tests.test_book import BASE, BASE2, QUOTE, T0, A, B, C, ask, bid

NOW = T0
CONFIGS: tuple[dict[str, int] | None, ...] = (None, {BASE: 0, QUOTE: 0}, {BASE: 10, QUOTE: 10})


def engine(minimums: dict[str, int] | None) -> MatchingEngine:
    book = OrderBook([(BASE, QUOTE), (BASE2, QUOTE)], default_funds=10**30)
    if minimums is not None:
        book.minimums = dict(minimums)
    return MatchingEngine(book)


def test_the_bids_rest_stays_open_at_its_exact_fillable() -> None:
    for minimums in CONFIGS:
        eng = engine(minimums)
        eng.submit(ask(A, 100, 1000), NOW)
        inc = bid(B, 197, 2001)  # coprime: its unit is the whole order
        r = eng.submit(inc, NOW)
        assert [(m.amounts.left_filled, m.amounts.right_filled) for m in r.matches] == [(100, 1000)]
        eng.confirm_all(r.matches)
        e = eng.book.get(inc.hash)
        assert e is not None and e.closed is None, minimums
        assert (e.filled, e.fillable) == (1000, 1001), minimums
        # and the chain fills it: 99 base (its price, rounded its way) for all of it
        later = ask(C, 99, 990)
        want = match_amounts(2001, 197, 0, 1000, 99, 990, 0, 0)
        r = eng.submit(later, NOW)
        assert [(m.amounts.left_filled, m.amounts.right_filled) for m in r.matches] == [
            (want.left_filled, want.right_filled)
        ], minimums
        eng.confirm_all(r.matches)
        assert eng.book.get(inc.hash) is None


def test_a_rest_below_the_minimums_is_still_closed() -> None:
    eng = engine({BASE: 10, QUOTE: 10})
    eng.submit(ask(A, 100, 1000), NOW)
    for it, im in ((100, 1009), (101, 1030)):
        # 9 quote left, below the quote minimum; 30 quote left, for 3 base, below the base one
        inc = bid(B, it, im)
        r = eng.submit(inc, NOW)
        assert r.matches
        eng.confirm_all(r.matches)
        assert eng.book.get(inc.hash) is None
        eng.submit(ask(A, 100, 1000), NOW)


@settings(max_examples=300, deadline=None)
@given(
    rm=st.integers(1, 10**4),
    rt=st.integers(1, 10**4),
    im=st.integers(1, 10**5),
    it=st.integers(1, 10**4),
    cfg=st.sampled_from(CONFIGS),
)
def test_a_takers_rest_is_open_iff_the_contract_can_fill_it(
    rm: int, rt: int, im: int, it: int, cfg: dict[str, int] | None
) -> None:
    """Coprime incoming amounts (its unit the whole order): after it takes a resting ask,
    its rest is open, at exactly what is left, unless the contract can never fill it
    within the book's minimums; the walk's match is ``matchOrders``'s."""
    g = gcd(im, it)
    im, it = im // g, it // g
    if rt * it > im * rm:  # no crossing
        return
    eng = engine(cfg)
    eng.submit(ask(A, rm, rt), NOW)
    inc = bid(B, it, im)
    r = eng.submit(inc, NOW)
    given_ = 0
    for m in r.matches:
        a = m.amounts
        want = match_amounts(rm, rt, 0, 0, im, it, 0, 0, a.left_filled)
        assert (want.left_filled, want.right_filled) == (a.left_filled, a.right_filled)
        given_ += a.right_filled
    eng.confirm_all(r.matches)
    rest = im - given_
    e = eng.book.get(inc.hash)
    mins = cfg or {}
    least = max(1, mins.get(QUOTE, 0))
    wants = mins.get(BASE, 0)
    fillable = rest >= least and -(-rest * it // im) >= max(1, wants)
    if rest and fillable and r.matches:
        assert e is not None and e.closed is None, (rest, cfg)
        assert e.fillable == rest
        # the contract fills all of it, at its price or better, within the minimums
        y = -(-rest * it // im)
        want = match_amounts(im, it, 0, given_, y, rest, 0, 0)
        assert want.left_filled == rest and want.right_filled == y
        assert y * im >= rest * it
    elif r.matches and not fillable:
        assert e is None or e.closed is not None


def test_a_smaller_crossing_ask_passes_the_rest_and_is_not_closed() -> None:
    """dust37's attempt failed here: the rest costs more than its order's price, so an ask
    crossing that price but too small for the rest was blocked and closed as dust. At the
    rest's own level (1001 quote for 99 base, 10.11) such an ask passes it and rests; the
    node's uncross (``may_match``: against every order across) lets the rest take it as the
    incoming side, at the ask's price, within the bid's own limit."""
    for minimums in CONFIGS:
        eng = engine(minimums)
        eng.submit(ask(A, 100, 1000), NOW)
        inc = bid(B, 197, 2001)
        eng.confirm_all(eng.submit(inc, NOW).matches)
        small = ask(C, 50, 505)  # 10.1 per base: crosses the rest's 10.11, 50 < 99 base
        r = eng.submit(small, NOW)
        assert r.matches == () and r.removed == (), minimums
        s = eng.book.get(small.hash)
        assert s is not None and s.closed is None and s.fillable == 50, minimums
        (res,) = eng.uncross(now=NOW, may_match=lambda r_, i_: True)
        (m,) = res.matches
        want = match_amounts(50, 505, 0, 0, 2001, 197, 0, 1000)
        assert (m.amounts.left_filled, m.amounts.right_filled) == (
            want.left_filled,
            want.right_filled,
        ), minimums
        assert m.resting.hash == small.hash and m.incoming.hash == inc.hash
