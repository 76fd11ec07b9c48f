"""A node's streams (``sdex.gossip.stream``): the one it dialed to each admitted peer, opened
in the background on the first call that finds none, and the ones peers dialed to it; all
closed when the node stops, and a peer's when it is evicted or banned."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from sdex.gossip.identity import NodeKey
from sdex.gossip.served import Served
from sdex.gossip.stream import RETRY, Link, StreamDown, cancel_all, dial

log = logging.getLogger("sdex.gossip")

SERVED_PER_PEER = 2
"""Streams one peer may hold open to this node (a redial replaces the oldest)."""


class Streams:
    """A node's streams: the one it dialed to each admitted peer (its calls go there), and
    the ones peers dialed to it (served). ``on_bad(peer)``: a peer sent a bad frame."""

    def __init__(
        self, key: NodeKey, me: str, on_bad: Callable[[str], None], timeout: float
    ) -> None:
        self.key = key
        self.me = me
        self.on_bad = on_bad
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.links: dict[str, Link] = {}
        self.served: dict[str, set[Served]] = {}
        self.frames_sent = 0
        self._answered = 0
        """Answer frames sent on served streams since closed (``answer_frames``)."""
        self.opened = 0
        self._opening: set[str] = set()
        self._retry: dict[str, tuple[float, float]] = {}
        """Peer -> (when it may be asked again, the wait after its next refusal)."""
        self._tasks: set[asyncio.Task[None]] = set()

    def link(self, peer: str, url: str) -> Link | None:
        """The open stream to ``peer``, or None (then one is opened in the background, unless
        that peer refused one a moment ago)."""
        link = self.links.get(peer)
        if link is not None:
            if link.open:
                return link
            del self.links[peer]
        if self.session is None or peer in self._opening:
            return None
        if time.monotonic() < self._retry.get(peer, (0.0, 0.0))[0]:
            return None
        self._opening.add(peer)
        self._spawn(self._open(peer, url))
        return None

    async def _open(self, peer: str, url: str) -> None:
        try:
            if (session := self.session) is None:  # stopped before this task first ran
                return  # (was an assert: "Task exception was never retrieved" at a stop)
            async with asyncio.timeout(self.timeout):  # (wait_for on 3.11 swallows a cancel)
                link = await dial(session, self.key, self.me, url, peer, self.on_bad)
        except (StreamDown, TimeoutError) as e:
            log.debug("no stream to %s: %s", peer, e)
            if len(self._retry) > 4096:
                self._retry.clear()
            wait = self._retry.get(peer, (0.0, RETRY[0]))[1]
            self._retry[peer] = (time.monotonic() + wait, min(RETRY[1], 2 * wait))
            return
        finally:
            self._opening.discard(peer)
        if self.session is None:  # stopped meanwhile
            await link.close()
            return
        self._retry.pop(peer, None)
        old = self.links.get(peer)
        self.links[peer] = link
        self.opened += 1
        if old is not None:
            await old.close()

    async def serve(self, served: Served) -> None:
        """Run a stream a peer dialed (until it closes, idles out, or this node stops)."""
        if self.session is None:
            await served.close()
            return
        group = self.served.setdefault(served.peer, set())
        while len(group) >= SERVED_PER_PEER:  # a peer keeps its newest streams only
            oldest = min(group, key=lambda x: x.opened_at)
            group.discard(oldest)
            self._spawn(oldest.close())
        group.add(served)
        try:
            await served.run()
        finally:
            self._answered += served.answer_frames
            peers = self.served.get(served.peer)
            if peers is not None:
                peers.discard(served)
                if not peers:
                    del self.served[served.peer]

    def unanswered(self, link: Link) -> None:
        """A call on ``link`` timed out: a peer that stopped answering (or vanished without
        closing) gets a fresh stream, and meanwhile HTTP."""
        if self.links.get(link.peer) is link:
            del self.links[link.peer]
        link.open = False
        self._spawn(link.close())

    def drop(self, peer: str) -> None:
        """Close every stream with ``peer`` (evicted or banned)."""
        link = self.links.pop(peer, None)
        if link is not None:
            self._spawn(link.close())
        for served in list(self.served.get(peer, ())):
            self._spawn(served.close())

    async def close(self) -> None:
        """Close every stream (the node stops): no task is left behind."""
        self.session = None
        links, self.links = list(self.links.values()), {}
        served = [s for group in self.served.values() for s in group]
        await asyncio.gather(
            *(x.close() for x in links), *(s.close() for s in served), return_exceptions=True
        )
        await cancel_all(self._tasks)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro, name="gossip-stream")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answer_frames(self) -> int:
        """Answer frames this node sent on served streams (a turn's answers to one peer go
        in one frame)."""
        return self._answered + sum(s.answer_frames for g in self.served.values() for s in g)

    def served_count(self) -> int:
        return sum(len(g) for g in self.served.values())

    def stats(self) -> dict[str, int]:
        return {
            "streamsDialed": sum(1 for x in self.links.values() if x.open),
            "streamsServed": self.served_count(),
            "streamsOpened": self.opened,
            "streamFramesSent": self.frames_sent,
            "streamAnswerFrames": self.answer_frames(),
        }
