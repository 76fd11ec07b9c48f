"""Hardhat's CPU a match and raw matches a second under different Hardhat settings
(hardhat50, issue 12: can ``hardhat node`` mine ``batchMatchOrders`` cheaper?).

Every variant runs its own ``hardhat node`` (started as ``sdex devnet`` starts it, with a
config file of its own that takes hardhat.config.js and overrides ``networks.hardhat``, and
its own environment), deployed and warmed up; then the rounds alternate the variants (the
order turned every other round), each round the raw sender's ``batchMatchOrders`` of 64 on
every variant's chain (send, then ask the receipt), so all the chains grow alike and each
variant is measured in the same minutes as ``base`` (the devnet before hardhat50: mimalloc's
own 10 ms purge delay; ``devnet``: ``sdex.chainnode.HARDHAT_ALLOCATOR``).

Per variant and round: Hardhat's user and system CPU ms a match, page faults a match, the
JS thread's (``node``) and EDR's workers' (``tokio-runtime-w``) user+sys ms a match, and
matches a second. One JSON line: the medians, ``ratio_to_base`` (each figure's median of
the per-round ratios to ``base``'s round beside it) and the rounds."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.chain import Exchange, Rpc, Sender, SignedTx
from sdex.chain.abi import REPO_ROOT
from sdex.chainnode import HARDHAT_ALLOCATOR, HardhatNode
from sdex.devnet import Devnet


@dataclass(frozen=True)
class Variant:
    hardhat: dict[str, Any] = field(default_factory=dict)
    """Overrides of ``networks.hardhat`` (hardhat.config.js's keys)."""
    env: dict[str, str] = field(default_factory=dict)
    logging: bool = False
    """Leave Hardhat's per-request log on (``hardhat node``'s default; the devnet turns it off)."""
    no_build_info: bool = False
    """Hardhat reads no build info (an empty artifacts folder): no contract decoder."""


VARIANTS: dict[str, Variant] = {
    "base": Variant(),
    "devnet": Variant(env=dict(HARDHAT_ALLOCATOR)),
    "logging": Variant(logging=True),
    "same_ts": Variant(hardhat={"allowBlocksWithSameTimestamp": True}),
    "no_throw": Variant(
        hardhat={"throwOnTransactionFailures": False, "throwOnCallFailures": False}
    ),
    "gas16m": Variant(hardhat={"blockGasLimit": 16_777_216}),
    "gas60m": Variant(hardhat={"blockGasLimit": 60_000_000}),
    "fifo": Variant(hardhat={"mining": {"auto": True, "mempool": {"order": "fifo"}}}),
    "no_build_info": Variant(no_build_info=True),
    "cached1": Variant(env={"__EDR_MAX_CACHED_STATES": "1"}),
    "cached16": Variant(env={"__EDR_MAX_CACHED_STATES": "16"}),
    "tokio1": Variant(env={"TOKIO_WORKER_THREADS": "1"}),
    "mi_nopurge": Variant(env={"MIMALLOC_PURGE_DELAY": "-1"}),
    "mi_eager_only": Variant(env={"MIMALLOC_ARENA_EAGER_COMMIT": "1"}),
    "mi_eager_1s": Variant(
        env={"MIMALLOC_ARENA_EAGER_COMMIT": "1", "MIMALLOC_PURGE_DELAY": "1000"}
    ),
    "mi_reserve": Variant(env={"MIMALLOC_RESERVE_OS_MEMORY": "1GiB", "MIMALLOC_PURGE_DELAY": "-1"}),
    "mi_eager": Variant(env={"MIMALLOC_ARENA_EAGER_COMMIT": "1", "MIMALLOC_PURGE_DELAY": "-1"}),
    "uv1": Variant(env={"UV_THREADPOOL_SIZE": "1"}),
}

CONFIG = """\
const base = require({base});
const over = {over};
module.exports = {{
  ...base,
  paths: {{ ...base.paths, root: {root}{artifacts} }},
  networks: {{ ...base.networks, hardhat: {{ ...base.networks.hardhat, ...over }} }},
}};
"""


class VariantNode(HardhatNode):
    """``sdex devnet``'s ``hardhat node`` with a variant's config file and environment."""

    def __init__(self, port: int, log_path: Path, variant: Variant, work: Path) -> None:
        super().__init__(port, log_path)
        self.variant = variant
        self.config = work / "hardhat.config.js"
        artifacts = ""
        if variant.no_build_info:
            (work / "artifacts").mkdir()
            artifacts = f", artifacts: {json.dumps(str(work / 'artifacts'))}"
        self.config.write_text(
            CONFIG.format(
                base=json.dumps(str(REPO_ROOT / "hardhat.config.js")),
                over=json.dumps(variant.hardhat),
                root=json.dumps(str(REPO_ROOT)),
                artifacts=artifacts,
            )
        )

    def command(self) -> list[str]:
        return [*super().command(), "--config", str(self.config)]

    def env(self) -> dict[str, str]:
        # (mimalloc's own purge delay, as main's devnet ran Hardhat, unless the variant's)
        return {**super().env(), "MIMALLOC_PURGE_DELAY": "10", **self.variant.env}

    def after_start(self, rpc: Rpc) -> None:
        if not self.variant.logging:
            super().after_start(rpc)


class Chain:
    """One variant's running devnet and raw sender."""

    def __init__(self, name: str, root: Path) -> None:
        work = root / name
        work.mkdir()
        self.name = name
        self.dev = Devnet(log_path=work / "hardhat.log")
        self.dev.node = VariantNode(self.dev.node.port, work / "hardhat.log", VARIANTS[name], work)
        dep = self.dev.start()
        assert self.dev.node.proc is not None and self.dev.rpc is not None
        self.pid = self.dev.node.proc.pid
        self.rpc = self.dev.rpc
        self.signer, _ = bn.devnet_signer(self.dev, dep)
        self.ex = Exchange(self.rpc, dep.exchange)
        self.sender = Sender(self.rpc, self.signer.keys[bn.RAW_SENDER], dep.chain_id)
        self.made = 0

    def batches(self, n: int, size: int) -> list[SignedTx]:
        out = []
        for _ in range(n):
            out.append(bn.raw_batch_tx(self.signer, self.sender, self.ex, self.made + 1, size))
            self.made += size
        return out

    def send(self, txs: list[SignedTx]) -> None:
        for tx in txs:
            self.sender.broadcast(tx)
            for _ in range(4000):
                r = self.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
                if r is not None:
                    if r["status"] != "0x1":
                        raise RuntimeError(f"{self.name}: {tx.tx_hash} reverted")
                    break
                time.sleep(0.002)
            else:
                raise RuntimeError(f"{self.name}: no receipt for {tx.tx_hash}")

    def round(self, batches: int, size: int) -> dict[str, float]:
        txs = self.batches(batches, size)
        n = size * len(txs)
        threads = bn.thread_split(self.pid)
        before, t0 = bn.cpu_user_sys(self.pid), time.perf_counter()
        self.send(txs)
        wall = time.perf_counter() - t0
        split = bn.user_sys_per_match(before, self.pid, n)
        by_thread = bn.thread_split_per_match(threads, self.pid, n)
        js = by_thread.get("node", [0.0, 0.0])
        tokio = by_thread.get("tokio-runtime-w", [0.0, 0.0])
        return {
            **split,
            "chain_ms_per_match": round(
                split["chain_user_ms_per_match"] + split["chain_sys_ms_per_match"], 3
            ),
            "js_thread_ms_per_match": round(js[0] + js[1], 3),
            "edr_workers_ms_per_match": round(tokio[0] + tokio[1], 3),
            "matches_per_s": round(n / wall),
        }


def ratios(rounds: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each variant's figures over base's in the same round, the median over rounds."""
    out: dict[str, dict[str, float]] = {}
    for name, rows in rounds.items():
        if name == "base":
            continue
        out[name] = {
            k: round(
                statistics.median(
                    r[k] / b[k] for r, b in zip(rows, rounds["base"], strict=True) if b[k]
                ),
                3,
            )
            for k in ("chain_ms_per_match", "chain_user_ms_per_match", "matches_per_s")
        }
    return out


def memory_mb(pid: int) -> dict[str, int]:
    """A process's resident memory now and at its peak, MB (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in status
        if line.startswith("VmRSS") or line.startswith("VmHWM")
    }
    return {"rss": kb["VmRSS"] // 1024, "peak": kb["VmHWM"] // 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default="base,devnet")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batches", type=int, default=8, help="batches a variant a round")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=4)
    args = ap.parse_args()
    names = args.variants.split(",")
    if "base" not in names:
        names.insert(0, "base")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}: expected some of {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory(prefix="sdex-hardhat-options-") as tmp:
        chains: list[Chain] = []
        try:
            for name in names:
                chains.append(Chain(name, Path(tmp)))
                print(f"{name}: pid {chains[-1].pid}", file=sys.stderr, flush=True)
            for c in chains:
                c.send(c.batches(args.warmup, args.size))
            rounds: dict[str, list[dict[str, float]]] = {c.name: [] for c in chains}
            for r in range(args.rounds):
                for c in chains if r % 2 == 0 else chains[::-1]:
                    rounds[c.name].append(c.round(args.batches, args.size))
            out = {
                "at": time.strftime("%H:%M:%S"),
                "load": round(os.getloadavg()[0], 1),
                "batches": args.batches,
                "size": args.size,
                "median": {
                    n: {k: statistics.median(x[k] for x in v) for k in v[0]}
                    for n, v in rounds.items()
                },
                "ratio_to_base": ratios(rounds),
                "memory_mb": {c.name: memory_mb(c.pid) for c in chains},
                "rounds": rounds,
            }
            print(json.dumps(out), flush=True)
        finally:
            for c in chains:
                c.dev.stop()


if __name__ == "__main__":
    main()
