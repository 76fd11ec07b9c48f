"""Peers' new orders through the node's intake, one group at a time (``Gossip.run_check``).

One group is in the intake at a time, at most ``chunk`` orders, so peers never starve
wallets (between two groups the loop lets waiting requests run). The checks that arrived
while a group was in the intake do not go one by one after it: the next group takes them
together, whoever sent them (one intake call: one ECDSA hand-over, one store group, one
chain-read batch), in the order they came, a large one split over groups. There is no
task of its own: the check at the head of the queue runs the groups (it *leads*) until
its own orders have their verdicts, then hands the lead to the next check waiting, which
runs the rest. A waiting check that goes away (its stream closed) leaves the queue; a
leader that goes away mid-group gives the group's other orders back to the queue's head
(they are checked again: a copy accepted meanwhile is then ``known``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from sdex.gossip.timing import CheckTiming

Submit = Callable[[list[object], list[str]], Awaitable[list[str]]]
"""(orders, each one's sender) -> each one's verdict, in order (the node's intake)."""


class _Entry:
    """One check's new orders in the queue: how many went to the intake, their verdicts."""

    __slots__ = ("began", "check_id", "given", "left", "orders", "results", "sender", "wake")

    def __init__(self, sender: str, check_id: int, orders: list[object]) -> None:
        self.sender = sender
        self.check_id = check_id
        self.orders = orders
        self.given = 0
        self.results: list[str] = []
        self.wake: asyncio.Future[bool] | None = None
        """Resolved True: its verdicts are all in; False: it leads now."""
        self.began: float | None = None
        self.left = False

    @property
    def finished(self) -> bool:
        return len(self.results) >= len(self.orders)


class PeerChecks:
    """The queue of peers' new orders waiting for the intake, taken in groups."""

    def __init__(
        self,
        submit: Submit,
        banned: Callable[[str], bool],
        judge: Callable[[int, list[str]], None],
        chunk: Callable[[], int],
        timing: CheckTiming,
    ) -> None:
        self._submit = submit
        self._banned = banned
        self._judge = judge
        """(check id, verdicts of some of its orders): forged ones cost their sender at once."""
        self._chunk = chunk
        self._timing = timing
        self._queue: deque[_Entry] = deque()
        self._leading = False
        self.groups = 0
        """Intake calls made."""
        self.merged = 0
        """Of those, calls that took the orders of more than one check."""

    async def run(
        self, sender: str, check_id: int, orders: list[object]
    ) -> tuple[list[str], float]:
        """``orders``' verdicts, in order, once all are in; and when they began (perf_counter)."""
        entry = _Entry(sender, check_id, orders)
        self._queue.append(entry)
        try:
            if self._leading:  # (a check of no new orders, too, waits its turn)
                entry.wake = asyncio.get_running_loop().create_future()
                if await entry.wake:
                    return entry.results, entry.began or time.perf_counter()
            else:
                self._leading = True
            await self._lead(entry)
            return entry.results, entry.began or time.perf_counter()
        except BaseException:
            self._leave(entry)
            raise

    def _leave(self, entry: _Entry) -> None:
        """``entry``'s check went away: out of the queue; if it led or was about to, the lead
        passes on."""
        entry.left = True
        if entry in self._queue:
            self._queue.remove(entry)
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
            group = self._take()
            if group:
                await self._check(group)
            if not mine.finished:
                await asyncio.sleep(0)  # let waiting wallet requests run
        if mine in self._queue:
            self._queue.remove(mine)
        self._hand_on()

    def _take(self) -> list[tuple[_Entry, int]]:
        """The next group: (entry, how many of its orders) from the queue's head, at most
        ``chunk`` orders; a banned sender's orders are rejected on the spot."""
        room, group, now = max(1, self._chunk()), [], time.perf_counter()
        for entry in self._queue:
            if room <= 0:
                break
            n = len(entry.orders) - entry.given
            if entry.began is None:
                entry.began = now
            if n <= 0:
                continue
            if self._banned(entry.sender):
                entry.given = len(entry.orders)
                self._verdicts(entry, ["rejected"] * n)
                continue
            n = min(n, room)
            entry.given += n
            room -= n
            group.append((entry, n))
        for entry in [e for e in self._queue if e.finished]:  # (rejected on the spot)
            self._queue.remove(entry)
            self._done(entry)
        return group

    async def _check(self, group: list[tuple[_Entry, int]]) -> None:
        objs: list[object] = []
        senders: list[str] = []
        for entry, n in group:
            start = entry.given - n
            objs.extend(entry.orders[start : entry.given])
            senders.extend([entry.sender] * n)
        self.groups += 1
        self.merged += len(group) > 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            verdicts = await self._submit(objs, senders)
        except BaseException:  # (cancelled, or a bug): the others' orders go back in
            for entry, n in group:
                if len(entry.results) < entry.given:
                    entry.given -= n
            raise
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        self._timing.add(verdicts.count("accepted"), cpu, wall)
        k = 0
        for entry, n in group:
            self._verdicts(entry, verdicts[k : k + n])
            k += n
            if entry.finished and entry in self._queue:
                self._queue.remove(entry)
                self._done(entry)

    def _verdicts(self, entry: _Entry, verdicts: list[str]) -> None:
        entry.results.extend(verdicts)
        if not entry.left:
            self._judge(entry.check_id, verdicts)

    @staticmethod
    def _done(entry: _Entry) -> None:
        if entry.wake is not None and not entry.wake.done():
            entry.wake.set_result(True)
