"""A loop turn's wallet orders, taken through the intake together (http69, issue 11).

Each wallet ``POST /v1/orders`` of one loop turn (the API's requests in flight arrive
together under load) joins one group; at the turn's end the group goes through the intake
as a peer's chunk does (``Intake.submit_each``: their signatures in one hand-over, no task
per order, one coroutine for all), each accepted order through ``_accept`` in turn. Every
order keeps its own verdict and its own answer, set on its own future (its request waits on
that one future: woken once), a 2xx only once its own row is committed. A lone order (an
idle node) goes the ordinary way (``NodeIntake.submit``). Bounded: a group starts at the end
of the turn it began in, or as soon as it holds ``MAX_GROUP`` orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeAlias, TypeVar

from sdex.matching.match import TimeInForce
from sdex.store import StoreError

A = TypeVar("A")
T = TypeVar("T")

MAX_GROUP = 128
"""Orders in one group at most (the next ones start another)."""

Member: TypeAlias = "tuple[object, TimeInForce, str | None, asyncio.Future[A]]"
"""An order's JSON, its time in force, its client (whose read budget pays), its answer."""
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

    def add(self, obj: object, tif: TimeInForce, client: str | None, run: Run[A],
            alone: Alone[A]) -> asyncio.Future[A]:  # fmt: skip
        """``obj``'s answer, to come: ``run`` takes the turn's group (``alone`` a lone order)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[A] = loop.create_future()
        if not self._members:
            loop.call_soon(self._start, run, alone)
        self._members.append((obj, tif, client, fut))
        if len(self._members) >= MAX_GROUP:
            self._start(run, alone)
        return fut

    def _start(self, run: Run[A], alone: Alone[A]) -> None:
        members, self._members = self._members, []
        if not members:  # (started already: it was full)
            return
        if len(members) > 1:
            self.groups += 1
            self.grouped += len(members)
        self.keep(run(members) if len(members) > 1 else alone(members[0]))

    def keep(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """``work`` in a task of its own, held until it ends."""
        task = asyncio.ensure_future(work)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task


def fail(fut: asyncio.Future[A], e: BaseException) -> None:
    """``fut`` raises ``e`` (unless its waiter went away)."""
    if not fut.done():
        fut.set_exception(e)


def chain(fut: asyncio.Future[A], done: asyncio.Future[Any], answer: A | None,
          stalled: Callable[[StoreError], A]) -> None:  # fmt: skip
    """``fut`` from ``done`` (a done-callback): ``done``'s result, or ``answer`` if given; a
    store's failure answered ``stalled(e)``; any other failure raised; a cancel, cancelled."""
    e = None if done.cancelled() else done.exception()  # (retrieved even if nobody waits)
    if fut.done():
        return
    if done.cancelled():
        fut.cancel()
    elif isinstance(e, StoreError):
        fut.set_result(stalled(e))
    elif e is not None:
        fut.set_exception(e)
    else:
        fut.set_result(done.result() if answer is None else answer)
