"""Soft cancels that peers passed on, or wallets posted (cancel65), for orders this node does
not hold (yet).

cancel63: a cancel gossiped right after its order can overtake the order's push (an
outbox sends its notices before its orders), and a peer outside the maker's node's mesh
gets the cancel directly but the order a hop later, by anti-entropy or a snapshot. Such a
node answered the cancel 404 and dropped it; the order then came and was booked open, and
matched: the wallet's cancel lost there (a hostile peer holding the signed order could
replay it on purpose). Now the cancel is kept, and an order that arrives later is held
``cancelled`` if the kept signature is its maker's.

Nothing can tell whose cancel it is until its order comes (the maker is in the order), so
only its form is checked on arrival (``signature_parts``: no recovery spent on a flood);
the signer is recovered, and compared with the maker, when the order comes (a mismatch
costs its sender a penalty: an honest node passes on only cancels it verified). A hostile
peer may still send any number of well-formed cancels for made-up hashes, so they are
bounded: ``PER_SENDER`` kept from one sender (peers outside the peer table count as one a
host group, cancel65: one stranger's flood evicted every other stranger's cancels),
``TOTAL`` in all, one for a hash from each sender's count (``bucket``: a forger's fakes
cannot fill a hash's room and keep out an honest peer's cancel of it; the same cancel from
several counts takes a slot in each, and is kept while one holds it: review69b), each
``KEPT_SECONDS`` at most; when full, the sender holding the most loses its oldest (a flood
evicts its own first, never an honest peer's few; review66: each peer a class of its own,
every stranger's host group one class, every wallet's client one; review68: in the class,
the oldest of the count holding the most evicted, in time independent of how many counts
there are). So what is kept is bounded by design, and a 202 "kept" is a promise only within
the bounds: a wallet's (or a stranger's) kept cancel is evicted only when the table is full,
its class holds the most, and no count in its class holds more than its own does: a flood
must come from as many clients (IPv4 addresses, IPv6 /64s) as the table holds cancels, 20,000
for a wallet's one (review67: the class's oldest went, and 20 IPv4 addresses evicted every
wallet's). The peer is answered 202 once it is
kept: kept in the store too (``sdex.storeorphans``: the node writes a row for each count
that keeps one, deletes a count's as it lets it go, ``freed``, and all of one forgotten,
``gone``), read back at a restart into the same counts (review70). A wallet's (its order posted to
another node, the gossip not here yet) is kept so too, one count a client, its signer
recovered at once (a clear 400 for bytes no key signed), never a penalty.

cancel66: a hash holds ``UNCHECKED_PER_HASH`` cancels whose signer is not known; past them,
or a second from one count, the node recovers the signer at keep time (one recovery a
request, as its signed envelope costs already) and keeps it with the cancel (``signer``),
one a hash from each count and signer. Before, 20,000 kept on one hash (one from each of as
many host groups) were each recovered as the order came: a 2.7 s stall of the loop; now
the order's arrival compares the known signers with its maker and recovers 4 at most. And a
count's fake no longer keeps out its real one (a wallet's fake, signed by another key,
kept the maker's cancel from the same client out: ``dropped``)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

PER_SENDER = 1_000
"""Cancels of unknown orders kept from one sender (strangers share one count a host group,
wallets one a client)."""
TOTAL = 20_000
"""Cancels of unknown orders kept in all (~5 MB)."""
KEPT_SECONDS = 86_400.0
"""Seconds one is kept waiting for its order (a delayed push, anti-entropy, a replay). Not
the order's expiry: unknown until it comes, and any uint64. The counts bound what a flood
holds, not the time: a day, not an hour (cancel65: a hostile holder of the signed order
replayed it past the hour at a node that had kept only its cancel, and it traded there)."""
UNCHECKED_PER_HASH = 4
"""Kept cancels of one hash whose signer is not recovered when kept: the most an order's
arrival recovers (past them the node recovers each at keep time: ``needs_signer``)."""


@dataclass(frozen=True, slots=True)
class Orphan:
    """A kept cancel: its signature, who sent it (counted in ``bucket``) and when
    (``time.time()``: it is stored, and read back after a restart)."""

    signature: bytes
    sender: str
    bucket: str
    at: float
    signer: str | None = None
    """Who signed it, if recovered when kept (a wallet's; a peer's past
    ``UNCHECKED_PER_HASH`` of its hash): compared with the maker as the order comes."""


class OrphanCancels:
    """The kept cancels by order hash, counted per sender (``bucket``), oldest first."""

    def __init__(
        self,
        per_sender: int = PER_SENDER,
        total: int = TOTAL,
        kept_seconds: float = KEPT_SECONDS,
    ) -> None:
        self.per_sender, self.total = per_sender, total
        self.kept_seconds = kept_seconds
        self._by_hash: dict[bytes, dict[bytes, Orphan]] = {}
        """The kept ones by hash, then by signature (a pile on one hash: no list walked)."""
        self._slots: dict[bytes, set[tuple[str, str | None]]] = {}
        """The (bucket, signer) of each kept one of a hash: one a hash from each."""
        self._buckets: dict[str, OrderedDict[tuple[bytes, bytes], float]] = {}
        self._others: dict[tuple[bytes, bytes], dict[str, str]] = {}
        """The counts other than its ``Orphan.bucket`` that hold a kept one (bucket ->
        sender), first first: the same cancel from several senders takes a slot in each
        count, and is forgotten once none holds it (review69b: it was counted in the first
        one's only, and the second told "kept": a hostile first sender, which has every
        cancel from the gossip, evicted it with its own flood, the promise lost)."""
        self._all: OrderedDict[tuple[bytes, bytes, str], None] = OrderedDict()
        """Every slot, (order hash, signature, bucket), oldest first (expired from the
        front: no sweep)."""
        self._kinds: dict[str, int] = {}
        """The slots each class (``kind_of``) holds."""
        self._sizes: dict[str, _Sizes] = {}
        """Each class's counts by how many they hold: its biggest found at once."""
        self._count = 0
        self.dropped = 0
        self.freed: list[tuple[bytes, bytes, str]] = []
        """(order hash, signature, bucket) of the slots let go while another count holds
        their cancel, since the node last took this list: their rows to delete (a row a
        slot, review70: one row, the first count's, and a restart read a cancel two counts
        held back into that one alone)."""
        self.gone: list[tuple[bytes, bytes]] = []
        """(order hash, signature) of those forgotten since the node last took this list:
        their rows to delete."""
        """Cancels refused or evicted by the bounds (``/health``: a flood shows here)."""

    def __len__(self) -> int:
        return self._count

    def holds(self, order_hash: bytes, signature: bytes, bucket: str) -> bool:
        """Whether ``signature`` for ``order_hash`` is kept in ``bucket``'s count."""
        return (order_hash, signature, bucket) in self._all

    def hashes(self) -> list[bytes]:
        """The order hashes a cancel is kept for."""
        return list(self._by_hash)

    def needs_signer(self, order_hash: bytes, bucket: str) -> bool:
        """Whether a cancel of ``order_hash`` from ``bucket`` is kept only with its signer
        recovered: the hash holds ``UNCHECKED_PER_HASH`` already, or one from this count
        whose signer is not known."""
        kept = self._by_hash.get(order_hash)
        if not kept:
            return False
        return len(kept) >= UNCHECKED_PER_HASH or (bucket, None) in self._slots[order_hash]

    def keep(
        self,
        order_hash: bytes,
        signature: bytes,
        sender: str,
        bucket: str,
        now: float,
        signer: str | None = None,
    ) -> bool:
        """Keep ``signature`` (well-formed, checked by the caller; ``signer`` recovered if
        ``needs_signer``) for ``order_hash``, sent by ``sender`` and counted in ``bucket``;
        False if a bound refused it."""
        kept = self._by_hash.get(order_hash, {})
        key = (order_hash, signature)
        known = kept.get(signature)
        if known is not None:  # (the same cancel from another sender: a slot in its count)
            if bucket == known.bucket or bucket in self._others.get(key, ()):
                return True
            signer = known.signer
        if (bucket, signer) in self._slots.get(order_hash, ()) or (
            known is None and signer is None and self.needs_signer(order_hash, bucket)
        ):
            # one a hash from each count and signer (a hash took 4 from anyone: one peer's 4
            # fakes kept an honest peer's cancel of it out; cancel66: one a count, whoever
            # signed, and a wallet's fake kept its maker's cancel out)
            self.dropped += 1
            return False
        self._expire(bucket, now)
        if (
            len(self._buckets.get(bucket, ())) >= self.per_sender
        ):  # its own oldest goes: a sender's newest count
            self._drop_oldest(bucket)
        if self._count >= self.total:
            self._expire_all(now)
        if self._count >= self.total:  # the class holding the most, its biggest count's oldest
            kinds = self._kinds
            kind = max(kinds, key=kinds.__getitem__)
            self._drop_oldest(next(iter(self._sizes[kind].levels[self._sizes[kind].top])))
        mine = self._buckets.setdefault(bucket, OrderedDict())
        mine[key] = now
        kind = kind_of(bucket)
        self._sizes.setdefault(kind, _Sizes()).move(bucket, len(mine) - 1, len(mine))
        self._all[(order_hash, signature, bucket)] = None
        self._kinds[kind] = self._kinds.get(kind, 0) + 1
        kept = self._by_hash.setdefault(order_hash, {})  # (maybe emptied by the evictions)
        if signature in kept:
            self._others.setdefault(key, {})[bucket] = sender
        else:
            kept[signature] = Orphan(signature, sender, bucket, now, signer)
        self._slots.setdefault(order_hash, set()).add((bucket, signer))
        self._count += 1
        return True

    def take(self, order_hash: bytes, now: float) -> list[Orphan]:
        """The cancels kept for ``order_hash`` that are not too old; forgotten here."""
        kept = self._by_hash.pop(order_hash, None)
        self._slots.pop(order_hash, None)
        if not kept:
            return []
        self.gone += [(order_hash, sig) for sig in kept]
        for sig, o in kept.items():
            for bucket in (o.bucket, *self._others.pop((order_hash, sig), ())):
                self._remove((order_hash, sig), bucket)
        return [o for o in kept.values() if now - o.at <= self.kept_seconds]

    def _expire(self, bucket: str, now: float) -> None:
        """``bucket``'s slots too old freed, oldest first."""
        while (mine := self._buckets.get(bucket)) and now - next(
            iter(mine.values())
        ) > self.kept_seconds:
            self._drop(next(iter(mine)), bucket)

    def _expire_all(self, now: float) -> None:
        """The kept ones too old forgotten, oldest first (as kept: a start's, as stored)."""
        while self._all:
            order_hash, signature, bucket = next(iter(self._all))
            key = (order_hash, signature)
            if now - self._buckets[bucket][key] <= self.kept_seconds:
                return
            self._drop(key, bucket)

    def _drop_oldest(self, bucket: str) -> None:
        self._drop(next(iter(self._buckets[bucket])), bucket)
        self.dropped += 1

    def _drop(self, key: tuple[bytes, bytes], bucket: str) -> None:
        """``bucket``'s slot of ``key`` freed; ``key`` forgotten if no count holds it now."""
        self._remove(key, bucket)
        order_hash, signature = key
        kept = self._by_hash.get(order_hash)
        o = None if kept is None else kept.get(signature)
        if kept is None or o is None:
            return
        self._slots[order_hash].discard((bucket, o.signer))
        others = self._others.get(key)
        if others:
            self.freed.append((order_hash, signature, bucket))
            if bucket != o.bucket:
                others.pop(bucket, None)
            else:  # (the next count's now, as if it came first)
                b = next(iter(others))
                s, at = others.pop(b), self._buckets[b][key]
                kept[signature] = Orphan(signature, s, b, at, o.signer)
            if not others:
                del self._others[key]
            return
        del kept[signature]
        self.gone.append(key)
        if not kept:
            del self._by_hash[order_hash]
            del self._slots[order_hash]

    def _remove(self, key: tuple[bytes, bytes], bucket: str) -> None:
        """``bucket``'s slot of ``key`` out of the counts (its bucket, class and the total);
        none left empty."""
        slot = (*key, bucket)
        if slot not in self._all:
            return
        del self._all[slot]
        self._count -= 1
        mine = self._buckets[bucket]
        del mine[key]
        kind = kind_of(bucket)
        self._sizes[kind].move(bucket, len(mine) + 1, len(mine))
        if not mine:  # (no empty count left per peer id that ever sent one)
            del self._buckets[bucket]
            if not self._sizes[kind].top:
                del self._sizes[kind]
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]


