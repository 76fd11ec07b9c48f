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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sdex.errors import ContractRevert
from sdex.settlement.adopt import pooled_tx
from sdex.settlement.lane import NonceLane
from sdex.storesettle import StoredSettlement

log = logging.getLogger("sdex.settlement")

SOFT_CANCELLED = "an order of it soft-cancelled"
REVERTS = "its call reverts at the chain's latest block"
SETTLES_NONE = "its call settles none of its matches at the chain's latest block"


async def unsettleable(lane: NonceLane, rows: Sequence[StoredSettlement]) -> dict[str, str]:
    """Of ``rows``, those whose bytes would settle nothing if sent now, and why: an order of
    one soft-cancelled (the store's cancel signatures), or its call (its own sender, gas,
    fees and calldata) at the chain's latest block reverts (a lone match) or settles none (a
    batch: ``batchMatchOrders`` returns how many it settled). One store read and one batched
    call for all; a row whose call is not answered (an error that is no revert, a read that
    failed, a transaction that does not decode) is not in it: sent again as before."""
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
    for s in rows:
        if any(h in soft for pair in s.pairs for h in pair):
            out[s.tx_hash] = SOFT_CANCELLED
            continue
        try:
            tx = pooled_tx(s)
        except ValueError:
            continue
        assert tx.body is not None  # (``pooled_tx`` sets it)
        to, data, gas, value = tx.body
        base_fee, tip = tx.fees
        call = {
            "from": lane.sender.address,
            "to": to,
            "data": "0x" + data.hex(),
            "gas": hex(gas),
            "value": hex(value),
            "maxFeePerGas": hex(2 * base_fee + tip),
            "maxPriorityFeePerGas": hex(tip),
        }
        calls.append(("eth_call", [call, "latest"]))
        asked.append(s)
    if not calls:
        return out
    try:
        answers = await lane.receipts.batch(calls)
    except Exception as e:
        log.warning("calls of %d pending rows not answered: %s", len(calls), e)
        return out
    for s, answer in zip(asked, answers, strict=True):
        if isinstance(answer, ContractRevert):
            out[s.tx_hash] = REVERTS
        elif len(s.pairs) > 1 and _settled(answer) == 0:
            out[s.tx_hash] = SETTLES_NONE
    return out


def _settled(answer: object) -> int | None:
    """``batchMatchOrders``' return (how many matches it settled); None if it is none."""
    if not isinstance(answer, str) or not answer.startswith("0x") or len(answer) != 66:
        return None
    try:
        return int(answer, 16)
    except ValueError:
        return None


async def withhold(
    lane: NonceLane, row: StoredSettlement, why: str, needed: bool, filled: set[int]
) -> None:
    """``row`` not sent again (``why``: ``unsettleable``'s): its row dropped and given up
    (if its bytes land after all, the watcher applies them), its orders matched again once
    loaded. ``needed``: a later row sent again waits on its nonce, taken by a transfer of
    nothing (once a nonce: ``filled``); else the nonce is given back, read again from the
    chain by the next signature (nothing paid)."""
    await lane.store.set_settlement_status(row.tx_hash, "dropped")
    lane.give_up(row.tx_hash)
    if not needed:
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
