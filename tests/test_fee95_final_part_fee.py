"""fee95 (left43's "Fees"): blocks deeper than the reorg depth below the tip the chain claims
are read without their headers (``sdex.watch.ranges.read_range``'s final part: their logs,
and the last one's hash alone), and the fee floor stayed at the last header read while the
mirror's head passed them. The first recent header was then bounded by EIP-1559's highest
(9/8 a block) over every block passed unread: a fee far past the reach of the headers read
(up to the ceiling) was believed, and the pair signed at it. Now the floor's fee is carried
to the final part's last block (``sdex.chain.feefloor.FeeFloor.passed``): a rise is bounded
9/8 a header read, linked.

Real Hardhat, a real node in this process run to the chain's head (its fee set low) and
stopped; ``GAP`` blocks mined while it is down; the restart behind a real loopback proxy
(``tests.rpcfault._proxy``) answering every block past the saved head with a fee of ``LIE``,
its hash (and its parent's, past the saved head) rewritten alike: a chain forged
consistently past the saved head, linked, with a fee far past the 128 recent headers' reach
of the floor but within EIP-1559's reach over the blocks passed unread."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdex.chain.feebounds import highest
from sdex.keccak import keccak
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept
from tests.rpcfault import _proxy
from tests.startheads import ran_to_head
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid
from tests.test_bounds84_base_fee import relaying

DEPTH = 128
"""The node's reorg depth (``sdex node``'s default): the recent part's headers."""
GAP = 330
"""Blocks mined while the node is down: ~200 of them passed unread (the final part)."""
LOW = 1000
"""The chain's fee (wei) when the node stops: its floor, about."""
LIE = 10**12
"""The forged blocks' fee (1,000 gwei, under the ceiling)."""


def fake(block_hash: str) -> str:
    """A forged block's hash: another, derived from the chain's (so that links agree)."""
    return "0x" + keccak(bytes.fromhex(block_hash[2:])).hex()


def forging(block: dict[str, Any], saved: int) -> None:
    """``block`` (a header as the RPC gives it) rewritten in place if past ``saved``."""
    said = block.get("number")
    number = int(said, 16) if isinstance(said, str) else -1
    if number <= saved:
        return
    block["baseFeePerGas"] = hex(LIE)
    block["hash"] = fake(block["hash"])
    if number - 1 > saved:
        block["parentHash"] = fake(block["parentHash"])


async def test_blocks_passed_unread_do_not_widen_the_fee_bound(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        for _ in range(3):  # (a fall, read again: believed, the floor)
            c.rpc.call("evm_mine")
        saved = int((await ran_to_head(c, db))["number"], 16)
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='mirror_floor'").fetchone()
        conn.close()
        assert row is not None, "no floor saved"
        at, floor = json.loads(row[0])
        for _ in range(GAP):  # (empty blocks, each its parent's hash)
            c.rpc.call("evm_mine")
        tip = saved + GAP
        first_recent = tip - DEPTH + 1
        # (main: believed, EIP-1559's reach over the blocks passed unread; fee95: past the
        # reach of the recent headers read, and of fifty blocks more)
        assert highest((at, floor), first_recent, LIE) >= LIE, (at, floor)
        assert highest((tip - DEPTH, floor), tip + 50, LIE) < LIE, (at, floor)
        signed: list[int] = []
        forged = [0]
        upstream = c.deployment.rpc

        def edit(calls: list[dict[str, object]], answers: list[Any]) -> None:
            for q, r in zip(calls, answers, strict=False):
                got = r.get("result") if isinstance(r, dict) else None
                if q.get("method") == "eth_getBlockByNumber" and isinstance(got, dict):
                    forging(got, saved)
                    forged[0] += got.get("baseFeePerGas") == hex(LIE)

        price = 2000 + tip % 1000  # (this run's own)
        with _proxy(upstream, relaying(upstream, signed, edit)) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, api):
                pair = (
                    ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
                    bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
                )
                for o in pair:
                    code, body = await api.post_order(o)
                    assert code == 201, body
                heads = node.mirror.announced

                def read_to_tip() -> bool:
                    head = node.mirror.head
                    return head is not None and head.number >= tip and heads.untrusted >= 3

                await wait_for(lambda: bool(signed) or read_to_tip(), 90)
                await wait_for(lambda: bool(signed) or forged[0] >= DEPTH + 12, 30)
                assert not signed or max(signed) < LIE // 2, signed  # (main: ~LIE)
                assert heads.read_fee is None or heads.read_fee[1] < LIE, heads.to_json()
                assert heads.refusing and heads.untrusted >= 1, heads.to_json()
