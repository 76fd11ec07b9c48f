"""The matching engine's entry points: a new order (``submit``), a resting one matched again
(``rematch``), and every crossing pair of a book (``uncross``). Each checks expiry, holds apart
what expires by ``match_by`` (``sdex.book.late``), and walks the incoming order against the
opposite side: ``sdex.matching.walk`` (its docstring: the walk's rules, in the order they are
checked), then rests, drops or kills what is left per its time in force.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Final

from sdex.book.late import hold, restore
from sdex.book.levels import SEQ_LIMIT, Entry
from sdex.book.pairbook import PairBook
from sdex.book.types import RemovalReason
from sdex.matching.crossing import best_private, crossing_entries, level_crosses, limit_rank
from sdex.matching.dry import fills_fully
from sdex.matching.match import Match, MatchResult, Outcome, TimeInForce
from sdex.matching.settle import Settling
from sdex.matching.walk import MayMatch, walk
from sdex.order import SignedOrder

_GTC: Final = TimeInForce.GTC
_FOK: Final = TimeInForce.FOK
_RESTED: Final = Outcome.RESTED
_FILLED: Final = Outcome.FILLED
_DROPPED: Final = Outcome.DROPPED
_EXPIRED: Final = RemovalReason.EXPIRED
_NO_REMOVALS: Final[list[tuple[bytes, RemovalReason]]] = []  # shared, never mutated
_ANY_SEQ: Final = SEQ_LIMIT  # above any seq, a machine int (2**63 was not: slow compares)


def _not_in(skip: Container[bytes]) -> MayMatch:
    """A walk's ``may_match`` that refuses the resting orders in ``skip``."""

    def may(resting: Entry, incoming: Entry) -> bool:
        return resting.hash not in skip

    return may


