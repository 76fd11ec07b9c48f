"""review96b: two ways round fee95's bound on a rise over blocks passed unread
(``sdex.chain.feefloor.FeeFloor.passed``), both by the lying endpoint of
``tests.test_fee95_final_part_fee`` (every block past the saved head forged at ``LIE``, linked).

A restart: the mark of the blocks passed unread (``_passed``) lived in memory alone. The floor
saved with the head was the last header believed, below them: the restarted node bounded the
next header by EIP-1559's highest over every block passed unread again, and ``LIE`` (refused
before the restart) was believed and signed with at the first block mined after it.

A reorg: ``Mirror.undo_to`` gave ``HeadSignal.rewound`` the fork block's fee as the mirror kept
its header (settle89), believed or not: the liar's refused headers applied to the mirror, one
block at the tip answered with another hash made the fork block's ``LIE`` the floor, believed
and signed with at once. Now the fork's fee bounds the new branch only when the floor kept
below the fork reaches it, as a header read would be judged; and the mark of blocks passed
unread below the fork outlives the reorg."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdex.chain.feebounds import highest
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept
from tests.rpcfault import Answer, _proxy, raw_sends
from tests.startheads import ran_to_head
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid
from tests.test_bounds84_base_fee import signed_base_fee
from tests.test_fee95_final_part_fee import DEPTH, GAP, LIE, LOW, fake, forging


class Liar:
    """The forging proxy's state: what was signed, and from which block on (``moved``) the
    chain's blocks get another hash again (a reorg of the forged chain at that block)."""

    def __init__(self, upstream: str, saved: int) -> None:
        self.upstream, self.saved = upstream, saved
        self.signed: list[int] = []
        self.moved: int | None = None

    def forge(self, block: dict[str, Any]) -> None:
        forging(block, self.saved)
        number = int(block["number"], 16) if isinstance(block.get("number"), str) else -1
        if self.moved is not None and number >= self.moved:
            block["hash"] = fake(block["hash"])
            if number > self.moved:
                block["parentHash"] = fake(block["parentHash"])

    def intercept(self, req: object) -> Answer:
        calls, raws = raw_sends(req)
        self.signed.extend(signed_base_fee(r) for r in raws)
        headers = {"Content-Type": "application/json"}
        fwd = urllib.request.Request(self.upstream, json.dumps(req).encode(), headers)
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            out = json.loads(resp.read())
        for q, r in zip(calls, out if isinstance(out, list) else [out], strict=False):
            got = r.get("result") if isinstance(r, dict) else None
            if q.get("method") == "eth_getBlockByNumber" and isinstance(got, dict):
                self.forge(got)
        return 200, json.dumps(out).encode()


def _down_while_mined(c: Chain, saved: int) -> int:
    """``GAP`` empty blocks mined past the saved head ``saved`` (the node down): the tip."""
    for _ in range(GAP):
        c.rpc.call("evm_mine")
    tip = saved + GAP
    assert highest((tip - DEPTH, LOW), tip + 10, LIE) < LIE  # (fee95's: a rise refused)
    return tip


def _saved_head(db: Path) -> int:
    """The head the node saved on ``db`` (its block number; -1: none)."""
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
    conn.close()
    return -1 if row is None else int(json.loads(row[0])[0])


