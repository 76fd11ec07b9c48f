"""The node's event stream (order, fill and book events) for websocket subscribers.

Each subscriber gets a bounded queue; one that falls behind by more than ``max_queue``
events is dropped (its socket closed) rather than letting the node's memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


class Subscription:
    def __init__(self, hub: EventHub, max_queue: int) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(max_queue)
        self.overflowed = False

    async def get(self) -> Event | None:
        """The next event; None once the subscription was dropped (overflow or close)."""
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    def __init__(self, max_queue: int = 10_000) -> None:
        self.max_queue = max_queue
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)
        self.published = 0

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self.max_queue)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    def publish_lazy(self, make: Callable[[], Event]) -> None:
        """Publish ``make()``, built only if someone listens (counted either way)."""
        if self._subs:
            self.publish(make())
        else:
            self.published += 1
            next(self._seq)

    def publish(self, event: Event) -> None:
        event = {"seq": next(self._seq), **event}
        self.published += 1
        for sub in list(self._subs):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True
                self._subs.discard(sub)
                sub.queue.get_nowait()  # make room for the end marker
                sub.queue.put_nowait(None)

    def close(self) -> None:
        for sub in list(self._subs):
            self.unsubscribe(sub)

    def __len__(self) -> int:
        return len(self._subs)
