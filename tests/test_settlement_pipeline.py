"""Settlement at the chain's speed, on a real chain: batches without a pre-flight, several
in flight on one nonce lane, a failing match re-judged alone, a lost transaction re-judged
(a dropped one sent again),
and the node's own receipts applied to the mirror without re-reading what they moved once
confirmed apart before the watcher reads their block (else the watcher's read is the
confirmation: settle95)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sdex.chain import Sender
from sdex.chain.arpc import AsyncRpc
from sdex.order import SignedOrder
from sdex.settlement import SettledMatch
from sdex.settlement.confirm import CONFIRM_READS
from sdex.store import StoredFill
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR


def pause_mining(c: Chain) -> None:
    c.rpc.call("evm_setAutomine", False)


def resume_mining(c: Chain) -> None:
    """Automine on, and mine what waits in the pool (bounded: one large tx a block)."""
    c.rpc.call("evm_setAutomine", True)
    for _ in range(16):
        pending = c.rpc.call("eth_getBlockByNumber", "pending", False)
        if not pending or not pending.get("transactions"):
            return
        c.rpc.call("evm_mine")
    raise AssertionError("transactions still pending after 16 blocks")


def pending_count(c: Chain) -> int:
    pending = c.rpc.call("eth_getBlockByNumber", "pending", False)
    return len(pending.get("transactions", [])) if pending else 0


def trace_calls(rpc: AsyncRpc) -> list[tuple[str, list[Any]]]:
    """From now on, the (method, params) of every call ``rpc`` makes, batched or not."""
    asked: list[tuple[str, list[Any]]] = []
    call, batch = rpc.call, rpc.batch

    async def traced_call(method: str, *params: Any) -> Any:
        asked.append((method, list(params)))
        return await call(method, *params)

    async def traced_batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        asked.extend((method, list(params)) for method, params in calls)
        return await batch(calls)

    rpc.call = traced_call  # type: ignore[method-assign]
    rpc.batch = traced_batch  # type: ignore[method-assign]
    return asked


async def post_all(api: Api, orders: list[SignedOrder]) -> None:
    for s in orders:
        code, body = await api.post_order(s)
        assert code == 201, body


async def test_pipelined_batches_one_match_fails_only_it_is_rejudged(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    # The watcher polls once and then not for an hour (no newHeads either): the node cannot
    # know that ALICE moves her WETH away, so it settles against her order.
    cfg = node_config(c, tmp_path / "n.db", poll_interval=3600.0, max_batch=4, backlog_batch=4)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        carols = [c.sign(ask(c, CAROL, E18, 3000 * E6)) for _ in range(7)]
        alice = c.sign(ask(c, ALICE, E18, 3000 * E6))
        # time priority: four of carol's (batch 1), then alice's and three more (batch 2)
        await post_all(api, [*carols[:4], alice, *carols[4:]])
        c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(c.address(ALICE)))

        pause_mining(c)
        try:
            taker = c.sign(bid(c, BOB, 8 * E18, 8 * 3000 * E6))
            code, body = await api.post_order(taker)
            assert code == 201, body
            assert len(body["matches"]) == 8
            spare = c.sign(ask(c, DAVE, E18, 3000 * E6))  # the taker's after alice fails
            await post_all(api, [spare])
            # both batches are sent, on one nonce lane, before either is mined
            await wait_for(lambda: pending_count(c) == 2)
            assert len(node.settler.in_flight) == 2
        finally:
            resume_mining(c)

        async def done() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(done)
        assert node.settler.most_in_flight >= 2
        # only alice's match failed (MatchSkipped in batch 2); the seven others confirmed
        # as they were, and the taker's freed remainder was matched again with the spare
        assert node.settler.failed == 1
        assert node.settler.settled == 8
        assert await api.status(alice) == "unfunded"
        for s in carols:
            assert await api.status(s) == "filled"
            assert c.exchange.order_info(s.order).filled == E18
        assert c.exchange.order_info(alice.order).filled == 0
        assert c.exchange.order_info(spare.order).filled == E18
        assert c.exchange.order_info(taker.order).filled == 8 * 3000 * E6
        # three transactions: two batches of four, then the lone rematch
        assert node.settler.sent == 3


def take_nonce(c: Chain, nonce: int, operator: int = OPERATOR) -> str:
    """A transfer of nothing from the operator's key to itself at ``nonce``, at fees well over
    a settlement's (it replaces one pooled there): another sender of the key takes it."""
    sender = Sender(c.rpc, c.keys[operator], c.deployment.chain_id)
    sent = sender.sign_at(nonce, sender.address, b"", 21_000, fees=(10**11, 10**10))
    return str(c.rpc.call("eth_sendRawTransaction", sent.raw))


