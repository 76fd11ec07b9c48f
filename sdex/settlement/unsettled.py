"""A restart's pending rows looked at before their bytes go to the chain again
(``sdex.settlement.reconcile``): a row whose transaction would settle nothing now is never
sent again (settle81).

A settlement withdrawn right before its send (``BatchTx._recheck``: an order of it cancelled
or filled on chain, or soft-cancelled) has its row dropped by an urgent write; a kill before
that write commits, with no later row recorded at its nonce to drop it again, leaves the row
``pending``, and the restart sent its bytes again: mined and reverted (a lone
``matchOrders``: the operator paid for nothing), or a batch whose every match was skipped
(its calldata paid). So is any row the chain dropped meanwhile and whose orders closed since.
Each row is looked at once, before its bytes go: the store's soft cancels of its orders (a
cancel the node acknowledged is never filled after it), then its own call at the chain's
latest block, every row in one batched read. One that would revert or settle none is not
sent: its nonce given back when no later row needs it (nothing paid: the next signature takes
it), else taken by a transfer of nothing (``NonceLane._fill``, ~21,000 gas, where the revert
cost the whole call), its row dropped and its orders matched again once loaded.

One already pooled (sent before the kill, never mined) is replaced at its nonce by a transfer
of nothing at higher fees (``replace_pooled``: the lane's cancel, over the pool's fee bump)
when that costs less than its revert would; settle82: it was left to land and revert, the
operator paying. Never one that could still settle: soft-cancelled only (the chain would
settle it), or a row behind another of the start's still to land that pays one of its
makers what it sells (``pays``; ``Reconcile._gone``: judged at the chain's latest block, it
may need that one's fills first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sdex.chain import Receipt
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.calldata import CalldataError, decode_matches
from sdex.chain.rpc import quantity
from sdex.chain.tx import SignedTx
from sdex.errors import ChainError, ContractRevert
from sdex.settlement.adopt import pooled_tx
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.lane import NonceLane
from sdex.settlement.receipts import APART_WAIT, LOST_RECHECK
from sdex.settlement.replace import bumped
from sdex.settlement.replacing import judged_at
from sdex.settlement.rowcall import REVERTS, SETTLES_NONE, call_of, settled
from sdex.settlement.rowreceipt import receipt_of
from sdex.storesettle import StoredSettlement

log = logging.getLogger("sdex.settlement")

TAKEN_WAIT = 2.0
"""Seconds a pooled row's replacement is awaited on a chain that mines on the send
(``_mined_at_once``): anvil mines it within milliseconds."""
SOFT_CANCELLED = "an order of it soft-cancelled"


async def unsettleable(lane: NonceLane, rows: Sequence[StoredSettlement]) -> dict[str, str]:
    """Of ``rows``, those whose bytes would settle nothing if sent now, and why: an order of
    one soft-cancelled (the store's cancel signatures), or its call (its own sender, gas,
    fees and calldata) at the chain's latest block reverts (a lone match) or settles none (a
    batch: ``batchMatchOrders`` returns how many it settled). One store read and one batched
    call for all; a row whose call is not answered (an error that is no revert, a read that
    failed, a transaction that does not decode) is not in it: sent again as before, judged
    again by its wait before any later send of its bytes (``rejudged``; not one that does
    not decode: nothing could judge it). Called at
    its fees raised to the lane's of now (``judged_at``, as ``ReplacingLane._settles_now``):
    settle87, at its own, geth refused the call of a row stuck under a risen base fee ("max
    fee per gas less than block base fee"), the row went unjudged, was adopted and signed
    again at higher fees by its wait: mined, reverted, paid."""
    out: dict[str, str] = {}
    if not rows:
        return out
    names = sorted({h for s in rows for pair in s.pairs for h in pair})
    try:
        soft = await lane.store.cancel_signatures(names)
    except Exception as e:  # (a store that cannot say: judged by the chain alone)
        log.warning("soft cancels of %d pending rows' orders not read: %s", len(rows), e)
        soft = {}
    calls: list[tuple[str, list[Any]]] = []
    asked: list[StoredSettlement] = []
    now = await _fees_now(lane)
    for s in rows:
        if any(h in soft for pair in s.pairs for h in pair):
            out[s.tx_hash] = SOFT_CANCELLED
            continue
        try:
            tx = pooled_tx(s)
        except ValueError:
            continue
        call = call_of(lane.sender.address, tx, None if now is None else judged_at(tx.fees, now))
        calls.append(("eth_call", [call, "latest"]))
        asked.append(s)
    if not calls:
        return out
    try:
        answers = await lane.receipts.batch(calls)
    except Exception as e:
        log.warning("calls of %d pending rows not answered: %s", len(calls), e)
        _unjudged(lane, asked)
        return out
    for s, answer in zip(asked, answers, strict=True):
        if isinstance(answer, ContractRevert):
            out[s.tx_hash] = REVERTS
        elif isinstance(answer, Exception):  # (a timeout, an error that is no revert)
            log.warning("the call of pending row %s not answered: %s", s.tx_hash, answer)
            _unjudged(lane, [s])
        elif len(s.pairs) > 1 and settled(answer) == 0:
            out[s.tx_hash] = SETTLES_NONE
    return out


def _unjudged(lane: NonceLane, rows: Sequence[StoredSettlement]) -> None:
    """``rows`` (their calls not answered) judged again before any send of their bytes by
    their waits, adopted (``rejudged``: ``NonceLane._keep_alive``, ``_replace``). settle93
    (fixb's left): only a row the start judged was, one whose call timed out or erred
    without a revert was adopted outside it, and its wait re-priced its bytes unjudged."""
    lane.rejudged |= {s.tx_hash for s in rows}


async def _fees_now(lane: NonceLane) -> tuple[int, int] | None:
    """The lane's fees of now (None: not read; the rows judged at their own, as before). A
    fee not believed (``ChainError``: past EIP-1559's bounds of the saved head's, "read
    again") is read once more, as the lane's next signature would (``HeadSignal.doubt``: the
    chain saying so still is believed; a lie refused for good stays refused). fixb: since
    fee90 bounds a start's first read by the saved head's fee, one read refused judged a
    start's stuck row at its own fees: geth refused the call (settle87), the row went
    unjudged and its wait re-priced it at the fee read again a moment later."""
    for again in (False, True):
        try:
            return await lane.fees.current(lane.receipts)
        except ChainError as e:
            if again:
                log.warning("fees not read to judge pending rows at: %s", e)
        except Exception as e:
            log.warning("fees not read to judge pending rows at: %s", e)
            return None
    return None


async def withhold(
    lane: NonceLane, row: StoredSettlement, why: str, needed: bool, filled: set[int]
) -> None:
    """``row`` not sent again (``why``: ``unsettleable``'s): its row dropped and given up
    (if its bytes land after all, the watcher applies them), its orders matched again once
    loaded. ``needed``: a later row sent again waits on its nonce, taken by a transfer of
    nothing (once a nonce: ``filled``, which holds those its cancel took already); else the
    nonce is given back, read again from the chain by the next signature (nothing paid)."""
    await lane.store.set_settlement_status(row.tx_hash, "dropped")
    lane.give_up(row.tx_hash)
    if not needed and row.nonce not in filled:  # (in it: taken already, ``replace_pooled``)
        lane.sender.forget_nonce()
        log.warning(
            "pending settlement %s not sent again (%s): its nonce %d given back",
            row.tx_hash, why, row.nonce,
        )  # fmt: skip
        return
    log.warning(
        "pending settlement %s not sent again (%s): its nonce %d taken by a transfer of nothing",
        row.tx_hash, why, row.nonce,
    )  # fmt: skip
    if row.nonce in filled:
        return
    filled.add(row.nonce)
    async with lane._send_lock:
        await lane._fill(range(row.nonce, row.nonce + 1))


def intrinsic_gas(data: bytes) -> int:
    """The least gas a call with ``data`` pays, reverting at once: 21,000 and its calldata's
    (4 a zero byte, 16 another)."""
    zeros = data.count(0)
    return GAP_FILL_GAS + 4 * zeros + 16 * (len(data) - zeros)


def price(fees: tuple[int, int], base_fee: int) -> int:
    """Wei a gas of a transaction signed with ``fees`` (base fee, tip: the cap twice the
    base fee plus the tip) pays in a block of ``base_fee``."""
    return min(2 * fees[0] + fees[1], base_fee + fees[1])


async def replace_pooled(lane: NonceLane, row: StoredSettlement, why: str) -> bool:
    """(``row`` pooled, judged ``why`` by ``unsettleable``) Whether a transfer of nothing at
    higher fees than it (``bumped``: the pool's replacement rule) was sent at its nonce (the
    row still awaited: a send taken is no nonce taken, review82a): only for a row whose call
    reverts or settles none (a soft-cancelled one would still settle: left as it is), and
    only when that transfer costs less than the least its revert would (``intrinsic_gas`` at
    its own fees), both at the latest block's base fee. Refused (Hardhat while it automines;
    a pool that keeps it), or a read that fails: False, the row lands as it is, as before.
    Left to land for its cost: judged again before its wait sends its bytes again or signs
    them at higher fees (``rejudged``; settle87: its wait re-priced it stuck under a risen
    base fee, unjudged, mined and reverted at those fees, paid more than the cancel)."""
    if why == SOFT_CANCELLED:
        return False
    try:
        tx = pooled_tx(row)
        assert tx.body is not None  # (``pooled_tx`` sets it)
        block = await lane.receipts.call("eth_getBlockByNumber", "latest", False)
        base_fee = quantity(block.get("baseFeePerGas", "0x0"))
        fees = bumped(tx.fees, await lane.fees.current(lane.receipts))
        revert = intrinsic_gas(tx.body[1]) * price(tx.fees, base_fee)
        cancel = GAP_FILL_GAS * price(fees, base_fee)
        if cancel >= revert:  # (its bytes never re-priced unjudged: ``rejudged``, settle87)
            log.warning("pooled settlement %s left to land (%s): its cancel costs %d wei, its "
                        "revert at least %d", row.tx_hash, why, cancel, revert)  # fmt: skip
            lane.rejudged |= {row.tx_hash}
            return False
        async with lane._send_lock:
            got = lane.sender.sign_at(row.nonce, lane.sender.address, b"", GAP_FILL_GAS, fees=fees)
            await lane.async_sends.rpc.call("eth_sendRawTransaction", got.raw)
    except Exception as e:  # (it lands as it is: the operator pays its revert, as before)
        log.warning("pooled settlement %s (%s) not replaced: %s", row.tx_hash, why, e)
        return False
    lane.withheld[row.tx_hash] = f"not sent again ({why})"  # (counted once its nonce is taken)
    lane.cancels[row.tx_hash] = got  # (adopted: sent again in its place, ``rejudged``)
    lane.rejudged |= {row.tx_hash}
    log.warning("pooled settlement %s (%s) replaced at its nonce %d by %s, a transfer of "
                "nothing", row.tx_hash, why, row.nonce, got.tx_hash)  # fmt: skip
    if await _mined_at_once(lane, got):
        raise NonceTaken(f"its nonce {row.nonce} taken by its transfer of nothing {got.tx_hash}")
    return True


async def _mined_at_once(lane: NonceLane, transfer: SignedTx) -> bool:
    """Whether ``transfer`` (a pooled row's replacement) has a receipt now, or within
    ``TAKEN_WAIT`` on a chain that mines on the send, told again ``LOST_RECHECK`` later: the
    row's nonce proven taken without it. settle84: such a row waited ``RESTART_RECEIPT_WAIT``
    and ``LOST_RECHECK`` more before it was given up, 10.5 s of the start each. settle86: one
    answer was believed, as no loss is (review79): behind a balancer, a backend on another
    chain gave the row up while the chain followed pooled it, its orders matched again. The
    second read on a connection of its own (``apart``; settle89: both went through the
    pooled client, whose kept-alive connections a sticky balancer pins to one backend: that
    backend answered both, the row given up on its word alone). A read that fails, or a
    doubt said meanwhile: False (awaited as before)."""
    try:
        if await _transfer_receipt(lane.receipts, transfer) is None:
            if not await lane._automines():
                return False
            await lane.chain.run(lane.sender.wait, transfer.tx_hash, TAKEN_WAIT)
        await asyncio.sleep(LOST_RECHECK)
        read = lambda rpc: _transfer_receipt(rpc, transfer)  # noqa: E731
        again = await apart(lane.receipts, read, APART_WAIT)
    except Exception:
        return False
    return again is not None and not lane.async_sends.doubted()


async def _transfer_receipt(rpc: AsyncRpc, transfer: SignedTx) -> Receipt | None:
    """``transfer``'s receipt as the chain behind ``rpc`` answers now (None: not mined)."""
    return receipt_of(await rpc.call("eth_getTransactionReceipt", transfer.tx_hash))


class NonceTaken(ChainError):
    """A pooled row's nonce taken by its replacement, the transfer of nothing
    (``replace_pooled``): given up at once, its withheld cancel counted."""


def pays(earlier: StoredSettlement, later: StoredSettlement) -> bool:
    """Whether ``earlier`` landing may let ``later`` settle: a maker of ``later`` buys in
    ``earlier`` the token it sells in ``later``, or takes a fee there (its balance is what
    ``earlier`` changes for ``later``; a cancel or a fill is never undone by it). True when
    either's calldata does not decode (then judged as if it did)."""
    try:
        sold = {(o.maker.lower(), o.maker_token.lower()) for o in _orders(later)}
        bought = {(o.maker.lower(), o.taker_token.lower()) for o in _orders(earlier)}
        fees = {o.fee_recipient.lower() for o in _orders(earlier) if o.fee_amount}
    except (ValueError, CalldataError):
        return True
    return not sold.isdisjoint(bought) or any(maker in fees for maker, _ in sold)


def _orders(row: StoredSettlement) -> list[Any]:
    """The orders of ``row``'s calldata (``ValueError``/``CalldataError``: none read)."""
    body = pooled_tx(row).body
    assert body is not None  # (``pooled_tx`` sets it)
    return [o for left, right, _ in decode_matches(body[1]) for o in (left, right)]
