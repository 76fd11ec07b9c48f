"""Whether a closed order out of the book is judged again by the chain's word, and on whose
word it may go back in the book. Shared by a reorg's or a reset's rejudge
(``NodeRejudge._judge_from_mirror``) and the recheck (``NodeVerdicts._recheck_part``): an
order out of the book whose signature is not its maker's ECDSA one (EIP-1271 bytes, or a
row read back from the store: a file, hostile) is judged by the chain's read
(``getOrderStates`` checks its signature), never by the mirror's, which takes it valid."""

from __future__ import annotations

from collections.abc import Container

from sdex.chain import OrderState
from sdex.ingest import Accepted, Rejection, judge, removal_of
from sdex.ingest.verify import ecdsa_ok
from sdex.model import CHAIN_CLOSED, OrderStatus, closed_status
from sdex.order import SignedOrder


def chain_word_needed(so: SignedOrder, book: Container[bytes]) -> bool:
    """Whether ``so``, which may return to the book, is judged by the chain's read: out of
    the book and not ECDSA-signed by its maker (a start's reload's rule, ``_reload_orders``).
    review98c: a reorg put back an evicted order whose row's signature was edited, on the
    mirror's word; store98: a recheck did (its match would be settled, to revert)."""
    return so.hash not in book and ecdsa_ok(so) is not True


def judged_again(status: OrderStatus, filled: int, so: SignedOrder, state: OrderState) -> bool:
    """Whether a closed order out of the book (``status`` at ``filled``) is judged again by
    ``state`` (``_undone_under``): the chain's filled amount is not its own, or the chain
    no longer closes it as it was closed (``reopened``, ``reclosed``)."""
    return not status.is_open and (
        state.filled != filled or reopened(status, so, state) or reclosed(status, so, state)
    )


def reopened(status: OrderStatus, so: SignedOrder, state: OrderState) -> bool:
    """Whether the chain no longer closes an order closed by its word (filled, cancelled
    or expired on chain): a reorg undid what closed it. resume71: closed ``filled`` by a
    failed match's diagnosis while another match of it was in flight (at the book's filled
    amount, 0), then a reorg took the other fill away: the chain's 0 was the record's, and
    it stayed ``filled``, the chain ``FILLABLE``."""
    return status in CHAIN_CLOSED and removal_of(judge(so, state)) is None


def reclosed(status: OrderStatus, so: SignedOrder, state: OrderState) -> bool:
    """Whether the chain closes an order closed by its word (filled, cancelled or expired
    on chain) otherwise now: review96e, a ``filled`` one its maker cancelled on chain by its
    hash (the contract tells the cancel first), judged by a recheck while the store refused
    its row (store96), stayed ``filled`` for good, the block's own judging ``cancelled``."""
    if status not in CHAIN_CLOSED or (removal := removal_of(judge(so, state))) is None:
        return False
    return closed_status(removal, False) not in (status, OrderStatus.REMOVED)


def message(verdict: Accepted | Rejection) -> str:
    """The words of ``judge``'s verdict, kept as a closed order's reason."""
    return verdict.code.message if isinstance(verdict, Rejection) else "fillable"
