"""The bounded JSON reader's depth check (``sdex.jsonio.depth_exceeds``) on hostile bodies:
its one pattern (``_nested_within``) against the innermost-pairs passes it replaced
(``exceeds_by_passes``, kept for bounds past ``MAX_PATTERN_DEPTH``), alternated on the same
bracket text in one run, several pairs. Sizes and bounds are the node's: a wallet's POST
(64 KiB, depth 8) and a peer's body (4 MiB, depth 8). Prints JSON.

``python bench/json_depth.py [--pairs 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdex import jsonio


def shapes(n: int) -> dict[str, str]:
    """Bracket texts of ``n`` characters: each refused, or (wide) passed, at depth 8."""
    return {
        "nested n/2 deep": "[" * (n // 2) + "]" * (n // 2),
        "a level deeper every 15": ("[" * 8 + "]" * 7) * (n // 15),
        "wide, 8 deep (passes)": ("[" * 8 + "]" * 8) * (n // 16),
    }


def timed(fn: Any, *args: Any) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    depth = 8
    pattern = jsonio._nested_within(depth)
    rows = []
    for size in (64 * 1024, 4 * 1024 * 1024):
        for name, text in shapes(size).items():
            new_ms, old_ms = [], []
            for _ in range(args.pairs):  # A/B alternated
                t, a = timed(lambda s: pattern.fullmatch(s) is None, text)
                new_ms.append(t * 1000)
                t, b = timed(jsonio.exceeds_by_passes, text, depth)
                old_ms.append(t * 1000)
                assert a == b, (name, a, b)
            ratios = [o / n for o, n in zip(old_ms, new_ms, strict=True)]
            rows.append({
                "size": size, "shape": name, "refused": a,
                "pattern_ms_median": round(statistics.median(new_ms), 3),
                "passes_ms_median": round(statistics.median(old_ms), 3),
                "passes_over_pattern": [round(min(ratios), 1), round(max(ratios), 1)],
            })  # fmt: skip
    print(json.dumps({"depth": depth, "pairs": args.pairs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
