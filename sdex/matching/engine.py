"""Match incoming orders against the book in price-time priority, exactly as the contract.

For each resting order met (best price first, oldest first within a price) the engine asks
``fillmath.match_amounts`` with the resting order as ``left`` and the incoming as ``right``:
the trade is at the resting price, the incoming order gets the improvement, the fill is
maximal. Each side enters with its *available* amount, ``fillable`` (remaining minus
pending, capped by the maker's funds), as ``filled' = maker_amount - available``; so a
match's amounts are exactly what the contract computes when the chain's state equals the
book's view (see ``Match.exact``). Both sides of each match are reserved in the book
(pending) at once, so no order is ever matched beyond what it has.

Rules, in the order they are checked for each resting order:

- expired (``now >= expiry``, the contract's rule): removed from the book, reported;
- taker restriction: ``resting.taker`` must be 0 or the incoming maker, and vice versa;
  otherwise skipped (the pair can never trade);
- self-trade, same maker on both sides: *expire maker* (Binance's EXPIRE_MAKER) — the
  resting order is removed with reason ``self_trade`` and matching goes on. This keeps the
  book uncrossed without settling a trade that only burns the maker's gas;
- integer dust: ``PricesDoNotCross`` for a rationally crossing pair means no integer trade
  exists between these two at these amounts: skip that resting order, go on.
  ``ZeroFillAmount`` means the incoming order cannot buy one unit at this price, hence at
  none worse either: matching stops. Likewise after a fill that leaves the resting order
  with something (the incoming order is spent down to dust at this price or worse).

So "the book is never crossed after matching" holds precisely as: no fillable, unexpired
bid and ask that cross in price, may trade with each other (taker restrictions) and have an
integer trade by the contract's formula (older order as ``left``) are left in the book.
Releasing a fill or raising a maker's funds can make such a pair reappear: the node then
calls ``rematch`` or ``uncross``.
"""

from __future__ import annotations

from sdex.book.levels import Entry, Level
from sdex.book.orderbook import OrderBook
from sdex.book.pairbook import PairBook
from sdex.book.types import RemovalReason, Side
from sdex.fillmath import MatchAmounts, PricesDoNotCross, ZeroFillAmount, match_amounts
from sdex.matching.match import Match, MatchResult, Outcome, TimeInForce
from sdex.order import ZERO_ADDRESS, SignedOrder

_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_RESTED = Outcome.RESTED
_FILLED = Outcome.FILLED
_DROPPED = Outcome.DROPPED


