"""A settlement a previous run left pooled, read back from its stored row to be adopted at
the start (``sdex.settlement.adopt``): its transaction's fees and body (a replacement signs
them again), its matches from its calldata (``sdex.chain.calldata.decode_matches``), their
amounts as the contract computes them, held in flight in the book. The row is read as any
file is: each way it may not be this node's own settlement of these orders is refused with
``ValueError`` and holds nothing (the row is then given up as before)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.book.orderbook import OrderBook
from sdex.chain.calldata import CalldataError, decode_matches
from sdex.chain.tx import SignedTx
from sdex.fillmath import UINT256_MAX, match_amounts
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.settlement.adopt import adopted_matches, pooled_tx
from sdex.storesettle import StoredSettlement
from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import stored_pair
from tests.test_settle65_adopt_ioc import stored_pooled

OPERATOR = 19
FEES = (10**9, 10**8)
CAROL = 3


def signed_row(
    c: Chain, matches: list[tuple[SignedOrder, SignedOrder, int]], nonce: int = 7
) -> tuple[SignedTx, StoredSettlement]:
    """The operator's settlement of ``matches`` at ``nonce`` and the row a run stores for it."""
    data = c.exchange.encode_settlement(matches)
    signed = c.sender(OPERATOR).sign_at(nonce, c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(r.hash_hex, i.hash_hex) for r, i, _ in matches]
    return signed, StoredSettlement(signed.tx_hash, nonce, signed.raw, pairs, "pending")


def book_of(c: Chain, *orders: SignedOrder) -> OrderBook:
    book = OrderBook([(c.weth.address, c.usdc.address)], default_funds=None)
    for so in orders:
        book.add(so)
    return book


def held(book: OrderBook, *orders: SignedOrder) -> list[int]:
    return [book.entry(so.hash).pending for so in orders]


