"""review93b's leftover (fee94): ``read_range`` reads a range deeper than the kept window in
two parts, the final part's logs without headers (its last block's header alone) and the
recent part's headers. The first recent header's parent was never checked against that
final block's hash: an RPC answering the final part from one chain and the recent headers
from another (a lie, or a reorg between the reads of a load-balanced endpoint) had its
recent headers applied, and their fees believed (``announced.read``: the fee floor, fee93),
linked to nothing the mirror read. Now a break of that link is ``Inconsistent`` (the chain
moving: the range is read again), as a break between two recent headers is. Real Hardhat
behind a real loopback proxy that answers the final block with another hash."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.mirror import Effects, Header, Mirror
from sdex.watch.blocks import Inconsistent
from sdex.watch.ranges import read_range
from tests.conftest import Chain
from tests.rpcfault import Answer, _proxy

DEPTH = 4
OTHER = "0x" + "ab" * 32
"""The hash the lying proxy gives the final block (of "another chain")."""


def lying_final(upstream: str, final: int, lie: bool) -> Any:
    """A proxy to ``upstream`` whose answers for block ``final``'s header name ``OTHER`` as
    its hash (every read of it, so that a re-read agrees) when ``lie``."""

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if not lie or not any(
            isinstance(c, dict)
            and c.get("method") == "eth_getBlockByNumber"
            and (c.get("params") or [None])[0] == hex(final)
            for c in calls
        ):
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            answer = json.loads(resp.read())
        for call, a in zip(calls, answer if isinstance(answer, list) else [answer], strict=True):
            block = a.get("result")
            if (call.get("params") or [None])[0] == hex(final) and isinstance(block, dict):
                block["hash"] = OTHER
        return 200, json.dumps(answer).encode()

    return _proxy(upstream, intercept)


@pytest.mark.parametrize("lie", [False, True])
async def test_the_first_recent_header_must_follow_the_final_part(chain: Chain, lie: bool) -> None:
    c = chain
    for _ in range(DEPTH + 6):  # (empty blocks, each its parent's hash: not hardhat_mine's)
        c.rpc.call("evm_mine")
    tip = int(c.rpc.call("eth_blockNumber"), 16)
    start, final = tip - DEPTH - 3, tip - DEPTH
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address], depth=DEPTH)
    with lying_final(c.rpc.url, final, lie) as url:
        rpc = AsyncRpc(url)
        try:
            latest = Header.from_rpc(await rpc.call("eth_getBlockByNumber", hex(tip), False))
            eff = Effects()
            if lie:
                with pytest.raises(Inconsistent, match=f"block {final + 1} does not follow"):
                    await read_range(rpc, m, {}, start, tip, latest, None, eff)
            else:
                await read_range(rpc, m, {}, start, tip, latest, None, eff)
        finally:
            await rpc.close()
    if lie:  # (nothing of the recent part applied, no fee of it believed)
        assert m.head is None or m.head.number < final + 1
        assert m.announced.read_fee is None or m.announced.read_fee[0] <= final
    else:
        assert m.head is not None and m.head.number == tip
