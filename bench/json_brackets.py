"""The bounded JSON reader's depth check (``sdex.jsonio.depth_exceeds``) with its brackets
kept by ``bytes.translate`` (``brackets_of``, review27) against the ``re.sub`` of every run
of other characters it replaced, the rest of the check the same, alternated on the same
text in one run, several pairs. Sizes and bounds are the node's: a peer's body (4 MiB) and a
wallet's POST (64 KiB), depth 8 and 32. Prints JSON.

``python bench/json_brackets.py [--pairs 5]``
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex import jsonio

NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def before(text: str, depth: int) -> bool:
    """``depth_exceeds`` as it was: ``re.sub`` of the runs between brackets."""
    if text.count("[") + text.count("{") <= depth:
        return False
    brackets = NOT_BRACKET.sub("", jsonio._STRING.sub("", text))
    return jsonio._nested_within(depth).fullmatch(brackets) is None


def shapes(n: int, depth: int) -> dict[str, str]:
    return {
        "[],[],... under depth-1 levels, never closed": (
            "[" * (depth - 1) + "[]," * (n // 3) + "[" * 2
        ),
        "orders' objects (strings)": '{"a":"0x1234","b":[1,2,3]},' * (n // 28),
        "valid at the bound, numbers": ("[" * depth + "1" + "]" * depth + ",")
        * (n // (2 * depth + 2)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for size in (64 * 1024, 4 * 1024 * 1024):
        for depth in (8, 32):
            for name, text in shapes(size, depth).items():
                new_ms, old_ms = [], []
                for _ in range(args.pairs):  # A/B alternated
                    t0 = time.perf_counter()
                    a = jsonio.depth_exceeds(text, depth)
                    new_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    b = before(text, depth)
                    old_ms.append((time.perf_counter() - t0) * 1000)
                    assert a == b, (name, a, b)
                ratios = [o / n for o, n in zip(old_ms, new_ms, strict=True)]
                rows.append({
                    "size": size, "depth": depth, "shape": name, "refused": a,
                    "translate_ms_median": round(statistics.median(new_ms), 3),
                    "re_sub_ms_median": round(statistics.median(old_ms), 3),
                    "re_sub_over_translate": [round(min(ratios), 1), round(max(ratios), 1)],
                })  # fmt: skip
    print(json.dumps({"pairs": args.pairs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
