"""An order's terms in the book: the least it trades (``Entry.lot``, ``floor``) and at what
price, from its own price unit and the book's minimums, or, for a rest that is not whole
units and less than its lot, all or nothing at its own cost (``Entry.aon``; the rule is
written out in docs/ARCHITECTURE.md, "Rests that are not whole units"). Pure functions of
the order, its ``filled`` amount and the minimums, so that every node (and a restored book)
gives an order the same terms; ``sdex.book.bookcore`` applies them."""

from __future__ import annotations

from sdex.book.levels import Entry
from sdex.book.prices import int_gcd


def minimum_lot(minimums: dict[str, int], e: Entry) -> None:
    """Raise ``e``'s lot (and floor) from its unit to the book's ``minimums``."""
    order = e.order
    least = minimums.get(order.maker_token, 0)
    if least > 0:
        unit = e.unit
        if least > unit:
            e.lot = (least + unit - 1) // unit * unit
        e.floor = e.lot
    # and enough whole units to ask for the taker token's minimum at its own price:
    # no counter order gives less (intake's BELOW_MINIMUM, its own lot), so a rest
    # below that can never be taken. Every node closes it from the chain's filled
    # amount alike (peer28: only its own node did, ``blocked`` by the book across)
    wants = minimums.get(order.taker_token, 0)
    tunit = e.tunit
    if wants > tunit and (wants + tunit - 1) // tunit * e.unit > e.lot:
        e.lot = e.floor = (wants + tunit - 1) // tunit * e.unit


def own_terms(minimums: dict[str, int], e: Entry) -> None:
    """``e``'s terms at its own price: its unit, and its lot from the ``minimums``."""
    m = e.maker_amount
    t = e.taker_amount
    g = int_gcd(m, t)
    e.unit = e.lot = m // g
    e.tunit = t // g
    e.floor = 0
    e.aon = False
    if minimums:
        minimum_lot(minimums, e)


def all_or_nothing(minimums: dict[str, int], e: Entry) -> bool:
    """Make ``e`` all or nothing if the contract fills its rest ``f = maker_amount -
    filled`` (less than its lot) within the book's ``minimums``: whole, for ``ceil(f *
    taker_amount / maker_amount)``, its price or better (as the resting side, with
    ``maxLeftFill = f``). Returns False, terms unchanged, if ``f`` is dust: less than the
    minimum of its token, or asking for less than the taker token's."""
    m = e.maker_amount
    f = m - e.filled
    if f <= 0:
        return False
    cost = -(-(f * e.taker_amount) // m)
    least = 0
    if minimums:
        order = e.order
        least = minimums.get(order.maker_token, 0)
        if f < least or cost < minimums.get(order.taker_token, 0):
            return False
    e.unit = e.lot = f
    e.tunit = cost
    e.floor = least if least > 0 else 0  # the least it gives as the incoming side
    e.aon = True
    return True
