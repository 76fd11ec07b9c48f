"""The funds the mirror learns from chain reads it did not make itself (intake's and the
node's ``getOrderStates`` at "latest"): taken unless a block applied since the read began
touched the account (``touched_since``), held while the mirror replays the chain
(``learn_later``), and the accounts with nothing to pay bounded (``broke``).

A read the chain served on a branch a reorg then undid is no figure of the new branch, and
by its head number alone it cannot be told from one begun on the new branch: the heads
recent reorgs undid from are kept (``undone_reads``), and an account learned from a read
begun at or below one is read again with the next block the mirror applies, or by the
watcher's next poll at its head (``reread_next``; review100b: on an idle chain no block came,
and the old branch's figure stood); so is one a block applied since its start touched, not
learned (intake gave its figure to the book). funds98: one served on the old branch,
answered after the new branch was applied, was learned as exact as any: Carol's 1000 WETH
(500 on the chain) stayed the mirror's, and the book's, till a block touched her."""

from __future__ import annotations

from collections import OrderedDict, deque

from sdex.chain import OrderState
from sdex.mirror.bitmaps import BitmapWatch, bitmap_nonce
from sdex.mirror.blocks import Block, Effects
from sdex.mirror.own import Account
from sdex.order import SignedOrder

MAX_BROKE = 10_000
"""Accounts with nothing to pay the mirror keeps from reads (``Mirror.broke``)."""
MAX_LATER = 10_000
"""Reads made during the replay the mirror holds until it passes their block (``later``)."""
MAX_UNDONE_READS = 16
"""Reorgs kept for the reads that may have been served on their undone branch (the oldest
go first; those whose undone head left the kept blocks go)."""


class LearnedFunds:
    """``Mirror``'s funds from reads (its state is ``Mirror``'s, set in its ``__init__``)."""

    funds: dict[Account, tuple[int, int]]
    blocks: deque[Block]
    bitmaps: BitmapWatch
    unsure: set[Account]
    dirty_funds: set[Account]
    broke: OrderedDict[Account, None]
    max_broke: int
    later: dict[Account, tuple[int, int, int]]
    undone_reads: deque[int]
    """The heads recent reorgs undid blocks from (``reads_undone``)."""
    reread_next: set[Account]
    """Accounts learned from a read that may have been served on a branch a reorg undid:
    read again with the next block the mirror applies (its ``Effects.funds``), or by the
    watcher's next poll at the head (``Watcher._refresh_funds``); and those a block applied
    since a read began touched (not learned: the book took the read's figure)."""

    def set_funds(self, account: Account, balance: int, allowance: int, exact: bool = True) -> None:
        raise NotImplementedError

    def reads_undone(self, fork: int, top: int) -> None:
        """A reorg undid blocks ``fork``+1..``top``: a read begun at or below ``top`` may be
        of them (``learn``)."""
        kept = self.undone_reads
        kept.append(top)
        low = self.blocks[0].header.number if self.blocks else fork
        while kept and (len(kept) > MAX_UNDONE_READS or kept[0] < low):
            kept.popleft()

    def touched_since(self, account: Account, number: int) -> bool:
        """Did a kept block above ``number`` touch ``account``'s funds? (a read made at
        ``number`` may be older than what the mirror has applied since)"""
        for b in reversed(self.blocks):
            if b.header.number <= number:
                return False
            if account in b.effects.funds or account in b.effects.moved:
                return True
        return False

    def learn(self, signed: SignedOrder, state: OrderState, read_at: int) -> None:
        """Take an account's funds from a chain read (``getOrderStates``) made when the
        mirror's head was ``read_at``, unless a block applied since touched them; read again
        with the next block if a reorg since may have undone the branch it was served on,
        and read again (not learned) if a block since touched them: intake's order gave the
        read's figure to the book (review100b: nothing read her again, 1000 WETH kept)."""
        o = signed.order
        if (nonce := bitmap_nonce(o.salt)) >= 0:  # (a later fill of it: its nonce alone moved)
            self.bitmaps.know(signed.hash, o.maker, nonce)
        account = (o.maker, o.maker_token)
        if account in self.funds:
            return
        if self.touched_since(account, read_at):
            # (the read is older than a block applied since: its figure, which intake gave
            # the book, read again at the head; review100b: nothing read it again)
            self.reread_next.add(account)
            return
        self._learned(account, state.maker_balance, state.maker_allowance)
        if any(read_at <= top for top in self.undone_reads):
            self.reread_next.add(account)

    def _learned(self, account: Account, balance: int, allowance: int) -> None:
        self.set_funds(account, balance, allowance, exact=False)
        if min(balance, allowance) <= 0:
            self.dirty_funds.discard(account)  # (memory only: ``broke``)
            self._broke(account)

    def learn_later(self, signed: SignedOrder, state: OrderState, read_at: int) -> None:
        """``learn`` of a read made while the mirror replays the chain, at the chain's head
        ``read_at`` or later: held until the replay reaches ``read_at`` (``apply``)."""
        o = signed.order
        account = (o.maker, o.maker_token)
        if account in self.funds or (len(self.later) >= MAX_LATER and account not in self.later):
            return
        self.later[account] = (state.maker_balance, state.maker_allowance, read_at)

    def _learn_passed(self, below: int, top: int, eff: Effects) -> None:
        """Blocks ``below``+1 .. ``top`` applied (``eff``): a held read of an account they
        touched is dropped unless all of them are at or below its block (a later log wins;
        a run across it: unknown, so dropped); the held reads the head reaches are learned."""
        later = self.later
        for account in eff.funds | eff.moved:
            held = later.get(account)
            if held is not None and top > held[2]:
                del later[account]
        for account, (balance, allowance, at) in list(later.items()):
            if at <= top:
                del later[account]
                if account not in self.funds:
                    self._learned(account, balance, allowance)

    def _broke(self, account: Account) -> None:
        """Note an account learned with nothing to pay; forget the oldest past the bound."""
        broke = self.broke
        broke[account] = None
        while len(broke) > self.max_broke:
            old, _ = broke.popitem(last=False)
            f = self.funds.get(old)
            if f is not None and min(f) <= 0:  # (funded since: kept, as any account)
                del self.funds[old]
                self.unsure.discard(old)
                self.dirty_funds.discard(old)
