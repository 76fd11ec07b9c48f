"""Settles matches on chain from the operator's key, one sequential nonce lane.

A batch of waiting matches goes out as one ``batchMatchOrders`` (one ``matchOrders`` when
alone). Every transaction is signed, *recorded in the database*, then broadcast, so a node
killed mid-flight reconciles it from its receipt at restart and never sends it twice
(a rebroadcast reuses the nonce). No fill counts before its receipt. A match that fails
(pre-flight revert, ``MatchSkipped``, failed transaction) is diagnosed from chain state:
the guilty order is shrunk or removed and the innocent one goes back to be matched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sdex.book.types import RemovalReason
from sdex.chain import FillEvent, OrderState, Receipt, Sender, SignedTx
from sdex.chain.aio import ChainThread
from sdex.errors import ContractRevert, TransactionFailed
from sdex.fillmath import MatchAmounts
from sdex.ingest import judge, removal_of
from sdex.matching.match import Match
from sdex.model import SettleOutcome
from sdex.order import SignedOrder
from sdex.store import Store

Outcome = SettleOutcome
"""(``sdex.model.SettleOutcome``, under the name this module has always exported.)"""

log = logging.getLogger("sdex.settlement")


@dataclass(frozen=True, slots=True)
class SettledMatch:
    """What the chain did with one match: ``actual`` amounts when settled, else the reason."""

    match: Match
    outcome: Outcome
    actual: MatchAmounts | None
    tx_hash: str | None
    reason: str = ""
    fills: tuple[FillEvent, ...] = ()
    """The two ``OrderFilled`` events of a settled match (resting order's first)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The chain's view of one order after a failed match: drop it, shrink it, or keep it."""

    order_hash: bytes
    remove: RemovalReason | None
    filled: int
    spendable: int
    guilty: bool


def diagnose(match: Match, resting: OrderState, incoming: OrderState) -> tuple[Verdict, Verdict]:
    """Find which order of a failed match is at fault, from its on-chain state.

    Guilty: filled (fully, or more than the book knew), cancelled, expired, signature no
    longer valid, or a maker who can no longer pay its side of the match.
    """

    def verdict(so: SignedOrder, state: OrderState, needed: int, known_filled: int) -> Verdict:
        spendable = min(state.maker_balance, state.maker_allowance)
        remove = removal_of(judge(so, state))  # the node's one verdict on chain state
        guilty = remove is not None or state.filled > known_filled or spendable < needed
        return Verdict(state.hash, remove, state.filled, spendable, guilty)

    a = match.amounts
    return (
        verdict(match.resting, resting, a.left_filled, _filled_before(match, True)),
        verdict(match.incoming, incoming, a.right_filled, _filled_before(match, False)),
    )


def _filled_before(match: Match, resting: bool) -> int:
    # The engine computed amounts from filled' = makerAmount - available; the chain's filled
    # must not exceed makerAmount - (what this match needs) for the match to go through.
    o = (match.resting if resting else match.incoming).order
    need = match.amounts.left_filled if resting else match.amounts.right_filled
    return o.maker_amount - need


GAS_PER_MATCH = 180_000
"""A bound on one match's gas (measured: ~144k for two new orders, bench/gas.py)."""
BASE_GAS = 60_000
MAX_TX_GAS = 16_000_000
"""Under Hardhat's per-transaction cap of 16,777,216 (the default max_batch is 64 matches)."""

SettleCallback = Callable[[list[SettledMatch]], Awaitable[None]]


class Settler:
    """Owns the operator's nonce lane; ``submit`` matches, results come back via ``on_result``."""

    def __init__(
        self,
        chain: ChainThread,
        sender: Sender,
        store: Store,
        on_result: SettleCallback,
        max_batch: int = 64,
    ) -> None:
        self.chain = chain
        self.sender = sender
        self.store = store
        self.on_result = on_result
        self.max_batch = max_batch
        self._queue: list[Match] = []
        self._wake = asyncio.Event()
        self.in_flight: set[str] = set()
        """Transaction hashes sent but not yet processed (the watcher leaves them alone)."""
        self.ours: set[str] = set()
        """Every settlement transaction this node sent (processed or not)."""
        self.sent = 0
        self.settled = 0
        self.failed = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def submit(self, matches: Sequence[Match]) -> None:
        if matches:
            self._queue.extend(matches)
            self.idle.clear()
            self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results = await self._settle(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a chain outage: give every match back to the node
                    log.exception("settlement failed")
                    results = [
                        SettledMatch(m, Outcome.FAILED, None, None, f"{type(e).__name__}: {e}")
                        for m in batch
                    ]
                self.settled += sum(r.outcome is Outcome.SETTLED for r in results)
                self.failed += sum(r.outcome is Outcome.FAILED for r in results)
                await self.on_result(results)
            if not self._queue:
                self.idle.set()

    async def _settle(self, batch: list[Match]) -> list[SettledMatch]:
        ex = self.chain.exchange
        data = ex.encode_settlement([(m.resting, m.incoming, m.amounts.left_filled) for m in batch])
        try:
            # Pre-flight: an eth_call (a lone match that would revert is never sent), then a
            # fixed gas limit; Hardhat's estimateGas re-runs a big batch many times (seconds).
            await self.chain.run(self.sender.preflight, ex.address, data)
            gas = min(MAX_TX_GAS, BASE_GAS + GAS_PER_MATCH * len(batch))
            signed: SignedTx = await self.chain.run(self.sender.sign, ex.address, data, gas)
        except ContractRevert as e:
            reason = str(ex.decoder.decode(e))
            return [SettledMatch(m, Outcome.FAILED, None, None, reason) for m in batch]
        self.store.add_settlement(
            signed.tx_hash,
            signed.nonce,
            signed.raw,
            [(m.resting.hash_hex, m.incoming.hash_hex) for m in batch],
        )
        self.in_flight.add(signed.tx_hash)
        self.ours.add(signed.tx_hash)
        self.sent += 1
        try:
            receipt = await self.chain.run(self._broadcast_and_wait, signed)
        finally:
            self.in_flight.discard(signed.tx_hash)
        return self.outcome(batch, receipt, signed.tx_hash)

    def _broadcast_and_wait(self, signed: SignedTx) -> Receipt:
        # A TransactionFailed here means mined and reverted (Hardhat answers so): the receipt tells
        with contextlib.suppress(TransactionFailed):
            self.sender.broadcast(signed)
        return self.sender.wait(signed.tx_hash)

    def outcome(self, batch: Sequence[Match], receipt: Receipt, tx_hash: str) -> list[SettledMatch]:
        """Pair each match with its fills, or with its ``MatchSkipped`` reason."""
        ex = self.chain.exchange
        self.store.set_settlement_status(tx_hash, "mined" if receipt.status == 1 else "failed")
        if receipt.status != 1:
            return [
                SettledMatch(m, Outcome.FAILED, None, tx_hash, "transaction reverted")
                for m in batch
            ]
        fills = ex.fills(receipt.logs)
        skipped = {s.index: s for s in ex.skipped(receipt.logs)}
        out: list[SettledMatch] = []
        k = 0
        for i, m in enumerate(batch):
            if i in skipped:
                out.append(SettledMatch(m, Outcome.FAILED, None, tx_hash, str(skipped[i].reason)))
                continue
            left, right = fills[k], fills[k + 1]
            k += 2
            actual = MatchAmounts(left.maker_filled, right.maker_filled, left.fee, right.fee)
            out.append(SettledMatch(m, Outcome.SETTLED, actual, tx_hash, fills=(left, right)))
        return out
