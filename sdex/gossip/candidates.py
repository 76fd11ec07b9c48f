"""Which introduced URL may wait in the candidate list (``sdex.gossip.peers``), by host group.

Keys are free to make (peer31): each new stranger key that sends a hello gets its own burst
of introductions, so per-id bounds alone let one machine keep the whole list
(``MAX_CANDIDATES``) full of its URLs, and honest introductions were refused. As Bitcoin
Core's addrman buckets its new table by the *source* group (the peer that told it an
address) and the address's own group, every introduced candidate counts against two host
groups (``sdex.gossip.hosts.host_group``: an IPv4 /24, an IPv6 /32):

- its **source**: the group of the client address the hello (or the answer to our hello)
  came from. At most ``SOURCE_SHARE`` (an eighth of the list, as ``MAX_PER_HOST`` is an
  eighth of the table) wait from one source group, so a full list holds at least 8 source
  groups' URLs whatever number of keys one of them makes;
- its **target**: the group of the URL itself. At most ``TARGET_SHARE`` wait for one
  group: the table admits ``MAX_PER_HOST`` (8) of a group anyway, so twice that leaves room
  for dead URLs, and a list full of one network's URLs (an eclipse's first step) takes 16
  groups at least. Its URL is parsed only once the source's checks passed, and a URL
  refused for its group costs its introducer one introduction: parsing one costs ~14 µs,
  a hello may share 64, and keys are free (``bench/peer31_hello_cost.py``).

When the list is full, a candidate whose source group holds fewer than the most-represented
group's minus one takes the place of one of that group's (at random): honest sources from
other groups keep getting in, and the list tends to an even spread over the groups that
introduce. An unknown source ("": the simulator, which has no addresses) is bounded by
neither the source share nor that replacement (the list then behaves as before peer31);
the operator's seeds count against nothing and are never replaced.

Loopback (a devnet runs every node on 127.0.0.1, one group) has the share of the list its
table bound has of the table (``per_loopback`` of ``max_peers``; by default the whole list),
at least a host group's: a process on the node's own machine can read its key and database
anyway, and a config that bounds loopback peers like one host bounds its candidates too.
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from sdex.gossip.hosts import LOOPBACK

SOURCE_SHARE = 32
"""Candidates that may wait from one source host group (an eighth of ``MAX_CANDIDATES``)."""
TARGET_SHARE = 16
"""Candidates that may wait for one host group (twice the table's ``MAX_PER_HOST``)."""


class Candidate(NamedTuple):
    by: str
    """The id that introduced it ("" for the operator's seeds)."""
    source: str = ""
    """The host group its introduction came from ("": not known)."""
    target: str = ""
    """Its URL's host group."""


def share(base: int, group: str, loopback: int) -> int:
    """How many candidates ``group`` may hold: ``base``, or for loopback ``loopback`` if
    that is more."""
    return max(base, loopback) if group == LOOPBACK else base


class Waiting(OrderedDict[str, Candidate]):
    """The candidate list: URL → ``Candidate``, oldest first, counting its introduced
    candidates by introducer, source and target group as it changes (so that a hello's
    many introductions against a full list cost no scan of it each)."""

    def __init__(self) -> None:
        super().__init__()
        self.by: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.targets: Counter[str] = Counter()

    def _count(self, c: Candidate, n: int) -> None:
        if c.by:
            for counter, group in (
                (self.by, c.by),
                (self.sources, c.source),
                (self.targets, c.target),
            ):
                if not group:
                    continue  # (an unknown source counts against no group)
                counter[group] += n
                if counter[group] <= 0:
                    del counter[group]

    def __setitem__(self, url: str, c: Candidate) -> None:
        old = self.get(url)
        if old is not None:
            self._count(old, -1)
        super().__setitem__(url, c)
        self._count(c, 1)

    def __delitem__(self, url: str) -> None:
        c = self[url]
        super().__delitem__(url)
        self._count(c, -1)

    # (through ``__delitem__``: whether OrderedDict's own pop and popitem call a
    # subclass's ``__delitem__`` is the C implementation's business)
    def pop(self, url: str, default: Any = None) -> Any:
        if url not in self:
            return default
        c = self[url]
        del self[url]
        return c

    def popitem(self, last: bool = True) -> tuple[str, Candidate]:
        if not self:
            raise KeyError("popitem(): the candidate list is empty")
        url = next(reversed(self)) if last else next(iter(self))
        c = self[url]
        del self[url]
        return url, c

    def clear(self) -> None:
        super().clear()
        self.by.clear()
        self.sources.clear()
        self.targets.clear()


def make_room(
    waiting: Waiting,
    by: str,
    source: str,
    target: Callable[[], str],
    size: int,
    loopback: int,
    rng: random.Random,
) -> tuple[Candidate | None, str | None]:
    """The candidate ``by`` introduces from ``source`` if it may join ``waiting`` (a list
    of at most ``size``; None: it may not), and the URL it replaces if any (None: none; the
    caller removes it). ``target``: its URL's host group, asked only once the source's
    checks passed (parsing a URL is what a refused flood would cost). ``loopback``: the
    candidates the loopback group may hold."""
    sources, full, most = waiting.sources, len(waiting) >= size, 0
    if source:
        mine = sources.get(source, 0)
        if mine >= share(SOURCE_SHARE, source, loopback):
            return None, None
        if full:
            most = max(sources.values(), default=0)
            if mine + 1 >= most:
                return None, None  # (no group holds more than it would: the list keeps its own)
    elif full:
        return None, None
    new = Candidate(by, source, target())
    if waiting.targets[new.target] >= share(TARGET_SHARE, new.target, loopback):
        return None, None
    if not full:
        return new, None
    group = rng.choice(sorted(g for g, n in sources.items() if n == most))
    return new, rng.choice([u for u, c in waiting.items() if c.by and c.source == group])
