#!/usr/bin/env python3
"""hold70: the window in which a replacement (``NonceLane._replace``) may still go to a chain
replaced behind the URL, this tree against a reference checkout (``--ref-root``, e.g.
/work/main), each side in a process of its own, alternated.

The settler alone on a Hardhat devnet behind a loopback proxy that stamps each request's
arrival, the node's view of the chain set (the Exchange's deployment block and hash). Each
sample: mining paused, one match sent and pooled, automine resumed (Hardhat mines nothing of
its pool): past ``STUCK_IDLE`` the lane replaces it (Hardhat refuses the send, the lane
nudges). Measured from the proxy's stamps: ``window_ms``, the last request asking for the
view's block before the replacement's send to that send's arrival (median of ``SAMPLES``),
and ``requests``, the lane's requests from its pooled check to the send, both included.

Run: PYTHONPATH=$PWD .venv/bin/python bench/hold70_replace_window.py --ref-root /work/main
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import measure_args, measured_rounds, print_ab  # noqa: E402

SAMPLES = 5
SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


async def samples() -> dict[str, float]:
    from sdex.chain.rpc import Rpc
    from sdex.devnet import Devnet
    from tests.conftest import chain_of
    from tests.nodeutil import wait_for
    from tests.rpcfault import _proxy
    from tests.test_settlement_fallback import pair, running_settler

    net = Devnet(engine="hardhat", accounts=20)
    net.start()
    stamps: list[tuple[float, list[str], list[object]]] = []

    def intercept(req: object) -> None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        stamps.append(
            (time.perf_counter(), [str(c.get("method")) for c in calls],
             [(c.get("params") or [None])[0] for c in calls])
        )  # fmt: skip

    windows: list[float] = []
    counts: list[float] = []
    try:
        assert net.rpc is not None and net.deployment is not None
        direct = net.rpc
        with _proxy(net.node.url, intercept) as url:  # type: ignore[arg-type]
            c = chain_of(Rpc(url), net.deployment)
            block = hex(c.deployment.deploy_block)
            first = direct.call("eth_getBlockByNumber", block, False)
            view = (c.deployment.deploy_block, first["hash"])
            with tempfile.TemporaryDirectory() as tmp:
                async with running_settler(c, Path(tmp)) as (settler, _):
                    settler.async_sends.view = lambda: view
                    for k in range(SAMPLES):
                        direct.call("evm_setAutomine", False)
                        settler.submit([pair(c, k)])
                        await wait_for(lambda k=k: settler.sent >= k + 1 and not settler.sends, 60)
                        stamps.clear()
                        direct.call("evm_setAutomine", True)
                        await wait_for(lambda k=k: settler.replace_refused > k, 60)
                        await wait_for(lambda: settler.idle.is_set(), 60)
                        check = next(
                            i for i, (_, m, _) in enumerate(stamps)
                            if m[:2] == ["eth_getTransactionByHash", "eth_getTransactionCount"]
                        )  # fmt: skip
                        send = next(
                            i for i, (_, m, _) in enumerate(stamps)
                            if i > check and any(x in SENDS for x in m)
                        )  # fmt: skip
                        last = max(
                            i for i, (_, m, p) in enumerate(stamps[: send + 1])
                            if i >= check and any(
                                x == "eth_getBlockByNumber" and q == block
                                for x, q in zip(m, p, strict=True)
                            )
                        )  # fmt: skip
                        windows.append((stamps[send][0] - stamps[last][0]) * 1e3)
                        counts.append(send - check + 1)
    finally:
        net.stop()
    return {"window_ms": statistics.median(windows), "requests": statistics.median(counts)}


def measure() -> dict[str, float]:
    return asyncio.run(samples())


def main() -> None:
    args = measure_args(__doc__ or "", 3, measure)
    if args is None:
        return
    runs = measured_rounds(__file__, args)
    print_ab({"samples": SAMPLES}, runs, ["window_ms", "requests"])


if __name__ == "__main__":
    main()
