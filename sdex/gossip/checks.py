"""Peers' new orders through the node's intake, one group at a time (``Gossip.run_check``).

One group is in the intake at a time, at most ``chunk`` orders, so peers never starve
wallets (between two groups the loop lets waiting requests run). The checks that arrived
while a group was in the intake do not go one by one after it: the next group takes them
together, whoever sent them (one intake call: one ECDSA hand-over, one store group, one
chain-read batch), in the order they came, a large one split over groups. The check at the
head of the queue runs the groups (it *leads*) until its own orders are all in one, then
hands the lead to the next check waiting, which runs the rest. A group's intake call is a
task of its own: a leader that goes away (its stream closed) leaves it running, and the
next leader waits for it (no order checked twice, no credit lost); a check that went away
is still charged for the forged orders it sent. If a group's call raises, each check's
orders with no verdict yet go again on their own: only the check whose orders raise fails;
the verdicts given before the raise stand (a forged one costs its sender, an accepted one
is held). A waiting check that goes away leaves the queue.

A group's turn ends as soon as the orders it has left wait only on chain reads (the intake
says so: ``reading``): the verdicts given so far count then, the next group starts while the
reads run, and each of those counts as its own read ends (checks75: a group's turn lasted
until all its reads had ended, so one order whose read was slow, a contract wallet whose
view burns its gas or an RPC slow to answer it, held every peer's queued checks, the whole
network's gossip into this node, and the other orders of its group, for as long as that
read took). The reads left pending are bounded per peer and in all (``PendingReads``: a
peer's next checks parked at its bound, the next group waiting at the bound in all). Orders
the intake judges without a read (most: known accounts) never wait for another's read.

The queue is an insertion-ordered dict: a check ends or leaves in O(1), and a group walks
only the checks it takes (and those ended, parked or waiting only on reads, each then out
of the queue), so it costs O(the group) however many checks wait (gossip69: a deque, each
group walked all of it, O(queue); one admitted peer may hold ``max_http_per_client``
pushes waiting, 512, and all peers ``max_http``, 4,096).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from itertools import repeat

from sdex.gossip.checkparts import CheckHooks, Entry, Group, PartialVerdicts, Submit
from sdex.gossip.metered import metered
from sdex.gossip.pendingreads import PendingReads
from sdex.gossip.readowners import NEWCOMERS, STRANGERS, reads_owner
from sdex.gossip.stream import cancel_all

log = logging.getLogger("sdex.gossip")
__all__ = [
    "NEWCOMERS",
    "STRANGERS",
    "CheckHooks",
    "PartialVerdicts",
    "PeerChecks",
    "Submit",
    "reads_owner",
]


class PeerChecks:
    """The queue of peers' new orders waiting for the intake, taken in groups."""

    def __init__(self, hooks: CheckHooks) -> None:
        self._hooks = hooks
        self._queue: dict[Entry, None] = {}
        """The checks waiting, in the order they came (a dict: O(1) to leave)."""
        self._empty: list[Entry] = []
        """Checks of no new orders that wait their turn: the next group ends them all."""
        self._leading = False
        self._group: Group | None = None
        """The group whose turn it is (its task: a leader that goes away does not stop it)."""
        self._reading: set[asyncio.Task[None]] = set()
        """Groups whose turn ended on chain reads, still reading."""
        self.reads = PendingReads(hooks)
        """The orders pending on chain reads, and the checks parked at their owners' bound."""
        self.groups = 0
        """Intake calls made."""
        self.merged = 0
        """Of those, calls that took the orders of more than one check."""
        self.unpaid = 0
        """Pushed orders rejected unchecked, their pusher in debt (``Hooks.over``)."""

    @property
    def pending_reads(self) -> int:
        return self.reads.total

    @property
    def parked(self) -> int:
        return self.reads.parked

    @property
    def bounded(self) -> int:
        return self.reads.bounded

    async def run(
        self, sender: str, check_id: int, orders: list[object], pays: bool = False
    ) -> tuple[list[str], float]:
        """``orders``' verdicts, in order, once all are in; and when they began (perf_counter).
        Raises what the intake raised on them. ``pays``: its sender is charged its share of
        the loop time of each group its orders were in (a push: ``CheckHooks.paid``)."""
        entry = Entry(sender, check_id, orders, pays)
        entry.owner = self._hooks.owner(sender)
        try:
            if orders and entry.owner in self.reads.parked_checks:  # (after its owner's parked)
                self.reads.park(entry)
                lead = False
            else:
                self._queue[entry] = None
                lead, self._leading = not self._leading, True
                if not lead and not orders:  # (a check of no new orders, too, waits its turn)
                    self._empty.append(entry)
            turn = not lead  # (one that waits, with no new orders too, waits its turn)
            while lead or turn or not entry.finished:  # (handed the lead: it leads)
                if lead:
                    await self._lead(entry)  # (its orders all in the intake: it waits)
                    lead = False
                else:
                    entry.wake = asyncio.get_running_loop().create_future()
                    lead, turn = not await entry.wake, False
        except BaseException:
            self._leave(entry)
            raise
        if entry.error is not None:
            raise entry.error
        return entry.results, entry.began or time.perf_counter()

    async def close(self) -> None:
        """Stop the groups in the intake (the node stops)."""
        group, self._group = self._group, None
        tasks = list(self._reading)
        if group is not None and group.task is not None:
            tasks.append(group.task)
        await cancel_all(tasks)

    def _leave(self, entry: Entry) -> None:
        """``entry``'s check went away: out of the queue; if it led or was about to, the lead
        passes on."""
        entry.left = True
        self._queue.pop(entry, None)
        if entry.parked:
            self.reads.unpark(entry)
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

    async def _lead(self, mine: Entry) -> None:
        """Run groups until ``mine``'s orders are all in the intake and its group's turn is
        over (or it was parked); then the lead passes on."""
        while mine in self._queue and not mine.finished:
            group = self._group
            if group is None or group.task is None or group.task.done():
                if mine.given >= len(mine.orders):
                    break  # (its orders wait only on chain reads)
                if self.reads.at_bound():
                    await self.reads.wait()
                    continue
                group = self._take()
                if group is None:
                    if mine.finished or mine.parked:  # (rejected on the spot; parked)
                        break
                    raise RuntimeError("a peer's orders were taken with no verdict")
                group.task = asyncio.create_task(self._metered(group), name="gossip-intake")
                self._group = group
            waiter = asyncio.get_running_loop().create_future()
            group.waiters.append(waiter)
            await waiter  # its turn's end (the group goes on if we go)
            if mine in self._queue and not mine.finished:
                await asyncio.sleep(0)  # let waiting wallet requests run
        self._queue.pop(mine, None)
        self._hand_on()

    def _take(self) -> Group | None:
        """The next group from the queue's head, at most ``chunk`` orders; a banned sender's
        orders are rejected on the spot, an owner's at its bound of pending reads parked."""
        room, now, group = max(1, self._hooks.chunk()), time.perf_counter(), Group()
        done, self._empty = self._empty, []  # (no new orders: their turn came)
        out: list[Entry] = []
        most = max(1, self._hooks.reads_per_peer())
        for entry in self._queue:
            if room <= 0:
                break
            n = len(entry.orders) - entry.given
            if entry.began is None:
                entry.began = now
            if n <= 0:
                (done if entry.finished else out).append(entry)  # (the rest: reads)
                continue
            banned = self._hooks.banned(entry.sender)
            if banned or (entry.pays and self._hooks.over(entry.sender)):
                self.unpaid += 0 if banned else n
                entry.given = len(entry.orders)
                entry.got += n
                entry.results[-n:] = ["rejected"] * n
                entry.unjudged += ["rejected"] * n
                done.append(entry)  # (rejected on the spot: banned, or a pusher in debt)
                continue
            if self.reads.owners.get(entry.owner, 0) >= most:
                out.append(entry)
                continue
            n = min(n, room)
            start = entry.given
            entry.given += n
            group.slots.extend(zip(repeat(entry), range(start, entry.given), strict=False))
            group.objs.extend(entry.orders[start : entry.given])
            group.senders.extend(repeat(entry.sender, n))
            group.shares.append((entry, start, n))
            group.entries.append(entry)
            room -= n
        for entry in out:
            self._queue.pop(entry, None)
            if entry.given < len(entry.orders):
                self.reads.park(entry)
        for entry in done:
            if entry.began is None:
                entry.began = now
            self._end(entry)
        group.on_loop = self._hooks.on_loop()
        return group if group.slots else None

    def _look(self, group: Group) -> None:
        """Which of each share's orders are copies held here now, as its call begins
        (``known``: the intake answers those ``known`` at once, in this same step, and a copy
        costs its pusher none of its group's intake), and the loop time that check took (a
        deep compare an order, outside the metered steps: its pusher's), read on the
        thread's CPU clock (a preemption meanwhile, on a crowded machine, is not its
        pusher's doing: two reads a share, not an order). peers83: looked at as the group
        formed, a copy whose held order was cancelled before its call began was checked in
        full by the intake (parse, hash, signature), answered ``known`` (held cancelled),
        and charged to nobody."""
        known = self._hooks.known
        for entry, start, n in group.shares:
            cpu = time.thread_time()
            try:
                copies = [i for i in range(start, start + n) if known(entry.orders[i])]
            except Exception:  # (then none: each a new order's price)
                log.exception("looking for copies held here failed")
                copies = []
            group.looked.append(time.thread_time() - cpu)
            group.copies.append(copies)
            group.fresh.append(n - len(copies))
            group.charged.append(0)

    async def _metered(self, group: Group) -> None:
        """``_check`` with the loop time of each of its steps measured, the pushers' shares
        of it charged as it ends (and as its turn did: ``_call``)."""
        self._look(group)  # (flood80, peers82, peers83)
        try:
            await metered(self._check(group), group.meter)
        finally:
            self._pay(group)

    def _pay(self, group: Group) -> None:
        """The loop time ``group``'s task took since last paid, charged to the senders of
        the pushes in it by their share of its orders (gossip78: a push's new orders were
        the node's to pay for, parse, digest, signature and store, and one admitted peer
        could take the loop from every other one's and the wallets' by pushing orders); by
        their new orders: a copy of an order held here as the group's call began (another
        peer's push of it got there first while this one waited in the queue) is answered
        ``known`` at once and costs its pusher nothing (flood80: each was charged a new
        order's share of the group and ``ORDER_UNMEASURED``; 45% of the orders the intake
        charged for at 500 orders a second across 8 nodes were such copies). A copy the
        intake did not answer ``known`` (checked as new) is a new one, and the ``known``
        check of a share's orders is its sender's too (peers82: both were free, the check
        done on the loop outside the group's task, and a copy turned new checked at the
        other pushers' cost). Each new order is charged ``ORDER_UNMEASURED`` once
        (``Group.charged``; peers83: a group paid as its turn ended and again as it ended
        charged it twice, 20 orders for a push of 10), the steps' time up to ``MOST_SECONDS``
        an order each time."""
        seconds = group.meter.seconds - group.paid
        if seconds <= 0.0 or not group.slots:
            return
        group.paid += seconds
        news = [
            fresh + sum(entry.results[i] != "known" for i in copies)
            for (entry, _start, _n), fresh, copies in zip(
                group.shares, group.fresh, group.copies, strict=True
            )
        ]
        total, looked, group.looked = sum(news), group.looked, [0.0] * len(group.looked)
        try:
            on_loop, group.on_loop = group.on_loop, self._hooks.on_loop()
            on_loop = group.on_loop - on_loop  # (recovered on the loop since: its steps')
            for k, ((entry, _start, n), new) in enumerate(zip(group.shares, news, strict=True)):
                once, group.charged[k] = max(0, new - group.charged[k]), max(new, group.charged[k])
                if entry.pays:
                    part = new / total if total else n / len(group.slots)
                    took = seconds * part + looked[k]  # (and its check of copies)
                    self._hooks.paid(entry.sender, took, new, round(on_loop * part), once)
        except Exception:  # (a charge never costs a verdict)
            log.exception("charging a push's intake failed")

    async def _check(self, group: Group) -> None:
        """One group through the intake (a task); if the call raises, each check's orders
        with no verdict on their own, so only the check whose orders raise fails (the
        others get verdicts). Its leaders wake as its turn ends (a leader and the checks it
        woke go on in the same turn, so their answers leave together)."""
        self.merged += len(group.entries) > 1
        try:
            try:
                await self._call(group, group.slots, group.objs, group.senders, turn=True)
            except Exception as e:
                if len(group.entries) == 1:
                    self._fail(group.entries[0], e)
                    return
                for entry in group.entries:
                    alone = [(x, i) for x, i in group.slots if x is entry and not x.results[i]]
                    try:
                        if alone and not entry.finished:
                            objs = [entry.orders[i] for _x, i in alone]
                            senders = [entry.sender] * len(alone)
                            await self._call(group, alone, objs, senders, turn=False)
                    except Exception as err:
                        self._fail(entry, err)
        except BaseException:  # cancelled (the node stops): what has no verdict fails
            for entry in group.entries:
                if not entry.finished:
                    entry.error = asyncio.CancelledError()
                    self._end(entry)
            for waiter in group.waiters:  # (its leader is cancelled too)
                waiter.cancel()
            raise
        finally:
            for entry in group.entries:
                self._judge(entry)
            self._turn_over(group)
            for entry, _i in group.pending:
                self._unpend(entry.owner)
            group.pending.clear()
            if group.task is not None:
                self._reading.discard(group.task)
            self.reads.free()

    async def _call(
        self,
        group: Group,
        slots: list[tuple[Entry, int]],
        objs: list[object],
        senders: list[str],
        turn: bool,
    ) -> None:
        """``slots``' orders through the intake. Their verdicts count together as the turn
        ends (the orders left wait on chain reads, or the call ended or raised: those given
        stand), each after that as it comes. ``turn``: the group's turn ends then (not a
        failed call's orders again, each check's alone: they keep the turn, as the call
        did)."""
        self.groups += 1
        wall, cpu, batch = time.perf_counter(), time.thread_time(), True
        given = [""] * len(objs)

        def turn_over() -> None:  # (what the call cost until the queue went on)
            nonlocal batch
            if batch:
                batch = False
                try:
                    c, w = time.thread_time() - cpu, time.perf_counter() - wall
                    self._hooks.timing.add(given.count("accepted"), c, w)
                except Exception:  # a measure never costs a verdict
                    log.exception("timing a peer check failed")
                self._apply(group, slots, given)
                self._pay(group)  # (what its steps took so far: the rest as it ends)
            if turn:
                self._read_on(group)

        try:
            async with contextlib.aclosing(self._hooks.submit(objs, senders, turn_over)) as each:
                async for k, verdict in each:  # (each order's: kept lean; none: counted below)
                    given[k] = verdict
                    if not batch:
                        self._give(group, slots[k], verdict)
        finally:
            turn = False  # (the group's turn ends with its task)
            turn_over()
        if missing := given.count(""):
            raise RuntimeError(f"{len(objs) - missing} verdicts for {len(objs)} orders")

    def _apply(self, group: Group, slots: list[tuple[Entry, int]], given: list[str]) -> None:
        """The verdicts a call gave its orders ``slots`` before its turn ended (``""``:
        none yet), onto their checks; a check they complete ends."""
        group.apply(slots, given)
        for entry in group.entries:
            if entry.finished:
                self._end(entry)

    def _give(self, group: Group, slot: tuple[Entry, int], verdict: str) -> None:
        """One order's verdict after its call's turn ended (its read ended): it counts, its
        check ends if all are in, its read is no longer pending."""
        entry, i = slot
        if entry.results[i] or not verdict:
            raise RuntimeError(f"a verdict again, or none, for an order of {entry.sender}")
        entry.give(i, verdict)
        if slot in group.pending:
            del group.pending[slot]
            self._unpend(entry.owner)
            self.reads.free()
        if entry.finished:
            self._end(entry)
        else:
            self._judge(entry)

    def _read_on(self, group: Group) -> None:
        """``group``'s turn is over: the orders it has left wait on chain reads (counted
        against their senders' bounds), or it ended; its leaders wake, the next may start."""
        if not group.reading:
            group.reading = True
            for entry, i in group.slots:
                if not entry.results[i] and not entry.finished:
                    group.pending[entry, i] = None
                    self.reads.add(entry.owner)
            for entry in group.entries:
                self._judge(entry)
        self._turn_over(group)

    def _turn_over(self, group: Group) -> None:
        if self._group is group:
            self._group = None
            if group.task is not None and not group.task.done():
                self._reading.add(group.task)
        for waiter in group.waiters:
            if not waiter.done():
                waiter.set_result(None)
        group.waiters = []

    def _unpend(self, owner: str) -> None:
        """One of ``owner``'s orders is no longer pending on a read: at its bound no more,
        its parked checks go back to the queue (after the others)."""
        if back := self.reads.remove(owner):
            for entry in back:
                self._queue[entry] = None
            if not self._leading:
                self._leading = True
                self._hand_on()

    def _judge(self, entry: Entry) -> None:
        """``entry``'s verdicts given since it was last judged go to the core: forged ones
        cost its sender."""
        if not entry.unjudged:
            return
        verdicts, entry.unjudged = entry.unjudged, []
        try:  # (bookkeeping: the verdicts stand whatever it raises)
            if not entry.left and entry.error is None:
                self._hooks.judge(entry.check_id, verdicts)
            elif forged := verdicts.count("forged"):  # gone or failed: the core forgot it
                self._hooks.penalize(entry.sender, forged)
        except Exception:
            log.exception("judging orders from %s failed", entry.sender)

    def _fail(self, entry: Entry, error: Exception) -> None:
        """``entry``'s check fails with what the intake raised on its orders. The verdicts
        its orders got before still count: a forged one costs its sender, an accepted one is
        held; an order with no verdict costs nothing."""
        self._judge(entry)  # (before it fails: its check is the core's still)
        entry.error = error
        if entry.left:
            log.error("checking orders from %s failed", entry.sender, exc_info=error)
        self._end(entry)

    def _end(self, entry: Entry) -> None:
        """``entry`` has its verdicts (or failed): judged, out of the queue, its check wakes."""
        self._judge(entry)
        self._queue.pop(entry, None)
        if entry.parked:
            self.reads.unpark(entry)
        if entry.wake is not None and not entry.wake.done():
            entry.wake.set_result(True)
