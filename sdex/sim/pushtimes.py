"""Where a simulated order's time goes between nodes, as the real nodes measure it
(``sdex.gossip.timing.PushTiming``, ``pushTiming`` in ``/health``): per push, ``hold``, how
long its oldest order waited in the sender's outbox since the node handed it to the core (a
push in flight to that peer, Nagle's ``push_hold``), and ``roundTrip``, from the push leaving
to its answer being read; per push with new orders, ``queue``, its wait at the receiver for
the one-batch-at-a-time check, and ``check``, the check itself. So a simulated hop can be set
beside a real one piece by piece (``bench/gossip_sim.py``'s ``push_timing``)."""

from __future__ import annotations

from typing import Any

KINDS = ("hold", "roundTrip", "queue", "check")


class PushTimes:
    """Seconds of each piece, one value a push (``KINDS``), from ``start`` on."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {k: [] for k in KINDS}
        self.handed: dict[tuple[int, str], float] = {}
        """(node, order hash): when the node handed the order to its core."""
        self.left: dict[tuple[int, int], float] = {}
        """(node, call id): when the push left."""
        self.asked: dict[tuple[int, int], float] = {}
        """(node, check id): when the receiver asked for its check."""
        self.began: dict[tuple[int, int], float] = {}
        self.start = 0.0

    def add(self, kind: str, now: float, since: float | None) -> None:
        if since is not None and now >= self.start:
            self.values[kind].append(now - since)

    def quantiles(self) -> dict[str, dict[str, float]]:
        """Each piece's count and p50/p90/p99 in milliseconds."""
        out: dict[str, dict[str, float]] = {}
        for kind, v in self.values.items():
            s = sorted(v)
            q: dict[str, Any] = {"count": len(s)}
            for name, f in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                q[name] = round(1000 * s[min(len(s) - 1, int(f * len(s)))], 3) if s else None
            out[kind] = q
        return out
