"""settle81: the settlements waiting ask for their receipts together, one request a turn;
a pooled one's loss checks do not fetch its calldata.

rcpt79's left: while the chain announces its heads, each settlement in flight asked for its
own receipt at each new head and on a timer of its own between heads (``HEAD_WAIT`` right
after one, then ``HEAD_FALLBACK``): a request each, every one a turn of Hardhat's lock. Now
the asks of one turn go in one batch (``sdex.settlement.receiptasks``) and the timers keep
one grid of the loop's clock, so the waiters ask in the same turn. Real chain mining a block
a second; ``WAITERS`` transactions wait behind a nonce gap, so blocks come and go without
them; the test announces each block as the watcher does (``HeadSignal``). And a loss check
(``receipts._judged``, once a second while a settlement is pooled) learns that it is from the
pending count, not from ``eth_getTransactionByHash``, whose answer is its whole calldata."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.settlement import Outcome
from sdex.settlement.receipts import LOST_CHECK, BlockReceipts, poll_receipt
from tests.conftest import Chain
from tests.headannounce import announce, nonce_and_fees
from tests.nodeutil import wait_for
from tests.test_rcpt79_receipt_pace import BLOCKS, INTERVAL, SENDER, bound, interval_chain
from tests.test_settlement_fallback import pair, running_settler

__all__ = ["interval_chain"]  # (the fixture, used here by name)

WAITERS = 6
"""Transactions waiting at once behind the gap."""
RECEIPT = "eth_getTransactionReceipt"
BATCH = 8
"""Matches of the pooled settlement (one batch)."""


class Counted(AsyncRpc):
    """The real client, counting the requests that ask for receipts only (the waits' asks;
    their loss checks ask the count too)."""

    receipt_requests = 0

    async def call(self, method: str, *params: Any) -> Any:
        self.receipt_requests += method == RECEIPT
        return await super().call(method, *params)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self.receipt_requests += {m for m, _ in calls} == {RECEIPT}
        return await super().batch(calls)


async def test_waiting_settlements_ask_for_their_receipts_in_one_request(
    interval_chain: Chain,
) -> None:
    """``WAITERS`` waits over ``BLOCKS`` blocks make no more receipt requests than one wait
    may (rcpt79's ``bound``), asking ``WAITERS`` times as many receipts (before: a request
    an ask, ~``WAITERS`` times the bound: failed 3 of 3); each gets its own receipt once
    the gap is filled."""
    c = interval_chain
    sender = c.sender(SENDER)
    rpc, feed = Counted(c.rpc.url), AsyncRpc(c.rpc.url)  # (feed: the test's, not counted)
    heads = HeadSignal()
    heads.live = True
    blocks = BlockReceipts(rpc)
    stop = asyncio.Event()

    async def kept(cancel: bool) -> bool:  # (the lane's: its bytes would be sent again)
        return True

    announcer = asyncio.create_task(announce(feed, heads, stop, INTERVAL))
    waits: list[asyncio.Task[Any]] = []
    try:
        count, fees = await nonce_and_fees(feed, sender.address)
        txs = [
            sender.sign_at(count + 1 + i, c.address(2), b"", 21_000, fees=fees)
            for i in range(WAITERS)
        ]
        filler = sender.sign_at(count, c.address(2), b"", 21_000, fees=fees)
        for tx in txs:  # (behind a gap: not mined)
            await feed.call("eth_sendRawTransaction", tx.raw)
        before = heads.count
        loop = asyncio.get_running_loop()
        start = loop.time()
        waits = [
            asyncio.create_task(
                poll_receipt(rpc, sender.address, tx, False, heads, before, blocks, keep=kept)
            )
            for tx in txs
        ]
        await wait_for(lambda: heads.count >= before + BLOCKS, timeout=30 * BLOCKS * INTERVAL)
        requests, asks = rpc.receipt_requests, rpc.calls[RECEIPT]
        seen, seconds = heads.count - before, loop.time() - start
        assert not any(w.done() for w in waits), "a wait behind the gap came back"
        await feed.call("eth_sendRawTransaction", filler.raw)  # the gap filled: all mine
        async with asyncio.timeout(30 * INTERVAL):
            got = await asyncio.gather(*waits)
        assert [r.tx_hash if r is not None else None for r in got] == [t.tx_hash for t in txs]
        assert asks >= WAITERS * seen, (asks, seen)  # (each asked at each head at least)
        assert requests <= bound(seen, seconds), (requests, asks, seen, seconds)
    finally:
        stop.set()
        announcer.cancel()
        for w in waits:
            w.cancel()
        await asyncio.gather(announcer, *waits, return_exceptions=True)
        sender.forget_nonce()
        await rpc.close()
        await feed.close()


LOSS_CHECKS = 3
"""Loss checks of the pooled settlement awaited (1 s apart)."""


async def test_a_pooled_settlements_loss_checks_do_not_fetch_its_calldata(
    chain: Chain, tmp_path: Path
) -> None:
    """A batch of ``BATCH`` matches pooled (mining paused): its wait's loss checks, 1 s apart,
    learn that it is pooled from the pending count, asking no ``eth_getTransactionByHash``
    (whose answer is the whole calldata: before, one a check, ~120 KB for 64 matches: failed
    3 of 3); mined, it settles."""
    c = chain
    async with running_settler(c, tmp_path) as (s, results):
        calls = s.receipts.calls
        c.rpc.call("evm_setAutomine", False)
        try:
            s.submit([pair(c, k) for k in range(BATCH)])
            await wait_for(lambda: s.sent == 1 and not s.sends, 30)
            counts = calls["eth_getTransactionCount"]
            loop = asyncio.get_running_loop()
            until = loop.time() + LOSS_CHECKS * LOST_CHECK + LOST_CHECK / 2
            await wait_for(lambda: loop.time() > until, 30)
            assert calls["eth_getTransactionCount"] >= counts + LOSS_CHECKS  # (they ran)
            assert calls["eth_getTransactionByHash"] == 0, calls
            assert results == []
        finally:
            c.rpc.call("evm_setAutomine", True)
            c.rpc.call("evm_mine")
        await wait_for(lambda: s.idle.is_set() and len(results) == BATCH, 60)
        assert all(r.outcome is Outcome.SETTLED for r in results), results
