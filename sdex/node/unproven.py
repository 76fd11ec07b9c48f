"""Peers' copies whose signature no wallet took at this node's block: their sender charged
only once the maker still has no code a few blocks later (``LATER_BLOCKS``).

A signature that does not recover to its maker is judged by the chain (EIP-1271), at the
latest block this node's backend knows; where the maker has no code there, no wallet took
it, and the peer that passed the copy on was charged as a forger (5 points a copy, banned
at four). But a wallet may be deployed at an address known before (CREATE2, or an EOA's
EIP-7702 delegation) in a block this node has not seen yet (signer78): its orders posted to
a node as soon as it sees that block, a node a block behind (a lagging replica, or a poll
hundreds of ms late) found no code, and banned the honest node that passed them on.

So the copy is rejected (nothing booked) at once, and its charge waits here: once the head
this node follows is ``LATER_BLOCKS`` past the block the verdict was read at, the maker's
code is read at that head, and where it has none there, in the ``LATER_BLOCKS`` blocks
below the verdict's read too; none in any, the sender pays for each such copy as before;
some, the copy is spared and may be fetched again (its refusal forgotten). review79: a
maker's code can also go (an EOA's EIP-7702 delegation revoked, one cheap transaction): an
attacker delegated to a wallet that takes any signature, posted four orders to an honest
node a block behind the chain, revoked in the next block, and every node that fetched that
node's copies found no code at its read and two blocks later, and banned it. A chain that resets
below them makes them due at its next block. Bounded: ``MOST`` copies in all, ``PER_PEER`` a
sender; past either, a copy is rejected uncharged (a sender holding ``PER_PEER`` is charged
for those, enough to ban it, if they prove forged), and ``READS`` makers' code read a block.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

LATER_BLOCKS = 2
"""Blocks past the one the verdict was read at that the maker's code is read again at: a
backend a block or two behind the peer's is no proof against it; and blocks below it read
too: nor is one a block or two ahead of the peer's, the maker's code gone since (review79)."""
MOST = 1024
"""Copies whose charge waits, all senders together."""
PER_PEER = 64
"""Copies of one sender whose charge waits (more than enough to ban it: four)."""
READS = 64
"""Makers whose code is read at one block at most (one JSON-RPC batch); the rest wait."""

Copy = tuple[str, bytes]
"""(the peer that sent it, the order hash)."""
Block = tuple[str, int]
"""(a maker, a block its code is read at)."""


class Unproven:
    """Copies whose charge waits for the maker's code at a later block."""

    def __init__(self, most: int = MOST, per_peer: int = PER_PEER) -> None:
        self.most = most
        self.per_peer = per_peer
        self._held: OrderedDict[Copy, tuple[str, int]] = OrderedDict()
        """Copy -> (its maker, the block the verdict was read at), oldest first."""
        self._by_peer: dict[str, int] = {}
        self.charged = 0
        """Copies charged to their sender (the maker still had no code)."""
        self.spared = 0
        """Copies spared (the maker had code by then: a block this node had not seen)."""
        self.unheld = 0
        """Copies rejected uncharged: past ``MOST`` or ``PER_PEER``."""

    def __len__(self) -> int:
        return len(self._held)

    def note(self, peer: str, order_hash: bytes, maker: str, block: int) -> None:
        """``peer``'s copy of ``order_hash``, whose signature ``maker`` had no code to take
        at ``block``: charged later if it still has none (the same copy again: once)."""
        key = (peer, order_hash)
        if key in self._held:
            return
        if len(self._held) >= self.most or self._by_peer.get(peer, 0) >= self.per_peer:
            self.unheld += 1
            return
        self._held[key] = (maker, block)
        self._by_peer[peer] = self._by_peer.get(peer, 0) + 1

    def due(self, head: int, most: int = READS) -> list[str]:
        """The makers whose code to read at ``head`` (a copy of theirs read ``LATER_BLOCKS``
        below it or more), oldest copies' first, at most ``most``."""
        makers: dict[str, None] = {}
        for maker, block in self._held.values():
            if block + LATER_BLOCKS <= head and maker not in makers:
                makers[maker] = None
                if len(makers) >= most:
                    break
        return list(makers)

    def below(self, head: int, makers: Iterable[str]) -> tuple[list[Block], list[str]]:
        """The (maker, block) pairs whose code to read for ``makers``' copies due at ``head``
        (those with no code there): the ``LATER_BLOCKS`` blocks below each copy's read, where
        a peer behind this node may have found the maker's code (review79); at most
        ``READS`` x ``LATER_BLOCKS`` of them, oldest copies first, a copy whose blocks do not
        fit waiting a block (``settle`` judges only copies whose blocks were all read), and
        the makers none of whose copies fit second. review79b: a maker whose copies' blocks
        alone were past the bound (copies noted over ~130 blocks while the code reads
        failed) was put off at every block: its copies never charged nor let go, their
        senders' shares full for good, and up to ``READS`` such makers stopped every charge."""
        wanted: dict[str, set[int]] = {m: set() for m in makers}
        fit: set[str] = set()  # (makers a copy of which fits)
        room = READS * LATER_BLOCKS
        for maker, block in self._held.values():
            if maker not in wanted or block + LATER_BLOCKS > head:
                continue
            more = set(range(max(0, block - LATER_BLOCKS), block)) - wanted[maker]
            if len(more) <= room:
                wanted[maker] |= more
                room -= len(more)
                fit.add(maker)
        pairs = [(m, b) for m, blocks in wanted.items() for b in sorted(blocks)]
        return pairs, [m for m in wanted if m not in fit]

    def settle(
        self,
        head: int,
        has_code: dict[str, bool],
        had: AbstractSet[Block] = frozenset(),
        asked: AbstractSet[Block] | None = None,
    ) -> tuple[dict[str, int], list[Copy]]:
        """The makers' code read at ``head`` (``has_code``) and below their copies' reads
        (``had``: of the pairs ``below`` gave, ``asked``, those where it had code): their due
        copies leave, but one with no code at ``head`` whose blocks below were not all asked
        (``below``'s bound: at a later block). The copies to charge, counted by sender (the
        maker had no code in any), and those spared."""
        charge: dict[str, int] = {}
        spared: list[Copy] = []
        for key, (maker, block) in list(self._held.items()):
            if maker not in has_code or block + LATER_BLOCKS > head:
                continue
            before = range(max(0, block - LATER_BLOCKS), block)
            unasked = asked is not None and any((maker, b) not in asked for b in before)
            if unasked and not has_code[maker]:  # (at a later block: ``below``'s bound)
                continue
            self._drop(key)
            if has_code[maker] or any((maker, b) in had for b in before):
                spared.append(key)
            else:
                charge[key[0]] = charge.get(key[0], 0) + 1
        self.charged += sum(charge.values())
        self.spared += len(spared)
        return charge, spared

    def reset(self, head: int) -> None:
        """The chain reset to ``head``: every copy due at its next block (the old chain's
        heights mean nothing on it)."""
        for key, (maker, block) in self._held.items():
            self._held[key] = (maker, min(block, head + 1 - LATER_BLOCKS))

    def to_json(self) -> dict[str, int]:
        return {
            "waiting": len(self._held),
            "charged": self.charged,
            "spared": self.spared,
            "unheld": self.unheld,
        }

    def _drop(self, key: Copy) -> None:
        del self._held[key]
        left = self._by_peer[key[0]] - 1
        if left:
            self._by_peer[key[0]] = left
        else:
            del self._by_peer[key[0]]
