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
cannot fill a hash's room and keep out an honest peer's cancel of it), each
``KEPT_SECONDS`` at most; when full, the sender holding the most loses its oldest (a flood
evicts its own first, never an honest peer's few; strangers' host groups weighed as one
class, wallets' clients as one: review66). The peer is answered 202 once it is
kept: kept in the store too (``sdex.storeorphans``: the node writes each kept one and
deletes each forgotten, ``gone``), read back at a restart. A wallet's (its order posted to
another node, the gossip not here yet) is kept so too, one count a client, its signer
recovered at once (a clear 400 for bytes no key signed), never a penalty."""

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


@dataclass(frozen=True, slots=True)
class Orphan:
    """A kept cancel: its signature, who sent it (counted in ``bucket``) and when
    (``time.time()``: it is stored, and read back after a restart)."""

    signature: bytes
    sender: str
    bucket: str
    at: float


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
        self._by_hash: dict[bytes, list[Orphan]] = {}
        self._buckets: dict[str, OrderedDict[tuple[bytes, bytes], float]] = {}
        self._count = 0
        self.dropped = 0
        self.gone: list[tuple[bytes, bytes]] = []
        """(order hash, signature) of those forgotten since the node last took this list:
        their rows to delete."""
        """Cancels refused or evicted by the bounds (``/health``: a flood shows here)."""

    def __len__(self) -> int:
        return self._count

    def keep(
        self, order_hash: bytes, signature: bytes, sender: str, bucket: str, now: float
    ) -> bool:
        """Keep ``signature`` (well-formed, checked by the caller) for ``order_hash``, sent by
        ``sender`` and counted in ``bucket``; False if a bound refused it."""
        kept = self._by_hash.get(order_hash, [])
        if any(o.signature == signature for o in kept):
            return True  # (the same cancel from another peer: one is enough)
        if any(o.bucket == bucket for o in kept):
            # one a hash from each count (a hash took 4 from anyone: one peer's 4 fakes
            # kept an honest peer's cancel of it out; at most one a peer, so a hash holds at
            # most the peer table's size plus one)
            self.dropped += 1
            return False
        mine = self._buckets.setdefault(bucket, OrderedDict())
        self._expire(mine, now)
        if len(mine) >= self.per_sender:  # its own oldest goes: a sender's newest count
            self._drop_oldest(bucket)
        if self._count >= self.total:
            for b in list(self._buckets):
                self._expire(self._buckets[b], now)
                if not self._buckets[b]:
                    del self._buckets[b]
        if self._count >= self.total:
            self._drop_oldest(self._fullest())
        mine = self._buckets.setdefault(bucket, OrderedDict())
        mine[(order_hash, signature)] = now
        self._by_hash.setdefault(order_hash, []).append(Orphan(signature, sender, bucket, now))
        self._count += 1
        return True

    def take(self, order_hash: bytes, now: float) -> list[Orphan]:
        """The cancels kept for ``order_hash`` that are not too old; forgotten here."""
        kept = self._by_hash.pop(order_hash, None)
        if not kept:
            return []
        self.gone += [(order_hash, o.signature) for o in kept]
        for o in kept:
            mine = self._buckets[o.bucket]
            if mine.pop((order_hash, o.signature), None) is not None:
                self._count -= 1
            if not mine:  # (no empty count left per peer id that ever sent one)
                del self._buckets[o.bucket]
        return [o for o in kept if now - o.at <= self.kept_seconds]

    def _expire(self, bucket: OrderedDict[tuple[bytes, bytes], float], now: float) -> None:
        while bucket and now - next(iter(bucket.values())) > self.kept_seconds:
            key, _ = bucket.popitem(last=False)
            self._forget(key)

    def _fullest(self) -> str:
        """The count to evict from: its class's largest, of the class holding the most (a
        class: each peer's count alone; every stranger's host group's as one, and every
        wallet's client's: review66, a flood spread over many host groups held a few a
        count, and an admitted peer's honest few went first)."""
        classes: dict[str, list[str]] = {}
        held: dict[str, int] = {}
        for b, mine in self._buckets.items():
            kind = b.partition(":")[0] if ":" in b else b
            classes.setdefault(kind, []).append(b)
            held[kind] = held.get(kind, 0) + len(mine)
        kind = max(held, key=held.__getitem__)
        return max(classes[kind], key=lambda b: len(self._buckets[b]))

    def _drop_oldest(self, bucket: str) -> None:
        mine = self._buckets[bucket]
        key, _ = mine.popitem(last=False)
        if not mine:
            del self._buckets[bucket]
        self._forget(key)
        self.dropped += 1

    def _forget(self, key: tuple[bytes, bytes]) -> None:
        self._count -= 1
        self.gone.append(key)
        order_hash, signature = key
        kept = [o for o in self._by_hash.get(order_hash, []) if o.signature != signature]
        if kept:
            self._by_hash[order_hash] = kept
        else:
            self._by_hash.pop(order_hash, None)