class MatchingEngine:
    """Matches incoming orders against an ``OrderBook``; pure, no I/O.

    ``now`` is unix seconds; the node passes the latest block's timestamp.
    """

    def __init__(self, book: OrderBook) -> None:
        self.book = book

    def submit(
        self,
        order: SignedOrder,
        *,
        now: int,
        tif: TimeInForce = _GTC,
        filled: int = 0,
    ) -> MatchResult:
        """Match a new order (``filled``: its on-chain fills so far) and rest it per ``tif``.

        Raises what ``OrderBook.register`` raises for an order the book cannot take.
        """
        book = self.book
        inc = book.register(order, filled=filled)
        if now >= order.order.expiry:
            book.unregister(inc)
            return MatchResult(order, Outcome.EXPIRED, remaining=inc.remaining)
        swept = book.expire(now)
        if tif is _FOK and not self._fills_fully(inc, now):
            book.unregister(inc)
            return MatchResult(order, Outcome.KILLED, (), tuple(swept), inc.remaining)
        # Fast path: most new orders do not cross the opposite best level at all.
        keys = (inc.pair.asks if inc.side is Side.BID else inc.pair.bids).keys
        if inc.fillable and keys and _crosses(inc, keys[0][1]):
            matches, removed = self._walk(inc, now, inc.seq)
            removed = swept + removed
        else:
            matches, removed = [], swept
        remaining = inc.maker_amount - inc.filled - inc.pending
        if tif is _GTC:
            book.place(inc)
            outcome = _RESTED if remaining else _FILLED
        elif not matches:
            book.unregister(inc)
            outcome = _DROPPED
        else:
            book.close(inc, RemovalReason.UNMATCHED)
            outcome = _FILLED if tif is _FOK or not remaining else _DROPPED
        return MatchResult(order, outcome, tuple(matches), tuple(removed), remaining)

    def rematch(self, order_hash: bytes, *, now: int) -> MatchResult:
        """Match a resting order against the older orders across from it (after a release or
        a funds change made it fillable again). It keeps its place in the book."""
        book = self.book
        e = book.entry(order_hash)
        if e.closed is not None or not e.resting:
            return MatchResult(e.signed, Outcome.DROPPED, remaining=e.remaining)
        if now >= e.order.expiry:
            book.close(e, RemovalReason.EXPIRED)
            return MatchResult(
                e.signed, Outcome.EXPIRED, (), ((e.hash, RemovalReason.EXPIRED),), e.remaining
            )
        removed = book.expire(now)
        matches, walked = self._walk(e, now, e.seq)
        removed += walked
        remaining = e.remaining
        outcome = Outcome.RESTED if remaining else Outcome.FILLED
        return MatchResult(e.signed, outcome, tuple(matches), tuple(removed), remaining)

    def uncross(self, *, now: int, pair: PairBook | None = None) -> list[MatchResult]:
        """Match every crossing pair of resting orders, older order resting, until none is left.

        Orders that cross are re-matched oldest first, each against the older orders only,
        as if they had arrived in that order. Returns the results that matched or removed.
        """
        out: list[MatchResult] = []
        for p in [pair] if pair is not None else self.book.pairs:
            while True:
                progressed = False
                for e in sorted(_crossing_entries(p), key=_seq_of):
                    if e.closed is not None or e.fillable == 0:
                        continue
                    result = self.rematch(e.hash, now=now)
                    if result.matches:
                        progressed = True
                    if result.matches or result.removed:
                        out.append(result)
                if not progressed:
                    break
        return out

    def confirm(self, match: Match, actual: MatchAmounts | None = None) -> None:
        """Both sides of a match settled (``actual``: the amounts the chain filled)."""
        a = match.amounts
        left = a.left_filled if actual is None else actual.left_filled
        right = a.right_filled if actual is None else actual.right_filled
        self.book.confirm(match.resting.hash, a.left_filled, left)
        self.book.confirm(match.incoming.hash, a.right_filled, right)

    def release(self, match: Match) -> None:
        """A match will not settle: both sides get their amounts back (then ``rematch``)."""
        self.book.release(match.resting.hash, match.amounts.left_filled)
        self.book.release(match.incoming.hash, match.amounts.right_filled)

    # ---- the walk ---------------------------------------------------------------------------

    def _fills_fully(self, inc: Entry, now: int) -> bool:
        """FOK's check: would matching now fill the whole remaining amount?

        Filled in full means the order gives all its remaining maker amount, or receives at
        least the taker amount its remaining asks for (price improvement can leave it dust).
        """
        given, received = self._dry_walk(inc, now)
        rem = inc.maker_amount - inc.filled - inc.pending
        order = inc.order
        return given == rem or received * order.maker_amount >= rem * order.taker_amount

    def _walk(
        self, inc: Entry, now: int, max_seq: int
    ) -> tuple[list[Match], list[tuple[bytes, RemovalReason]]]:
        """Match ``inc`` against the opposite side, reserving each match in the book.

        Only resting orders with ``seq <= max_seq`` are considered (``rematch``). The dry
        twin ``_dry_walk`` must stay step for step the same.
        """
        book = self.book
        order = inc.order
        im = order.maker_amount
        it = order.taker_amount
        ifee = order.fee_amount
        maker = order.maker
        itaker = order.taker
        inc_open = itaker == ZERO_ADDRESS
        bid_in = inc.side is Side.BID
        signed = inc.signed
        side = inc.side
        opp = inc.pair.asks if bid_in else inc.pair.bids
        keys = opp.keys
        inc_account = inc.account
        matches: list[Match] = []
        removed: list[tuple[bytes, RemovalReason]] = []
        avail = inc.fillable
        inc_exact = avail == im - inc.filled - inc.pending
        i = 0
        stop = False
        while avail > 0 and i < len(keys):
            level = keys[i][1]
            # Does the level cross the incoming limit? (quote per base, cross-multiplied)
            if bid_in:
                if level.num * it > level.den * im:  # ask price > bid limit M/T
                    break
            elif level.num * im < level.den * it:  # bid price < ask limit T/M
                break
            queue = level.queue
            j = level.head
            n = len(queue)
            while j < n:
                r = queue[j]
                j += 1
                r_avail = r.fillable
                if r_avail == 0 or r.dead or r.seq > max_seq:
                    continue
                ro = r.order
                if now >= ro.expiry:
                    book.close(r, RemovalReason.EXPIRED, tidy=False)
                    removed.append((r.hash, RemovalReason.EXPIRED))
                    continue
                rtaker = ro.taker
                if (rtaker != ZERO_ADDRESS and rtaker != maker) or (
                    not inc_open and itaker != ro.maker
                ):
                    continue
                if ro.maker == maker:
                    book.close(r, RemovalReason.SELF_TRADE, tidy=False)
                    removed.append((r.hash, RemovalReason.SELF_TRADE))
                    continue
                rm = r.maker_amount
                try:
                    amounts = match_amounts(
                        rm, ro.taker_amount, ro.fee_amount, rm - r_avail,
                        im, it, ifee, im - avail,
                    )  # fmt: skip
                except PricesDoNotCross:
                    continue
                except ZeroFillAmount:
                    stop = True
                    break
                x = amounts.left_filled
                y = amounts.right_filled
                exact = inc_exact and r_avail == rm - r.filled - r.pending
                # reserve both sides (OrderBook.reserve_entry, inlined for the hot path)
                r.pending += x
                r.fillable = r_avail - x
                ra = r.account
                ra.open -= x
                ra.reserved += x
                inc.pending += y
                inc.fillable -= y
                inc_account.open -= y
                inc_account.reserved += y
                matches.append(Match(r.signed, signed, amounts, side, exact))
                avail -= y
                if x < r_avail or avail == 0:
                    stop = True
                    break
            if level.live == 0:
                opp.drop(level)  # the next level is now keys[i]
            else:
                if len(queue) - level.head > 2 * level.live + 16:
                    level.compact()
                i += 1
            if stop:
                break
        return matches, removed

    def _dry_walk(self, inc: Entry, now: int) -> tuple[int, int]:
        """``_walk`` without changing anything: what the incoming order would give, receive."""
        order = inc.order
        im = order.maker_amount
        it = order.taker_amount
        ifee = order.fee_amount
        maker = order.maker
        itaker = order.taker
        inc_open = itaker == ZERO_ADDRESS
        bid_in = inc.side is Side.BID
        keys = (inc.pair.asks if bid_in else inc.pair.bids).keys
        avail = inc.fillable
        given = received = 0
        for key in keys:
            if avail <= 0:
                break
            level = key[1]
            if bid_in:
                if level.num * it > level.den * im:
                    break
            elif level.num * im < level.den * it:
                break
            queue = level.queue
            for j in range(level.head, len(queue)):
                r = queue[j]
                r_avail = r.fillable
                if r_avail == 0 or r.dead:
                    continue
                ro = r.order
                if now >= ro.expiry:
                    continue  # would be removed
                rtaker = ro.taker
                if (rtaker != ZERO_ADDRESS and rtaker != maker) or (
                    not inc_open and itaker != ro.maker
                ):
                    continue
                if ro.maker == maker:
                    continue  # would be removed (self-trade)
                rm = r.maker_amount
                try:
                    amounts = match_amounts(
                        rm, ro.taker_amount, ro.fee_amount, rm - r_avail,
                        im, it, ifee, im - avail,
                    )  # fmt: skip
                except PricesDoNotCross:
                    continue
                except ZeroFillAmount:
                    return given, received
                x = amounts.left_filled
                y = amounts.right_filled
                avail -= y
                given += y
                received += x
                if x < r_avail or avail == 0:
                    return given, received
        return given, received


def _crosses(inc: Entry, level: Level) -> bool:
    """Does ``level`` (opposite side) price at or through ``inc``'s limit? Exact."""
    order = inc.order
    if inc.side is Side.BID:  # ask price num/den <= bid limit maker/taker
        return level.num * order.taker_amount <= level.den * order.maker_amount
    return level.num * order.maker_amount >= level.den * order.taker_amount


def _crossing_entries(p: PairBook) -> list[Entry]:
    """Fillable resting orders priced across the other side's best fillable price."""
    best_bid = p.best_bid()
    best_ask = p.best_ask()
    if best_bid is None or best_ask is None or best_bid.price < best_ask.price:
        return []
    out: list[Entry] = []
    for level in p.bids:
        if level.num * best_ask.price.denominator < best_ask.price.numerator * level.den:
            break
        out.extend(e for e in level.entries() if e.fillable)
    for level in p.asks:
        if level.num * best_bid.price.denominator > best_bid.price.numerator * level.den:
            break
        out.extend(e for e in level.entries() if e.fillable)
    return out


def _seq_of(e: Entry) -> int:
    return e.seq
