"""revert79: how often a match races another account's cancel of its order into a paid revert.

One Hardhat devnet; per round a real ``sdex node`` process of one tree (``--new-root``,
``--old-root``: the trees alternated, one node per tree and mode, started once) and one of
two modes: ``heads`` (the chain's newHeads subscription, the default) or ``poll`` (the node's
RPC through a loopback proxy that serves no WebSocket: the watcher polls every 50 ms). A
race: BOB's resting bid posted to the node; then BOB's ``cancelOrder`` of it sent (mined on
the send, automine) and ALICE's crossing IOC ask posted ``delta`` ms after the cancel's send
began (negative: before), ``delta`` cycling over ``--deltas``. What became of each race is
read from the chain afterwards: the operator's transactions (reverted, or a match skipped),
and the node's ``/health`` (withheld, withdrawn). Prints JSON."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import node as nb  # noqa: E402

from sdex.chain import Sender  # noqa: E402
from sdex.chain.exchange import Exchange  # noqa: E402
from sdex.chain.rpc import Rpc, quantity  # noqa: E402
from sdex.deployment import Deployment  # noqa: E402
from sdex.order import SignedOrder  # noqa: E402
from tests.rpcfault import _proxy  # noqa: E402

ALICE, BOB = 1, 2


def health(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url + "/health", timeout=30) as r:
        return dict(json.loads(r.read()))


async def post(session: aiohttp.ClientSession, url: str, so: SignedOrder, tif: str) -> int:
    body = dict(so.to_json())
    body["timeInForce"] = tif
    async with session.post(url + "/v1/orders", json=body) as r:
        await r.read()
        return r.status


async def status(session: aiohttp.ClientSession, url: str, so: SignedOrder) -> str:
    async with session.get(f"{url}/v1/orders/{so.hash_hex}") as r:
        rec = await r.json(content_type=None)
        return str(rec.get("metaData", {}).get("status", "")) if r.status == 200 else ""


async def race(
    session: aiohttp.ClientSession,
    url: str,
    signer: nb.Signer,
    cancel: Any,
    delta: float,
    cents: int,
) -> str:
    """One race; what became of BOB's bid (``filled``: the match won; ``cancelled``)."""
    bid = signer.order(BOB, False, cents)
    ask = signer.order(ALICE, True, cents - 1)
    if await post(session, url, bid, "gtc") != 201:
        return "refused"
    loop = asyncio.get_running_loop()
    if delta < 0:
        posting = asyncio.ensure_future(post(session, url, ask, "ioc"))
        await asyncio.sleep(-delta)
        cancelled = loop.run_in_executor(None, cancel, bid)
    else:
        cancelled = loop.run_in_executor(None, cancel, bid)
        await asyncio.sleep(delta)
        posting = asyncio.ensure_future(post(session, url, ask, "ioc"))
    await posting
    with contextlib.suppress(Exception):  # (a cancel of a filled bid reverts: the match won)
        await cancelled
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = await status(session, url, bid)
        if s in ("filled", "cancelled", "removed"):
            return s
        await asyncio.sleep(0.02)
    return "open"


