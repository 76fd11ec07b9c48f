"""What the newHeads feed announced and the polls answered: the headers heard, which of them
stands for a block number now (``header_at``), and whether the feed is believed.

sign79 (review79): the header at a number was the announced one before a newer poll's, so
after a reorg whose announcement was missed a stale announcement of our own settlement's
block alone exempted the other party's block now at that number from holding signing. A
header now stands for its number only when it is the last heard (a poll's answer or an
announcement) or linked to it by parent hashes through announced headers.

A feed's announcement the chain contradicts (no block at its number, or another one where
the chain has nothing newer: a lying or broken feed) started a hold of signing each time,
without end if the feed re-announced after every poll; now the feed is distrusted for
``DISTRUST`` seconds (doubled for each lie in a row, up to ``MAX_DISTRUST``): its
announcements are dropped and the watcher polls meanwhile.

review80: a provider's WebSocket and JSON-RPC are often two backends behind a balancer, and
the feed's announces a block before the reads' has it: each such announcement was a lie,
the distrust doubled at each (a block on our head never resets the run) to 10 minutes, an
honest feed not listened to for good. Now the chain's block at a contradicted
announcement's number, once read (``settled``), judges it: the very block announced is the
reads' lag, the distrust it made lifted and its lie taken back (``lags``).

watch80: the block read with another ``baseFeePerGas`` than announced (its hash copied) is
a lie no lag explains (``fee_lie``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sdex.chain.arpc import AsyncRpc
from sdex.mirror import Header
from sdex.watch.blocks import ANNOUNCED_KEPT, remember

log = logging.getLogger("sdex.watch")

DISTRUST = 30.0
"""Seconds a feed caught in a lie is not listened to (doubled for each further lie, up to
``MAX_DISTRUST``): the watcher polls meanwhile."""
MAX_DISTRUST = 600.0


class Feed:
    """Announced headers by number, the last poll's answer, and the feed's standing."""

    def __init__(self) -> None:
        self.announced: dict[int, Header] = {}
        """Recent announced headers by number (``own_run``; ``ANNOUNCED_KEPT`` about the last)."""
        self.polled: Header | None = None
        """The last poll's answer for the latest block."""
        self.tip: Header | None = None
        """The last header heard, announced or polled."""
        self.lies = 0
        """Announcements the chain contradicted."""
        self.ignored = 0
        """Announcements dropped while the feed was distrusted."""
        self.owed = False
        """A lie found since the last poll's answer: that answer bounds the chain's words
        read meanwhile (``PollLoop.lied``)."""
        self.suspect: Header | None = None
        """The last announcement the chain contradicted, till the chain's block at its
        number is read (``settled``): the same one, the reads' backend lagged."""
        self.lags = 0
        """Contradicted announcements the chain bore out later (taken back from ``lies``)."""
        self.distrust = 0.0
        """Seconds of the last distrust (``DISTRUST``, doubled for each lie in a row)."""
        self._before = (0.0, 0)  # (the distrust and the run before the suspect's lie)
        self._since: dict[str, None] = {}  # (hashes heard since the last lie, the newest)
        self._until = 0.0  # (monotonic: distrusted till then)
        self._run = 0  # (lies in a row: each doubles the distrust)

    def trusted(self) -> bool:
        return time.monotonic() >= self._until

    def heard(self, header: Header) -> bool:
        """An announcement: kept unless the feed is distrusted (then dropped: False)."""
        if not self.trusted():
            self.ignored += 1
            return False
        above = self.tip is None or header.number > self.tip.number
        remember(self.announced, header)
        self._move_tip(header)
        if self._run and above:  # (one of them applied ends the run: ``borne``; review80b:
            # not a block known before, our head said again, applied before the lie)
            self._since[header.hash] = None
            if len(self._since) > ANNOUNCED_KEPT:
                del self._since[next(iter(self._since))]
        return True

    def _move_tip(self, header: Header) -> None:
        """``header`` heard last: the tip, unless it is below the tip and stands for its
        number already (an announcement or an answer that came late)."""
        t = self.tip
        if t is None or header.number >= t.number or self.header_at(header.number) != header:
            self.tip = header

    def answered(self, header: Header) -> None:
        """A poll's answer for the latest block (or an announcement taken for it)."""
        self.polled = header
        self._move_tip(header)

    def confirmed(self) -> None:
        """The chain confirmed what the feed announced (a block read as announced): a lie
        before it no longer doubles the next distrust."""
        self._run = 0
        self._since.clear()

    def borne(self, applied: Header | None) -> None:
        """The node applied ``applied`` (its head): one announced since the last lie, the
        chain confirmed the feed (``confirmed``). review80: only a far-ahead announcement
        confirmed it, so a feed announcing each block on our head never ended a run, and a
        lie weeks after the last one (a backend's glitch, a block orphaned at the tip) was
        distrusted twice as long, up to 10 minutes for good."""
        if self._run and applied is not None and applied.hash in self._since:
            self.confirmed()

    def contradicted(self, header: Header, why: str, lag: bool = True) -> None:
        """The chain contradicts announced ``header`` (``why``): the feed is not listened to
        for a while, its announcements above the chain's dropped. ``lag``: a backend's lag
        may explain it (no block there yet: ``settled`` judges it once read); else (the
        very block with another ``baseFeePerGas``: watch80) a lie for good."""
        if not lag:
            self.suspect = None  # (nothing taken back: ``_before`` not restored over it)
        elif self.suspect is None or self.suspect.hash != header.hash:
            self._before = self._until, self._run
        if lag:
            self.suspect = header
        self.lies += 1
        self._run += 1
        self.owed = True
        self._since.clear()
        wait = self.distrust = min(MAX_DISTRUST, DISTRUST * 2 ** (self._run - 1))
        self._until = time.monotonic() + wait
        for n in [n for n, h in self.announced.items() if n >= header.number]:
            del self.announced[n]
        if self.polled is not None and self.polled.hash == header.hash:
            self.polled = None  # (taken for the latest: the range read found it out)
        if self.tip is not None and self.tip.number >= header.number:
            self.tip = self.polled
        log.warning(
            "newHeads announced block %d (%s), which the chain contradicts (%s): "
            "its announcements are not listened to for %g s (polling meanwhile)",
            header.number, header.hash, why, wait,
        )  # fmt: skip

    def settled(self, at: Callable[[int], str | None]) -> None:
        """The chain's block at the suspect's number, ``at(number)``'s hash (None: not read
        yet): the announced one, the reads' backend was behind the feed's, and the distrust
        the lie made is lifted (review80); another, the lie stands."""
        s = self.suspect
        if s is None or (hash_ := at(s.number)) is None:
            return
        self.suspect = None
        if hash_ != s.hash:
            return
        self.lies -= 1
        self.lags += 1
        self._until, self._run = self._before
        log.info(
            "newHeads' block %d (%s) is the chain's: the reads' backend was behind the "
            "feed's, not a lie (listened to again)", s.number, s.hash,
        )  # fmt: skip

    def header_at(self, number: int) -> Header | None:
        """The header that stands for block ``number`` now: the last heard, or one linked to
        it by parent hashes through announced headers (None: not known, or a stale one,
        sign79)."""
        h = self.tip
        if h is None or h.number < number or h.number - number > ANNOUNCED_KEPT:
            return None
        while h.number > number:
            below = self.announced.get(h.number - 1)
            if below is None or below.hash != h.parent:
                return None
            h = below
        return h

    def root(self, number: int) -> str:
        """The ``transactionsRoot`` of block ``number`` as it stands now ("": not known)."""
        h = self.header_at(number)
        return "" if h is None else h.tx_root