class MatchingEngine(Settling):
    """Matches incoming orders against an ``OrderBook``; pure, no I/O (``now``, ``match_by``:
    ``sdex.matching.walk``'s docstring)."""

    def submit(
        self,
        order: SignedOrder,
        now: int,
        tif: TimeInForce = _GTC,
        filled: int = 0,
        match_by: int = 0,
        skip: Container[bytes] | None = None,
    ) -> MatchResult:
        """Match a new order (``filled``: its on-chain fills so far) and rest it per ``tif``.

        ``now`` (``tif``, ``filled``...) may be passed by position: compiled, that skips the
        keyword parsing (``submit(signed, now)``, the benchmark's call). ``skip``: hashes of
        resting orders it is not matched against (they stay as they are; the node's orders
        gone on chain in a block it has not applied: ``sdex.node.gone``).

        Raises what ``OrderBook.register`` raises for an order the book cannot take; then
        nothing changed. A GTC order whose remainder is dust (``OrderBook.rest``) is closed
        instead of resting: it is listed in ``removed`` with ``RemovalReason.DUST`` and its
        outcome is ``FILLED``.
        """
        book = self.book
        inc = book.register(order, filled=filled)
        if now >= inc.expiry:
            book.unregister(inc)
            return MatchResult(order, Outcome.EXPIRED, remaining=inc.remaining)
        swept = book.expire(now) if book.next_expiry_at <= now else _NO_REMOVALS
        match_by = max(match_by, now)
        restore(book, match_by)
        # Fast path: most new orders do not cross the opposite best level at all.
        opp = inc.book_side.opposite
        best = opp.best
        limit = limit_rank(inc)
        open_ = match_by < inc.expiry and not self.held  # (held: nothing matched, gate77)
        crosses = best is not None and open_ and level_crosses(best, inc, limit)
        if not crosses and opp.private and open_:  # across: only to its maker
            best = best_private(opp, inc.maker)
            crosses = best is not None and level_crosses(best, inc, limit)
        matches: tuple[Match, ...] = ()
        removed: tuple[tuple[bytes, RemovalReason], ...] = tuple(swept) if swept else ()
        blocked = False
        if crosses and inc.fillable:
            may = None if skip is None else _not_in(skip)
            walked, walk_removed, blocked = walk(book, inc, now, match_by, _ANY_SEQ, may, limit)
            matches = tuple(walked)
            if walk_removed:
                removed += tuple(walk_removed)
        if tif is _FOK and not fills_fully(inc, matches):
            for m in reversed(matches):  # the book is as before: what it holds is a function
                self.release(m)  # of fill states and funds (``sdex.book.funds``)
            book.unregister(inc)
            return MatchResult(order, Outcome.KILLED, (), removed, inc.remaining)
        remaining = inc.maker_amount - inc.filled - inc.pending
        if tif is _GTC:
            dust = book.rest(inc, blocked=blocked)
            if dust is not None:
                removed += ((inc.hash, dust),)
                outcome = _FILLED
            else:
                outcome = _RESTED if remaining else _FILLED
                if match_by >= inc.expiry:  # it rests, but may not trade (``sdex.book.late``)
                    hold(book, inc, match_by)
        elif not matches:
            book.unregister(inc)
            outcome = _DROPPED
        else:
            book.close(inc, RemovalReason.UNMATCHED)
            outcome = _FILLED if tif is _FOK or not remaining else _DROPPED
        return MatchResult(order, outcome, matches, removed, remaining)

    def rematch(
        self,
        order_hash: bytes,
        *,
        now: int,
        may_match: MayMatch | None = None,
        older_only: bool = True,
        match_by: int = 0,
    ) -> MatchResult:
        """Match a resting order, as the incoming side, against the orders across from it (after a
        release or a funds change made it fillable again); it keeps its place.

        ``older_only`` (the default) considers only orders older than it, as if it had just
        arrived; ``may_match`` filters the pairs (the node's rule for peers' orders).
        """
        book = self.book
        e = book.entry(order_hash)
        if e.closed is not None or not e.resting:
            return MatchResult(e.signed, Outcome.DROPPED, remaining=e.remaining)
        if now >= e.expiry:
            book.close(e, _EXPIRED)
            return MatchResult(e.signed, Outcome.EXPIRED, (), ((e.hash, _EXPIRED),), e.remaining)
        removed = book.expire(now)
        matches: list[Match] = []
        match_by = max(match_by, now)
        restore(book, match_by)
        if match_by >= e.expiry:
            hold(book, e, match_by)
        elif e.fillable and e.closed is None and match_by < e.expiry and not self.held:
            max_seq = e.seq if older_only else _ANY_SEQ
            limit = limit_rank(e)
            matches, walked, blocked = walk(book, e, now, match_by, max_seq, may_match, limit)
            removed += walked
            dust = book.settle(e, blocked=blocked)
            if dust is not None:
                removed.append((e.hash, dust))
        remaining = e.remaining
        outcome = _RESTED if remaining else _FILLED
        return MatchResult(e.signed, outcome, tuple(matches), tuple(removed), remaining)

    def uncross(
        self,
        *,
        now: int,
        pair: PairBook | None = None,
        may_match: MayMatch | None = None,
        match_by: int = 0,
    ) -> list[MatchResult]:
        """Match every crossing pair of resting orders until none is left (of those that
        ``may_match`` allows). Returns the results that matched or removed something.

        Orders that cross are re-matched oldest first: without ``may_match`` each against the older
        orders only (the older one rests), as if they had arrived in that order; with it, against
        every order across that it allows. With ``pair``, only that pair is looked at, though a
        removal there can fund a maker's orders in other pairs.
        """
        if self.held:  # (nothing matched: gate77)
            return []
        older_only = may_match is None
        restore(self.book, max(match_by, now))
        pairs = [pair] if pair is not None else self.book.pairs
        out: list[MatchResult] = []
        progressed = True
        while progressed:  # until a pass over every pair changes nothing
            progressed = False
            for p in pairs:
                for e in crossing_entries(p, self.book):
                    if e.closed is not None or e.fillable == 0:
                        continue
                    result = self.rematch(
                        e.hash,
                        now=now,
                        may_match=may_match,
                        older_only=older_only,
                        match_by=match_by,
                    )
                    if result.matches or result.removed:
                        # a removal can fund the maker's orders anywhere: look again, everywhere
                        progressed = True
                        out.append(result)
        return out
