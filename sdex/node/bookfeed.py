"""Book events on ``/v1/ws``: each pair's price-level depth, a snapshot then deltas.

A socket asks for a pair's book with ``{"op": "subscribe", "channel": "book", "baseToken",
"quoteToken"}`` and is answered with a snapshot (every level, best first) carrying the
pair's sequence number ``seq``; from then on it gets the pair's deltas, each with the next
``seq``. A level in a delta holds its new total amount, ``"0"`` when it is gone. A client
that sees a ``seq`` other than its last + 1 missed something and subscribes again (a new
snapshot). Only sockets that subscribe get book events: every other client's traffic is
unchanged. ``GET /v1/depth`` answers the same snapshot over HTTP. A socket's message, read
and bounded: ``sdex.node.bookrequest``.

A level is ``[price, amount]``: ``price`` the exact quote per base as ``"num/den"`` (reduced,
as ``/v1/orderbook``'s limit prices reduce), ``amount`` the sum of what the level's orders
offer now (``remainingFillableMakerAmount`` of ``/v1/orderbook``'s records at that price:
base for asks, quote for bids) as a decimal string. A level is the book's: an order's rest
that is all or nothing (less than a unit of its own price, or than its lot: dust38,
``sdex.book.terms``) is at the price of that rest and its cost ``ceil(rest * takerAmount /
makerAmount)``, not its order's limit price; a fill that makes it so moves it there (one
delta: the old level's new amount and the new level's).

Deltas are coalesced: the book is compared with what was last sent at most once a tick
(``NodeConfig.book_tick``, 5 ms; longer after a costly tick: ``TICK_REST``) after it may
have changed (an order or fill event
published, ``EventHub.changed``), and once a second (``SWEEP_SECONDS``) in any case, so a
burst at one level gives one delta. Only pairs with a subscriber are compared. The
comparison reads only the levels whose totals moved since the last one (the book keeps
each level's total and logs its changes: ``BookSide.changes``), O(levels changed), and a
snapshot every level's total, O(levels): neither reads orders. While no socket follows a
book, the event hub's only cost is one ``None`` check per event.

A subscribe's snapshot of more than ``SLICE_LEVELS`` levels is built in slices: the levels'
totals are read at one instant (its ``seq``), then formatted and encoded ``SLICE_LEVELS`` at
a time, the loop free between; deltas made meanwhile wait for the snapshot and follow it in
order (review16: a 63,000-level snapshot was one ~190 ms hold of the loop).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from sdex.book import OrderBook, PairBook, Side
from sdex.book.levels import BookSide
from sdex.errors import FieldCode
from sdex.node.bookrequest import BadRequest as BadRequest
from sdex.node.bookrequest import Key, parse_request
from sdex.node.events import Event, EventHub, Published, Subscription, encode_json
from sdex.node.listings import WALKED_PER_RECORD

MAX_BOOK_SUBSCRIPTIONS = 8
"""Pairs one socket may follow at once (a node lists a handful of pairs)."""
SWEEP_SECONDS = 1.0
"""However quiet the events, subscribed books are compared at least this often."""
MAX_UNSENT_SNAPSHOTS = MAX_BOOK_SUBSCRIPTIONS
"""Snapshots queued for one socket and not yet taken by its sender: past these a subscribe
is refused (review15: a socket that reads slowly, asking again and again within its
listing budget, had every snapshot, O(levels) each, held in its queue of 10,000 events)."""
TICK_REST = 4.0
"""After a tick the next waits at least this many times as long as the tick took, so that
comparing books takes at most a fifth of the event loop (1 / (1 + TICK_REST)) however large
the followed books and however many levels moved. review16, when a tick still compared every
followed pair's whole book (~10 ms of CPU on a 100,000-order book, every 5 ms with orders
coming in): one socket's subscription took a node at 50 orders/s from 3.2 to 9.3-11.4 s of
CPU in 20 s. A tick now reads only the levels that moved (book16); this stays as the bound."""
SLICE_LEVELS = 2048
"""Levels of a snapshot formatted and encoded in one go (a few ms), the loop free between."""

Totals = list[tuple[int, int, int]]
"""(num, den, amount), best price first: ``PairBook.totals``."""
Sent = dict[tuple[int, int], int]
"""(num, den) -> amount of every level with something, as of a feed's ``seq``."""


def levels_json(totals: Totals) -> list[list[str]]:
    return [[f"{n}/{d}", str(a)] for n, d, a in totals]


