"""left32: a catch-up range whose ``eth_getLogs`` the RPC refuses as too many blocks or logs,
or answers past the read client's bound, is read again in halves down to one block (before:
the watcher failed the same range poll after poll, ``unreachable`` for ever). One block still
refused is a clear ``/health`` problem, one read a poll, not a loop. Real Hardhat behind a
real loopback proxy that refuses as real providers do (``tests.logsproxy``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain.arpc import AnswerTooLarge
from sdex.chain.rpc import MAX_RESPONSE
from sdex.errors import RpcError, RpcTimeout
from sdex.watch.ranges import too_large
from tests.conftest import Chain
from tests.logsproxy import REFUSALS, logs_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_watch_behind import quick_polls

MOST = 8
"""The proxy refuses an ``eth_getLogs`` of more blocks than this."""


@pytest.mark.parametrize("way", [*REFUSALS, "413", "pad"])
async def test_a_range_refused_as_too_large_is_read_in_halves(
    chain: Chain, tmp_path: Path, way: str
) -> None:
    """ALICE's order filled on chain, 40 blocks on it; a new node catches up through a proxy
    refusing ranges over 8 blocks: it reaches the head with the fill in its mirror."""
    c = chain
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
    c.rpc.call("hardhat_mine", hex(40))
    async with logs_proxy(c.rpc.url, way, MOST) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            await synced(node, c)  # before: never (the first range refused poll after poll)
            w = node.watcher
            assert w.status == "ok" and w.split_reads >= 1 and proxy.refused >= 1
            assert node.mirror.filled_of(whole.hash) == E18
            code, health = await api.get("/health")
            assert (code, health["chain"]) == (200, "ok"), health


async def test_one_block_refused_alone_is_a_health_problem_not_a_loop(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``eth_getLogs`` refused, even of one block: ``/health`` 503 ``unreachable`` with
    the block named; each poll then asks for that one block's logs once."""
    quick_polls(monkeypatch)
    c = chain
    c.rpc.call("hardhat_mine", hex(20))
    async with logs_proxy(c.rpc.url, "infura", -1) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            w = node.watcher
            await wait_for(lambda: "too large for one eth_getLogs" in w.problem, timeout=30)
            code, health = await api.get("/health")
            assert (code, health["chain"]) == (503, "unreachable"), health
            problem = health["chainMirror"]["problem"]
            assert f"block {cfg.deploy_block}'s logs" in problem, problem
            failures, asked = w.failures, proxy.logs_asked
            await wait_for(lambda: w.failures >= failures + 3, timeout=30)
            polls = w.failures - failures
            assert proxy.logs_asked - asked <= polls + 1, (proxy.logs_asked - asked, polls)
            assert w.block == cfg.deploy_block - 1  # (nothing passed)


@pytest.mark.parametrize(
    ("error", "split"),
    [
        (AnswerTooLarge("http://x/", MAX_RESPONSE), True),
        (RpcError(-32005, "query returned more than 10000 results"), True),
        (RpcError(-32005, "limit exceeded"), True),
        (RpcError(-32602, "Log response size exceeded. You can make eth_getLogs requests"), True),
        (RpcError(-32614, "eth_getLogs is limited to a 10,000 range"), True),
        (RpcError(-32000, "block range is too wide"), True),
        (RpcError(-32000, "Requested range exceeds maximum range limit"), True),
        (RpcError(0, "http://x/ answered HTTP 413", None), True),
        (RpcError(-32005, "daily request count exceeded, request rate limited"), False),
        (RpcError(-32005, "project ID request rate exceeded"), False),
        (RpcError(0, "http://x/ answered HTTP 429", None), False),
        (RpcError(0, "http://x/ answered HTTP 4130", None), False),
        (RpcError(-32000, "header not found"), False),
        (RpcTimeout("http://x/", 30), False),
        (OSError("connection refused"), False),
    ],
)
def test_which_refusals_split_a_range(error: BaseException, split: bool) -> None:
    assert too_large(error) is split
