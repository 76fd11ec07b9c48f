"""status78: what the node says and does while it replays a proven chain reset.

The watcher's status changed only as a poll ended. A reset's replay (the new chain read
from the deployment block) is one long poll: the ``behind`` of the poll before it (the
chain rewound, nothing mined yet) stood through it, and intake refused every order that
needed a chain read, 503 "its chain backend is behind the chain"; a long read of the
replay said ``unreachable`` after ``STALL`` though the chain answered. Now it says
``replaying`` (``caughtUp`` false) from the moment the reset is proven, and intake takes
such an order as during the start's replay (read, learned once the replay passes it).
Real Hardhat (``evm_revert`` below every kept block), a real node and SQLite store, a
real proxy on loopback holding the replay's first read (``tests/rpcfault.py``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Gate, gated_proxy, replays_from
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask

STALL = 2.0
"""The watcher's ``stall`` here: the replay is held past twice this."""


async def test_a_reset_replay_says_replaying_and_takes_orders_that_need_a_read(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    replay = Gate(replays_from(cfg.deploy_block))  # (the reset's first read)
    probe = Gate(lambda calls: any(call.get("method") == "eth_blockNumber" for call in calls))
    with gated_proxy(c.rpc.url, [replay, probe]) as url:
        async with running_node(cfg) as (node, api):
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy)
            w = node.watcher
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("hardhat_mine", hex(20))  # (every kept block above the new branch)
            await synced(node, c)
            replay.armed.set()  # (armed first: rewound for 5 s, the chain is reset anyway)
            revert(c, snap)  # rewound, nothing mined: a head below ours, on our blocks
            await wait_for(lambda: w.status == "behind" or replay.held.is_set(), timeout=60)
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(2))  # (the new head still below every kept block)
            await wait_for(replay.held.is_set, timeout=60)  # the reset proven, replay held
            w.stall = STALL
            caplog.set_level(logging.WARNING, logger="sdex.watch")
            caplog.clear()
            code, health = await api.get("/health")
            assert (code, health["chain"], health["caughtUp"]) == (503, "replaying", False)
            order = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=78))
            code, body = await api.post_order(order)  # (a cleared mirror: a chain read)
            assert code == 201, body  # (was 503 CHAIN_UNAVAILABLE "behind the chain")
            probes = w.rpc.calls["eth_blockNumber"]
            # two stalls pass with the replay's read held (the chain asked, and answering)

            def stalled_twice() -> bool:  # (or said hung: was, after the first)
                return w.rpc.calls["eth_blockNumber"] >= probes + 2 or w.status != "replaying"

            await wait_for(stalled_twice, timeout=60)
            said = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
            assert w.status == "replaying" and not said, (w.status, w.problem, said)
            probe.armed.set()  # a chain that answers nothing now: hung, as before
            await wait_for(lambda: w.status == "unreachable", timeout=60)
            probe.release.set()
            replay.release.set()

            async def caught_up() -> bool:
                code, health = await api.get("/health")
                return code == 200 and health["chain"] == "ok" and health["caughtUp"]

            await wait_for(caught_up, timeout=60)
            await synced(node, c)
            assert await api.status(order) == "open"  # learned once the replay passed it
