"""``sdex.node.funding.unpaid`` of one batch of 64 matches with 256 matches signed ahead of
it (four batches in flight), this tree's (settle65: what those ahead take is counted) against
another tree's (``--other``, e.g. /work/main), loaded side by side and alternated; 20 makers,
so the batch's accounts are the ahead ones'. Two cases: every maker funded (the usual case),
and one maker short (every match looked at). Prints JSON: each one's median microseconds a
call, and this/other. (funds67: this tree's reads the settler's ``SignedOut``, kept as
matches are signed and reported, built once here as the settler holds it.)"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sdex.node.funding as new
from sdex.chain import Exchange, Rpc
from sdex.fillmath import match_amounts
from sdex.matching.match import Match
from sdex.mirror import Mirror, OwnReceipt
from sdex.model import Side
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from sdex.settlement.signedout import SignedOut

WETH, USDC = "0x" + "aa" * 20, "0x" + "bb" * 20
MAKERS = ["0x" + f"{i + 1:02x}" * 20 for i in range(20)]
E18, E6 = 10**18, 10**6


def order(i: int, maker: str, sell: str, buy: str, amount: int, price: int) -> SignedOrder:
    o = Order(maker, ZERO_ADDRESS, sell, buy, amount, price, ZERO_ADDRESS, 0, 2**40, i)
    return SignedOrder(o, bytes(65), i.to_bytes(32, "big"))


def matches(n: int, rng: random.Random, start: int) -> list[Match]:
    out = []
    for k in range(n):
        i = start + 2 * k
        a, b = rng.sample(MAKERS, 2)
        ask = order(i, a, WETH, USDC, E18, 3000 * E6)
        bid = order(i + 1, b, USDC, WETH, 3000 * E6, E18)
        amounts = match_amounts(E18, 3000 * E6, 0, 0, 3000 * E6, E18, 0, 0, E18)
        out.append(Match(ask, bid, amounts, Side.BID))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--other", required=True, help="the other tree's root")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location(
        "other_funding", Path(args.other) / "sdex/node/funding.py"
    )
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules["other_funding"] = old
    spec.loader.exec_module(old)
    rng = random.Random(65)
    batch, ahead = matches(64, rng, 0), matches(256, rng, 1000)
    mirror = Mirror(Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20), [WETH, USDC])
    signed_out = SignedOut()
    signed_out.update((id(m), m) for m in ahead)  # (as the settler keeps them)
    confirmed = {so.hash: 0 for m in ahead for so in (m.resting, m.incoming)}
    out: dict[str, Any] = {}
    for case, short in (("funded", None), ("one_short", MAKERS[0])):
        for maker in MAKERS:
            for token in (WETH, USDC):
                funds = 10**30 if maker != short else 0
                mirror.set_funds((maker, token), funds, funds)
        calls = {
            "other": lambda: old.unpaid(batch, ahead, mirror, confirmed.get),
            "this": lambda: new.unpaid(batch, signed_out, mirror, confirmed.get),
        }
        out[case] = ab(calls)
    # a batch's whole life, funded: checked twice (formed, signed), signed, reported
    for maker in MAKERS:
        for token in (WETH, USDC):
            mirror.set_funds((maker, token), 10**30, 10**30)
    plain = {id(m): m for m in ahead}

    def life(unpaid: Any, held: dict[int, Match], ahead: Any) -> None:
        unpaid(batch, ahead, mirror, confirmed.get)
        unpaid(batch, ahead, mirror, confirmed.get)
        held.update((id(m), m) for m in batch)
        for m in batch:
            held.pop(id(m), None)

    out["batch_life"] = ab({
        "other": lambda: life(old.unpaid, plain, plain.values()),
        "this": lambda: life(new.unpaid, signed_out, signed_out),
    })  # fmt: skip
    r = OwnReceipt("0x01", "0x02", 1, (), tuple(
        (so.order.maker_token, so.order.maker, payee.order.maker, amount)
        for m in batch for so, payee, amount in new.transfers(m)
    ), frozenset())  # fmt: skip
    t = time.perf_counter()
    for _ in range(200):
        mirror.own.add(r)
        mirror.own.pop(r.tx_hash)
    out["this_own_receipt_noted_applied_us"] = round((time.perf_counter() - t) / 200 * 1e6, 1)
    print(json.dumps({"batch": 64, "ahead": 256, "makers": len(MAKERS), **out}))


def ab(calls: dict[str, Any]) -> dict[str, float]:
    """Median microseconds a call of each, alternated 30 times (20 calls each), and the ratio."""
    times: dict[str, list[float]] = {"other": [], "this": []}
    for _ in range(30):
        for name, call in calls.items():  # (alternated, A/B)
            t = time.perf_counter()
            for _ in range(20):
                call()
            times[name].append((time.perf_counter() - t) / 20 * 1e6)
    med = {k: round(statistics.median(v), 1) for k, v in times.items()}
    return {"other_us": med["other"], "this_us": med["this"],
            "ratio": round(med["this"] / med["other"], 2)}  # fmt: skip


if __name__ == "__main__":
    main()
