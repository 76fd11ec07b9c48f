"""What gossip77's metering wrapper (``sdex.gossip.metered.metered``) adds to a request of
three loop steps, by the clock it reads (gossip78): the thread's CPU clock
(``time.thread_time``, a system call here) against the wall clock (``time.perf_counter``),
and no wrapper; rounds alternated in one process. Prints JSON: the loop thread's CPU
microseconds a request, median and range of each."""

import asyncio
import json
import os
import statistics
import time

from sdex.gossip import metered as m

ROUNDS = 7
N = 20_000


async def request() -> int:
    for _ in range(2):
        await asyncio.sleep(0)
    return 1


async def run(wrap: bool) -> float:
    t = time.thread_time()
    for _ in range(N):
        if wrap:
            await m.metered(request(), m.Meter())
        else:
            await request()
    return (time.thread_time() - t) / N * 1e6


async def main() -> None:
    clocks = {"thread_time": time.thread_time, "perf_counter": time.perf_counter}
    out: dict[str, list[float]] = {"none": [], **{k: [] for k in clocks}}
    for _ in range(ROUNDS):
        for name in out:
            m.clock = clocks.get(name, time.perf_counter)
            out[name].append(await run(name != "none"))
    summary = {
        k: {
            "median": round(statistics.median(v), 2),
            "min": round(min(v), 2),
            "max": round(max(v), 2),
        }
        for k, v in out.items()
    }
    print(json.dumps({"us_a_request": summary, "loadavg": os.getloadavg()}))


asyncio.run(main())
