"""Settlement: turns the engine's matches into Exchange transactions and reads the outcome."""

from __future__ import annotations

from sdex.settlement.settler import Outcome, SettledMatch, Settler, diagnose

__all__ = ["Outcome", "SettledMatch", "Settler", "diagnose"]
