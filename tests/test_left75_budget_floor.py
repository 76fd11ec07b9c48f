"""left75: a peer's answer budget (``sdex.gossip.budgets.PeerBudget``) owes at most one full
bucket. A snapshot (or soft-cancel) page holds one order even when the peer has nothing left,
so a peer that kept asking drove its budget (or all strangers', who share one) ever further
below zero: after an hour of 2,000 pages a second, a node of 1,000 orders answered it one
order a page for ~5 days. Now a peer that stops is answered in full again within ``2 * full
/ rate`` seconds (a snapshot budget's ``snapshot_seconds``), and slowed while it asks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip import GossipConfig
from sdex.gossip.budgets import PeerBudget, cancelled_budget, snapshot_budget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _on(budget: PeerBudget, clock: Clock) -> PeerBudget:
    budget.clock = clock
    return budget


def test_an_hour_of_one_order_pages_is_forgotten_by_a_bootstrap_time() -> None:
    """A node of 1,000 orders; a peer asks 100 pages a second for an hour, each holding one
    order past the first (``max(1, most)``, as ``routes.get_snapshot`` answers), then
    stops (before: it owed ~300,000 orders, ~5 hours of refill)."""
    cfg = GossipConfig()
    for make in (snapshot_budget, cancelled_budget):
        clock = Clock()
        budget = _on(make(cfg, 1_000), clock)
        for _ in range(3_600):
            for _ in range(100):
                budget.spend("p", max(1, budget.most("p")))
            clock.now += 1.0
        assert budget.most("p") == 0  # (slowed while it asks)
        clock.now += cfg.snapshot_seconds
        assert budget.most("p") == 1_000  # before: 0, for ~5 hours more


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 5), st.floats(-10, 10_000, allow_nan=False)), max_size=60),
    st.sampled_from([(1.0, 10.0, 10), (16.7, 1_000.0, 1_000), (250.0, 3_000.0, 500)]),
)
def test_any_spending_owes_at_most_a_full_bucket(
    spends: list[tuple[float, float]], shape: tuple[float, float, int]
) -> None:
    rate, full, cap = shape
    clock = Clock()
    budget = PeerBudget(rate, full, cap, clock)
    for wait, units in spends:
        clock.now += wait
        budget.spend("p", units)
        assert budget._held["p"][0] >= -full
        assert 0 <= budget.most("p") <= cap
    clock.now += (2 * full + 1) / rate  # (+ 1: a unit's time, for float rounding)
    assert budget.most("p") == min(cap, int(full))
