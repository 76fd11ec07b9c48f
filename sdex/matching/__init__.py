"""The matching engine: incoming orders against the book, exact, in price-time priority.

Pure Python, no I/O: ``MatchingEngine`` proposes ``Match`` values that the settlement
sends to the Exchange's ``matchOrders``; see ``sdex.matching.engine`` for the rules.
"""

from __future__ import annotations

from sdex.matching.engine import MatchingEngine, MayMatch
from sdex.matching.match import Match, MatchResult, Outcome, TimeInForce

__all__ = ["Match", "MatchResult", "MatchingEngine", "MayMatch", "Outcome", "TimeInForce"]
