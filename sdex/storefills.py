"""The fills table's rows as the node keeps them (``sdex.storeread`` reads them, the
listings and a reorg's undo; ``sdex.storechain`` writes them)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sdex.model import FillEvent, fill_json

log = logging.getLogger("sdex.store")


@dataclass(frozen=True, slots=True)
class StoredFill(FillEvent):
    """A fill as the node keeps it: the one fill shape (``sdex.model.FillEvent``), and
    whether this node's own settlement made it."""

    ours: bool = False

    @classmethod
    def of(cls, fill: FillEvent, ours: bool) -> StoredFill:
        # (each field named: ~2/3 of the time of a dict of them built by ``getattr``; four
        # of these a settled match; ``tests/test_model.py`` checks none is left out)
        f = fill
        return cls(
            order_hash=f.order_hash,
            maker=f.maker,
            taker=f.taker,
            maker_filled=f.maker_filled,
            taker_filled=f.taker_filled,
            fee_recipient=f.fee_recipient,
            fee=f.fee,
            block_number=f.block_number,
            tx_hash=f.tx_hash,
            log_index=f.log_index,
            ours=ours,
        )

    def to_json(self) -> dict[str, object]:
        return fill_json(self, self.ours)


def fill_of(r: tuple[Any, ...]) -> StoredFill:
    """A ``fills`` row (``SELECT *``) as a ``StoredFill``; ``ValueError`` for a row not as this
    node writes it (the file is another hand's: a disk error, an edit, an older version's bug).
    attack31: a row's amount edited to "abc" made every fills page holding it a 500 (and a
    reorg's or a chain reset's removal of its block fail); one of 300 digits was listed."""
    tx, log_index, block, order_hash, maker, taker, made, took, fee_to, fee, ours = r[:11]
    if not _text_is(TX_HASH, tx) or not _text_is(TX_HASH, order_hash):
        raise ValueError(f"a fill's hashes {str(tx)[:80]!r}, {str(order_hash)[:80]!r}")
    if not all(_text_is(ADDRESS, a) for a in (maker, taker, fee_to)):
        raise ValueError(f"a fill's addresses {str((maker, taker, fee_to))[:200]}")
    for n in (log_index, block):
        if type(n) is not int or n < 0:
            raise ValueError(f"a fill's block or log index {str(n)[:80]!r}")
    amounts = [_uint(v) for v in (made, took, fee)]
    if type(ours) is not int or ours not in (0, 1):
        raise ValueError(f"a fill's ours {str(ours)[:80]!r} is not 0 or 1")
    return StoredFill(
        tx_hash=tx,
        log_index=log_index,
        block_number=block,
        order_hash=bytes.fromhex(order_hash[2:]),
        maker=maker,
        taker=taker,
        maker_filled=amounts[0],
        taker_filled=amounts[1],
        fee_recipient=fee_to,
        fee=amounts[2],
        ours=ours == 1,
    )


def fills_of(rows: Iterable[tuple[Any, ...]]) -> list[StoredFill]:
    """The rows that are fills as written (``fill_of``); each other one logged (the first
    ``MAX_BAD_NAMED``) and left out: one edited row cannot fail a page or a removal."""
    out: list[StoredFill] = []
    for r in rows:
        try:
            out.append(fill_of(r))
        except (ValueError, TypeError, IndexError) as e:
            key = str(r[:2] if isinstance(r, tuple) else r)[:200]
            if len(_BAD) < MAX_BAD_NAMED and key not in _BAD:
                _BAD.add(key)
                log.warning("stored fill %s is not as written (left out): %.200s", key, e)
    return out


def _text_is(pattern: re.Pattern[str], v: object) -> bool:
    return isinstance(v, str) and pattern.fullmatch(v) is not None


def _uint(v: object) -> int:
    if not _text_is(UINT, v) or int(str(v)) >= 2**256:
        raise ValueError(f"a fill's amount {str(v)[:80]!r} is not a uint256")
    return int(str(v))


TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
UINT = re.compile(r"[0-9]{1,78}")
MAX_BAD_NAMED = 1024
"""Bad fill rows logged by key (each only once); past these, they are left out unlogged."""
_BAD: set[str] = set()


def own_fill(
    order_hash: bytes,
    maker: str,
    taker: str,
    maker_filled: int,
    taker_filled: int,
    fee_recipient: str,
    fee: int,
    block_number: int,
    tx_hash: str,
    log_index: int,
) -> StoredFill:
    """A fill of the node's own settlement (``Exchange.fills_as``: its fields in
    ``FillEvent``'s order, given by position, ~0.7 us a fill less than by name; anvil81):
    stored as such at once, not decoded as a ``FillEvent`` and copied into a ``StoredFill``
    (two frozen objects a fill, four a settled match; anvil50)."""
    return StoredFill(
        order_hash, maker, taker, maker_filled, taker_filled, fee_recipient, fee,
        block_number, tx_hash, log_index, True,
    )  # fmt: skip
