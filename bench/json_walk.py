"""``sdex.jsonio.loads`` of the documents the node reads most, this tree against a reference
tree (``--ref-root``, e.g. main's checkout), each side in its own process, ``--rounds``
rounds with the sides' order alternated, in thread CPU time. Each side also times the bare
parse (``JSONDecoder.decode`` of the decoded text): what ``loads`` adds is its size and
depth check (the count of opening brackets, the walk of the parsed value). Prints JSON:
each figure's [median, min, max] a side, and the medians' ratios.

``python bench/json_walk.py --ref-root /work/main [--rounds 7]``
"""

from __future__ import annotations

import contextlib
import json
import random
import statistics

from benchlib import best_us, measure_args, measured_rounds, spreads


def documents() -> dict[str, tuple[bytes, int, int, bool]]:
    """name -> (body, max_bytes, max_depth, floats), as the node reads them."""
    rng = random.Random(1)

    def h(n: int) -> str:
        return "0x" + rng.randbytes(n).hex()

    def order() -> dict[str, str]:
        return {"maker": h(20), "taker": "0x" + "00" * 20, "makerToken": h(20),
                "takerToken": h(20), "makerAmount": str(10**18), "takerAmount": str(3 * 10**21),
                "feeRecipient": h(20), "feeAmount": "0", "expiry": "1900000000",
                "salt": str(rng.getrandbits(200)), "signature": h(65)}  # fmt: skip

    logs = [
        {"address": h(20), "topics": [h(32), h(32), h(32)], "data": h(96),
         "blockNumber": "0x1234", "transactionHash": h(32), "transactionIndex": "0x0",
         "blockHash": h(32), "logIndex": hex(i), "removed": False}
        for i in range(600)
    ]  # fmt: skip
    receipt = {"jsonrpc": "2.0", "id": 7, "result": {
        "blockHash": h(32), "blockNumber": "0x1234", "contractAddress": None,
        "cumulativeGasUsed": "0x1", "effectiveGasPrice": "0x1", "from": h(20), "gasUsed": "0x1",
        "logs": logs, "logsBloom": h(256), "status": "0x1", "to": h(20),
        "transactionHash": h(32), "transactionIndex": "0x0", "type": "0x2"}}  # fmt: skip
    return {
        "wallet order": (json.dumps(order()).encode(), 64 << 10, 8, False),
        "push of 64 orders": (
            json.dumps({"orders": [order() for _ in range(64)]}).encode(),
            4 << 20,
            9,
            False,
        ),
        "receipt, 600 logs": (json.dumps(receipt).encode(), 64 << 20, 32, True),
        "hostile 64 KiB of [": (b"[" * (64 << 10), 64 << 10, 8, False),
        "hostile 64 KiB of [[]]": (b"[[]]" * (16 << 10), 64 << 10, 1, False),
    }


def measure() -> dict[str, float]:
    """One side: the ``sdex`` on ``sys.path`` (``measured_in``: the side's tree); µs a
    document (refused ones included)."""
    from sdex import jsonio

    out = {}
    for name, (raw, max_bytes, max_depth, floats) in documents().items():
        number = max(5, 2_000_000 // len(raw))
        decoder = json.JSONDecoder() if floats else jsonio._STRICT

        def read(r: bytes = raw, b: int = max_bytes, d: int = max_depth, f: bool = floats) -> None:
            with contextlib.suppress(ValueError):  # (JsonLimitError: a hostile body, refused)
                jsonio.loads(r, max_bytes=b, max_depth=d, floats=f)

        def parse(r: bytes = raw, dec: json.JSONDecoder = decoder) -> None:
            with contextlib.suppress(ValueError, RecursionError):
                dec.decode(r.decode("utf-8"))

        out[f"{name}: loads_us"] = round(best_us(read, 7, number), 2)
        out[f"{name}: parse_us"] = round(best_us(parse, 7, number), 2)
    return out


def main() -> None:
    args = measure_args(__doc__ or "", 7, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    out: dict[str, object] = {"rounds": args.rounds, "sides": spreads(runs)}
    if runs["reference"]:
        out["this_over_reference"] = {
            k: round(
                statistics.median(r[k] for r in runs["this"])
                / statistics.median(r[k] for r in runs["reference"]),
                3,
            )
            for k in runs["this"][0]
            if k.endswith("loads_us")
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
