"""Follows new blocks and their logs, and reports what they change for the book.

Per poll: the new block range's Exchange events (``OrderFilled``, ``OrderCancelled``,
``OrdersCancelledUpTo``) and the listed tokens' ``Transfer``/``Approval`` logs, plus the
latest block's timestamp (expiry). The node applies the changes, then the watcher saves its
checkpoint: a block is never marked processed before its changes are in the book.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from eth_hash.auto import keccak

from sdex.chain import FillEvent, Log
from sdex.chain.aio import ChainThread
from sdex.store import Store

log = logging.getLogger("sdex.watch")

TRANSFER = keccak(b"Transfer(address,address,uint256)")
APPROVAL = keccak(b"Approval(address,address,uint256)")


@dataclass
class BlockChanges:
    """What a block range changed: orders to re-read, (maker, token) funds to re-read."""

    head: int
    head_hash: str
    timestamp: int
    fills: list[FillEvent] = field(default_factory=list)
    cancelled: set[bytes] = field(default_factory=set)
    makers_cancelled_up_to: set[str] = field(default_factory=set)
    funds: set[tuple[str, str]] = field(default_factory=set)


ApplyCallback = Callable[[BlockChanges], Awaitable[None]]


class Watcher:
    def __init__(
        self,
        chain: ChainThread,
        store: Store,
        tokens: frozenset[str],
        start_block: int,
        apply: ApplyCallback,
        poll_interval: float = 0.05,
        max_range: int = 2_000,
    ) -> None:
        self.chain = chain
        self.store = store
        self.tokens = tokens
        self.apply = apply
        self.poll_interval = poll_interval
        self.max_range = max_range
        cp = store.checkpoint()
        self.checkpoint = cp[0] if cp else start_block - 1
        self.latest_timestamp = 0
        self.blocks_processed = 0
        self.caught_up = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                progressed = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watcher poll failed; retrying")
                progressed = False
            if not progressed:
                self.caught_up.set()
                await asyncio.sleep(self.poll_interval)

    async def poll_once(self) -> bool:
        """Process the next range of blocks; False when there was nothing new."""
        head = await self.chain.run(self._head)
        if head <= self.checkpoint:
            return False
        to = min(head, self.checkpoint + self.max_range)
        changes = await self.chain.run(self._read_range, self.checkpoint + 1, to)
        await self.apply(changes)
        self.store.set_checkpoint(changes.head, changes.head_hash)  # after applying, never before
        self.blocks_processed += changes.head - self.checkpoint
        self.checkpoint = changes.head
        self.latest_timestamp = changes.timestamp
        return True

    def _head(self) -> int:
        return int(self.chain.rpc.call("eth_blockNumber"), 16)

    def _read_range(self, start: int, end: int) -> BlockChanges:
        rpc = self.chain.rpc
        ex = self.chain.exchange
        block, raw_logs = rpc.batch(
            [
                ("eth_getBlockByNumber", [hex(end), False]),
                (
                    "eth_getLogs",
                    [
                        {
                            "fromBlock": hex(start),
                            "toBlock": hex(end),
                            "address": [ex.address, *sorted(self.tokens)],
                        }
                    ],
                ),
            ]
        )
        if isinstance(block, Exception):
            raise block
        if isinstance(raw_logs, Exception):
            raise raw_logs
        logs = [Log.from_rpc(x) for x in raw_logs]
        changes = BlockChanges(
            head=end, head_hash=block["hash"], timestamp=int(block["timestamp"], 16)
        )
        changes.fills = ex.fills(logs)
        cancel_topic = ex.abi.events["OrderCancelled"].topic
        upto_topic = ex.abi.events["OrdersCancelledUpTo"].topic
        for lg in logs:
            if not lg.topics:
                continue
            t0 = lg.topics[0]
            if lg.address == ex.address:
                if t0 == cancel_topic:
                    changes.cancelled.add(lg.topics[1])
                elif t0 == upto_topic:
                    changes.makers_cancelled_up_to.add("0x" + lg.topics[1][-20:].hex())
            elif lg.address in self.tokens and len(lg.topics) >= 3:
                a = "0x" + lg.topics[1][-20:].hex()
                b = "0x" + lg.topics[2][-20:].hex()
                if t0 == TRANSFER:
                    changes.funds.add((a, lg.address))
                    changes.funds.add((b, lg.address))
                elif t0 == APPROVAL and b == ex.address:
                    changes.funds.add((a, lg.address))
        return changes
