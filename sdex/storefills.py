"""The fills table's rows as the node keeps them (``sdex.storeread`` reads them, the
listings and a reorg's undo; ``sdex.storechain`` writes them)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sdex.model import FillEvent, fill_json

_FILL_FIELDS = tuple(f.name for f in fields(FillEvent))
"""``FillEvent``'s fields in order (read once: ``fields`` is slow for a per-fill call)."""


@dataclass(frozen=True, slots=True)
class StoredFill(FillEvent):
    """A fill as the node keeps it: the one fill shape (``sdex.model.FillEvent``), and
    whether this node's own settlement made it."""

    ours: bool = False

    @classmethod
    def of(cls, fill: FillEvent, ours: bool) -> StoredFill:
        return cls(**{name: getattr(fill, name) for name in _FILL_FIELDS}, ours=ours)

    def to_json(self) -> dict[str, object]:
        return fill_json(self, self.ours)


def fill_of(r: tuple[Any, ...]) -> StoredFill:
    """A ``fills`` row (``SELECT *``) as a ``StoredFill``."""
    return StoredFill(
        tx_hash=r[0],
        log_index=r[1],
        block_number=r[2],
        order_hash=bytes.fromhex(r[3][2:]),
        maker=r[4],
        taker=r[5],
        maker_filled=int(r[6]),
        taker_filled=int(r[7]),
        fee_recipient=r[8],
        fee=int(r[9]),
        ours=bool(r[10]),
    )
