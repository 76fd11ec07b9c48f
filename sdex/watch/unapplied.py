"""Blocks the watcher knows the chain has (announced, or answered to a poll) and the node has
not applied to its book yet: while one is known, not a block of the node's own settlement
alone, the node signs no settlement (``sdex.node.diaghold``'s hold of every order), up to
``BOUND`` a block.

behind77 (chaos52 seed 29, every fault mix): a node's database was locked 1.6 s, its watcher
held behind the store's writer with block 94 announced and not applied; 10 ms after the lock
ended a new ask matched a bid another node's settlement had filled whole in block 94, and the
settlement the node signed reverted, the operator paying. behind77 held only past a 0.1 s
grace; revert78 (chaos52 seed 25, every fault mix): a maker's on-chain cancel mined in block
85, announced, its block not applied (the watcher waited for an own receipt): the node
signed a match of the cancelled ask 83 ms after the block, within that grace, and it
reverted ``OrderNotFillable``. A block's logs say which orders it touches only once read,
which is what applying it costs (a few ms): so every match waits for a known block, as a
serious relayer signs against the head it knows, not the one it had. Blocks of the node's
own settlements alone hold nothing (their receipts are in the book: ``own``). A block left
unapplied for ``BOUND`` (a store refusing, a defect) stops holding: matches are signed
against the book as it stands, as before, and ``/health`` says so
(``chainMirror.unapplied``, with how often and how long signing was held)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

log = logging.getLogger("sdex.watch")

BOUND = 5.0
"""Seconds at most signing is held for one unapplied block: past that the node signs as the
book stands (a watcher stuck that long must not stall settlement for good)."""
KEPT = 256
"""Known, unapplied block numbers kept at most (the oldest always: it says since when)."""
LATE = 60.0
"""Seconds after a newHeads announcement came late (its block told first by the chain's own
word: a poll's answer, a send's ask) that announcements make no head fresh for a send
(``Unapplied.announced``): each send asks the chain's head meanwhile."""
TOLD_FAR = 2
"""Blocks ``Unapplied.told`` may stand above a poll's answer for the latest block unproven (a
backend a block or two ahead of the polls', a feed late): further, the head is read again
(``Watcher._proven_below``) and ``told`` lowered to what those reads all show
(``Unapplied.told_back``)."""


