"""The walk: an incoming order against the book in price-time priority, exactly as the contract.

For each resting order met (best price first, oldest first within a price) the engine asks
``fillmath.match_amounts`` with the resting order as ``left`` and the incoming as ``right``: the
trade is at the resting price, the incoming order gets the improvement, the fill is maximal. Each
side enters with its *available* amount, ``fillable`` (remaining minus pending, capped by the
maker's funds), as ``filled' = maker_amount - available``; the settlement caps the resting side at
``left_filled`` (``maxLeftFill``), so the contract computes exactly the match's amounts (see
``Match``). Both sides of each match are reserved in the book (pending) at once, so no order is
ever matched beyond what it has.

The queues hold only orders that can trade now (``fillable >= unit``, see ``sdex.book.levels``):
the walk never meets a parked one. Rules, in the order they are checked for each resting order met:

- newer than ``max_seq`` (``rematch``/``uncross``): the rest of the level is newer still;
- expired (``now >= expiry``, the contract's rule; ``now`` is the chain's time): removed, reported;
- expiring by ``match_by`` (default ``now``: by when a settlement of a match made now may land,
  landing49): the chain would refuse it, so it is held apart, open (``sdex.book.late``);
- taker restriction: ``resting.taker`` must be 0 or the incoming maker, and vice versa; otherwise
  skipped (the pair can never trade). The walk meets no order restricted to another taker: those
  rest apart, and the walk merges the public ladder with the one of orders restricted to the
  incoming maker only (``BookSide.private``, book49);
- self-trade, same maker on both sides: skipped, and both orders stay (no trade that only burns the
  maker's gas, and no removal). A removal would depend on which of the two a node met first, which
  differs between nodes (gossip, a reset reopening orders in another order: attack29 saw books
  disagree and fills of orders a node had closed); skipping depends on the orders only, so every
  node that holds the same orders holds the same book. (The node refuses a wallet's order that
  would self-trade before storing it: the newest is cancelled, once, where it arrives;
  ``would_self_trade``.)
- ``may_match`` (``rematch``/``uncross``; ``submit``'s ``skip``: resting orders a new order is
  not matched against): the node's say on who settles a crossing; a refused pair is skipped;
- integer rounding: when the contract's maximal fill breaks the incoming limit
  (``PricesDoNotCross``), the fill is capped at whole units of the resting order, which trade at
  exactly its price (``maxLeftFill`` makes the contract agree). If the incoming order cannot pay
  one unit there, no order of the level can trade with it (they share the unit): the walk passes
  the whole level and the incoming order is *blocked*. ``ZeroFillAmount`` (it cannot buy one wei of
  the resting order's token here, nor at a worse price) and a maximal fill that leaves the resting
  order with something stop the walk, also as blocked;
- all or nothing (``Entry.aon``, a rest that is not whole units, dust38): taken whole, at its own
  cost (its unit), or passed if the incoming order cannot pay that (not blocked); and a match in
  which the incoming order would give less than its token's minimum is not made. A level of nothing
  but such rests, each costing more than the incoming order has (``Level.aon_least``), is passed in
  O(1), not one rest at a time (book44);
- a lot it cannot pay (below ``Entry.floor``): it passes the level's orders but its all-or-nothing
  ones (they share the lot), blocked, and goes on to worse levels that still cross (book44;
  docs/ARCHITECTURE.md, "Rests that are not whole units").

A blocked order's remainder cannot trade with the best price across. ``OrderBook.rest`` (for a new
GTC order) and ``OrderBook.settle`` (for a re-matched one) then park it if its funds are short or
fills are in flight (until those change), and otherwise close it as dust (``RemovalReason.DUST``,
reported in ``removed``). So after matching no bid and ask on offer cross in price unless they have
one maker, or taker restrictions (or ``may_match``) forbid their trade; each order a walk visits
trades, is removed (expired), is skipped, or is the one order of its level that blocked the
incoming order. A fill that leaves an underfunded maker's partial share below its lot passes it on
to the maker's later orders (``OrderBook.reshare``, once a pass of the walk is done: a pass sees
the shares as they were), possibly to one at a better level the walk passed: the walk then goes
again from the best level (walk40; each pass after the first follows a pass that filled something,
so it ends). A FOK order walks as any other and is killed, its matches released, if they do not
fill it: so it fills exactly when IOC would in full, second passes included. Releasing a fill,
raising a maker's funds, or removing an order of an underfunded maker (cancelled, expired, filled
elsewhere: its funds go to the maker's later orders, in any pair) can make a crossing reappear: the
node then calls ``rematch`` or ``uncross``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sdex.book.ladder import private_of
from sdex.book.late import hold
from sdex.book.levels import Entry, Level
from sdex.book.orderbook import OrderBook
from sdex.book.types import RemovalReason
from sdex.matching.crossing import TOLERANCE, better_level, crosses_exactly
from sdex.matching.dry import least_given
from sdex.matching.match import Match
from sdex.matching.wide import mul, muldiv, product_gt
from sdex.order import ZERO_ADDRESS

_EXPIRED: Final = RemovalReason.EXPIRED
_NO_REMOVALS: Final[list[tuple[bytes, RemovalReason]]] = []  # shared, never mutated
_ZERO_ADDRESS: Final = ZERO_ADDRESS  # (a module constant, not looked up at each use)
_NO_LEVELS: Final[list[Level]] = []  # shared, never mutated
_NO_ENTRIES: Final[list[Entry]] = []  # shared, never mutated

MayMatch = Callable[[Entry, Entry], bool]
"""``may_match(resting, incoming)``: whether the node may settle this crossing, ``incoming``
as the taker (``right``) at ``resting``'s price. Pairs it refuses are not matched; it is not
asked about two orders of one maker (never matched)."""


def walk(
    book: OrderBook, inc: Entry, now: int, by: int, max_seq: int, may: MayMatch | None, limit: float
) -> tuple[list[Match], list[tuple[bytes, RemovalReason]], bool]:
    """Match ``inc`` against the opposite side, reserving each match in the book (the resting
    side per match, ``inc`` once for all of them); ``limit`` is ``limit_rank(inc)``.

    Only resting orders with ``seq <= max_seq`` (and that ``may`` allows) are considered; one
    expiring by ``by`` (``match_by``), not by ``now``, is passed (it stays). Walks again from
    the best price while a removal on the way, or a fill's share passed on (``reshare``),
    re-funded some maker's orders. Returns the matches, the removals, and whether ``inc`` was
    *blocked*: it met an order across that it may trade with but could not, for its own size
    (it cannot pay one whole unit at that price).
    """
    # The hot path of matching: ``fillmath.match_amounts`` is inlined, step for step
    # (tests/test_book_state.py checks it against the reference); the book changes only
    # through its methods.
    matches: list[Match] = []
    removed = _NO_REMOVALS  # (shared, never mutated) until a removal: no list per walk
    im = inc.maker_amount
    it = inc.taker_amount
    ifee = inc.fee_amount
    maker = inc.maker
    itaker = inc.taker
    zero = _ZERO_ADDRESS
    inc_open = itaker == zero
    book_side = inc.book_side
    side = book_side.side
    opp = book_side.opposite
    ranked = opp.ranked  # worst first: the walk goes from the end
    # and the orders across restricted to ``inc``'s maker as taker, merged by price, time
    ladder = None if not opp.private else private_of(opp, maker)
    pranked = _NO_LEVELS if ladder is None else ladder.ranked
    signed = inc.signed
    avail = inc.fillable
    # the least ``inc`` gives in a match: the book's minimum for its maker token, or 1
    # (less would be a dust trade); checked at each match, not only while it has that
    imin = least_given(inc, book.minimums)
    # with minimums set (a node's: ``--min-amount X=0`` gives a token none), a resting
    # order whose token has none is filled in whole units only (see below, dust34); a
    # bare book (no minimums at all: tests, benches) trades as before
    whole_units = bool(book.minimums)
    blocked = False
    tol = TOLERANCE * abs(limit)
    i = len(ranked) - 1
    k = len(pranked) - 1
    while avail >= imin:
        if i < 0 and k < 0:  # done, unless a fill passed a share on (see the docstring)
            if not book.reshare():
                break
            i = len(ranked) - 1  # a better level may offer more now: walk again
            k = len(pranked) - 1
            blocked = False
            continue
        if k < 0:
            level = ranked[i]
            other = None
            took = 1
        else:  # the better of the two ladders' (both at one price: ``other``, merged)
            level, other, took = better_level(ranked, i, pranked, k)
        # Does the level cross the incoming limit? (``crosses``, inlined)
        rank = level.rank
        if rank < limit + tol and (rank <= limit - tol or not crosses_exactly(level, inc)):
            i = k = -1
            continue
        aons = level.aons
        if other is not None:  # its orders (few: the taker's) met by seq among the
            mine = [*other.active()]  # public queue's, as far as the walk goes: never
            aons += other.aons  # a copy of the public level (review50)
        elif aons and aons == level.live and avail < level.aon_least:
            i -= took & 1  # all or nothing, each costs more than ``inc`` has: passed
            k -= took >> 1  # in O(1)
            continue
        else:
            mine = _NO_ENTRIES
        queue, j = level.queue, level.head
        n = len(queue)
        m, mn = 0, len(mine)
        stop = restart = False
        plain = True  # ``inc`` may trade with this level's orders that are whole units
        passed = 0  # all-or-nothing orders passed (they stay), and the least of their costs
        least = 0
        while j < n or m < mn:
            if m < mn and (j >= n or mine[m].seq < queue[j].seq):
                r, m = mine[m], m + 1
            else:
                r, j = queue[j], j + 1
            if r.dead:
                continue
            if r.seq > max_seq:
                break  # the queue is in seq order: only newer ones follow
            if not plain and not r.aon:
                continue  # ``inc`` cannot pay this level's lot (below)
            rmaker = r.maker
            reason = None
            if now >= r.expiry:
                reason = _EXPIRED
            elif by >= r.expiry:  # not expired: too soon to settle (landing49), so it is
                hold(book, r, by)  # held apart until it is (``sdex.book.late``)
                continue
            else:
                rtaker = r.taker
                if (
                    # taker restriction: these two can never trade
                    (rtaker != zero and rtaker != maker)
                    or (not inc_open and itaker != rmaker)
                    or rmaker == maker  # self-trade: both stay (the module's docstring)
                    or (may is not None and not may(r, inc))
                ):
                    if r.aon:  # (its cost still counts for ``aon_least``)
                        passed += 1
                        if not least or r.tunit < least:
                            least = r.tunit
                    continue
            if reason is not None:
                if removed is _NO_REMOVALS:
                    removed = []
                removed.append((r.hash, reason))
                if book.close(r, reason, tidy=False):
                    # orders were unparked, here or at levels passed: walk again
                    restart = True
                    break
                continue
            # fillmath.match_amounts(left=r with filled' = rm - r_avail, right=inc with
            # filled' = im - avail), exactly: in whole units of r, or with products of
            # amounts compared by floats only where they cannot be wrong (``product_gt``):
            # Since ``rt / rm == tunit / unit`` (reduced), ``a * rt / rm`` is computed as
            # ``(a // unit) * tunit + (a % unit) * tunit / unit``: the same rational, with
            # products below ``unit * tunit`` instead of products of amounts, and those
            # by ``muldiv`` (machine ints where a float tells the quotient to within 3).
            r_avail = r.fillable
            rm = r.maker_amount
            unit = r.unit
            tunit = r.tunit
            units = r_avail // unit
            rest = r_avail - mul(units, unit)
            need = mul(units, tunit)
            if rest == 0:
                # Whole units (the usual case): all of r costs exactly ``units * tunit``, at
                # r's price, which crosses: no rounding, so no cap.
                whole = True
            else:
                q, rem = muldiv(rest, tunit, unit)  # ceil(r_avail * rt / rm)
                need += q + 1 if rem else q
                whole = False
            capped = False
            if avail >= need:  # all of r
                x = r_avail
                y = need
                capped = not whole and product_gt(y, it, x, im)
            elif r.aon:  # all or nothing (unit: all of it): ``inc`` cannot pay for it
                passed += 1  # (another order of the level may be smaller)
                if not least or need < least:
                    least = need
                continue
            else:
                q = avail // tunit
                x = mul(q, unit) + muldiv(avail - mul(q, tunit), unit, tunit)[0]  # avail*rm//rt
                if x == 0:  # ZeroFillAmount: not one unit of r at this price or worse
                    blocked = stop = True
                    break
                q = x // unit
                y, rem = muldiv(x - mul(q, unit), tunit, unit)  # ceil(x * rt / rm)
                y += mul(q, tunit) + 1 if rem else mul(q, tunit)
                capped = product_gt(y, it, x, im)
            floor = r.floor
            # Whole units of r, which trade at exactly r's price (which crosses), when
            # PricesDoNotCross (``capped``: the rounding of the maximal fill breaks the
            # incoming limit; the settlement's maxLeftFill makes the contract agree), or
            # when r's token has no minimum and the part is not exact at r's price
            # (dust34: with minimums set, such a resting order trades in whole units;
            # all of r's rest, ``x`` can be: nothing is left of it then)
            if capped or (whole_units and not floor and x % unit and x < rm - r.filled - r.pending):
                x -= x % unit
                if x == 0:  # inc cannot pay one unit here: no order of this level trades
                    blocked = True
                    break
                y = mul(x // unit, tunit)
                capped = True  # inc may pay for a unit elsewhere: the walk goes on
            if x < floor:  # below r's minimum (the book's, for its token: its lot): inc
                # cannot pay for it, nor for any order of this level but an all-or-nothing
                # one (they share its unit, so its lot): those, and worse levels, where a
                # smaller lot may cross still (r keeps its priority: price-time priority
                # lets an order pass one it cannot trade with, as an all-or-nothing rest)
                blocked = True
                if aons:
                    plain = False
                    continue
                break
            if y < imin:  # inc would give less than its token's minimum (dust38)
                if x == r_avail:
                    continue  # all of r is too little for inc: another order may not be
                blocked = True  # whole units of r, or all inc has: not at this level
                break
            lfee = r.fee_amount
            matches.append(
                Match(
                    r.signed,
                    signed,
                    None,
                    side,
                    x,
                    y,
                    lfee * x // rm if lfee else 0,
                    ifee * y // im if ifee else 0,
                    r,
                    inc,
                )
            )
            book.fill(r, x)
            avail -= y
            if avail < imin:  # nothing left, or less than its minimum: no more trades
                stop = True
                break
            if x < r_avail and not capped:  # inc cannot pay one more unit of r's token
                blocked = stop = True  # at this price, nor at any worse one
                break
        else:  # the whole level looked at: ``aon_least`` is exact if it holds nothing else
            if passed and other is None and passed == level.aons == level.live:
                level.aon_least = least
        if not level.live or len(level.queue) - level.head > 2 * level.live + 16:
            book.tidy(opp, level)  # empty, or time to compact
        if other is not None and (
            not other.live or len(other.queue) - other.head > 2 * other.live + 16
        ):
            book.tidy(opp, other)
        if restart:
            i = len(ranked) - 1
            k = len(pranked) - 1
            continue
        if stop:
            i = k = -1
            continue
        i -= took & 1  # dropping the level at i moved only the ones after it (passed)
        k -= took >> 1
    spent = inc.fillable - avail
    if spent:  # what ``inc`` gives across its matches, reserved at once
        book.reserve_entry(inc, spent)
    book.reshare()  # (if ``inc`` ran out first: shares the last pass passed on)
    return matches, removed, blocked