def delta(old: Totals, new: Totals) -> list[list[str]]:
    """The levels of ``new`` that are not in ``old`` as they are (new or changed amounts),
    best first, then those gone from it with ``"0"``. (Set operations on the tuples, in C:
    dicts of a 1,000-level book built and compared per tick cost 1.8 ms, these 0.2.)"""
    if old == new:
        return []
    moved = set(new).difference(old)
    out = [[f"{n}/{d}", str(a)] for n, d, a in new if (n, d, a) in moved]
    if len(new) - len(moved) < len(old):  # (else every old level is still in ``new``)
        kept = {(n, d) for n, d, _ in new}
        out += [[f"{n}/{d}", "0"] for n, d, _ in old if (n, d) not in kept]
    return out


def snapshot_cost(snapshot: Event, walked: int) -> float:
    """What a snapshot that read ``walked`` price levels cost the node, in listed records:
    one a level sent, one per ``WALKED_PER_RECORD`` levels read (review16: charged a flat 200,
    a subscribe on a 100,000-order book, ~25 ms of the event loop, cost as much as one on
    an empty book; eight addresses asking in turn held the loop)."""
    return len(snapshot["bids"]) + len(snapshot["asks"]) + walked / WALKED_PER_RECORD


class _Snapshot(Published):
    """A snapshot queued for one socket; ``taken`` is told once its sender takes it."""

    __slots__ = ("_taken",)

    def __init__(self, event: Event, taken: Callable[[], None]) -> None:
        super().__init__(event, None)
        self._taken: Callable[[], None] | None = taken

    def text(self) -> str:
        if self._taken is not None:
            taken, self._taken = self._taken, None
            taken()
        return super().text()

    def ready(self, text: str) -> None:
        """Its JSON text, made already (in slices: ``BookFeed._build``)."""
        self._text = text


class _Building:
    """A snapshot built in slices for one subscriber (``BookFeed._build``): the totals as of
    ``seq``, what is made of them so far, and the deltas that must follow it."""

    __slots__ = ("after", "at", "done", "event", "parts", "sides")

    def __init__(self, event: Event, totals: tuple[Totals, Totals]) -> None:
        self.event = event
        self.sides = totals
        self.at = (0, 0)  # (side, level) where the next slice starts
        self.parts: tuple[list[str], list[str]] = ([], [])  # the sides' JSON text, by slice
        self.after: list[Published] = []
        self.done = False  # offered, or given up (the subscriber left, or subscribed again)


class _PairFeed:
    __slots__ = ("base", "building", "cursors", "quote", "sent", "seq", "subs")

    def __init__(self, base: str, quote: str) -> None:
        self.base = base
        self.quote = quote
        self.seq = 0
        self.sent: tuple[Sent, Sent] = ({}, {})  # bids, asks as of ``seq``
        self.cursors = [-1, -1]  # in the sides' logs of changes (-1: read every level first)
        self.subs: set[Subscription] = set()
        self.building: dict[Subscription, _Building] = {}  # snapshots on their way

    def followed(self) -> bool:
        return bool(self.subs or self.building)