async def test_lost_transaction_is_rejudged_and_settled_again(
    chain: Chain, tmp_path: Path, engine: str
) -> None:
    """A settlement the chain drops is lost only once its nonce is taken (here by another
    sender of the operator's key): then its match is re-judged and settled again (lost78:
    dropped alone, it is sent again and lands, ``test_a_dropped_transaction...``)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
        await post_all(api, [maker])
        pause_mining(c)
        try:
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(taker))[0] == 201
            await wait_for(lambda: len(node.settler.in_flight) == 1 and pending_count(c) == 1)
            if engine == "anvil":  # the sync send gives up waiting (mining is paused) first:
                # dropped before, it would find the chain without it and send it again
                await wait_for(lambda: node.settler.broadcaster.sync_timeouts == 1)
            (lost,) = node.settler.in_flight
            at = int(c.rpc.call("eth_getTransactionCount", node.sender.address, "latest"), 16)
            drop = "anvil_dropTransaction" if engine == "anvil" else "hardhat_dropTransaction"
            assert c.rpc.call(drop, lost) in (True, lost)  # Hardhat's answer, anvil's
            take_nonce(c, at)  # (replaces it if the settler sent it again meanwhile)
            c.rpc.call("evm_mine")
            # the settler finds its nonce taken, gives the match back, and the node matches
            # and sends it again at the next nonce
            await wait_for(lambda: node.settler.lost == 1 and node.settler.sent == 2)
        finally:
            resume_mining(c)

        async def done() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(done)
        assert node.settler.failed == 1 and node.settler.settled == 1
        assert c.exchange.order_info(maker.order).filled == E18
        assert c.rpc.call("eth_getTransactionReceipt", lost) is None

        async def listed() -> bool:  # (what is committed: a moment after the status)
            _, fills = await api.get("/v1/fills")
            return bool(fills["total"] == 2)

        await wait_for(listed)


async def test_own_receipts_update_the_mirror_without_reads_only_when_confirmed_apart(
    chain: Chain, tmp_path: Path
) -> None:
    """settle95's design (a receipt counts only once confirmed; the watcher's own read of
    the block is that confirmation): while the watcher keeps up, an own settlement's block
    is read by the watcher (its logs once, the funds they move taken by amount: settle98)
    and no read apart is made; the mirror applies the
    receipt unread only when a read apart confirmed it before the watcher reached its block
    (a watcher held past ``WATCH_FIRST``): then no logs of that block are read."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        m = node.mirror
        receipts = node.settler.receipts

        async def settle_pair() -> tuple[SignedOrder, SignedOrder, int]:
            maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            sent = node.settler.sent
            await post_all(api, [maker, taker])
            await wait_for(lambda: node.settler.sent == sent + 1 and node.settler.idle.is_set())
            block = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: node.watcher.applied is not None and (
                node.watcher.applied.number >= block
            ))  # fmt: skip
            return maker, taker, block

        def funds_are_the_chains() -> None:
            for owner in (CAROL, BOB):
                for token in (c.weth, c.usdc):
                    account = (c.address(owner), token.address)
                    if account in m.funds:
                        balance, allowance = m.funds[account]
                        assert balance == token.balance_of(c.address(owner))
                        assert allowance == token.allowance(c.address(owner), c.exchange.address)
            assert (c.address(CAROL), c.weth.address) in m.funds
            assert (c.address(BOB), c.usdc.address) in m.funds
            assert not m.own and not m.expected and not m.confirms and not m.found
            # the book follows: the makers' spendable funds are what the chain has
            assert node.book.funds(c.address(CAROL), c.weth.address) == c.weth.balance_of(
                c.address(CAROL)
            )

        # First settlements: accounts learned from a read at "latest" (intake) are read
        # once more, at the block that moves them.
        await settle_pair()
        await settle_pair()

        # 1. The watcher keeps up: its read of the block's logs confirms the receipt (no
        # read apart: no eth_getBlockByHash), so the receipt is not applied unread.
        calls, apart_before = dict(node.watch_rpc.calls), receipts.calls["eth_getBlockByHash"]
        applied, settled = m.own_applied, node.settler.settled
        maker, taker, block = await settle_pair()
        await wait_for(lambda: node.settler.settled == settled + 1)
        assert m.own_applied == applied  # (the watcher read the block itself)
        assert receipts.calls["eth_getBlockByHash"] == apart_before
        # the block's logs read once (one eth_getLogs, for that block); the funds its
        # Transfer logs name (Carol's and Bob's WETH and USDC) moved by the amounts the
        # watcher read there, not read again (settle98: pipe96 counted 4 eth_calls here, and
        # the settler took a maker's funds from the mirror before those reads came back)
        assert node.watch_rpc.calls["eth_getLogs"] == calls.get("eth_getLogs", 0) + 1
        assert node.watch_rpc.calls["eth_call"] == calls.get("eth_call", 0)
        assert m.filled[maker.hash] == E18
        assert m.filled[taker.hash] == 3000 * E6
        funds_are_the_chains()

        # 2. The watcher held (each of its calls waits) past WATCH_FIRST: the read apart
        # confirms the receipt first, and the watcher then applies its block from the
        # settler's decoded receipt: no logs, no funds read for it.
        go = asyncio.Event()
        call, batch = node.watch_rpc.call, node.watch_rpc.batch

        async def held_call(method: str, *params: Any) -> Any:
            async with asyncio.timeout(60):
                await go.wait()
            return await call(method, *params)

        async def held_batch(cs: list[tuple[str, list[Any]]]) -> list[Any]:
            async with asyncio.timeout(60):
                await go.wait()
            return await batch(cs)

        node.watch_rpc.call = held_call  # type: ignore[method-assign]
        node.watch_rpc.batch = held_batch  # type: ignore[method-assign]
        try:
            apart_before, settled = receipts.calls["eth_getBlockByHash"], node.settler.settled
            maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            await post_all(api, [maker, taker])
            await wait_for(lambda: node.settler.settled == settled + 1, timeout=60)
            # (CONFIRM_READS reads apart in a row giving it, confirm97: the first its block's
            # sealed header, settle99's, which alone confirms only a block the watcher
            # applied, review99: settle99's one read believed a block a liar made up)
            assert receipts.calls["eth_getBlockByHash"] == apart_before + CONFIRM_READS
            block = int(c.rpc.call("eth_blockNumber"), 16)
            assert m.head is not None and m.head.number < block  # (the watcher was held)
            assert [r.block_number for r in m.own.values()] == [block]
            calls = dict(node.watch_rpc.calls)
            asked = trace_calls(node.watch_rpc)
        finally:
            go.set()
        await wait_for(lambda: node.watcher.applied is not None and (
            node.watcher.applied.number >= block
        ))  # fmt: skip
        assert m.own_applied == applied + 1
        assert node.watch_rpc.calls["eth_getLogs"] == calls.get("eth_getLogs", 0), asked
        assert node.watch_rpc.calls["eth_call"] == calls.get("eth_call", 0), asked
        assert m.filled[maker.hash] == E18
        assert m.filled[taker.hash] == 3000 * E6
        funds_are_the_chains()


