"""A loop turn's wallet orders, taken through the intake together (http69, issue 11).

Each wallet ``POST /v1/orders`` of one loop turn (the API's requests in flight arrive
together under load) joins one group; the group's task, begun with its first order, runs
once that turn is over and takes it through the intake as a peer's chunk is taken
(``Intake.submit_each``: their signatures in one hand-over, no task per order, one coroutine
for all), each accepted order through ``_accept`` in turn. Every order keeps its own verdict
on its own future, with the commit of its own writes to wait for: its request waits for that
itself (woken by its commit, as a lone order's), a 2xx only once it is committed. A lone order
(an idle node) goes the ordinary way (``NodeIntake.submit``'s steps). Bounded: a group is the
orders of the turn it began in (and of the next, until its task runs), at most ``MAX_GROUP``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeAlias, TypeVar

from sdex.gossip.stream import cancel_all
from sdex.matching.match import TimeInForce

A = TypeVar("A")
T = TypeVar("T")

MAX_GROUP = 128
"""Orders in one group at most (the next ones start another)."""

Member: TypeAlias = "tuple[object, TimeInForce, str | None, float, asyncio.Future[A]]"
"""An order's JSON, its time in force, its client (whose read budget pays), when its POST
came (``time.monotonic()``: a held order's verdict is due from then), its answer."""
Run: TypeAlias = "Callable[[list[Member[A]]], Coroutine[Any, Any, None]]"
"""Takes a group (of more than one order) through the intake."""
Alone: TypeAlias = "Callable[[Member[A]], Coroutine[Any, Any, None]]"
"""Takes a lone order the ordinary way."""


class WalletGroup(Generic[A]):
    """The wallet orders of the current loop turn, waiting for the turn's end."""

    def __init__(self) -> None:
        self._members: list[Member[A]] = []
        self._runs: set[asyncio.Task[Any]] = set()
        self.groups = 0
        """Groups of more than one order taken through the intake together."""
        self.grouped = 0
        """Orders in those groups."""
        self.posts = 0
        """Orders posted and not answered yet (``NodeIntake.submit_wallet`` counts each one's
        end): more than one, the loop is busy with wallets (lat77)."""
        self._stopped = False

    def add(self, obj: object, tif: TimeInForce, client: str | None, arrived: float,
            run: Run[A], alone: Alone[A]) -> asyncio.Future[A]:  # fmt: skip
        """``obj``'s answer, to come: ``run`` takes the turn's group (``alone`` a lone order)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[A] = loop.create_future()
        self.posts += 1  # (its end counted by the caller, whatever the answer)
        if self._stopped:  # (the node stopped: taken no more)
            fut.cancel()
            return fut
        if not self._members:  # (the turn's first: its group's task, first run after it)
            members: list[Member[A]] = []
            self._members = members
            task = self.keep(self._take(members, run, alone))
            task.add_done_callback(functools.partial(_if_cancelled, members))
        self._members.append((obj, tif, client, arrived, fut))
        if len(self._members) >= MAX_GROUP:
            self._members = []  # (full: the next order begins another group)
        return fut

    async def _take(self, members: list[Member[A]], run: Run[A], alone: Alone[A]) -> None:
        """The group's task, run once the turn it began in is over (no callback before it:
        a turn less than ``call_soon`` and a task started from it)."""
        if self._members is members:  # (closed: the next order begins another group)
            self._members = []
        if len(members) > 1:
            self.groups += 1
            self.grouped += len(members)
            await run(members)
        else:
            await alone(members[0])

    def running(self) -> int:
        """Tasks of groups not ended yet."""
        return len(self._runs)

    async def stop(self) -> None:
        """The node stops: the orders waiting for their turn's end, and the tasks under way,
        cancelled (none of their orders is accepted after; one answered stays answered)."""
        self._stopped = True
        members, self._members = self._members, []
        for *_, fut in members:
            fut.cancel()
        await cancel_all(self._runs)

    def keep(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """``work`` in a task of its own, held until it ends."""
        task = asyncio.ensure_future(work)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task


def _if_cancelled(members: list[Member[A]], task: asyncio.Task[None]) -> None:
    """A group's task cancelled (the node stopping), perhaps before it ran: its orders not
    answered yet are cancelled (nobody answers them; one answered stays answered)."""
    if task.cancelled():
        for *_, fut in members:
            fut.cancel()


def fail(fut: asyncio.Future[A], e: BaseException) -> None:
    """``fut`` raises ``e`` (unless its waiter went away)."""
    if not fut.done():
        fut.set_exception(e)
