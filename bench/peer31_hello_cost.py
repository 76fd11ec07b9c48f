"""What a hello's introductions cost against a full candidate list (peer31's host-group shares).

Each scenario is one stranger key's hello sharing 64 new URLs (``flows.MAX_SHARED_URLS``)
to a core whose 256-URL list is full (8 source groups of 32), timed through
``GossipCore.hello``; the reference, in the same run and alternated with them, is the
signature check every hello pays already (``identity.verify_request`` of such a hello).

- ``flood``: from a source group already at its share (a Sybil machine's next key): refused
  before any URL is parsed;
- ``target``: from a new source group, every URL in one host group already at its share:
  each URL parsed (``host_group``) and refused, the worst case;
- ``replace``: from a new source group, URLs in distinct groups: 16 taken (the key's burst),
  each replacing one of the most-represented group's.

Prints JSON: per scenario, microseconds per hello and its ratio to the reference, per round.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from sdex.gossip.actions import GossipConfig
from sdex.gossip.core import GossipCore
from sdex.gossip.identity import NodeKey, verify_request
from tests.p2putil import Book


def full_core() -> tuple[GossipCore, list[int]]:
    c = GossipCore("0x" + "ee" * 20, "http://me.test:1", [], Book(), GossipConfig())
    n = [0]
    for g in range(8):
        for k in range(2):
            urls = fresh(n, 17)
            c.hello(f"0x{g * 100 + k:040x}", urls[0], {"peers": urls[1:]}, address=f"192.0.{g}.9")
    return c, n


def fresh(n: list[int], many: int, one_group: bool = False) -> list[str]:
    out = []
    for _ in range(many):
        i = n[0] = n[0] + 1
        out.append(
            f"http://10.200.0.{i % 250 + 1}:{i % 60000 + 1}"
            if one_group
            else f"http://11.{i >> 8 & 255}.{i & 255}.1:1"
        )
    return out


def scenario(kind: str, hellos: int) -> float:
    c, n = full_core()
    if kind == "target":  # (fill one target group to its share from other groups first)
        for j in range(16):
            c.peers.candidates.popitem(last=False)
            url = fresh(n, 1, one_group=True)[0]
            c.peers.introduce(url, f"0x{90_000 + j:040x}", f"172.16.{j}.0/24")
    spent = 0.0
    for i in range(hellos):
        urls = fresh(n, 65, one_group=kind == "target")
        address = "192.0.0.77" if kind == "flood" else f"198.{i % 200}.{i // 200}.1"
        sender = f"0x{10_000 + i:040x}"
        t = time.perf_counter()
        c.hello(sender, urls[0], {"peers": urls[1:]}, address=address)
        spent += time.perf_counter() - t
    return spent / hellos * 1e6


def reference(hellos: int) -> float:
    key = NodeKey.generate()
    urls = [f"http://11.0.{i}.1:1" for i in range(65)]
    body = json.dumps({"url": urls[0], "peers": urls[1:]}).encode()
    headers = key.request_headers("POST", "/p2p/hello", body, urls[0], to="")
    t = time.perf_counter()
    for _ in range(hellos):
        verify_request("POST", "/p2p/hello", headers)
    return (time.perf_counter() - t) / hellos * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hellos", type=int, default=300)
    args = ap.parse_args()
    random.seed(1)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("flood", "target", "replace")}
    for _ in range(args.rounds):
        for kind, rows in runs.items():
            ref = reference(args.hellos)
            us = scenario(kind, args.hellos)
            rows.append({"us": round(us, 1), "ref_us": round(ref, 1), "ratio": round(us / ref, 2)})
    ratios = {k: [r["ratio"] for r in rows] for k, rows in runs.items()}
    spread = {k: [min(v), max(v)] for k, v in ratios.items()}
    print(json.dumps({"rounds": runs, "ratio_min_max": spread}, indent=1))


if __name__ == "__main__":
    main()
