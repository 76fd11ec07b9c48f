"""Gas of settlement on a real Hardhat node: one ``matchOrders``, and per match in
``batchMatchOrders`` of 10, 50 and 200, with fresh makers and with warm makers, with ordinary
(random) salts and with bitmap orders (salts that opt in to the maker's order bitmap,
consecutive nonces per maker).

- fresh makers: every match brings two makers that have never traded (their token balance
  slots and accounts are cold), each order new.
- returning makers: two makers that traded before (bitmap orders: their bitmap word is
  non-zero) match two new orders in a new transaction (every slot cold again).
- warm makers: the same few makers trade again and again in the batch (one resting order
  per maker taken by many incoming orders), so balances and accounts are warm.

Prints JSON; ``--write docs/BENCHMARKS.md`` also replaces the gas section there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine_line, write_section  # noqa: E402
from eth_account import Account  # noqa: E402

from sdex.chain import Exchange, Rpc, Sender, Token  # noqa: E402
from sdex.devnet import Devnet  # noqa: E402
from sdex.order import (  # noqa: E402
    ZERO_ADDRESS,
    Order,
    SignedOrder,
    bitmap_salt,
    random_salt,
    sign_order,
)

E18, E6 = 10**18, 10**6
MAX_GAS = 16_777_216  # Hardhat's per-transaction cap


class Bench:
    def __init__(self, rpc: Rpc, deployment: Any) -> None:
        self.rpc = rpc
        self.d = deployment
        self.exchange = Exchange(rpc, deployment.exchange)
        self.domain = self.exchange.domain()
        self.weth = Token(rpc, deployment.token("WETH").address)
        self.usdc = Token(rpc, deployment.token("USDC").address)
        keys = [bytes.fromhex(a.key[2:]) for a in deployment.accounts]
        self.funder = Sender(rpc, keys[0])
        self.operator = Sender(rpc, keys[1])
        self.expiry = int(time.time()) + 86_400
        self.nonces: dict[bytes, int] = {}  # a bitmap maker's next nonce

    def new_makers(self, n: int) -> list[bytes]:
        """``n`` fresh accounts, each funded with ETH, WETH and USDC and approving the Exchange.

        Funding uses Hardhat's cheat codes (balance, impersonation-free approvals by the key).
        """
        keys = [bytes(Account.create().key) for _ in range(n)]
        for k in keys:
            addr = Account.from_key(k).address.lower()
            self.rpc.call("hardhat_setBalance", addr, hex(10 * E18))
            self.weth.mint(self.funder, addr, 1_000 * E18)
            self.usdc.mint(self.funder, addr, 10_000_000 * E6)
            s = Sender(self.rpc, k)
            self.weth.approve(s, self.exchange.address, 2**256 - 1)
            self.usdc.approve(s, self.exchange.address, 2**256 - 1)
        return keys

    def order(
        self, key: bytes, sell_weth: bool, weth: int, usdc: int, bitmap: bool = False
    ) -> SignedOrder:
        maker = Account.from_key(key).address.lower()
        w, u = self.weth.address, self.usdc.address
        if bitmap:
            nonce = self.nonces.get(key, 0)
            self.nonces[key] = nonce + 1
            salt = bitmap_salt(nonce)
        else:
            salt = random_salt()
        o = Order(
            maker, ZERO_ADDRESS, w if sell_weth else u, u if sell_weth else w,
            weth if sell_weth else usdc, usdc if sell_weth else weth,
            ZERO_ADDRESS, 0, self.expiry, salt,
        )  # fmt: skip
        return sign_order(o, self.domain, key)

    def single_match(self) -> dict[str, int]:
        a, b = self.new_makers(2)
        resting = self.order(a, True, 2 * E18, 6000 * E6)
        incoming = self.order(b, False, E18, 3000 * E6)
        first = self.exchange.match_orders(self.operator, resting, incoming).gas_used
        # the resting order again (now partially filled: warm slot, no signature check)
        c = self.new_makers(1)[0]
        again = self.exchange.match_orders(
            self.operator, resting, self.order(c, False, E18, 3000 * E6)
        ).gas_used
        # makers who traded before, two new ordinary orders
        returning = self.exchange.match_orders(
            self.operator, self.order(a, True, E18, 3000 * E6), self.order(c, False, E18, 3000 * E6)
        ).gas_used
        # bitmap orders: fresh makers (a zero bitmap word), then the same makers again
        d, e = self.new_makers(2)
        fresh_bitmap = self.exchange.match_orders(
            self.operator,
            self.order(d, True, E18, 3000 * E6, bitmap=True),
            self.order(e, False, E18, 3000 * E6, bitmap=True),
        ).gas_used
        returning_bitmap = self.exchange.match_orders(
            self.operator,
            self.order(d, True, E18, 3000 * E6, bitmap=True),
            self.order(e, False, E18, 3000 * E6, bitmap=True),
        ).gas_used
        return {
            "first_fill_of_both_orders": first,
            "resting_order_second_fill": again,
            "returning_makers_new_orders": returning,
            "bitmap_fresh_makers_new_orders": fresh_bitmap,
            "bitmap_returning_makers_new_orders": returning_bitmap,
        }

    def batch(self, n: int, warm: bool, bitmap: bool = False) -> dict[str, int | float]:
        pairs: list[tuple[SignedOrder, SignedOrder]] = []
        if warm:
            makers = self.new_makers(4)
            # warm the makers' balance slots and accounts (and bitmap words) with earlier trades
            for resting_maker, taker in ((0, 1), (2, 3)):
                self.exchange.match_orders(
                    self.operator,
                    self.order(makers[resting_maker], True, E18, 3000 * E6, bitmap),
                    self.order(makers[taker], False, E18, 3000 * E6, bitmap),
                )
            restings = [self.order(makers[i], True, n * E18, n * 3000 * E6, bitmap) for i in (0, 2)]
            for i in range(n):
                taker = makers[1] if i % 2 == 0 else makers[3]
                pairs.append((restings[i % 2], self.order(taker, False, E18, 3000 * E6, bitmap)))
        else:
            keys = self.new_makers(2 * n)
            for i in range(n):
                pairs.append(
                    (
                        self.order(keys[2 * i], True, E18, 3000 * E6, bitmap),
                        self.order(keys[2 * i + 1], False, E18, 3000 * E6, bitmap),
                    )
                )
        receipt = self.exchange.batch_match_orders(self.operator, pairs, gas=MAX_GAS)
        settled = len(self.exchange.fills(receipt.logs)) // 2
        skipped = self.exchange.skipped(receipt.logs)
        if skipped or settled != n:
            raise RuntimeError(f"batch of {n}: {settled} settled, skipped {skipped[:1]}")
        return {"matches": n, "gas": receipt.gas_used, "gas_per_match": round(receipt.gas_used / n)}


def run() -> dict[str, Any]:
    with Devnet(accounts=2) as deployment:
        rpc = Rpc(deployment.rpc)
        b = Bench(rpc, deployment)
        result: dict[str, Any] = {"matchOrders": b.single_match(), "batchMatchOrders": {}}
        for warm, bitmap in ((False, False), (True, False), (False, True), (True, True)):
            for n in (10, 50, 200):
                key = f"{'bitmap_' if bitmap else ''}{'warm' if warm else 'fresh'}_makers_{n}"
                try:
                    result["batchMatchOrders"][key] = b.batch(n, warm, bitmap)
                except Exception as e:  # e.g. 200 fresh matches exceed the 16.7M gas cap
                    result["batchMatchOrders"][key] = {"matches": n, "error": str(e)[:200]}
        return result


ANALYSIS = """\
Targets (from the issue): one match of two orders <= 90,000 gas — **not met** ({single:,});
per match in a batch of 50 <= 45,000 gas — **not met** ({fresh50:,} with fresh makers,
{warm50:,} with warm makers). For scale: 1inch LOP v4 `fillOrder` ~99k for one order,
Seaport `matchOrders` ~157k, 0x v2 `matchOrders` ~201k, CoW ~75k per trade.

