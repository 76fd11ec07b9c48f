"""Hardhat's CPU a request, by kind, from a bare client on a fresh devnet (what each call the
node makes around a settlement costs the chain), and how often a receipt asked in the send's
own JSON-RPC batch comes back empty.

Kinds (``--kinds``, alternated in each round, the order turned every other round):
``batch`` (a lone ``matchOrders`` sent with ``eth_getTransactionReceipt`` in one batch, as
the settler sends on Hardhat), ``two`` (the send, then the receipt asked in a second
request on the same connection), ``plain`` (the send alone), ``plain_ws`` (the send alone
while a ``newHeads`` WebSocket subscriber is open: the notification's cost a block),
``header`` (``eth_getBlockByNumber("latest")``), ``receipt`` (``eth_getTransactionReceipt``
of a mined transaction), ``states`` (``getOrderStates`` of two orders, an ``eth_call``),
``blockNumber`` (the floor: one trivial request). Per kind and round: Hardhat's CPU ms a
call (/proc), the client's wall ms a call, and the receipts that were not in hand
(``missed``). One JSON line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import node as bn

from sdex.chain import Exchange, Rpc, Sender
from sdex.settlement.gas import LONE_GAS

KINDS = ("batch", "two", "plain", "plain_ws", "header", "receipt", "states", "blockNumber")


def subscriber(url: str, stop: threading.Event, ready: threading.Event) -> None:
    """(A thread) A newHeads subscription read until ``stop``."""

    async def run() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect("ws" + url.removeprefix("http")) as ws,
        ):
            sub = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            await ws.send_json(sub)
            await ws.receive()  # (the subscription's id)
            ready.set()
            while not stop.is_set():
                try:
                    async with asyncio.timeout(0.2):
                        await ws.receive()
                except TimeoutError:
                    pass

    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100, help="calls of each kind a round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    with bn.signed_devnet("sdex-settle-calls-", keep=True) as (_, dev, dep, signer, _):
        rpc: Rpc | None = None
        try:
            assert dev.node.proc is not None
            pid, url = dev.node.proc.pid, dev.node.url
            rpc = Rpc(url)
            ex = Exchange(rpc, dep.exchange)
            sender = Sender(rpc, signer.keys[bn.RAW_SENDER], dep.chain_id)
            count = [0]
            last = [""]

            def lone() -> bytes:
                i = count[0] = count[0] + 1
                pair = (signer.order(bn.ASK_MAKERS[i % 9], True, bn.MID),
                        signer.order(bn.BID_MAKERS[i % 9], False, bn.MID))  # fmt: skip
                return ex.encode_settlement([(*pair, 2**256 - 1)])

            def send(how: str) -> bool:
                assert rpc is not None
                tx = sender.sign(ex.address, lone(), LONE_GAS)
                last[0] = tx.tx_hash
                if how == "batch":
                    return sender.broadcast_for_receipt(tx) is None
                sender.broadcast(tx)
                if how == "two":
                    return rpc.call("eth_getTransactionReceipt", tx.tx_hash) is None
                return False

            def ask(method: str, *params: Any) -> Callable[[], bool]:
                def call() -> bool:
                    assert rpc is not None
                    rpc.call(method, *params)
                    return False

                return call

            def states() -> bool:
                pair = [signer.order(bn.ASK_MAKERS[0], True, bn.MID),
                        signer.order(bn.BID_MAKERS[0], False, bn.MID)]  # fmt: skip
                ex.order_states(pair)
                return False

            def receipt() -> bool:
                assert rpc is not None
                return rpc.call("eth_getTransactionReceipt", last[0]) is None

            table: dict[str, Callable[[], bool]] = {
                "batch": lambda: send("batch"),
                "two": lambda: send("two"),
                "plain": lambda: send("plain"),
                "plain_ws": lambda: send("plain"),
                "header": ask("eth_getBlockByNumber", "latest", False),
                "receipt": receipt,
                "states": states,
                "blockNumber": ask("eth_blockNumber"),
            }
            for _ in range(5):  # warm-up
                send("batch")
            rounds: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
            for r in range(args.rounds):
                for kind in kinds if r % 2 == 0 else kinds[::-1]:
                    stop, ready = threading.Event(), threading.Event()
                    sub = None
                    if kind == "plain_ws":
                        sub = threading.Thread(target=subscriber, args=(url, stop, ready))
                        sub.start()
                        ready.wait(10.0)
                    cpu0, t0, missed = bn.cpu_seconds(pid), time.perf_counter(), 0
                    for _ in range(args.calls):
                        missed += table[kind]()
                    wall = time.perf_counter() - t0
                    cpu = bn.cpu_seconds(pid) - cpu0
                    stop.set()
                    if sub is not None:
                        sub.join()
                    rounds[kind].append(
                        {"hardhat_cpu_ms": round(1e3 * cpu / args.calls, 2),
                         "wall_ms": round(1e3 * wall / args.calls, 2), "missed": missed}
                    )  # fmt: skip
            bn.print_rounds(rounds, calls=args.calls)
        finally:
            if rpc is not None:
                rpc.close()


if __name__ == "__main__":
    main()
