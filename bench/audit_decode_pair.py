"""``decode_settlement`` of one ``batchMatchOrders`` calldata (200 matches, 400 orders): this
tree's reader against another tree's (``--other``, e.g. /work/main), loaded side by side and
alternated. Prints JSON: each one's median milliseconds a decode."""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sdex.chain.calldata as new
from sdex.chain import Exchange, Rpc
from sdex.order import ZERO_ADDRESS, Order, SignedOrder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--other", required=True, help="the other tree's root")
    args = ap.parse_args()
    path = Path(args.other) / "sdex/chain/calldata.py"  # (settle65 moved them there)
    if not path.exists():
        path = Path(args.other) / "sdex/audit/calldata.py"
    spec = importlib.util.spec_from_file_location("other_calldata", path)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules["other_calldata"] = old
    spec.loader.exec_module(old)
    orders = [
        SignedOrder(
            Order(*(["0x" + f"{i % 200 + 1:02x}" * 20] * 4), 5 + i, 6, ZERO_ADDRESS, 0, 7, 8 + i),  # type: ignore[arg-type]
            bytes([i % 256]) * 65,
            i.to_bytes(32, "big"),
        )
        for i in range(400)
    ]
    ex = Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20)
    data = ex.encode_batch([(orders[2 * i], orders[2 * i + 1], 9) for i in range(200)])
    assert new.decode_settlement(data) == old.decode_settlement(data)
    res: dict[str, list[float]] = {"other": [], "this": []}
    for r in range(10):
        both = [("other", old), ("this", new)]
        for name, mod in both if r % 2 == 0 else both[::-1]:
            t = time.perf_counter()
            for _ in range(20):
                mod.decode_settlement(data)
            res[name].append((time.perf_counter() - t) / 20 * 1000)
    out = {f"{k}_ms": round(statistics.median(v), 3) for k, v in res.items()}
    print(json.dumps(out | {"orders": 400, "bytes": len(data)}))


if __name__ == "__main__":
    main()
