"""The loop thread's CPU a cheapest ``/p2p/`` request over a stream costs, a real gossip
driver on loopback and its admitted peer's stream in one loop (both sides counted): what
gossip77's metering (``sdex.gossip.metered``: clock reads, a wrapper, the charge) adds to a
frame. Run it under each tree's ``PYTHONPATH``, alternated, e.g.

    for i in 1 2 3; do
      (cd /work/wt/X && PYTHONPATH=$PWD .venv/bin/python bench/gossip77_floor_cost.py)
      (cd /work/main && PYTHONPATH=$PWD .venv/bin/python /work/wt/X/bench/gossip77_floor_cost.py)
    done

Prints {"us": microseconds a request}."""

import asyncio
import json
import time

import aiohttp

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip import stream as gstream
from sdex.httpkit import RateLimit
from tests.p2putil import serve_gossip


async def main() -> None:
    member = await serve_gossip(
        GossipConfig(ae_interval=1e6), [], limit=RateLimit(rate=1e4, burst=10**7)
    )
    await member.gossip.start()
    key = NodeKey.generate()
    member.gossip.peers.admit(key.node_id, "http://127.0.0.1:9")
    async with aiohttp.ClientSession() as s:
        link = await gstream.dial(
            s, key, "http://127.0.0.1:9", member.url, member.gossip.node_id, print
        )
        gate = asyncio.Semaphore(12)

        async def one() -> None:
            async with gate:
                st, _ = await link.request("POST", "/hashes", None, {"buckets": []}, 30.0)
                assert st == 200

        await asyncio.gather(*(one() for _ in range(500)))
        n = 4000
        t = time.thread_time()
        await asyncio.gather(*(one() for _ in range(n)))
        print(json.dumps({"us": round((time.thread_time() - t) / n * 1e6, 1)}))
        await link.close()
    await member.runner.shutdown()
    await member.gossip.stop()
    await member.runner.cleanup()


asyncio.run(main())
