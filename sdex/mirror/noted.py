"""The node's own settlements as the mirror takes them ahead of their blocks: sent
(``expect``: the watcher waits a moment for the receipt rather than decode its logs),
their receipts noted decoded (``note_receipt``), a peer's settlement the node applied
before its block (``note_ahead``), a receipt of a block the mirror applied already checked
against it (``_late``). ``Mirror.apply`` takes them when the watcher reaches their block.

A receipt the settler holds while it is confirmed (``confirming``; settle93's read apart) is
not waited for: the watcher reads its block's logs itself, and that read is the
confirmation when the block the mirror applied at its number has its hash and the
transaction's logs there are the receipt's (settle95: the watcher held the block up to
``EXPECT_PATIENCE`` for a receipt that came only after the read apart, fell 3-7 blocks
behind under load, and orders were read from the chain, then throttled)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Sequence

from eth_hash.auto import keccak

from sdex.chain import FillEvent, Log, Receipt
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
    found: set[str]
    """Own settlements expected whose receipt the settler holds, being confirmed: not
    waited for (``awaiting``)."""
    confirms: dict[str, tuple[Receipt, asyncio.Future[bool]]]
    """A receipt being confirmed by tx hash, and what the watcher's read says of it."""
    seen_logs: dict[str, dict[str, list[Log]]]
    """The logs of own settlements expected that the watcher read and applied (of the
    exchange and the listed tokens: what it reads), by tx hash and the hash of the block
    read, until the receipt is noted or not expected any more (a block a reorg undid keeps
    its own: review96d)."""
    on_receipt: Callable[[bool], None] | None
    """Called with whether the watcher has a poll to make for a receipt that came (or
    will not come): not for one whose block the mirror applied already at its hash."""
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
        """Its receipt will not come (lost, failed, or processed). The watcher is woken if it
        may wait for it, not once the settler held it (``found``: woken then; watch96)."""
        tx = tx_hash.lower()
        waited = tx not in self.found
        if self._forget(tx) is not None and self.on_receipt:
            self.on_receipt(waited)

    def _forget(self, tx: str) -> float | None:
        """``tx`` (lower case) not expected any more: when it was sent, or None."""
        self.found.discard(tx)
        self.seen_logs.pop(tx, None)
        return self.expected.pop(tx, None)

    def awaiting(self, tx_hash: str, patience: float = EXPECT_PATIENCE) -> bool:
        """Whether the watcher should wait for ``tx_hash``'s receipt instead of reading it
        (not once the settler holds it, while it is confirmed: ``found``)."""
        tx = tx_hash.lower()
        sent = self.expected.get(tx)
        return sent is not None and time.monotonic() - sent < patience and tx not in self.found

    def confirming(self, got: Receipt) -> asyncio.Future[bool] | None:
        """The settler holds ``got``, an own settlement's receipt, and confirms it: the
        watcher does not wait for it any more (it reads the block itself). A future of
        whether the watcher's read confirms it, set once the mirror applies its block's
        number: the block there has ``got``'s hash and the transaction's logs the watcher
        read there are ``got``'s of the exchange and the listed tokens, one of the
        exchange at least (``seen_as``). None when no read of logs can say (status 0, no
        logs of the exchange): confirmed apart. ``unconfirming`` when done."""
        tx = got.tx_hash.lower()
        seen: asyncio.Future[bool] | None = None
        if got.status == 1 and got.block_hash and self.address in {lg.address for lg in got.logs}:
            seen = asyncio.get_running_loop().create_future()
            self.confirms[tx] = (got, seen)  # (before the wake-up: ``unannounced`` sees it)
            if self.head is not None and got.block_number <= self.head.number:
                seen.set_result(self.seen_as(got))
        if tx in self.expected:
            self.found.add(tx)
            if self.on_receipt is not None:  # (a watcher waiting for it reads on)
                self.on_receipt(not self.applied(got))
        return seen

    def applied(self, got: Receipt) -> bool:
        """Whether the mirror applied ``got``'s block, at its hash: the watcher read it and
        waits for nothing of it. watch96: settle95's watcher read the block before the
        receipt was confirmed, then noted, and each wake-up a receipt of a block applied
        gave asked the chain for "latest" (a request a settlement on automine, newHeads
        live)."""
        return bool(got.block_hash) and self.hash_at(got.block_number) == got.block_hash

    def unconfirming(self, tx_hash: str) -> None:
        """The confirmation of ``tx_hash``'s receipt ended (``confirming``)."""
        self.confirms.pop(tx_hash.lower(), None)

    def watched(self, logs: Sequence[Log], top: int) -> None:
        """(``Mirror.apply``, the head now ``top``) Keep the logs of own settlements
        expected among ``logs``, and say of each receipt being confirmed whose block
        number the head reached whether the read confirms it (``seen_as``)."""
        expected, read = self.expected, dict[tuple[str, str], list[Log]]()
        for lg in logs:
            if (tx := lg.tx_hash.lower()) in expected and (
                at := self.hash_at(lg.block_number)
            ) is not None:  # (the block applied at its number: one call, one block's logs)
                read.setdefault((tx, at), []).append(lg)
        for (tx, at), lgs in read.items():
            self.seen_logs.setdefault(tx, {})[at] = lgs
        for got, told in self.confirms.values():
            if not told.done() and got.block_number <= top:
                told.set_result(self.seen_as(got))

    def seen_as(self, got: Receipt) -> bool:
        """Whether the mirror applied ``got``'s block (its hash at ``got``'s number) and
        read there the very logs ``got`` has of the exchange and the listed tokens, of its
        transaction, at the same indexes: a receipt a lying backend made up (another block,
        fills no block holds, fewer or more of them) is not (settle95). Only the logs read
        in the block of that hash: review96d, those of a block a reorg undid at that
        number confirmed a receipt telling the new block's hash, which lacks the
        transaction."""
        if not got.block_hash or self.hash_at(got.block_number) != got.block_hash:
            return False
        read = {self.address, *self.tokens}
        told = sorted(_seen(lg) for lg in got.logs if lg.address in read)
        had = self.seen_logs.get(got.tx_hash.lower(), {}).get(got.block_hash, ())
        return told == sorted(_seen(lg) for lg in had if lg.block_number == got.block_number)

    def note_receipt(self, receipt: Receipt, fills: Sequence[FillEvent], tx_root: str = "") -> None:
        """Keep a settlement receipt of this node, its fills decoded, until the watcher
        applies its block (``apply`` with ``own``). Only the listed tokens' transfers and
        approvals are taken from its logs (their topics, no ABI decoding); the accounts a
        listed token's log with fewer indexed addresses names in its data are re-read.
        ``tx_root``: the ``transactionsRoot`` of a block holding the transaction alone
        (``lone_tx_root``)."""
        self._forget(receipt.tx_hash.lower())
        if self.on_receipt is not None:  # (no poll for a block applied: watch96)
            self.on_receipt(not self.applied(receipt))
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


