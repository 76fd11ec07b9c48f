"""The fee floor (``HeadSignal``'s, split from ``sdex.chain.headsignal`` at its cap): what the
node's own reads of the chain hold of its base fee, and how they come in. The mirror's reads
of blocks by their number (``sdex.watch.ranges``: each header's fee in turn, linked to its
parent's) move the floor (``_keep``); a restart's first is the floor saved with the mirror's
head (``resume``; saved: ``floor_at``); a store saved without one starts with none
(``unproven``); blocks applied without their headers carry it (``passed``). ``HeadSignal``
judges each read against it (``doubt``: a rise at most EIP-1559's 9/8 a block from it).

fee95 (left43's, review93b's "lying consistently"): a range deeper than the reorg depth below
the tip the chain claims reads its final part without headers (its logs, and its last block's
hash alone: ``read_range``), and the floor stayed at the last header read while the mirror's
head passed those blocks. The first recent header was then bounded by EIP-1559's highest over
every block passed unread: an endpoint that claimed a tip far enough ahead (or any honest
catch-up the liar answered the recent headers of) had a fee up to the ceiling believed at
once, with no header of the climb read, and the pair signed at it. The blocks passed unread
now carry the floor's fee to the final part's last block as the base of a rise (``passed``,
``rise_from``): a rise is bounded 9/8 a header read, linked, as fee93 meant. A fee that rose
while the node was down by more than the recent headers' 128 steps of 9/8 (3.5 million
times) is believed once the chain's blocks read by number come that far (fee93's walk;
/health's ``baseFee.walk`` says how many). A fall is bounded as before (to 7 wei at the
least; one past the bounds "read again": fee88's honest start logs none).

fee95 (the fee90 weakness, once per upgraded store): a store saved before fee93 holds no
floor; its first start kept the deploy block's fee as the bound (whose reach over every block
since holds every fee to the ceiling) unless the saved head's answer sealed (``check_head``):
an answer of it that did not seal (its fee changed, its hash kept) left a read of the latest
block believed at any fee under the ceiling. Now no fee is believed till the mirror reads a
block by its number (``unproven``: as a reset's new chain, fee87): the saved head's own,
sealed with the hash saved (proven: Keccak), else the first its ranges read.

review96b: the mark of the blocks passed unread lived in memory alone: a restart (the floor
saved below them) bounded the next header over every one of them again, a lie refused before
the restart believed after it. It is saved with the floor (``floor_at``, ``resume``) and
kept through a reorg above it (``kept_passed``).

The lead's decision (review93b's follow-up, fee95): a read of the latest block (the
watcher's poll, the settler's: by tag) never moves the floor, whatever its number; its block
counts once the mirror reads the same block by number, linked to its parent (``placed``).
Blocks of the node's own settlements applied from their receipts (``sdex.watch.blocks``'s
``own_alone``, ``own_run``: no header read by number) keep the floor at the last header read
(conservative: a rise past them is bounded from further back, by more steps; a fall waits a
read again)."""

from __future__ import annotations

from sdex.chain.catchup import CatchUp
from sdex.chain.feebounds import reaches

Floor = tuple[int, int] | tuple[int, int, int]
"""A saved fee floor: (block number, base fee), and the last block the mirror passed unread
past it when there is one (``passed``: review96b, lost at a restart)."""
KEPT_READS = 256
"""Fees kept by block number (``read_fee``'s of late): a reorg's fork point finds its bound
among them (``rewound``)."""


