"""The answer to ``POST /p2p/hashes``: anti-entropy's list of the hashes in some digest
buckets, bounded in hashes (so in bytes and work) whatever a peer asks.

A bucket is answered whole or not at all (the asker judges a bucket by all its hashes:
``flows.anti_entropy``), in the order asked, until the next would pass ``MAX_LISTED``; the
answer names the buckets it holds (``buckets``) and the asker asks the others next round
(it asks them in a random order, so none waits behind one that stays different). One bucket
over the bound alone (hashes ground into one first byte) is answered as a slice of it from a
random place, and named in none (hashes67: every bucket was answered whole, 13.8 MB and
~230 ms of the loop for a node holding 200,000 orders, more than an asker reads:
anti-entropy with a full node always failed, and any stranger could ask it again and again).
The route charges the asker's rate limit a token per ``LISTED_PER_TOKEN`` hashes, and an
admitted peer's answers are bounded by a budget of its own besides (``listing_budget``)."""

from __future__ import annotations

import random
from typing import Any

from sdex.gossip.budgets import PeerBudget
from sdex.gossip.ports import OrderView

MAX_LISTED = 16_384
"""Hashes one answer holds at most (~1.1 MB of JSON; ~20 ms of the loop to answer)."""
LISTED_PER_TOKEN = 128
"""Hashes an answer lists for each rate-limit token more it costs its asker (a full answer
128 more: the strangers' shared budget, 500 a second at the defaults, pays for ~4 full
answers a second, ~8% of the loop, not 500: hashes67's bench)."""
PER_INTERVAL = 1.5
"""Full listings (``MAX_LISTED`` hashes) an admitted peer's budget refills each anti-entropy
interval (``sdex.gossip.budgets``): an honest peer asks a node at most one a round, one round
each of its intervals (0.8-1.2 of it), so 1.5 leaves it room."""
BURST = 2
"""Full listings an admitted peer's budget holds at most."""


def listing(
    view: OrderView, buckets: list[int], most: int = MAX_LISTED, rng: Any = random
) -> dict[str, Any]:
    """The hashes of ``buckets`` (ints in 0..255) that fit ``most``: see the module."""
    hashes: list[str] = []
    done: list[int] = []
    for b in dict.fromkeys(buckets if most > 0 else ()):
        got = view.hashes_in([b])
        if len(hashes) + len(got) <= most:
            hashes += got
            done.append(b)
        elif not hashes:  # (alone over the bound: a slice, from a random place)
            start = rng.randrange(len(got))
            hashes = (got[start:] + got[:start])[:most]
            break
        else:
            break
    return {"hashes": hashes, "buckets": done}


def listing_budget(interval: float) -> PeerBudget:
    """The hashes each admitted peer may be listed (gossip69: a peer's request budget, 2,000
    tokens a second, bought ~15 full listings a second, a quarter of the loop, where an
    honest peer asks one an anti-entropy round): ``PER_INTERVAL`` full listings each
    anti-entropy ``interval``, ``BURST`` at most. A peer over it is answered fewer hashes
    (whole buckets that fit, or none), not refused: its round judges what it got and asks
    the rest next round, and counts no failure."""
    return PeerBudget(PER_INTERVAL * MAX_LISTED / interval, BURST * MAX_LISTED, MAX_LISTED)
