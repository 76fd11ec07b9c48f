"""A chain whose number answers are not hex strings (a broken or hostile endpoint): the
node still starts. ``eth_blockNumber`` answered with a JSON number, a list, an object or
null made ``int(raw, 16)`` raise TypeError out of the watcher's start check (the start
failed with a traceback); such an answer is now refused like one that is not hex
(``sdex.chain.rpc.quantity``): the saved head's distance is unknown, the stored orders are
judged by the chain. Real Hardhat, a real node restarted on its SQLite store behind a
loopback proxy that answers that one method."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.chain.rpc import quantity
from sdex.errors import ChainError
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import Answer, _proxy
from tests.test_restart_mirror import one_ask_saved, status

HOSTILE = [("a number", 5), ("a list", ["0x1"]), ("an object", {"n": 1}), ("null", None)]


@contextmanager
def answering(upstream: str, method: str, result: object, first: object = None) -> Iterator[str]:
    """A proxy to ``upstream`` that answers ``method`` (called alone; with ``first`` as its
    first parameter, if given) with ``result``."""

    def intercept(req: object) -> Answer | None:
        if not (isinstance(req, dict) and req.get("method") == method):
            return None
        if first is not None and req.get("params", [None])[0] != first:
            return None
        return 200, json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode()

    with _proxy(upstream, intercept) as url:
        yield url


@pytest.mark.parametrize("result", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
async def test_a_block_number_not_hex_is_not_a_failed_start(
    chain: Chain, tmp_path: Path, result: object
) -> None:
    c = chain
    cfg, s = await one_ask_saved(c, tmp_path)
    with answering(c.deployment.rpc, "eth_blockNumber", result) as rpc:
        async with running_node(replace(cfg, rpc=rpc)) as (node, api):
            assert node.started.is_set()
            assert not node.watcher.resumed  # (how far behind is unknown: judged anew)
            assert await status(api, s) == "open"


BAD = [
    "",
    "0x",
    "1",
    "0xzz",
    "0x_1",
    "0x1 ",
    "0x1\n",
    "0x" + "f" * 65,
    1,
    1.5,
    None,
    True,
    ["0x1"],
    {"a": "0x1"},
]


@pytest.mark.parametrize("raw", BAD, ids=[repr(b)[:20] for b in BAD])
def test_what_is_not_a_quantity_is_a_value_error(raw: object) -> None:
    with pytest.raises(ValueError, match="not a JSON-RPC quantity"):
        quantity(raw)


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_a_quantity_reads_back(n: int) -> None:
    assert quantity(hex(n)) == n


NOT_BLOCKS = [("null", None), ("a number", 5), ("no timestamp", {"number": "0x1"})]


@pytest.mark.parametrize("block", [b[1] for b in NOT_BLOCKS], ids=[b[0] for b in NOT_BLOCKS])
async def test_a_latest_block_that_is_none_is_a_chain_error_at_start(
    chain: Chain, tmp_path: Path, block: object
) -> None:
    """The start reads the latest block's timestamp: an answer that is no block is the
    chain's error (one line from ``sdex node``), not a TypeError's traceback."""
    with (
        answering(chain.deployment.rpc, "eth_getBlockByNumber", block, "latest") as rpc,
        pytest.raises(ChainError, match="latest"),
    ):
        async with running_node(replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)):
            pass
