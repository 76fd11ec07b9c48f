"""FOK's look-ahead: what an incoming order would trade now, the book left unchanged."""

from __future__ import annotations

from typing import Final

from sdex.book.levels import Entry
from sdex.book.types import Side
from sdex.fillmath import PricesDoNotCross, ZeroFillAmount, match_amounts
from sdex.order import ZERO_ADDRESS

_BID: Final = Side.BID


def dry_walk(inc: Entry, now: int, whole_units: bool = False) -> tuple[int, int]:
    """``MatchingEngine._walk`` without changing anything: what the incoming order would
    give, and receive.

    Removals (expired) re-fund only their own maker's orders, which cannot trade with
    ``inc`` either (expired ones are swept before), so one pass suffices. ``whole_units``:
    the book has minimums, so a resting order with none for its token trades in whole units.
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
    imin = inc.floor or 1  # (as the engine's walk)
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
            capped = False
            try:
                amounts = match_amounts(
                    rm, rt, ro.fee_amount, rm - r_avail, im, it, ifee, im - avail
                )
            except ZeroFillAmount:
                return given, received
            except PricesDoNotCross:
                x = min(r_avail, avail * rm // rt)
                x -= x % r.unit
                if x == 0:
                    break  # the next level
                capped = True
                amounts = match_amounts(
                    rm, rt, ro.fee_amount, rm - r_avail, im, it, ifee, im - avail, x
                )
            x = amounts.left_filled
            y = amounts.right_filled
            left = rm - r.filled - r.pending - x  # (as the walk: all of r, or whole units)
            if whole_units and not r.floor and x % r.unit and left > 0:
                x -= x % r.unit
                if x == 0:
                    break  # the next level
                capped = True
                amounts = match_amounts(
                    rm, rt, ro.fee_amount, rm - r_avail, im, it, ifee, im - avail, x
                )
                y = amounts.right_filled
            elif x < r.floor:  # below r's minimum: no trade, here nor at a worse price
                return given, received
            avail -= y
            given += y
            received += x
            if avail < imin or (x < r_avail and not capped):
                return given, received
    return given, received
