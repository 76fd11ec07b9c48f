"""The one intake path for orders, from wallets and from peers alike.

schema → cheap checks → signature → on-chain state (batched ``eth_call``) → accepted.
The caller (the node) then stores, books, matches and gossips an accepted order. Nothing
here trusts the sender: a peer's order is checked exactly like a wallet's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sdex.chain import OrderState, OrderStatus
from sdex.chain.aio import ChainThread
from sdex.errors import OrderParseError, SignatureError
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.order import Domain, Order, SignedOrder, recover_signer, validity_errors


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid, fillable, funded order and the chain state it was checked against."""

    signed: SignedOrder
    state: OrderState


@dataclass(frozen=True, slots=True)
class Known:
    """An order this node already holds (a repeat post or a gossip echo): nothing to do."""

    hash: bytes


IntakeResult = Accepted | Known | Rejection


@dataclass
class Limits:
    max_orders_per_maker: int = 1_000
    max_orders: int = 200_000
    expiry_margin: int = 2
    """Seconds of life an order must have left beyond the latest block's timestamp."""


class StateBatcher:
    """Folds concurrent order-state lookups into one ``getOrderStates`` call.

    The first request opens a batch; it closes after ``max_wait`` seconds or ``max_batch``
    requests, and one ``eth_call`` answers all of them.
    """

    def __init__(
        self,
        chain: ChainThread,
        max_batch: int = 256,
        max_wait: float = 0.002,
        more: Sequence[ChainThread] = (),
    ) -> None:
        """``more``: further chain threads; batches take turns, so a few reads are in flight
        at once and the node works while the chain answers."""
        self.chain = chain
        self._lanes = [chain, *more]
        self._turn = 0
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[tuple[SignedOrder, asyncio.Future[OrderState]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._resolving: set[asyncio.Future[None]] = set()
        self.calls = 0

    async def get(self, signed: SignedOrder) -> OrderState:
        fut: asyncio.Future[OrderState] = asyncio.get_running_loop().create_future()
        self._pending.append((signed, fut))
        if len(self._pending) >= self.max_batch:
            self._flush_now()
        elif self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_later())
        return await fut

    async def get_many(self, orders: list[SignedOrder]) -> list[OrderState]:
        """States of many orders now, in chunks (used at restart and by the watcher)."""
        out: list[OrderState] = []
        for i in range(0, len(orders), 500):
            chunk = orders[i : i + 500]
            out.extend(await self.chain.run(self.chain.exchange.order_states, chunk))
            self.calls += 1
        return out

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_wait)
        self._flusher = None
        self._flush_now()

    def _flush_now(self) -> None:
        batch, self._pending = self._pending, []
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if batch:  # keep a reference: the loop holds tasks only weakly
            task = asyncio.ensure_future(self._resolve(batch))
            self._resolving.add(task)
            task.add_done_callback(self._resolving.discard)

    async def _resolve(self, batch: list[tuple[SignedOrder, asyncio.Future[OrderState]]]) -> None:
        lane = self._lanes[self._turn % len(self._lanes)]
        self._turn += 1
        try:
            states = await lane.run(lane.exchange.order_states, [s for s, _ in batch])
            self.calls += 1
        except Exception as e:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (_, fut), state in zip(batch, states, strict=True):
            if not fut.done():
                fut.set_result(state)


