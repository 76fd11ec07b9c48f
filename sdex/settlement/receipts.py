"""Waiting for a settlement's receipt from the event loop: polled often at first, and
judged lost when the chain no longer knows the transaction or its nonce went to another."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from sdex.chain import Receipt, SignedTx
from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.errors import RpcError

log = logging.getLogger("sdex.settlement")

RECEIPT_TIMEOUT = 120.0
"""Seconds to wait for a receipt before the transaction counts as lost."""
RECEIPT_POLLS = (0.002, 0.003, 0.005, 0.005, 0.01, 0.01, 0.02)
"""Seconds between asks for a receipt, then the last one on: a chain that mines at once
(anvil answers the send first, mines a few ms later) is asked often at first."""
HEAD_WAIT = 0.02
"""Seconds a receipt waits for the next announced head before it is asked for anyway (a
notification may come before the receipt can be read)."""
LOST_CHECK = 1.0
"""Seconds between checks whether a transaction without a receipt is still known."""
LOST_RECHECK = 0.5
"""Seconds after a first sign of loss before the check that decides it."""


async def poll_receipt(
    rpc: AsyncRpc,
    address: str,
    signed: SignedTx,
    suspect: bool = False,
    heads: HeadSignal | None = None,
    heads_before: int | None = None,
) -> Receipt | None:
    """The receipt of ``signed`` (sent from ``address``); None when it is lost: no receipt
    while its nonce was taken by another transaction, or the chain does not know it any
    more (checked at once when ``suspect``: its broadcast failed). With ``heads`` live
    (the chain announces its blocks), asked again when a block came (``HEAD_WAIT`` at
    most), not on the ``RECEIPT_POLLS`` timer; ``heads_before``: the heads announced before
    the broadcast, so the first ask waits for a block after it (a chain that answers the
    send before it mines, anvil, has no receipt to give before)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_check = start if suspect else start + LOST_CHECK
    polls = iter(RECEIPT_POLLS)
    doubted = False
    if heads is not None and heads.live and heads_before is not None and not suspect:
        await heads.wait(heads_before, HEAD_WAIT)
    while True:
        seen = heads.count if heads is not None else 0  # (a head during the ask counts)
        try:
            raw = await rpc.call("eth_getTransactionReceipt", signed.tx_hash)
            if raw is not None:
                return Receipt.from_rpc(raw)
            now = loop.time()
            if now >= next_check or now - start > RECEIPT_TIMEOUT:
                next_check = now + LOST_CHECK
                mined = int(
                    await rpc.call("eth_getTransactionCount", address, "latest"),
                    16,
                )
                known = await rpc.call("eth_getTransactionByHash", signed.tx_hash)
                if mined > signed.nonce or known is None or now - start > RECEIPT_TIMEOUT:
                    # A node may count a nonce or leave its pool a moment before the
                    # receipt is there (anvil): lost only if it still says so later.
                    if doubted or now - start > RECEIPT_TIMEOUT:
                        raw = await rpc.call("eth_getTransactionReceipt", signed.tx_hash)
                        return None if raw is None else Receipt.from_rpc(raw)
                    doubted = True
                    next_check = now + LOST_RECHECK
                else:
                    doubted = False
        except (aiohttp.ClientError, OSError, TimeoutError, RpcError, ValueError) as e:
            # The chain did not answer. A transaction it took may still land: ask
            # again (giving the matches back now could settle them twice). One whose
            # broadcast failed too counts as lost (if it lands, the watcher sees it).
            if suspect or loop.time() - start > RECEIPT_TIMEOUT:
                log.warning("no receipt for %s: %s", signed.tx_hash, e)
                return None
            await asyncio.sleep(0.05)  # (a chain that is down is not asked often)
            continue
        if heads is not None and heads.live:
            await heads.wait(seen, HEAD_WAIT)
        else:
            await asyncio.sleep(next(polls, RECEIPT_POLLS[-1]))


def quantity(raw: object) -> int:
    """A JSON-RPC quantity (``0x``-hex), bounded."""
    if not isinstance(raw, str) or not raw.startswith("0x") or not 2 < len(raw) <= 66:
        raise ValueError(f"not a JSON-RPC quantity: {raw!r}")
    return int(raw, 16)