def own_transfer(lg: Log, ours: Container[str]) -> tuple[str, str, str, int] | None:
    """(token, from, to, value) of ``lg``, a listed token's log the watcher read, when it is
    an indexed ``Transfer`` of an own settlement whose receipt is not noted (``ours``: the
    tx hashes ``expected`` or being confirmed): the mirror moves both accounts by its
    amount, as a noted receipt's (``Mirror._move``), and reads neither again. settle98:
    since settle95 the watcher reads such a block itself, and re-read the accounts a few
    requests later; the settler, told by that read that its receipt held, confirmed the
    match and took the maker's funds from the mirror between the two (still the amount
    before the block): the match given back was matched with her order once more. The log
    is the watcher's own read (the chain the mirror follows), not the receipt's word."""
    t = lg.topics
    if len(t) < 3 or t[0] != TRANSFER or len(lg.data) < 32 or lg.tx_hash.lower() not in ours:
        return None
    if t[1][:12] != bytes(12) or t[2][:12] != bytes(12):  # (not address words: read again)
        return None
    return (
        lg.address,
        "0x" + t[1][-20:].hex(),
        "0x" + t[2][-20:].hex(),
        int.from_bytes(lg.data[:32], "big"),
    )


def _seen(lg: Log) -> tuple[int, str, tuple[bytes, ...], bytes]:
    """What of a log ``OwnNotes.seen_as`` compares (its index first: sorted by it)."""
    return lg.log_index, lg.address, tuple(lg.topics), lg.data
