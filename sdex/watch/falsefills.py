"""Fills stored ahead of the watcher that the chain does not have.

The node stores a settlement's fills from its own receipt (``sdex.node.settle``), and a
peer's from the receipt a notice named (``sdex.node.peering``), before the watcher reaches
their block. A reorg that drops that block before the watcher got there undoes nothing
(the watcher never applied it: ``Mirror.undo_to`` has no such block), so the rows stayed,
an order filled once listing two fills. Every fill of the blocks a poll applied is in its
changes (``BlockChanges.low``: logs read, or the node's own receipts applied as decoded), so
a fill stored for one of those blocks and not among them is not the chain's: deleted, and
reported as a reorg's are (``reverted``: the websocket says so, its order is judged again).
So too for a block the watcher had applied already when the receipt or notice came
(``OwnReceipts.late``: the mirror has another block there), and for receipts above the
chain's head that a devnet's rewind dropped (``sdex.watch.own``)."""

from __future__ import annotations

from collections.abc import Collection

from sdex.mirror import Mirror
from sdex.store import Store, StoredFill, fill_key
from sdex.watch.changes import BlockChanges

TOP = 2**62
"""Above any block number (the end of a range with none)."""


async def false_fills(
    store: Store, m: Mirror, changes: BlockChanges, dropped: Collection[str], below: int
) -> list[StoredFill]:
    """Delete the stored fills of the blocks ``changes`` applied that the chain does not
    have, those of the mirror's kept blocks a late receipt or notice named, and those of
    the transactions ``dropped`` (receipts of blocks above the chain's head ``below``, a
    devnet rewound): they are returned, in the order deleted."""
    gone: list[StoredFill] = []
    head = m.head
    if head is not None and 0 <= changes.low <= head.number:
        chain = {fill_key(f) for f in changes.fills}
        gone += await store.remove_fills_except(changes.low, head.number, chain)
    kept = {b.header.number: b for b in m.blocks} if m.own.late else {}
    for n in sorted(m.own.late):  # (left to the next poll if the store refuses)
        b = kept.get(n)
        applied = head is not None and 0 <= changes.low <= n <= head.number  # (done above)
        if b is not None and not applied:
            gone += await store.remove_fills_except(n, n, {fill_key(f) for f in b.effects.fills})
        m.own.late.discard(n)
    if dropped:
        txs = {tx.lower() for tx in dropped}
        gone += await store.remove_fills_except(below + 1, TOP, (), txs)
    return gone
