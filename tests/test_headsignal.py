"""sdex.chain.headsignal: the settler's wait for the chain's next announced head."""

from __future__ import annotations

import asyncio

from sdex.chain.headsignal import KEPT, HeadSignal


async def test_a_wait_ends_at_the_next_head_or_its_timeout() -> None:
    heads = HeadSignal()
    loop = asyncio.get_running_loop()
    # a head announced since ``after`` was read: no wait at all
    seen = heads.count
    heads.announce()
    start = loop.time()
    await heads.wait(seen, 10.0)
    assert loop.time() - start < 5.0  # (not the 10 s timeout; slack for a loaded machine)
    # a wait ends when the next head is announced, long before its timeout
    seen = heads.count
    waiters = [asyncio.create_task(heads.wait(seen, 10.0)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    heads.announce()
    await asyncio.wait_for(asyncio.gather(*waiters), 5.0)
    assert heads.count == seen + 1
    # no head: the wait is its timeout, and leaves nothing behind
    start = loop.time()
    await heads.wait(heads.count, 0.05)
    assert loop.time() - start >= 0.04
    assert heads._waiters == []
    # a cancelled wait leaves nothing behind either
    w = asyncio.create_task(heads.wait(heads.count, 10.0))
    await asyncio.sleep(0)
    w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    assert heads._waiters == []


def test_the_hashes_of_the_heads_after_one_are_known_while_kept() -> None:
    heads = HeadSignal()
    before = heads.count
    heads.announce("0xa")
    heads.announce("0xb")
    assert heads.hashes_after(before) == ["0xa", "0xb"]
    assert heads.hashes_after(heads.count) == []
    heads.announce()  # (a head announced without its hash: not known)
    assert heads.hashes_after(before) is None
    for i in range(KEPT):
        heads.announce(f"0x{i:x}")
    assert heads.hashes_after(heads.count - 2) == [f"0x{KEPT - 2:x}", f"0x{KEPT - 1:x}"]
    assert heads.hashes_after(heads.count - KEPT - 1) is None  # too old: forgotten
    assert len(heads._hashes) <= KEPT