def outcomes(rpc: Rpc, operator: str, first: int, last: int, skipped: str) -> dict[str, int]:
    """The operator's transactions mined in blocks ``first``..``last``: reverted, and skipped
    matches in those that were not."""
    out = {"txs": 0, "reverted": 0, "skipped": 0}
    for n in range(first, last + 1):
        block = rpc.call("eth_getBlockByNumber", hex(n), True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() != operator:
                continue
            out["txs"] += 1
            receipt = rpc.call("eth_getTransactionReceipt", tx["hash"])
            if quantity(receipt["status"]) == 0:
                out["reverted"] += 1
            out["skipped"] += sum(lg["topics"][0] == skipped for lg in receipt["logs"])
    return out


async def rounds_of(
    url: str, signer: nb.Signer, cancel: Any, n: int, deltas: list[float], cents: int
) -> dict[str, int]:
    got: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for delta in itertools.islice(itertools.cycle(deltas), n):
            what = await race(session, url, signer, cancel, delta / 1000, cents)
            got[what] = got.get(what, 0) + 1
    return got


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--new-root", type=Path, default=HERE.parent)
    p.add_argument("--old-root", type=Path, required=True)
    p.add_argument("--modes", default="heads,poll")
    p.add_argument("--races", type=int, default=40, help="races per round")
    p.add_argument("--rounds", type=int, default=2, help="rounds per tree and mode")
    p.add_argument("--deltas", default="-12,-9,-6,-4,-2,0,2,4", help="ms, cycled")
    args = p.parse_args()
    deltas = [float(d) for d in args.deltas.split(",")]
    results: list[dict[str, Any]] = []
    with nb.signed_devnet("revert79-") as (work, dev, deployment, signer, key):
        assert dev.rpc is not None
        rpc = dev.rpc
        ex = Exchange(rpc, deployment.exchange)
        skipped = "0x" + ex.abi.events["MatchSkipped"].topic.hex()
        bob = Sender(Rpc(deployment.rpc), bytes.fromhex(deployment.accounts[BOB].key[2:]))
        operator = deployment.accounts[nb.OPERATOR].address.lower()

        def cancel(so: SignedOrder) -> None:
            Exchange(bob.rpc, deployment.exchange).cancel_order(bob, so.order)

        with contextlib.ExitStack() as stack:
            proxied = work / "devnet-poll.json"
            proxy = stack.enter_context(_proxy(deployment.rpc, lambda req: None))
            Deployment(
                deployment.chain_id, proxy, deployment.exchange, deployment.deploy_block,
                deployment.tokens, deployment.accounts,
            ).save(proxied)  # fmt: skip
            files = {"heads": work / "devnet.json", "poll": proxied}
            nodes: dict[tuple[str, str], str] = {}
            for mode in args.modes.split(","):
                for tree, root in (("new", args.new_root), ("old", args.old_root)):
                    nb.NODE_ROOT = root.resolve()
                    _, url = stack.enter_context(
                        nb.node_process(files[mode], key, work, f"{tree}-{mode}", None)
                    )
                    nodes[(tree, mode)] = url
            order = [(t, m) for m in args.modes.split(",") for t in ("new", "old")]
            for r in range(args.rounds):
                for tree, mode in order if r % 2 == 0 else order[::-1]:
                    url = nodes[(tree, mode)]
                    h0, first = health(url), quantity(rpc.call("eth_blockNumber")) + 1
                    load0 = os.getloadavg()[0]
                    began = time.monotonic()
                    cents = nb.MID - 1000 - 10 * len(results)  # (a price of its own a round)
                    got = asyncio.run(rounds_of(url, signer, cancel, args.races, deltas, cents))
                    took = time.monotonic() - began
                    time.sleep(1.0)  # (late receipts)
                    h1, last = health(url), quantity(rpc.call("eth_blockNumber"))
                    chain = outcomes(rpc, operator, first, last, skipped)
                    row = {
                        "round": r, "tree": tree, "mode": mode, "races": args.races,
                        "bids": got, "chain": chain, "seconds": round(took, 1),
                        "load": [round(load0, 1), round(os.getloadavg()[0], 1)],
                        "sent": h1["settlementsSent"] - h0["settlementsSent"],
                        "failed": h1["matchesFailed"] - h0["matchesFailed"],
                        "withheld": h1.get("settlementsWithheld", 0)
                        - h0.get("settlementsWithheld", 0),
                        "holds": h1["chainMirror"]["unapplied"]["holds"]
                        - h0["chainMirror"]["unapplied"]["holds"],
                    }  # fmt: skip
                    results.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"deltas_ms": deltas, "rounds": results}, indent=1))


if __name__ == "__main__":
    main()
