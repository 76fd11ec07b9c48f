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
deciding read does (settle90): its block's header (``confirmed``: the block holds the
transaction, its bloom the receipt's logs). One more request a settlement when both agree;
one that does not is asked again no sooner than ``CONFIRM_EVERY`` later (a backend that lags
the one that mined it: a receipt a moment later). Not confirmed: a status 0 told of a
transaction that succeeded in that block (its matches counted failed, their orders matched
again; the watcher applies the block's fills), nor the amounts of fills (not in a bloom), nor
one fill's order forged among many (``BLOOM_LOGS`` of them looked for); a receipt read again
would, at ~14 ms of CPU a 110-match settlement.

The node's watcher reads each block by number, and its logs, on connections of its own: a
receipt whose block the mirror applied with its hash, and whose logs (the exchange's and the
listed tokens') the watcher read there, of its transaction, at the same indexes, is confirmed
by that read (``confirmed_seen``; ``Mirror.confirming``), with no read apart; that read only
if the watcher has not said so in ``WATCH_FIRST`` s, or says it does not. settle95: the
mirror took the receipt only once confirmed apart, and the watcher held its block for it (up
to ``EXPECT_PATIENCE``): under load it fell 3-7 blocks behind, orders were read from the
chain instead of the mirror and a client throttled (fix93's A/B). Now the watcher does not
wait for a receipt being confirmed (it reads the block's logs itself), and its matches are
counted only once confirmed, by the watcher's read or apart: a lying backend's receipt counts
no order filled that no block of the chain followed holds."""

from __future__ import annotations

import asyncio
import logging

from sdex.chain import Receipt
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.keccak import keccak
from sdex.mirror import Mirror

log = logging.getLogger("sdex.settlement")

CONFIRM_WAIT = 10.0
"""Seconds the confirming read may take (none in time confirms nothing: asked again)."""
CONFIRM_EVERY = 0.5
"""Seconds after a receipt not confirmed before one is confirmed again (the wait goes on
meanwhile: a receipt found sooner is not taken)."""
WATCH_FIRST = 1.0
"""Seconds a receipt waits for the watcher's read of its block to confirm it
(``confirmed_seen``) before it is read apart too (the first to confirm it counts)."""


async def confirmed_seen(rpc: AsyncRpc, got: Receipt, mirror: Mirror | None) -> bool:
    """Whether ``got`` (an own settlement's receipt) is confirmed: by the watcher's read of
    its block (``Mirror.confirming``: the block at its number has its hash, the
    transaction's logs there are its own), else by a read apart (``confirmed``), begun
    once the watcher's has not said so in ``WATCH_FIRST`` s or has said it does not. The
    watcher does not wait for ``got`` meanwhile (settle95)."""
    seen = mirror.confirming(got) if mirror is not None else None
    if seen is None or mirror is None:
        return await confirmed(rpc, got)
    try:
        await asyncio.wait({seen}, timeout=WATCH_FIRST)
        if seen.done():
            return seen.result() or await confirmed(rpc, got)
        reading = asyncio.ensure_future(confirmed(rpc, got))
        try:
            await asyncio.wait({seen, reading}, return_when=asyncio.FIRST_COMPLETED)
            if seen.done() and seen.result():
                return True
            return await reading
        finally:
            reading.cancel()
    finally:
        mirror.unconfirming(got.tx_hash)


async def confirmed(rpc: AsyncRpc, got: Receipt, timeout: float = CONFIRM_WAIT) -> bool:
    """Whether the chain behind ``rpc`` read on a connection of its own (``apart``) holds
    ``got``'s transaction in ``got``'s block (``eth_getBlockByHash``: its number, and the
    transaction among the block's), and the address and topics of a sample of ``got``'s logs
    in that block's ``logsBloom`` (``in_bloom``: a status 1 receipt's fills told of a
    transaction that reverted there are not in it but by a bloom's false positive). A block
    header, not the receipt again: a settlement's receipt is ~3 KB a match (~350 KB for 110),
    its parse ~14 ms of CPU on the bench's machine. A chain whose blocks' bloom is empty
    while the receipt has logs (``holds`` None: such blooms are not kept everywhere), or
    whose receipt names no block hash: the receipt itself read again apart, the same
    (``same``). False for any other answer, none, or none in ``timeout`` seconds."""
    try:
        if got.block_hash:
            read = lambda own: own.call(BLOCK, got.block_hash, False)  # noqa: E731
            if (held := holds(await apart(rpc, read, timeout), got)) is not None:
                return held
        again = await apart(rpc, lambda own: own.call(RECEIPT, got.tx_hash), timeout)
        return isinstance(again, dict) and same(got, Receipt.from_rpc(again))
    except Exception as e:  # (no answer, or junk: nothing confirmed, asked again)
        log.debug("the receipt of %s not confirmed: %s", got.tx_hash, e)
        return False


BLOCK = "eth_getBlockByHash"
BLOOM_LOGS = 8
"""Logs of a receipt whose address and topics ``holds`` looks for in its block's bloom (a
Keccak each distinct one: all of a 110-match settlement's ~440 logs cost ~8 ms of CPU on the
bench's machine, as much as the receipt read again; a receipt of a transaction that reverted
there, told with fills, has none of them in it)."""
RECEIPT = "eth_getTransactionReceipt"


def holds(block: object, got: Receipt) -> bool | None:
    """Whether ``block`` (an ``eth_getBlockByHash`` answer, transactions by hash) is
    ``got``'s block, holds its transaction and has the address and topics of ``BLOOM_LOGS``
    of its logs, spread over them, and its last, in its bloom; None when its bloom is empty
    and ``got`` has logs (it cannot tell).
    ``ValueError``, ``TypeError``...: an answer that is no such block."""
    if not isinstance(block, dict) or str(block.get("hash", "")).lower() != got.block_hash:
        return False
    if int(block["number"], 16) != got.block_number:
        return False
    txs = block["transactions"]
    want = got.tx_hash.lower()
    if not isinstance(txs, list) or not any(isinstance(t, str) and t.lower() == want for t in txs):
        return False
    bloom = bytes.fromhex(str(block["logsBloom"])[2:])
    if len(bloom) != 256:
        return False
    if got.logs and not any(bloom):
        return None
    seen: set[bytes] = set()
    logs = got.logs
    for entry in (*logs[:: max(1, len(logs) // BLOOM_LOGS)], *logs[-1:]):
        for item in (bytes.fromhex(entry.address[2:]), *entry.topics):
            if item not in seen:
                seen.add(item)
                if not in_bloom(bloom, item):
                    return False
    return True


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


def in_bloom(bloom: bytes, item: bytes) -> bool:
    """Whether ``item`` (a log's address or a topic) is in a 2048-bit ``logsBloom`` (the
    yellow paper's M3:2048: three bits from the first six bytes of its Keccak-256)."""
    h = keccak(item)
    for i in (0, 2, 4):
        bit = ((h[i] << 8) | h[i + 1]) & 2047
        if not bloom[255 - bit // 8] & (1 << (bit % 8)):
            return False
    return True


def not_confirmed(got: Receipt, told: bool) -> bool:
    """Logs a receipt not confirmed (a warning the first time for a settlement, ``told``
    False; then at debug): True, ``told`` from here on."""
    (log.debug if told else log.warning)(
        "the receipt of %s (block %d, status %d) not given again on a connection of its own:"
        " not believed yet, asked again", got.tx_hash, got.block_number, got.status,
    )  # fmt: skip
    return True
