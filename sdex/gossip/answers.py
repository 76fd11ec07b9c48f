"""How a served stream (``sdex.gossip.stream.Served``) sends its answers: alone, a loop
turn's together (a dialer that asked, ``acks=1``), and lazily.

**Lazy answers.** A request marked ``"l": 1`` (a push to a peer with nothing in flight:
``sdex.gossip.outbox.Outbox.launch``) that succeeds is not answered in a frame of its own:
its answer waits for the next answer frame this stream sends the dialer (the answer to its
next eager push, or any other call), or at the node's first gossip tick ``LAZY_ACK``
seconds after it was ready (no wake-up of its own), ``LAZY_BOUND`` at most, or once
``LAZY_MAX`` wait. A refusal (status 300 and up) and a large answer go at once. The
answer still comes only once the orders were checked: what an answer acknowledges is
unchanged, only when it leaves. On a stream that closes with lazy answers waiting they
are sent first if the websocket still takes them; if not, the dialer's calls fail
(``StreamDown``) and go again over HTTP, as any call unanswered when a stream breaks.
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
from aiohttp import web

from sdex.gossip import frames
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.codec import Codec
from sdex.gossip.deadlines import Deadlines
from sdex.gossip.frames import MAX_ANSWERS

LAZY_ACK = 0.5
"""Seconds a lazy request's answer waits for another answer frame to ride with; then it goes
at the node's next gossip tick (``flush_lazy``: the node is awake for it anyway, so the
answer costs no wake-up of its own), or ``LAZY_BOUND`` seconds after it was ready."""
LAZY_BOUND = 2.0
"""Seconds a lazy answer waits at most (a timer of its own: gossip ticks that stopped)."""
LAZY_MAX = 16
"""Lazy answers waiting at most (more: they go at once, in a frame of their own)."""
LAZY_BYTES = 512
"""A lazy answer larger than this goes as any other (a push's counts are ~50 bytes)."""
SEND_TIMEOUT = 10.0
"""Seconds an answer's frame may wait for the peer to read (then the stream closes)."""


class Answering:
    """The answering half of a served stream (its state is set up by ``Served``)."""

    ws: aiohttp.ClientWebSocketResponse | web.WebSocketResponse
    codec: Codec
    grouped: bool
    answer_frames: int
    _answers: list[tuple[int, int, bytes]]
    _group_bytes: int
    _tasks: set[asyncio.Task[None]]
    _closer: asyncio.Task[None] | None
    _lazy: list[tuple[int, int, bytes]]
    _lazy_timer: asyncio.TimerHandle | None
    _lazy_since: float
    _loop: asyncio.AbstractEventLoop
    _sends: itertools.count[int]
    _deadlines: Deadlines

    async def _answer(self, rid: int, status: int, body: object, lazy: bool = False) -> None:
        if self.ws.closed:
            return
        one, group = frames.answer(rid, status, body), self._answers  # (encoded once, bounded)
        size = len(one[2]) + 48  # (its ids, the brackets; at most ``MAX_ANSWER`` a frame)
        if lazy and status < 300 and size <= LAZY_BYTES:  # (a refusal is answered at once)
            if not self._lazy:
                self._lazy_since = self._loop.time()
            self._lazy.append(one)
            if len(self._lazy) >= LAZY_MAX:
                await self._send_lazy()
            elif self._lazy_timer is None:
                self._lazy_timer = self._loop.call_later(LAZY_BOUND, self._lazy_due)
            return
        alone = not group and len(self._tasks) <= 1  # no other request under way: at once
        if not self.grouped or alone or size > MAX_ANSWER // 2:  # (a large one goes alone)
            return await self._send([one])
        if group and self._group_bytes + size <= MAX_ANSWER:
            group.append(one)  # the first answer of this turn sends them all
            self._group_bytes += size
            if len(group) >= MAX_ANSWERS:
                self._answers = []
                await self._send(group)
            return
        mine = self._answers = [one]  # (a group it does not fit in goes now)
        self._group_bytes = size
        if group:
            await self._send(group)
        await asyncio.sleep(0)  # (the other answers ready this turn join it)
        if mine is self._answers:
            self._answers = []
            if not self.ws.closed:
                await self._send(mine)

    def flush_lazy(self, now: float) -> None:
        """The node's gossip tick: lazy answers that waited ``LAZY_ACK`` go now."""
        if self._lazy and now - self._lazy_since >= LAZY_ACK:
            self._lazy_due()

    def _lazy_due(self) -> None:
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
        self._lazy_timer = None
        if self._lazy and self._closer is None:
            task = asyncio.create_task(self._send_lazy())
            self._tasks.add(task)  # (cancelled on close)
            task.add_done_callback(self._tasks.discard)

    async def _send_lazy(self) -> None:
        """The lazy answers waiting, in a frame of their own (``LAZY_ACK`` passed, or
        ``LAZY_MAX`` of them)."""
        await self._send([])

    async def _send(self, group: list[tuple[int, int, bytes]]) -> None:
        """``group``'s answers in one frame, with the lazy answers waiting if the frame's
        bounds allow (``MAX_ANSWERS``, ``MAX_ANSWER``), else those go just before it."""
        lazy, self._lazy = self._lazy, []
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        if lazy:
            size = sum(len(a[2]) + 48 for a in group) + LAZY_MAX * LAZY_BYTES
            if len(lazy) + len(group) <= MAX_ANSWERS and size <= MAX_ANSWER:
                group = lazy + group
            else:
                await self._frame(frames.payload(lazy))
        if group:
            await self._frame(frames.payload(group))

    async def _frame(self, payload: bytes) -> None:
        self.answer_frames += 1
        frame = self.codec.seal(payload)
        key = next(self._sends)
        self._deadlines.set(key, SEND_TIMEOUT)  # the peer stopped reading: the stream ends
        try:
            await self.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._deadlines.discard(key)
