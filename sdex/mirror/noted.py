"""The node's own settlements as the mirror takes them ahead of their blocks: sent
(``expect``: the watcher waits a moment for the receipt rather than decode its logs),
their receipts noted decoded (``note_receipt``), a peer's settlement the node applied
before its block (``note_ahead``), a receipt of a block the mirror applied already checked
against it (``_late``). ``Mirror.apply`` takes them when the watcher reaches their block."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Sequence

from eth_hash.auto import keccak

from sdex.chain import FillEvent, Receipt
from sdex.mirror.blocks import Block, Header
from sdex.mirror.own import Account, OwnReceipt, OwnReceipts, Stub, named_in_data

TRANSFER = keccak(b"Transfer(address,address,uint256)")
APPROVAL = keccak(b"Approval(address,address,uint256)")

EXPECT_PATIENCE = 2.0
"""Seconds the watcher waits for an own settlement's receipt before reading its logs."""


class OwnNotes:
    """``Mirror``'s own-settlement side (its state is ``Mirror``'s, set in its ``__init__``)."""

    address: str
    tokens: frozenset[str]
    head: Header | None
    blocks: deque[Block]
    own: OwnReceipts
    expected: dict[str, float]
    on_receipt: Callable[[], None] | None
    _orphans: set[bytes]

    def hash_at(self, number: int) -> str | None:
        """Our hash of block ``number`` if it is among the kept headers."""
        for b in reversed(self.blocks):
            if b.header.number == number:
                return b.header.hash
            if b.header.number < number:
                break
        if self.head is not None and self.head.number == number:
            return self.head.hash
        return None

    def expect(self, tx_hash: str) -> None:
        """An own settlement was sent: its receipt will come through ``note_receipt``."""
        self.expected[tx_hash.lower()] = time.monotonic()

    def unexpect(self, tx_hash: str) -> None:
        """Its receipt will not come (lost, failed, or processed)."""
        if self.expected.pop(tx_hash.lower(), None) is not None and self.on_receipt:
            self.on_receipt()

    def awaiting(self, tx_hash: str, patience: float = EXPECT_PATIENCE) -> bool:
        """Whether the watcher should wait for ``tx_hash``'s receipt instead of reading it."""
        sent = self.expected.get(tx_hash.lower())
        return sent is not None and time.monotonic() - sent < patience

    def note_receipt(self, receipt: Receipt, fills: Sequence[FillEvent], tx_root: str = "") -> None:
        """Keep a settlement receipt of this node, its fills decoded, until the watcher
        applies its block (``apply`` with ``own``). Only the listed tokens' transfers and
        approvals are taken from its logs (their topics, no ABI decoding); the accounts a
        listed token's log with fewer indexed addresses names in its data are re-read.
        ``tx_root``: the ``transactionsRoot`` of a block holding the transaction alone
        (``lone_tx_root``)."""
        self.expected.pop(receipt.tx_hash.lower(), None)
        if self.on_receipt is not None:
            self.on_receipt()
        if receipt.status != 1 or not receipt.block_hash:
            return
        if self.head is not None and receipt.block_number <= self.head.number:
            # the watcher was first: it read and applied the block itself (or another block
            # at that height: then the receipt's is not on the chain the mirror follows)
            orders = [f.order_hash for f in fills]
            self._late(receipt.block_number, receipt.block_hash, orders)
            return
        transfers: list[tuple[str, str, str, int]] = []
        approvals: set[Account] = set()
        named: dict[bytes, str] = {}  # (each topic's address once: a batch's makers recur)
        for lg in receipt.logs:
            if lg.address not in self.tokens:
                continue
            if len(lg.topics) < 3:  # (an old token's unindexed Transfer: re-read; blame39)
                approvals |= named_in_data(lg.data, lg.address)
                continue
            if (a := named.get(lg.topics[1])) is None:
                a = named[lg.topics[1]] = "0x" + lg.topics[1][-20:].hex()
            if (b := named.get(lg.topics[2])) is None:
                b = named[lg.topics[2]] = "0x" + lg.topics[2][-20:].hex()
            if lg.topics[0] == TRANSFER and len(lg.data) >= 32:
                transfers.append((lg.address, a, b, int.from_bytes(lg.data[:32], "big")))
            elif lg.topics[0] == APPROVAL and b == self.address:
                approvals.add((a, lg.address))
        self.own.add(
            OwnReceipt(
                receipt.tx_hash.lower(),
                receipt.block_hash,
                receipt.block_number,
                tuple(fills),
                tuple(transfers),
                frozenset(approvals),
                tx_root,
            )
        )

    def note_ahead(
        self,
        tx_hash: str,
        block: tuple[int, str],
        orders: Iterable[bytes],
        payers: Iterable[Account],
    ) -> None:
        """A settlement (a peer's, its receipt read) whose fills the node applied before the
        mirror reaches its block (number, hash): its orders and the accounts that paid held
        ahead like an own receipt's until then (its block applied, its logs read then; or
        not on the chain: ``orphaned``)."""
        number, block_hash = block
        if self.head is not None and number <= self.head.number:
            self._late(number, block_hash, orders)
            return
        stub = Stub(block_hash, number, tuple(orders), tuple(payers), time.monotonic())
        self.own.note(tx_hash.lower(), stub)

    def _late(self, number: int, block_hash: str, orders: Iterable[bytes]) -> None:
        """A receipt or a notice of a block the mirror applied already: if its block there
        is another, the orders are judged again; another or not kept (past the reorg window,
        or before a restart), the fills stored at that height are checked against the
        chain's with the next poll (``OwnReceipts.late``, ``sdex.watch.falsefills``)."""
        known = self.hash_at(number)
        if known == block_hash:
            return
        if known is not None:
            self._orphans.update(orders)
        self.own.add_late(number)

    def drop_own(self, txs: Iterable[str], chain_head: int) -> set[bytes]:
        """Own receipts (and stubs) whose blocks the chain no longer has, though it has
        none at their height either (``sdex.watch.own``; the chain's head at ``chain_head``):
        the orders they filled, and those of let-go stubs now due (``OwnReceipts.drop``)."""
        gone = self.own.drop(txs, chain_head)
        if self.head is not None:
            gone |= self.own.due(self.head.number)
        return gone

    def filled_ahead(self, order_hash: bytes) -> int | None:
        """What own settlements of blocks the mirror has not applied filled of an order (their
        receipts decoded, ``note_receipt``); None when one held ahead without its decoded
        logs names it (a stub: a peer's, or past ``MAX_OWN_RECEIPTS``), its amount unknown."""
        return self.own.filled(order_hash)

    def ahead(self) -> tuple[Container[bytes], Container[Account]]:
        """The orders filled, and the accounts that paid, in own settlements of blocks the
        mirror has not applied yet (their receipts noted, ``note_receipt``). The node
        confirmed them already (a confirm takes the fill off what the maker pays with): the
        mirror's filled amounts and funds for these are older than the node's, so it takes
        none of them from the mirror until that block is applied (the watcher then reports
        them, or finds the block reorged out: ``orphaned``)."""
        return self.own.held_orders, self.own.held_payers
