"""Test-only hooks: product waits a test may shorten for the ``sdex node`` process it starts.

A test whose subject is what happens *after* one of the node's own timers (a peer evicted
after ``EVICT_SECONDS`` of failures) would otherwise wait that timer out each run (suite89:
30 s a test). ``$SDEX_TEST_<NAME>`` (seconds), read once where the timer is set, replaces it,
**only shorter**: the smaller of it and the product's own (unset or empty keeps the
product's). A value that is not a number of seconds from the hook's floor up (junk, NaN, below
the floor) is warned of and the product's timer kept: a test hook never fails a start
(small94: a value above a product constant a test had lowered in-process, ``monkeypatch``,
raised ``ValueError`` and the node's start failed). Not an operator setting: it is in no
``--help`` and no document for users, and cannot make a timer longer than the product's."""

from __future__ import annotations

import logging
import math
import os

PREFIX = "SDEX_TEST_"

log = logging.getLogger("sdex.testhooks")


def shortened(name: str, product: float, floor: float) -> float:
    """``product`` seconds, or ``$SDEX_TEST_<name>`` if set, if shorter: a number of seconds
    from ``floor`` up (else warned of, ``product`` kept)."""
    env = PREFIX + name
    raw = os.environ.get(env, "").strip()
    if not raw:
        return product
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not floor <= value < math.inf:  # (also NaN)
        log.warning(
            "$%s (test-only) is not seconds from %s up: %.40r; the product's %s kept",
            env, floor, raw, product,
        )  # fmt: skip
        return product
    return min(value, product)