class Unapplied:
    """The blocks known and not applied, each with when it became known (oldest first), and
    the holds of signing they made (counted: ``holds``, ``held_seconds``, ``longest``)."""

    def __init__(self) -> None:
        self.applied = -1
        """The highest block whose changes the node has applied (its book is at it)."""
        self.known: list[tuple[int, float]] = []
        """(block, monotonic time it became known), ascending, each above ``applied``."""
        self.cleared: Callable[[], None] = lambda: None
        """Called when a hold that a signing met ends (the settler woken)."""
        self.own: Callable[[int], bool] = lambda number: False
        """Whether a block holds the node's own settlement alone, its receipt here
        (``Watcher._own_block``): the book has its changes (the settler confirmed them), so
        it holds nothing back. (On automine each settlement is a block: a watcher lagging
        behind them under load held the next batches, 2.5 s order-to-receipt at 100 a
        second.)"""
        self.let_go = 0
        """Times a block stayed unapplied past ``BOUND`` and signing went on."""
        self.holds = 0
        """Holds a signing met (the settler asked while a known block was not applied)."""
        self.held_seconds = 0.0
        """Their time, summed: from the first signing each held to its end."""
        self.longest = 0.0
        """The longest of them, seconds."""
        self.heard = 0.0
        """When (monotonic) the chain last told the watcher its head (an announcement, a
        poll's answer, a send's check: ``PollLoop.before_send``). review80: an announcement
        of a block below the highest known (a feed behind the chain, or repeating itself)
        tells none: it made the head fresh, and a send right after it asked nothing, signed
        against a book a block behind the chain. watch82: nor does one while the feed is
        late (``announced``)."""
        self.told = -1
        """The highest block the chain's own word told the watcher of (a poll's answer for
        the latest block, a send's ask): an announcement of it or below came late. Lowered
        when the book is brought back below it (``caught_up``: the chain went back), or when
        reads apart prove the head below it (``told_back``, ``back_at_start``)."""
        self.late = 0
        """Announcements that came late (``announced``)."""
        self._late_at = -LATE  # (monotonic: the last of them)
        self.send_waits = 0
        """Sends that waited for a block known since their signature (``settled``)."""
        self.send_waited = 0.0
        """Their time, summed, seconds."""
        self.replacing: int | None = None
        """The lowest block a poll's answer said the chain replaced (``replaced``), till the
        node applies it or a poll proves it ours after all (``ours_again``)."""
        self.disproven = 0
        """Such marks a poll proved wrong (a backend flapping to a stale sibling)."""
        self.unwinding: int | None = None
        """A saved head proven replaced at the start (``replaced``, ``proven``: another hash
        said twice, ``sdex.watch.fork.check_head``), till a poll's unwind of it is applied
        (``caught_up``): signing held meanwhile, with no ``BOUND``. review82b: the stored
        orders were judged from the replaced branch's mirror, and with the catch-up's polls
        failing past ``BOUND`` the settler signed on that book (paid reverts). The API's
        answers are the replaced head's till then too: ``/health`` says so."""
        self.start_gap: int | None = None
        """The highest head the start's reads showed (``starting``), past the saved head
        the book is at (``behind_at_start``), till the node applies up to it
        (``caught_up``; a lower head, proven: ``back_at_start``): signing held meanwhile,
        with no ``BOUND``. watch84: each such block held ``BOUND`` from the node's
        readiness, and a catch-up whose reads failed longer than that had the node sign on
        the saved head's book, behind blocks the chain has and the node never read (fills,
        cancels, funds moved while it was down: paid reverts). ``BOUND`` is for a running
        watcher's flaps; a start has read none of them. ``/health`` says so while the
        catch-up fails. review86a: set from ``check_head``'s one read alone, a stale
        ``eth_blockNumber`` there left no gap, the blocks the node's own latest read showed
        held ``BOUND``, then signed past."""
        self.starting = False
        """From ``behind_at_start`` till the node is ready (``from_now``): each head the
        chain's word shows (not an announcement) raises ``start_gap``."""
        self._since: float | None = None  # (the hold a signing met: since when; None: none)
        self._said = -1  # (the block whose passing of ``BOUND`` was logged)
        self._waiters: list[asyncio.Future[None]] = []  # (``settled``'s, woken by ``ended``)

    def announced(self, number: int, branch: bool = False) -> None:
        """A newHeads announcement of block ``number`` (``saw``): late when the chain's own
        word told of it first (``told``), and then no announcement makes the head fresh for
        ``LATE`` seconds. watch82: a feed that announced each block late had each
        announcement count as the head heard, and a send within ``HEAD_FRESH`` of it asked
        nothing while a newer block (a cancel, mined, not announced yet) was the chain's.
        ``branch``: another block than the one the node keeps at ``number`` (a reorg's new
        branch, ``PollLoop._on_head``), which no word told of: on time (watch84: after each
        reorg to a branch no longer than the old, its first announcement counted late, a
        minute of extra head checks)."""
        if number <= self.told and not branch:
            self.late += 1
            self._late_at = time.monotonic()
        self.saw(number, feed=True)

    def on_time(self) -> bool:
        """Whether no announcement came late for ``LATE`` seconds."""
        return time.monotonic() - self._late_at >= LATE

    def saw(self, number: int, polled: bool = False, feed: bool = False) -> None:
        """The chain has block ``number``, and so every block below it (``feed``: a newHeads
        announcement, or one taken for the latest block, fresh news of the head only while
        the feed is on time; ``polled``: a poll's answer for the latest block, which also
        drops the blocks above it: the chain went back below them, a reorg or a rewind)."""
        known = self.known
        last = known[-1][0] if known else self.applied
        if not feed:
            self.told = max(self.told, number)
            if self.starting and number > self.applied >= 0:  # (any start read: start86)
                self.start_gap = max(self.start_gap or number, number)
        if (polled or number > last) and (not feed or self.on_time()):
            self.heard = time.monotonic()  # (review80: an old head again is no news of it)
        if polled:
            while known and known[-1][0] > number:
                known.pop()
            last = known[-1][0] if known else self.applied
        if number > self.applied and number > last:
            # Every block up to it, each known from now: one between was never heard of
            # (polled, no newHeads; an announcement missed) but is there, and may be another
            # party's under one of our own settlement alone (review79: a cancel's block under
            # our own, which alone held nothing, a match of the cancelled ask signed, reverted)
            now, low = time.monotonic(), max(last, self.applied) + 1
            if self.applied < 0 and not known:  # (nothing applied yet, a start: this one)
                low = number
            known.append((low, now))  # (the lowest kept, and up to ``KEPT`` - 1 highest)
            known.extend((n, now) for n in range(max(low + 1, number - KEPT + 2), number + 1))
            if len(known) > KEPT:  # (the oldest stays: since when the book is behind)
                del known[1 : len(known) - KEPT + 1]
        self.ended()  # (an announcement may show a block our own: ``own``)

    def replaced(self, number: int, proven: bool = False) -> None:
        """The chain has another block than the one the node applied at ``number`` (a
        reorg, polled): the book is the old branch's from there, so ``number`` is known and
        not applied (sign79: the same height again, nothing above what was applied, held
        nothing while the reorg was read). ``proven``: the start's saved head, by two reads
        (``unwinding``: held till undone)."""
        if proven:
            self.unwinding = number if self.unwinding is None else min(self.unwinding, number)
        if number <= self.applied:
            self.applied = number - 1
            while self.known and self.known[-1][0] >= number:
                self.known.pop()
            self.replacing = number if self.replacing is None else min(self.replacing, number)
            self.saw(number)

    def behind_at_start(self, latest: int) -> None:
        """(A start whose book is at its saved head, ``applied``) The chain's head read as
        ``latest`` (``saw``): past the saved head, signing is held till it is applied
        (``start_gap``), as past any head a start read shows after it (``starting``)."""
        self.starting = True
        self.saw(latest)

    def back_at_start(self, number: int, since: float | None = None) -> None:
        """The chain's head proven at ``number``, below ``start_gap`` (a poll's answer and
        ``AGREE`` reads of the head, each a request of its own, begun at ``since``,
        monotonic: ``Watcher._proven_below``): the chain went back (a reorg to a shorter
        branch, a rewind) or a start read was wrong; the gap lowered to it (none at or below
        the book), ``told`` too, the known blocks above it dropped (with ``since``: those
        known before it; one known during the reads stays, as ``told_back``'s). review86a:
        a poll's one lower latest (a lagging backend's) ended the start's hold, the node
        signing on the saved head's book, the chain past it; left40: a start read's one
        wrong answer far above the chain raised ``told`` for good (each announcement up to
        it late, each send asking the head)."""
        if self.start_gap is None or number >= self.start_gap:
            return
        self.start_gap = number if number > self.applied else None
        self.told = min(self.told, number)
        after = float("inf") if since is None else since
        self.known = [(n, t) for n, t in self.known if n <= number or t > after]
        self.ended()

    def told_back(self, number: int, since: float) -> None:
        """The chain's head proven at ``number``, more than ``TOLD_FAR`` below ``told`` (a
        poll's latest and ``AGREE`` reads of the head, each a request of its own, begun at
        ``since``, monotonic: ``Watcher._proven_below``): ``told`` lowered to it, never
        raised; the blocks known above it from before ``since`` dropped (one announced
        during the reads stays). watch87 (left40, review84): a send's ask
        (``PollLoop.before_send``) answered once far above the chain (a lying or broken
        backend) raised ``told`` for good: every announcement up to it counted late, and
        each send asked the chain's head, for as long as the chain stayed below it. Its
        blocks stayed known till a poll's own answer for the latest (announcements taken
        for it drop none): past ``BOUND`` they held nothing, and a real block announced
        below the highest of them was never known on its own (held nothing either)."""
        self.told = min(self.told, number)
        self.known = [(n, t) for n, t in self.known if n <= number or t > since]
        self.ended()

    def ours_again(self, head: int) -> None:
        """The block ``replacing`` names is ours after all, the chain's latest our ``head``
        (proven by ``AGREE`` polls in a row that found it unchanged and read the block as
        ours: ``Watcher._unreplaced``): the book is at ``head``, nothing is held for the mark
        (watch80: it held signing ``BOUND``, then ``/health`` said a let-go and the block
        unapplied till the next one was applied)."""
        self.disproven += 1
        self.replacing = None  # (no reorg applied: ``caught_up`` lowers nothing)
        self.caught_up(head)

    def caught_up(self, number: int) -> None:
        """The node applied the changes of the blocks up to ``number``. The book brought
        back (below the block it was at, or over a block ``replaced``: a reorg, a rewind or
        a reset, proven by the reads that applied it) lowers ``told`` to it. review82b: a
        maximum never taken back, every on-time announcement of the new branch up to the
        old height counted late (a send's ``eth_blockNumber`` each, for ``LATE`` seconds
        after the last; for ever after a devnet reset far below). A poll's lower latest
        alone (a backend behind) lowers nothing: it is not applied."""
        back = number < self.applied or (self.replacing is not None and self.replacing <= number)
        if back and number < self.told:
            self.told = number
        self.applied = number
        self.unwinding = None  # (applied since the start's proof: undone, or ours again)
        if self.start_gap is not None and (number >= self.start_gap or back):
            self.start_gap = None  # (caught up; or brought back: a running watcher's rules)
        if self.replacing is not None and self.replacing <= number:
            self.replacing = None
        known = self.known
        while known and known[0][0] <= number:
            known.pop(0)
        self.ended()

    def ended(self) -> None:
        """A hold a signing met is over (applied, the chain below, or the block found to be
        an own settlement's alone: its receipt came): counted, the settler woken."""
        waiters, self._waiters = self._waiters, []
        for w in waiters:  # (a send waiting in ``settled`` looks again)
            if not w.done():
                w.set_result(None)
        if self._since is None or self._held():
            return
        took = time.monotonic() - self._since
        self._since = None
        self.held_seconds += took
        self.longest = max(self.longest, took)
        self.cleared()

    def _oldest(self, upto: int | None = None) -> tuple[int, float] | None:
        """The oldest known block not applied that is not an own settlement's alone (at or
        below ``upto``, if given)."""
        known = self.known if upto is None else [(n, t) for n, t in self.known if n <= upto]
        return next(((n, t) for n, t in known if not self.own(n)), None)

    def from_now(self) -> None:
        """The blocks known, each known from now (the node is ready to sign: blocks the
        start's reads showed hold ``BOUND`` from here, not from those reads; a load longer
        than ``BOUND`` let them go before any signing); the start's reads are over
        (``starting``)."""
        self.starting = False
        now = time.monotonic()
        self.known = [(n, now) for n, _ in self.known]

    def behind_for(self) -> float:
        """Seconds since that block became known (0: none)."""
        oldest = self._oldest()
        return 0.0 if oldest is None else time.monotonic() - oldest[1]

    def _held(self, upto: int | None = None) -> bool:
        """Whether such a block is known (at or below ``upto``, if given), for less than
        ``BOUND`` (then logged once), or the start's replaced head is not undone yet
        (``unwinding``: no bound), or a start behind the chain has not caught up
        (``start_gap``: no bound)."""
        if self.unwinding is not None or self.start_gap is not None:
            return True
        if not self.known or (oldest := self._oldest(upto)) is None:
            return False
        lag = time.monotonic() - oldest[1]
        if lag < BOUND:
            return True
        block = oldest[0]
        if self._said != block:
            self._said = block
            self.let_go += 1
            log.warning(
                "block %d known for %.1f s and not applied yet (book at block %d): "
                "settlements are signed against the book as it stands",
                block, lag, self.applied,
            )  # fmt: skip
        return False

    def holding(self) -> bool:
        """Whether signing is held now (asked by the settler: a hold it meets is counted,
        and ends by ``ended``)."""
        if not self._held():
            self.ended()  # (past the bound: over)
            return False
        if self._since is None:
            self._since = time.monotonic()
            self.holds += 1
        return True

    async def settled(self, bound: float) -> None:
        """Until no known block holds signing (``_held``: each applied, found an own
        settlement's, or past ``BOUND``), ``bound`` seconds at most: a signed settlement's
        send waits so for a block that became known since its signature (revert79), then
        looks at its matches again (``sdex.settlement.batchtx``). Only the blocks known now:
        one that comes meanwhile is not waited for (under other parties' steady traffic, a
        watcher a block behind kept a send waiting block after block, up to ``bound``)."""
        upto = self.known[-1][0] if self.known else self.applied
        if not self._held(upto):
            return
        began = time.monotonic()
        self.send_waits += 1
        loop = asyncio.get_running_loop()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(bound):
                    while self._held(upto):
                        waiter: asyncio.Future[None] = loop.create_future()
                        self._waiters.append(waiter)
                        await waiter
        finally:
            self.send_waited += time.monotonic() - began

    def to_json(self) -> dict[str, object]:
        """``/health``'s ``chainMirror.unapplied``: the oldest block known and not applied,
        for how long, whether signing waits for it, and the holds signings met."""
        lag, oldest = self.behind_for(), self._oldest()
        signing = "held" if self._held() else "free" if lag < BOUND else "not held: past bound"
        now = 0.0 if self._since is None else time.monotonic() - self._since
        return {
            "appliedBlock": self.applied,
            "oldestUnapplied": oldest[0] if oldest is not None else None,
            "latestKnown": self.known[-1][0] if self.known else self.applied,
            "behindSeconds": round(lag, 3),
            "signing": signing,
            "letGo": self.let_go,
            "holds": self.holds,
            "heldSeconds": round(self.held_seconds + now, 3),
            "longestHold": round(max(self.longest, now), 3),
            "sendWaits": self.send_waits,
            "sendWaitedSeconds": round(self.send_waited, 3),
            "replacedDisproven": self.disproven,
            "lateAnnouncements": self.late,
            "startUnwind": self.unwinding,
            "startGap": self.start_gap,
        }
