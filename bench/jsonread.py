"""The bounded JSON reader (``sdex.jsonio.loads``) against the same documents parsed with
the regex depth check first (how every document was read before) and with a bare
``json.loads`` (no bounds), in one run. Prints JSON; ``--write`` records a section."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import benchlib
from bench.benchlib import machine, machine_line, write_section
from sdex import jsonio

ORDER = {
    "maker": "0x" + "ab" * 20, "taker": "0x" + "00" * 20, "makerToken": "0x" + "cd" * 20,
    "takerToken": "0x" + "ef" * 20, "makerAmount": "1000000000000000000",
    "takerAmount": "2000000000", "feeRecipient": "0x" + "00" * 20, "takerFee": "0",
    "expiry": "1999999999", "salt": "123456789012345678901234567890",
    "signature": "0x" + "12" * 65,
}  # fmt: skip
LOG = {
    "address": "0x" + "ab" * 20, "topics": ["0x" + "cd" * 32] * 3, "data": "0x" + "00" * 192,
    "blockNumber": "0x10", "transactionHash": "0x" + "ee" * 32, "logIndex": "0x1",
    "blockHash": "0x" + "ff" * 32, "removed": False,
}  # fmt: skip
DOCS = {
    "gossip push of 64 orders": json.dumps({"orders": [ORDER] * 64}),
    "receipt of a batch of 64 matches (384 logs)": json.dumps(
        {"jsonrpc": "2.0", "id": 1, "result": {"logs": [LOG] * 384, "status": "0x1"}}
    ),
}


def best_us(fn: Callable[[], object], rounds: int, number: int) -> float:
    """The best of ``rounds`` means over ``number`` calls (the least disturbed), in us."""
    return benchlib.best_us(fn, rounds, number, clock=time.perf_counter)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--number", type=int, default=100)
    ap.add_argument("--write", type=Path)
    a = ap.parse_args()
    out: dict[str, Any] = {"machine": machine(), "documents": {}}
    rows = []
    for name, text in DOCS.items():
        now = best_us(
            lambda t=text: jsonio.loads(t, max_bytes=10**8, max_depth=32, floats=True),
            a.rounds,
            a.number,
        )
        before = best_us(
            lambda t=text: (jsonio.depth_exceeds(t, 32), json.loads(t)), a.rounds, a.number
        )
        bare = best_us(lambda t=text: json.loads(t), a.rounds, a.number)
        fig = {
            "bytes": len(text),
            "regex_check_then_parse_us": round(before, 1),
            "loads_us": round(now, 1),
            "bare_json_loads_us": round(bare, 1),
            "ratio_loads_over_before": round(now / before, 3),
            "ratio_loads_over_bare": round(now / bare, 3),
        }
        out["documents"][name] = fig
        rows.append(
            f"| {name} | {len(text):,} | {before:,.0f} us | {now:,.0f} us | {bare:,.0f} us "
            f"| {now / before:.2f} | {now / bare:.2f} |"
        )
    print(json.dumps(out, indent=2))
    if a.write:
        day = datetime.now(UTC).date().isoformat()
        body = (
            f"Measured {day} on {machine_line()}, CPython {out['machine']['python']}, by "
            f"`bench/jsonread.py --rounds {a.rounds} --number {a.number}` (best of the rounds).\n"
            "Before: the regex depth check (strings blanked, brackets kept, innermost pairs "
            "removed level by level) ran before every parse. Now: a document with at most "
            f"{jsonio.PARSE_FIRST:,} opening brackets is parsed first and its depth read off "
            "the parsed value; larger ones keep the regex check first.\n\n"
            "| document | bytes | regex check + parse (before) | `jsonio.loads` (now) "
            "| bare `json.loads` | now / before | now / bare |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n\n```json\n"
            + json.dumps(out, indent=2)
            + "\n```\n"
        )
        write_section(a.write, "Bounded JSON reader (bench/jsonread.py)", body)


if __name__ == "__main__":
    main()
