"""left61 (anvil60's lost settlements): with mining paused, ``k`` transactions of ``gas``
each (a loop that burns it) sent from one account; mining resumed as the node bench does
(``evm_setAutomine true``), and with ``--mine`` one ``evm_mine`` too. While they wait,
each is asked (count, pool, receipt) over and over: counted are the answers where one
looked lost (nonce not used, not known, no receipt), and at the end which were mined.
Prints JSON."""

from __future__ import annotations

import argparse
import json
import threading
import time

from sdex.chain.rpc import Rpc
from sdex.chain.tx import Sender
from sdex.devnet import Devnet

LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: burns all its gas


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--engine", default="anvil")
    p.add_argument("-k", type=int, default=4)
    p.add_argument("--gas", type=int, default=16_000_000)
    p.add_argument("--mine", action="store_true")
    p.add_argument("--watch", type=float, default=15.0, help="seconds to watch at most")
    args = p.parse_args()
    net = Devnet(engine=args.engine, accounts=4)
    d = net.start()
    try:
        rpc = net.rpc
        s = Sender(rpc, bytes.fromhex(d.accounts[1].key[2:]), d.chain_id)
        rpc.call("evm_setAutomine", False)
        txs = [s.sign(None, LOOP, args.gas) for _ in range(args.k)]
        for t in txs:
            rpc.call("eth_sendRawTransaction", t.raw)
        ask = Rpc(net.node.url)
        looked_lost = {t.nonce: 0 for t in txs}
        done = threading.Event()

        def resume() -> None:
            rpc.call("evm_setAutomine", True)
            if args.mine:
                rpc.call("evm_mine")
            done.set()

        th = threading.Thread(target=resume)
        th.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.watch:
            receipts = 0
            for t in txs:
                n = int(ask.call("eth_getTransactionCount", s.address, "latest"), 16)
                known = ask.call("eth_getTransactionByHash", t.tx_hash)
                got = ask.call("eth_getTransactionReceipt", t.tx_hash)
                receipts += got is not None
                looked_lost[t.nonce] += n <= t.nonce and known is None and got is None
            if done.is_set() and receipts == len(txs):
                break
        th.join()
        out = []
        for t in txs:
            r = ask.call("eth_getTransactionReceipt", t.tx_hash)
            pooled = ask.call("eth_getTransactionByHash", t.tx_hash) is not None
            out.append(
                {
                    "nonce": t.nonce,
                    "block": None if r is None else int(r["blockNumber"], 16),
                    "still_pooled": r is None and pooled,
                    "answers_that_looked_lost": looked_lost[t.nonce],
                }
            )
        print(
            json.dumps(
                {
                    "bench": "left61_anvil_pool",
                    "engine": args.engine,
                    "k": args.k,
                    "gas": args.gas,
                    "mine": args.mine,
                    "watched_s": round(time.monotonic() - t0, 2),
                    "txs": out,
                },
                indent=1,
            )
        )
    finally:
        net.stop()


if __name__ == "__main__":
    run()