class BookFeed:
    """Every pair's book events over one node's ``OrderBook`` and ``EventHub``."""

    def __init__(
        self,
        book: OrderBook,
        hub: EventHub,
        tick: float = 0.005,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.book = book
        self.hub = hub
        self.tick = tick
        self._clock = clock
        """What a tick's cost is measured with (``TICK_REST``)."""
        self._rested = 0.0
        """Loop time before which no tick starts (``TICK_REST`` after the last one)."""
        self._every = max(SWEEP_SECONDS, tick)
        self._pairs: dict[Key, _PairFeed] = {}
        self._of: dict[Subscription, set[Key]] = {}
        self._unsent: dict[Subscription, int] = {}
        """Snapshots queued for a socket, not yet taken by its sender."""
        self._timer: asyncio.TimerHandle | None = None
        self._sweep: asyncio.TimerHandle | None = None
        self.deltas = 0
        """Deltas made (one per pair and tick that changed), for tests and benchmarks."""

    # ---- the socket's requests --------------------------------------------------------

    def handle(self, sub: Subscription, text: str) -> float:
        """Act on one text message of ``sub``'s socket; a bad one is answered with an error
        event and changes nothing (the socket stays open). Returns what it cost the node in
        listed records (``snapshot_cost``: a subscribe's walk and levels; else 0)."""
        try:
            op, key = parse_request(text, self.book)
            if op == "subscribe":
                return self.subscribe(sub, key)
            self.unsubscribe(sub, key)
        except BadRequest as e:
            sub.offer(Published(e.event(), None))
        return 0.0

    def subscribe(self, sub: Subscription, key: Key) -> float:
        """``sub`` follows ``key``'s book from a snapshot on (again, if it did: a resync);
        what the snapshot cost (``snapshot_cost``)."""
        if (unsent := self._unsent.get(sub, 0)) >= MAX_UNSENT_SNAPSHOTS:
            raise BadRequest(
                f"{unsent} snapshots to this socket are still unsent: read them first",
                "op",
                FieldCode.VALUE_OUT_OF_RANGE,
            )
        keys = self._of.setdefault(sub, set())
        if key not in keys and len(keys) >= MAX_BOOK_SUBSCRIPTIONS:
            raise BadRequest(
                f"at most {MAX_BOOK_SUBSCRIPTIONS} books per socket",
                "quoteToken",
                FieldCode.VALUE_OUT_OF_RANGE,
            )
        feed = self._pairs.get(key)
        if feed is None:
            feed = self._pairs[key] = _PairFeed(*key)
        self._flush(feed)  # deltas queued before the snapshot are older than it
        keys.add(key)
        if self.hub.watch is None:
            self.hub.watch = self.poke
            self._sweep = asyncio.get_running_loop().call_later(self._every, self._swept)
        pair = self.book.pair(*key)
        walked = len(pair.bids) + len(pair.asks)  # (levels read)
        bids, asks = self._totals(pair, Side.BID), self._totals(pair, Side.ASK)
        old = feed.building.pop(sub, None)
        if old is not None:  # subscribed again while its snapshot was being built
            old.done = True
            self._sent(sub)
        if len(bids) + len(asks) <= SLICE_LEVELS:
            feed.subs.add(sub)
            snapshot = self._snapshot(feed, "snapshot", bids, asks)
            if sub.offer(_Snapshot(snapshot, lambda: self._sent(sub))):
                self._unsent[sub] = self._unsent.get(sub, 0) + 1
            return snapshot_cost(snapshot, walked)
        feed.subs.discard(sub)  # (a resync: its deltas wait for the new snapshot)
        head = self._snapshot(feed, "snapshot", [], [])
        building = feed.building[sub] = _Building(head, (bids, asks))
        self._unsent[sub] = self._unsent.get(sub, 0) + 1
        asyncio.get_running_loop().call_soon(self._build, sub, feed, building)
        return len(bids) + len(asks) + walked / WALKED_PER_RECORD  # (``snapshot_cost``)

    def _build(self, sub: Subscription, feed: _PairFeed, b: _Building) -> None:
        """One slice of ``b``'s snapshot; the next is called soon, after whatever else the
        loop has ready. The last offers the snapshot and the deltas made meanwhile."""
        if b.done:
            return
        side, i = b.at
        totals = b.sides[side]
        end = min(i + SLICE_LEVELS, len(totals))
        chunk = levels_json(totals[i:end])
        b.event["bids" if side == 0 else "asks"].extend(chunk)
        b.parts[side].append(json.dumps(chunk)[1:-1])
        b.at = (side, end) if end < len(totals) else (side + 1, 0)
        if b.at[0] < 2:
            asyncio.get_running_loop().call_soon(self._build, sub, feed, b)
            return
        b.done = True
        del feed.building[sub]
        event = b.event
        text = encode_json({k: v for k, v in event.items() if k not in ("bids", "asks")})
        text = f'{text[:-1]},"bids":[{",".join(p for p in b.parts[0] if p)}],' + (
            f'"asks":[{",".join(p for p in b.parts[1] if p)}]}}'
        )
        snapshot = _Snapshot(event, lambda: self._sent(sub))
        snapshot.ready(text)
        if not sub.offer(snapshot):
            self.drop(sub)
            return
        for item in b.after:
            if not sub.offer(item):
                self.drop(sub)
                return
        feed.subs.add(sub)

    def _sent(self, sub: Subscription) -> None:
        left = self._unsent.pop(sub, 0) - 1
        if left > 0:
            self._unsent[sub] = left

    def unsubscribe(self, sub: Subscription, key: Key) -> None:
        keys = self._of.get(sub)
        if keys is None or key not in keys:
            raise BadRequest(
                "not subscribed to that book", "quoteToken", FieldCode.UNSUPPORTED_OPTION
            )
        self._leave(sub, key)
        sub.offer(
            Published(
                {
                    "type": "unsubscribed",
                    "channel": "book",
                    "baseToken": key[0],
                    "quoteToken": key[1],
                },
                None,
            )
        )

    def drop(self, sub: Subscription) -> None:
        """``sub``'s socket is gone: it follows no book."""
        for key in list(self._of.get(sub, ())):
            self._leave(sub, key)
        self._of.pop(sub, None)
        self._unsent.pop(sub, None)

    def _leave(self, sub: Subscription, key: Key) -> None:
        self._of[sub].discard(key)
        feed = self._pairs[key]
        feed.subs.discard(sub)
        building = feed.building.pop(sub, None)
        if building is not None:
            building.done = True
            self._sent(sub)
        if not any(f.followed() for f in self._pairs.values()):
            self.hub.watch = None
            self.stop()

    def stop(self) -> None:
        for handle in (self._timer, self._sweep):
            if handle is not None:
                handle.cancel()
        self._timer = self._sweep = None

    # ---- depth and deltas -------------------------------------------------------------

    def depth(self, base: str, quote: str) -> Event:
        """The pair's snapshot, its deltas so far sent first (``UnknownPair`` if unlisted)."""
        pair = self.book.pair(base, quote)
        key = (pair.base, pair.quote)
        feed = self._pairs.get(key)
        if feed is None:
            feed = self._pairs[key] = _PairFeed(*key)
        self._flush(feed)
        return self.snapshot_of(feed, None)

    def snapshot_of(self, feed: _PairFeed, event: str | None) -> Event:
        """The pair's levels as of ``feed.seq``: read from the book, which ``_flush`` (called
        first, with no await since) brought ``feed`` up to."""
        pair = self.book.pair(feed.base, feed.quote)
        return self._snapshot(
            feed, event, self._totals(pair, Side.BID), self._totals(pair, Side.ASK)
        )

    def _totals(self, pair: PairBook, side: Side) -> Totals:
        """The side's levels anyone may take from, best first (``PairBook.totals``: orders
        restricted to one taker rest apart, ``sdex.node.takers``)."""
        return pair.totals(side)

    @staticmethod
    def _snapshot(feed: _PairFeed, event: str | None, bids: Totals, asks: Totals) -> Event:
        head: Event = {"type": "book", "event": event} if event else {}
        return {
            **head,
            "baseToken": feed.base,
            "quoteToken": feed.quote,
            "seq": feed.seq,
            "bids": levels_json(bids),
            "asks": levels_json(asks),
        }

    def poke(self) -> None:
        """The book may have moved: compare the followed pairs within a tick."""
        if self._timer is None:
            loop = asyncio.get_running_loop()
            delay = max(self.tick, self._rested - loop.time())
            self._timer = loop.call_later(delay, self._ticked)

    def _ticked(self) -> None:
        self._timer = None
        began = self._clock()
        for feed in list(self._pairs.values()):
            if feed.followed():
                self._flush(feed)
        took = self._clock() - began
        self._rested = asyncio.get_running_loop().time() + took * TICK_REST

    def _swept(self) -> None:
        self._sweep = None
        self._ticked()
        if self.hub.watch is not None:  # (a drop in ``_ticked`` may have left none to follow)
            self._sweep = asyncio.get_running_loop().call_later(self._every, self._swept)

    def _flush(self, feed: _PairFeed) -> None:
        """Compare the pair's book with ``feed.sent``; if it moved, the next ``seq`` and a
        delta to every subscriber of the pair."""
        pair = self.book.pair(feed.base, feed.quote)
        bids = self._moved(feed, 0, pair.bids, Side.BID)
        asks = self._moved(feed, 1, pair.asks, Side.ASK)
        if not bids and not asks:
            return
        feed.seq += 1
        if not feed.followed():
            return
        self.deltas += 1
        item = Published(
            {
                "type": "book",
                "event": "update",
                "baseToken": feed.base,
                "quoteToken": feed.quote,
                "seq": feed.seq,
                "bids": bids,
                "asks": asks,
            },
            None,
        )
        for sub in list(feed.subs):
            if not sub.offer(item):
                self.drop(sub)
        for building in feed.building.values():
            building.after.append(item)  # (after its snapshot, once built)

    def _moved(self, feed: _PairFeed, i: int, side: BookSide, which: Side) -> list[list[str]]:
        """The levels of one side whose totals moved since ``feed.sent[i]``, which is brought
        up to date: best first, ``"0"`` for a level gone. Reads the levels the side's log
        names since the feed's cursor (O(levels changed)), or every level if the log no
        longer reaches back (O(levels), with ``delta``)."""
        levels, feed.cursors[i] = side.changes(feed.cursors[i])
        sent = feed.sent[i]
        pair = self.book.pair(feed.base, feed.quote)
        if levels is None:
            totals = self._totals(pair, which)
            moved = delta([(n, d, a) for (n, d), a in sent.items()], totals)
            sent.clear()
            sent.update(((n, d), a) for n, d, a in totals)
            return moved
        ranks: dict[tuple[int, int], float] = {}
        for level in levels:  # (a price may come twice: noted again, or a level made anew)
            ranks[(level.num, level.den)] = level.rank
        out: list[list[str]] = []
        for key in sorted(ranks, key=ranks.__getitem__, reverse=True):  # best first
            now = side.levels.get(key)
            amount = now.total if now is not None and now.listed else 0
            if sent.get(key, 0) != amount:
                if amount:
                    sent[key] = amount
                else:
                    del sent[key]
                out.append([f"{key[0]}/{key[1]}", str(amount)])
        return out
