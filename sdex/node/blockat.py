"""The chain's newest block stamped at or before a time (review62: a soft cancel's fills read
again after a failed read are read as of the cancel, not as of the retry)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sdex.chain import OrderState
from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import quantity
from sdex.ingest.states import StateBatcher
from sdex.order import SignedOrder

AsOf = tuple[int, int]
"""A chain time and the number of a block stamped at most it (where a search starts)."""
MOST_STAMP_READS = 64
"""Block headers one search reads at most (a bisection of 2**64 blocks; a hostile chain's
stamps that do not rise cannot make it read more)."""


async def block_at(rpc: AsyncRpc, t: int, low: int = 0) -> int:
    """The number of the chain's newest block stamped at most ``t`` (``low`` if none after
    it is: a block known stamped at most ``t``), by bisection over the block numbers from
    ``low``: ``MOST_STAMP_READS`` reads at most, about log2 of the blocks since ``low``."""
    number, stamp = await _stamp(rpc, "latest")
    if stamp <= t:
        return number
    low, high = min(max(0, low), number), number - 1
    for _ in range(MOST_STAMP_READS):
        if low >= high:
            break
        mid = (low + high + 1) // 2
        if (await _stamp(rpc, hex(mid)))[1] <= t:
            low = mid
        else:
            high = mid - 1
    return low


async def states_as_of(
    rpc: AsyncRpc,
    batcher: StateBatcher,
    orders: Sequence[SignedOrder],
    as_of: AsOf,
    wait: float,
) -> list[OrderState]:
    """``orders``' states as of the newest block stamped at most ``as_of``'s time (searched
    from its block), each of the search and the read within ``wait`` seconds."""
    async with asyncio.timeout(wait):
        block = await block_at(rpc, *as_of)
    async with asyncio.timeout(wait):
        return await batcher.get_many_at(orders, block)


async def _stamp(rpc: AsyncRpc, tag: str) -> tuple[int, int]:
    """(number, timestamp) of block ``tag``; ValueError for an answer that is no block."""
    raw = await rpc.call("eth_getBlockByNumber", tag, False)
    if not isinstance(raw, dict):
        raise ValueError(f"no block {tag} in the chain's answer")
    return quantity(raw.get("number")), quantity(raw.get("timestamp"))
