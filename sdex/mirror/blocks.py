"""What a block is to the mirror: its header (``Header``), what it changed (``Effects``), and
how to undo it (``Block``, kept for the last ``Mirror.depth`` blocks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdex.chain import FillEvent
from sdex.chain.headsignal import base_fee_of
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

    @classmethod
    def from_rpc(cls, raw: object) -> Header:
        """A block from ``eth_getBlockByNumber``; ``ValueError`` if it is not one, or if its
        number or stamp is not below 2^63 (what the store and the clocks hold: review83, a
        stamp past a float failed the start with ``OverflowError`` in the clock's lead)."""
        if not isinstance(raw, dict):
            raise ValueError(f"not a block: {type(raw).__name__}")
        try:
            number, h, parent, ts = (
                raw["number"],
                raw["hash"],
                raw["parentHash"],
                raw["timestamp"],
            )
            root = raw.get("transactionsRoot")
            tx_root = root.lower() if isinstance(root, str) and len(root) == 66 else ""
            n, t, fee = int(number, 16), int(ts, 16), base_fee_of(raw)
            if not (0 <= n < 1 << 63 and 0 <= t < 1 << 63):
                raise ValueError(f"number {number!s:.80} stamped {ts!s:.80}")
            return cls(n, str(h).lower(), str(parent).lower(), t, tx_root, fee)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a block: {e}") from None


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
