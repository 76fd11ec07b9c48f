"""What telling clients apart costs the node: per request (``client_group``, cached, against
its uncached parse) and per connection (``ConnectionSlots.admit`` + ``release`` as
``BoundedServer`` does them, IPv4 and IPv6 clients), in this checkout and a reference one
(``--ref-root``, e.g. the main checkout: before an IPv6 client counted in its /56 and /48),
each in its own process, alternated ``--rounds`` times; and ``TrustedProxies.client`` (a
trusted proxy's request with a two-entry ``X-Forwarded-For``) where the checkout has it.

Prints JSON: each figure's median over the rounds, in microseconds a call, and the ratio of
this checkout's to the reference's.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import timeit
from pathlib import Path
from typing import Any

from benchlib import measure_args, measured_rounds

ROOT = Path(__file__).resolve().parents[1]

IPV4 = [f"10.{i}.{j}.1" for i in range(4) for j in range(64)]
IPV6 = [f"2001:db8:{i:x}:{j:x}::1" for i in range(4) for j in range(64)]


def measure() -> dict[str, float]:
    """One process's figures (the sdex on ``sys.path``)."""
    from aiohttp import web
    from aiohttp.web_protocol import RequestHandler

    from sdex import httpkit
    from sdex.node.conns import ConnectionSlots

    out: dict[str, float] = {}
    group = httpkit.client_group
    addresses = IPV4 + IPV6
    n = 200
    for a in addresses:
        group(a)
    out["client_group_cached_us"] = (
        min(timeit.repeat(lambda: [group(a) for a in addresses], number=n, repeat=5))
        / (n * len(addresses))
        * 1e6
    )
    parse = group.__wrapped__
    out["client_group_parsed_us"] = (
        min(timeit.repeat(lambda: [parse(a) for a in addresses], number=20, repeat=5))
        / (20 * len(addresses))
        * 1e6
    )

    async def handlers() -> list[RequestHandler]:
        server = web.Server(lambda request: web.Response())
        loop = asyncio.get_running_loop()
        return [RequestHandler(server, loop=loop) for _ in range(len(IPV4))]

    conns = asyncio.run(handlers())
    for name, pool in (("ipv4", IPV4), ("ipv6", IPV6)):
        slots = ConnectionSlots(512, 4096)

        def cycle(pool: list[str] = pool, slots: ConnectionSlots = slots) -> None:
            for c, a in zip(conns, pool, strict=True):
                slots.admit(c, group(a))
            for c in conns:
                slots.release(c)

        out[f"admit_release_{name}_us"] = (
            min(timeit.repeat(cycle, number=50, repeat=5)) / (50 * len(pool)) * 1e6
        )
    proxies_type = getattr(httpkit, "TrustedProxies", None)
    if proxies_type is not None:
        proxies = proxies_type((httpkit.parse_network("127.0.0.1"),))
        header = ["198.51.100.7, 203.0.113.5"]
        out["forwarded_client_us"] = (
            min(timeit.repeat(lambda: proxies.client("127.0.0.1", header), number=20_000, repeat=5))
            / 20_000
            * 1e6
        )
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    args = measure_args(__doc__, 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    result: dict[str, Any] = {}
    for side, figures in runs.items():
        if figures:
            keys = figures[0].keys()
            result[side] = {k: round(statistics.median(f[k] for f in figures), 3) for k in keys}
    if "reference" in result:
        result["ratio_this_to_reference"] = {
            k: round(v / result["reference"][k], 2)
            for k, v in result["this"].items()
            if result["reference"].get(k)
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
