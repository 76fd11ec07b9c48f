"""What the ``/p2p/`` gate's budget of refusals costs a good peer's request (gate36): the
``client_group(request.remote)`` and ``RefusalGate.open`` every signed request passes
(``sdex.gossip.gate.signed``), for an IPv4 and an IPv6 peer never refused, with the map
empty, with 1,000 IPv6 clients of 1,000 /48s refused once each (this checkout's map of
/56s and /48s holds them, none spent), and with 300 /64s of one /48 refused once each
(flooded: that /48 is spent, and an IPv6 peer's ``open`` looks up its own /48 and /56
meanwhile); and a refused request's
``charge``; in this checkout and a reference one (``--ref-root``, e.g. a checkout of main),
each in its own process, alternated ``--rounds`` times (a pair a round).

Prints JSON: each figure's median over the rounds (and its min-max), microseconds a call,
each pair's ratio of this checkout's figure to the reference's (min, median, max)."""

from __future__ import annotations

import json
import statistics
import timeit
from pathlib import Path
from typing import Any

from benchlib import measure_args, measured_rounds, spreads

ROOT = Path(__file__).resolve().parents[1]
N = 200_000


def measure() -> dict[str, float]:
    """One process's figures (the sdex on ``sys.path``)."""
    from sdex.gossip.refusals import RefusalGate
    from sdex.httpkit import client_group

    out: dict[str, float] = {}
    conn = object()
    for state in ("empty", "refused", "flooded"):
        gate = RefusalGate()
        if state == "refused":  # (1,000 /48s refused once each: none spent)
            for i in range(1000):
                gate.charge(client_group(f"2001:db8:{i:x}::1"))
        if state == "flooded":  # (300 /64s of one /48 refused once each: it is spent)
            for i in range(300):
                gate.charge(client_group(f"2001:db9:0:{i:x}::1"))
        for name, address in (("ipv4", "198.51.100.7"), ("ipv6", "2001:db8:ff:1::1")):

            def good(gate: Any = gate, address: str = address) -> None:
                gate.open(client_group(address), conn)

            best = min(timeit.repeat(good, number=N, repeat=5))
            out[f"open_{name}_{state}_us"] = best / N * 1e6
    for name, address in (("ipv4", "198.51.100.9"), ("ipv6", "2001:db8:fe:1::1")):
        gate = RefusalGate()

        def refused(gate: Any = gate, address: str = address) -> None:
            gate.charge(client_group(address))

        out[f"charge_{name}_us"] = (
            min(timeit.repeat(refused, number=N // 4, repeat=5)) / (N // 4) * 1e6
        )
    return {k: round(v, 4) for k, v in out.items()}


def main() -> None:
    args = measure_args(__doc__, 6, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    result = spreads(runs)
    if runs["reference"]:
        pairs = list(zip(runs["this"], runs["reference"], strict=True))
        result["pair_ratio_this_to_reference"] = {
            k: [round(f(t[k] / r[k] for t, r in pairs), 2) for f in (min, statistics.median, max)]
            for k in runs["this"][0]
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
