"""A settlement's own fills, from its receipt to its subscribers: stored (the write the
chain thread queued as the receipt came, else written here, tried again while the store
refuses for a moment), then published on the event hub once durable. The fills of a
settlement whose write stalls past ``store_wait`` are published when it ends
(``sdex.node.settle`` waits for them under its results lock)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _string

from sdex.chain import FillEvent
from sdex.node.events import EventHub, encode_json
from sdex.node.settleblame import NodeBlame
from sdex.store import StoredFill, StoreError

log = logging.getLogger("sdex.node")
FILLS_WRITE_PAUSES = (0.05, 0.2, 1.0)
"""Seconds between the tries of a settlement's own fills write that the store refused."""


def _fill_event(f: StoredFill) -> dict[str, object]:
    return {"type": "fill", **f.to_json()}


def fill_event_text(seq: int, fill: StoredFill) -> str:
    """``encode_json({"seq": seq, **_fill_event(fill)})`` formatted from the fill directly:
    no dict made for the encoder to walk (anvil50: two a settled match; ``publish_made``).
    The same text (``tests/test_anvil50_fill_text.py``); values not of a fill's types are
    encoded."""
    f = fill
    if (  # (unrolled: no generator an event, two a settled match; anvil63)
        type(seq) is not int
        or type(f.log_index) is not int
        or type(f.block_number) is not int
        or type(f.maker_filled) is not int
        or type(f.taker_filled) is not int
        or type(f.fee) is not int
        or type(f.ours) is not bool
    ):
        return encode_json({"seq": seq, **_fill_event(f)})
    return (
        f'{{"seq": {seq}, "type": "fill", "transactionHash": {_string(f.tx_hash)}, '
        f'"logIndex": {f.log_index}, "blockNumber": {f.block_number}, '
        f'"orderHash": "0x{f.order_hash.hex()}", "maker": {_string(f.maker)}, '
        f'"taker": {_string(f.taker)}, "makerAmountFilled": "{f.maker_filled}", '
        f'"takerAmountFilled": "{f.taker_filled}", "feeRecipient": {_string(f.fee_recipient)}, '
        f'"feePaid": "{f.fee}", "settledByThisNode": {"true" if f.ours else "false"}}}'
    )


def publish_fill(events: EventHub, f: StoredFill) -> None:
    """``f``'s fill event: its dict made only for a subscriber that reads dicts."""
    events.publish_made(
        functools.partial(_fill_event, f), functools.partial(fill_event_text, fill=f)
    )


def own_fills(fills: Iterable[FillEvent]) -> Iterable[StoredFill]:
    """A settlement's fills as the node's own stored fills: the settler decodes them so
    (``own_fill``), copied only if not (anvil50)."""
    for f in fills:
        yield f if type(f) is StoredFill and f.ours else StoredFill.of(f, True)


class NodeFills(NodeBlame):
    """A settlement's own fills stored, then published (``sdex.node.settle`` hands them)."""

    async def _fills_durable(self, writing: asyncio.Task[list[StoredFill]]) -> list[StoredFill]:
        """The settlement's fills once stored (``_fills_written``), waited for under
        ``_results_lock`` at most ``store_wait`` seconds: a store that stalls longer is said
        on ``/health`` (``failing``) and the results go on without them (later settlements'
        are not held behind it); the write goes on, its new fills published once durable
        (if it fails, the watcher stores them with their block)."""
        try:
            done, _ = await asyncio.wait({writing}, timeout=self.store_wait)
        except asyncio.CancelledError:
            writing.cancel()
            raise
        if done:
            return writing.result()
        self.watcher.stalled("a settlement's fills", self.store_wait)
        self._late_writes.add(writing)  # (cancelled at ``stop``)

        def published(task: asyncio.Task[list[StoredFill]]) -> None:
            self._late_writes.discard(task)
            if task.cancelled():
                return
            if (e := task.exception()) is not None:  # (not the store's: a defect)
                log.error("a settlement's late fills write failed (%r): left to the watcher", e)
                return
            for f in task.result():
                publish_fill(self.events, f)

        writing.add_done_callback(published)
        return []

    async def _fills_written(
        self, early: concurrent.futures.Future[list[StoredFill]] | None, fills: list[StoredFill]
    ) -> list[StoredFill]:
        """The settlement's fills once stored: the write the chain thread queued as the
        receipt came (``early``), else (or if that write failed: tried once more) ours; after
        a reorg or a reset none (reorg60: a retry stored an undone block's fills): the watcher's."""
        durable, epoch = self._own_durable, self._own_durable.epoch
        if early is not None:
            try:
                new = await asyncio.wrap_future(early)  # (all the receipt's fills: ours too)
                if durable.epoch == epoch:  # (else: maybe removed since)
                    durable.add(fills)  # (the watcher writes them no more)
                return new
            except Exception as e:
                log.warning("the fills write queued with the receipt failed (%s): again", e)
        if not fills:
            return []
        for pause in (*FILLS_WRITE_PAUSES, None):  # a store failing for a moment (disk full)
            if durable.epoch != epoch:
                log.warning("a reorg or a reset came: the settlement's fills left to the watcher")
                return []
            try:
                new = await self.store.add_fills_async(fills)
                durable.add(fills)  # (queued after the reorg's removal, if any: none since)
                return new
            except StoreError as e:
                if pause is None:  # the watcher stores them when it reads their block
                    log.error("the settlement's fills were not stored (%s): left to the watcher", e)
                    return []
                log.warning("the settlement's fills write failed (%s): again in %ss", e, pause)
                await asyncio.sleep(pause)
        return []  # (not reached: the last try returns)
