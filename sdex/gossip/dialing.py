"""The URLs dialled before admission (``Dialing``, the base of ``sdex.gossip.peers.Peers``):
candidates introduced by ids, each id within its quota and its host groups' shares
(``sdex.gossip.candidates``), and the operator's seeds, dialled again while they fail
(backing off, capped). What answers a signed hello enters the table (``Peers.admit``); what
the table says of an id (its standing, whether a URL is a peer's) is asked of it here."""

from __future__ import annotations

import random
from collections.abc import Callable, Container

from sdex.gossip.candidates import Candidate, Waiting, make_room
from sdex.gossip.hosts import host_group
from sdex.gossip.standings import MAX_INTRODUCED, Standing

BACKOFF_BASE = 0.2
BACKOFF_MAX = 10.0
MAX_CANDIDATES = 256

SEED = Candidate("")
"""An operator's seed in the candidate list."""


class Dialing:
    """Candidate URLs and seeds; the table (``Peers``) gives what it needs of it below."""

    me: str
    clock: Callable[[], float]
    rng: random.Random
    max_peers: int
    per_loopback: int
    _by_url: dict[str, str]

    def standing(self, key: str) -> Standing:
        raise NotImplementedError

    def __init__(self) -> None:
        self.candidates = Waiting()
        """Candidate URL → who introduced it, from which host group (``Candidate``)."""
        self.seeds: set[str] = set()
        self._seed_failures: dict[str, int] = {}
        self._seed_retry: dict[str, float] = {}
        self._seed_hastened: set[str] = set()
        """Seeds whose dial backoff a hello ended since they were last admitted."""

    def add_seed(self, url: str) -> None:
        url = normalize(url)
        if _plausible(url) and url != self.me:
            self.seeds.add(url)
            self.candidates[url] = SEED

    def introduce(self, url: object, introducer: str, source: str = "") -> bool:
        """``introducer`` says a node answers at ``url``: a candidate, within its quota and
        its host groups' shares (``sdex.gossip.candidates``; ``source``: the host group the
        introduction came from, "" if not known)."""
        if not isinstance(url, str) or url in self._by_url:
            return False  # (already a verified peer's URL: the common case, checked first)
        url = normalize(url)
        if not _plausible(url) or url == self.me or url in self._by_url or url in self.candidates:
            return False
        s, now = self.standing(introducer), self.clock()
        if s.banned(now) or not s.can_introduce(now):
            return False
        # at most a burst of its candidates wait (none is dialled while the table is full)
        if self.candidates.by[introducer] >= MAX_INTRODUCED:
            return False
        loopback = MAX_CANDIDATES * self.per_loopback // max(1, self.max_peers)
        parsed: list[str] = []

        def target() -> str:
            parsed.append(host_group(url))
            return parsed[0]

        new, replaced = make_room(
            self.candidates, introducer, source, target, MAX_CANDIDATES, loopback, self.rng
        )
        if new is None:
            if parsed:  # (its group is full: what parsing the URL cost is its introducer's)
                s.spend_introduction(counted=False)
            return False
        if replaced is not None:
            del self.candidates[replaced]
        s.spend_introduction()
        self.candidates[url] = new
        return True

    def take_candidates(self, k: int, cut: Container[str] = ()) -> list[str]:
        """Up to ``k`` candidates to dial now (removed from the list; seeds come back). One
        in ``cut`` (a link the operator cut) stays in the list, dialled once it is restored
        (gossip69: it was dropped, and a seed cut past its eviction never dialled again)."""
        out: list[str] = []
        now = self.clock()
        waiting: list[tuple[str, Candidate]] = []
        while self.candidates and len(out) < k:
            url, c = self.candidates.popitem(last=False)
            if url in self._by_url:
                continue
            if url in cut or self._seed_retry.get(url, 0.0) > now:
                waiting.append((url, c))  # cut, or a seed still backing off: later
                continue
            out.append(url)
        for url, c in waiting:
            self.candidates[url] = c
        return out

    def seed_hello(self, url: str) -> bool:
        """A hello claims ``url``, an operator's seed not in the table whose failed dials
        set a wait (a peer evicted while it was down, back from a restart: it dials its
        seeds first): the wait ends, its count kept, once until it is admitted again (as
        ``retry_now``'s, review68: a hello from elsewhere claiming the URL costs one dial of
        it). chaos74: such a peer was dialled only when the wait, up to 12 s, was over, and
        its stored orders reached this node no sooner. Whether it was waiting."""
        waiting = self._seed_retry.get(url, 0.0) > self.clock() and url not in self._seed_hastened
        if waiting:
            self._seed_retry[url] = 0.0
            self._seed_hastened.add(url)
        return waiting

    def seeds_json(self) -> list[dict[str, object]]:
        """The seeds not in the table, with their failed dials in a row (``/health``)."""
        return [
            {"url": url, "failures": self._seed_failures.get(url, 0)}
            for url in sorted(self.seeds)
            if url not in self._by_url
        ]

    def dial_failed(self, url: str) -> None:
        if url in self.seeds and url not in self._by_url:
            # the operator named it: keep trying, backing off (capped)
            n = self._seed_failures.get(url, 0) + 1
            self._seed_failures[url] = n
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(n, 10))
            self._seed_retry[url] = self.clock() + delay * self.rng.uniform(0.8, 1.2)
            self.candidates[url] = SEED

    def _admitted(self, url: str) -> None:
        """``url`` entered the table: no candidate, no seed's wait any more."""
        self.candidates.pop(url, None)
        self._seed_failures.pop(url, None)
        self._seed_retry.pop(url, None)
        self._seed_hastened.discard(url)


def normalize(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else "http://" + url


def _plausible(url: str) -> bool:
    return url.startswith(("http://", "https://")) and len(url) <= 200 and " " not in url
