"""chaos60: an order whose fill a reorg undid while another match of it was in flight takes
the chain's (lower) filled amount once that match is decided. Before, the watcher's verdict
on it was put off while the match was in flight (``_apply_chain_state``) and looked at again
only if the chain's filled amount was *higher* (``_recheck_settled``): the book kept the undone
fill for good, so it offered too little of the order, and once its last match settled closed
it ``filled`` while the chain had it ``FILLABLE`` (chaos52/chaos55 seeds 2 and 5:
``state_mismatch``, a GTC ``filled`` on the node, the chain ``FILLABLE``)."""

from __future__ import annotations

from pathlib import Path

from sdex.matching import TimeInForce
from sdex.matching.match import Match
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement.outcome import Outcome, SettledMatch
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.reorgutil import reorged, soft_cancel
from tests.sandwich import node_on
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18


async def undone_in_flight(
    c: Chain, node: Node, api: Api, sell: SignedOrder, cancel: bool = False
) -> Match:
    """Half of ``sell`` (Alice's 0.1 WETH, resting at ``node``) filled on chain by Bob after
    a snapshot; the other half matched by the engine (in flight: the test's match, not the
    settler's); ``cancel``: then soft-cancelled by Alice; then a reorg undoes the half
    filled on chain. The match is returned."""
    assert (await api.post_taken(sell))[0] == 201
    await synced(node, c)
    snap = str(c.rpc.call("evm_snapshot"))
    c.exchange.fill_order(c.sender(BOB), sell, 125 * E6)  # half, on chain
    await synced(node, c)
    assert (await meta(api, sell))["filledMakerAmount"] == str(E18 // 20)
    buy = c.sign(c.order(BOB, c.usdc, 125 * E6, c.weth, E18 // 20))
    node._set_funds(buy.order.maker, buy.order.maker_token, 10**12)
    (m,) = node.engine.submit(buy, node.chain_time(), TimeInForce.IOC).matches
    e = node.book.find(sell.hash)
    assert e is not None and (e.filled, e.pending) == (E18 // 20, E18 // 20)
    if cancel:
        await soft_cancel(c, api, sell, ALICE)
    await reorged(c, node, snap)
    assert c.exchange.order_info(sell.order).filled == 0
    return m


def approved_sell(c: Chain, **kw: object) -> SignedOrder:
    """Alice's 0.1 WETH for 250 USDC (``kw``: other fields, e.g. its salt); Alice and Bob
    approve the exchange."""
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    c.usdc.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    return c.sign(c.order(ALICE, c.weth, E18 // 10, c.usdc, 250 * E6, **kw))


async def test_a_fill_undone_while_a_match_is_in_flight_leaves_the_book(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = approved_sell(c)
    async with node_on(c, tmp_path) as (node, api):
        m = await undone_in_flight(c, node, api, sell)
        # the match in flight fails (never sent): nothing of the sell is in flight now
        await node._on_settled(
            [SettledMatch(m, Outcome.FAILED, None, None, "not sent", unsent=True)]
        )
        e = node.book.find(sell.hash)
        assert e is not None and e.pending == 0
        # before: filled 0.05 for good (the book offered half of what the chain has)
        assert (e.filled, e.fillable) == (0, E18 // 10)
        got = await meta(api, sell)
        assert (got["status"], got["filledMakerAmount"]) == ("open", "0")


async def test_an_order_its_last_match_closes_over_an_undone_fill_opens_again(
    chain: Chain, tmp_path: Path
) -> None:
    """The same undone fill, and the match in flight settles: the book's stale fill and the
    match's made the whole order, so the confirm closed it ``filled`` before anything
    looked at it again; the chain has half of it filled, ``FILLABLE`` (chaos52 seed 2,
    node 1: ``filled`` in full, the chain 294.8 of 300 filled; the audit's
    ``books_disagree``)."""
    c = chain
    sell = approved_sell(c)
    async with node_on(c, tmp_path) as (node, api):
        m = await undone_in_flight(c, node, api, sell)
        buy = m.incoming
        node.settler.submit((m,))  # the match in flight goes to the chain now

        async def settled() -> bool:
            return c.exchange.order_info(buy.order).filled == 125 * E6

        await wait_for(settled, timeout=30)
        assert c.exchange.order_info(sell.order).filled == E18 // 20
        await synced(node, c)

        async def as_the_chain() -> bool:
            got = await meta(api, sell)
            return bool(got["filledMakerAmount"] == str(E18 // 20))

        await wait_for(as_the_chain, timeout=10)  # before: "filled", all of it, for good
        assert (await meta(api, sell))["status"] in ("open", "partially_filled")
        e = node.book.find(sell.hash)
        assert e is not None and (e.filled, e.pending, e.fillable) == (E18 // 20, 0, E18 // 20)


async def test_an_order_closed_in_flight_takes_the_undone_fill_out_once_settled(
    chain: Chain, tmp_path: Path
) -> None:
    """The same undone fill, the order closed while its match is in flight (here its maker's
    soft cancel; chaos52 seed 2: a FOK's unmatched rest dropped), then the match settles:
    the reorg's verdict on a closed order in flight was left to the settler's outcome
    (``_rejudge``), whose confirm counted the stale fill in: the node said more filled than
    the chain (the audit's ``node_filled_above_chain``, "removed")."""
    c = chain
    sell = approved_sell(c)
    async with node_on(c, tmp_path) as (node, api):
        m = await undone_in_flight(c, node, api, sell, cancel=True)
        # (in flight: signed before the cancel; submitted only now, it would be dropped
        # unsigned, cancel64, so it is submitted as if signed then)
        node.settler.withdrawn = None
        node.settler.submit((m,))

        async def settled() -> bool:
            return c.exchange.order_info(m.incoming.order).filled == 125 * E6

        await wait_for(settled, timeout=30)
        assert c.exchange.order_info(sell.order).filled == E18 // 20
        await synced(node, c)

        async def as_the_chain() -> bool:
            return bool((await meta(api, sell))["filledMakerAmount"] == str(E18 // 20))

        await wait_for(as_the_chain, timeout=10)  # before: all of it, for good
        assert (await meta(api, sell))["status"] == "cancelled"
