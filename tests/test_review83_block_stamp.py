"""review83: a chain's block whose ``timestamp`` (or ``number``) is a quantity past any float
(``0x`` and 300 hex digits: a broken or hostile endpoint) was read as it came
(``Header.from_rpc``, and the start's pending block read with ``int(raw, 16)``); the chain's
clock lead is then ``timestamp - time.time()``, and the start failed with ``OverflowError``
("int too large to convert to float") and a traceback, whichever block it was in: the pending
block's stamp alone (a guess nothing mined) stopped the node.

Now a header's number and stamp are below 2^63 (what the store and the clocks hold), else it
is no block (``ValueError``, as a header with none); a pending block's odd stamp is no lead.
Real Hardhat, a real node, a loopback proxy that rewrites the blocks' answers."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.errors import ChainError
from sdex.mirror.blocks import Header
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy

HUGE = "0x" + "f" * 300


@contextmanager
def stamping(upstream: str, tags: set[str], field: str, value: str) -> Iterator[str]:
    """A proxy to ``upstream`` whose ``eth_getBlockByNumber`` answers for ``tags`` (the first
    parameter: "pending", "latest"; "*" every block) carry ``value`` as their ``field``,
    alone or batched."""

    def fix(req: object, res: object) -> None:
        if (
            isinstance(req, dict)
            and req.get("method") == "eth_getBlockByNumber"
            and ((req.get("params") or [None])[0] in tags or "*" in tags)
            and isinstance(res, dict)
            and isinstance(res.get("result"), dict)
        ):
            res["result"][field] = value

    def intercept(req: object) -> Answer:
        headers = {"Content-Type": "application/json"}
        fwd = urllib.request.Request(upstream, json.dumps(req).encode(), headers, method="POST")
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            out = json.loads(resp.read())
        for q, r in zip(req, out, strict=True) if isinstance(req, list) else [(req, out)]:
            fix(q, r)
        return 200, json.dumps(out).encode()

    with _proxy(upstream, intercept) as url:
        yield url


async def test_a_pending_stamp_past_a_float_starts_the_node(chain: Chain, tmp_path: Path) -> None:
    """The pending block stamped past a float: the node starts, no lead taken from it, and
    takes an order. (Failed: ``OverflowError`` out of the start.)"""
    c = chain
    with stamping(c.deployment.rpc, {"pending"}, "timestamp", HUGE) as rpc:
        async with running_node(replace(node_config(c, tmp_path / "n.db"), rpc=rpc)) as (node, api):
            assert node.started.is_set() and node.pending_lead == 0.0
            order = c.sign(c.order(1, c.weth, 10**18, c.usdc, 3000 * 10**6))
            code, answer = await api.post_order(order)
            assert code == 201, answer


@pytest.mark.parametrize("field", ["timestamp", "number"])
async def test_a_latest_block_past_a_float_is_the_chains_error(
    chain: Chain, tmp_path: Path, field: str
) -> None:
    """The latest block's stamp or number past a float: the start fails with the chain's
    error in one line (``ChainError``, as for an answer that is no block), not an
    ``OverflowError``'s traceback."""
    with (
        stamping(chain.deployment.rpc, {"latest"}, field, HUGE) as rpc,
        pytest.raises(ChainError, match="latest block was no block"),
    ):
        async with running_node(replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)):
            pass


async def test_heads_stamped_past_a_float_while_serving(chain: Chain, tmp_path: Path) -> None:
    """Once serving, heads stamped past a float: the watcher is not ok (503) while they
    come, and ok again once the chain's blocks are sound."""
    c = chain
    on: set[str] = set()
    with stamping(c.deployment.rpc, on, "timestamp", HUGE) as rpc:
        async with running_node(replace(node_config(c, tmp_path / "n.db"), rpc=rpc)) as (node, api):
            await wait_for(lambda: node.watcher.status == "ok", 60)
            on.add("*")
            c.rpc.call("evm_mine")
            await wait_for(lambda: node.watcher.status != "ok", 60)
            on.clear()
            c.rpc.call("evm_mine")
            await wait_for(lambda: node.watcher.status == "ok", 60)
            code, health = await api.get("/health")
            assert code == 200, health


@given(
    st.sampled_from(["number", "timestamp"]),
    st.one_of(st.integers(min_value=1 << 63, max_value=1 << 4000), st.integers(max_value=-1)),
)
def test_a_header_past_the_store_is_no_block(field: str, n: int) -> None:
    raw = {"number": "0x10", "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32,
           "timestamp": "0x5f5e100"}  # fmt: skip
    raw[field] = hex(n)
    with pytest.raises(ValueError, match="not a block"):
        Header.from_rpc(raw)
