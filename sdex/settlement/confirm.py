"""A settlement's receipt believed only once a read on a connection of its own gives it too
(``confirmed``; settle93), before anything is done with it: its matches counted settled or
failed, its orders filled, its fills stored, its nonce counted used.

A receipt was believed on one read, through the pooled client (``poll_receipt``'s asks,
a block's receipts, a loss check's batch, the receipt that came with the send). A balancer
that pins each kept-alive connection to one backend (sticky sessions) answers every such
read from that backend: one that lies (or follows another chain) had a pooled settlement
counted mined and its orders filled, though its transaction was in no block of the chain
followed (it may never be: its orders closed for good), or counted reverted, its orders
matched again while it could still land (both mined, the second a paid revert). The second
read goes where the balancer places a new connection (``sdex.chain.apart``), as a loss's
deciding read does (settle90). One more request a settlement when both agree; one that does
not is asked again no sooner than ``CONFIRM_EVERY`` later (a backend that lags the one that
mined it: a receipt a moment later)."""

from __future__ import annotations

import logging

from sdex.chain import Receipt
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc

log = logging.getLogger("sdex.settlement")

CONFIRM_WAIT = 10.0
"""Seconds the confirming read may take (none in time confirms nothing: asked again)."""
CONFIRM_EVERY = 0.5
"""Seconds after a receipt not confirmed before one is confirmed again (the wait goes on
meanwhile: a receipt found sooner is not taken)."""


async def confirmed(rpc: AsyncRpc, got: Receipt, timeout: float = CONFIRM_WAIT) -> bool:
    """Whether the chain behind ``rpc`` read on a connection of its own (``apart``) gives the
    receipt ``got`` too: the same transaction, block, status, gas used and logs. False for
    any other answer, none, an answer that is no receipt, or none in ``timeout`` seconds."""
    try:
        raw = await apart(rpc, lambda own: own.call(RECEIPT, got.tx_hash), timeout)
        again = Receipt.from_rpc(raw) if isinstance(raw, dict) else None
    except Exception as e:  # (no answer, or junk: nothing confirmed, asked again)
        log.debug("the receipt of %s not read again: %s", got.tx_hash, e)
        return False
    return again is not None and same(got, again)


RECEIPT = "eth_getTransactionReceipt"


def same(a: Receipt, b: Receipt) -> bool:
    """Whether two answers are one receipt (hashes' case aside: two backends may differ)."""
    return (
        a.tx_hash.lower() == b.tx_hash.lower()
        and (a.status, a.block_number, a.block_hash, a.gas_used)
        == (b.status, b.block_number, b.block_hash, b.gas_used)
        and len(a.logs) == len(b.logs)
        and all(
            (x.address, x.topics, x.data, x.block_number, x.log_index)
            == (y.address, y.topics, y.data, y.block_number, y.log_index)
            for x, y in zip(a.logs, b.logs, strict=True)
        )
    )


def not_confirmed(got: Receipt, told: bool) -> bool:
    """Logs a receipt not confirmed (a warning the first time for a settlement, ``told``
    False; then at debug): True, ``told`` from here on."""
    (log.debug if told else log.warning)(
        "the receipt of %s (block %d, status %d) not given again on a connection of its own:"
        " not believed yet, asked again", got.tx_hash, got.block_number, got.status,
    )  # fmt: skip
    return True
