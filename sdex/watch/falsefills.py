"""Fills stored ahead of the watcher that the chain does not have.

The node stores a settlement's fills from its own receipt (``sdex.node.settlefills``), and a
peer's from the receipt a notice named (``sdex.node.peering``), before the watcher reaches
their block. A reorg that drops that block before the watcher got there undoes nothing
(the watcher never applied it: ``Mirror.undo_to`` has no such block), so the rows stayed,
an order filled once listing two fills. Every fill of the blocks a poll applied is in its
changes (``BlockChanges.low``: logs read, or the node's own receipts applied as decoded), so
a fill stored for one of those blocks and not among them is not the chain's: deleted, and
reported as a reorg's are (``reverted``: the websocket says so, its order is judged again).
So too for a block the watcher had applied already when the receipt or notice came
(``OwnReceipts.late``: the mirror has another block there, checked against its kept fills;
or keeps none there, past its reorg window: checked against the chain's fills of that
height, read with ``late_fills``, ``LATE_READS`` blocks a poll: a batch refused whole as
too large is read again in halves, one block too large alone is ``LogsTooLarge``), and for
receipts above the chain's head that a devnet's rewind dropped (``sdex.watch.own``). After a
reorg or a reset, every stored fill above the new head but those held ahead goes too: one
written from a receipt that came after the removal of the undone blocks' fills."""

from __future__ import annotations

from sdex.chain import FillEvent, Log
from sdex.chain.arpc import AsyncRpc
from sdex.mirror import Mirror
from sdex.store import Store, StoredFill, fill_key
from sdex.watch.changes import BlockChanges
from sdex.watch.ranges import LogsTooLarge, too_large

TOP = 2**62
"""Above any block number (the end of a range with none)."""
LATE_READS = 32
"""Late blocks past the reorg window whose fills one poll reads (one batch; the rest wait)."""


def _unkept(m: Mirror, changes: BlockChanges) -> list[int]:
    """The late blocks up to the head that neither this poll applied nor the mirror keeps."""
    head = m.head
    if head is None or not m.own.late:
        return []
    kept = {b.header.number for b in m.blocks}
    return [
        n for n in sorted(m.own.late)
        if n <= head.number and n not in kept and not 0 <= changes.low <= n
    ]  # fmt: skip


async def late_fills(rpc: AsyncRpc, m: Mirror, changes: BlockChanges) -> dict[int, list[FillEvent]]:
    """The chain's fills at the late blocks the mirror keeps no header of (one batch of
    ``eth_getLogs``, at most ``LATE_READS`` blocks; refused whole as too large, read again in
    halves). ``ValueError`` for an answer that is not one, ``LogsTooLarge`` for a block whose
    fills are too large for one read alone (the poll fails: read again with the next)."""
    out: dict[int, list[FillEvent]] = {}
    want = _unkept(m, changes)[:LATE_READS]
    if want:
        await _read_late(rpc, m, want, out)
    return out


async def _read_late(
    rpc: AsyncRpc, m: Mirror, want: list[int], out: dict[int, list[FillEvent]]
) -> None:
    """``late_fills`` of the blocks ``want``, into ``out``."""
    topic = "0x" + m.exchange.abi.events["OrderFilled"].topic.hex()
    calls: list[tuple[str, list[object]]] = [
        ("eth_getLogs", [{"fromBlock": hex(n), "toBlock": hex(n), "address": m.address,
                          "topics": [topic]}])
        for n in want
    ]  # fmt: skip
    try:
        answers = await rpc.batch(calls)
    except Exception as e:  # (the batch refused whole: its answer, or its request)
        if not too_large(e):
            raise
        if len(want) == 1:
            raise _too_large(want[0], e) from e
        half = len(want) // 2
        await _read_late(rpc, m, want[:half], out)
        await _read_late(rpc, m, want[half:], out)
        return
    for n, raw in zip(want, answers, strict=True):
        if isinstance(raw, Exception):
            if too_large(raw):  # (one block's call: it cannot be split)
                raise _too_large(n, raw) from raw
            raise raw
        if not isinstance(raw, list):
            raise ValueError("eth_getLogs answered something else than a list")
        try:
            logs = [Log.from_rpc(x) for x in raw]
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"eth_getLogs answered a log that is not one: {e}") from None
        if any(lg.block_number != n or lg.address != m.address for lg in logs):
            raise ValueError(f"eth_getLogs answered logs of another block than {n}")
        out[n] = m.exchange.fills(logs)


def _too_large(block: int, cause: BaseException) -> LogsTooLarge:
    cannot = "check the fills stored for that late block against the chain's"
    return LogsTooLarge(block, cause, "fills", cannot)


async def false_fills(
    store: Store, m: Mirror, changes: BlockChanges, read: dict[int, list[FillEvent]]
) -> list[StoredFill]:
    """Delete the stored fills of the blocks ``changes`` applied that the chain does not
    have, those of the blocks a late receipt or notice named (against the mirror's kept
    block there, else against the chain's fills ``read`` there, ``late_fills``), and those of
    the transactions ``changes.dropped`` (receipts of blocks above the chain's head then, a
    devnet rewound): they are returned, in the order deleted. Refused by the store, all is
    tried again with the next poll (the changes kept, ``late`` left as it is)."""
    gone: list[StoredFill] = []
    head = m.head
    if head is not None and 0 <= changes.low <= head.number:
        chain = {fill_key(f) for f in changes.fills}
        gone += await store.remove_fills_except(changes.low, head.number, chain)
    if head is not None and (changes.reset or changes.fork >= 0):
        # After a reorg or a reset nothing is stored above the head but the fills of what
        # the node holds ahead (its receipts, peers' notices) or still awaits (its sends: a
        # receipt's write goes before its note): a receipt's fills written after the removal
        # of the undone blocks' (it came meanwhile), of a block above the new chain's head,
        # stayed till the chain passed that height (reorg62)
        ahead = {*m.own, *m.own.stubs, *m.own.overflow_txs, *m.expected}
        gone += await store.remove_fills_except(head.number + 1, TOP, (), keep_txs=ahead)
    kept = {b.header.number: b for b in m.blocks} if m.own.late else {}
    for n in sorted(m.own.late):  # (left to the next poll if the store refuses)
        if head is None or n > head.number:
            continue  # (undone by a reorg: its range is checked when applied again)
        b = kept.get(n)
        if 0 <= changes.low <= n:  # (done above)
            pass
        elif b is not None:
            gone += await store.remove_fills_except(n, n, {fill_key(f) for f in b.effects.fills})
        elif n in read:
            gone += await store.remove_fills_except(n, n, {fill_key(f) for f in read[n]})
        else:
            continue  # (past ``LATE_READS``: read with a later poll)
        m.own.late.discard(n)
    for below in sorted(set(changes.dropped.values())):
        txs = {tx for tx, b in changes.dropped.items() if b == below}
        gone += await store.remove_fills_except(below + 1, TOP, (), txs)
    return gone
