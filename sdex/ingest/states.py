"""Chain state of orders, batched: concurrent lookups within a short window share one
``getOrderStates`` ``eth_call`` (the base of ``verify.Eip1271Batcher`` too)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from sdex.chain import Exchange, OrderState
from sdex.chain.arpc import AsyncRpc
from sdex.chain.states import checked_order_states
from sdex.chain.tx import OUT_OF_GAS
from sdex.errors import ContractRevert, RpcError
from sdex.order import SignedOrder

Tag = str | dict[str, str]
"""A block named for a read: a number's or a tag's string, or ``{"blockHash": ...}``."""

CALL_GAS = 25_000_000
"""Gas each ``getOrderStates`` call is given: below what providers allow a call (geth's
``--rpc.gascap`` 50M, a block's 30M), so a read behaves alike on every chain. A contract
maker's row may take ``SIGNATURE_VIEW_GAS`` (100,000) and more with its tokens' views
(~115,000 measured for a wallet that burns what it gets): a read that runs out is split
(``_order_states``), never failed whole (review32: 500 such rows, the restart's and the
watcher's chunk, failed every honest row with them)."""


class StateBatcher:
    """Folds concurrent order-state lookups into one ``getOrderStates`` call.

    The first request opens a batch; it closes after ``max_wait`` seconds or ``max_batch``
    requests, and one ``eth_call`` (on the async client: several may be in flight) answers
    all of them.
    """

    chunk = 500
    """Orders per call of ``get_many``."""
    call_gas = CALL_GAS
    """Gas each ``getOrderStates`` call carries (``CALL_GAS``)."""

    def __init__(
        self,
        rpc: AsyncRpc,
        exchange: Exchange,
        max_batch: int = 256,
        max_wait: float = 0.002,
    ) -> None:
        """``exchange`` only encodes and decodes (its own client is not used here)."""
        self.rpc = rpc
        self.exchange = exchange
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[tuple[SignedOrder, asyncio.Future[OrderState]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._resolving: set[asyncio.Future[None]] = set()
        self.calls = 0

    async def get(self, signed: SignedOrder) -> OrderState:
        fut: asyncio.Future[OrderState] = asyncio.get_running_loop().create_future()
        self._pending.append((signed, fut))
        self._tagged(fut)
        if len(self._pending) >= self.max_batch:
            self._flush_now()
        elif self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_later())
        return await fut

    def _tagged(self, fut: asyncio.Future[OrderState]) -> None:
        """``fut``'s order joined the window (a subclass notes whose it is)."""

    async def get_many(self, orders: Sequence[SignedOrder]) -> list[OrderState]:
        """States of many orders now, in chunks (used at restart and by the watcher)."""
        out: list[OrderState] = []
        for i in range(0, len(orders), self.chunk):
            out.extend(await self._read(orders[i : i + self.chunk]))
        return out

    async def get_many_at(self, orders: Sequence[SignedOrder], block: int) -> list[OrderState]:
        """``get_many`` as of block ``block`` (its state after that block's transactions)."""
        out: list[OrderState] = []
        for i in range(0, len(orders), self.chunk):
            out.extend(await self._order_states(orders[i : i + self.chunk], hex(block)))
        return out

    async def get_many_in(
        self, orders: Sequence[SignedOrder], block: int, block_hash: str
    ) -> list[OrderState]:
        """``get_many`` as of the block of hash ``block_hash`` (number ``block``), named by
        its hash (EIP-1898): a chain that does not hold that block answers an error, not
        its own state (doubt82: a start in a chain doubt read the stored orders at
        "latest", and another chain's "cancelled" closed an order for good)."""
        out: list[OrderState] = []
        for i in range(0, len(orders), self.chunk):
            out.extend(await self._read_in(orders[i : i + self.chunk], block, block_hash))
        return out

    async def _read_in(
        self, orders: Sequence[SignedOrder], block: int, block_hash: str
    ) -> list[OrderState]:
        return await self._order_states(orders, {"blockHash": block_hash})

    async def _read(self, orders: Sequence[SignedOrder]) -> list[OrderState]:
        return await self._order_states(orders, "latest")

    async def _order_states(self, orders: Sequence[SignedOrder], tag: Tag) -> list[OrderState]:
        """One ``getOrderStates`` ``eth_call`` at block ``tag``, its rows checked; a call
        that runs out of ``call_gas`` (contract makers' rows) is read again in halves, down
        to one order (whose read cannot: at most a few hundred thousand gas)."""
        if not orders:
            return []
        try:
            return await self._order_states_call(orders, tag)
        except (RpcError, ContractRevert) as e:
            if len(orders) == 1 or not _out_of_gas(e):
                raise
        half = len(orders) // 2
        first = await self._order_states(orders[:half], tag)
        return first + await self._order_states(orders[half:], tag)

    async def _order_states_call(self, orders: Sequence[SignedOrder], tag: Tag) -> list[OrderState]:
        ex = self.exchange
        data = "0x" + ex.encode_order_states(orders).hex()
        tx = {"to": ex.address, "data": data, "gas": hex(self.call_gas)}
        self.calls += 1
        try:
            raw = await self.rpc.call("eth_call", tx, tag)
        except ContractRevert as e:
            if _out_of_gas(e):
                raise
            raise ex.decoder.decode(e) from None
        return checked_order_states(raw, orders)

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.max_wait)
        self._flusher = None
        self._flush_now()

    def _flush_now(self) -> None:
        batch, self._pending = self._pending, []
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if batch:  # keep a reference: the loop holds tasks only weakly
            task = asyncio.ensure_future(self._resolve(batch))
            self._resolving.add(task)
            task.add_done_callback(self._resolving.discard)

    async def _resolve(self, batch: list[tuple[SignedOrder, asyncio.Future[OrderState]]]) -> None:
        await self._settle(batch, self._read)

    async def _settle(
        self,
        batch: list[tuple[SignedOrder, asyncio.Future[OrderState]]],
        read: Callable[[Sequence[SignedOrder]], Awaitable[list[OrderState]]],
    ) -> None:
        """``batch``'s futures get their states (``read``) or its error. Once every one of
        them is given up (cancelled: each order's wait ended, its read deadline passed), the
        read is cancelled, its request's connection closed (reads77: a held read's connection
        stayed taken until the RPC client's 30 s timeout, its orders long answered)."""
        orders = [s for s, _ in batch]
        call = asyncio.ensure_future(read(orders))
        given_up = 0

        def gave_up(fut: asyncio.Future[OrderState]) -> None:
            nonlocal given_up
            given_up += fut.cancelled()
            if given_up == len(batch) and not call.done():
                call.cancel()

        for _, fut in batch:
            fut.add_done_callback(gave_up)
        try:
            states = await call
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if call.cancelled() and given_up == len(batch) and not (task and task.cancelling()):
                return  # (nobody waits for it any more)
            raise
        except Exception as e:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        for (_, fut), state in zip(batch, states, strict=True):
            if not fut.done():
                fut.set_result(state)


def _out_of_gas(e: RpcError | ContractRevert) -> bool:
    """The call ran out of gas (Hardhat answers it as a revert with empty data)."""
    if isinstance(e, ContractRevert) and e.data:
        return False
    return any(w in str(e).lower() for w in OUT_OF_GAS)
