"""What a block is to the mirror: its header (``Header``), what it changed (``Effects``), and
how to undo it (``Block``, kept for the last ``Mirror.depth`` blocks)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sdex.chain import FillEvent
from sdex.chain.feebounds import base_fee_of
from sdex.mirror.own import Account


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent: str
    timestamp: int
    tx_root: str = ""
    """``transactionsRoot`` ("" when the header had none)."""
    base_fee: int | None = field(default=None, compare=False)
    """``baseFeePerGas`` (None when the header had none): the settler signs with it."""
    sealed: bool = field(default=True, compare=False)
    """False: announced by the newHeads feed with a hash not proven of its fields
    (``sdex.mirror.seal``): its stamp and fee are the feed's word only, never taken unread
    (``sdex.watch.blocks.own_alone``). Read from the chain: True (the chain's word)."""

    @classmethod
    def from_rpc(cls, raw: object) -> Header:
        """A block from ``eth_getBlockByNumber`` (or a newHeads header); ``ValueError`` if it
        is not one: its ``hash`` and ``parentHash`` 32 bytes of hex, its ``number`` and
        ``timestamp`` hex quantities below 2^63 (an odd ``transactionsRoot`` is none).
        watch83 (review82b): any value was taken (a null hash as "none", " 0x1 " or "-0x1"
        as a number), and the saved block row written with it could not be read back
        (``sdex.watch.savedblocks``); review83: a stamp past a float failed the start with
        ``OverflowError`` in the clock's lead."""
        if not isinstance(raw, dict):
            raise ValueError(f"not a block: {type(raw).__name__}")
        try:
            number, h, parent, ts = (
                raw["number"],
                raw["hash"],
                raw["parentHash"],
                raw["timestamp"],
            )
        except KeyError as e:
            raise ValueError(f"not a block: no {e}") from None
        root = raw.get("transactionsRoot")
        tx_root = root.lower() if isinstance(root, str) and HASH.fullmatch(root) else ""
        n, t = _quantity(number, "number"), _quantity(ts, "timestamp")
        block_hash, parent_hash = _hash(h, "hash"), _hash(parent, "parentHash")
        return cls(n, block_hash, parent_hash, t, tx_root, base_fee_of(raw))


HASH = re.compile(r"0x[0-9a-fA-F]{64}")
"""A block hash as an RPC writes it (ASCII hex: not ``str.isdigit``'s other digits)."""
QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,16}")
"""A block number or timestamp: a hex quantity of 64 bits at most (not ``int``'s " 0x1 ",
"0x_1" or "-0x1"), below 2^63 (``_quantity``: an SQLite integer)."""


def _hash(value: object, name: str) -> str:
    """A header's ``name`` field, 32 bytes of hex, lowercased; else ``ValueError``."""
    if not isinstance(value, str) or HASH.fullmatch(value) is None:
        raise ValueError(f"not a block: {name} {str(value)[:80]!r} is not 32 bytes of hex")
    return value.lower()


def _quantity(value: object, name: str) -> int:
    """A header's ``name`` field, a hex quantity below 2^63; else ``ValueError``."""
    if not isinstance(value, str) or QUANTITY.fullmatch(value) is None:
        raise ValueError(f"not a block: {name} {str(value)[:80]!r} is not a hex quantity")
    n = int(value, 16)
    if n >= 2**63:
        raise ValueError(f"not a block: {name} {value} is past 2^63")
    return n


@dataclass
class Effects:
    """What a run of blocks changed: orders, makers and accounts to look at again."""

    fills: list[FillEvent] = field(default_factory=list)
    cancelled: set[bytes] = field(default_factory=set)
    makers: set[str] = field(default_factory=set)
    """Makers whose ``minValidSalt`` moved."""
    funds: set[Account] = field(default_factory=set)
    """Accounts a Transfer or an Approval (to the Exchange) touched: to be re-read."""
    moved: set[Account] = field(default_factory=set)
    """Accounts the node's own settlements moved, updated by the amounts (no re-read)."""
    orphaned: set[bytes] = field(default_factory=set)
    """Orders of own receipts noted for a block the head passed without it (reorged out
    before the watcher got there): what the node confirmed from them is to be judged again."""

    def merge(self, other: Effects) -> None:
        self.fills.extend(other.fills)
        self.cancelled |= other.cancelled
        self.makers |= other.makers
        self.funds |= other.funds
        self.moved |= other.moved
        self.orphaned |= other.orphaned

    @property
    def orders(self) -> set[bytes]:
        return {f.order_hash for f in self.fills} | self.cancelled


@dataclass
class Block:
    header: Header
    effects: Effects
    undo: list[tuple[str, object, object]]
    """(kind, key, value before the block), applied in reverse to undo it."""
