"""review97a (fee97's review): a store saved without a fee floor (an older version's) reads its
saved head's fee as the first bound from a header that seals with the hash saved
(``sdex.watch.fork._head_fee``); one that does not is read once more apart. That second
answer, sealed, was believed with the FIRST answer's fee: a first read whose fee was a lie
(its hash kept, not sealed), then an honest one (a balancer's other backend, a liar letting a
new connection through), made the lie the proven first bound. Now the sealed answer's own.

Real Hardhat, a real node in this process run to the chain's head (its fee set low) and
stopped, its floor row deleted; the restart behind a real loopback proxy that answers the
saved head's first read with a fee of ``LIE`` (its hash kept) and every later one as the
chain does, and refuses every ``eth_getLogs`` (no block read by number: the head's fee alone
bounds)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.floorless import floor_dropped, logs_refused
from tests.nodeutil import node_config, running_node
from tests.replacedrow import base_fee_kept
from tests.rpcfault import _proxy
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import relaying

LOW = 1000
"""The chain's fee (wei) when the node stops."""
LIE = 10**12
"""The fee the proxy answers the saved head's first read with (1,000 gwei)."""


async def test_the_saved_heads_fee_is_the_sealed_answers(chain: Chain, tmp_path: Path) -> None:
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        c.rpc.call("evm_mine")
        top = await ran_to_head(c, db)
        saved, fee = int(top["number"], 16), int(top["baseFeePerGas"], 16)
        assert fee == LOW, top
        floor_dropped(db)
        signed: list[int] = []
        reads = [0]
        upstream = c.deployment.rpc

        def lie_first(said: object, got: dict[str, Any]) -> None:
            if said == hex(saved):
                reads[0] += 1
                if reads[0] == 1:
                    got["baseFeePerGas"] = hex(LIE)  # (its hash kept: not sealed)

        edit = logs_refused(lie_first)
        with _proxy(upstream, relaying(upstream, signed, edit)) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, _):
                heads = node.mirror.announced
                assert reads[0] >= 2, reads  # (the lie, then the honest answer apart)
                # (main: the first answer's LIE believed, the second sealing)
                assert heads.read_fee == (saved, LOW), (heads.read_fee, heads.to_json())
