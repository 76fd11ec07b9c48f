"""review87: fee86 bounds a read base fee by the head this node knows (the mirror's), but the
last read it keeps (``HeadSignal.read_fee``) moves that bound with it: ``doubt``'s furthest
block is ``max(at, known) + FEE_STEPS``, ``at`` the last kept read's own number. An answer
``FEE_STEPS`` past the last kept read is kept, and so the next one ``FEE_STEPS`` past that:
a ratchet, each read a bound of its own, with no head behind it. After ten such answers
(an endpoint lying about the latest block's number, the fee the chain's), every honest read
of the chain's head is "below block N read before ... cannot lead there": not believed, for
as long as the chain takes to reach the lied number. Nothing settles meanwhile (on an idle
devnet: for ever; the settlements are the blocks). The same after a reorg or a reset
(``rewound``: no read kept), when the first read is kept whatever its number.

Real Hardhat, a real node, a loopback proxy rewriting the latest block's number (the fee and
the hash the chain's)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdex.chain.headsignal import FEE_STEPS, HeadSignal
from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid
from tests.test_bounds84_base_fee import polled_node
from tests.test_mirror import synced

GWEI = 10**9
HEAD = 100
"""The mirror's head in these cases; the first read is block 100's, 1 gwei."""

RATCHET = [(HEAD + FEE_STEPS * k, GWEI) for k in range(1, 11)]
"""Ten answers, each ``FEE_STEPS`` past the one before, the fee unchanged."""

RAISED = [(n, GWEI * 9**k // 8**k) for k, (n, _) in enumerate(RATCHET, 1)]
"""The same, each fee an eighth over the one before (EIP-1559's most a block)."""

CASES = [  # (name, reads after block 100's; then the honest read (block, fee): believed)
    ("ten answers each FEE_STEPS on", RATCHET, (HEAD + 1, GWEI)),
    ("the fee raised an eighth each", RAISED, (HEAD + 1, GWEI)),
    ("after a rewind, one far ahead", [("rewound", 0), (10**6, GWEI)], (HEAD + 1, GWEI)),
]


@pytest.mark.parametrize(("name", "reads", "honest"), CASES, ids=[c[0] for c in CASES])
def test_a_read_past_the_known_head_bounds_no_later_read(
    name: str, reads: list[tuple[int | str, int]], honest: tuple[int, int]
) -> None:
    """(failed 3 of 3 before the fix: each honest read refused, "below block ...")"""
    heads = HeadSignal(lambda: HEAD)
    assert heads.read(HEAD, GWEI) is None
    for n, fee in reads:
        if n == "rewound":
            heads.rewound()
            continue
        assert isinstance(n, int)
        heads.read(n, fee)
    assert heads.read(*honest) is None, name
    assert heads.read_fee is not None and heads.read_fee[0] <= HEAD + FEE_STEPS, name


@dataclass
class Ahead:
    """The proxy's state: while ``on``, each answer for the latest block says the block
    ``FEE_STEPS`` past the one it said before (from the chain's own number)."""

    on: bool = False
    lies: int = 0
    said: int = 0


@contextmanager
def _ahead(upstream: str, state: Ahead) -> Iterator[str]:
    def intercept(req: object) -> Answer:
        headers = {"Content-Type": "application/json"}
        fwd = urllib.request.Request(upstream, json.dumps(req).encode(), headers, method="POST")
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            out = json.loads(resp.read())
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        answers = out if isinstance(out, list) else [out]
        for q, r in zip(calls, answers, strict=False):
            got = r.get("result") if isinstance(r, dict) else None
            if (
                state.on
                and q.get("method") == "eth_getBlockByNumber"
                and (q.get("params") or [None])[0] == "latest"
                and isinstance(got, dict)
            ):
                state.said = max(state.said, int(got["number"], 16)) + FEE_STEPS
                got["number"] = hex(state.said)
                state.lies += 1
        return 200, json.dumps(out).encode()

    with _proxy(upstream, intercept) as url:
        yield url


async def test_answers_ahead_one_by_one_hold_no_settlement(chain: Chain, tmp_path: Path) -> None:
    """Ten answers for the latest block, each ``FEE_STEPS`` past the one before (the hash and
    the fee the chain's), then the truth: the node's matches settle. Before: each read of
    the chain's head was refused ("below block N read before"), nothing sent."""
    c = chain
    state = Ahead()
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    with _ahead(c.deployment.rpc, state) as rpc:
        async with polled_node(c, tmp_path, rpc) as (node, api):
            await synced(node, c)  # (the mirror at the chain's head: the bound fee86 reads)
            state.on = True
            await wait_for(lambda: state.lies >= 10, 60)
            state.on = False
            await wait_for(lambda: node.watcher.status == "ok", 60)  # (the lies' polls: read again)
            sell = ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price)
            buy = bid(c, BOB, E18 // 100, price * E6 // 100, salt=price)
            for o in (sell, buy):
                code, body = await api.post_order(o)
                assert code == 201, body
            try:
                await wait_for(lambda: node.settler.settled >= 1, 60)
            finally:
                print("baseFee", node.mirror.announced.to_json())