class Intake:
    """Validates raw order JSON for this node's Exchange domain."""

    def __init__(
        self,
        domain: Domain,
        batcher: StateBatcher,
        known: Callable[[bytes], bool],
        open_count: Callable[[str | None], int],
        now: Callable[[], int],
        limits: Limits | None = None,
        tokens: frozenset[str] | None = None,
        fee: tuple[str, int] | None = None,
    ) -> None:
        self.domain = domain
        self.batcher = batcher
        self.known = known
        self.open_count = open_count
        self.now = now
        self.limits = limits or Limits()
        self.tokens = tokens
        self.fee = fee
        """(feeRecipient, basis points) this node asks of its wallets' orders; None: none."""

    def check_offchain(
        self, obj: object, check_fee: bool = True
    ) -> SignedOrder | Known | Rejection:
        """Everything that needs no chain: schema, rules, expiry, limits, ECDSA signature.

        ``check_fee``: hold the order to this node's fee (a wallet's order; a peer's order
        was held to its own node's fee)."""
        try:
            signed = SignedOrder.from_json(obj, self.domain)
        except OrderParseError as e:
            return Rejection(RejectionCode.MALFORMED, e.errors)
        if self.known(signed.hash):
            return Known(signed.hash)
        o = signed.order
        if errs := validity_errors(o):
            return Rejection(RejectionCode.INVALID_AMOUNTS, errs)
        if o.expiry <= self.now() + self.limits.expiry_margin:
            return Rejection.of(
                RejectionCode.EXPIRED, f"expiry {o.expiry} is not after the latest block"
            )
        if self.tokens is not None:
            for name, token in (("makerToken", o.maker_token), ("takerToken", o.taker_token)):
                if token not in self.tokens:
                    r = Rejection.of(RejectionCode.TOKEN_NOT_SUPPORTED)
                    r.errors[0] = type(r.errors[0])(
                        name, r.errors[0].code, f"{name} {token} is not listed"
                    )
                    return r
        if check_fee and self.fee is not None and self.fee[1] > 0:
            recipient, bps = self.fee
            need = o.taker_amount * bps // 10_000
            if o.fee_recipient != recipient or o.fee_amount < need:
                return Rejection.of(
                    RejectionCode.FEE_REQUIRED,
                    f"this node asks feeRecipient {recipient} and feeAmount >= {need} "
                    f"({bps} bps of takerAmount)",
                )
        if (over := self.over_limit(o)) is not None:
            return over
        return signed

    def over_limit(self, o: Order) -> Rejection | None:
        """The book's limits: total open orders, open orders per maker. Checked before the
        chain read and again just before acceptance (many orders are read at once)."""
        if self.open_count(None) >= self.limits.max_orders:
            return Rejection.of(RejectionCode.BOOK_FULL)
        if self.open_count(o.maker) >= self.limits.max_orders_per_maker:
            return Rejection.of(RejectionCode.MAKER_LIMIT)
        return None

    async def submit(self, obj: object, check_fee: bool = True) -> IntakeResult:
        first = self.check_offchain(obj, check_fee)
        if not isinstance(first, SignedOrder):
            return first
        signed = first
        # Off-chain ECDSA first (~50 us). A signature that doesn't recover to the maker may
        # still be a contract wallet's (EIP-1271): then the chain's verdict below decides.
        ecdsa_ok = _ecdsa_ok(signed)
        try:
            state = await self.batcher.get(signed)
        except Exception as e:
            return Rejection.of(
                RejectionCode.CHAIN_UNAVAILABLE, f"chain read failed: {type(e).__name__}"
            )
        if ecdsa_ok and not state.signature_valid:  # the chain is the judge; say so if we differ
            return Rejection.of(
                RejectionCode.INVALID_SIGNATURE, "the Exchange rejects this signature"
            )
        return judge(signed, state)


def judge(signed: SignedOrder, state: OrderState) -> Accepted | Rejection:
    """Accept an order only if the chain says it is fillable, signed and funded."""
    if not state.signature_valid:
        return Rejection.of(RejectionCode.INVALID_SIGNATURE)
    if state.status == OrderStatus.FILLED:
        return Rejection.of(RejectionCode.FULLY_FILLED)
    if state.status == OrderStatus.CANCELLED:
        return Rejection.of(RejectionCode.CANCELLED)
    if state.status == OrderStatus.EXPIRED:
        return Rejection.of(RejectionCode.EXPIRED)
    if state.status != OrderStatus.FILLABLE:
        return Rejection.of(RejectionCode.INVALID_AMOUNTS)
    if min(state.maker_balance, state.maker_allowance) == 0:
        return Rejection.of(RejectionCode.UNFUNDED)
    return Accepted(signed, state)


def _ecdsa_ok(signed: SignedOrder) -> bool | None:
    """True/False for a 65-byte ECDSA signature; None when it isn't one (EIP-1271 bytes)."""
    if len(signed.signature) != 65:
        return None
    try:
        return recover_signer(signed.hash, signed.signature) == signed.order.maker
    except SignatureError:
        return False
