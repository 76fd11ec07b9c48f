"""The settlement lane's nonces: the next transaction signed, a lost one's nonce filled (so
that the lane's later transactions land now)."""

from __future__ import annotations

import logging

from sdex.chain import Sender, SignedTx
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.settlement.broadcast import Broadcaster
from sdex.settlement.gas import GAP_FILL_GAS, Fees
from sdex.settlement.receipts import quantity

log = logging.getLogger("sdex.settlement")


async def fill_nonce(
    rpc: AsyncRpc,
    sender: Sender,
    fees: Fees,
    chain: ChainThread,
    broadcaster: Broadcaster,
    nonce: int,
) -> bool:
    """(The lane's lock held) If the chain has not used ``nonce`` (a lost transaction's),
    fill it with a transfer of nothing to the sender itself: True once sent. Used already
    (or an earlier gap, which its loss fills): False. A failure forgets the lane's nonce
    (the later ones are then judged lost in their turn)."""
    try:
        mined = quantity(await rpc.call("eth_getTransactionCount", sender.address, "latest"))
        if mined != nonce:
            return False
        signing = await fees.current(rpc)
        filler = sender.sign_at(nonce, sender.address, b"", GAP_FILL_GAS, fees=signing)
        broadcaster.queued(filler)
        await chain.submit(broadcaster.send, filler)
        log.warning("nonce %d filled by %s: later settlements go on", nonce, filler.tx_hash)
        return True
    except Exception as e:
        log.warning("filling nonce %d failed: %s", nonce, e)
        sender.forget_nonce()
        return False


async def sign_next(
    chain: ChainThread,
    sender: Sender,
    fees: Fees,
    rpc: AsyncRpc | None,
    to: str,
    data: bytes,
    gas: int,
) -> SignedTx:
    """Sign the lane's next transaction. With the async client (``rpc``): the nonce and fees
    read and the transaction signed on the event loop (a key parsed once, ~0.1 ms a
    signature: a thread of its own would wait for the GIL longer), so that signing never
    waits behind a broadcast; without it, on the chain thread (one call)."""
    if rpc is None:
        return await chain.run(sender.sign, to, data, gas)
    signing = await fees.current(rpc)
    while True:
        if sender.next_nonce is None:
            pending = await rpc.call("eth_getTransactionCount", sender.address, "pending")
            sender.learn_nonce(quantity(pending))
        with sender.lock:  # (forgotten meanwhile: read again, never on the loop)
            if sender.next_nonce is not None:
                return sender.sign(to, data, gas, fees=signing)
