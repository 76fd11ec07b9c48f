"""The node's event stream (order, fill and book events) for websocket subscribers.

Each subscriber gets a bounded queue; one that falls behind by more than ``max_queue``
events is dropped (its socket closed) rather than letting the node's memory grow. An event
is published once into every queue (``Published``) and its JSON text encoded once, by the
first subscriber that sends it, for all of them. A subscriber's sender takes what its
queue holds at each wake-up (``ready_texts``) and writes it in one go: one message (one
websocket frame) an event as ever, one write for many (``text_frames``). While a sender
waits for its next event with nothing queued (``parked``) and its socket keeps up, a
published event skips its queue: the events of a loop turn are written by one callback
(``Subscription.flush``) instead of waking the sender's task, which then started a send task
and woke again when it ended (gossip20: a subscriber cost the peer intake 28–103 µs an order).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import resource
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sdex.httpkit import ClientSlots
from sdex.jsonio import encoder

Event = dict[str, Any]
Encoder = Callable[[Event], str]
T = TypeVar("T")

encode_json: Encoder = encoder()
"""``json.dumps`` with its defaults: the text aiohttp's ``send_json`` sent."""


class Published:
    """One event as every subscriber's queue holds it, with its JSON text once encoded."""

    __slots__ = ("_encode", "_text", "event")

    def __init__(self, event: Event, encode: Encoder | None) -> None:
        self.event = event
        self._encode = encode or encode_json
        self._text: str | None = None

    def text(self) -> str:
        if self._text is None:
            self._text = self._encode(self.event)
        return self._text


class Made(Published):
    """An event published with its ``seq`` and what its text is made from (``text_of``):
    its dict (``make()``, ``seq`` first) is made only if a subscriber reads it as one
    (``Subscription.get``); a websocket's sender takes only the text (anvil50: a settled
    fill's dict was made, and copied with its ``seq``, for the encoder alone)."""

    __slots__ = ("_made", "_make", "_seq", "_text_of")

    def __init__(self, seq: int, make: Callable[[], Event], text_of: Callable[[int], str]) -> None:
        self._seq, self._make, self._text_of = seq, make, text_of
        self._made: Event | None = None
        self._text = None

    @property
    def event(self) -> Event:
        if self._made is None:
            self._made = {"seq": self._seq, **self._make()}
        return self._made

    @event.setter
    def event(self, event: Event) -> None:
        self._made = event

    def text(self) -> str:
        if self._text is None:
            self._text = self._text_of(self._seq)
        return self._text


class EventQueue(Generic[T]):
    """The part of ``asyncio.Queue`` a subscription uses (``put_nowait``, ``get_nowait``,
    ``get``, ``empty``, ``qsize``, ``full``; the same exceptions), without its task
    accounting (``task_done``/``join``: nobody joins a subscriber's queue) and its waiting
    putters (every put here is ``put_nowait``): a put is a bound check, an append and, only
    while a getter waits, a wake-up. anvil63: ``asyncio.Queue``'s ``put_nowait`` and
    ``get_nowait`` called ~9 Python functions an event, four events a settled match."""

    __slots__ = ("_getters", "_items", "maxsize")

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._getters: deque[asyncio.Future[None]] = deque()

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def put_nowait(self, item: T) -> None:
        """Queue ``item``; ``asyncio.QueueFull`` (nothing queued) if ``maxsize`` are."""
        if 0 < self.maxsize <= len(self._items):
            raise asyncio.QueueFull
        self._items.append(item)
        getters = self._getters
        while getters:  # (the first getter not cancelled meanwhile)
            waiter = getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def get_nowait(self) -> T:
        """The first item; ``asyncio.QueueEmpty`` if there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    def take(self, most: int) -> list[T]:
        """Up to ``most`` items, first first, taken at once (none: ``[]``)."""
        items = self._items
        n = min(most, len(items))
        if n == len(items):
            out = list(items)
            items.clear()
            return out
        return [items.popleft() for _ in range(n)]

    async def get(self) -> T:
        """The first item, once there is one (as ``asyncio.Queue.get``: cancelled while it
        waits, it passes the wake-up it got on to the next getter)."""
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()  # (if it was woken meanwhile: done already)
                with contextlib.suppress(ValueError):
                    self._getters.remove(waiter)
                if self._items:  # (a wake-up it may have taken: passed on)
                    self._wake_next()
                raise
        return self._items.popleft()

    def _wake_next(self) -> None:
        getters = self._getters
        while getters:
            waiter = getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


DIRECT_MOST = 64
"""Events one turn's direct write (``Subscription.flush``) takes at most; past them events
are queued for the sender, which writes what the callback has not first."""


class DirectWriter(Protocol):
    """A subscriber's socket as its sender lends it for events written without its task."""

    def room(self) -> bool:
        """Whether the socket is open and keeps up (little unsent)."""

    def write(self, texts: list[str]) -> None:
        """``texts`` as one message each, in one write (dropped if the socket closed)."""


