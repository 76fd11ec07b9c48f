"""Settlements a previous run left in flight: each is recorded (signed, with its raw
transaction) before its broadcast (``sdex.settlement.settler``), so at restart its receipt
says what became of it, or the same raw transaction is sent again: same nonce, so it can
land at most once. Run once, before the node loads its orders (``Node.load``)."""

from __future__ import annotations

import logging

from sdex.chain import Receipt
from sdex.chain.tx import already_known
from sdex.errors import ContractRevert, RpcError
from sdex.settlement.lane import NonceLane

log = logging.getLogger("sdex.settlement")
RESTART_RECEIPT_WAIT = 10.0
"""Seconds a settlement recorded before a restart and sent again waits for its receipt
before it is given up as ``dropped`` (if it lands later, the watcher applies its fills)."""


async def _send_raw_again(lane: NonceLane, raw_tx: str) -> None:
    """Send a recorded transaction again; one the chain's pool holds already is sent."""
    try:
        rpc = lane.chain.rpc
        await lane.chain.run(rpc.call, "eth_sendRawTransaction", raw_tx)
    except ContractRevert:
        return  # mined and reverted (Hardhat answers so): its receipt says ``failed``
    except RpcError as e:
        if not already_known(e):
            raise


async def reconcile(lane: NonceLane) -> None:
    """Settlements recorded but not known mined (the node died mid-flight): finish them.
    Those an earlier run gave up are given up again: landed since, or landing later, their
    fills count in the orders closed meanwhile (chaos63: the set is memory only, and a
    restart between the give-up and the landing left the node's own fill of an IOC closed
    "not resting after restart" counted nowhere, its record 0 filled for good)."""
    for tx_hash in lane.store.given_up_settlements():
        lane.ours.add(tx_hash)
        lane.give_up(tx_hash)
    for s in lane.store.pending_settlements():
        rpc = lane.chain.rpc
        receipt = await lane.chain.run(rpc.call, "eth_getTransactionReceipt", s.tx_hash)
        lane.ours.add(s.tx_hash)
        lane.sender.signed(s.nonce)  # (before the restart: a cancel now names one past it)
        if receipt is None:
            try:  # same raw transaction, same nonce: it can land at most once
                await _send_raw_again(lane, s.raw_tx)
                wait = RESTART_RECEIPT_WAIT
                receipt = await lane.chain.run(lane.sender.wait, s.tx_hash, wait)
            except Exception as e:
                log.warning("pending settlement %s could not be sent again: %s", s.tx_hash, e)
                await lane.store.set_settlement_status(s.tx_hash, "dropped")
                lane.give_up(s.tx_hash)  # (if it lands, the watcher applies it)
                continue
            status = "mined" if receipt.status == 1 else "failed"
            lane.ours.landed(s.tx_hash, receipt.block_number)
        else:
            try:  # (an answer that is no receipt: a broken or hostile endpoint's)
                got = Receipt.from_rpc(receipt) if isinstance(receipt, dict) else None
            except ValueError:
                got = None
            if got is None:
                log.warning("pending settlement %s: no receipt read; left pending", s.tx_hash)
                continue  # (if it landed, the watcher applies it with its block)
            status = "mined" if got.status == 1 else "failed"
            lane.ours.landed(s.tx_hash, got.block_number)
        # chaos63: its block may be above the saved mirror's head, which judges the stored
        # orders next (``Node.load``): a one-shot order closed there ("not resting after
        # restart") without this fill; the watcher's catch-up then applies the block, and
        # counts the fill in it as it does a given-up settlement's (never above the chain's)
        lane.given_up.add(s.tx_hash.lower())
        await lane.store.set_settlement_status(s.tx_hash, status)
