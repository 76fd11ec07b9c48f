"""An id's score and ban (``Standing``), and the bounded table of those of ids not in the peer
table (strangers: ``Strangers``).

A stranger's key is free to make, so its standing binds only what that one key does: the
table is a cache, ``MAX_STANDINGS`` of them, that a flood of fresh keys must not make dear.
(attack67: past 4,096 penalized strangers, each new one's standing walked the whole table
for a clean one to forget, ~1.1 ms of the event loop a message, and found only its own: no
new stranger's penalty was kept, none could be banned.) Standings are kept in three tiers,
each oldest first: *clean* (no penalty, no ban), then *penalized*, then *banned*; a new one
past the bound forgets the oldest of the lowest tier that holds any (never itself), O(1).
So a flood of fresh keys that did nothing wrong forgets one another (and at most one
standing else); one that forgets penalties must earn one for each of ``MAX_STANDINGS`` keys,
and one that lifts a ban a ban for each (``BAN_SCORE``: four invalid messages a key). A
lifted ban gives its key no more than a fresh key would have had, which the attacker could
use instead: what the tiers keep is the ban of an honest but broken node, against a flood
of others. An admitted peer's standing is its ``Peer``'s, out of the table's reach while it
is one; it comes back to the table, the newest of its tier, when the peer leaves
(``Peers._drop``): a ban it earned as a peer holds.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

MAX_INTRODUCED = 16
"""Candidate URLs one id may introduce at once (its bucket's burst)."""
INTRODUCE_SECONDS = 30.0
"""One more introduction per id per this many seconds, up to ``MAX_INTRODUCED`` (an id
introduces at most 16 + 2 a minute; a hello shares 16 random URLs, most of them known)."""
MAX_STANDINGS = 4096
"""Strangers' standings kept (``Strangers``)."""
EARN_SECONDS = 10.0
"""A peer's delivered value (``Standing.delivered``) grows by at most one point per this
many seconds, however many checks of accepted orders it sends."""
CREDIT_MOST = 30
"""The most points one check of accepted orders earns: those of the ``EARN_SECONDS`` since
the last one was credited, up to this many (5 minutes). reads78: a point a check, a peer
delivering every 30 s earned a third of what sybils checking every 10 s did, and they
overtook it; now a peer delivering at least every 5 minutes earns at the top rate too, and
one idle longer is credited 5 minutes of it."""
CREDITS_KEPT = 8
"""A peer's last trades remembered by block (``Standing.credits``), for a reorg to take back
(peers79: a reorged-out trade kept its peer's rank for the hour)."""

TRADED_SECONDS = 3600.0
"""A peer that delivered first an order which traded (a fill on the chain) within this long
ranks ahead of every peer that did not (``leading``): a sybil's own orders trade only if it
pays a settlement's gas for each, an honest peer's as the market takes them (sybil78)."""
KEEP_IDLE_SECONDS = 7 * 86400.0
"""A standing not delivered for this long is not kept across a restart (``rows_kept``): a
peer gone for good gives its row to one that delivers."""
MAX_DELIVERED = 360
"""The most ``Standing.delivered`` holds (an hour of points: a peer that reached it stays
ahead of every one that reached it later)."""


@dataclass
class Standing:
    """Score and ban of one id."""

    score: int = 0
    banned_until: float = 0.0
    invalid: int = 0
    introduced: int = 0
    """Candidates it introduced (in all: a count, not its budget)."""
    tokens: float = MAX_INTRODUCED
    """Introductions it may make now (refilled by ``can_introduce``)."""
    tokens_at: float | None = None
    """Clock time ``tokens`` was last refilled (None: never spent, a full bucket)."""
    delivered: int = 0
    """Points of value delivered over time: one for a check of accepted new orders and none
    forged, at most one per ``EARN_SECONDS`` (``earn``), less ``INVALID_PENALTY`` a forged
    one. What ranks peers for bounds of pending reads of their own (``leading``)."""
    delivered_at: float = float("-inf")
    """Clock time ``delivered`` was credited through (of two peers as high, the earlier
    ranks first)."""

    active_at: float = float("-inf")
    """Clock time of its last check of accepted orders, credited or not (at the cap, or
    within ``every``): how long it was idle is reckoned from here, not ``delivered_at``."""

    traded_at: float = float("-inf")
    """Clock time an order it delivered first last traded (``Peers.traded``)."""
    traded: int = 0
    """Fills of orders it delivered first (in all: a count)."""
    credits: list[tuple[int, float]] = field(default_factory=list)
    """Its last ``CREDITS_KEPT`` trades' (block, clock time), oldest first: a reorg takes
    those of the blocks it undid back (``Peers.untraded``)."""
    traded_floor: float = float("-inf")
    """``traded_at`` before its oldest credit kept."""
    floor_block: float = math.inf
    """The highest block ``traded_floor``'s trade may be in: the credit it was (past
    ``CREDITS_KEPT``), or a restored standing's saved head at the start (``restored``: the
    blocks above it are read again then, their trades credited); inf: not known."""

    def credit(self, block: int, now: float) -> None:
        """An order it delivered first traded in ``block`` (``Peers.traded``)."""
        self.credits.append((block, now))
        if len(self.credits) > CREDITS_KEPT:
            self.floor_block, self.traded_floor = self.credits.pop(0)
        self.traded_at, self.traded = now, self.traded + 1

    def uncredit(self, blocks: Collection[int]) -> bool:
        """A reorg undid ``blocks`` (trades credited to it: ``readbudget.uncredit_trades``):
        their credits taken back (``traded_at`` as before them); one not among ``credits``
        (past ``CREDITS_KEPT``, or credited before a restart: its kept row has no blocks)
        takes ``traded_floor`` back too if it may be the floor's (at most ``floor_block``);
        whether any was. review92: a standing restored had no credits, so a reorg after the
        restart that undid its trade took nothing back, and the peer kept its standing for
        the rest of the hour. peers93: any block not among ``credits`` took the floor back,
        also one above the floor's that was never credited (a restored standing lost its
        trade to a reorg of a later block it had no credit in)."""
        known, top = {b for b, _t in self.credits}, self.floor_block
        unknown = self.traded_floor != float("-inf") and any(
            b not in known and b <= top for b in blocks
        )
        kept = [c for c in self.credits if c[0] not in blocks]
        if len(kept) == len(self.credits) and not unknown:
            return False
        self.traded = max(0, self.traded - (len(self.credits) - len(kept)) - unknown)
        self.credits = kept
        if unknown:  # (its floor's blocks are not known: taken back whole)
            self.traded_floor, self.floor_block = float("-inf"), math.inf
        self.traded_at = max((t for _b, t in kept), default=self.traded_floor)
        return True

    def traded_by(self, block: float) -> float:
        """``traded_at`` as of its trades in blocks at most ``block`` (the node's saved head:
        ``rows_kept``); a floor whose block is not known (inf) counted as one."""
        kept = [t for b, t in self.credits if b <= block]
        floor = (
            self.traded_floor
            if self.floor_block <= block or self.floor_block == math.inf
            else float("-inf")
        )
        return max(kept, default=floor)

    def earn(self, now: float, every: float = EARN_SECONDS) -> bool:
        """A check of accepted orders: a point of ``delivered`` for each ``every`` seconds
        since it was last credited (the first: one), none if less than ``every`` (or it is
        full); whether it grew. One idle longer than ``CREDIT_MOST`` points' time is credited
        that many, through now; one that was not (a peer at the cap, then penalized) all it
        is due, through its last point's time (sybil78: a check at the cap was not
        remembered, so a penalty's first check after it counted the hour since the cap as
        idle, credited through now: the peer lost its place to sybils that capped later)."""
        idle, self.active_at = now - max(self.delivered_at, self.active_at), now
        first = self.delivered_at == float("-inf")
        due = 1 if first else int((now - self.delivered_at) // every)
        points = min(due, MAX_DELIVERED - self.delivered)
        if points <= 0:
            return False
        if first or idle // every > CREDIT_MOST:
            points, at = min(points, CREDIT_MOST), now
        else:  # (what is left of the last ``every`` counts toward the next point)
            at = self.delivered_at + points * every
        self.delivered, self.delivered_at = self.delivered + points, at
        return True

    def banned(self, now: float) -> bool:
        return now < self.banned_until

    def can_introduce(self, now: float) -> bool:
        """Its bucket holds an introduction (refilled to ``now``); ``spend_introduction``."""
        if self.tokens_at is not None:
            elapsed = max(0.0, now - self.tokens_at)
            self.tokens = min(MAX_INTRODUCED, self.tokens + elapsed / INTRODUCE_SECONDS)
        self.tokens_at = now
        return self.tokens >= 1

    def spend_introduction(self, counted: bool = True) -> None:
        """One token (``counted``: for a candidate it introduced; else one refused after its
        URL was parsed, as its host group held its share)."""
        self.tokens -= 1
        self.introduced += counted


def leading(
    peers: Iterable[tuple[str, Standing]],
    k: int,
    least: int,
    every: float = EARN_SECONDS,
    now: float = math.inf,
) -> frozenset[str]:
    """The ids of the ``k`` peers that have delivered since earliest (at least ``least``
    points): ranked by ``delivered_at - delivered * every``, the time its points say it began
    (of two as many points, the earlier first; of two credited as late, the more points).
    A point a ``EARN_SECONDS`` at most: a peer admitted later cannot outrank one that
    delivered since before it came and still does, however many checks it sends (review77c:
    a point a check, back to back, so each of 16 sybils reached the bar in 5 checks of orders
    of one funded account, free, and they outnumbered every established peer), nor however
    seldom that one delivers, within ``CREDIT_MOST`` (reads78: ranked by points, a peer
    delivering every 30 s was overtaken by sybils checking every 10 s). Those an order of
    which traded within ``TRADED_SECONDS`` of ``now`` rank first (sybil78: points cost
    nothing but signatures, so sybils that delivered first held the places for as long as
    they kept delivering)."""

    def rank(s: Standing) -> tuple[bool, float]:
        began = s.delivered_at - s.delivered * every if s.delivered else math.inf
        return now - s.traded_at > TRADED_SECONDS, began

    ranked = heapq.nsmallest(
        max(0, k), ((rank(s), key) for key, s in peers if s.delivered >= least)
    )
    return frozenset(key for _b, key in ranked)


def rows_kept(
    peers: Iterable[tuple[str, Standing]],
    now: float,
    most: int,
    every: float = EARN_SECONDS,
    saved: float = math.inf,
) -> list[tuple[str, int, float, float, float]]:
    """The ``most`` standings that began earliest (``leading``'s order) of those that
    delivered any within ``KEEP_IDLE_SECONDS``, as rows to keep across a restart
    (``sdex.storestandings``): id, points, and the ages of ``delivered_at``, ``active_at``
    and ``traded_at`` at ``now`` (the last at most ten ``TRADED_SECONDS``: never is as good
    as long ago), of trades in blocks at most ``saved`` (the node's saved head: the next
    start credits those above it again, and restores this one as at most it,
    ``restored``; review93a: a trade above it kept, then credited again by the catch-up,
    stood through a reorg of its block, the restored floor taken for an older trade's)."""
    every_one = [
        (k, s) for k, s in peers if now - max(s.active_at, s.delivered_at) <= KEEP_IDLE_SECONDS
    ]
    chosen = leading(every_one, most, 1, every, now)
    return [
        (
            key,
            s.delivered,
            now - s.delivered_at,
            now - max(s.active_at, s.delivered_at),
            min(now - s.traded_by(saved), 10 * TRADED_SECONDS),
        )
        for key, s in every_one
        if key in chosen
    ]


def restored(
    delivered: int,
    credited_ago: float,
    active_ago: float,
    traded_ago: float,
    now: float,
    below: float = math.inf,
) -> Standing:
    """A standing kept across a restart: its points, credited through and last delivered as
    long before ``now`` as they were before the save (the node's time down is no one's
    idleness); its last trade in a block at most ``below`` (the saved head the start
    resumed from: ``floor_block``; inf, not known)."""
    return Standing(
        delivered=delivered,
        delivered_at=now - credited_ago,
        active_at=now - active_ago,
        traded_at=now - traded_ago,
        traded_floor=now - traded_ago,
        floor_block=below,
    )


class Leaders:
    """``leading``'s answer, kept until ``stale`` (a peer's delivered value or the table
    changed: at most a point a peer every ``EARN_SECONDS``) or ``EARN_SECONDS`` old (a
    trade's rank lapses with time); ranking 64 peers again for every check took ~44 us of
    the loop."""

    def __init__(self) -> None:
        self._kept: tuple[tuple[int, int], float, frozenset[str]] | None = None

    def stale(self) -> None:
        self._kept = None

    def of(
        self,
        peers: Callable[[], Iterable[tuple[str, Standing]]],
        k: int,
        least: int,
        every: float = EARN_SECONDS,
        now: float = math.inf,
    ) -> frozenset[str]:
        """``leading(peers(), k, least, every, now)``, again only if stale, older than
        ``EARN_SECONDS`` or asked with other bounds."""
        kept = self._kept
        if kept is None or kept[0] != (k, least) or not 0 <= now - kept[1] < EARN_SECONDS:
            kept = self._kept = (k, least), now, leading(peers(), k, least, every, now)
        return kept[2]


class Strangers:
    """Standings by id, at most ``most``: three tiers (clean, penalized, banned), each oldest
    first; past ``most`` the oldest of the lowest tier goes (module docstring)."""

    def __init__(self, clock: Callable[[], float], most: int = MAX_STANDINGS) -> None:
        self.clock = clock
        self.most = most
        self._tiers: tuple[OrderedDict[str, Standing], ...] = tuple(OrderedDict() for _ in range(3))
        self._tier: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._tier)

    def get(self, key: str) -> Standing | None:
        """``key``'s standing if kept (not refreshed)."""
        tier = self._tier.get(key)
        return None if tier is None else self._tiers[tier][key]

    def touch(self, key: str) -> Standing:
        """``key``'s standing (a new, clean one if none was kept), now the newest of its tier."""
        s = self.get(key) or Standing()
        self.put(key, s)
        return s

    def put(self, key: str, s: Standing) -> None:
        """Keep ``s`` as ``key``'s, the newest of the tier it is in now (after a penalty, or
        a peer's when it leaves the table); a new key past ``most``: the oldest of the lowest
        tier that holds any goes first."""
        old = self._tier.pop(key, None)
        if old is not None:
            del self._tiers[old][key]
        elif len(self._tier) >= self.most:
            gone, _ = next(t for t in self._tiers if t).popitem(last=False)
            del self._tier[gone]
        tier = 2 if s.banned(self.clock()) else int(s.score < 0)
        self._tiers[tier][key] = s
        self._tier[key] = tier