Where one fresh `matchOrders` goes (estimated from the EVM gas schedule and the differences
between the measured cases above):
two fresh fill-state slots 44.2k (22.1k each: zero to non-zero), four ERC-20 transfers
~34k (cold balances of two makers in two tokens; a receiver's zero balance costs another
~17k each when fresh), the transaction base 21k, calldata ~7-9k (two 10-field orders and
two 65-byte signatures), two `ecrecover` ~7k, two `OrderFilled` events 5.8k, two
`minValidSalt` reads 4.2k. The floor for two new orders is therefore ~99k before any of our
logic; 90k needs fewer fresh slots. The next lever is a per-maker bitmap for orders filled
in one go (one warm slot shared by 256 salts instead of a fresh slot per order, ~-17k per
order); it changes the fill-state layout and is not built. Batches amortise only the 21k
base and the warm token/nonce slots, which is why warm makers reach ~64-66k per match.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", type=Path, help="update the gas section of this markdown file")
    args = ap.parse_args()
    result = run()
    print(json.dumps(result, indent=2))
    if args.write:
        single = result["matchOrders"]
        rows = [
            "| one `matchOrders`, both orders new (first fill) "
            f"| {single['first_fill_of_both_orders']:,} |",
            "| one `matchOrders`, resting order's second fill "
            f"| {single['resting_order_second_fill']:,} |",
        ]
        for key, r in result["batchMatchOrders"].items():
            cell = (
                f"{r['gas_per_match']:,} per match ({r['gas']:,} total)"
                if "gas" in r
                else f"does not fit one transaction (Hardhat's cap is {MAX_GAS:,} gas)"
            )
            rows.append(f"| `batchMatchOrders`, {key.replace('_', ' ')} | {cell} |")
        body = (
            f"Measured {date.today()} on {machine_line()}, Hardhat 2.29 (cancun), solc 0.8.30 "
            f"optimizer 10,000 runs, by `bench/gas.py`.\n\n| settlement | gas |\n|---|---|\n"
            + "\n".join(rows)
            + "\n\n"
            + ANALYSIS.format(
                single=result["matchOrders"]["first_fill_of_both_orders"],
                fresh50=result["batchMatchOrders"]
                .get("fresh_makers_50", {})
                .get("gas_per_match", 0),
                warm50=result["batchMatchOrders"].get("warm_makers_50", {}).get("gas_per_match", 0),
            )
            + "\n```json\n"
            + json.dumps(result, indent=2)
            + "\n```\n"
        )
        write_section(args.write, "Gas (bench/gas.py)", body)


if __name__ == "__main__":
    main()