async def test_a_dropped_transaction_later_ones_wait_on_is_sent_again(
    chain: Chain, tmp_path: Path, engine: str
) -> None:
    """lost78: a settlement the chain dropped, a later one of the lane waiting on its nonce.
    Before, it was counted lost once the chain did not know it twice half a second apart, its
    nonce filled by a transfer of nothing and its match settled again in a third transaction
    (behind a balancer whose asks meet a backend that lags, the same verdict came for bytes
    pooled at another backend: both landed). Now it is lost only once its nonce is taken:
    its same bytes are sent again, and both land, each once, no transfer of nothing paid."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        makers = [c.sign(ask(c, CAROL, E18, 3000 * E6)) for _ in range(2)]
        await post_all(api, makers)
        lane = node.sender.address
        start = int(c.rpc.call("eth_getTransactionCount", lane, "latest"), 16)
        # (anvil: the first send would wait SYNC_TIMEOUT for its receipt. The order is the
        # test's.)
        node.settler.broadcaster.sync = False
        pause_mining(c)
        try:
            first = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(first))[0] == 201
            await wait_for(lambda: len(node.settler.in_flight) == 1 and pending_count(c) == 1)
            (dropped,) = node.settler.in_flight
            second = c.sign(bid(c, DAVE, E18, 3000 * E6))
            assert (await api.post_order(second))[0] == 201
            await wait_for(lambda: len(node.settler.in_flight) == 2 and pending_count(c) == 2)
            # the first (nonce start) is forgotten by the chain (on anvil, the second too:
            # anvil_dropTransaction drops what is queued behind it)
            drop = "anvil_dropTransaction" if engine == "anvil" else "hardhat_dropTransaction"
            assert c.rpc.call(drop, dropped) in (True, dropped)

            def back() -> bool:  # (sent again by its receipt's wait)
                return c.rpc.call("eth_getTransactionByHash", dropped) is not None

            await wait_for(back, timeout=30.0)
        finally:
            resume_mining(c)

        async def filled(s: SignedOrder) -> bool:
            return await api.status(s) == "filled"

        await wait_for(lambda: filled(first), timeout=60.0)
        await wait_for(lambda: filled(second), timeout=60.0)
        s = node.settler
        assert (s.lost, s.failed, s.gap_fills, s.settled, s.sent) == (0, 0, 0, 2, 2)
        used = int(c.rpc.call("eth_getTransactionCount", lane, "latest"), 16) - start
        assert used == 2  # (before: 3, a transfer of nothing at the dropped one's nonce)
        assert c.rpc.call("eth_getTransactionReceipt", dropped)["status"] == "0x1"
        for o in (*makers, first, second):
            assert c.exchange.order_info(o.order).filled == o.order.maker_amount


async def test_a_backlog_goes_out_in_a_bigger_batch_as_far_as_the_gas_fits(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", max_batch=8, backlog_batch=24)
    async with running_node(cfg) as (node, api):
        settler = node.settler
        # before any receipt: the fallback-safe bound per match (63 fit one transaction)
        assert settler.batch_size(8) == 8 and settler.batch_size(20) == 20
        assert settler.batch_size(100) == 24
        # twenty matches wait at once: one transaction takes them all
        asks = [c.sign(ask(c, CAROL, E18 // 10, 300 * E6)) for _ in range(20)]
        await post_all(api, asks)
        taker = c.sign(bid(c, DAVE, 2 * E18, 20 * 300 * E6))
        code, body = await api.post_order(taker)
        assert code == 201 and len(body["matches"]) == 20, body
        await wait_for(lambda: settler.settled == 20 and settler.idle.is_set())
        assert settler.sent == 1 and settler.largest_batch == 20 and settler.failed == 0
        for s in asks:
            assert c.exchange.order_info(s.order).filled == E18 // 10
        assert await api.status(taker) == "filled"
        # the receipt taught the gas per match: the bound for backlogs follows it
        assert 0 < settler.gas.seen < 250_000
        assert settler.per_match_gas() == min(250_000, int(settler.gas.seen * 2.2))


async def test_a_slow_fill_write_does_not_leave_the_makers_funds_one_fill_short(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: settlement A's results waited on a slow fill write while B's receipt
    was noted; the watcher applied B's block (funds after B), then B's confirm took B's fill
    off again, and a maker who could pay for her last order saw it ``unfunded``. Now a
    settlement's matches are confirmed as soon as its receipt is noted."""
    c = chain
    carol = c.address(CAROL)
    c.weth.transfer(c.sender(CAROL), c.address(DAVE), c.weth.balance_of(carol) - 3 * E18)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        resting = c.sign(ask(c, CAROL, E18, 9000 * E6))  # her last WETH after two sales
        await post_all(api, [resting])
        write_fills = node.store.add_fills_async
        calls = 0

        async def slowly(fills: Sequence[StoredFill]) -> list[StoredFill]:
            await asyncio.sleep(1.0)  # a slow commit: a loaded disk, a long group
            return await write_fills(fills)

        def slow(fills: Sequence[StoredFill]) -> asyncio.Future[list[StoredFill]]:
            nonlocal calls
            calls += 1
            return asyncio.ensure_future(slowly(fills) if calls == 1 else write_fills(fills))

        write_soon = node.store.add_fills_soon  # (the chain thread's, receipt in hand)

        def slow_soon(fills: Sequence[StoredFill]) -> Future[list[StoredFill]]:
            nonlocal calls
            calls += 1
            if calls > 1:
                return write_soon(fills)
            out: Future[list[StoredFill]] = Future()

            def write() -> None:
                write_soon(fills).add_done_callback(lambda f: out.set_result(f.result()))

            threading.Timer(1.0, write).start()  # a slow commit: a loaded disk, a long group
            return out

        node.store.add_fills_async = slow  # type: ignore[method-assign]
        node.store.add_fills_soon = slow_soon  # type: ignore[method-assign]
        sale = [c.sign(ask(c, CAROL, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))]
        await post_all(api, sale)
        await wait_for(lambda: calls >= 1)  # (the watcher may store the fills too)
        sale = [c.sign(ask(c, CAROL, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))]
        await post_all(api, sale)
        await wait_for(lambda: node.settler.settled == 2 and node.settler.idle.is_set())
        block = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(
            lambda: node.watcher.applied is not None and node.watcher.applied.number >= block
        )
        assert c.weth.balance_of(carol) == E18  # she can pay for her resting order
        want = min(E18, c.weth.allowance(carol, c.exchange.address))
        await wait_for(lambda: node.book.funds(carol, c.weth.address) == want, timeout=30)
        assert await api.status(resting) == "open"


