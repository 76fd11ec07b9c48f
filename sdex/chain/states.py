"""The rows of the Exchange's ``getOrderStates``: an order's status, filled amount,
signature validity and maker's funds, decoded and checked against the orders asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sdex.order import SignedOrder


class OrderStatus(IntEnum):
    """The contract's ``OrderStatus`` enum, same numbering."""

    INVALID = 0
    FILLABLE = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4


@dataclass(frozen=True, slots=True, init=False)
class OrderState:
    """One row of ``getOrderStates``: everything a validator needs about one order."""

    hash: bytes
    status: OrderStatus
    filled: int
    signature_valid: bool
    maker_balance: int
    maker_allowance: int

    def __init__(
        self,
        hash: bytes,
        status: OrderStatus,
        filled: int,
        signature_valid: bool,
        maker_balance: int,
        maker_allowance: int,
    ) -> None:
        """The generated ``__init__``'s stores, through the slots' own descriptors (one
        call a field, not ``object.__setattr__``'s look-up: ~0.5 of its time): the mirror
        makes one for every order it judges (~1% of a node's samples, cpu32)."""
        _SET_STATE[0](self, hash)
        _SET_STATE[1](self, status)
        _SET_STATE[2](self, filled)
        _SET_STATE[3](self, signature_valid)
        _SET_STATE[4](self, maker_balance)
        _SET_STATE[5](self, maker_allowance)


_SET_STATE: tuple[Callable[[OrderState, Any], None], ...] = tuple(
    OrderState.__dict__[f].__set__
    for f in ("hash", "status", "filled", "signature_valid", "maker_balance", "maker_allowance")
)
"""``OrderState``'s slot descriptors' setters, in field order (they bypass the frozen
``__setattr__``, as the generated ``__init__``'s ``object.__setattr__`` does)."""


def checked_order_states(raw: object, orders: Sequence[SignedOrder]) -> list[OrderState]:
    """``getOrderStates``'s answer ``raw`` for ``orders``: one row per order, each of its
    order, or ``ValueError`` (a broken or hostile endpoint: fewer rows, more, or others'
    read as these would be one order's word taken for another's, or a ``KeyError`` deep in
    a caller: left63)."""
    if not isinstance(raw, str) or not raw.startswith("0x"):
        raise ValueError("getOrderStates answered something else than hex")
    states = decode_order_states(bytes.fromhex(raw[2:]))
    if len(states) != len(orders):
        raise ValueError(f"getOrderStates answered {len(states)} rows for {len(orders)}")
    if any(st.hash != so.hash for st, so in zip(states, orders, strict=True)):
        raise ValueError("getOrderStates answered rows of other orders")
    return states


def decode_order_states(data: bytes) -> list[OrderState]:
    """The return data of ``getOrderStates``: an array of static 6-word tuples. Data
    shorter than its array says (an empty ``0x`` among them) raises ``ValueError``: a
    missing word is the node's failure, never a 0."""
    start = int.from_bytes(data[0:32], "big")
    n = int.from_bytes(data[start : start + 32], "big")
    base = start + 32
    if len(data) < 32 or len(data) < base or len(data) < base + 192 * n:
        raise ValueError(f"getOrderStates answered {len(data)} bytes, short of its rows")
    out = []
    for i in range(n):
        row = data[base + 192 * i : base + 192 * (i + 1)]
        out.append(
            OrderState(
                row[0:32],
                OrderStatus(int.from_bytes(row[32:64], "big")),
                int.from_bytes(row[64:96], "big"),
                row[127] == 1,
                int.from_bytes(row[128:160], "big"),
                int.from_bytes(row[160:192], "big"),
            )
        )
    return out
