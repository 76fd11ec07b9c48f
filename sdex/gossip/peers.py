"""Known peers by the key they prove, their scores and bans (0x-mesh's scoring is the anchor).

- **Identity**: a peer is a node id (``sdex.gossip.identity``). Scores, bans and rate limits
  are per id; a URL is only where an id was *verified* to answer.
- **Admission**: a URL learnt from the operator (``--peer``), from a peer's list or from a
  sender's own claim is a *candidate*. It enters the table only after it answered a signed
  ``hello``: the answer's signature names the id behind the URL. Candidates are bounded, and
  one id may introduce ``MAX_INTRODUCED`` of them at once, then one every
  ``INTRODUCE_SECONDS`` (a token bucket per id; peer30: it was a lifetime count, so an honest
  peer stopped introducing others after 16), at most ``MAX_INTRODUCED`` of an id's waiting
  at once (a full table dials none, and the list must keep room for other ids), so a liar
  cannot fill the table with made-up URLs (they never answer, and are dropped after one
  try). Keys are free, so each candidate also counts against the host group its
  introduction came from and its URL's own (``sdex.gossip.candidates``; peer31: many keys
  of one machine kept the list full). The bucket is kept in memory with
  the id's standing, not persisted: the candidates it bounds are in memory too (a restart
  has none), and keys are free to make, so a stored bucket would bound no attacker more.
- **Eviction**: an admitted peer that keeps failing (``EVICT_FAILURES`` in a row, nothing
  answered for ``EVICT_SECONDS``) leaves the table; seeds go back to the candidates.
- **Hosts** (attack28: one address serving 64 keys on 64 ports took every slot): at most
  ``per_host`` (``MAX_PER_HOST``, 8 of 64) admitted peers share a host group (``host_group``
  of the address its hello answered from, else of its URL: an IPv4 /24, an IPv6 /32, a DNS
  name by its last two labels; review29: names are free to make), so a full table spans 8
  groups at least. Loopback is one group with its own bound (``per_loopback``, default the
  whole table): a devnet runs every node on 127.0.0.1, and a process on the node's own
  machine can read its key and database anyway.
- **Replacement** (libp2p's connection manager, 0x-mesh's peer tags): a full table of
  healthy peers still takes a proven newcomer (one that answered a signed hello) in place
  of a *useless* peer: past its ``GRACE_SECONDS``, no positive score (it never brought more
  valid new orders than bad ones), not an operator's seed; from the most crowded host group,
  at random among those. One replacement per ``REPLACE_SECONDS`` bounds the churn, so
  peers that bring valid orders and seeds are never displaced, and a table an attacker
  filled first turns over to the honest peers that keep being introduced.
- **Scores**: a peer loses ``INVALID_PENALTY`` points for every order or notice that proves
  bad faith and is banned for ``BAN_SECONDS`` once its score reaches ``BAN_SCORE``; valid new
  orders earn a point back, up to ``MAX_SCORE``. Ids not in the table (strangers) keep a
  standing too, in a bounded table (``sdex.gossip.standings``: the clean forgotten first,
  then the penalized, then the banned, each O(1)), so a stranger's ban holds; a peer's goes
  back to it when the peer leaves the table.
- A peer that does not answer backs off exponentially (capped) and is retried later.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sdex.gossip.actions import SPLITS, TOO_LARGE_ANSWER, Call, Reply, TooLarge, too_large
from sdex.gossip.dialing import BACKOFF_BASE, BACKOFF_MAX, Dialing
from sdex.gossip.dialing import MAX_CANDIDATES as MAX_CANDIDATES
from sdex.gossip.dialing import SEED as SEED
from sdex.gossip.dialing import normalize as normalize
from sdex.gossip.hosts import LOOPBACK as LOOPBACK
from sdex.gossip.hosts import host_group as host_group
from sdex.gossip.hosts import url_of_ip
from sdex.gossip.listing import Walk
from sdex.gossip.standings import (
    EARN_SECONDS,
    TRADED_SECONDS,
    Leaders,
    Standing,
    Strangers,
    restored,
    rows_kept,
)
from sdex.gossip.standings import INTRODUCE_SECONDS as INTRODUCE_SECONDS
from sdex.gossip.standings import MAX_INTRODUCED as MAX_INTRODUCED
from sdex.gossip.standings import MAX_STANDINGS as MAX_STANDINGS
from sdex.testhooks import shortened

INVALID_PENALTY = 5
BAN_SCORE = -20
MAX_SCORE = 20
BAN_SECONDS = 600.0
MAX_PEERS = 64
EVICT_FAILURES = 5
EVICT_SECONDS = 30.0
"""Test-only: ``$SDEX_TEST_EVICT_SECONDS`` shortens it, 1 s at least (``sdex.testhooks``)."""
MAX_PER_HOST = 8
"""Admitted peers one host group may hold (``host_group``; loopback: ``per_loopback``)."""
GRACE_SECONDS = 60.0
"""A new peer is not replaced before it had this long to be useful."""
REPLACE_SECONDS = 10.0
"""At most one useless peer is replaced per this many seconds (bounded churn)."""


@dataclass
class Peer:
    key: str
    """The node id it proved (0x address of its gossip key)."""
    url: str
    """Where that id answered a signed hello."""
    standing: Standing = field(default_factory=Standing)
    host: str = ""
    """``host_group(url)``: what the per-host bound counts."""
    admitted: float = 0.0
    """Clock time it entered the table (its grace period runs from here)."""
    failures: int = 0
    retry_at: float = 0.0
    hastened: bool = False  # (a hello ended its backoff since its last answer: retry_now)
    last_ok: float = 0.0
    """Clock time of the last answer (the table's clock: monotonic, or simulated)."""
    last_seen: float = field(default_factory=time.time)
    """Wall-clock time of the last verified message from or answer by this peer."""
    sent: int = 0
    """Order copies sent to this peer."""
    received: int = 0
    """Orders received from this peer."""
    quiet: dict[int, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    """Anti-entropy: buckets that differed from ours only by orders this node rejected for
    good or holds already (their digest, ours, the rejected hashes, when last asked): not
    asked again while all three hold (``flows.anti_entropy``)."""
    walks: dict[int, Walk] = field(default_factory=dict)
    """Anti-entropy: its over-full buckets walked run by run (``listing.walked``)."""

    @property
    def score(self) -> int:
        return self.standing.score

    def banned(self, now: float) -> bool:
        return self.standing.banned(now)

    def reachable(self, now: float) -> bool:
        return not self.banned(now) and now >= self.retry_at

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "key": self.key,
            "url": self.url,
            "score": self.score,
            "banned": self.banned(now),
            "failures": self.failures,
            "lastSeen": self.last_seen,
            "sent": self.sent,
            "received": self.received,
            "invalid": self.standing.invalid,
            "delivered": self.standing.delivered,
            "traded": self.standing.traded,
        }


class Peers(Dialing):
    """The table of admitted peers (module docstring); the URLs before it: ``Dialing``."""

    def __init__(
        self,
        me_key: str,
        me_url: str,
        max_peers: int = MAX_PEERS,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        per_host: int = MAX_PER_HOST,
        per_loopback: int = MAX_PEERS,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self.clock = clock
        """Every time the table keeps or compares (a simulator passes its own)."""
        self.rng = rng or random.Random()
        self.me_key = me_key
        self.me = normalize(me_url)
        self.max_peers = max_peers
        self.per_host = per_host
        self.per_loopback = per_loopback
        self.on_drop = on_drop
        """Told the id of every peer that leaves the table (its outbox and mesh go too)."""
        self.earn_seconds = EARN_SECONDS  # (``Standing.earn``: a point per this at most)
        self.evict_seconds = shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0)
        self._leaders = Leaders()
        self._next_replace = 0.0
        self._peers: dict[str, Peer] = {}
        self._by_url: dict[str, str] = {}
        self._standings = Strangers(lambda: self.clock())
        """Standings of ids not in the table (``sdex.gossip.standings``: bounded, O(1))."""
        self.trades = 0
        """Trades credited (``traded``), in all: a change worth keeping soon (peers79)."""
        self.traded_block = 0
        """The highest block a trade was credited in (kept once the saved head is past it)."""
        self._restored: dict[str, Standing] = {}
        """Standings kept across a restart of ids not admitted since (``restore``): apart
        from the strangers', whose flood of fresh keys forgets the clean ones first."""
        super().__init__()

    # ---- admission -----------------------------------------------------------------------

    def admit(self, key: str, url: str, address: str = "", own: bool = True) -> Peer | None:
        """``key`` answered a signed hello at ``url``, from the IP ``address`` if known: it
        enters the table (or refreshes its URL, if it says ``url`` is its ``own``: gossip98,
        a relay passing a peer's bytes through moved the peer's calls to the relay). None if
        it is us, banned, an admitted peer not at a URL of its own, its host group
        (``address``'s, else ``url``'s: ``host_group``) holds its share already, or the
        table is full of healthy peers none of which may be replaced yet."""
        url = normalize(url)
        now = self.clock()
        if key == self.me_key or url == self.me:
            return None
        standing = self.standing(key)
        peer = self._peers.get(key)
        if standing.banned(now) or (peer is not None and peer.url != url and not own):
            return None
        old_key = self._by_url.get(url)
        if old_key is not None and old_key != key:  # that URL now answers with another key
            self._drop(old_key)
        host = host_group(url_of_ip(address) if address else url)
        if peer is not None:
            if peer.url != url:
                if host != peer.host and self._crowded(host):
                    return None  # (it keeps the URL it has)
                self._by_url.pop(peer.url, None)
                peer.url, peer.host = url, host
                self._by_url[url] = key
            self.ok(peer)
            return peer
        if self._crowded(host):
            return None
        if len(self._peers) >= self.max_peers and not self._evict_one(now):
            return None
        peer = self._peers[key] = Peer(key, url, standing, host, now, last_ok=now)
        self._restored.pop(key, None)  # (its standing is its peer's now)
        self._leaders.stale()  # (its standing's delivered value may rank it)
        self._by_url[url] = key
        self._admitted(url)
        return peer

    def _crowded(self, host: str) -> bool:
        cap = self.per_loopback if host == LOOPBACK else self.per_host
        return sum(1 for p in self._peers.values() if p.host == host) >= cap

    def room(self) -> int:
        """How many newcomers the table could take now: its free slots, or 1 when it is
        full but a useless peer may be replaced (the core dials no more candidates)."""
        free = self.max_peers - len(self._peers)
        if free > 0:
            return free
        now = self.clock()
        return int(
            now >= self._next_replace and any(self._useless(p, now) for p in self._peers.values())
        )

    def _useless(self, peer: Peer, now: float) -> bool:
        return (
            peer.score <= 0 and now - peer.admitted >= GRACE_SECONDS and peer.url not in self.seeds
        )

    def _evict_one(self, now: float) -> bool:
        worst = min(self._peers.values(), key=lambda p: (p.failures == 0, p.score, p.last_ok))
        if worst.failures or worst.score < 0:
            self._drop(worst.key)
            return True
        # every peer is healthy: replace a useless one (at a bounded rate), else keep them
        if now < self._next_replace:
            return False
        useless = [p for p in self._peers.values() if self._useless(p, now)]
        if not useless:
            return False
        crowd: dict[str, int] = {}
        for p in self._peers.values():
            crowd[p.host] = crowd.get(p.host, 0) + 1
        most = max(crowd[p.host] for p in useless)
        least = min(p.score for p in useless if crowd[p.host] == most)
        pick = [p for p in useless if crowd[p.host] == most and p.score == least]
        self._next_replace = now + REPLACE_SECONDS
        self._drop(self.rng.choice(pick).key)
        return True

    def _drop(self, key: str) -> None:
        peer = self._peers.pop(key, None)
        if peer is not None:
            self._leaders.stale()
            self._by_url.pop(peer.url, None)
            self._standings.put(key, peer.standing)  # (a stranger's again: its ban holds)
            if peer.url in self.seeds:
                self.candidates[peer.url] = SEED
            if self.on_drop is not None:
                self.on_drop(key)

    def evict_failing(self) -> list[Peer]:
        """Drop peers that kept failing; them."""
        now = self.clock()
        gone = [
            p
            for p in self._peers.values()
            if p.failures >= EVICT_FAILURES and now - p.last_ok >= self.evict_seconds
        ]
        for p in gone:
            self._drop(p.key)
        return gone

    # ---- lookups --------------------------------------------------------------------------

    def get(self, key: str) -> Peer | None:
        return self._peers.get(key)

    def by_url(self, url: str) -> Peer | None:
        key = self._by_url.get(normalize(url))
        return None if key is None else self._peers.get(key)

    def urls(self, most: int | None = None) -> list[str]:
        """Verified URLs of admitted peers (what a hello answer shares): ``most`` at random."""
        urls = [p.url for p in self._peers.values()]
        return urls if most is None or len(urls) <= most else self.rng.sample(urls, most)

    def live(self) -> list[Peer]:
        now = self.clock()
        return [p for p in self._peers.values() if p.reachable(now)]

    def others(self, exclude: str | None = None) -> list[Peer]:
        """Every admitted peer not banned, but the one with id ``exclude``: reachable now or
        waiting out a backoff."""
        now = self.clock()
        return [p for p in self._peers.values() if p.key != exclude and not p.banned(now)]

    def sample(self, k: int, exclude: str | None = None) -> list[Peer]:
        """Up to ``k`` random reachable peers, not the one with id ``exclude``."""
        live = [p for p in self.live() if p.key != exclude]
        return live if len(live) <= k else self.rng.sample(live, k)

    # ---- standing -------------------------------------------------------------------------

    def standing(self, key: str) -> Standing:
        peer = self._peers.get(key)
        if peer is not None:
            return peer.standing
        return self._restored.get(key) or self._standings.touch(key)

    def restore(
        self, rows: Iterable[tuple[str, int, float, float, float]], below: float = math.inf
    ) -> None:
        """Delivered value kept across a restart (``sdex.storestandings``: id, points, ages
        of its credit, last delivery and last trade): each id's when it is admitted again
        (sybil78); their last trades in blocks at most ``below`` (``standings.restored``)."""
        now = self.clock()
        for key, delivered, credited, active, traded in rows:
            if key not in self._peers and key != self.me_key:
                self._restored[key] = restored(delivered, credited, active, traded, now, below)

    def traded(self, key: str, block: int = 0) -> bool:
        """An order ``key`` delivered first traded in ``block``
        (``sdex.node.readbudget.credit_trades``): it ranks ahead of those none of whose did
        for ``TRADED_SECONDS`` (``standings.leading``); whether that credited it (an admitted
        peer or a kept standing, not credited in ``block`` already: ``Standing.credit``)."""
        s = self._standing_of(key)
        if s is None or not s.credit(block, self.clock()):
            return False
        self.trades += 1
        self.traded_block = max(self.traded_block, block)
        self._leaders.stale()
        return True

    def has_traded(self, key: str) -> bool:
        """Whether admitted peer ``key`` delivered first an order that traded within
        ``TRADED_SECONDS`` (``traded``; kept across a restart: ``restore``): its standing in
        ``sdex.gossip.alike``'s judging of intake charges (stand89)."""
        peer = self._peers.get(key)
        return peer is not None and self.clock() - peer.standing.traded_at <= TRADED_SECONDS

    def untraded(self, key: str, blocks: Collection[int]) -> bool:
        """A reorg undid ``blocks``: ``key``'s trades credited in them taken back
        (``Standing.uncredit``; peers79); whether any was."""
        s = self._standing_of(key)
        if s is None or not s.uncredit(blocks):
            return False
        self.trades += 1
        self._leaders.stale()
        return True

    def _standing_of(self, key: str) -> Standing | None:
        peer = self._peers.get(key)
        return peer.standing if peer is not None else self._restored.get(key)

    def kept(
        self, most: int, saved: float = math.inf
    ) -> list[tuple[str, int, float, float, float]]:
        """The rows to keep across a restart: the ``most`` admitted peers' and restored ids'
        standings that began earliest, their trades to block ``saved`` (``rows_kept``)."""
        both = [*self._standings_of_peers(), *self._restored.items()]
        return rows_kept(both, self.clock(), most, self.earn_seconds, saved)

    def is_banned(self, key: str) -> bool:
        peer = self._peers.get(key)
        s = peer.standing if peer is not None else self._standings.get(key)
        return s is not None and s.banned(self.clock())

    def penalize(self, key: str, violations: int = 1) -> bool:
        """``key`` proved bad faith ``violations`` times; True if that (re)banned it."""
        s = self.standing(key)
        s.invalid += violations
        s.score -= INVALID_PENALTY * violations
        s.delivered = max(0, s.delivered - INVALID_PENALTY * violations)
        self._leaders.stale()
        banned = s.score <= BAN_SCORE
        if banned:
            s.banned_until = self.clock() + BAN_SECONDS
        if key not in self._peers:
            self._standings.put(key, s)  # (in its tier now: penalized, or banned)
        return banned

    def reward(self, key: str, points: int = 1) -> None:  # (and ``Standing.earn``'s point)
        peer = self._peers.get(key)
        if peer is not None:
            peer.standing.score = min(MAX_SCORE, peer.standing.score + points)
            if peer.standing.earn(self.clock(), self.earn_seconds):
                self._leaders.stale()

    def leading(self, k: int, least: int) -> frozenset[str]:
        """The ``k`` admitted peers that delivered most over time, those whose orders traded
        first (``standings.Leaders``)."""
        every, now = self.earn_seconds, self.clock()
        return self._leaders.of(self._standings_of_peers, k, least, every, now)

    def _standings_of_peers(self) -> Iterator[tuple[str, Standing]]:
        return ((x, p.standing) for x, p in self._peers.items())

    def seen(self, key: str) -> None:
        peer = self._peers.get(key)
        if peer is not None:
            peer.last_seen = time.time()

    def verified(
        self, call: Call, reply: Reply | None, unlooked: bool = False
    ) -> dict[str, Any] | TooLarge | None:
        """An admitted peer's answer's body; None (it backs off) if failed, refused or
        forged. An answer too large to carry, to a call a flow asks again in halves
        (``SPLITS``), is ``TOO_LARGE_ANSWER``: no failure of the peer's. Only the peer's own
        (``signer``: its stream, whose frames its session keys prove, or over HTTP a route's
        answer it signed): an unsigned error answer anyone on the path could forge, and a
        single hash too large costs the peer (``flows.anti_entropy``); nor is ``unlooked``."""
        peer = self.get(call.peer)
        if peer is None:
            return None
        if reply is None or reply.status >= 300 or reply.signer != peer.key:
            if (
                reply is not None
                and reply.signer == peer.key
                and call.kind in SPLITS
                and too_large(reply)
            ):
                return TOO_LARGE_ANSWER
            self.failed(peer, counted=reply is not None or not unlooked)
            return None
        self.ok(peer)
        return reply.body if isinstance(reply.body, dict) else None

    def failed(self, peer: Peer, counted: bool = True) -> None:
        peer.failures += counted  # (not: a backoff only, toward no eviction)
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(max(1, peer.failures), 10))
        peer.retry_at = self.clock() + delay * self.rng.uniform(0.8, 1.2)

    def retry_now(self, peer: Peer) -> bool:
        """``peer`` signed a hello just now (a restart dials its peers): the wait its
        failures set ends, its count kept (one more failure waits as long), once until it
        answers again (review68: each hello ended it, so a peer whose URL fails, its DNS
        pointed at another's server, say, had its held pushes sent there at the pace of its
        hellos, up to its rate limit, not its backoff's). Whether it was waiting."""
        waiting = peer.retry_at > self.clock() and not peer.hastened
        if waiting:
            peer.retry_at, peer.hastened = 0.0, True
        return waiting

    def ok(self, peer: Peer) -> None:
        peer.failures = 0
        peer.retry_at, peer.hastened = 0.0, False
        peer.last_ok = self.clock()
        peer.last_seen = time.time()

    def to_json(self) -> list[dict[str, object]]:
        now = self.clock()
        return [p.to_json(now) for p in self._peers.values()]

    def __len__(self) -> int:
        return len(self._peers)