def test_a_pooled_batch_is_read_back_as_signed_and_its_matches_held(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    bob = c.sign(bid(c, BOB, E18, 3000 * E6))
    carol = c.sign(bid(c, CAROL, E18, 3100 * E6))
    signed, row = signed_row(c, [(resting, bob, E18), (resting, carol, E18 // 2)])
    tx = pooled_tx(row)
    assert (tx.tx_hash, tx.nonce, tx.raw, tx.fees, tx.body) == (
        signed.tx_hash, signed.nonce, signed.raw, FEES, signed.body,
    )  # fmt: skip
    book = book_of(c, resting, bob, carol)
    matches = adopted_matches(tx, row.pairs, book, c.domain)
    first = match_amounts(2 * E18, 6000 * E6, 0, 0, 3000 * E6, E18, 0, 0, E18)
    second = match_amounts(2 * E18, 6000 * E6, 0, E18, 3100 * E6, E18, 0, 0, E18 // 2)
    assert [(m.resting, m.incoming, m.amounts) for m in matches] == [
        (resting, bob, first), (resting, carol, second),
    ]  # fmt: skip
    assert held(book, resting, bob, carol) == [
        first.left_filled + second.left_filled, first.right_filled, second.right_filled,
    ]  # fmt: skip


def test_a_pooled_lone_match_is_read_back_with_its_cap(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))
    for cap in (E18 // 2, UINT256_MAX):
        data = c.exchange.encode_settlement([(resting, incoming, cap)])
        assert decode_matches(data) == [(resting.order, incoming.order, cap)]
    _, row = signed_row(c, [(resting, incoming, E18 // 2)])
    book = book_of(c, resting, incoming)
    (m,) = adopted_matches(pooled_tx(row), row.pairs, book, c.domain)
    assert m.amounts.left_filled == E18 // 2
    assert held(book, resting, incoming) == [E18 // 2, m.amounts.right_filled]


def _swapped(row: StoredSettlement) -> StoredSettlement:
    return replace(row, pairs=[(b, a) for a, b in row.pairs])


def _other_nonce(row: StoredSettlement) -> StoredSettlement:
    return replace(row, nonce=row.nonce + 1)


def _not_type_two(row: StoredSettlement) -> StoredSettlement:
    return replace(row, raw_tx="0x01" + row.raw_tx[4:])


def _oversized(row: StoredSettlement) -> StoredSettlement:
    return replace(row, raw_tx=row.raw_tx + "00" * (9 * 2**20))


def _one_pair_more(row: StoredSettlement) -> StoredSettlement:
    return replace(row, pairs=[*row.pairs, row.pairs[0]])


@pytest.mark.parametrize(
    "mutate", [_swapped, _other_nonce, _not_type_two, _oversized, _one_pair_more]
)
def test_a_row_that_is_not_its_orders_settlement_holds_nothing(
    chain: Chain, mutate: Callable[[StoredSettlement], StoredSettlement]
) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    _, row = signed_row(c, [(resting, incoming, E18)])
    book = book_of(c, resting, incoming)
    bad = mutate(row)
    with pytest.raises(ValueError):
        adopted_matches(pooled_tx(bad), bad.pairs, book, c.domain)
    assert held(book, resting, incoming) == [0, 0]


def test_a_match_the_book_cannot_hold_holds_nothing(chain: Chain) -> None:
    """An order not in the book, or one whose maker's funds hold less than the match takes
    (the second match of the batch): nothing held, not even the first match's."""
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    bob = c.sign(bid(c, BOB, E18, 3000 * E6))
    carol = c.sign(bid(c, CAROL, E18, 3000 * E6))
    _, row = signed_row(c, [(resting, bob, E18), (resting, carol, E18)])
    tx = pooled_tx(row)
    with pytest.raises(ValueError, match="not open in the book"):
        adopted_matches(tx, row.pairs, book_of(c, resting, bob), c.domain)
    book = book_of(c, resting, bob, carol)
    book.set_funds(resting.order.maker, c.weth.address, E18 + E18 // 2)
    with pytest.raises(ValueError, match="holds less"):
        adopted_matches(tx, row.pairs, book, c.domain)
    assert held(book, resting, bob, carol) == [0, 0, 0]
    to_other = replace(tx, body=(c.usdc.address, *tx.body[1:])) if tx.body else tx
    with pytest.raises(ValueError, match="not a transaction to the Exchange"):
        adopted_matches(to_other, row.pairs, book, c.domain)


def test_calldata_naming_an_order_the_batch_does_not_carry_is_refused(chain: Chain) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    bob = c.sign(bid(c, BOB, E18, 3000 * E6))
    carol = c.sign(bid(c, CAROL, E18, 3000 * E6))
    data = bytearray(c.exchange.encode_settlement([(resting, bob, 1), (resting, carol, 2)]))
    assert [cap for _, _, cap in decode_matches(bytes(data))] == [1, 2]
    data[-65] = 3  # (the last pair's left index, its low byte: order 3 of 3)
    with pytest.raises(CalldataError, match="names order 3 of 3"):
        decode_matches(bytes(data))


async def test_a_pooled_row_not_as_its_calldata_is_given_up_at_the_restart(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node's start over a pooled settlement whose stored pairs are not its calldata's
    (resting and incoming swapped: an edited file): nothing held for it, the row given up
    as before adoption (if it lands, the watcher applies it)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    tx = await stored_pooled(c, store, resting, incoming, swapped=True)
    try:
        async with running_node(cfg) as (node, _api):
            assert node.settler.adopted == 0 and tx.tx_hash not in node.settler.in_flight
            assert tx.tx_hash.lower() in node.settler.given_up
            # (its row given up; the pair matched again may be pending at a later nonce, the
            # pool not mined: since watch80 an idle restart holds no signing 5 s, and the
            # final fresh clone's run signed it before this look)
            pending = node.store.pending_settlements()
            assert [r.tx_hash for r in pending if r.nonce <= tx.nonce] == []
            assert [node.book.entry(so.hash).pending for so in (resting, incoming)] in (
                [0, 0],  # (matched again at the next nonce: held for that one, or not yet)
                [E18, 3000 * E6],
            )
            assert node.settler.sent <= 1
    finally:
        c.rpc.call("evm_setAutomine", True)
        c.rpc.call("evm_mine")


def test_the_settlement_layer_reads_calldata_with_the_chains_decoders() -> None:
    """settle65: the decoders moved to ``sdex.chain.calldata``: the settlement layer imports
    nothing of the audit, which uses the same ones."""
    import sdex.audit.calldata as audit
    import sdex.chain.calldata as chain

    assert audit.decode_matches is chain.decode_matches
    assert audit.CalldataError is chain.CalldataError
