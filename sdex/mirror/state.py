"""This node's own reading of the chain, kept from logs: what intake and the book need.

Per order hash the filled maker amount and the cancelled flag (``OrderFilled``,
``OrderCancelled``), per maker ``minValidSalt`` (``OrdersCancelledUpTo``), per (maker, token)
balance and allowance to the Exchange (read once when first needed, re-read when a listed
token's ``Transfer``/``Approval`` touches it, or any other log of it names the account in an
indexed topic: WETH9's ``Deposit``/``Withdrawal``), and the head (number, hash, timestamp).

The node's own settlement receipts come decoded from the settler (``note_receipt``): when
the watcher reaches their block, their fills are taken as decoded and the balances their
transfers moved are updated by the amounts moved, with no second decode and no re-read;
so are those of the ``Transfer`` logs the watcher reads of an own settlement whose receipt
is not noted yet (``own_transfer``: it reads the block whose read confirms the receipt).
An account whose value came from a read at "latest" (``learn``, not pinned to a block) is
re-read instead, once, at a block: from then on its value is exact at the head.

Every Exchange event since the deployment block is applied, so an order hash the mirror
has never seen has filled 0 and is not cancelled: the chain state of a new order from a
known account is known without a call. The last ``depth`` blocks are kept with what each
changed (an undo list), so a reorg is undone exactly back to the fork point.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence

from sdex.chain import Exchange, Log, OrderState, OrderStatus, Receipt
from sdex.chain.headsignal import HeadSignal
from sdex.mirror.bitmaps import BitmapWatch, bitmap_nonce
from sdex.mirror.blocks import Block, Effects, Header
from sdex.mirror.checkpoints import Checkpoints
from sdex.mirror.doubt import ChainDoubt
from sdex.mirror.learned import MAX_BROKE, LearnedFunds
from sdex.mirror.marks import OrderMarks
from sdex.mirror.noted import APPROVAL, OwnNotes, own_transfer
from sdex.mirror.own import Account, OwnReceipt, OwnReceipts, named_in_data
from sdex.mirror.sigcache import SigCache
from sdex.order import (
    UINT256_MAX,
    ZERO_ADDRESS,
    SignedOrder,
    validity_errors,
)

ZERO_WORD_HEAD = bytes(12)
"""The first 12 bytes of a topic that holds an address (an ABI word of one)."""


Look = tuple[str, str, int]
"""What the mirror needs to say whether it can judge an order (``Mirror.knows``): its maker,
its maker token, its bitmap nonce (-1: not a bitmap order). ``look_of``."""


def look_of(signed: SignedOrder) -> Look:
    """``signed``'s ``Look`` (its strings interned: a long list's makers and tokens shared)."""
    o = signed.order
    return sys.intern(o.maker), sys.intern(o.maker_token), bitmap_nonce(o.salt)


class Mirror(OwnNotes, LearnedFunds):
    """The mirror's state and how blocks change it; the node's own settlements noted ahead
    of their blocks: ``sdex.mirror.noted``; funds learned from reads: ``sdex.mirror.learned``."""

    def __init__(self, exchange: Exchange, tokens: Iterable[str], depth: int = 128) -> None:
        self.exchange = exchange
        self.address = exchange.address
        self.tokens = frozenset(tokens)
        self.depth = max(1, depth)  # the head itself is always kept (the watcher links to it)
        self.head: Header | None = None
        self.marks = OrderMarks()
        """Filled amounts and cancel flags: the window's and unsaved ones in memory, the rest
        in the store (``sdex.mirror.marks``)."""
        self.min_salt: dict[str, int] = {}
        self.funds: dict[Account, tuple[int, int]] = {}
        self.blocks: deque[Block] = deque()
        self.checkpoints = Checkpoints()
        """Sparse hashes of applied blocks below ``blocks`` (``sdex.mirror.checkpoints``)."""
        self.bitmaps = BitmapWatch()
        """Bitmap orders the mirror may judge itself (``sdex.mirror.bitmaps``)."""
        self._fill_topic = exchange.abi.events["OrderFilled"].topic
        self._cancel_topic = exchange.abi.events["OrderCancelled"].topic
        self._upto_topic = exchange.abi.events["OrdersCancelledUpTo"].topic
        self.dirty_orders: set[bytes] = set()
        self.dirty_makers: set[str] = set()
        self.dirty_funds: set[Account] = set()
        self.unsure: set[Account] = set()
        """Accounts whose funds were read at "latest", not at a known block: re-read (not
        moved by amounts) when a block touches them."""
        self.broke: OrderedDict[Account, None] = OrderedDict()
        """Accounts learned from reads with nothing to pay (a fresh key's refused order),
        oldest first: past ``max_broke`` the oldest still broke is forgotten (its next order
        is read again), so strangers' keys cannot grow the mirror without bound (attack29); not
        saved with the mirror unless funded since (review31: a restart loaded them all)."""
        self.max_broke = MAX_BROKE
        self.later: dict[Account, tuple[int, int, int]] = {}
        """Funds read while the mirror replays the chain (``learn_later``): (balance,
        allowance, the chain's head block when read), learned once the replay reaches that
        block, dropped if a block above it touches the account first; at most
        ``MAX_LATER`` (more are not kept: read again)."""
        self.undone_reads: deque[int] = deque()
        self.reread_next: set[Account] = set()
        """(``sdex.mirror.learned``: reads a reorg's undone branch may have served; funds98)"""
        self.doubt = ChainDoubt()
        """Whether the chain is still the one followed (``sdex.mirror.doubt``): an answer
        that said another, not proven, holds matching until it is proven either way."""
        self.announced = HeadSignal(lambda: None if self.head is None else self.head.number)
        """Heads the chain announced (the watcher's newHeads): the settler's receipt waits."""
        self.own = OwnReceipts()
        """The node's own settlement receipts the watcher has not applied yet, by tx hash:
        all of blocks above the head (``note_receipt`` keeps no other, ``apply`` drops those
        the head passes); with what they filled and who paid (``ahead``)."""
        self._orphans: set[bytes] = set()
        """Orders of receipts noted for a block the mirror has another of (``apply`` reports
        them as ``Effects.orphaned``)."""
        self.own_applied = 0
        """Own receipts applied from the settler's decoding (not decoded again)."""
        self.expected: dict[str, float] = {}
        """Own settlements sent whose receipts are not in yet (tx hash -> when sent): the
        watcher waits a moment for a receipt rather than decode its logs itself."""
        self.found: set[str] = set()
        self.confirms: dict[str, tuple[Receipt, asyncio.Future[bool]]] = {}
        self.seen_logs: dict[str, dict[str, list[Log]]] = {}
        """Receipts the settler confirms, and what the watcher read of them (``noted``)."""
        self.on_receipt: Callable[[bool], None] | None = None
        """Called when a receipt is noted or held (the watcher wakes up: ``OwnNotes``)."""
        self.sigs = SigCache()
        """EIP-1271 verdicts; cleared by a reorg or a reset (``sdex.mirror.sigcache``)."""
        self.undone_to: int | None = None
        """The lowest fork point undone to (-1: a reset) since the node's book took a poll's
        funds (``sdex.node.settle._watcher_was_first``: not its blocks above; funds98)."""

    # -- following the chain ---------------------------------------------------------------

    def preload(self, logs: Iterable[Log], own: Iterable[OwnReceipt] = ()) -> None:
        """Bring into memory every order hash these logs fill or cancel (the store reads
        ``apply`` would do, done first: if one fails, the mirror has not changed; ``apply``
        then does no I/O, so it never stops half-way through a block)."""
        load, fill, cancel = self.marks.load, self._fill_topic, self._cancel_topic
        for lg in logs:
            t = lg.topics
            if lg.address == self.address and len(t) >= 2 and (t[0] == fill or t[0] == cancel):
                load(t[1])
        for r in own:
            for f in r.fills:
                load(f.order_hash)

    def apply(
        self,
        header: Header | None,
        logs: Sequence[Log],
        top: Header,
        own: Sequence[OwnReceipt] = (),
    ) -> Effects:
        """Apply one block's logs (``header`` given: kept for undo) or a run of final blocks
        (``header`` None: deeper than any reorg we handle, kept without undo). ``top``
        becomes the head. ``own``: the node's settlements in these blocks, already decoded
        (``note_receipt``); their logs are not in ``logs``. Call ``preload`` first (else a
        store read here may fail half-way)."""
        undo: list[tuple[str, object, object]] = []
        eff = Effects()
        eff.fills = self.exchange.fills(logs)
        if self.reread_next:  # (learned from a read a reorg may have made stale: funds98)
            eff.funds |= self.reread_next
            self.reread_next.clear()
        if self.own and eff.fills:
            # An own receipt that said another block (read before a reorg moved it, or from
            # a backend on another branch) whose fill is in these logs: counted here, not
            # again ahead (review76: ``filled_ahead`` added it to the mirror's filled).
            for tx in {f.tx_hash.lower() for f in eff.fills}:
                self.own.pop(tx, None)
        if own:
            for r in own:
                eff.fills.extend(r.fills)
                self.own.pop(r.tx_hash, None)
                self.own_applied += 1
            eff.fills.sort(key=lambda f: (f.block_number, f.log_index))
        marks = self.marks
        ours = self.expected.keys() | self.confirms.keys() if self.expected or self.confirms else ()
        moves: list[tuple[str, str, str, int]] = []  # (own settlements' read: settle98)
        for f in eff.fills:
            old = marks.take(f.order_hash)[0]
            undo.append(("filled", f.order_hash, old))
            marks.filled[f.order_hash] = old + f.maker_filled
            self.bitmaps.seen(f.order_hash, f.maker)
            self.dirty_orders.add(f.order_hash)
        for lg in logs:
            if not lg.topics:
                continue
            t0 = lg.topics[0]
            if lg.address == self.address:
                if t0 == self._cancel_topic and len(lg.topics) >= 2:
                    h = lg.topics[1]
                    undo.append(("cancelled", h, marks.take(h)[1]))
                    marks.cancelled.add(h)
                    self.dirty_orders.add(h)
                    self.bitmaps.seen(
                        h, "0x" + lg.topics[2][-20:].hex() if len(lg.topics) > 2 else ""
                    )
                    eff.cancelled.add(h)
                elif t0 == self._upto_topic and len(lg.topics) >= 2 and len(lg.data) >= 32:
                    maker = "0x" + lg.topics[1][-20:].hex()
                    undo.append(("salt", maker, self.min_salt.get(maker, 0)))
                    self.min_salt[maker] = int.from_bytes(lg.data[:32], "big")
                    self.dirty_makers.add(maker)
                    eff.makers.add(maker)
            elif lg.address in self.tokens:
                if t0 == APPROVAL and len(lg.topics) >= 3:
                    if "0x" + lg.topics[2][-20:].hex() == self.address:
                        eff.funds.add(("0x" + lg.topics[1][-20:].hex(), lg.address))
                    continue
                if ours and (move := own_transfer(lg, ours)) is not None:
                    moves.append(move)  # (moved by its amount, as a receipt's: no re-read)
                    continue
                # a Transfer, or another log naming accounts (review38: WETH9's Deposit and
                # Withdrawal move a balance with no Transfer): each address topic read again
                for t in lg.topics[1:]:
                    if t[:12] == ZERO_WORD_HEAD:
                        eff.funds.add(("0x" + t[-20:].hex(), lg.address))
                if len(lg.topics) < 3:  # (blame39: an old token's unindexed Transfer)
                    eff.funds |= named_in_data(lg.data, lg.address)
        for r in own:
            moves.extend(r.transfers)
            eff.funds |= r.approvals
        for token, frm, to, value in moves:
            self._move((frm, token), -value, eff)
            self._move((to, token), value, eff)
        if header is not None:
            self.blocks.append(Block(header, eff, undo))
            for kind, key, _ in undo:
                if kind != "salt":
                    assert isinstance(key, bytes)
                    marks.hold(key)
            while len(self.blocks) > self.depth:
                gone = self.blocks.popleft()
                self._release(gone)
                self.checkpoints.add(gone.header.number, gone.header.hash)
        else:
            marks.settle(eff.orders)
            self.checkpoints.add(top.number, top.hash)
        if self.later:
            self._learn_passed(-1 if self.head is None else self.head.number, top.number, eff)
        self.head = top
        if self.expected or self.confirms:  # (own settlements' logs read: settle95)
            self.watched(logs, top.number)
        # receipts not applied by now, and stubs of another block: not on this chain
        eff.orphaned |= self.own.passed(top.number, self.hash_at)
        eff.orphaned |= self._orphans | self.own.due(top.number)
        self._orphans.clear()
        return eff

    def _release(self, block: Block) -> None:
        """A block left the window (or was undone): its orders may leave memory once saved."""
        for kind, key, _ in block.undo:
            if kind != "salt":
                assert isinstance(key, bytes)
                self.marks.release(key)

    def filled_of(self, h: bytes) -> int:
        """The maker amount the chain filled of an order (0 if it never saw the hash)."""
        return self.marks.get(h)[0]

    def is_cancelled(self, h: bytes) -> bool:
        """Whether the chain cancelled the order by its hash (``cancelOrder``)."""
        return self.marks.get(h)[1]

    @property
    def filled(self) -> dict[bytes, int]:
        """The filled amounts held in memory (``filled_of`` reads every one)."""
        return self.marks.filled

    @property
    def cancelled(self) -> set[bytes]:
        """The cancel flags held in memory (``is_cancelled`` reads every one)."""
        return self.marks.cancelled

    @property
    def doubts_said(self) -> tuple[int, float]:
        """(For the settler, which may not reach the doubt itself: kept77) The answers of
        another chain so far (``ChainDoubt.said_count``: doubts said and ``wrong-chain``
        polls), and when the last doubt or ``wrong-chain`` hold ended (``ChainDoubt.ended``)."""
        return self.doubt.said_count, self.doubt.ended

    @property
    def doubt_mark(self) -> int:
        """(For intake, which may not reach the doubt itself: kept77) -1 while the chain's
        identity is in doubt (``ChainDoubt.held``), else the answers of another chain so far:
        a read whose mark was the same, and not -1, as it began and as it ended saw no doubt
        (review101: intake learns nothing from another read; "latest" maybe another chain's)."""
        return -1 if self.doubt.held else self.doubt.said_count

    def _move(self, account: Account, delta: int, eff: Effects) -> None:
        """A settlement of ours moved ``delta`` of an account's token: the Exchange's
        ``transferFrom``, so a payer's allowance drops too (not an unlimited one)."""
        if account[0] == ZERO_ADDRESS:
            return
        eff.moved.add(account)
        f = self.funds.get(account)
        if f is None:
            return
        balance, allowance = f[0] + delta, f[1]
        if delta < 0 and allowance != UINT256_MAX:
            allowance += delta
        if account in self.unsure or balance < 0 or allowance < 0:
            eff.funds.add(account)  # not known exactly before the block: read it at a block
            return
        self.set_funds(account, balance, allowance)

    def undo_to(self, number: int) -> Effects:
        """Undo every kept block above ``number`` (the fork point); what they had changed."""
        eff = Effects()
        self.undone_to = number if self.undone_to is None else min(self.undone_to, number)
        self.sigs.clear()  # a verdict read on the undone branch may not hold on the new one
        self.later.clear()  # (nor a read)
        at = next((b.header for b in reversed(self.blocks) if b.header.number <= number), None)
        fee = at.base_fee if at is not None and at.number == number else None  # (settle89)
        self.announced.rewound(number, fork_fee=fee)  # (nor a base fee past the fork: fee87)
        self.checkpoints.drop_above(number)
        while self.blocks and self.blocks[-1].header.number > number:
            b = self.blocks.pop()
            for kind, key, old in reversed(b.undo):
                if kind == "filled":
                    assert isinstance(key, bytes) and isinstance(old, int)
                    self.marks.filled[key] = old
                    self.dirty_orders.add(key)
                elif kind == "cancelled":
                    assert isinstance(key, bytes)
                    if not old:
                        self.marks.cancelled.discard(key)
                    self.dirty_orders.add(key)
                else:
                    assert isinstance(key, str) and isinstance(old, int)
                    self.min_salt[key] = old
                    self.dirty_makers.add(key)
            self._release(b)
            eff.merge(b.effects)
        # (the funds they touched stay the undone branch's till re-read: a block of the new
        # branch re-reads them, not moves them; review98a: an own settlement mined again there)
        self.unsure |= (eff.funds | eff.moved) & self.funds.keys()
        if self.head is not None and self.head.number > number:
            self.reads_undone(number, self.head.number)
        self.head = self.blocks[-1].header if self.blocks else None
        return eff

    def clear(self) -> None:
        """Forget everything (a chain reset) but the sends whose receipts are to come."""
        self.announced.rewound(reset=True)
        self.undone_to = -1
        self.doubt.reset_made()  # (proven: the doubt ends once the node applied it)
        top = -1 if self.head is None else self.head.number  # (a read begun up to it: the
        self.head = None  # old chain's, read again; review100b: learned as the new chain's)
        self.marks.clear()
        self.min_salt.clear()
        self.funds.clear()
        self.blocks.clear()
        self.checkpoints.clear()
        self.bitmaps.restart()
        self.dirty_orders.clear()
        self.dirty_makers.clear()
        self.dirty_funds.clear()
        self.unsure.clear()
        self.broke.clear()
        self.later.clear()
        self.undone_reads.clear()
        self.reread_next.clear()
        self.reads_undone(-1, top)
        self.own.clear()
        self._orphans.clear()
        # (``expected`` kept: sends whose receipts are still to come, maybe of the new chain;
        # their fills, written before the receipt is noted, are not taken for the old chain's)
        self.sigs.clear()

    # -- funds -----------------------------------------------------------------------------

    def set_funds(self, account: Account, balance: int, allowance: int, exact: bool = True) -> None:
        """Funds read at the head's block (``exact``), or at "latest" (not: re-read when a
        settlement of ours moves them)."""
        if exact:
            self.unsure.discard(account)
        else:
            self.unsure.add(account)
        if self.funds.get(account) != (balance, allowance):
            self.funds[account] = (balance, allowance)
            self.dirty_funds.add(account)

    # -- reading ---------------------------------------------------------------------------

    def spendable(self, account: Account) -> int | None:
        f = self.funds.get(account)
        return None if f is None else min(f)

    def state(self, signed: SignedOrder, signature_valid: bool = True) -> OrderState | None:
        """The order's ``getOrderStates`` row as the mirror sees it; None when the maker's
        funds are not known yet (a first-seen account: one chain read), or its fill state
        (a saved row that was unreadable: ``OrderMarks.unknown``; a bitmap order's whose nonce
        may have moved: ``sdex.mirror.bitmaps``)."""
        o, h = signed.order, signed.hash
        f, head = self._funds_of(h, o.maker, o.maker_token, bitmap_nonce(o.salt)), self.head
        if f is None or head is None:  # (no head: ``_funds_of``'s None too)
            return None
        filled, cancelled = self.marks.get(h)
        if h in self.marks.unknown:  # (its saved row was unreadable: the chain's word)
            return None
        if validity_errors(o):
            status = OrderStatus.INVALID
        elif cancelled or o.salt < self.min_salt.get(o.maker, 0):
            status = OrderStatus.CANCELLED
        elif filled == o.maker_amount:
            status = OrderStatus.FILLED
        elif head.timestamp >= o.expiry:
            status = OrderStatus.EXPIRED
        else:
            status = OrderStatus.FILLABLE
        return OrderState(h, status, filled, signature_valid, f[0], f[1])

    def knows(self, order_hash: bytes, look: Look) -> bool:
        """Whether ``state`` of the order ``look_of`` described is not None, without the
        order (recheck84: the orders due a recheck that wait for the chain's word are looked
        at with no record loaded back from the store)."""
        if self._funds_of(order_hash, *look) is None:
            return False
        self.marks.get(order_hash)  # (as ``state``: its saved row, read, may be unreadable)
        return order_hash not in self.marks.unknown

    def _funds_of(
        self, order_hash: bytes, maker: str, maker_token: str, nonce: int
    ) -> tuple[int, int] | None:
        """The maker's funds, None if not known yet, without a head, or for a bitmap order
        the mirror may not judge (``nonce``: a bitmap order's, -1 for the others)."""
        # a bitmap order shares its state with its maker's orders of its nonce: one of them
        # filled may have moved it, unseen (attack29). Its salt known from here on (first)
        if nonce >= 0 and not self.bitmaps.judgeable(order_hash, maker, nonce):
            return None
        f = self.funds.get((maker, maker_token))
        return None if self.head is None else f

    def take_dirty(
        self,
    ) -> tuple[dict[bytes, tuple[int, bool]], dict[str, int], dict[Account, tuple[int, int]]]:
        """What changed since the last call, for the store."""
        unknown = self.marks.unknown  # (not saved: the sum of junk, its row is left alone)
        orders = {h: self.marks.get(h) for h in self.dirty_orders if h not in unknown}
        makers = {m: self.min_salt.get(m, 0) for m in self.dirty_makers}
        funds = {a: self.funds[a] for a in self.dirty_funds if a in self.funds}
        self.dirty_orders.clear()
        self.dirty_makers.clear()
        self.dirty_funds.clear()
        return orders, makers, funds
