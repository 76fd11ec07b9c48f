"""A node started against a chain that is not its deployment's (real Hardhat) stops at once
with a ChainError that says what is wrong, shown by ``sdex node`` as one line (exit 1), not a
traceback from decoding an empty answer: no Exchange code at its address (a devnet reset
and not deployed again), another chain id, no deployment block."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.errors import ChainError
from sdex.node.main import serve
from tests.conftest import Chain
from tests.nodeutil import node_config

NOWHERE = "0x" + "de" * 20


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"exchange": NOWHERE}, "no Exchange contract at"),
        ({"chain_id": 5}, r"is chain 31337, not the deployment file's 5: another chain\?"),
        ({"deploy_block": 10**9}, "does not exist"),
    ],
)
async def test_a_node_on_the_wrong_chain_says_so_and_stops(
    chain: Chain, tmp_path: Path, change: dict[str, object], says: str
) -> None:
    cfg = node_config(chain, tmp_path / "n.db", **change)
    with pytest.raises(ChainError, match=says):
        async with serve(cfg):
            raise AssertionError("a node on the wrong chain served")
