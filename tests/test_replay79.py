"""replay79: wallet orders posted while the chain mirror replays the chain.

While the mirror replays (a fresh node's start from the deployment block; a reorg found
after the chain answered ``behind``) it cannot judge an order, and each order that needed a
chain state was read from the chain at once: one read and one token of its wallet's budget
each, so a wallet's burst met 429 ``THROTTLED`` for as long as the replay ran (fix78c: 30
asks, 30 reads). Now such an order waits, bounded (``sdex.node.replayhold``), for the
mirror to follow the chain and is judged then: one read per first-seen account.

A reorg found after a poll that said ``behind`` replayed the new branch under that
``behind``: intake refused every order that needed a read, 503 "its chain backend is behind
the chain". Now it says ``replaying`` till the replay reaches the head (as a reset's).

Real Hardhat with a few thousand blocks (token transfers in them: the replay reads and
applies their logs), a real node and SQLite store, a real proxy on loopback holding the
replay's last read (``tests/rpcfault.py``) so that the orders surely come during it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.httpkit import RateLimit
from sdex.node.core import Node
from sdex.watch import fork as fork_module
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Calls, Gate, gated_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, CAROL, E6, E18, ask

E15 = 10**15
ORDERS = 50
MAKERS = 4
BURST = 10
"""The wallets' burst of chain reads here (rate 1 a second): read one by one, 40 of the 50
orders met 429; judged by the mirror, the 4 makers' first orders cost 4."""
HOLD = 300.0
"""The hold's bound here (``HOLD_SECONDS`` is 5): a loaded machine's replay is not timed."""


def busy_blocks(c: Chain, blocks: int = 3_000) -> int:
    """About ``blocks`` blocks mined above the head, a WETH transfer to a maker every 15 (logs
    the replay reads and applies); the new head's number."""
    for i in range(blocks // 15):
        c.weth.transfer(c.sender(5 + i % 4), c.address(1 + i % MAKERS), 1)
        c.rpc.call("hardhat_mine", hex(14))
    return int(c.rpc.call("eth_blockNumber"), 16)


def log_ranges(calls: Calls) -> list[dict[str, Any]]:
    """The ranges of ``calls``' ``eth_getLogs`` reads."""
    ranges = []
    for call in calls:
        p = call.get("params")
        if call.get("method") == "eth_getLogs" and isinstance(p, list) and p:
            ranges += [p[0]] if isinstance(p[0], dict) else []
    return ranges


def logs_to(top: int) -> Gate:
    """A gate on the watcher's read of logs up to block ``top`` (its replay's last range)."""
    return Gate(
        lambda calls: any(int(r.get("toBlock", "0x0"), 16) >= top for r in log_ranges(calls))
    )


def held_now(node: Node) -> int:
    """Orders held for the replay now (none on a node without the hold)."""
    hold = getattr(node, "replay_hold", None)
    return 0 if hold is None else int(hold.now)


async def timed(api: Api, order: Any) -> tuple[int, Any, float]:
    began = time.monotonic()
    code, body = await api.post_order(order)
    return code, body, time.monotonic() - began


async def test_orders_posted_during_the_start_replay_wait_for_the_mirror(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    top = busy_blocks(c)
    gate = logs_to(top)
    gate.armed.set()
    with gated_proxy(c.rpc.url, [gate]) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url)
        cfg = replace(cfg, chain_read_limit=RateLimit(rate=1, burst=BURST))
        async with running_node(cfg) as (node, api):
            if (hold := getattr(node, "replay_hold", None)) is not None:
                hold.seconds = HOLD
            await wait_for(gate.held.is_set, timeout=120)  # a fresh store: replayed from deploy
            assert not node.mirror_ready()
            signed = [
                c.sign(ask(c, 1 + i % MAKERS, E15, 3_000_000 + i, salt=79_000 + i))
                for i in range(ORDERS)
            ]
            posts = [asyncio.ensure_future(timed(api, s)) for s in signed]

            def all_in() -> bool:  # answered (read at once), or all waiting for the mirror
                return all(p.done() for p in posts) or held_now(node) == ORDERS

            await wait_for(all_in, timeout=120)
            assert not node.mirror_ready()  # (still replaying: the gate holds its last read)
            if held_now(node):  # (new: they wait, shown on /health)
                _, health = await api.get("/health")
                assert health["chainMirror"]["replayHold"]["now"] == ORDERS, health
            # bad input is refused at once meanwhile, never held
            late = c.sign(ask(c, ALICE, E15, 3_000_000, expiry=c.now() - 1))
            for bad in ({"maker": "0x12"}, late.to_json()):
                code, body = await api.post("/v1/orders", bad)
                assert code == 400, body
            assert not any(p.done() for p in posts) or not held_now(node)
            gate.release.set()
            answers = await asyncio.gather(*posts)
            codes = Counter(code for code, _, _ in answers)
            bad = [body for code, body, _ in answers if code != 201][:3]
            assert codes == {201: ORDERS}, (codes, bad)  # (was 40 429s: a read each)
            await wait_for(node.mirror_ready, timeout=120)
            assert [await api.status(s) for s in signed] == ["open"] * ORDERS
            assert node.intake.read <= MAKERS, node.intake.read  # (a first-seen account's one)
            assert node.intake.throttled == 0


async def test_a_reorg_after_behind_says_replaying_and_takes_wallet_orders(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    # (behind till the new branch is mined, however slow the machine: not rewound first)
    monkeypatch.setattr(fork_module, "BEHIND_SECONDS", 600.0)
    fork = [-1]  # (the snapshot's block, once taken)

    def from_fork(calls: Calls) -> bool:  # (the reorg's replay: logs from above the fork)
        return any(r.get("fromBlock") == hex(fork[0] + 1) for r in log_ranges(calls))

    replay = Gate(from_fork)
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)
    with gated_proxy(c.rpc.url, [replay]) as url:
        async with running_node(cfg) as (node, api):
            if (hold := getattr(node, "replay_hold", None)) is not None:
                hold.seconds = HOLD
            w = node.watcher
            await wait_for(node.mirror_ready, timeout=120)
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            fork[0] = int(c.rpc.call("eth_blockNumber"), 16)
            c.rpc.call("hardhat_mine", hex(20))  # (kept blocks above the fork)
            await synced(node, c)
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy)
            revert(c, snap)  # rewound, nothing mined: a head below ours, on our blocks
            await wait_for(lambda: w.status == "behind", timeout=60)
            replay.armed.set()
            c.weth.transfer(c.sender(CAROL), c.address(ALICE), 1)  # (another block there)
            c.rpc.call("hardhat_mine", hex(1_000))  # (a reorg, not a rewind)
            await wait_for(replay.held.is_set, timeout=60)  # the reorg's replay held
            code, health = await api.get("/health")
            assert (code, health["chain"], health["caughtUp"]) == (503, "replaying", False)
            order = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=79))
            post = asyncio.ensure_future(timed(api, order))
            await wait_for(lambda: post.done() or held_now(node) == 1, timeout=60)
            replay.release.set()
            code, body, _ = await post
            assert code == 201, body  # (was 503 CHAIN_UNAVAILABLE "behind the chain")
            await wait_for(node.mirror_ready, timeout=120)
            await synced(node, c)
            assert w.status == "ok" and w.reorgs >= 1
            assert await api.status(order) == "open"