class FeeFloor(CatchUp):
    """(``HeadSignal``'s) The fees read and kept, and the floor among them that bounds the
    next reads."""

    def __init__(self) -> None:
        super().__init__()  # (the catch-up's state: ``sdex.chain.catchup``)
        self.read_fee: tuple[int, int] | None = None
        """(block number, base fee) last read from the chain (a poll's, or the settler's):
        what bounds an announced fee (``bound``)."""
        self._kept: dict[int, int] = {}
        """The fees that were ``_floor`` by block number (the last ``KEPT_READS``)."""
        self._floor: tuple[int, int] | None = None
        """The last ``read_fee`` at or below the head this node knows when read (placed, or
        its number at most ``_anchor``): what bounds the next reads (``doubt``). review90:
        the bound was ``read_fee``, a read up to ``FEE_STEPS`` past that head: a lie there at
        EIP-1559's highest bounded the next one, an eighth a block to the ceiling, and the
        watcher's honest reads below it refused ("below block N read before")."""
        self.first: tuple[int, int] | None = None
        """The first ``read_fee`` (the start's deploy block): the bound after a reorg below
        every kept one (``rewound``); none after a reset."""
        self.reached: int | None = None
        """The highest block read for the mirror (``placed``) and kept: after a reorg the
        chain is known to have come that far (``doubt``'s top, as ``known``) if its latest
        block said so (settle89: a shorter branch's reads were bounded as of the old height);
        none after a reset."""
        self.unbound = False
        """A reset rewound, and no block of the new chain was read for the mirror since: a
        read fee is not believed (``doubt``)."""
        self._placed: int | None = None
        """The highest block whose fee was read asked for by its number (``placed``: the
        deploy block's, the watcher's ranges) since the last ``rewound``."""
        self._passed: int | None = None
        """The last block the mirror passed unread past the floor (``passed``)."""
        self.resumed = False
        """The first bound is the floor saved with the mirror's head (``resume``): the saved
        head's fee is not read again (``sdex.watch.fork.check_head``)."""

    def _keep(self, read: tuple[int, int], floor: bool = True) -> None:
        """``read`` (block number, base fee) is the last read (``read_fee``); a ``floor``'s (a
        block the mirror read by number, or a saved or carried floor) at or below the head
        this node knows (``_anchor``), the bound of the next reads too (``_floor``).
        review93b: a read of the latest block (the watcher's poll, the settler's) or a fall
        the feed confirmed moved the floor too, at any number up to the mirror's head (past
        the last header it read, after blocks of the node's own settlements applied from
        their receipts): a lying endpoint's fall to a few wei, answered twice, held every
        honest header after it out (a rise, never confirmed) for ~180 blocks, at will."""
        self.read_fee = read
        self.unbound = False
        if not floor or ((anchor := self._anchor()) is not None and read[0] > anchor):
            return  # (its number the answer's word: review90)
        self._floor = read
        self._passed = None if read[0] >= (self._passed or 0) else self._passed
        self.first = self.first or read
        self._kept[read[0]] = read[1]
        if len(self._kept) > KEPT_READS:
            del self._kept[min(self._kept)]

    def resume(self, floor: Floor) -> None:
        """``floor`` (block number, base fee; and the last block passed unread past it, if
        any): the fee floor judged at the head the mirror saved with it
        (``sdex.watch.saved``), the first bound of a restart, as a block read for the mirror.
        fee93 (review92): the saved head's fee was read again from the endpoint at each start
        (``check_head``): an answer of its hash and a fee at the ceiling was the bound, and the
        latest block said at the ceiling too was signed with. review96b: the blocks passed
        unread (``passed``) were not saved: a restart bounded the next header by EIP-1559's
        highest over all of them again, a lie refused before it believed after it."""
        number, fee, *passed = floor
        self._placed = max(self._placed or number, number)
        self._keep((number, fee))
        self.reached = max(self.reached or number, number)
        self.resumed = True
        if passed:
            self.passed(passed[0])

    def floor_at(self, head: int) -> Floor | None:
        """The fee floor to save with the mirror's head ``head`` (``resume``'s at the next
        start): the last fee read at or below it that bounds the next reads, and the last
        block passed unread past it (``passed``) if any; None: none."""
        floor = self._floor
        if floor is None or floor[0] > head or self.unbound:
            return None
        passed = self._passed
        return floor if passed is None or not floor[0] < passed <= head else (*floor, passed)

    def passed(self, number: int) -> None:
        """The mirror applies blocks up to ``number`` without their headers (a range's final
        part: ``sdex.watch.ranges``), block ``number`` read by its number (its hash alone): a
        rise is bounded from the floor's fee as at it (``rise_from``; fee95: the next header
        was bounded by EIP-1559's highest over every block passed unread, a fee up to the
        ceiling believed at once). A fall is bounded as before (fee88: an honest chain's fee
        that fell while the blocks passed, read once, was "read again")."""
        floor = self._floor
        if floor is None or floor[0] >= number or self.unbound:
            return
        self._placed = max(self._placed or number, number)
        self._passed = max(self._passed or number, number)
        self.reached = max(self.reached or number, number)

    def rise_from(self, base: tuple[int, int]) -> tuple[int, int]:
        """``base`` (the floor: block number, base fee), as a rise is bounded from: its fee as
        at the last block passed unread past it (``passed``), none of those blocks a step."""
        passed = self._passed
        return base if passed is None or passed <= base[0] else (passed, base[1])

    def in_reach(self, base: tuple[int, int], number: int, fee: int) -> bool:
        """Whether ``fee`` may be block ``number``'s from ``base`` (the floor: block number,
        base fee): a fall by EIP-1559 from it, a rise from it as at the last block passed
        unread past it (``rise_from``): how a header read by number is believed (``doubt``)."""
        rise = self.rise_from(base)
        return reaches(base, number, fee) and (fee <= base[1] or reaches(rise, number, fee))

    def kept_passed(self, passed: int | None, fork: int) -> None:
        """(A reorg to ``fork``: ``rewound``, the floor set again) The blocks passed unread
        (``passed``: the mark before the reorg) up to the fork are still the chain's, passed
        unread: still no step of a rise (review96b: the mark was dropped at every reorg, the
        next header bounded over them all again)."""
        floor = self._floor
        if passed is not None and floor is not None and floor[0] < min(passed, fork):
            self._passed = min(passed, fork)

    def unproven(self) -> None:
        """(A start on a store saved without a floor: an older version's) No fee believed
        till the mirror reads a block by its number (``unbound``, as after a reset): fee95,
        the saved head's fee read once from the endpoint, else the deploy block's reach, was
        the first bound."""
        self.read_fee = self._floor = self.first = self._passed = None
        self._kept.clear()
        self.unbound = True
