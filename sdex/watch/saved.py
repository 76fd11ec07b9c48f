"""The saved mirror read back at a start (``Watcher._load``), every value checked: it is a
cache of the chain in a file another hand may have left inconsistent (a disk error, an
edit, an older version's bug). Anything that is not what this node writes (a head that is
not ``[number, hash, timestamp]``, an amount that is not a uint256, a head's or a mark's
hash that is not ``0x`` and 64 lower-case hex digits: review26, a head's that was not hex
stopped the start) makes the whole saved mirror unreadable: the
watcher then reads the chain anew, as for a saved head that left the chain (review23: the
node failed to start, or a balance past 2**256 was believed).

The whole of it, not the bad row alone (review25): a mark left out is an order the chain
filled or cancelled judged untouched, and which order a damaged hash was is unknown; the
chain read anew finds it, and the first poll's reset writes the tables anew. Only this node
writes these rows (from the chain's logs), so a bad one is no peer's or wallet's lever:
its cost is one slower start."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from sdex.chain.feefloor import Floor
from sdex.hashfilter import HashFilter, capacity_for
from sdex.mirror import Account, Header, Mirror
from sdex.mirror.bitmaps import MAX_TAINTED
from sdex.mirror.checkpoints import LEVELS, PER_LEVEL
from sdex.order import BITMAP_NONCE_LIMIT
from sdex.store import Store
from sdex.storerows import MARK_HASH
from sdex.watch.blocks import ZERO_HASH

UINT256 = 2**256
MAKER = re.compile(r"0x[0-9a-f]{40}")
"""A maker as the bitmap watch saves it (lower case)."""
log = logging.getLogger("sdex.watch")


class Unreadable(ValueError):
    """The saved mirror is not what this node writes."""


def _uint(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < UINT256:
        raise Unreadable(f"{what} {str(value)[:80]!r} is not a uint256")
    return value


class Saved(NamedTuple):
    """The saved mirror (``read_saved``)."""

    head: tuple[int, str, int]
    makers: dict[str, int]
    funds: dict[Account, tuple[int, int]]
    evicted: HashFilter
    checkpoints: list[tuple[int, str]]
    bitmaps: tuple[set[str], set[tuple[str, int]]] | None
    """The bitmap watch's tainted makers and touched (maker, nonce) pairs; None: none
    saved, saved as nothing judgeable, or refused (``_bitmaps``): the chain judges them."""
    floor: Floor | None = None
    """The fee floor judged at the head (block number at or below it, base fee; and the last
    block passed unread past it, if any: review96b), saved with it: the restart's first bound
    (fee93); None: none saved (an older version's store, a
    chain without fees)."""


def read_saved(store: Store) -> Saved | None:
    """The saved head, makers' ``minValidSalt``, accounts' funds, the filter of the
    orders the chain filled or cancelled and the sparse checkpoints below the head (none
    from an older version); None if none was saved; ``Unreadable`` if any of it is not
    what this node writes."""
    try:
        cp = store.checkpoint()
        if cp is None:
            return None
        number, block_hash, timestamp = cp
        _uint(number, "the saved head's number")
        _uint(timestamp, "the saved head's timestamp")
        if not isinstance(block_hash, str) or not MARK_HASH.fullmatch(block_hash):
            raise Unreadable(f"the saved head's hash {str(block_hash)[:80]!r} is not a hash")
        makers, funds = store.load_mirror()
        for maker, salt in makers.items():
            _uint(salt, f"the saved minValidSalt of {maker[:50]!r}")
        for account, (balance, allowance) in funds.items():
            _uint(balance, f"the saved balance of {str(account)[:100]}")
            _uint(allowance, f"the saved allowance of {str(account)[:100]}")
        checkpoints = _checkpoints(store.saved_checkpoints(), number)
        floor = _floor(store.saved_floor(), number)
        evicted = HashFilter(capacity_for(store.count_marks()))
        for h in store.marks_now():  # filled and cancelled orders: read when named
            evicted.add(h)
    except Unreadable:
        raise
    except (ValueError, TypeError, OverflowError) as e:  # (json's errors are ValueErrors)
        raise Unreadable(f"{type(e).__name__}: {str(e)[:200]}") from None
    try:  # (refused alone: the chain judges bitmap orders, the rest of the mirror stands)
        bitmaps = _bitmaps(store.saved_bitmaps())
    except (Unreadable, ValueError) as e:
        log.warning("the saved bitmap watch is unreadable (%s): bitmap orders by the chain", e)
        bitmaps = None
    head = (number, block_hash, timestamp)
    return Saved(head, makers, funds, evicted, checkpoints, bitmaps, floor)


def load_saved(store: Store, mirror: Mirror) -> Header | None:
    """The saved mirror loaded into ``mirror`` (``Watcher._load``): its head, to be checked
    against the chain (None: none saved). One that is unreadable is taken as a head off the
    chain: the stored orders are read from the chain, the first poll resets the mirror
    (``mirror.head`` set aside, None returned)."""
    try:
        saved = read_saved(store)
    except Unreadable as e:
        log.warning("the saved chain mirror is unreadable (%s): the chain is read anew", e)
        mirror.head = Header(0, ZERO_HASH, "", 0)  # (set aside: said once)
        mirror.bitmaps.resumed()  # (till the reset: bitmap orders by the chain)
        return None
    if saved is None:
        return None
    (number, block_hash, timestamp), makers, funds, evicted, checkpoints, bitmaps, floor = saved
    m = mirror
    if bitmaps is None:  # (none saved, or refused: the chain judges bitmap orders)
        m.bitmaps.resumed()
    else:  # (as at the saved head; the blocks since are applied as any)
        m.bitmaps.load(*bitmaps)
    m.checkpoints.load(checkpoints)  # (a far rewind provable at once: ``fork.rewound``)
    m.marks.evicted = evicted
    m.min_salt = makers
    # (not an account with nothing to pay: an earlier version saved refused strangers'
    # and kept none fresh once evicted; the chain is read for it when needed, review31)
    m.funds = {a: f for a, f in funds.items() if min(f) > 0}
    m.head = Header(number, block_hash, "", timestamp)
    if floor is not None:  # (the first bound: the saved head's fee never read again, fee93)
        m.announced.resume(floor)
    else:  # (an older version's store: no fee believed till a block is read by number, fee95)
        m.announced.unproven()
    return m.head


def _bitmaps(saved: object) -> tuple[set[str], set[tuple[str, int]]] | None:
    """The saved bitmap watch: ``[[maker, ...], [[maker, nonce], ...]]``, makers lower-case
    addresses, nonces below ``BITMAP_NONCE_LIMIT``, ``MAX_TAINTED`` in all at most; None
    for ``null`` (or none saved)."""
    if saved is None:
        return None
    if not isinstance(saved, list) or len(saved) != 2 or not all(type(x) is list for x in saved):
        raise Unreadable(f"the saved bitmap watch {str(saved)[:80]!r} is not [makers, pairs]")
    tainted, touched = saved
    if len(tainted) + len(touched) > MAX_TAINTED:
        raise Unreadable(f"the saved bitmap watch holds more than {MAX_TAINTED}")
    makers: set[str] = set()
    for m in tainted:
        if not isinstance(m, str) or not MAKER.fullmatch(m):
            raise Unreadable(f"a saved tainted maker {str(m)[:80]!r} is not an address")
        makers.add(m)
    pairs: set[tuple[str, int]] = set()
    for p in touched:
        if not isinstance(p, list) or len(p) != 2 or not isinstance(p[0], str):
            raise Unreadable(f"a saved touched nonce {str(p)[:80]!r} is not [maker, nonce]")
        if not MAKER.fullmatch(p[0]) or _uint(p[1], "a saved nonce") >= BITMAP_NONCE_LIMIT:
            raise Unreadable(f"a saved touched nonce {str(p)[:80]!r} is not [maker, nonce]")
        pairs.add((p[0], p[1]))
    return makers, pairs


def _floor(saved: object, head: int) -> Floor | None:
    """The saved fee floor: ``[number, base fee]``, or with the last block passed unread past
    it (review96b), uint256s, the numbers at or below the saved head (saved with it); None for
    none saved."""
    if saved is None:
        return None
    if not isinstance(saved, list) or len(saved) not in (2, 3):
        raise Unreadable(f"the saved fee floor {str(saved)[:80]!r} is not [number, base fee]")
    number, fee = _uint(saved[0], "the saved fee floor's block"), _uint(saved[1], "a saved fee")
    if number > head:
        raise Unreadable(f"the saved fee floor's block {number} is past the saved head {head}")
    if len(saved) == 2:
        return number, fee
    passed = _uint(saved[2], "the saved fee floor's block passed")
    if not number < passed <= head:
        raise Unreadable(
            f"the saved fee floor {str(saved)[:80]!r} is not [number, base fee, a block passed"
            f" past it at or below the saved head {head}]"
        )
    return number, fee, passed


def _checkpoints(saved: object, head: int) -> list[tuple[int, str]]:
    """The saved checkpoints: at most ``LEVELS * PER_LEVEL`` ``[number, hash]`` pairs, each
    number a uint256 at or below the saved head (saved with it), ascending, once each."""
    if saved is None:
        return []
    if not isinstance(saved, list) or len(saved) > LEVELS * PER_LEVEL:
        raise Unreadable(f"the saved checkpoints {str(saved)[:80]!r} are not a bounded list")
    out: list[tuple[int, str]] = []
    for item in saved:
        if not isinstance(item, list) or len(item) != 2:
            raise Unreadable(f"a saved checkpoint {str(item)[:80]!r} is not [number, hash]")
        number = _uint(item[0], "a saved checkpoint's number")
        if not isinstance(item[1], str) or not MARK_HASH.fullmatch(item[1]):
            raise Unreadable(f"a saved checkpoint's hash {str(item[1])[:80]!r} is not a hash")
        if number > head or (out and number <= out[-1][0]):
            raise Unreadable(f"a saved checkpoint {number} out of order (head {head})")
        out.append((number, item[1]))
    return out
