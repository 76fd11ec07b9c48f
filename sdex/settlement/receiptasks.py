"""The receipt asks by hash of the settlements waiting, gathered (settle81): those made in one
turn of the event loop go in one JSON-RPC batch, each waiter answered from it as if it had
asked alone (``poll_receipt``). The settlements in flight wake together at a new head
(``HeadSignal``) and each asked for its own receipt, one request each (rcpt79's left: on a
chain that mines blocks of many settlements, an interval or a paused pool mined, a request per
settlement at every head). Hardhat serves a batch's members one by one under its lock: what
this saves is the requests, their round trips and the chain's per-request work, not the
receipts' reads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sdex.chain.arpc import AsyncRpc

METHOD = "eth_getTransactionReceipt"


class ReceiptAsks:
    """One batch a loop turn of the receipts asked by hash (``receipt``)."""

    def __init__(self, rpc: AsyncRpc) -> None:
        self.rpc = rpc
        self.requests = 0
        """Requests made (one a turn that asked)."""
        self.asks = 0
        """Receipts asked (``receipt`` calls)."""
        self._asked: list[tuple[list[str], asyncio.Future[Any]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def receipt(self, hashes: Sequence[str]) -> Any:
        """The receipt of the first of ``hashes`` (a settlement and its replacements) that
        has one, else None; an error of one of them raised when none has one (unknown
        whether it would: asked again), as is the whole batch's. Asked with every other
        waiter's of this turn."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._asked.append(([h.lower() for h in hashes], answer))
        self.asks += 1
        if len(self._asked) == 1:  # (the turn's others ask before the callback runs)
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        asked, self._asked = self._asked, []
        task = asyncio.ensure_future(self._ask(asked))
        self._running.add(task)  # (kept until done: a task nobody holds may be collected)
        task.add_done_callback(self._running.discard)

    async def _ask(self, asked: list[tuple[list[str], asyncio.Future[Any]]]) -> None:
        waiting = [(hashes, answer) for hashes, answer in asked if not answer.done()]
        wanted = list(dict.fromkeys(h for hashes, _ in waiting for h in hashes))
        if not wanted:
            return
        self.requests += 1
        try:
            if len(wanted) == 1:  # (a lone ask: as before, no batch)
                got: dict[str, Any] = {wanted[0]: await self.rpc.call(METHOD, wanted[0])}
            else:
                answers = await self.rpc.batch([(METHOD, [h]) for h in wanted])
                got = dict(zip(wanted, answers, strict=True))
        except BaseException as e:
            for _, answer in waiting:
                if answer.done():
                    continue
                if isinstance(e, asyncio.CancelledError):
                    answer.cancel()
                else:
                    answer.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        for hashes, answer in waiting:
            if answer.done():  # (its waiter cancelled meanwhile)
                continue
            mine = [got[h] for h in hashes]
            if (found := next((a for a in mine if isinstance(a, dict)), None)) is not None:
                answer.set_result(found)
            elif (failed := next((a for a in mine if isinstance(a, Exception)), None)) is not None:
                answer.set_exception(failed)
            else:
                answer.set_result(None)
