"""The watcher's part in a settlement's receipt wait (rcpt79, settle81): each new block of a
chain announced to a ``HeadSignal``, and transactions signed behind a nonce gap."""

from __future__ import annotations

import asyncio

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.rpc import quantity
from tests.nodeutil import wait_for


async def announce(feed: AsyncRpc, heads: HeadSignal, stop: asyncio.Event, interval: float) -> None:
    """Each new block of ``feed``'s chain (mining one every ``interval`` s) announced to
    ``heads``, as the watcher does, until ``stop``."""
    seen = [quantity(await feed.call("eth_blockNumber"))] * 2  # (announced, chain's)

    async def moved() -> bool:
        seen[1] = quantity(await feed.call("eth_blockNumber"))
        return seen[1] > seen[0] or stop.is_set()

    while not stop.is_set():
        await wait_for(moved, timeout=30 * interval)
        for n in range(seen[0] + 1, seen[1] + 1):
            block = await feed.call("eth_getBlockByNumber", hex(n), False)
            heads.announce(block["hash"])
        seen[0] = max(seen)


async def nonce_and_fees(feed: AsyncRpc, address: str) -> tuple[int, tuple[int, int]]:
    """``address``'s pending nonce, and fees a transaction of it is mined at."""
    count = quantity(await feed.call("eth_getTransactionCount", address, "pending"))
    latest = await feed.call("eth_getBlockByNumber", "latest", False)
    return count, (2 * quantity(latest.get("baseFeePerGas") or "0x3b9aca00"), 10**9)