async def test_settlements_are_confirmed_before_the_watcher_applies_their_blocks(
    chain: Chain, tmp_path: Path
) -> None:
    """Thirty crossing pairs back to back, several settlements in flight: no settlement's
    results reach the node after the watcher applied its block, and the book's funds of the
    seller end equal to the chain's."""
    c = chain
    carol = c.address(CAROL)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        await post_all(api, [c.sign(ask(c, CAROL, E18, 9000 * E6))])  # keeps her account
        late: list[int] = []
        on_result = node.settler.on_result

        async def watched(results: list[SettledMatch]) -> None:
            fills = [f for r in results if r.fills for f in r.fills]
            applied = node.watcher.applied
            if fills and applied is not None and applied.number >= fills[0].block_number:
                late.append(fills[0].block_number)
            await on_result(results)

        node.settler.on_result = watched
        takers = [BOB, DAVE, ALICE]
        for i in range(30):
            pair = (
                c.sign(ask(c, CAROL, E18, 3000 * E6)),
                c.sign(bid(c, takers[i % 3], E18, 3000 * E6)),
            )
            await asyncio.gather(*(api.post_order(s) for s in pair))
        await wait_for(
            lambda: node.settler.settled == 30 and node.settler.idle.is_set(), timeout=60
        )
        block = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(
            lambda: node.watcher.applied is not None and node.watcher.applied.number >= block
        )
        assert late == []
        want = min(c.weth.balance_of(carol), c.weth.allowance(carol, c.exchange.address))
        await wait_for(lambda: node.book.funds(carol, c.weth.address) == want, timeout=30)


