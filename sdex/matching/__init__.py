"""The matching engine: incoming orders against the book, exact, in price-time priority.

No I/O: ``MatchingEngine`` proposes ``Match`` values that the settlement sends to the
Exchange's ``matchOrders``; see ``sdex.matching.walk`` for the rules. Python source, run
as it is or compiled with mypyc (see ``sdex.book.native``).
"""

from __future__ import annotations

# First: decides, before they are imported, whether the compiled modules run.
from sdex.book import native  # noqa: F401
from sdex.matching.engine import MatchingEngine
from sdex.matching.match import Match, MatchResult, Outcome, TimeInForce
from sdex.matching.walk import MayMatch

__all__ = ["Match", "MatchResult", "MatchingEngine", "MayMatch", "Outcome", "TimeInForce"]
