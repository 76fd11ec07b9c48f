"""Per-peer budgets of the work a ``/p2p/`` answer costs, by what it holds (hashes listed,
orders answered), beside the request budget (``sdex.gossip.gate``: an admitted peer's
request pays for the loop time it took, ``sdex.gossip.metered``; the strangers' shared one
a token a request, more for one whose answer costs the loop more than the cheapest:
``DIGEST_TOKENS``, ``CANCEL_TOKENS``). Each is a token bucket per admitted peer that an
answer spends by its size; a peer over it is answered less (``most``), not refused: an
honest flow takes what it got, asks the rest in its next round, and counts no failure (a
429 would back it off)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sdex.gossip.actions import GossipConfig

DIGEST_TOKENS = 2.0
"""Request-budget tokens ``GET /p2p/digest`` costs a stranger (an admitted peer pays for
its loop time instead: ``sdex.gossip.metered``; gossip74: ~1.8 times the loop's time of
the cheapest request, which a token buys: at one token, a peer's 2,000 a second bought more
of the loop with digests than with anything else but the pages below; an honest peer asks
one an anti-entropy round)."""
CANCEL_TOKENS = 2.0
"""Request-budget tokens ``POST /p2p/cancels`` costs a stranger (gossip74: its maker's
signature recovered on the loop, ~2.1 times the cheapest request)."""
MAX_HELD = 1024
"""Buckets kept at once; past it the full ones are dropped (they refill to full anyway)."""


class PeerBudget:
    """Units (hashes, orders) each peer may be answered: ``rate`` a second, ``full`` at most;
    one answer at most ``cap``. A peer may owe (a snapshot page holds one order even with
    nothing left), at most ``full`` (left75: a peer that kept asking drove its budget, or
    all strangers', without bound below zero, and was answered the least for as long as its
    whole history took to refill: a node of 1,000 orders, ~17 a second, one order a page for
    ~5 days after an hour of 2,000 pages a second); so a peer that stops is answered in full
    again within ``2 * full / rate`` seconds (a snapshot budget's: ``snapshot_seconds``)."""

    def __init__(
        self, rate: float, full: float, cap: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.full = float(full)
        self.cap = cap
        self.clock = clock
        self._held: dict[str, tuple[float, float]] = {}

    def _now(self, peer: str) -> tuple[float, float]:
        now = self.clock()
        held, at = self._held.get(peer, (self.full, now))
        return min(self.full, held + (now - at) * self.rate), now

    def most(self, peer: str) -> int:
        """The units ``peer`` may be answered now (at most ``cap``)."""
        return max(0, min(self.cap, int(self._now(peer)[0])))

    def spend(self, peer: str, units: float) -> None:
        """``units`` were answered to ``peer``."""
        held, now = self._now(peer)
        self._held[peer] = (max(-self.full, held - units), now)
        if len(self._held) > MAX_HELD:  # (full ones hold nothing worth keeping)
            rate, full = self.rate, self.full
            self._held = {k: v for k, v in self._held.items() if v[0] + (now - v[1]) * rate < full}


FETCH_ROUNDS = 2
"""Anti-entropy rounds of fetches (this node's ``ae_max_fetches`` calls of ``batch_max``
orders) each peer's answers to ``POST /p2p/fetch`` may hold an interval (``fetch_budget``)."""
WHY_A_UNIT = 8
"""``why`` hashes (a soft cancel's lookup, ~1 us) a fetch's budget counts as one order
answered (~8 us of the loop: encoded, hashed for the answer's signature, written)."""


def fetch_budget(cfg: GossipConfig) -> PeerBudget:
    """The orders each peer may be answered by ``POST /p2p/fetch`` (gossip69: a request
    naming 5,000 open orders cost ~39 ms of the loop for one token of the request budget,
    2,000 a second: one peer could take the whole loop): ``FETCH_ROUNDS`` of this node's
    own anti-entropy rounds' fetches an interval, twice that at once."""
    per_round = cfg.ae_max_fetches * cfg.batch_max
    full = 2 * FETCH_ROUNDS * per_round
    return PeerBudget(FETCH_ROUNDS * per_round / cfg.ae_interval, full, full)


BOOTSTRAP_SPEED = 2.0
"""Full books (a node's ``max_orders``) each peer's snapshot pages may hold in a bootstrap's
time (``snapshot_seconds``), after the one they hold at once (``snapshot_budget``)."""


def snapshot_budget(cfg: GossipConfig, max_orders: int) -> PeerBudget:
    """The orders each peer (and all strangers together) may be answered by ``GET
    /p2p/snapshot`` (gossip70, found by gossip69: a page of 1,000 orders costs ~9.2 ms of the
    loop for one token of the request budget, 2,000 a second): a full book (``max_orders``)
    at once, so an honest bootstrap of a full node is never slowed, and ``BOOTSTRAP_SPEED``
    full books a ``snapshot_seconds`` after it (a node bootstrapping again soon after, a
    restart, still ends in half its time). A page over it holds fewer orders, never none
    (``routes.get_snapshot``): a bootstrap goes on, slower."""
    full = max(1, max_orders)
    return PeerBudget(BOOTSTRAP_SPEED * full / cfg.snapshot_seconds, full, full)


def cancelled_budget(cfg: GossipConfig, max_orders: int) -> PeerBudget:
    """The soft-cancelled orders each peer (and all strangers together) may be answered by
    ``GET /p2p/cancelled``, as ``snapshot_budget`` (a budget of its own: a bootstrap walks
    both). gossip74: a page of 1,000 cost ~12 ms of the loop (each row read, parsed and
    encoded) for one token of the request budget, ~40 times the cheapest request: one peer
    could take the whole loop. A page over it holds fewer, never none."""
    return snapshot_budget(cfg, max_orders)