async def first_then_five(
    c: Chain, node: Any, api: Api, ready: Callable[[], bool]
) -> list[SignedOrder]:
    """Six resting asks; one crossing bid, then (once ``ready()``) five more, one request at
    a time (each match made in its own turn) while the first has not gone out."""
    await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6)) for _ in range(6)])
    first = c.sign(bid(c, BOB, E18, 3000 * E6))
    assert (await api.post_order(first))[0] == 201
    await wait_for(ready)
    takers = [c.sign(bid(c, BOB, E18, 3000 * E6)) for _ in range(5)]
    for t in takers:
        assert (await api.post_order(t))[0] == 201
    assert node.settler.largest_batch == 1  # the five wait for the first
    return [first, *takers]


async def all_filled(node: Any, api: Api, orders: list[SignedOrder], largest: int = 5) -> None:
    """Wait until every one of ``orders`` is filled in two transactions (by default: the
    five went out together, one transaction after the first)."""

    async def done() -> bool:
        return all([await api.status(t) == "filled" for t in orders])

    await wait_for(done)
    assert node.settler.sent == 2 and node.settler.largest_batch == largest
    assert node.settler.settled == len(orders) and node.settler.failed == 0


def hold_first_broadcast(sends: Any) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold the settler's first broadcast on the event loop (as Hardhat mining it on the
    send): ``entered`` once it is under way, released by setting ``busy``."""
    entered, busy = asyncio.Event(), asyncio.Event()

    def held(real: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            if not entered.is_set():
                entered.set()
                await asyncio.wait_for(busy.wait(), 30.0)
            return await real(*args, **kwargs)

        return call

    for name in ("broadcast_sync", "broadcast_for_receipt", "broadcast"):
        setattr(sends, name, held(getattr(sends, name)))
    return entered, busy


async def test_matches_made_while_a_settlement_waits_to_go_out_leave_together(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        # A broadcast before it is under way (as with Hardhat mining the previous
        # settlement): the first match's settlement cannot start its way out meanwhile.
        busy: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        node.settler._last_broadcast = busy
        try:
            orders = await first_then_five(c, node, api, lambda: node.settler.largest_batch == 1)
        finally:
            busy.set_result(None)
        await all_filled(node, api, orders)
        await wait_for(lambda: node.settler.stages.matches == 6)  # (once results applied)
        stages = node.settler.stages.mean_ms()
        assert stages["chain_wait"] > 0 and stages["send"] > 0


async def test_matches_made_while_a_settlement_is_broadcast_leave_together_once_it_ends(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        # The first settlement's broadcast is under way (as with Hardhat mining it on the
        # send): the matches made meanwhile form no batch that would wait behind it on the
        # chain thread; they go out together once it has ended.
        entered, busy = hold_first_broadcast(node.settler.async_sends)
        try:
            orders = await first_then_five(c, node, api, entered.is_set)
        finally:
            busy.set()
        await all_filled(node, api, orders)


async def test_a_batch_that_fills_up_during_a_broadcast_goes_at_once(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", max_batch=2)) as (node, api):
        # The first settlement's broadcast is held on the chain thread; one more match waits
        # for it to end (less than a full batch), but once a full batch waits it forms at
        # once, as under bulk, without waiting for the broadcast.
        entered, busy = hold_first_broadcast(node.settler.async_sends)
        try:
            await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6)) for _ in range(3)])
            first = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await api.post_order(first))[0] == 201
            await wait_for(entered.is_set)
            takers = [c.sign(bid(c, BOB, E18, 3000 * E6)) for _ in range(2)]
            assert (await api.post_order(takers[0]))[0] == 201
            assert node.settler.sent == 1  # less than a full batch: it waits
            assert (await api.post_order(takers[1]))[0] == 201
            await wait_for(lambda: node.settler.sent == 2)  # full: signed during the hold
            assert node.settler.largest_batch == 2 and not busy.is_set()
        finally:
            busy.set()
        await all_filled(node, api, [first, *takers], largest=2)
