"""How many examples a property test runs: the suite's count, times ``SDEX_DEEP``.

The suite's counts are set where planted bugs are found with room to spare (the test's
comment says by how much) and kept small because every ``make test`` pays them; a hunt asks
for more with ``SDEX_DEEP=N`` (each count times N), e.g.
``SDEX_DEEP=10 .venv/bin/python -m pytest tests/test_fillmath.py``.
"""

from __future__ import annotations

import os

DEEP = max(1, int(os.environ.get("SDEX_DEEP", "1")))


def examples(n: int) -> int:
    """``n`` examples, or ``SDEX_DEEP`` times as many."""
    return n * DEEP
