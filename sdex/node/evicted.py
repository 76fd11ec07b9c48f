"""The filter of the closed orders evicted from memory: ``sdex.hashfilter`` (shared with the
chain mirror, which must not import ``sdex.node``)."""

from __future__ import annotations

from sdex.hashfilter import CAPACITY, HashFilter, capacity_for

__all__ = ["CAPACITY", "HashFilter", "capacity_for"]
