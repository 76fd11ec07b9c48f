"""This node's own reading of the chain, kept from logs: what intake and the book need.

Per order hash the filled maker amount and the cancelled flag (``OrderFilled``,
``OrderCancelled``), per maker ``minValidSalt`` (``OrdersCancelledUpTo``), per (maker, token)
balance and allowance to the Exchange (read once when first needed, re-read when a listed
token's ``Transfer``/``Approval`` touches it), and the head (number, hash, timestamp).

Every Exchange event since the deployment block is applied, so an order hash the mirror
has never seen has filled 0 and is not cancelled: the chain state of a new order from a
known account is known without a call. The last ``depth`` blocks are kept with what each
changed (an undo list), so a reorg is undone exactly back to the fork point.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from eth_hash.auto import keccak

from sdex.chain import Exchange, FillEvent, Log, OrderState, OrderStatus
from sdex.order import SignedOrder, validity_errors

TRANSFER = keccak(b"Transfer(address,address,uint256)")
APPROVAL = keccak(b"Approval(address,address,uint256)")

Account = tuple[str, str]
"""(owner, token), lower-case addresses."""


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent: str
    timestamp: int

    @classmethod
    def from_rpc(cls, raw: object) -> Header:
        """A block from ``eth_getBlockByNumber``; ``ValueError`` if it is not one."""
        if not isinstance(raw, dict):
            raise ValueError(f"not a block: {type(raw).__name__}")
        try:
            number, h, parent, ts = (
                raw["number"],
                raw["hash"],
                raw["parentHash"],
                raw["timestamp"],
            )
            return cls(int(number, 16), str(h).lower(), str(parent).lower(), int(ts, 16))
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
    """Accounts a Transfer or an Approval (to the Exchange) touched."""

    def merge(self, other: Effects) -> None:
        self.fills.extend(other.fills)
        self.cancelled |= other.cancelled
        self.makers |= other.makers
        self.funds |= other.funds

    @property
    def orders(self) -> set[bytes]:
        return {f.order_hash for f in self.fills} | self.cancelled


@dataclass
class Block:
    header: Header
    effects: Effects
    undo: list[tuple[str, object, object]]
    """(kind, key, value before the block), applied in reverse to undo it."""


class Mirror:
    def __init__(self, exchange: Exchange, tokens: Iterable[str], depth: int = 128) -> None:
        self.exchange = exchange
        self.address = exchange.address
        self.tokens = frozenset(tokens)
        self.depth = depth
        self.head: Header | None = None
        self.filled: dict[bytes, int] = {}
        self.cancelled: set[bytes] = set()
        self.min_salt: dict[str, int] = {}
        self.funds: dict[Account, tuple[int, int]] = {}
        self.blocks: deque[Block] = deque()
        self._fill_topic = exchange.abi.events["OrderFilled"].topic
        self._cancel_topic = exchange.abi.events["OrderCancelled"].topic
        self._upto_topic = exchange.abi.events["OrdersCancelledUpTo"].topic
        self.dirty_orders: set[bytes] = set()
        self.dirty_makers: set[str] = set()
        self.dirty_funds: set[Account] = set()

    # -- following the chain ---------------------------------------------------------------

    def hash_at(self, number: int) -> str | None:
        """Our hash of block ``number`` if it is among the kept headers."""
        for b in reversed(self.blocks):
            if b.header.number == number:
                return b.header.hash
            if b.header.number < number:
                break
        if self.head is not None and self.head.number == number:
            return self.head.hash
        return None

    def apply(self, header: Header | None, logs: Sequence[Log], top: Header) -> Effects:
        """Apply one block's logs (``header`` given: kept for undo) or a run of final blocks
        (``header`` None: deeper than any reorg we handle, kept without undo). ``top``
        becomes the head."""
        undo: list[tuple[str, object, object]] = []
        eff = Effects()
        eff.fills = self.exchange.fills(logs)
        for f in eff.fills:
            old = self.filled.get(f.order_hash, 0)
            undo.append(("filled", f.order_hash, old))
            self.filled[f.order_hash] = old + f.maker_filled
            self.dirty_orders.add(f.order_hash)
        for lg in logs:
            if not lg.topics:
                continue
            t0 = lg.topics[0]
            if lg.address == self.address:
                if t0 == self._cancel_topic and len(lg.topics) >= 2:
                    h = lg.topics[1]
                    undo.append(("cancelled", h, h in self.cancelled))
                    self.cancelled.add(h)
                    self.dirty_orders.add(h)
                    eff.cancelled.add(h)
                elif t0 == self._upto_topic and len(lg.topics) >= 2 and len(lg.data) >= 32:
                    maker = "0x" + lg.topics[1][-20:].hex()
                    undo.append(("salt", maker, self.min_salt.get(maker, 0)))
                    self.min_salt[maker] = int.from_bytes(lg.data[:32], "big")
                    self.dirty_makers.add(maker)
                    eff.makers.add(maker)
            elif lg.address in self.tokens and len(lg.topics) >= 3:
                a = "0x" + lg.topics[1][-20:].hex()
                b = "0x" + lg.topics[2][-20:].hex()
                if t0 == TRANSFER:
                    eff.funds.add((a, lg.address))
                    eff.funds.add((b, lg.address))
                elif t0 == APPROVAL and b == self.address:
                    eff.funds.add((a, lg.address))
        if header is not None:
            self.blocks.append(Block(header, eff, undo))
            while len(self.blocks) > self.depth:
                self.blocks.popleft()
        self.head = top
        return eff

    def undo_to(self, number: int) -> Effects:
        """Undo every kept block above ``number`` (the fork point); what they had changed."""
        eff = Effects()
        while self.blocks and self.blocks[-1].header.number > number:
            b = self.blocks.pop()
            for kind, key, old in reversed(b.undo):
                if kind == "filled":
                    assert isinstance(key, bytes) and isinstance(old, int)
                    self.filled[key] = old
                    self.dirty_orders.add(key)
                elif kind == "cancelled":
                    assert isinstance(key, bytes)
                    if not old:
                        self.cancelled.discard(key)
                    self.dirty_orders.add(key)
                else:
                    assert isinstance(key, str) and isinstance(old, int)
                    self.min_salt[key] = old
                    self.dirty_makers.add(key)
            eff.merge(b.effects)
        self.head = self.blocks[-1].header if self.blocks else None
        return eff

    def clear(self) -> None:
        """Forget everything (a chain reset)."""
        self.head = None
        self.filled.clear()
        self.cancelled.clear()
        self.min_salt.clear()
        self.funds.clear()
        self.blocks.clear()
        self.dirty_orders.clear()
        self.dirty_makers.clear()
        self.dirty_funds.clear()

    # -- funds -----------------------------------------------------------------------------

    def set_funds(self, account: Account, balance: int, allowance: int) -> None:
        if self.funds.get(account) != (balance, allowance):
            self.funds[account] = (balance, allowance)
            self.dirty_funds.add(account)

    def touched_since(self, account: Account, number: int) -> bool:
        """Did a kept block above ``number`` touch ``account``'s funds? (a read made at
        ``number`` may be older than what the mirror has applied since)"""
        for b in reversed(self.blocks):
            if b.header.number <= number:
                return False
            if account in b.effects.funds:
                return True
        return False

    def learn(self, signed: SignedOrder, state: OrderState, read_at: int) -> None:
        """Take an account's funds from a chain read (``getOrderStates``) made when the
        mirror's head was ``read_at``, unless a block applied since touched them."""
        o = signed.order
        account = (o.maker, o.maker_token)
        if account not in self.funds and not self.touched_since(account, read_at):
            self.set_funds(account, state.maker_balance, state.maker_allowance)

    # -- reading ---------------------------------------------------------------------------

    def spendable(self, account: Account) -> int | None:
        f = self.funds.get(account)
        return None if f is None else min(f)

    def state(self, signed: SignedOrder, signature_valid: bool = True) -> OrderState | None:
        """The order's ``getOrderStates`` row as the mirror sees it; None when the maker's
        funds are not known yet (a first-seen account: one chain read)."""
        o = signed.order
        f = self.funds.get((o.maker, o.maker_token))
        if f is None or self.head is None:
            return None
        h = signed.hash
        filled = self.filled.get(h, 0)
        if validity_errors(o):
            status = OrderStatus.INVALID
        elif h in self.cancelled or o.salt < self.min_salt.get(o.maker, 0):
            status = OrderStatus.CANCELLED
        elif filled == o.maker_amount:
            status = OrderStatus.FILLED
        elif self.head.timestamp >= o.expiry:
            status = OrderStatus.EXPIRED
        else:
            status = OrderStatus.FILLABLE
        return OrderState(h, status, filled, signature_valid, f[0], f[1])

    def take_dirty(
        self,
    ) -> tuple[dict[bytes, tuple[int, bool]], dict[str, int], dict[Account, tuple[int, int]]]:
        """What changed since the last call, for the store."""
        orders = {h: (self.filled.get(h, 0), h in self.cancelled) for h in self.dirty_orders}
        makers = {m: self.min_salt.get(m, 0) for m in self.dirty_makers}
        funds = {a: self.funds[a] for a in self.dirty_funds if a in self.funds}
        self.dirty_orders.clear()
        self.dirty_makers.clear()
        self.dirty_funds.clear()
        return orders, makers, funds
