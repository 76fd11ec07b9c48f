"""How sure a tail figure of the real-versus-simulated comparison is (bench/gossip_sim.py).

A p99 over 200 orders is the third slowest of them: another window on the same machine,
the nodes as fast, can put it anywhere between about the sixth slowest and the slowest. So
the comparison gives each p99 the range its own sample allows (distribution-free: a
quantile's confidence interval from order statistics, the binomial count of samples
below it) and takes the simulator's p99 from all of its seeds' orders together (8 seeds of
N orders: a sample 8 times larger, not the mean of 8 small-sample p99s).
"""

from __future__ import annotations

import math
from typing import Any

INF = float("inf")
CONFIDENCE = 0.95


def rank(q: float, n: int) -> int:
    """The index (0-based, in sorted order) of the ``q`` quantile of ``n`` values, nearest
    rank, as ``bench/gossip.py``'s and ``sdex.sim.run``'s ``pct`` take it."""
    return min(n - 1, max(0, math.ceil(q * n - 1e-9) - 1))


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k), X ~ Binomial(n, p) (terms in logs: n may be thousands)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    lf = math.lgamma(n + 1)
    return sum(
        math.exp(lf - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
        for i in range(k + 1)
    )


def quantile_ci(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int, int | None]:
    """0-based indexes (lo, hi) of sorted values such that the true ``q`` quantile lies
    between them with at least ``confidence`` (``hi`` None: above the largest value, the
    sample cannot bound it). The count of values below the quantile is Binomial(n, q):
    the ``lo``-th value is above the quantile with probability P(count <= lo), the
    ``hi``-th below it with 1 - P(count <= hi); each end takes half of the rest."""
    tail = (1 - confidence) / 2
    lo = 0
    while lo + 1 < n and _binom_cdf(lo + 1, n, q) <= tail:
        lo += 1
    if 1 - _binom_cdf(n - 1, n, q) > tail:  # even the largest value may be below it
        return lo, None
    hi = n - 1
    while hi > lo and 1 - _binom_cdf(hi - 1, n, q) <= tail:
        hi -= 1
    return lo, hi


def tail_figure(values: list[float | None], q: float = 0.99) -> dict[str, Any]:
    """The ``q`` quantile of ``values`` (seconds; None or ``inf``: never arrived) in ms with
    its confidence interval."""
    s = sorted(INF if v is None else v for v in values)
    n = len(s)
    if not n:
        return {"n": 0}
    lo, hi = quantile_ci(n, q)

    def ms(i: int | None) -> float | None:
        return None if i is None or s[i] == INF else round(1000 * s[i], 1)

    return {"n": n, "value": ms(rank(q, n)), "ci95": [ms(lo), ms(hi)], "max": ms(n - 1)}


def pooled(sims: list[dict[str, Any]], q: float = 0.99) -> dict[str, Any]:
    """The simulator's ``q`` quantile to every node over all seeds' orders together (each
    seed's ``to_all_s``, ``Scenario.samples``)."""
    values = [v for s in sims for v in s.get("to_all_s", [])]
    return tail_figure(values, q)


def ratio_range(real: dict[str, Any], predicted: dict[str, Any]) -> dict[str, Any]:
    """Real / simulated for the point values and for the ends of both intervals (the real
    interval's low end over the simulated high end, and the other way round)."""
    r, p = real.get("value"), predicted.get("value")
    (rlo, rhi), (plo, phi) = real.get("ci95", [None, None]), predicted.get("ci95", [None, None])
    ratio = None if not r or not p else round(r / p, 3)
    low = None if not rlo or not phi else round(rlo / phi, 3)
    high = None if not rhi or not plo else round(rhi / plo, 3)
    return {"ratio": ratio, "ratio_ci95": [low, high]}
