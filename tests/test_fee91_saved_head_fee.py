"""fee91 (fee90's left): at a restart ``sdex.watch.fork.check_head`` proves the saved head ours
by its hash and reads its block's fee as placed: the start's first fee bound (fee90). The hash
proves the header's other fields only if it is theirs: an answer with our head's hash and
another ``baseFeePerGas`` was taken, and a fee far below the chain's made the mirror's honest
reads of the next blocks refused ("past EIP-1559's bounds": /health's ``readUntrusted``,
nothing signed meanwhile). The fee is now read only from a sealed header
(``sdex.mirror.seal``: its hash the Keccak of its RLP); else the bound stays the deploy
block's.

Real Hardhat (its head's fee set, then blocks mined while the node is down), a real node in
this process stopped and started again on its SQLite store behind a real loopback proxy
answering the saved head's block, asked for by its number, with its own hash and a forged
fee."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.rpcfault import Answer, _answering, _proxy
from tests.startheads import ran_to_head

GWEI = 10**9
FORGED = 7
"""The saved head's fee as the proxy says it (wei; the chain's: 1 gwei)."""


async def test_a_forged_fee_of_the_saved_head_is_not_the_starts_bound(
    chain: Chain, tmp_path: Path
) -> None:
    """(main: the forged fee read as placed, the next blocks' honest reads refused: failed.)"""
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_mine", hex(200))  # (the deploy block's bound reaches any fee)
        await fee_walked_to(c, GWEI)  # (the node's reads believe each block's rise: fee93)
        top = await ran_to_head(c, db)
        saved = int(top["number"], 16)
        assert int(top["baseFeePerGas"], 16) == GWEI
        c.rpc.call("hardhat_mine", hex(3))  # (while the node is down: the fee falls an eighth)
        forged: list[int] = []

        def answer(call: object) -> dict[str, Any] | None:
            if not isinstance(call, dict) or call.get("method") != "eth_getBlockByNumber":
                return None
            tag = (call.get("params") or [None])[0]
            if not isinstance(tag, str) or not tag.startswith("0x") or int(tag, 16) != saved:
                return None
            block = dict(c.rpc.call("eth_getBlockByNumber", tag, False))
            block["baseFeePerGas"] = hex(FORGED)  # (its hash ours)
            forged.append(saved)
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}

        def intercept(req: object) -> Answer | None:
            return _answering(c.deployment.rpc, req, answer)

        with _proxy(c.deployment.rpc, intercept) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc)
            async with running_node(cfg) as (node, api):
                assert forged, "the saved head not read"  # (check_head's, at the start)
                c.rpc.call("hardhat_mine", hex(2))
                end = int(c.rpc.call("eth_blockNumber"), 16)
                await wait_for(lambda: (h := node.mirror.head) is not None and h.number >= end, 60)
                _, health = await api.get("/health")
                fees = health["chainMirror"]["baseFee"]
                assert fees["readUntrusted"] == 0 and not fees["refusing"], fees
