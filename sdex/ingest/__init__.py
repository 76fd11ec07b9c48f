"""Order intake: the one validation path for wallet and peer orders."""

from __future__ import annotations

from sdex.ingest.intake import Intake
from sdex.ingest.limits import Limits
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.ingest.states import StateBatcher
from sdex.ingest.verdicts import Accepted, IntakeResult, Known, judge, removal_of

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
