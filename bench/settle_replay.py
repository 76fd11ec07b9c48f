"""The node's own settlement transactions replayed by a bare client on a fresh Hardhat devnet,
beside raw batches of 64 (bench/node.py's raw sender), alternated in chunks: Hardhat's user
and system CPU ms and page faults a match for each (settle28, issue 12: are the node's
*transactions* dearer to Hardhat, or its way of sending them?).

``--db``: a node database kept by ``bench/node.py --phases settle --workdir DIR`` (its
``settlements`` table holds every signed transaction). The fresh devnet deploys the same
contracts at the same addresses from the same keys, so the node's transactions (its orders
signed for that Exchange, its nonces from the operator's count after the deployment) are
valid there as they were. Sent one at a time, each waiting for its receipt, as the raw
sender does. One JSON line."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.chain import Exchange, Rpc, Sender, SignedTx

SIZE = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--chunk", type=int, default=8, help="transactions a chunk")
    args = ap.parse_args()
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT nonce, raw_tx, tx_hash FROM settlements WHERE status='mined' ORDER BY nonce"
    ).fetchall()
    db.close()
    with bn.signed_devnet("sdex-settle-replay-", keep=True) as (_, dev, dep, signer, _):
        rpc: Rpc | None = None
        try:
            assert dev.node.proc is not None
            pid = dev.node.proc.pid
            rpc = Rpc(dev.node.url)
            ex = Exchange(rpc, dep.exchange)
            raw_sender = Sender(rpc, signer.keys[bn.RAW_SENDER], dep.chain_id)
            operator = signer.addresses[bn.OPERATOR]
            start = int(rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            node_txs = [SignedTx(h, n, raw) for n, raw, h in rows if n >= start]
            if not node_txs or node_txs[0].nonce != start:
                raise SystemExit(
                    f"the node's transactions do not start at the chain's count {start}"
                )
            made = [0]

            def raw_tx() -> SignedTx:
                made[0] += SIZE
                return bn.raw_batch_tx(signer, raw_sender, ex, made[0] - SIZE + 1, SIZE)

            def send(txs: list[SignedTx]) -> int:
                """Matches settled."""
                assert rpc is not None
                settled = 0
                for tx in txs:
                    try:
                        rpc.call("eth_sendRawTransaction", tx.raw)
                    except Exception as e:  # (a mined revert answers so on Hardhat)
                        print(f"{tx.tx_hash}: {e}", file=sys.stderr)
                    receipt = None
                    for _ in range(2000):
                        if (
                            receipt := rpc.call("eth_getTransactionReceipt", tx.tx_hash)
                        ) is not None:
                            break
                        time.sleep(0.005)
                    if receipt is None:
                        raise RuntimeError(f"no receipt for {tx.tx_hash}")
                    settled += sum(
                        1 for lg in receipt["logs"] if lg["address"].lower() == ex.address.lower()
                    )
                return settled // 2  # (two OrderFilled a match; MatchSkipped: none here)

            rounds: dict[str, list[dict[str, float]]] = {"node": [], "raw": []}
            send(node_txs[:4])  # warm-up: the node's first (small) ones
            rest = node_txs[4:]
            for i in range(0, len(rest), args.chunk):
                chunk = rest[i : i + args.chunk]
                raws = [raw_tx() for _ in chunk]
                for kind in ("node", "raw") if (i // args.chunk) % 2 == 0 else ("raw", "node"):
                    before, t0 = bn.cpu_user_sys(pid), time.perf_counter()
                    n = send(chunk if kind == "node" else raws)
                    wall = time.perf_counter() - t0
                    split = bn.user_sys_per_match(before, pid, max(1, n))
                    rounds[kind].append({**split, "matches": n, "matches_per_s": round(n / wall)})
            bn.print_rounds(rounds, node_transactions=len(node_txs))
        finally:
            if rpc is not None:
                rpc.close()


if __name__ == "__main__":
    main()
