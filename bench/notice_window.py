"""Cancel propagation under load: N cancel notices from one node to M peers, the time until
every peer has taken (and stored) all of them.

A node's box of notices for a peer sends them one at a time: the next leaves with the
previous one's answer (``sdex.gossip.noticebox``), and a node answers a cancel once its row
is committed (cancel90). So a burst of N cancels costs each peer N round trips plus N
commits in a row. In-process gossip drivers (``sdex.gossip.gossip.Gossip``) with their routes
on real aiohttp servers on loopback (``tests.p2putil``), over streams or HTTP; each peer's
intake writes each cancel it takes as a row of its own SQLite file through the node's writer
thread (``sdex.sqlwriter.Writer``, the node's pragmas: WAL, synchronous=NORMAL, group
commits) and answers it once committed, as a node answers a kept cancel; ``--link-ms``: each
answer also held that long (a long link's round trip, which loopback has not). ``--window``: the
notices a box may have in flight (``GossipConfig.notice_window``; 1: one at a time). Prints
JSON: seconds until all delivered, and cancels a second, per round, and the median."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

from sdex.gossip import GossipConfig  # noqa: E402
from sdex.sqlwriter import Writer  # noqa: E402
from sdex.storeschema import PRAGMAS  # noqa: E402
from tests.p2putil import MemoryNode, Notice, gossip_net  # noqa: E402

DIR = Path(tempfile.mkdtemp(prefix="notice_window-"))


class Storing(MemoryNode):
    """Takes every cancel: one row in its own SQLite file, answered once committed."""

    made = 0
    link = 0.0
    """Seconds each answer is held past its commit (a long link's round trip)."""

    def __init__(self) -> None:
        super().__init__()
        Storing.made += 1
        db = sqlite3.connect(
            DIR / f"peer-{Storing.made}.db", isolation_level=None, check_same_thread=False
        )
        for pragma in PRAGMAS:
            db.execute(pragma)
        db.execute("CREATE TABLE IF NOT EXISTS kept (h TEXT PRIMARY KEY, sig TEXT)")
        self.writer = Writer(db, 0.002, 1024)
        self.got = 0

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> Notice:
        assert isinstance(notice, dict)
        h, sig = str(notice["orderHash"]), str(notice["signature"])
        stored = self.writer.submit_async(
            lambda db: db.execute("INSERT OR REPLACE INTO kept VALUES (?, ?)", (h, sig))
        )
        stored.add_done_callback(self._count)
        if Storing.link:
            later = asyncio.get_running_loop().create_future()
            stored.add_done_callback(
                lambda _: asyncio.get_running_loop().call_later(
                    Storing.link, later.set_result, None
                )
            )
            stored = later
        return Notice(202, {"orderHash": h, "status": "kept"}, stored=stored)

    def _count(self, _: object) -> None:
        self.got += 1


async def round_(n: int, peers: int, streams: bool, window: int, salt: int) -> float:
    cfg = GossipConfig(
        dial_interval=0.1, ae_interval=3600.0, peer_exchange_interval=3600.0, streams=streams,
        notice_window=window,
    )  # fmt: skip
    makes: list[type[MemoryNode]] = [MemoryNode] + [Storing] * peers
    async with gossip_net(peers + 1, [cfg] * (peers + 1), makes=makes) as members:
        a, rest = members[0], members[1:]
        began = time.perf_counter()
        for i in range(n):
            h = "0x" + f"{salt:08x}{i:056x}"
            a.gossip.notify("cancels", {"orderHash": h, "signature": "0x" + "11" * 65})
        while any(m.node.got < n for m in rest if isinstance(m.node, Storing)):  # type: ignore[attr-defined]
            await asyncio.sleep(0.005)
        took = time.perf_counter() - began
        for m in rest:
            assert isinstance(m.node, Storing)
            m.node.writer.close()
        return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cancels", type=int, default=500)
    p.add_argument("--peers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--windows", default="1,4", help="notice windows to compare, in turn")
    p.add_argument("--transports", default="stream,http")
    p.add_argument("--link-ms", type=float, default=0.0)
    args = p.parse_args()
    Storing.link = args.link_ms / 1000
    windows = [int(w) for w in args.windows.split(",")]
    out: dict[str, Any] = {"machine": machine(), "cancels": args.cancels, "peers": args.peers,
                           "link_ms": args.link_ms}  # fmt: skip
    results: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for transport in args.transports.split(","):
            for window in windows if r % 2 == 0 else windows[::-1]:
                took = asyncio.run(
                    round_(args.cancels, args.peers, transport == "stream", window, r)
                )
                results.setdefault(f"{transport} window {window}", []).append(took)
    out["seconds"] = {k: [round(x, 3) for x in v] for k, v in results.items()}
    out["median_seconds"] = {k: round(statistics.median(v), 3) for k, v in results.items()}
    out["cancels_per_second"] = {
        k: round(args.cancels / statistics.median(v)) for k, v in results.items()
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
