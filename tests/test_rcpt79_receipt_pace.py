"""rcpt79: a settlement's receipt, while the chain announces its heads, is asked for at each
new head and a few times right after it, then at ``HEAD_FALLBACK``'s pace until the next head,
not every ``HEAD_WAIT`` (20 ms) for its whole wait.

Before, each settlement in flight asked for its receipt every 20 ms while no block came: on a
chain mining a block a second, about 50 requests a block each, every one a turn of Hardhat's
lock before the settlements' own sends and the watcher's reads. Real chain, mining a block a
second (interval mining); the settlement waits behind a nonce gap, so blocks come and go
without it; the test announces each block as the watcher does (``HeadSignal``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.settlement.receipts import HEAD_FALLBACK, HEAD_WAIT, QUICK_AFTER_HEAD, poll_receipt
from tests.conftest import Chain, Engine
from tests.headannounce import announce, nonce_and_fees
from tests.nodeutil import wait_for
from tests.test_attack48_landing_expiry import mining_every

INTERVAL = 1
"""Seconds between blocks (the chain's interval mining)."""
BLOCKS = 5
"""Blocks announced while the settlement waits behind its gap, before the gap is filled."""
SENDER = 17
"""The dev account the test's transactions come from (nonce gap: read, then forgotten)."""


@pytest.fixture
def interval_chain(chain: Chain, engine: Engine) -> Iterator[Chain]:
    """The test chain mining a block every ``INTERVAL`` s (``mining_every``)."""
    with mining_every(chain, engine, INTERVAL) as c:
        yield c


def bound(blocks: int, seconds: float) -> float:
    """Most receipt asks of one waiting settlement over ``seconds`` in which ``blocks`` new
    heads were announced: one at each head and one a ``HEAD_WAIT`` for ``QUICK_AFTER_HEAD``
    after it (and after the start), then one a ``HEAD_FALLBACK`` (a loss check may cut one
    short), plus the first ask."""
    quick = round(QUICK_AFTER_HEAD / HEAD_WAIT) + 1
    return (blocks + 1) * (quick + 1) + 2 * seconds / HEAD_FALLBACK + 1


async def test_the_receipt_wait_asks_a_few_times_a_block_while_blocks_come(
    interval_chain: Chain,
) -> None:
    c = interval_chain
    sender = c.sender(SENDER)
    rpc, feed = AsyncRpc(c.rpc.url), AsyncRpc(c.rpc.url)  # (feed: the test's, not counted)
    heads = HeadSignal()
    heads.live = True
    stop = asyncio.Event()

    async def kept(cancel: bool) -> bool:  # (the lane's: its bytes would be sent again)
        return True

    announcer = asyncio.create_task(announce(feed, heads, stop, INTERVAL))
    try:
        count, fees = await nonce_and_fees(feed, sender.address)
        waiting = sender.sign_at(count + 1, c.address(2), b"", 21_000, fees=fees)
        filler = sender.sign_at(count, c.address(2), b"", 21_000, fees=fees)
        await feed.call("eth_sendRawTransaction", waiting.raw)  # (behind a gap: not mined)
        before = heads.count
        loop = asyncio.get_running_loop()
        start = loop.time()
        wait = asyncio.create_task(
            poll_receipt(rpc, sender.address, waiting, False, heads, before, keep=kept)
        )
        await wait_for(lambda: heads.count >= before + BLOCKS, timeout=30 * BLOCKS * INTERVAL)
        asks, blocks = rpc.calls["eth_getTransactionReceipt"], heads.count - before
        seconds = loop.time() - start
        assert not wait.done(), "the settlement behind its gap came back before it was mined"
        await feed.call("eth_sendRawTransaction", filler.raw)  # the gap filled: both mine
        async with asyncio.timeout(30 * INTERVAL):
            got = await wait
        assert got is not None and got.tx_hash == waiting.tx_hash
        assert asks <= bound(blocks, seconds), (asks, blocks, seconds)
    finally:
        stop.set()
        announcer.cancel()
        await asyncio.gather(announcer, return_exceptions=True)
        sender.forget_nonce()
        await rpc.close()
        await feed.close()
