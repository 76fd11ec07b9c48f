"""Order intake: the one validation path for wallet and peer orders."""

from __future__ import annotations

from sdex.ingest.intake import (
    Accepted,
    Intake,
    IntakeResult,
    Known,
    judge,
    removal_of,
)
from sdex.ingest.limits import Limits
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.ingest.states import StateBatcher

__all__ = [
    "Accepted",
    "Intake",
    "IntakeResult",
    "Known",
    "Limits",
    "Rejection",
    "RejectionCode",
    "StateBatcher",
    "judge",
    "removal_of",
]
