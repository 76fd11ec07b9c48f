"""Each new block's receipts read once for every settlement waiting (``BlockReceipts``): on a
chain that announces its heads and serves ``eth_getBlockReceipts`` (anvil), a waiting
settlement (``sdex.settlement.receipts.poll_receipt``) looks in them instead of asking for its
own receipt at every head. Split from ``sdex.settlement.receipts`` (settle86: over 480 lines)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container, Sequence

import aiohttp

from sdex.chain.arpc import AsyncRpc
from sdex.errors import RpcError
from sdex.settlement.receiptasks import ReceiptAsks

log = logging.getLogger("sdex.settlement")

KEPT_BLOCKS = 16
"""Blocks whose receipts ``BlockReceipts`` keeps (the settlements in flight share them)."""
_UNSUPPORTED = (-32004, -32601)
"""JSON-RPC error codes of a method the chain does not serve (Hardhat 2.29: -32004)."""
MAX_BAD_READS = 3
"""Block reads in a row that failed with an answer (an error, junk) before ``BlockReceipts``
stops using them for good (an endpoint or proxy that does not serve them its own way)."""


class BlockReceipts:
    """Each block's receipts read once (``eth_getBlockReceipts``), by block hash, shared by
    the settlements waiting; ``supported`` turns False for good on a chain without it. Their
    asks by hash are gathered too (``asks``: one request a loop turn)."""

    def __init__(self, rpc: AsyncRpc, wanted: Container[str] | None = None) -> None:
        self.rpc = rpc
        self.wanted = wanted
        """The transaction hashes (0x, lower case) whose receipts are kept from a block
        read (the settlements in flight); None: all."""
        self.supported = True
        self.reads = 0
        self.asks = ReceiptAsks(rpc)
        """The waiters' asks by hash, one request a loop turn (``sdex.settlement.receiptasks``)."""
        self._bad_reads = 0
        self._blocks: dict[str, asyncio.Future[dict[str, dict[str, object]] | None]] = {}

    async def find(
        self, block_hashes: list[str], tx_hashes: str | Sequence[str]
    ) -> tuple[bool, object]:
        """``(True, receipt)`` when one of ``tx_hashes`` (a settlement and its replacements)
        is in one of the blocks, ``(True, None)`` when none is in them, ``(False, None)``
        when that is not known (the method not served, or a block the chain does not know:
        the caller asks by hash)."""
        want = [tx_hashes.lower()] if isinstance(tx_hashes, str) else [t.lower() for t in tx_hashes]
        for h in block_hashes:
            block = await self._block(h)
            if block is None:
                return False, None
            for t in want:
                if (raw := block.get(t)) is not None:
                    return True, raw
        return True, None

    async def _block(self, block_hash: str) -> dict[str, dict[str, object]] | None:
        """The block's receipts by transaction hash; None: not known (asked by hash). The
        first waiter reads them itself (no task between: no extra turn of a busy loop), the
        others wait for its answer."""
        if not self.supported:
            return None
        shared = self._blocks.get(block_hash)
        if shared is not None:
            return await asyncio.shield(shared)
        shared = asyncio.get_running_loop().create_future()
        self._blocks[block_hash] = shared
        if len(self._blocks) > KEPT_BLOCKS:
            del self._blocks[next(iter(self._blocks))]
        block = None
        try:
            block = await self._read(block_hash)
        finally:  # failed or cancelled: the others ask by hash, the next waiter reads again
            if block is None and self._blocks.get(block_hash) is shared:
                del self._blocks[block_hash]
            shared.set_result(block)
        return block

    async def _read(self, block_hash: str) -> dict[str, dict[str, object]] | None:
        """The block's receipts we wait for, by transaction hash; None when the read failed
        or the chain does not know the block: the waiters ask by hash (in the same pass)."""
        self.reads += 1
        try:
            raw = await self.rpc.call("eth_getBlockReceipts", block_hash)
        except RpcError as e:
            if e.code in _UNSUPPORTED:
                self.supported = False
                log.info("the chain does not serve eth_getBlockReceipts: receipts by hash")
                return None
            self._bad_read(e)
            return None
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None  # the chain did not answer: the ask by hash meets the same fate
        except Exception as e:  # junk, an answer too large, a proxy's HTTP 403...
            self._bad_read(e)
            return None
        if not isinstance(raw, list):
            return None  # (a block the chain does not know: null)
        wanted = self.wanted
        want_block = block_hash.lower()
        out: dict[str, dict[str, object]] = {}
        for r in raw:
            if not isinstance(r, dict):
                continue
            # Every receipt must be of the block asked: another block's (a reorg between
            # the announcement and the read, an endpoint that lies) would settle matches
            # on a transaction that is not in the chain we follow. Then: by hash.
            at = r.get("blockHash")
            if not isinstance(at, str) or at.lower() != want_block:
                self._bad_read(ValueError(f"a receipt of block {at!r}, not {block_hash}"))
                return None
            if isinstance(tx := r.get("transactionHash"), str):
                tx = tx.lower()
                if wanted is None or tx in wanted:
                    out[tx] = r
        self._bad_reads = 0
        return out

    def _bad_read(self, e: Exception) -> None:
        """A read answered with an error or junk: after ``MAX_BAD_READS`` in a row, by hash."""
        self._bad_reads += 1
        if self._bad_reads >= MAX_BAD_READS:
            self.supported = False
            log.warning("eth_getBlockReceipts failed %d times (%s): by hash", MAX_BAD_READS, e)