def kind_of(bucket: str) -> str:
    """``bucket``'s class when the kept cancels are full: each peer's count alone; every
    stranger's host group's (``strangers:...``) as one, every wallet's client's
    (``wallet:...``) as one (review66: with a count a group, a flood spread over many host
    groups held a few a count, and an admitted peer's honest few were evicted first)."""
    return bucket.partition(":")[0] if ":" in bucket else bucket


class _Sizes:
    """A class's counts by how many kept cancels each holds (``levels``), and the most any
    holds (``top``): the count to lose one when the table is full, found in constant time
    (review68: the class's oldest went, and 20 IPv4 addresses posting 1,000 each evicted
    every other wallet's kept cancel, each told "kept"; its order then came and traded)."""

    __slots__ = ("levels", "top")

    def __init__(self) -> None:
        self.levels: dict[int, dict[str, None]] = {}
        self.top = 0

    def move(self, bucket: str, was: int, now: int) -> None:
        """``bucket`` went from holding ``was`` to ``now`` (one more or one fewer)."""
        if was:
            level = self.levels[was]
            del level[bucket]
            if not level:
                del self.levels[was]
        if now:
            self.levels.setdefault(now, {})[bucket] = None
        if now > self.top:
            self.top = now
        elif was == self.top and was not in self.levels:
            self.top = now  # (``bucket`` was the last at the top: now one below, or none)
