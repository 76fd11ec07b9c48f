"""Hardhat's CPU a match for the same ``batchMatchOrders`` of 64, sent in the node's ways
and the raw sender's, from a bare client on a fresh devnet (settle28, issue 12: the node's
transactions cost Hardhat ~2x the system CPU and 2-4x the page faults a match of a raw
sender's; which of the node's habits does that?).

Ways (``--ways``, alternated in each round, the order turned every other round):

- ``plain``: send, then ask the receipt (bench/node.py's raw sender);
- ``batched``: send and receipt ask in one JSON-RPC batch (the settler's way on Hardhat);
- ``header``: ``plain``, and the block's header read by number on a second connection once
  the receipt is in (the node's watcher);
- ``ws``: ``plain`` while a ``newHeads`` WebSocket subscriber is open (the node's watcher);
- ``poll``: ``plain`` while a second thread asks the receipt every 5 ms on its own
  connection (the event loop's receipt polls beside the chain thread's send);
- ``node``: the node's habits together: sends back to back in one thread (the chain
  thread), each with its receipt asked in its batch, while a second thread reads each
  mined block's header on its own connection (the watcher) and a newHeads subscriber is
  open;
- ``sampled``: ``plain`` while a thread reads Hardhat's ``/proc/PID/stat`` every 10 ms
  (bench/node.py's ``CpuTrace``, in its node round only);
- ``after_pool``: 4 batches through the pool (not measured), then ``plain`` (measured):
  does Hardhat stay dearer after a pool phase (bench/node.py's node round follows one)?
- ``gaps`` (``gapsN``): ``plain`` with the chain idle ``N`` ms (40) after each receipt (the
  node's round leaves Hardhat idle between its sends while it decodes, applies and forms the
  next batch; the raw sender never does);
- ``busy`` (``busyN``): ``plain`` while N threads (4) ask ``eth_blockNumber`` back to back,
  each on its own connection (other requests always in flight while a send is mined, as
  the node's reads are: do the sends then land on other EDR workers?);
- ``pool``: mining paused, the round's batches sent into the pool 4 at a time, then mining
  resumed and ``evm_mine`` until the pool is empty (the node's settle round starts so).

Per way and round: Hardhat's user and system CPU ms a match and its minor page faults a
match (/proc), and matches a second. One JSON line."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn
from settle_calls import subscriber

from sdex.chain import Exchange, Rpc, Sender, SignedTx

WAYS = ("plain", "batched", "header", "ws", "poll", "node", "sampled", "after_pool", "pool")
SIZE = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=6, help="batches of 64 a way a round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ways", default=",".join(WAYS))
    args = ap.parse_args()
    ways = args.ways.split(",")
    with bn.signed_devnet("sdex-settle-ways-", keep=True) as (_, dev, dep, signer, _):
        rpc: Rpc | None = None
        try:
            assert dev.node.proc is not None
            pid, url = dev.node.proc.pid, dev.node.url
            rpc = Rpc(url)
            side = Rpc(url)
            ex = Exchange(rpc, dep.exchange)
            sender = Sender(rpc, signer.keys[bn.RAW_SENDER], dep.chain_id)
            made = [0]

            def batch_tx() -> SignedTx:
                made[0] += SIZE
                return bn.raw_batch_tx(signer, sender, ex, made[0] - SIZE + 1, SIZE)

            def receipt_of(tx: SignedTx) -> dict[str, object]:
                assert rpc is not None
                for _ in range(2000):
                    r = rpc.call("eth_getTransactionReceipt", tx.tx_hash)
                    if r is not None:
                        if r["status"] != "0x1":
                            raise RuntimeError(f"{tx.tx_hash} reverted")
                        return dict(r)
                    time.sleep(0.005)
                raise RuntimeError(f"no receipt for {tx.tx_hash}")

            def plain(
                txs: list[SignedTx], extra: Callable[[dict[str, object]], None] | None
            ) -> None:
                for tx in txs:
                    sender.broadcast(tx)
                    r = receipt_of(tx)
                    if extra is not None:
                        extra(r)

            def batched(txs: list[SignedTx]) -> None:
                for tx in txs:
                    if sender.broadcast_for_receipt(tx) is None:
                        receipt_of(tx)

            def pool(txs: list[SignedTx]) -> None:
                assert rpc is not None
                for i in range(0, len(txs), 4):
                    rpc.call("evm_setAutomine", False)
                    try:
                        for tx in txs[i : i + 4]:
                            sender.broadcast(tx)
                    finally:
                        rpc.call("evm_setAutomine", True)
                    for _ in range(16):
                        mined = rpc.call("eth_getTransactionCount", sender.address, "latest")
                        if rpc.call("eth_getTransactionCount", sender.address, "pending") == mined:
                            break
                        rpc.call("evm_mine")
                    for tx in txs[i : i + 4]:
                        receipt_of(tx)

            def together(txs: list[SignedTx]) -> None:
                stop, ready = threading.Event(), threading.Event()
                sub = threading.Thread(target=subscriber, args=(url, stop, ready))
                sub.start()
                ready.wait(10.0)
                mined: list[SignedTx] = []
                got = threading.Condition()

                def watcher() -> None:
                    done = 0
                    while done < len(txs):
                        with got:
                            got.wait_for(lambda d=done: len(mined) > d, timeout=30)  # type: ignore[misc]
                            tx = mined[done]
                        for _ in range(2000):  # (its receipt, on the watcher's connection)
                            if (
                                r := side.call("eth_getTransactionReceipt", tx.tx_hash)
                            ) is not None:
                                break
                            time.sleep(0.005)
                        side.call("eth_getBlockByNumber", r["blockNumber"], False)
                        done += 1

                w = threading.Thread(target=watcher)
                w.start()
                try:
                    for tx in txs:
                        sender.broadcast_for_receipt(tx)
                        with got:
                            mined.append(tx)
                            got.notify()
                finally:
                    w.join()
                    stop.set()
                    sub.join()

            def header(r: dict[str, object]) -> None:
                side.call("eth_getBlockByNumber", r["blockNumber"], False)

            def run_way(way: str, txs: list[SignedTx]) -> None:
                if way == "plain":
                    plain(txs, None)
                elif way == "batched":
                    batched(txs)
                elif way == "header":
                    plain(txs, header)
                elif way == "pool":
                    pool(txs)
                elif way == "node":
                    together(txs)
                elif way.startswith("busy"):  # busyN: plain while N threads ask eth_blockNumber
                    stop = threading.Event()

                    def asker() -> None:
                        own = Rpc(url)
                        try:
                            while not stop.is_set():
                                own.call("eth_blockNumber")
                        finally:
                            own.close()

                    askers = [threading.Thread(target=asker) for _ in range(int(way[4:] or 4))]
                    for t in askers:
                        t.start()
                    try:
                        plain(txs, None)
                    finally:
                        stop.set()
                        for t in askers:
                            t.join()
                elif way.startswith("gaps"):  # gaps or gapsN: plain, N ms idle after each receipt
                    pause = float(way.removeprefix("gaps") or 40) / 1000
                    plain(txs, lambda _r: time.sleep(pause))
                elif way == "sampled":
                    with bn.CpuTrace(pid):
                        plain(txs, None)
                elif way in ("ws", "poll"):
                    stop, ready = threading.Event(), threading.Event()
                    if way == "ws":
                        t = threading.Thread(target=subscriber, args=(url, stop, ready))
                    else:
                        t = threading.Thread(target=poller, args=(url, txs, stop, ready))
                    t.start()
                    ready.wait(10.0)
                    try:
                        plain(txs, None)
                    finally:
                        stop.set()
                        t.join()
                else:
                    raise SystemExit(f"unknown way {way}")

            run_way("plain", [batch_tx() for _ in range(4)])  # warm-up
            rounds: dict[str, list[dict[str, float]]] = {w: [] for w in ways}
            for r in range(args.rounds):
                for way in ways if r % 2 == 0 else ways[::-1]:
                    if way == "after_pool":  # (signed first: nonce order)
                        pool([batch_tx() for _ in range(4)])
                    txs = [batch_tx() for _ in range(args.batches)]
                    n = SIZE * len(txs)
                    before, t0 = bn.cpu_user_sys(pid), time.perf_counter()
                    run_way("plain" if way == "after_pool" else way, txs)
                    wall = time.perf_counter() - t0
                    split = bn.user_sys_per_match(before, pid, n)
                    rounds[way].append({**split, "matches_per_s": round(n / wall)})
            bn.print_rounds(rounds, batches=args.batches)
        finally:
            if rpc is not None:
                rpc.close()


def poller(url: str, txs: list[SignedTx], stop: threading.Event, ready: threading.Event) -> None:
    """(A thread) Asks each transaction's receipt every 5 ms on its own connection until
    it is in, then the next's, until ``stop``."""
    rpc = Rpc(url)
    ready.set()
    try:
        for tx in txs:
            while not stop.is_set():
                if rpc.call("eth_getTransactionReceipt", tx.tx_hash) is not None:
                    break
                stop.wait(0.005)
    finally:
        rpc.close()


if __name__ == "__main__":
    main()
