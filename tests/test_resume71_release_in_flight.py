"""resume71: a failed match's diagnosis that finds an order filled keeps what the order's
other matches in flight hold.

chaos52's seed 14 (node 0, restarted into a 13-block revert and a reset): "releasing a
failed match: cannot release 199701991: order has 101899400 pending". Each settlement's
failed matches are diagnosed in turn (``NodeSettlement._diagnose``, under the results'
lock); the first found the order ``FILLED`` on chain and gave the book the chain's filled
amount (``set_filled``) while a match of it in another settlement was still in flight: the
book let that match's amount go (``OrderBook._set_state``: in-flight fills beyond the order
"cannot settle") and, the order then filled, forgot it. That match, released after its own
diagnosis, found no order ("is not in the book"), or, the order back in the book after a
reorg or a reset (``_rejudge``: a new record of it), another match's amount: more than it
held ("cannot release"), or less, taken from that match (the order offered again while
in flight).

Real Hardhat (mining paused: both settlements in one block, after a fill of the whole order
made elsewhere), a real node, its chain reads through a proxy that holds the second
diagnosis's read: between the two, the book must still hold the second match's amount."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.reorgutil import reorg
from tests.rpcfault import Answer
from tests.sandwich import node_on
from tests.test_chaos62_stale_in_flight import fill_all_but, pending_txs
from tests.test_mirror import meta
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


class SecondDiagnosis:
    """A proxy hook: once ``armed``, the second ``getOrderStates`` call that reads ``sell``
    with one of ``others`` (a failed match's diagnosis reads both its orders) is held until
    ``release`` is set (at most 60 s); ``held`` is set meanwhile."""

    def __init__(self, c: Chain, sell: SignedOrder, others: list[SignedOrder]) -> None:
        self.selector = "0x" + c.exchange.encode_order_states([sell])[:4].hex()
        self.sell = sell.signature.hex()
        self.others = [o.signature.hex() for o in others]
        self.armed, self.seen = False, 0
        self.held, self.release = threading.Event(), threading.Event()

    def __call__(self, req: object) -> Answer | None:
        for call in req if isinstance(req, list) else [req]:
            if self._reads_a_pair(call):
                self.seen += 1
                if self.seen == 2:
                    self.held.set()
                    self.release.wait(60)
        return None

    def _reads_a_pair(self, call: object) -> bool:
        if not (self.armed and isinstance(call, dict) and call.get("method") == "eth_call"):
            return False
        params = call.get("params") or [{}]
        data = str(params[0].get("data", "")) if isinstance(params[0], dict) else ""
        return (
            data.startswith(self.selector)
            and self.sell in data
            and any(o in data for o in self.others)
        )


async def test_an_order_found_filled_keeps_what_its_match_in_flight_holds(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    sell, first, second, hook = _orders(c)
    caplog.set_level(logging.WARNING, logger="sdex.node")
    async with node_on(c, tmp_path, hook) as (node, api):
        try:
            await _two_in_flight(c, api, sell, first, second, hook)
            await wait_for(lambda: hook.held.is_set(), timeout=30)
            # the first diagnosis is done: the sell closed (the chain's filled amount taken
            # once nothing of it is in flight: ``_closed_by_chain``), and the other match,
            # in flight, still holds its amount (before: let go, the order forgotten)
            assert (await meta(api, sell))["status"] == "filled"
            st = node.book.get(sell.hash)
            assert st is not None and st.pending == E18 // 20, st
        finally:
            hook.release.set()
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)

        async def released() -> bool:
            pending = [(await meta(api, b))["pendingMakerAmount"] for b in (first, second)]
            return node.book.get(sell.hash) is None and pending == ["0", "0"]

        await wait_for(released, timeout=30)
        assert (await meta(api, sell))["filledMakerAmount"] == str(E18 // 10)
    said = [r.getMessage() for r in caplog.records if "releasing a failed match" in r.message]
    assert not said, said  # (before: "... is not in the book")


async def test_the_order_back_after_a_reorg_meanwhile_takes_no_stale_release(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """chaos52's case: while the second diagnosis's read is held, a reorg takes the chain
    back before DAVE's fill and both settlements; the sell is fillable again and the two
    bids fill it. Before: the sell, forgotten, was back in the book as a new record (the
    second match's release then found it, or not: "is not in the book" here, "cannot
    release" in chaos52). With the sell kept while in flight, it must not stay closed: its
    record said ``filled`` at the book's 0 and the chain's 0 after the reorg was no news to
    the recheck (``_reopened``)."""
    c = chain
    sell, first, second, hook = _orders(c)
    caplog.set_level(logging.WARNING, logger="sdex.node")
    async with node_on(c, tmp_path, hook) as (node, api):
        snap = str(c.rpc.call("evm_snapshot"))
        try:
            await _two_in_flight(c, api, sell, first, second, hook)
            await wait_for(lambda: hook.held.is_set(), timeout=30)
            reorg(c, snap)  # (DAVE's fill and both settlements undone)
            assert c.exchange.order_info(sell.order).filled == 0
            await wait_for(lambda: node.watcher.reorgs >= 1, timeout=30)
        finally:
            hook.release.set()

        async def all_filled() -> bool:
            ms = [await meta(api, o) for o in (sell, first, second)]
            return [m["status"] for m in ms] == ["filled"] * 3

        await wait_for(all_filled, timeout=30)
        assert c.exchange.order_info(sell.order).filled == E18 // 10
        assert (await meta(api, sell))["filledMakerAmount"] == str(E18 // 10)
    said = [r.getMessage() for r in caplog.records if "releasing a failed match" in r.message]
    assert not said, said  # (before: "... is not in the book")


def _orders(c: Chain) -> tuple[SignedOrder, SignedOrder, SignedOrder, SecondDiagnosis]:
    """ALICE's ask of 0.1 WETH, BOB's and CAROL's bids for half of it each, and the hook
    that holds the second diagnosis of a pair of them."""
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    first = c.sign(bid(c, BOB, E18 // 20, 125 * E6), BOB)
    second = c.sign(bid(c, CAROL, E18 // 20, 125 * E6), CAROL)
    return sell, first, second, SecondDiagnosis(c, sell, [first, second])


async def _two_in_flight(
    c: Chain,
    api: Api,
    sell: SignedOrder,
    first: SignedOrder,
    second: SignedOrder,
    hook: SecondDiagnosis,
) -> None:
    """``first`` rests; with mining paused ``sell`` matches it, then ``second`` matches the
    rest of ``sell``: two settlements in flight. DAVE fills all of ``sell`` first (a high
    tip); one block: both settlements revert, each diagnosed in turn."""
    assert (await api.post_order(first))[0] == 201
    c.rpc.call("evm_setAutomine", False)
    try:
        assert (await api.post_order(sell))[0] == 201
        await wait_for(lambda: pending_txs(c) == 1, timeout=20)
        assert (await api.post_order(second))[0] == 201
        await wait_for(lambda: pending_txs(c) == 2, timeout=20)
        fill_all_but(c, sell, 0)
        assert pending_txs(c) == 3
        hook.armed = True
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setAutomine", True)
    assert c.exchange.order_info(sell.order).filled == E18 // 10
