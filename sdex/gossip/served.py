"""The acceptor's side of a stream (``sdex.gossip.stream``): a peer's requests in, as frames,
run through the routes (``sdex.gossip.routes``) with the stream's bounds, the answers out."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from sdex.gossip import frames
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.codec import Codec, FrameError
from sdex.gossip.deadlines import Deadlines
from sdex.gossip.frames import MAX_ANSWERS, envelope, frame_id
from sdex.gossip.metered import Meter, metered
from sdex.gossip.stream import (
    ENVELOPE,
    IDLE,
    MAX_IN_FLIGHT,
    MAX_P2P_BODY,
    SEND_TIMEOUT,
    AnswerNow,
    Dispatch,
    _Stream,
    cancel_all,
    close_ws,
    log,
)
from sdex.model import error_body

_CONTROL = (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG)
"""Frames aiohttp's ``receive`` handles itself (``Served._buffered``)."""


class Served(_Stream):
    """A stream a peer dialed to this node: its requests in, the answers out, bounded."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        peer: str,
        codec: Codec,
        dispatch: Dispatch,
        on_bad: Callable[[str], None],
        admit: Callable[[int], bool] = lambda size: True,
        grouped: bool = False,
        answer_now: AnswerNow | None = None,
        spent: Callable[[float, str], None] = lambda seconds, path: None,
    ) -> None:
        super().__init__(ws, peer, codec, on_bad)
        self.spent = spent
        """Told the loop time each request took and its path (``sdex.gossip.metered``): what
        it costs the peer's budget ("" for a frame answered in the reader's turn)."""
        self.dispatch = dispatch
        self.answer_now = answer_now
        self.grouped = grouped
        """The dialer takes a turn's answers in one frame (it asked: ``acks=1``)."""
        self._answers: list[tuple[int, int, bytes]] = []
        self._group_bytes = 0
        """This turn's answers (body encoded) for one frame, and its size: at most
        ``MAX_ANSWER`` (what the dialer reads)."""
        self.answer_frames = 0
        self._held: list[tuple[int, int, bytes]] = []
        self._held_bytes = 0
        """Answers given in the reader's turn, waiting for the frames read with theirs."""
        self.admit = admit
        """Before a frame's JSON is read: may the peer send it (still admitted, within its
        rate limit)? If not the stream closes (nobody is blamed: the limit is the penalty)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._closer: asyncio.Task[None] | None = None
        self.opened_at = time.monotonic()
        self._sends = itertools.count()
        self._deadlines = Deadlines(self._expired)
        """Each answer's send, one timer for the stream (not one per answer)."""
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._idle = self._loop.call_at(self._last + IDLE, self._idle_check)
        """Checks idleness once per ``IDLE`` seconds (not a timeout per receive)."""

    def _expired(self, keys: list[int]) -> None:
        self._shut("an answer not taken in time")  # the peer stopped reading

    def _idle_check(self) -> None:
        due = self._last + IDLE
        if self._loop.time() >= due:
            self._shut("idle")
        else:
            self._idle = self._loop.call_at(due, self._idle_check)

    def _shut(self, why: str) -> None:
        if self._closer is None:
            log.debug("stream from %s: %s: closed", self.peer, why)
            self._closer = asyncio.create_task(close_ws(self.ws))

    async def run(self) -> None:
        try:
            while True:
                if self._held and not self._buffered():
                    await self._flush_held()
                msg = await self.ws.receive()
                self._last = self._loop.time()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
                    break
                if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                if msg.type != aiohttp.WSMsgType.BINARY:
                    raise FrameError(f"a {msg.type.name} message", proven=False)
                meter = Meter()
                taken = await metered(self._take(msg.data, meter), meter)
                if taken is None:
                    break
                if taken:
                    self.spent(meter.seconds, "")  # (else its task's: ``_serve``)
        except FrameError as e:
            log.warning("stream from %s: %s: closed", self.peer, e)
            if e.proven:
                self.on_bad(self.peer)
        except (ConnectionError, RuntimeError) as e:
            log.debug("stream from %s broke: %s", self.peer, e)
        finally:
            await self.close()

    async def _take(self, data: bytes, meter: Meter) -> bool | None:
        """One request frame: True, answered now; False, handed to a task of its own (which
        tells ``spent`` of its loop time, this part's with it: ``meter``); None, the peer may
        not send it (over its limits, no longer admitted): the stream closes."""
        size = len(data)
        payload = self.codec.open(data)
        if not self.admit(size):
            log.debug("stream from %s: over its limits or no longer admitted", self.peer)
            return None
        req = envelope(payload, MAX_P2P_BODY + ENVELOPE)
        rid, method, path, query = (
            frame_id(req.get("i")),
            req.get("m"),
            req.get("p"),
            req.get("q"),
        )
        if not (isinstance(method, str) and isinstance(path, str) and len(path) <= 64):
            raise FrameError("a request names its method and path")
        if (
            not isinstance(query, dict)
            or len(query) > 8
            or not all(isinstance(v, str) and len(v) <= 256 for v in query.values())
        ):
            raise FrameError("a request's query is at most 8 strings")
        if len(self._tasks) >= MAX_IN_FLIGHT:
            await self._answer(rid, 429, error_body(103, "Throttled: too many requests in flight"))
            return True
        now = self._now(self.answer_now, req, size) if self.answer_now else None
        if now is not None:  # (no task: answered in this turn)
            await self._hold(rid, *now)
            return True
        task = asyncio.create_task(self._serve(rid, method, path, query, req.get("b"), size, meter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return False

    async def _serve(
        self,
        rid: int,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: object,
        size: int,
        meter: Meter,
    ) -> None:
        try:
            await metered(self._answered(rid, method, path, query, body, size), meter)
        finally:
            self.spent(meter.seconds, path)

    async def _answered(
        self, rid: int, method: str, path: str, query: Mapping[str, str], body: object, size: int
    ) -> None:
        try:
            status, answer = await self.dispatch(method, path, query, body, size)
        except Exception:  # a bug, as HTTP's 500: the caller is answered, not left waiting
            log.exception("stream request %s %s from %s failed", method, path, self.peer)
            status, answer = 500, error_body(100, "internal error")
        await self._answer(rid, status, answer)

    def _now(
        self, answer_now: AnswerNow, req: dict[str, Any], size: int
    ) -> tuple[int, object] | None:
        method, path = req["m"], req["p"]
        try:
            return answer_now(method, path, req["q"], req.get("b"), size)
        except Exception:  # as ``_serve``
            log.exception("stream request %s %s from %s failed", method, path, self.peer)
            return 500, error_body(100, "internal error")

    def _buffered(self) -> bool:
        """Are more data frames already read off the socket? (aiohttp's queue, public in its
        Cython build; unknown: none, so an answer held here goes at once). Only its newest
        counts, and a PING or PONG there is none: ``receive`` answers those itself and waits
        on for a data frame, so an answer held for one waited for the peer's next call
        (review23)."""
        queue = getattr(getattr(self.ws, "_reader", None), "_buffer", None)
        if not queue:
            return False
        try:
            kind = queue[-1][0].type  # ((message, size), aiohttp 3.14)
        except (AttributeError, IndexError, KeyError, TypeError):
            return False
        return kind not in _CONTROL

    async def _hold(self, rid: int, status: int, body: object) -> None:
        """An answer ready in the reader's own turn: to a dialer that takes grouped answers,
        held while more frames are already read (the reader goes on at once); their answers
        go in one frame as it waits for more (``run``)."""
        one = frames.answer(rid, status, body)
        size = len(one[2]) + 48
        if not self.grouped or size > MAX_ANSWER // 2:
            return await self._send(frames.payload([one]))
        if self._held_bytes + size > MAX_ANSWER:
            await self._flush_held()
        self._held.append(one)
        self._held_bytes += size
        if len(self._held) >= MAX_ANSWERS or not self._buffered():
            await self._flush_held()

    async def _flush_held(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        if held and not self.ws.closed:
            await self._send(frames.payload(held))

    async def _answer(self, rid: int, status: int, body: object) -> None:
        if self.ws.closed:
            return
        one, group = frames.answer(rid, status, body), self._answers  # (encoded once, bounded)
        size = len(one[2]) + 48  # (its ids, the brackets; at most ``MAX_ANSWER`` a frame)
        alone = not group and len(self._tasks) <= 1  # no other request under way: at once
        if not self.grouped or alone or size > MAX_ANSWER // 2:  # (a large one goes alone)
            return await self._send(frames.payload([one]))
        if group and self._group_bytes + size <= MAX_ANSWER:
            group.append(one)  # the first answer of this turn sends them all
            self._group_bytes += size
            if len(group) >= MAX_ANSWERS:
                self._answers = []
                await self._send(frames.payload(group))
            return
        mine = self._answers = [one]  # (a group it does not fit in goes now)
        self._group_bytes = size
        if group:
            await self._send(frames.payload(group))
        await asyncio.sleep(0)  # (the other answers ready this turn join it)
        if mine is self._answers:
            self._answers = []
            if not self.ws.closed:
                await self._send(frames.payload(mine))

    async def _send(self, payload: bytes) -> None:
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

    async def close(self) -> None:
        self._deadlines.close()
        self._idle.cancel()
        await cancel_all(self._tasks)
        await close_ws(self.ws)
