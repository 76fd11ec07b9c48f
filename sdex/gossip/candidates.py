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
  groups at least.

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
from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

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


def make_room(
    waiting: Mapping[str, Candidate],
    new: Candidate,
    size: int,
    loopback: int,
    rng: random.Random,
) -> tuple[bool, str | None]:
    """Whether ``new`` may join ``waiting`` (a list of at most ``size``), and the URL it
    replaces if any (None: none; the caller removes it). ``loopback``: the candidates the
    loopback group may hold."""
    introduced = [c for c in waiting.values() if c.by]
    targets = sum(1 for c in introduced if c.target == new.target)
    if targets >= share(TARGET_SHARE, new.target, loopback):
        return False, None
    if not new.source:
        return len(waiting) < size, None
    sources = Counter(c.source for c in introduced if c.source)
    if sources[new.source] >= share(SOURCE_SHARE, new.source, loopback):
        return False, None
    if len(waiting) < size:
        return True, None
    most = max(sources.values(), default=0)
    if sources[new.source] + 1 >= most:
        return False, None  # (no group holds more than it would: the list keeps its own)
    crowded = [g for g, n in sources.items() if n == most]
    group = rng.choice(sorted(crowded))
    urls = [u for u, c in waiting.items() if c.by and c.source == group]
    return True, rng.choice(urls)
