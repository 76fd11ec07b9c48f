#!/usr/bin/env python3
"""Chain calls per contract-signed (EIP-1271) order copy: without the verdict cache vs with it.

One Hardhat devnet, one in-process node, two ERC1271Wallet makers: one funded whose orders
are signed by a stranger's key (bad signatures: what a hostile peer re-sends), one
unfunded whose orders are signed by its owner (valid, refused for funds: copies a node
does not keep). Each order arrives ``rounds`` times from peers; a round's copies arrive
together (one gossip push) or one at a time. The reference is the node with its
``Eip1271Batcher`` unplugged (every copy's signature judged by a ``getOrderStates`` call,
as before the cache), measured in the same run on fresh orders. Calls are counted on the
node's JSON-RPC client (``eth_call`` + ``eth_getCode``). Prints JSON; ``--write`` updates
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine, write_section  # noqa: E402

from sdex.chain import Sender, Token  # noqa: E402
from sdex.chain.exchange import deploy, load_abi  # noqa: E402
from sdex.chain.rpc import Rpc  # noqa: E402
from sdex.devnet import Devnet, free_port  # noqa: E402
from sdex.node.config import NodeConfig  # noqa: E402
from sdex.node.core import Node  # noqa: E402
from sdex.node.main import serve  # noqa: E402
from sdex.order import Order, SignedOrder, random_salt, sign_order  # noqa: E402

OWNER, STRANGER, OPERATOR = 5, 6, 19
PEER = "http://127.0.0.1:9"


def calls(node: Node) -> int:
    both = node.rpc.calls + node.contract_rpc.calls  # (verdicts: a client of their own)
    return both["eth_call"] + both["eth_getCode"]


def code_reads(node: Node) -> int:
    return node.rpc.calls["eth_getCode"] + node.contract_rpc.calls["eth_getCode"]


class Setup:
    def __init__(self, dep: Any, rpc: Rpc) -> None:
        self.keys = [bytes.fromhex(a.key[2:]) for a in dep.accounts]
        self.senders = [Sender(rpc, k, dep.chain_id) for k in self.keys]
        self.weth = Token(rpc, dep.token("WETH").address)
        self.usdc = Token(rpc, dep.token("USDC").address)
        self.exchange = dep.exchange
        owner = self.senders[OWNER].address
        self.funded = deploy(self.senders[0], "ERC1271Wallet", owner)
        self.unfunded = deploy(self.senders[0], "ERC1271Wallet", owner)
        self.weth.transfer(self.senders[OWNER], self.funded, 10**19)
        approve = load_abi("ERC1271Wallet").fn("approve")
        self.senders[OWNER].transact(
            self.funded, approve.encode(self.weth.address, self.exchange, 2**256 - 1)
        )

    def orders(self, node: Node, n: int, expiry: int) -> list[SignedOrder]:
        """Half bad signatures (funded wallet, a stranger's key), half valid unfunded."""
        out = []
        for i in range(n):
            maker, key = (self.funded, STRANGER) if i % 2 == 0 else (self.unfunded, OWNER)
            o = Order(
                maker=maker,
                taker="0x" + "00" * 20,
                maker_token=self.weth.address,
                taker_token=self.usdc.address,
                maker_amount=10**17,
                taker_amount=300 * 10**6,
                fee_recipient="0x" + "00" * 20,
                fee_amount=0,
                expiry=expiry,
                salt=random_salt(),
            )
            out.append(sign_order(o, node.domain, self.keys[key]))
        return out


async def phase(
    node: Node, orders: list[SignedOrder], rounds: int, together: bool
) -> dict[str, Any]:
    c0, t0 = calls(node), time.perf_counter()
    code0 = code_reads(node)
    verdicts: dict[str, int] = {}
    first_round = 0
    for i in range(rounds):
        if i == 1:
            first_round = calls(node) - c0
        if together:
            got = await asyncio.gather(
                *(node.submit_from_peer(so.to_json(), PEER) for so in orders)
            )
        else:
            got = [await node.submit_from_peer(so.to_json(), PEER) for so in orders]
        for v in got:
            verdicts[v] = verdicts.get(v, 0) + 1
    wall = time.perf_counter() - t0
    copies = rounds * len(orders)
    n = calls(node) - c0
    return {
        "copies": copies,
        "chain_calls": n,
        "eth_getCode": code_reads(node) - code0,
        "calls_per_copy": round(n / copies, 4),
        "first_round_calls": first_round,
        "later_rounds_calls_per_copy": round((n - first_round) / (copies - len(orders)), 4),
        "us_per_copy": round(wall / copies * 1e6, 1),
        "verdicts": verdicts,
    }


async def measure(cfg: NodeConfig, s: Setup, n: int, rounds: int) -> dict[str, Any]:
    async with serve(cfg) as node:
        await asyncio.wait_for(node.watcher.caught_up.wait(), 60)
        expiry = node.now() + 3600
        out: dict[str, Any] = {}
        for together in (False, True):
            shape = "together" if together else "one_at_a_time"
            sigs = node.contract_sigs
            node.intake.contract_sigs = node.peer_intake.contract_sigs = None
            before = await phase(node, s.orders(node, n, expiry), rounds, together)
            node.intake.contract_sigs = node.peer_intake.contract_sigs = sigs
            after = await phase(node, s.orders(node, n, expiry), rounds, together)
            out[shape] = {
                "before_no_cache": before,
                "after_cache": after,
                "ratio_calls_after_over_before": round(
                    after["chain_calls"] / max(before["chain_calls"], 1), 4
                ),
            }
        return out


async def run(n: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Devnet(accounts=20) as dep:
        rpc = Rpc(dep.rpc)
        try:
            s = Setup(dep, rpc)
            key = s.keys[OPERATOR]
            cfg = NodeConfig.from_deployment(dep, key, Path(tmp) / "a.db", port=free_port())
            cfg = replace(cfg, limits=replace(cfg.limits, max_orders_per_maker=10 * n))
            r = await measure(cfg, s, n, rounds)
        finally:
            rpc.close()
    return {"machine": machine(), "orders": n, "rounds": rounds, **r}


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    one = r["one_at_a_time"]["after_cache"]
    rows = []
    for shape, label in (("one_at_a_time", "one at a time"), ("together", "a round together")):
        x = r[shape]
        b, a = x["before_no_cache"], x["after_cache"]
        rows.append(
            f"| {label} | {b['copies']:,} | {b['chain_calls']:,} ({b['calls_per_copy']}) | "
            f"{a['chain_calls']:,} ({a['calls_per_copy']}) | "
            f"{b['later_rounds_calls_per_copy']} / {a['later_rounds_calls_per_copy']} | "
            f"{x['ratio_calls_after_over_before']} | {b['us_per_copy']:,} / {a['us_per_copy']:,} |"
        )
    return (
        f"Measured {date.today().isoformat()} on {m['os']}, nproc {m['nproc']}, {m['cpu']}, "
        f"CPython {m['python']}, by `bench/eip1271.py --orders {r['orders']} --rounds "
        f"{r['rounds']}`: one in-process node, one Hardhat. {r['orders']} contract-signed "
        "orders (half signed by a stranger's key for a funded ERC1271Wallet, half signed "
        "by the owner of an unfunded one: copies the node refuses and does not keep), each "
        f"arriving {r['rounds']} times by `submit_from_peer`. Chain calls are `eth_call` + "
        "`eth_getCode` on the node's JSON-RPC client; before = the same node with its "
        "EIP-1271 batcher unplugged (a `getOrderStates` read per copy, batched per window "
        "as before), on fresh orders in the same run.\n\n"
        "| copies arrive | copies | chain calls before (per copy) | after (per copy) | "
        "per repeat copy (rounds 2+) before / after | ratio after/before | "
        "µs per copy before / after |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nAfter: the first copies of (maker, order hash, signature) arriving in one "
        "window share one `getOrderStates`; a valid verdict of a maker not tracked yet adds "
        "one `eth_getCode` batch (one at a time: "
        f"{one['chain_calls'] - one['eth_getCode']} `eth_call` + {one['eth_getCode']} "
        "`eth_getCode`); no later copy costs a call, valid or not. A tracked maker (one with "
        "a valid verdict) costs one `eth_getCode` per new block, all tracked makers in one "
        "batch (none here: no block was mined while measuring).\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--write", type=Path, help="update the EIP-1271 section of this file")
    args = ap.parse_args()
    r = asyncio.run(run(args.orders, args.rounds))
    print(json.dumps(r, indent=2))
    if args.write:
        write_section(args.write, "EIP-1271 verdict cache (bench/eip1271.py)", markdown(r))


if __name__ == "__main__":
    main()
