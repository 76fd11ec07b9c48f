"""What was said of one settlement's receipts while its wait lasts (``Tally``): the reads
apart that gave each, the receipts a read said are not the chain's (barred, refuted by the
watcher), the ones a backend behind was found for. Split from ``sdex.settlement.confirm``
(which reads it: ``confirmed_seen``, ``rejudged``, ``confirmed``, ``proven``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sdex.chain import Receipt

log = logging.getLogger("sdex.settlement")


class Tally:
    """What was said of one settlement's receipts while its wait lasts (confirm97): how many
    reads apart gave each (``CONFIRM_READS`` believe one), and those a read apart, or the
    watcher's read of its block, said are not the chain's (barred: no later read apart
    believes one; the watcher's read of its block agreeing still does), each with when; one
    barred ``REJUDGE_AFTER`` s is judged again (``due``, ``rejudge``; review97b: a real
    receipt one honest backend on a short fork denied, and the watcher could not say, a
    status 0, held its settlement's wait for good). Each bounded by ``MAX_TALLIED``: the
    oldest counts and lags forgotten; past that many barred, every receipt is barred from
    then (``closed``; review97b: the oldest bar was forgotten, a liar telling 64 receipts
    more had the first believed again on two reads in a row)."""

    def __init__(self) -> None:
        self.agreed: dict[Told, int] = {}
        """Reads apart in a row that gave each receipt (none that said nothing between)."""
        self.barred: dict[Told, float] = {}
        """When each receipt was barred (the loop's clock)."""
        self.closed: float | None = None
        """When ``MAX_TALLIED`` receipts were barred: every receipt is barred since."""
        self.lagged: dict[Told, None] = {}
        """Receipts a read apart found a backend behind the block of (``behind``)."""
        self.refuted: dict[Told, tuple[float, str]] = {}
        """Receipts the watcher's read barred (``bar``'s ``refuting``), with when and the
        block the mirror had at their number then: till judged again once the mirror has
        their block (``rejudged``; confirm98), or till it is seen holding it (``holding``)."""
        self.floor: Callable[[], int | None] | None = None
        """(The wait of a transaction sent in this run: the mirror's head as it was sent, less
        its kept depth, while the chain's view is the one it was sent in: None once the
        watcher saw the chain replaced; ``SigningLane.sent_floor``) No receipt of a block at
        or below it is believed (``before_sent``): it was not sent yet. below101: the watcher
        cannot say of a block below its kept window, reads apart decided, and two in a row
        reached a sticky or round-robin balancer's liar: its receipt there was believed on the
        first try."""
        self.early: dict[Told, None] = {}
        """Receipts ``before_sent`` refused (each said once)."""

    def agree(self, got: Receipt) -> int:
        """A read apart gave ``got``: how many have."""
        key = told(got)
        self.agreed[key] = n = self.agreed.pop(key, 0) + 1
        _bound(self.agreed)
        return n

    def bar(self, got: Receipt, refuting: str | None = None) -> None:
        """A read said ``got`` is not the chain's (``refuting``: the watcher's, the hash of
        the block the mirror had at its number; ``refuted``): no read apart believes it from
        here on (till ``rejudge``)."""
        key = told(got)
        if refuting is not None:
            self.refuted[key] = self.refuted.get(key, (time.monotonic(), refuting))
            _bound(self.refuted)
        if self.closed is not None or key in self.barred:
            return
        if len(self.barred) >= MAX_TALLIED:  # (none forgotten: all barred from now)
            self.barred.clear()
            self.closed = time.monotonic()
            return
        self.barred[key] = time.monotonic()

    def behind(self, got: Receipt) -> None:
        """A read apart reached a backend behind ``got``'s block: the reads giving it counted
        again from the next, and none believes it before the watcher reaches its block."""
        key = told(got)
        self.agreed.pop(key, None)
        self.lagged[key] = None
        _bound(self.lagged)

    def before_sent(self, got: Receipt) -> bool:
        """Whether ``got`` is of a block at or below ``floor`` (not believed, maybe mined:
        the wait goes on to its nonce's checks); said once a receipt."""
        if (floor := self.floor() if self.floor is not None else None) is None:
            return False
        if got.block_number > floor:
            return False
        if (key := told(got)) not in self.early:
            self.early[key] = None
            _bound(self.early)
            log.warning(
                "the receipt of %s (block %d) is of a block at or below %d, mined before it was"
                " sent: not believed", got.tx_hash, got.block_number, floor,
            )  # fmt: skip
        return True

    def waits(self, got: Receipt) -> bool:
        """Whether ``got`` waits for the watcher's read of its block (``behind``)."""
        return told(got) in self.lagged

    def said_not(self, got: Receipt) -> bool:
        key = told(got)  # (a refuted one: past ``closed`` too)
        return self.closed is not None or key in self.barred or key in self.refuted

    def due(self, got: Receipt) -> bool:
        """Whether ``got`` was barred ``REJUDGE_AFTER`` s ago or more (False: not barred)."""
        key = told(got)
        refuted = self.refuted.get(key)
        since = self.barred.get(key, refuted[0] if refuted is not None else self.closed)
        return since is not None and time.monotonic() - since >= REJUDGE_AFTER

    def holding(self, got: Receipt, at: str | None) -> None:
        """The mirror has ``at`` at ``got``'s number: when that is ``got``'s block, a
        refutation by another block there is lifted (its bar, as any, judged again past
        ``REJUDGE_AFTER``). review100a: the watcher behind a reorg refuted a true receipt of
        the new block; judged again only while the mirror still had it, once that block had
        left the kept window before the bar was due it was barred for good, its orders held."""
        key = told(got)
        if at and at == got.block_hash and (r := self.refuted.get(key)) is not None and r[1] != at:
            del self.refuted[key]

    def rejudge(self, got: Receipt) -> None:
        """``got``'s bar lifted (``due``: its reads apart counted from none again; every
        receipt's, when ``closed``)."""
        key = told(got)
        self.agreed.pop(key, None)
        refuted = self.refuted.pop(key, None)
        if self.barred.pop(key, None) is None and refuted is None:
            self.closed = None


Told = tuple[object, ...]
T = TypeVar("T")
MAX_TALLIED = 64
"""Receipts a ``Tally`` keeps a word of (agreed, barred, lagged), each."""
REJUDGE_AFTER = 120.0
"""Seconds a barred receipt waits before it is judged again (``Tally.due``; as the receipt
timeout, ``receipts.RECEIPT_TIMEOUT``), once the watcher's read has its block at its number
(with a watcher): then ``CONFIRM_READS`` reads apart in a row again."""


def _bound(kept: dict[Told, T]) -> None:
    while len(kept) > MAX_TALLIED:
        del kept[next(iter(kept))]


def told(got: Receipt) -> Told:
    """What a ``Tally`` knows a receipt by: all it tells (two backends' case of a hash aside)."""
    logs = tuple((x.address, tuple(x.topics), x.data, x.log_index) for x in got.logs)
    at = (got.block_hash.lower(), got.block_number, got.status, got.gas_used)
    return (got.tx_hash.lower(), *at, logs)
