"""What the engine does once matches are proposed: each settles (``confirm``) or not
(``release``); the base of ``MatchingEngine`` (``sdex.matching.engine``), compiled with it."""

from __future__ import annotations

from sdex.book.errors import BookError
from sdex.book.orderbook import OrderBook
from sdex.fillmath import MatchAmounts
from sdex.matching.dry import self_trades
from sdex.matching.match import Match
from sdex.order import SignedOrder


class Settling:
    """A ``MatchingEngine``'s settlement of its matches in its ``book``."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.held = False
        """Matching held (the node's: the chain's identity in doubt, gate77): a new order
        rests or is dropped as its time in force says, a resting one is matched with
        nothing, ``uncross`` finds nothing, until it is let go."""

    def confirm(self, match: Match, actual: MatchAmounts | None = None) -> None:
        """Both sides of a match settled (``actual``: the amounts the chain filled)."""
        left = match.left_filled
        right = match.right_filled
        le = match.resting_entry
        re_ = match.incoming_entry
        if actual is None and le is not None and re_ is not None:
            self.book.confirm_entries(le, left, right, re_)  # the book checks they are its own
            return
        if actual is None:
            actual = match.amounts
        self.book.confirm_pair(
            match.resting.hash,
            left,
            actual.left_filled,
            match.incoming.hash,
            right,
            actual.right_filled,
        )

    def confirm_all(self, matches: tuple[Match, ...]) -> None:
        """``confirm`` each of ``matches`` (a ``MatchResult``'s), all settled as proposed: one
        call for all of them (compiled, the loop runs natively)."""
        book = self.book
        for m in matches:
            le = m.resting_entry
            re_ = m.incoming_entry
            if le is not None and re_ is not None:
                book.confirm_entries(le, m.left_filled, m.right_filled, re_)
            else:
                self.confirm(m)

    def release(self, match: Match) -> None:
        """A match will not settle: both sides get their amounts back (then ``rematch``).

        Each side on its own: one the book no longer holds (filled on chain meanwhile, a
        reorg) or holds less of in flight does not keep the other's amount reserved for good
        (chaos55). The first such ``BookError`` is raised once both were tried."""
        error: BookError | None = None
        for order_hash, amount in (
            (match.resting.hash, match.amounts.left_filled),
            (match.incoming.hash, match.amounts.right_filled),
        ):
            try:
                self.book.release(order_hash, amount)
            except BookError as e:
                if error is None:
                    error = e
        if error is not None:
            raise error

    def would_self_trade(self, order: SignedOrder, *, now: int | None = None) -> bool:
        """Whether ``order``, arriving now, would meet a resting order of its own maker that
        it could trade with: offered, on the other side of its pair at a price that crosses
        its limit, taker restrictions allowing (and unexpired at ``now``, if given).

        A pure query, O(the maker's open orders selling what ``order`` buys); raises
        ``UnknownPair`` as ``OrderBook.register`` would.
        """
        return self_trades(self.book, order, now)
