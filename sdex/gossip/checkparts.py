"""What a peers' check queue holds (``sdex.gossip.checks``): the intake it calls out to
(``Submit``, ``CheckHooks``), each check's orders and verdicts (``Entry``) and each intake
call's (``Group``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from sdex.gossip.metered import Meter
from sdex.gossip.timing import CheckTiming

Submit = Callable[
    [list[object], list[str], Callable[[], None]], AsyncGenerator[tuple[int, str], None]
]
"""(orders, each one's sender, ``reading``) -> each order's (index, verdict) as it is known
(the node's intake); ``reading`` is called once if the orders with no verdict yet then wait
only on chain reads. If it fails midway it raises (the verdicts yielded before stand)."""


class PartialVerdicts(Exception):
    """An intake call of a list of orders failed midway (``submit_many_from_peer``): the
    verdicts it had given, in order (``""``: none yet). What it raised is the ``__cause__``."""

    def __init__(self, verdicts: list[str]) -> None:
        super().__init__(f"the intake failed after {len(verdicts) - verdicts.count('')} verdicts")
        self.verdicts = verdicts


class Entry:
    """One check's new orders: how many went to the intake, their verdicts."""

    __slots__ = ("began", "check_id", "error", "given", "got", "left", "orders", "owner",
                 "parked", "pays", "results", "sender", "unjudged", "wake")  # fmt: skip

    def __init__(
        self, sender: str, check_id: int, orders: list[object], pays: bool = False
    ) -> None:
        self.sender = sender
        self.pays = pays
        """Its sender pays for the intake's loop time its orders took (a push: ``paid``)."""
        self.owner = sender
        """Whose bound of pending reads its orders count against (``CheckHooks.owner``)."""
        self.check_id = check_id
        self.orders = orders
        self.given = 0
        self.results = [""] * len(orders)
        """Each order's verdict (``""``: none yet), in the orders' order."""
        self.got = 0
        self.unjudged: list[str] = []
        """Verdicts not told to the core yet (told together: at the end or a turn's)."""
        self.wake: asyncio.Future[bool] | None = None
        """Resolved True: its verdicts are all in (or it failed); False: it leads now."""
        self.began: float | None = None
        self.left = False
        self.parked = False
        self.error: BaseException | None = None
        """What the intake raised on this check's own orders (the check fails with it)."""

    @property
    def finished(self) -> bool:
        return self.error is not None or self.got >= len(self.orders)

    def give(self, i: int, verdict: str) -> None:
        """Its order ``i``'s verdict (none before)."""
        self.results[i] = verdict
        self.got += 1
        self.unjudged.append(verdict)


class Group:
    """One intake call's orders, (check, index of its order) each; those with no verdict yet
    once its turn ended on reads (``pending``: each counted against its sender's bound)."""

    __slots__ = ("charged", "copies", "entries", "fresh", "looked", "meter", "objs", "on_loop",
                 "paid", "pending", "reading", "senders", "shares", "slots", "task",
                 "waiters")  # fmt: skip

    def __init__(self) -> None:
        self.slots: list[tuple[Entry, int]] = []
        self.shares: list[tuple[Entry, int, int]] = []
        """(check, its first order here, how many), in the call's order."""
        self.fresh: list[int] = []
        """Of each share's orders, those not held here as the group's call began (``known``):
        what its sender pays for (flood80; peers83: not as it formed)."""
        self.copies: list[list[int]] = []
        """Of each share's orders, those held here as the group's call began (their indexes
        in its check): one not answered ``known`` by the intake (an intake checking one at a
        time, its held order evicted meanwhile: taken as new) is paid for as a new one
        (peers82)."""
        self.looked: list[float] = []
        """Of each share, the loop time its orders' ``known`` check took as the call began
        (outside its task's steps): its sender's to pay, with the group's first charge."""
        self.charged: list[int] = []
        """Of each share's new orders, those charged ``ORDER_UNMEASURED`` so far (once each)."""
        self.on_loop = 0
        """``CheckHooks.on_loop`` when last paid (or formed): the recoveries since are its."""
        self.objs: list[object] = []
        self.senders: list[str] = []
        self.entries: list[Entry] = []
        self.reading = False
        self.pending: dict[tuple[Entry, int], None] = {}
        self.waiters: list[asyncio.Future[None]] = []
        """Its leaders' (the one that took it, then any the lead passed to meanwhile)."""
        self.task: asyncio.Task[None] | None = None
        self.meter = Meter(cpu=True)
        """The loop thread's CPU time its task's steps took (``metered``; flake93: their
        wall time charged a preemption on a crowded machine to the group's pushers)."""
        self.paid = 0.0
        """Of it, what its checks' senders were charged so far (``PeerChecks._pay``)."""

    def apply(self, slots: list[tuple[Entry, int]], given: list[str]) -> None:
        """The verdicts a call gave its orders ``slots`` (``""``: none yet), onto their
        checks."""
        if slots is self.slots:  # (the group's call: by each check's share)
            k = 0
            for entry, start, n in self.shares:
                part, k = given[k : k + n], k + n
                if "" in part:  # (some wait on reads, or the call failed)
                    for j, verdict in enumerate(part):
                        if verdict:
                            entry.give(start + j, verdict)
                else:
                    entry.results[start : start + n] = part
                    entry.got += n
                    entry.unjudged += part
        else:
            for (entry, i), verdict in zip(slots, given, strict=True):
                if verdict:
                    entry.give(i, verdict)


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
    reads: Callable[[], int] = lambda: 64
    """The most orders whose chain reads may be pending once their group's turn ended."""
    reads_per_peer: Callable[[], int] = lambda: 4
    """The same, of one owner's orders (past it, its next checks are parked)."""
    paid: Callable[[str, float, int, int, int], None] = lambda _s, _secs, _n, _on, _once: None
    """(sender, seconds of the loop, new orders, of them those whose signature was recovered
    on the loop since, of them those not charged before): a pusher's share of a group's
    loop time, charged to its request budget (gossip78: ``gate.intake_spent``)."""
    on_loop: Callable[[], int] = lambda: 0
    """Signatures of peers' orders recovered on the loop so far (``signatures_on_loop``):
    their time is in the group's steps, not to be charged again (flood80)."""
    over: Callable[[str], bool] = lambda _sender: False
    """Is this pusher in debt (its request budget spent)? Its pushed orders not taken yet
    are rejected unchecked (no penalty: anti-entropy fetches them, unpaid, in its rounds)."""
    known: Callable[[object], bool] = lambda _obj: False
    """Is this order a copy of one held here (``known_copy``)? Its intake answers ``known`` at
    once: its pusher pays none of its group's loop time, nor ``ORDER_UNMEASURED`` (flood80)."""
    owner: Callable[[str], str] = lambda sender: sender
    """Whose bound a sender's pending reads count against: an admitted peer's of standing
    its own, all strangers' and newcomers' one (keys are free to make, and admission cheap:
    one each would fill ``reads``; ``checks.reads_owner``)."""
