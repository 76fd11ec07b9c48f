"""Peers' new orders through the node's intake, one group at a time (``Gossip.run_check``).

One group is in the intake at a time, at most ``chunk`` orders, so peers never starve
wallets (between two groups the loop lets waiting requests run). The checks that arrived
while a group was in the intake do not go one by one after it: the next group takes them
together, whoever sent them (one intake call: one ECDSA hand-over, one store group, one
chain-read batch), in the order they came, a large one split over groups. The check at the
head of the queue runs the groups (it *leads*) until its own orders have their verdicts,
then hands the lead to the next check waiting, which runs the rest. A group's intake call
is a task of its own: a leader that goes away (its stream closed) leaves it running, and
the next leader waits for it (no order checked twice, no credit lost); a check that went
away is still charged for the forged orders it sent. If a group's call raises, each
check's share goes again on its own: only the check whose orders raise fails; an order the
failed call had given a verdict (``PartialVerdicts``: say, accepted, and so ``known`` on the
second call) keeps that one; the check that fails is still judged on the verdicts its
orders got before the raise (a forged one costs its sender), never on the orders that got
none. A waiting check that goes away leaves the queue.

The queue is an insertion-ordered dict: a check ends or leaves in O(1), and a group walks
only the checks it takes (and those ended on the spot), so it costs O(the group) however
many checks wait (gossip69: a deque, each group walked all of it for finished checks and
each check that ended was looked for in it, O(queue); one admitted peer may hold
``max_http_per_client`` pushes waiting, 512, and all peers ``max_http``, 4,096).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import zip_longest

from sdex.gossip.stream import cancel_all
from sdex.gossip.timing import CheckTiming

log = logging.getLogger("sdex.gossip")

Submit = Callable[[list[object], list[str]], Awaitable[list[str]]]
"""(orders, each one's sender) -> each one's verdict, in order (the node's intake). If it
fails midway, it raises ``PartialVerdicts`` (from what it raised)."""


class PartialVerdicts(Exception):
    """An intake call (``Submit``) failed midway: the verdicts it had given, in order (``""``:
    none yet). What it raised is the ``__cause__``, which the check that fails gets."""

    def __init__(self, verdicts: list[str]) -> None:
        super().__init__(f"the intake failed after {len(verdicts) - verdicts.count('')} verdicts")
        self.verdicts = verdicts


class _Entry:
    """One check's new orders in the queue: how many went to the intake, their verdicts."""

    __slots__ = ("began", "check_id", "error", "given", "left", "orders", "results", "sender",
                 "wake")  # fmt: skip

    def __init__(self, sender: str, check_id: int, orders: list[object]) -> None:
        self.sender = sender
        self.check_id = check_id
        self.orders = orders
        self.given = 0
        self.results: list[str] = []
        self.wake: asyncio.Future[bool] | None = None
        """Resolved True: its verdicts are all in (or it failed); False: it leads now."""
        self.began: float | None = None
        self.left = False
        self.error: Exception | None = None
        """What the intake raised on this check's own orders (the check fails with it)."""

    @property
    def finished(self) -> bool:
        return self.error is not None or len(self.results) >= len(self.orders)


_Share = tuple[_Entry, int]
"""(a check's entry, how many of its orders) in a group."""


@dataclass(frozen=True, slots=True)
class CheckHooks:
    """What ``PeerChecks`` calls out to (the gossip driver wires them)."""

    submit: Submit
    """The node's intake."""
    banned: Callable[[str], bool]
    """Is this sender banned? (its orders are rejected on the spot)"""
    judge: Callable[[int, list[str]], None]
    """(check id, verdicts of some of its orders): forged ones cost their sender at once."""
    penalize: Callable[[str, int], None]
    """(sender, forged orders): the same charge, for a check that went away meanwhile."""
    chunk: Callable[[], int]
    """The most orders a group takes."""
    timing: CheckTiming
    """What each group's intake call cost (``Gossip.check_timing``)."""


class PeerChecks:
    """The queue of peers' new orders waiting for the intake, taken in groups."""

    def __init__(self, hooks: CheckHooks) -> None:
        self._hooks = hooks
        self._queue: dict[_Entry, None] = {}
        """The checks waiting, in the order they came (a dict: O(1) to leave)."""
        self._empty: list[_Entry] = []
        """Checks of no new orders that wait their turn: the next group ends them all."""
        self._leading = False
        self._group: asyncio.Task[None] | None = None
        """The group in the intake (its own task: a leader that goes away does not stop it)."""
        self._waiters: list[asyncio.Future[None]] = []
        """Its leaders' (the one that took it, then any the lead passed to meanwhile)."""
        self.groups = 0
        """Intake calls made."""
        self.merged = 0
        """Of those, calls that took the orders of more than one check."""

    async def run(
        self, sender: str, check_id: int, orders: list[object]
    ) -> tuple[list[str], float]:
        """``orders``' verdicts, in order, once all are in; and when they began (perf_counter).
        Raises what the intake raised on them."""
        entry = _Entry(sender, check_id, orders)
        self._queue[entry] = None
        try:
            if self._leading:  # (a check of no new orders, too, waits its turn)
                entry.wake = asyncio.get_running_loop().create_future()
                if not orders:
                    self._empty.append(entry)
                if not await entry.wake:
                    await self._lead(entry)
            else:
                self._leading = True
                await self._lead(entry)
        except BaseException:
            self._leave(entry)
            raise
        if entry.error is not None:
            raise entry.error
        return entry.results, entry.began or time.perf_counter()

    async def close(self) -> None:
        """Stop the group in the intake (the node stops)."""
        task, self._group = self._group, None
        if task is not None:
            await cancel_all([task])

    def _leave(self, entry: _Entry) -> None:
        """``entry``'s check went away: out of the queue; if it led or was about to, the lead
        passes on."""
        entry.left = True
        self._queue.pop(entry, None)
        wake = entry.wake
        handed = wake is not None and wake.done() and not wake.cancelled() and not wake.result()
        if wake is None or handed:  # it led (or the lead was handed to it)
            self._hand_on()

    def _hand_on(self) -> None:
        """The lead goes to the first check waiting, or nobody leads."""
        for entry in self._queue:
            if entry.wake is not None and not entry.wake.done():
                entry.wake.set_result(False)
                return
        self._leading = False

    async def _lead(self, mine: _Entry) -> None:
        """Run groups until ``mine`` has its verdicts; then the lead passes on."""
        while not mine.finished:
            task = self._group
            if task is None or task.done():  # (one left by a leader that went away: awaited)
                group = self._take()
                if not group:
                    if mine.finished:  # (rejected on the spot)
                        break
                    raise RuntimeError("a peer's orders were taken with no verdict")
                self._waiters = []
                task = asyncio.create_task(self._check(group, self._waiters), name="gossip-intake")
                self._group = task
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter  # the group's end (if this check goes away, the group goes on)
            if not mine.finished:
                await asyncio.sleep(0)  # let waiting wallet requests run
        self._queue.pop(mine, None)
        self._hand_on()

    def _take(self) -> list[_Share]:
        """The next group: (entry, how many of its orders) from the queue's head, at most
        ``chunk`` orders; a banned sender's orders are rejected on the spot."""
        room, group, now = max(1, self._hooks.chunk()), [], time.perf_counter()
        done, self._empty = self._empty, []  # (no new orders: their turn came)
        for entry in self._queue:
            if room <= 0:
                break
            n = len(entry.orders) - entry.given
            if entry.began is None:
                entry.began = now
            if n <= 0:
                if entry.finished:
                    done.append(entry)
                continue
            if self._hooks.banned(entry.sender):
                entry.given = len(entry.orders)
                self._verdicts(entry, ["rejected"] * n)
                done.append(entry)  # (rejected on the spot)
                continue
            n = min(n, room)
            entry.given += n
            room -= n
            group.append((entry, n))
        for entry in done:
            if entry.began is None:
                entry.began = now
            self._end(entry)
        return group

    async def _check(self, group: list[_Share], waiters: list[asyncio.Future[None]]) -> None:
        """One group through the intake (a task); if the call raises, each check's share on
        its own, so only the check whose orders raise fails (the others get verdicts).
        ``waiters``: its leaders', resolved as it ends (a leader and the checks it woke go
        on in the same turn, so their answers leave together)."""
        self.merged += len(group) > 1
        try:
            try:
                self._deliver(group, await self._call(group))
            except Exception as e:
                if len(group) == 1:
                    self._fail(group[0][0], e, [])
                    return
                given, k = e.verdicts if isinstance(e, PartialVerdicts) else [], 0
                for share in group:
                    first, k = given[k : k + share[1]], k + share[1]
                    try:
                        again = await self._call([share])
                        # (an order the failed call accepted is held now: ``known`` again)
                        kept = [v or w for v, w in zip(first, again, strict=False)]
                        self._deliver([share], kept + again[len(kept) :])
                    except Exception as err:
                        self._fail(share[0], err, first)
        except BaseException:  # cancelled (the node stops): what has no verdict goes back
            for entry, n in group:
                if len(entry.results) < entry.given:
                    entry.given -= n
            for waiter in waiters:  # (its leader is cancelled too)
                waiter.cancel()
            raise
        finally:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _call(self, group: list[_Share]) -> list[str]:
        objs: list[object] = []
        senders: list[str] = []
        for entry, n in group:
            start = entry.given - n
            objs.extend(entry.orders[start : entry.given])
            senders.extend([entry.sender] * n)
        self.groups += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        verdicts = await self._hooks.submit(objs, senders)
        if len(verdicts) != len(objs):
            raise RuntimeError(f"{len(verdicts)} verdicts for {len(objs)} orders")
        try:
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            self._hooks.timing.add(verdicts.count("accepted"), cpu, wall)
        except Exception:  # a measure never costs a verdict
            log.exception("timing a peer check failed")
        return verdicts

    def _deliver(self, group: list[_Share], verdicts: list[str]) -> None:
        k = 0
        for entry, n in group:
            self._verdicts(entry, verdicts[k : k + n])
            k += n
            if entry.finished:
                self._end(entry)

    def _verdicts(self, entry: _Entry, verdicts: list[str]) -> None:
        entry.results.extend(verdicts)
        self._judged(entry, verdicts)

    def _judged(self, entry: _Entry, verdicts: list[str]) -> None:
        """``verdicts`` (of some of ``entry``'s orders) go to the core: forged ones cost."""
        try:  # (bookkeeping: the verdicts stand whatever it raises)
            if not entry.left:
                self._hooks.judge(entry.check_id, verdicts)
            elif forged := verdicts.count("forged"):  # gone: the core forgot its check
                self._hooks.penalize(entry.sender, forged)
        except Exception:
            log.exception("judging orders from %s failed", entry.sender)

    def _fail(self, entry: _Entry, error: Exception, first: list[str]) -> None:
        """``entry``'s check fails with what the intake raised on its orders. The verdicts
        its failing calls gave before they raised (``first``: the group call's, if its share
        went again alone) still count: a forged order found costs its sender, an accepted one
        is held; an order with no verdict costs nothing."""
        later = error.verdicts if isinstance(error, PartialVerdicts) else []
        given = [v or w for v, w in zip_longest(first, later, fillvalue="")]
        if verdicts := [v for v in given if v]:
            self._judged(entry, verdicts)
        if isinstance(error, PartialVerdicts) and isinstance(error.__cause__, Exception):
            error = error.__cause__  # (what the intake raised)
        entry.error = error
        if entry.left:
            log.error("checking orders from %s failed", entry.sender, exc_info=error)
        self._end(entry)

    def _end(self, entry: _Entry) -> None:
        """``entry`` has its verdicts (or failed): out of the queue, its check wakes."""
        self._queue.pop(entry, None)
        if entry.wake is not None and not entry.wake.done():
            entry.wake.set_result(True)
