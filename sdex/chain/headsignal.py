"""Heads the chain announced (its newHeads notifications), for those who wait on a block:
the settler asks for a receipt again when a block came, not on a timer; and the latest
head's base fee, which the settler signs with instead of asking the chain for it.

watch80: a feed that copied a real header's hash and changed its ``baseFeePerGas`` was never
caught (the block read checks the hash), and the settler signed with that fee till the next
poll (one far too high refused for the operator's funds, one too low never mined). An
announced fee is now used only within EIP-1559's bounds (the base fee moves at most an
eighth a block) of the last one read from the chain (``read``), at most ``FEE_STEPS``
blocks past it; else it is not used and the settler reads the fee (``refused``). A poll
that reads the announced block with another fee calls the feed a liar
(``sdex.watch.feed``).

bounds84: a fee read from the chain was believed whatever it was (one answer of 2^200, or
fifty times the last, signed with). A read fee is now believed only under
``sdex.chain.tx.MAX_BASE_FEE`` and within EIP-1559's bounds of the last one read; one past
them is not signed with (``untrusted``, why in ``untrusted_why``: /health's
``chainMirror.baseFee``) till a read again agrees with it (the chain's fee may move past the
bounds: a devnet's ``hardhat_setNextBlockBaseFeePerGas``, a chain of other rules).

fee86 (review86a's find): the bound took the block number from the answer it bounds: one
answer saying block 1, or a block far ahead, was not bounded at all and believed at once
(50,000 gwei signed with). A number below the last read is now believed only a lagging
backend's (at most ``FEE_STEPS`` below, the last read reachable from it by EIP-1559), never
the bound of the next; one past the head this node knows (``known``: the mirror's, read
block by block) by more than ``FEE_STEPS`` is bounded as of that many blocks past it, and
neither is confirmed by a read again (the same answer twice places nothing), nor is another
fee of the block read last. The node's first bound is its start's read of the deploy block
(``sdex.node.core``): before, the first read was believed whatever it said. The ceiling is
``ceiling``: ``MAX_BASE_FEE`` unless the operator set another (``sdex node --max-base-fee``:
a chain of higher fees never settled, fee86).

fee87: a reorg or a reset cleared the last read, and the first read after it was bounded by
the ceiling alone. Now a reorg bounds the next reads by the highest fee kept at or below its
fork point (a block on both branches), or the node's first (the deploy block's); a reset
(another chain) by none: a read is believed only once a block of the new chain is read by
its number for the mirror (``placed``), as the start's deploy block was. The head this node
knows is also the highest block read for the mirror (``reached``): while a reorg's new
branch is read, the mirror's head is the fork point, the chain as far as before (if its
latest block says so: settle89, below).

fee88: at each start the watcher's first read of the latest block came before the mirror had
a head: bounded by the deploy block's fee ``FEE_STEPS`` blocks on, an honest chain's fee was
logged as not believed and counted (/health's ``readUntrusted``, ``refusing``). While the
node catches up (``syncing``: its start, a reset's replay) such a read is neither signed
with nor judged (``_unjudged``), the settler's signed with only under EIP-1559's highest
``FEE_STEPS`` past the head known (``_catching_up``, never kept: review89); the
new chain's reads before a reset was seen ("below block N read before") are not counted
once it is (``rewound``).

settle89: after a reorg to a shorter branch (a devnet reverted) ``reached`` stayed the old
branch's height till the chain grew past it, and the bound fell to the highest fee kept at
or below the fork point, most often the deploy block's (the watcher keeps a range's last
block alone): an answer up to 4 past the old height was bounded by EIP-1559 over every block
from there (9/8 a block), ~100 times the chain's fee believed and signed with. A reorg now
bounds by the fork block's own fee (read for the mirror, on both branches: ``Mirror.undo_to``
gives it), and ``reached`` by the head the chain's latest block last said (the poll's that
found the reorg: a shorter branch's).

fee90 (review89's left): at a restart the first bound was still the deploy block's fee; on a
deployment a hundred blocks or more old its EIP-1559 bounds hold every fee to the ceiling
(a lie signed with during the catch-up, and kept). The saved head, proven ours by its hash,
is read as placed (``sdex.watch.fork.check_head``, fee93: the floor saved with it).

review90: a read up to ``FEE_STEPS`` past the head this node knows was kept as the bound of
the next (review87's): a lie there at EIP-1559's highest bounded the next, an eighth a block
to the ceiling, and the watcher's honest reads below it were refused. Such a read is still
believed and ``read_fee``, but the bound is the last read at or below that head
(``_floor``); a fee jump read again is believed within the bounds of its first read
(``_suspect``, kept till a read is within the floor's) till the mirror's reads reach it.

fee93 (review92): a lie answered twice was believed (the "read again" rule above, for a
devnet's ``hardhat_setNextBlockBaseFeePerGas``), and a restart read its first bound from
the endpoint (the saved head's fee, its hash kept). A fee is now believed only within
EIP-1559's highest (9/8 a block) from the floor, and the floor moves only with the blocks
the mirror reads by number, each from its parent's (``sdex.watch.ranges``); it is saved with
the mirror's head and is a restart's first bound (``resume``). A rise past that reach (a
set fee's jump too) is never confirmed by a read again, only by the mirror's walk coming
far enough; a fall past it is, as before. An endpoint that lies consistently on every
block read by number is the chain as the node sees it (README's known limits)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable

from sdex.chain.feebounds import (
    FEE_STEPS,
    REACH,
    base_fee_of,
    blocks_to,
    highest,
    reaches,
    within,
)
from sdex.chain.feefloor import KEPT_READS, FeeFloor
from sdex.chain.tx import MAX_BASE_FEE
from sdex.errors import ChainError

log = logging.getLogger("sdex.chain")

KEPT = 32
"""Announced heads whose block hashes are kept (``hashes_after``)."""


class HeadSignal(FeeFloor):
    """A count of announced heads and a wait for the next one. ``live``: announcements
    come (the subscription is open); without them a wait is only its timeout. ``known``:
    the highest block this node knows by its own reads (the mirror's head; None: none)."""

    def __init__(self, known: Callable[[], int | None] | None = None) -> None:
        super().__init__()  # (the fees kept: ``sdex.chain.feefloor``, its catch-up too)
        self.known = known or (lambda: None)
        self.ceiling = MAX_BASE_FEE
        """The highest base fee believed and signed with (``sdex node --max-base-fee``)."""
        self.refusing = False
        """Whether the last fee read was not believed (/health: why nothing is signed)."""
        self.count = 0
        self.live = False
        self._waiters: list[asyncio.Future[None]] = []
        self._hashes: dict[int, str] = {}
        """The block hash of each of the last ``KEPT`` heads, by its count."""
        self.base_fee: tuple[int, float] | None = None
        """The base fee of the latest head seen (announced, or the watcher's ask for
        "latest") and when (``time.monotonic``); None once a reorg or a reset rewound."""
        self.rewinds = 0
        """Reorgs and resets the mirror took (``rewound``): a fee read before does not hold."""
        self.refused = 0
        """Announced fees not used, out of their ``bound`` or a lying feed's (``lied``): a
        fee read before one is read again (``sdex.settlement.gas.Fees``)."""
        self.untrusted = 0
        """Fees read from the chain not believed (``doubt``): above ``ceiling``, or past
        EIP-1559's bounds of the last one read and not read again since."""
        self.untrusted_why: str | None = None
        """Why the last of them was not believed."""
        self.walk: dict[str, int | None] | None = None
        """/health's ``baseFee.walk`` (fee94): the last fee refused as a rise past the
        highest of the blocks read (``fee``, its ``block``, that ``bound``) and how many blocks
        past it the mirror still has to read for it to be believed (``blocksToRead``: on a
        devnet whose fee was set, mine that many; None: more than ``REACH``); None once a
        fee read is believed."""
        self._warned: str | None = None
        """``untrusted_why`` without its numbers, as last logged (once a reason)."""
        self._suspect: tuple[int, int] | None = None
        """(block number, base fee) read past the bounds: a read again within EIP-1559's
        bounds of it (the chain says so still) is believed."""
        self._said_head: int | None = None
        """The number of the latest block as last read (``read``'s ``latest``: the watcher's
        polls), believed or not: a reorg's ``reached`` is at most it (settle89)."""
        self._below = 0
        """Reads not believed below the last read since the mirror's last (``placed``): a
        reset's new chain read before the mirror took it, not counted once it does
        (``rewound``), nor logged if it was the first (a lie's second is)."""

    def announce(
        self, block_hash: str | None = None, base_fee: int | None = None, number: int = -1
    ) -> None:
        """A head announced (block ``number``; -1: not told, its fee not used)."""
        if self.syncing and number >= 0:
            self._in_reach(number)
        bound = "within" if base_fee is None else self.bound(number, base_fee)
        if bound == "outside" and self.confirms(number, base_fee):
            bound = "within"
        if bound == "within":
            self.saw(base_fee)
        else:
            self.base_fee = None  # (the settler signs with a fee it read)
            self.refused += bound == "outside"  # (a fee read before is read again)
        self.count += 1
        if block_hash is not None:
            self._hashes[self.count] = block_hash
        self._hashes.pop(self.count - KEPT, None)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def saw(self, base_fee: int | None) -> None:
        """The latest head's base fee is ``base_fee`` (None: not told)."""
        if base_fee is not None:
            self.base_fee = (base_fee, time.monotonic())

    def read(
        self,
        number: int,
        base_fee: int | None,
        latest: bool = False,
        placed: bool = False,
        signs: bool = False,
    ) -> str | None:
        """Block ``number``'s base fee read from the chain (None: it had none): the bound of
        announced ones; ``latest``: the latest block's, signed with (``saw``); ``placed``:
        the block asked for by its number (the watcher's range), its number not the
        answer's word alone; ``signs``: the settler's, signed with (while ``syncing``:
        ``_catching_up``). Returns why it is not believed (``doubt``: nothing kept), None
        if it is."""
        unjudged = self._unjudged(number, placed)  # (a chain without fees catches up too)
        if latest:  # (believed or not: what the chain said its head is, ``rewound``)
            self._said_head = number
        if base_fee is None:
            return None
        if unjudged is not None:
            return self._catching_up(number, base_fee) if signs else unjudged
        why, kept = self.doubt(number, base_fee, placed)
        self.refusing = why is not None
        below = (base := self._floor or self.read_fee) is not None and number < base[0]
        self._below = 0 if why is None and placed else self._below + (why is not None and below)
        if why is not None:
            self.untrusted += 1
            first_below = below and self._below == 1  # (a reset's, not logged: ``rewound``)
            if (warned := re.sub(r"\d+", "N", why)) != self._warned and not first_below:
                log.warning("a base fee read from the chain is not signed with: %s", why)
                self._warned = warned
            self.untrusted_why = why
            return why
        self.walk = None
        if kept:
            self._keep((number, base_fee), floor=placed)
            if placed:
                self.reached = max(self.reached or number, number)
        if latest:
            self.saw(base_fee)
        return None

    def doubt(self, number: int, fee: int, placed: bool = False) -> tuple[str | None, bool]:
        """Why block ``number``'s base fee ``fee``, read from the chain, is not believed
        (None: believed), and whether it bounds the next reads (``read_fee``): above
        ``ceiling``; below the last read by more than ``FEE_STEPS``, or unable to reach it
        (a lagging backend's, believed, not kept: fee86); more than ``FEE_STEPS`` past the
        head this node knows (not ``placed``) and past EIP-1559's bounds of the last read
        that many blocks past that head (not kept); another fee of the block read last; or
        past those bounds at ``number``, unless within them of the last such fee
        (``_suspect``: read again, the chain says so still). A read bounds the next ones
        only when placed or at most ``FEE_STEPS`` past the head this node knows
        (``_anchor``: review87), the first after ``rewound`` too."""
        if fee > self.ceiling:
            return (
                f"baseFeePerGas {fee} of block {number} is above this node's ceiling of"
                f" {self.ceiling} wei ({self.ceiling / 10**9:g} gwei; sdex node --max-base-fee):"
                " nothing is signed while the chain's fee is above it"
            ), False
        anchor = self._anchor()
        if placed:
            self._placed = number if self._placed is None else max(self._placed, number)
        kept = placed or anchor is None or number <= anchor + FEE_STEPS  # (review87)
        if self.read_fee is None:
            self._suspect = None
            if self.unbound and not placed:  # (fee87: was believed whatever, under the ceiling)
                return (
                    f"baseFeePerGas {fee} of block {number}: the chain was reset and no block"
                    " of it was read for the mirror yet: read again"
                ), False
            return None, kept
        at, last = self._floor or self.read_fee  # (not a read past the head: review90)
        if number < at:  # (an older block: a lagging backend's, or the answer's own number)
            if at - number <= FEE_STEPS and reaches((number, fee), at, last):
                return None, False
            return (
                f"baseFeePerGas {fee} of block {number}, below block {at} read before (its fee"
                f" {last}), cannot lead there by EIP-1559: read again"
            ), False
        known = max(self.known() or at, self.reached or at)  # (a reorg's: before its undo)
        top = max(at, known) + FEE_STEPS  # (the furthest the chain may be)
        rise = self.rise_from((at, last))  # (not a step each block passed unread: fee95)
        if number > top and not placed:
            if reaches((at, last) if fee <= last else rise, top, fee):
                return None, False  # (a fee the chain may have: its number not placed)
            return (
                f"baseFeePerGas {fee} of block {number}, past the head this node knows, is"
                f" past EIP-1559's bounds of {last} at block {at} by block {top}: read again"
            ), False
        if self.in_reach((at, last), number, fee):
            self._suspect = None
            return None, kept
        if number == at:  # (one block, two fees: not the chain's moving on, never confirmed)
            return f"baseFeePerGas {fee} of block {number}, read before as {last}", False
        if fee > highest(rise, number, fee):  # (fee93: never confirmed, read twice or not)
            k = blocks_to(rise, fee)  # (fee94: how far the walk still has to go)
            self.walk = {"fee": fee, "block": number, "bound": highest(rise, number)}
            self.walk["blocksToRead"] = None if k is None else rise[0] + k - number
            return (
                f"baseFeePerGas {fee} of block {number} is above EIP-1559's highest from"
                f" {last} at block {at}, the bound of the blocks this node's mirror read: not"
                " signed with till its reads of the chain come within reach of it"
            ), False
        if self._suspect is not None and within(self._suspect, number, fee) == "within":
            return None, kept  # (a fall read again, the chain says so still; it bounds the next)
        if kept:  # (one past the head known: confirmed by nothing, neither read nor feed)
            self._suspect = (number, fee)
        return (
            f"baseFeePerGas {fee} of block {number} is past EIP-1559's bounds of {last} at"
            f" block {at}: read again"
        ), False

    def confirms(self, number: int, fee: int | None) -> bool:
        """Whether an announced ``fee`` (block ``number``'s) is within EIP-1559's bounds of
        the fee read past the bounds (``_suspect``): the chain's announcements agree with
        that read, now believed (the bound of the next ones)."""
        if fee is None or self._suspect is None or within(self._suspect, number, fee) != "within":
            return False
        self._keep(self._suspect, floor=False)
        return True

    def read_block(self, raw: object, placed: bool = False, signs: bool = False) -> None:
        """(``read``) A block as ``eth_getBlockByNumber`` answered it (the settler's read of
        the latest; not one: nothing). ``ChainError`` if its fee is not believed, or it has
        one and no readable number (fee87: not bounded at all, believed up to the ceiling)."""
        number = raw.get("number") if isinstance(raw, dict) else None
        fee = base_fee_of(raw)
        why = None if fee is None else f"baseFeePerGas {fee} of a block without a number"
        if isinstance(number, str) and number.startswith("0x") and 2 < len(number) <= 18:
            with contextlib.suppress(ValueError):
                why = self.read(int(number, 16), fee, placed=placed, signs=signs)
        if why is not None:
            raise ChainError(why)

    def bound(self, number: int, fee: int) -> str:
        """Whether ``fee`` may be block ``number``'s by EIP-1559 from the last fee read
        (``read_fee``: ``within``); above ``ceiling``: "outside" (never signed with)."""
        if fee > self.ceiling:
            return "outside"
        return "none" if self.read_fee is None else within(self.read_fee, number, fee)

    def to_json(self) -> dict[str, object]:
        """/health's ``chainMirror.baseFee``: fees not used, why the last read was not, whether
        the latest read is not (``refusing``: nothing signed with it), and the ceiling."""
        return {
            "announcedRefused": self.refused,
            "readUntrusted": self.untrusted,
            "lastUntrusted": self.untrusted_why,
            "refusing": self.refusing,
            "ceiling": self.ceiling,
            "waiting": self.waiting(),
            "walk": self.walk,
        }

    def lied(self) -> None:
        """The feed was caught in a lie: the fee it announced last is not used."""
        if self.base_fee is not None:
            self.base_fee = None
            self.refused += 1

    def rewound(
        self, fork: int | None = None, reset: bool = False, fork_fee: int | None = None
    ) -> None:
        """The chain went back: a reorg to block ``fork`` (None: not said), or a ``reset``
        (another chain). The fees seen so far do not hold; the next reads are bounded by the
        highest fee kept at or below ``fork`` (on both branches), else the first; after a
        reset by none (not believed till a block of the new chain is read for the mirror:
        ``unbound``); with no fork said, by none (the first read believed, as before fee87).
        review93b: a reorg whose fork's own fee was not known (a restart's saved blocks keep
        none: ``sdex.watch.savedblocks``) dropped the floor at the removed head and bounded
        the new branch by the highest fee kept below the fork, most often the deploy
        block's (the node's first): EIP-1559's reach over every block since held every fee
        to the ceiling, and the new branch's first header at 30,000 gwei was believed and
        signed with. The removed floor's fee is now carried back to the fork, the bound
        rising from there 9/8 a block walked (a fall confirmed by a read again); a fork
        below every fee kept and the first (the deployment's) stays unbound, as a reset.
        review96b: the fork block's fee (``fork_fee``, its header as the mirror kept it) was
        the floor whether or not it was believed when read: a liar's refused rise applied to
        the mirror, then one block at the tip answered with another hash, was believed and
        signed with. It is now the floor only within reach of the floor kept below the fork
        (``in_reach``); the blocks passed unread below the fork still no steps of a rise."""
        self.base_fee = None
        self._suspect = None
        passed, self._placed, self._passed = self._passed, None, None
        self.rewinds += 1
        was = self._floor or self.read_fee  # (the removed head's floor: review93b, below)
        self.reset_from = (self._floor or self.read_fee or self.reset_from) if reset else None
        if reset:
            self._kept.clear()
            self.first = self.reached = None
            self.syncing, self._ahead = True, None  # (its replay: fee88)
            self.untrusted -= self._below  # (the new chain's, read before the reset was seen)
            self.refusing = self.refusing and not self._below
            self.untrusted_why = self.untrusted_why if self.untrusted else None
            self._below = 0
        for n in [n for n in self._kept if fork is None or n > fork]:
            del self._kept[n]
        below = max(self._kept, default=None)
        first = self.first if fork is not None and self.first and self.first[0] <= fork else None
        self.read_fee = self._floor = first if below is None else (below, self._kept[below])
        if fork is not None and not reset:
            self.kept_passed(passed, fork)  # (still passed unread below the fork: review96b)
        if (fork is not None and fork_fee is not None and not reset) and (
            self.read_fee is None
            or (self.read_fee[0] < fork and self.in_reach(self.read_fee, fork, fork_fee))
        ):  # (the fork block's own fee: settle89; as a header read is judged: review96b)
            self._keep((fork, fork_fee))
        if (fork is not None and was is not None and not reset and was[0] > fork) and (
            self.read_fee is not None and self.read_fee[0] < fork
        ):  # (review93b: the removed floor carried back to the fork, no older fee's reach)
            self._keep((fork, was[1]))
        said = self._said_head  # (the poll's that found the reorg: a shorter branch's head)
        if fork is not None and self.reached is not None and said is not None and said >= fork:
            self.reached = min(self.reached, said)  # (settle89: the old height kept)
        self.unbound = reset or (fork is not None and self.read_fee is None)

    async def wait(self, after: int, timeout: float) -> None:
        """Return once a head later than the ``after``-th was announced (at once if one
        was), or after ``timeout`` seconds."""
        if self.count != after:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait((fut,), timeout=timeout)
        finally:
            if not fut.done():
                fut.cancel()
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def hashes_after(self, after: int) -> list[str] | None:
        """The block hashes of the heads announced after the ``after``-th, oldest first;
        None when one of them is not known (too old, or announced without its hash)."""
        out = [self._hashes.get(k) for k in range(after + 1, self.count + 1)]
        return None if None in out else [h for h in out if h is not None]


__all__ = [
    "FEE_STEPS",
    "KEPT",
    "KEPT_READS",
    "REACH",
    "HeadSignal",
    "base_fee_of",
    "highest",
    "reaches",
    "within",
]
