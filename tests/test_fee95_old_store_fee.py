"""fee95 (the fee90 weakness, once per store saved before fee93): a store saved without a fee
floor (an older version's: ``meta``'s ``mirror_floor`` row absent) started with the deploy
block's fee as its first bound, and the saved head's fee read once from the endpoint
(``check_head``, a sealed header only). An answer of the saved head that did not seal (its
fee changed, its hash kept) left the deploy block's bound, whose EIP-1559 reach over every
block since holds every fee to the ceiling: a read of the latest block at 1,000 gwei was
believed before the mirror read any block by number (not signed with: the start's catch-up
signs nothing till it applied the blocks since, whose fees, read by number, then bound;
a chain forged past the saved head, as fee95's final part, would have been believed from
that reach). Now such a store believes no fee till the mirror reads a block by its number
(``sdex.chain.feefloor.FeeFloor.unproven``): the saved head's, sealed with the hash saved
(``check_head``: proven, the floor), else the first its ranges read.

Real Hardhat, a real node in this process run to the chain's head (its fee set low) and
stopped, its floor row deleted; the restart behind a real loopback proxy that answers the
saved head and the latest block with a fee of ``LIE`` (their hashes kept) and refuses every
``eth_getLogs`` (the mirror's ranges fail: no block read by number)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.floorless import floor_dropped, logs_refused
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept
from tests.rpcfault import _proxy
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import relaying

LOW = 1000
"""The chain's fee (wei) when the node stops."""
LIE = 10**12
"""The fee the proxy answers (1,000 gwei, under the ceiling)."""
PAST_DEPLOY = 130
"""Blocks at least between the deploy block and the saved head: the deploy block's fee's
reach over them is past ``LIE``."""


async def test_a_store_without_a_floor_believes_no_fee_before_a_block_read_by_number(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        c.rpc.call("evm_mine")
        while int(c.rpc.call("eth_blockNumber"), 16) < c.deployment.deploy_block + PAST_DEPLOY:
            c.rpc.call("evm_mine")
        saved = int((await ran_to_head(c, db))["number"], 16)
        floor_dropped(db)
        for _ in range(2):
            c.rpc.call("evm_mine")
        signed: list[int] = []
        lies = [0]
        upstream = c.deployment.rpc

        def lie(said: object, got: dict[str, Any]) -> None:
            if said in ("latest", hex(saved)):
                got["baseFeePerGas"] = hex(LIE)  # (its hash kept: not sealed)
                lies[0] += 1

        edit = logs_refused(lie)
        with (
            caplog.at_level(logging.WARNING, logger="sdex.watch"),
            _proxy(upstream, relaying(upstream, signed, edit)) as rpc,
        ):
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, _):
                heads = node.mirror.announced
                await wait_for(lambda: lies[0] >= 12 or bool(signed), 60)
                assert not signed, signed
                # (main: the latest block's LIE believed, the deploy block's reach the bound)
                assert heads.read_fee is None and heads.base_fee is None, heads.read_fee
                assert heads.unbound and heads.waiting() is not None, heads.to_json()
                assert node.mirror.head is not None and node.mirror.head.number == saved
        # (fee97: the refusal said, once: read again apart, still unsealed)
        said = [r.getMessage() for r in caplog.records if "not Keccak-256" in r.getMessage()]
        assert len(said) == 1 and f"its base fee {LIE} is not believed" in said[0], said
