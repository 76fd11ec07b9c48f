"""FOK's look-ahead: what an incoming order would trade now, the book left unchanged."""

from __future__ import annotations

from typing import Final

from sdex.book.levels import Entry
from sdex.book.types import Side
from sdex.fillmath import UINT256_MAX, PricesDoNotCross, ZeroFillAmount, match_amounts
from sdex.order import ZERO_ADDRESS

_BID: Final = Side.BID


def least_given(inc: Entry, minimums: dict[str, int] | None) -> int:
    """The least ``inc`` gives in one match as the incoming side: the book's minimum for its
    maker token, or 1. (Not its lot: what it gives is at the resting order's price, and
    need not be whole units of its own.)"""
    if minimums:
        least = minimums.get(inc.order.maker_token, 0)
        if least > 1:
            return least
    return 1


def dry_walk(inc: Entry, now: int, minimums: dict[str, int] | None = None) -> tuple[int, int]:
    """``MatchingEngine._walk`` without changing anything: what the incoming order would
    give, and receive.

    Removals (expired) re-fund only their own maker's orders, which cannot trade with
    ``inc`` either (expired ones are swept before), so one pass suffices. ``minimums``:
    the book's (``OrderBook.minimums``): with some, a resting order with none for its token
    trades in whole units, and ``inc`` gives at least its own token's in each match.
    """
    order = inc.order
    im = order.maker_amount
    it = order.taker_amount
    ifee = order.fee_amount
    maker = order.maker
    itaker = order.taker
    inc_open = itaker == ZERO_ADDRESS
    bid_in = inc.side is _BID
    sides_levels = inc.book_side.opposite
    avail = inc.fillable
    whole_units = bool(minimums)
    imin = least_given(inc, minimums)  # (as the engine's walk)
    given = received = 0
    for level in sides_levels:
        if avail < imin:
            break
        if bid_in:
            if level.num * it > level.den * im:
                break
        elif level.num * im < level.den * it:
            break
        for r in level.active():
            r_avail = r.fillable
            ro = r.order
            if now >= ro.expiry:
                continue  # would be removed
            rtaker = ro.taker
            if (rtaker != ZERO_ADDRESS and rtaker != maker) or (
                not inc_open and itaker != ro.maker
            ):
                continue
            if ro.maker == maker:
                continue  # self-trade: skipped, both stay
            rm = r.maker_amount
            rt = ro.taker_amount
            rfee = ro.fee_amount
            whole = capped = False
            try:
                # all or nothing (``Entry.aon``): its rest whole, or no trade with it
                cap = r_avail if r.aon else UINT256_MAX
                amounts = match_amounts(rm, rt, rfee, rm - r_avail, im, it, ifee, im - avail, cap)
                x = amounts.left_filled
                if r.aon and x < r_avail:
                    continue  # inc cannot pay for all of it (another order may be smaller)
                # (as the walk: all of r, or whole units)
                left = rm - r.filled - r.pending - x
                whole = whole_units and not r.floor and x % r.unit != 0 and left > 0
            except ZeroFillAmount:
                if r.aon:
                    continue
                return given, received
            except PricesDoNotCross:
                if r.aon:
                    continue
                x = min(r_avail, avail * rm // rt)
                whole = True
            if whole:  # whole units of r, at exactly its price
                x -= x % r.unit
                if x == 0:
                    break  # the next level
                capped = True
                amounts = match_amounts(rm, rt, rfee, rm - r_avail, im, it, ifee, im - avail, x)
            x = amounts.left_filled
            y = amounts.right_filled
            if x < r.floor:  # below r's minimum: no trade, here nor at a worse price
                return given, received
            if y < imin:  # inc would give less than its own least (as the walk)
                if x == r_avail:
                    continue
                break  # the next level
            avail -= y
            given += y
            received += x
            if avail < imin or (x < r_avail and not capped):
                return given, received
    return given, received