class Subscription:
    def __init__(self, hub: EventHub, max_queue: int) -> None:
        self.hub = hub
        self.queue: EventQueue[Published | None] = EventQueue(max_queue)
        self.overflowed = False
        self.direct: DirectWriter | None = None
        """Set by a sender that lets published events skip its queue while it is parked."""
        self.parked = False
        """The sender waits for the next event, having written everything it took."""
        self._pending: list[Published] = []

    def put(self, item: Published) -> None:
        """A published event for this subscriber: written by this turn's callback if the
        sender is parked with nothing queued and its socket has room, else queued (raises
        ``asyncio.QueueFull`` when the queue is)."""
        if self.parked and self.direct is not None and self.queue.empty():
            pending = self._pending
            if pending:
                if len(pending) < DIRECT_MOST:
                    pending.append(item)
                    return
            elif self.direct.room():
                pending.append(item)
                asyncio.get_running_loop().call_soon(self.flush)
                return
        self.queue.put_nowait(item)

    def flush(self) -> None:
        """Write the events that skipped the queue (the sender calls it when it wakes, before
        what it took, so that the order is kept)."""
        if self._pending:
            items, self._pending = self._pending, []
            if self.direct is not None:
                self.direct.write([item.text() for item in items])

    async def get(self) -> Event | None:
        """The next event; None once the subscription was dropped (overflow or close)."""
        item = await self.queue.get()
        return None if item is None else item.event

    def ready_texts(self, most: int) -> tuple[list[str], bool]:
        """The JSON texts of up to ``most`` events queued already (no wait), and whether
        the subscription was dropped after them."""
        texts: list[str] = []
        for item in self.queue.take(most):
            if item is None:  # (the end marker: nothing is queued after it)
                return texts, True
            texts.append(item.text())
        return texts, False

    async def get_text(self) -> str | None:
        """The next event's JSON text (encoded once for all subscribers); None once the
        subscription was dropped."""
        item = await self.queue.get()
        return None if item is None else item.text()

    def offer(self, item: Published) -> bool:
        """Queue ``item`` (a book event or an answer to the client, no hub ``seq``) for this
        subscriber alone; False if it is dropped (its queue was full: dropped now)."""
        if self.overflowed:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.hub.overflow(self)
            return False
        return True

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    def __init__(self, max_queue: int = 10_000) -> None:
        self.max_queue = max_queue
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)
        self.published = 0
        self.watch: Callable[[], None] | None = None
        """Told of every event published and of every ``changed`` (the book may have
        moved): set by ``sdex.node.bookfeed`` while a socket follows a pair's book."""

    def changed(self) -> None:
        """The book may have changed without an event (``OrderRegistry.sync``)."""
        if self.watch is not None:
            self.watch()

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self.max_queue)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    def publish_lazy(self, make: Callable[[], Event], encode: Encoder | None = None) -> None:
        """Publish ``make()``, built only if someone listens (counted either way)."""
        if self._subs:
            self.publish(make(), encode)
        else:
            if self.watch is not None:
                self.watch()
            self.published += 1
            next(self._seq)

    def publish_numbered(self, make: Callable[[int], Event], encode: Encoder | None = None) -> None:
        """``publish_lazy`` of an event that ``make(seq)`` builds with its ``seq`` first:
        not copied to put it there (anvil63: two order events a settled match)."""
        if self.watch is not None:
            self.watch()
        seq = next(self._seq)
        if not self._subs:
            self.published += 1
            return
        self._queue(Published(make(seq), encode))

    def publish(self, event: Event, encode: Encoder | None = None) -> None:
        """Queue ``event`` (with its ``seq`` first) for every subscriber. ``encode``: how its
        JSON text is made, if not by ``encode_json`` (the same text, made faster)."""
        if self.watch is not None:
            self.watch()
        if not self._subs:
            self.published += 1
            next(self._seq)
            return
        self._queue(Published({"seq": next(self._seq), **event}, encode))

    def publish_made(self, make: Callable[[], Event], text_of: Callable[[int], str]) -> None:
        """``publish_lazy(make)`` whose text ``text_of(seq)`` makes (the same text as the
        event's encoding): the event's dict made only for a subscriber that reads it (``Made``)."""
        if not self._subs:
            self.publish_lazy(make)
            return
        if self.watch is not None:
            self.watch()
        self._queue(Made(next(self._seq), make, text_of))

    def _queue(self, item: Published) -> None:
        self.published += 1
        for sub in list(self._subs):
            try:
                sub.put(item)
            except asyncio.QueueFull:
                self.overflow(sub)

    def overflow(self, sub: Subscription) -> None:
        """``sub``'s queue is full: drop it (its sender ends at the end marker)."""
        sub.overflowed = True
        self._subs.discard(sub)
        sub.queue.get_nowait()  # make room for the end marker
        sub.queue.put_nowait(None)

    def close(self) -> None:
        for sub in list(self._subs):
            self.unsubscribe(sub)

    def __len__(self) -> int:
        return len(self._subs)


class WsSlots(ClientSlots):
    """How many websocket subscribers one client address, and all together, may hold open.

    Each holds a socket (a file descriptor) and a queue every event is copied into: one
    client opening thousands (nothing bounded them; 8,000 from one address cost a node
    100 MB and doubled an order's latency) would exhaust the node's descriptors, which its
    database, chain and peer connections need too. ``total`` is held to half of the
    process's descriptor limit."""

    def __init__(self, per_client: int, total: int) -> None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        super().__init__(
            per_client,
            total if soft == resource.RLIM_INFINITY else min(total, soft // 2),
            "too many websockets from this address: at most {} at once",
            "too many websockets open on this node: at most {}",
        )


_SHORT_HEADERS = [bytes((0x81, n)) for n in range(126)]
_MID_HEADER = struct.Struct("!BBH")
_LONG_HEADER = struct.Struct("!BBQ")


def text_frames(texts: list[str]) -> bytes:
    """``texts`` as a server's websocket text frames, one each (RFC 6455: final, not masked,
    not compressed), back to back: the bytes ``send_str`` writes for each of them (headers
    made once or by a compiled ``Struct``, joined once: anvil63)."""
    parts: list[bytes] = []
    for text in texts:
        data = text.encode()
        n = len(data)
        if n < 126:
            parts.append(_SHORT_HEADERS[n])
        elif n < 1 << 16:
            parts.append(_MID_HEADER.pack(0x81, 126, n))
        else:
            parts.append(_LONG_HEADER.pack(0x81, 127, n))
        parts.append(data)
    return b"".join(parts)
