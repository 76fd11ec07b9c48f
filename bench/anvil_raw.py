"""Where anvil's time goes per settled match, from a bare client (no node): pre-signed
``batchMatchOrders`` of ``--sizes`` warm matches sent one after the other, each waiting for
its receipt, on fresh anvil chains started with each ``--configs`` option set in turn
(alternated: A, B, A, B...). Two ways of waiting for the receipt:

- ``poll``: ``eth_sendRawTransaction``, then ``eth_getTransactionReceipt`` polled from 5 ms,
  doubling (bench/node.py's raw sender: ``Sender.wait``);
- ``sync``: ``eth_sendRawTransactionSync`` (EIP-7966), answered with the receipt once mined;
- ``blockK`` (``block4``...): automine off, ``K`` batches sent, then ``evm_mine`` (again
  while any waits in the pool), then their receipts: ``K`` transactions a block (each signed
  with ``BLOCK_GAS`` a match, so that ``K`` fit anvil's 30 M block), anvil's per-block cost
  paid once for them (what interval mining would do).

Per round: matches/s, anvil's CPU per match (user+sys) and its cores, the bench client's
cores, the other processes' cores, and the wall time per batch. Prints JSON.

    PYTHONPATH=$PWD .venv/bin/python bench/anvil_raw.py --configs "" " --prune-history 256"

(A config that starts with ``--`` needs a leading space, or argparse takes it for an option.)
Findings: docs/BENCHMARKS.md, "anvil35".
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from node import (
    RAW_SENDER,
    CpuMeter,
    devnet_signer,
    raw_batch_tx,
)

from sdex.chain import Exchange, Receipt, Rpc, Sender
from sdex.chainnode import AnvilNode
from sdex.devnet import Devnet
from sdex.settlement.gas import BASE_GAS

BLOCK_GAS = 100_000
"""Gas limit a match of the ``blockK`` way's transactions (warm matches use ~88,700)."""


def _in_blocks(rpc: Rpc, sender: Sender, txs: list[Any], k: int) -> tuple[list[Receipt], int]:
    """``txs`` sent ``k`` at a time, each group mined by ``evm_mine``: receipts, blocks."""
    receipts: list[Receipt] = []
    blocks = 0
    rpc.call("evm_setAutomine", False)
    try:
        for g in range(0, len(txs), k):
            group = txs[g : g + k]
            for tx in group:
                sender.broadcast(tx)
            for _ in range(len(group)):  # (a group the block's gas cannot hold: more blocks)
                rpc.call("evm_mine")
                blocks += 1
                mined = rpc.call("eth_getTransactionCount", sender.address, "latest")
                if rpc.call("eth_getTransactionCount", sender.address, "pending") == mined:
                    break
            receipts += [sender.wait(tx.tx_hash) for tx in group]
    finally:
        rpc.call("evm_setAutomine", True)
    return receipts, blocks


def one_round(
    rpc_url: str, dep: Any, signer: Any, first: int, batches: int, size: int, way: str, pid: int
) -> dict[str, Any]:
    rpc = Rpc(rpc_url)
    try:
        ex = Exchange(rpc, dep.exchange)
        sender = Sender(rpc, signer.keys[RAW_SENDER], dep.chain_id)
        k = int(way.removeprefix("block")) if way.startswith("block") else 0
        gas = BASE_GAS + BLOCK_GAS * size if k else None
        txs = [
            raw_batch_tx(signer, sender, ex, first + b * size, size, gas) for b in range(batches)
        ]
        settled = 0
        walls = []
        blocks = batches
        with CpuMeter({"anvil": pid}) as cpu:
            t0 = time.perf_counter()
            if k:
                got, blocks = _in_blocks(rpc, sender, txs, k)
                for receipt in got:
                    if receipt.status != 1:
                        raise RuntimeError(f"batch {receipt.tx_hash} reverted")
                    settled += len(ex.fills(receipt.logs)) // 2
                walls.append((time.perf_counter() - t0) / max(1, blocks))
            for tx in txs if not k else ():
                tb = time.perf_counter()
                if way == "sync":
                    raw, _ = sender.broadcast_sync(tx, 10.0)
                    receipt = sender.wait(tx.tx_hash) if raw is None else Receipt.from_rpc(raw)
                else:
                    sender.broadcast(tx)
                    receipt = sender.wait(tx.tx_hash)
                walls.append(time.perf_counter() - tb)
                if receipt.status != 1:
                    raise RuntimeError(f"batch {tx.tx_hash} reverted")
                settled += len(ex.fills(receipt.logs)) // 2
            seconds = time.perf_counter() - t0
    finally:
        rpc.close()
    return {
        "matches_per_s": round(settled / seconds),
        "anvil_cpu_ms_per_match": round(1000 * cpu.cores["anvil"] * seconds / settled, 3),
        "ms_per_batch_p50": round(1000 * statistics.median(walls), 2),
        "blocks": blocks,
        "cores": cpu.cores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--configs", nargs="+", default=["", "--prune-history 256"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[64])
    ap.add_argument("--ways", nargs="+", default=["poll", "sync"])
    ap.add_argument("--batches", type=int, default=16, help="batches a round")
    ap.add_argument("--rounds", type=int, default=2, help="chains started per config")
    ap.add_argument(
        "--repeat", type=int, default=1,
        help="the sizes and ways this many times on each chain (its drift as blocks grow)",
    )  # fmt: skip
    args = ap.parse_args()
    out: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for config in args.configs:
            AnvilNode.extra_args = tuple(shlex.split(config))
            dev = Devnet(engine="anvil", accounts=20)
            dep = dev.start()
            try:
                dev_rpc_url = dev.node.url
                signer, _ = devnet_signer(dev, dep)
                assert dev.node.proc is not None
                pid = dev.node.proc.pid
                first = 0
                row: dict[str, Any] = {"round": r, "config": config, "results": {}}
                # warm the makers (their first fill writes fresh storage)
                one_round(dev_rpc_url, dep, signer, first, 4, 64, "sync", pid)
                first += 256
                for rep in range(args.repeat):
                    for size in args.sizes:
                        for way in args.ways:
                            res = one_round(
                                dev_rpc_url, dep, signer, first, args.batches, size, way, pid
                            )
                            first += args.batches * size
                            name = f"{size}/{way}" if args.repeat == 1 else f"{rep}:{size}/{way}"
                            row["results"][name] = res
                out.append(row)
                print(json.dumps(row), file=sys.stderr)
            finally:
                dev.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
