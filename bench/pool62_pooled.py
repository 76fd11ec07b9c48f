"""pool62: anvil's automine stall (left61) met by the node's settler. Mining paused, another
sender's transaction that fills the next block at a higher tip, then ``--batches`` batches of
64 matches sent; mining resumed as ``bench/node.py`` resumes it (``evm_setAutomine true``:
anvil mines one block, the other sender's). Measured: seconds from the resume until every
match's result is in, what the settler did (sent, replaced, gap fills, lost, failed) and
the gas the operator paid (wei, its balance before and after). Run it in each tree
(``PYTHONPATH=/work/main`` for main's settler). Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from sdex.chain.tx import fees_of
from sdex.chainnode import BLOCK_GAS
from sdex.devnet import Devnet
from tests.conftest import chain_of
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import OPERATOR, pair, running_settler

BURNER = 17
LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: burns its gas


async def one(batches: int, timeout: float) -> dict[str, object]:
    net = Devnet(engine="anvil", accounts=20)
    net.start()
    try:
        assert net.rpc is not None and net.deployment is not None
        c = chain_of(net.rpc, net.deployment)
        count = 64 * batches
        backlog = [pair(c, k) for k in range(count)]
        operator = c.address(OPERATOR)
        before = int(c.rpc.call("eth_getBalance", operator, "latest"), 16)
        with tempfile.TemporaryDirectory() as tmp:
            async with running_settler(c, Path(tmp)) as (settler, results):
                settler.backlog_batch = settler.gas.backlog_batch = 64
                c.rpc.call("evm_setAutomine", False)
                base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
                burner = c.sender(BURNER)
                tx = burner.sign(None, LOOP, BLOCK_GAS - 1_000_000, fees=(base, 10**10))
                burner.broadcast(tx)
                settler.submit(backlog)
                await wait_for(lambda: settler.sent == batches and not settler.sends, 60.0)
                resumed = time.perf_counter()
                c.rpc.call("evm_setAutomine", True)
                done = True
                try:
                    await wait_for(lambda: settler.idle.is_set() and len(results) == count, timeout)
                except AssertionError:
                    done = False
                took = time.perf_counter() - resumed
                out: dict[str, object] = {
                    "all_results": done,
                    "seconds_to_results": round(took, 2),
                    "sent": settler.sent,
                    "replaced": getattr(settler, "replaced", None),
                    "gap_fills": settler.gap_fills,
                    "lost": settler.lost,
                    "settled": settler.settled,
                    "failed": settler.failed,
                }
        after = int(c.rpc.call("eth_getBalance", operator, "latest"), 16)
        out["gas_paid_wei"] = before - after
        return out
    finally:
        net.stop()


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--timeout", type=float, default=200.0)
    args = p.parse_args()
    got = asyncio.run(one(args.batches, args.timeout))
    print(json.dumps({"bench": "pool62_pooled", "batches": args.batches, **got}, indent=1))


if __name__ == "__main__":
    run()
