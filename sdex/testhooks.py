"""Test-only hooks: product waits a test may shorten for the ``sdex node`` process it starts.

A test whose subject is what happens *after* one of the node's own timers (a peer evicted
after ``EVICT_SECONDS`` of failures) would otherwise wait that timer out each run (suite89:
30 s a test). ``$SDEX_TEST_<NAME>`` (seconds), read once where the timer is set, replaces it,
**only shorter**: a value from the hook's floor to the product's own (else ``ValueError``,
which says so; unset or empty keeps the product's). Not an operator setting: it is in no
``--help`` and no document for users, and cannot make a timer longer than the product's."""

from __future__ import annotations

import math
import os

PREFIX = "SDEX_TEST_"


def shortened(name: str, product: float, floor: float) -> float:
    """``product`` seconds, or ``$SDEX_TEST_<name>`` if set: a number from ``floor`` to
    ``product`` (else ``ValueError``)."""
    env = PREFIX + name
    raw = os.environ.get(env, "").strip()
    if not raw:
        return product
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not floor <= value <= product:  # (also NaN)
        raise ValueError(f"${env} (test-only) must be seconds from {floor} to {product}: {raw!r}")
    return value