async def borne_out(rpc: AsyncRpc, feed: Feed, latest: Header, head: Header | None) -> bool:
    """Whether announced ``latest`` may stand for the chain's latest block in a poll: one
    that follows our head is (the range's read of it is the check: ``Contradicted``); any
    other is read at its number first (one call: the watcher behind, or a feed far ahead),
    a lie when the chain has no block there (``Feed.contradicted``), not taken when it has
    another one (the chain moved: the poll asks)."""
    if head is not None and latest.number == head.number + 1 and latest.parent == head.hash:
        return True
    raw = await rpc.call("eth_getBlockByNumber", hex(latest.number), False)
    if raw is None:
        feed.contradicted(latest, "the chain has no block there")
        return False
    got = Header.from_rpc(raw)
    if got.hash != latest.hash:
        return False
    if (why := fee_lie(latest, got)) is not None:
        feed.contradicted(latest, why, lag=False)
        return False
    if head is None or latest.number > head.number:  # (review80b: our head said again
        feed.confirmed()  # is no block borne out; a liar said it between lies)
    return True


def fee_lie(announced: Header, read: Header) -> str | None:
    """Why the chain's block ``read``, the one ``announced`` (its hash), gives the lie to the
    announcement's ``baseFeePerGas`` (None: it does not). watch80: only the hash was
    checked, so a feed that copied a real header's hash had the settler sign with a fee of
    its own."""
    if announced.base_fee is None or announced.base_fee == read.base_fee:
        return None
    return f"the chain's block has baseFeePerGas {read.base_fee}, not {announced.base_fee}"
