"""outage79: wallet orders posted while the mirror catches up after an outage, and during a
replay longer than the replay hold (replay79's leftovers).

After the chain's backend was down a while (``unreachable``) and answered again with
thousands of new blocks, the poll that caught up applied them all under ``unreachable``:
``/health`` said so, and intake refused every wallet order that needed a chain read, 503
"it cannot reach the chain", though the chain answered. Now such a catch-up says
``replaying`` (as a reset's replay does) and the replay hold serves those orders.

A replay longer than the hold (``HOLD_SECONDS``): the orders held were then read one by one,
a token of the wallet's budget each, so a wallet's burst past its budget met 429 for the rest
of the replay. Now a wallet's held orders of one account past their wait share one read.

Real Hardhat (the suite's chain), real nodes and SQLite stores, real proxies on loopback
(``tests/rpcfault.py``): one refusing every request (the outage), one holding the replay's
last read."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import NOT_HUNG, Gate, gated_proxy, outage_proxy
from tests.test_mirror import synced
from tests.test_node import ask
from tests.test_replay79 import HOLD, held_now, log_ranges, timed

E15 = 10**15
MAKERS = 4
OUTAGE_BLOCKS = 2_000
"""Blocks mined while the chain's backend is down (``hardhat_mine``)."""
OUTAGE_ORDERS = 20
SHARED_ORDERS = 150
"""Orders one wallet posts during a replay held past the hold's time (the wallets' burst of
chain reads is 100: read one by one, 50 or so met 429)."""
SHORT_HOLD = 1.0
"""The hold's time in the long-replay test: the replay (held by the proxy) outlasts it."""


def logs_from(top: list[int]) -> Gate:
    """A gate on the watcher's read of logs up to block ``top[0]`` (set once known)."""
    return Gate(
        lambda calls: (
            top[0] >= 0
            and any(int(r.get("toBlock", "0x0"), 16) >= top[0] for r in log_ranges(calls))
        )
    )


def transfers(c: Chain, n: int) -> None:
    """``n`` WETH transfers to the makers (logs a catch-up reads and applies)."""
    for i in range(n):
        c.weth.transfer(c.sender(5 + i % 4), c.address(1 + i % MAKERS), 1)


async def test_a_catch_up_after_an_outage_says_replaying_and_holds_wallet_orders(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    top = [-1]
    gate = logs_from(top)  # (the catch-up's last read, held till the orders are in)
    with gated_proxy(c.rpc.url, [gate]) as gated, outage_proxy(gated) as (url, down):
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            node.replay_hold.seconds = HOLD  # (a loaded machine's catch-up is not timed)
            w = node.watcher
            await wait_for(node.mirror_ready, timeout=120)
            await synced(node, c)
            down.set()  # the backend goes away: every read refused
            await wait_for(lambda: w.status == "unreachable", timeout=60)
            code, health = await api.get("/health")
            assert (code, health["chain"]) == (503, "unreachable"), health
            transfers(c, 8)
            c.rpc.call("hardhat_mine", hex(OUTAGE_BLOCKS))
            top[0] = int(c.rpc.call("eth_blockNumber"), 16)
            assert top[0] - (w.block if w.block >= 0 else 0) > OUTAGE_BLOCKS
            gate.armed.set()
            down.clear()  # it answers again, thousands of blocks on
            await wait_for(gate.held.is_set, timeout=60)  # the catch-up's last read held
            code, health = await api.get("/health")
            # (was 503 unreachable, caughtUp true: the chain answered)
            assert (code, health["chain"], health["caughtUp"]) == (503, "replaying", False)
            signed = [
                c.sign(ask(c, 1 + i % MAKERS, E15, 3_000_000 + i, salt=790_000 + top[0] + i))
                for i in range(OUTAGE_ORDERS)
            ]
            posts = [asyncio.ensure_future(timed(api, s)) for s in signed]

            def all_in() -> bool:  # answered, or all waiting for the catch-up
                return all(p.done() for p in posts) or held_now(node) == OUTAGE_ORDERS

            await wait_for(all_in, timeout=120)
            early = [p.result()[:2] for p in posts if p.done()][:3]
            assert held_now(node) == OUTAGE_ORDERS, early  # (was 503 "cannot reach the chain")
            gate.release.set()
            answers = await asyncio.gather(*posts)
            codes = Counter(code for code, _, _ in answers)
            assert codes == {201: OUTAGE_ORDERS}, (codes, [b for k, b, _ in answers if k != 201])
            await wait_for(node.mirror_ready, timeout=120)
            await synced(node, c)
            assert w.status == "ok"
            assert [await api.status(s) for s in signed] == ["open"] * OUTAGE_ORDERS
            assert node.intake.read <= MAKERS, node.intake.read  # (a first-seen account's one)


async def test_a_wallets_orders_held_past_a_long_replay_share_reads(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    top = [int(c.rpc.call("eth_blockNumber"), 16)]  # (a fresh store replays from deploy)
    gate = logs_from(top)
    gate.armed.set()
    with gated_proxy(c.rpc.url, [gate]) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False)
        async with running_node(cfg) as (node, api):
            node.watcher.stall = NOT_HUNG  # (the held read is a slow replay, not a hang)
            node.replay_hold.seconds = SHORT_HOLD  # (the replay outlasts the hold)
            await wait_for(gate.held.is_set, timeout=120)
            assert not node.mirror_ready()
            signed = [
                c.sign(ask(c, 1 + i % MAKERS, E15, 3_000_000 + i, salt=791_000 + top[0] + i))
                for i in range(SHARED_ORDERS)
            ]
            answers = await asyncio.gather(*(timed(api, s) for s in signed))
            assert not node.mirror_ready()  # (all answered during the replay, past the hold)
            codes = Counter(code for code, _, _ in answers)
            bad = [body for code, body, _ in answers if code != 201][:3]
            assert codes == {201: SHARED_ORDERS}, (codes, bad)  # (was ~50 429s)
            tokens, calls = node.read_budget.read, node.batcher.calls
            assert node.replay_hold.timed_out == SHARED_ORDERS
            # (was 150 tokens: one an order; the makers' groups past the hold share theirs)
            assert tokens <= SHARED_ORDERS // 5, (tokens, calls)
            _, health = await api.get("/health")
            shown = health["chainMirror"]["replayHold"]
            assert shown["readsAfterWait"] == tokens, shown
            assert shown["readsAfterWait"] + shown["sharedAfterWait"] == SHARED_ORDERS, shown
            gate.release.set()
            await wait_for(node.mirror_ready, timeout=120)
            assert [await api.status(s) for s in signed] == ["open"] * SHARED_ORDERS
