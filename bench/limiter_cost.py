"""What the node's request budget costs a request (limits34): the ``guard`` middleware's
``take(client_group(address))`` on the limiter ``make_app`` builds (``RateLimiter``
before, ``NetworkLimiter`` now: an IPv6 client's /56 and /48 charged too), for one IPv4
client and one IPv6 client asking again and again, and for 50,000 distinct clients (the
map past its bound: ``MAX_CLIENTS``), in this checkout and a reference one (``--ref-root``,
e.g. a checkout of main), each in its own process, alternated ``--rounds`` times.

Prints JSON: each figure's median over the rounds (and its min-max), microseconds a call,
and the ratio of this checkout's median to the reference's."""

from __future__ import annotations

import json
import timeit
from pathlib import Path
from typing import Any

from benchlib import measure_args, measured_rounds, spreads

ROOT = Path(__file__).resolve().parents[1]
DISTINCT = 50_000


def measure() -> dict[str, float]:
    """One process's figures (the sdex on ``sys.path``)."""
    from sdex import httpkit
    from sdex.node.config import NodeConfig

    limit = NodeConfig.__dataclass_fields__["rate_limit"].default_factory()  # type: ignore[misc]
    kind = getattr(httpkit, "NetworkLimiter", httpkit.RateLimiter)
    group = httpkit.client_group
    out: dict[str, float] = {}
    for name, address in (("ipv4", "198.51.100.7"), ("ipv6", "2001:db8:7:1::1")):
        n, fresh = 50_000, kind(limit).take

        def again(take: Any = fresh, address: str = address) -> None:
            take(group(address))

        out[f"take_{name}_us"] = min(timeit.repeat(again, number=n, repeat=5)) / n * 1e6
    clients = [f"2001:db8:{i >> 8:x}:{i & 255:x}::1" for i in range(DISTINCT)]
    clients += [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(DISTINCT)]

    def distinct() -> None:
        take = kind(limit).take
        for c in clients:
            take(group(c))

    out["take_distinct_us"] = min(timeit.repeat(distinct, number=1, repeat=3)) / len(clients) * 1e6
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    args = measure_args(__doc__, 5, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    result = spreads(runs)
    if "reference" in result:
        result["ratio_this_to_reference"] = {
            k: round(v[0] / result["reference"][k][0], 2) for k, v in result["this"].items()
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