async def _post_pair(c: Chain, api: Any, salt: int) -> None:
    price = 2000 + salt % 1000
    for o in (
        ask(c, ALICE, E18 // 100, price * E6 // 100, salt=salt),
        bid(c, BOB, E18 // 100, price * E6 // 100, salt=salt),
    ):
        code, body = await api.post_order(o)
        assert code == 201, body


async def test_a_restart_keeps_the_blocks_passed_unread_out_of_the_bound(
    chain: Chain, tmp_path: Path
) -> None:
    c, db = chain, tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        for _ in range(3):
            c.rpc.call("evm_mine")
        saved = int((await ran_to_head(c, db))["number"], 16)
        tip = _down_while_mined(c, saved)
        liar = Liar(c.deployment.rpc, saved)
        with _proxy(c.deployment.rpc, liar.intercept) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, _):  # (fee95's: the recent headers refused)
                heads = node.mirror.announced

                def read_to_tip() -> bool:
                    head = node.mirror.head
                    return head is not None and head.number >= tip and heads.untrusted >= 1

                await wait_for(read_to_tip, 90)
                assert heads.read_fee is not None and heads.read_fee[1] < LIE, heads.to_json()
                await wait_for(lambda: _saved_head(db) >= tip, 30)
            c.rpc.call("evm_mine")  # (one block past the head saved: its header forged too)
            async with running_node(cfg) as (node, api):
                heads = node.mirror.announced
                await _post_pair(c, api, 7000 + tip)
                await wait_for(
                    lambda: bool(liar.signed)
                    or (node.mirror.head is not None and node.mirror.head.number > tip), 90
                )  # fmt: skip
                await wait_for(lambda: bool(liar.signed) or heads.untrusted >= 2, 30)
                assert not liar.signed or max(liar.signed) < LIE // 2, liar.signed
                assert heads.read_fee is None or heads.read_fee[1] < LIE, heads.to_json()


async def test_a_reorg_makes_no_refused_fee_the_floor(chain: Chain, tmp_path: Path) -> None:
    c, db = chain, tmp_path / "n.db"
    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        for _ in range(3):
            c.rpc.call("evm_mine")
        saved = int((await ran_to_head(c, db))["number"], 16)
        tip = _down_while_mined(c, saved)
        liar = Liar(c.deployment.rpc, saved)
        with _proxy(c.deployment.rpc, liar.intercept) as rpc:
            cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, api):
                heads = node.mirror.announced

                def read_to(n: int) -> bool:
                    head = node.mirror.head
                    return head is not None and head.number >= n and heads.untrusted >= 1

                await wait_for(lambda: read_to(tip), 90)
                assert heads.read_fee is not None and heads.read_fee[1] < LIE, heads.to_json()
                rewinds = heads.rewinds
                liar.moved = tip  # (the tip answered with another hash: a reorg at tip - 1)
                c.rpc.call("evm_mine")
                await wait_for(lambda: heads.rewinds > rewinds and read_to(tip + 1), 60)
                await _post_pair(c, api, 8000 + tip)
                await wait_for(lambda: bool(liar.signed) or heads.untrusted >= 3, 30)
                assert not liar.signed or max(liar.signed) < LIE // 2, liar.signed
                assert heads.read_fee is None or heads.read_fee[1] < LIE, heads.to_json()


async def test_a_range_that_fails_leaves_no_mark_of_blocks_passed(
    chain: Chain, tmp_path: Path
) -> None:
    """(``read_range``) The mark of blocks passed unread was set before the range's later
    checks: a tip claimed 3,000 blocks ahead, its final block answered null, left the mark
    ~2,000 blocks past the mirror's head, and every honest rise after it was refused ("above
    EIP-1559's highest") till the chain came that far: hours of no settlement from one
    answer. Now it is set only once the range's checks passed."""
    c = chain
    ahead = [False]
    upstream = c.deployment.rpc

    def real_tip() -> int:
        return int(c.rpc.call("eth_blockNumber"), 16)

    def intercept(req: object) -> Answer | None:
        if not ahead[0]:
            return None
        calls = req if isinstance(req, list) else [req]
        tip = real_tip()
        out: list[dict[str, Any]] = []
        for q in calls:
            method, params = q.get("method"), q.get("params") or []
            if method == "eth_blockNumber":
                result: Any = hex(tip + 3000)
            elif method == "eth_getLogs" and int(params[0].get("toBlock", "0x0"), 16) > tip:
                result = []  # (the blocks past the real tip: none of ours)
            else:
                body = json.dumps({**q, "id": 1}).encode()
                fwd = urllib.request.Request(upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(fwd, timeout=30) as resp:
                    result = json.loads(resp.read()).get("result")
                if method == "eth_getBlockByNumber" and params[0] == "latest" and result:
                    result["number"] = hex(tip + 3000)
                    result["hash"] = fake(result["hash"])
            out.append({"jsonrpc": "2.0", "id": q.get("id"), "result": result})
        return 200, json.dumps(out if isinstance(req, list) else out[0]).encode()

    with base_fee_kept(c):
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(LOW))
        for _ in range(3):
            c.rpc.call("evm_mine")
        with _proxy(upstream, intercept) as rpc:
            cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc, new_heads=False)
            async with running_node(cfg) as (node, _):
                heads, m = node.mirror.announced, node.mirror
                head = real_tip()
                await wait_for(lambda: m.head is not None and m.head.number >= head, 60)
                failures = node.watcher.failures
                ahead[0] = True  # (one backend far ahead: its final block not there)
                await wait_for(lambda: node.watcher.failures >= failures + 2, 60)
                ahead[0] = False
                fee = heads.read_fee[1] if heads.read_fee else LOW
                for _ in range(3):  # (an honest rise, within 9/8 a block)
                    fee = fee + fee // 10
                    c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(fee))
                    c.rpc.call("evm_mine")

                def risen() -> bool:
                    floor = heads.floor_at(10**9)
                    return floor is not None and floor[0] >= head + 3

                await wait_for(lambda: m.head is not None and m.head.number >= head + 3, 60)
                await wait_for(risen, 30)  # (before: refused, the floor at the old head)
                assert heads.walk is None, heads.to_json()
