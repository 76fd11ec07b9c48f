"""Which bitmap orders (``sdex.order.bitmap_salt``) the mirror may judge itself.

A bitmap order shares two bits of its maker's word with every order of its maker and nonce
(ARCHITECTURE.md "Bitmap orders"): a fill or a cancel of any of them moves them all, with an
event of that one only. ``OrderFilled`` and ``OrderCancelled`` carry the order's hash and
maker, not its salt: of an order the node never held, the nonce is unknown. So the mirror
judges a bitmap order itself only while its (maker, nonce) is provably untouched: it has
applied every block since the deployment (not resumed from a saved head), it has seen no
fill or cancel of an order of that maker whose salt it does not know, and none of a known
bitmap order with that nonce. Else the chain is read (``getOrderStates``), as before
(attack29). A salt becomes known when the mirror is asked about its order (``Mirror.state``:
intake, a reload), before any fill of it can be applied after (one event loop). Bounded:
past ``MAX_KNOWN`` salts the oldest is forgotten (a later fill of its order then taints its
maker: the chain is read for that maker's, never wrong; review31: giving up on all let
anyone's refused orders, fresh keys being free, turn the mirror's judging off until a
reset); past ``MAX_TAINTED`` makers, every bitmap order is read.

Saved with the head (left32: ``take_dirty``, in the head's transaction): the makers tainted
and the (maker, nonce) pairs touched, or ``null`` once nothing is judgeable. A restart loads
them (``load``: every value checked first, ``sdex.watch.saved``) and applies the blocks
since as any others, so it needs no chain read per bitmap order. The known salts are not
saved (up to ``MAX_KNOWN``): after a restart a fill of an order whose salt was known taints
its maker (more chain reads, never a wrong verdict) until its orders are seen again."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sdex.jsonio import STORED_BYTES
from sdex.order import BITMAP_NONCE_LIMIT, BITMAP_SALT_TAG

MAX_KNOWN = 1_000_000
"""Bitmap orders' salts kept (hash -> (maker, nonce)), oldest forgotten first: ~320 bytes
each with its key (measured, review31)."""
MAX_TAINTED = 100_000
"""Makers (and (maker, nonce) pairs) remembered as touched before giving up on all."""


def bitmap_nonce(salt: int) -> int:
    """A bitmap order's nonce (its salt tagged ``BITMAP_SALT_TAG``), -1 for any other."""
    return salt % BITMAP_NONCE_LIMIT if salt >> 192 == BITMAP_SALT_TAG else -1


class BitmapWatch:
    """(maker, nonce) pairs the mirror saw no event touch, since the deployment."""

    def __init__(self) -> None:
        self.complete = True
        """Every block since the deployment applied here (False: resumed, or over a bound)."""
        self._known: dict[bytes, tuple[str, int]] = {}
        self._tainted: set[str] = set()  # makers: a fill or cancel of an unknown order
        self._touched: set[tuple[str, int]] = set()  # (maker, nonce) filled or cancelled
        self.dirty = False
        """Changed since ``take_dirty`` (saved with the next head)."""

    def judgeable(self, order_hash: bytes, maker: str, nonce: int) -> bool:
        """May the mirror judge this bitmap order by its own marks? (Its salt is known from
        now on: a later fill of it touches only its nonce.)"""
        if not self.know(order_hash, maker, nonce):
            return False
        maker = maker.lower()
        return maker not in self._tainted and (maker, nonce) not in self._touched

    def know(self, order_hash: bytes, maker: str, nonce: int) -> bool:
        """A bitmap order's salt, known from now on (``Mirror.learn``: an order the chain
        judged). False: nothing is judgeable (``complete`` is not)."""
        if not self.complete:
            return False
        if order_hash not in self._known:
            while len(self._known) >= MAX_KNOWN:  # (the oldest: its fill taints its maker)
                del self._known[next(iter(self._known))]
            self._known[order_hash] = (maker.lower(), nonce)
        return True

    def seen(self, order_hash: bytes, maker: str) -> None:
        """A fill or a cancel of ``order_hash`` by ``maker``, applied (a reorg's undo keeps
        what it touched touched: the chain is read for it, which is never wrong)."""
        if not self.complete:
            return
        known = self._known.get(order_hash)
        if known is None:
            maker = maker.lower()
            if maker not in self._tainted:
                self._tainted.add(maker)
                self.dirty = True
        elif known not in self._touched:
            self._touched.add(known)
            self.dirty = True
        if len(self._tainted) + len(self._touched) > MAX_TAINTED:
            self.resumed()

    def resumed(self) -> None:
        """The mirror did not see every block since the deployment: the chain is read."""
        self.complete = False
        self._known.clear()
        self._tainted.clear()
        self._touched.clear()
        self.dirty = True

    def restart(self) -> None:
        """A reset: every block is applied again from the deployment."""
        self.resumed()
        self.complete = True

    def take_dirty(self) -> str | None:
        """The JSON text to save with the head if changed since the last call (``dirty``,
        cleared), else None: ``null`` when nothing is judgeable (not ``complete``) or the
        text would pass what the store reads back (``STORED_BYTES``, ~23,000 makers: a
        restart then reads the chain for bitmap orders), else ``[[maker, ...], [[maker,
        nonce], ...]]``."""
        if not self.dirty:
            return None
        self.dirty = False
        if not self.complete:
            return "null"
        text = json.dumps([sorted(self._tainted), sorted(map(list, self._touched))])
        return text if len(text) <= STORED_BYTES else "null"  # (read back: bounded)

    def load(self, tainted: Iterable[str], touched: Iterable[tuple[str, int]]) -> None:
        """Resume as saved with the head (``take_dirty``; checked by ``sdex.watch.saved``):
        judgeable again, no salt known yet."""
        self.resumed()
        self.complete = True
        self._tainted.update(tainted)
        self._touched.update(touched)
        self.dirty = False
