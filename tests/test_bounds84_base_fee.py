"""bounds84: the chain's ``baseFeePerGas`` was believed whatever the endpoint answered (any
256-bit quantity): the settler signed its transaction with a fee cap twice it. One answer of
2^200 had the operator sign a cap past any funds (the send refused, the settlement stalled
for as long as the lie lasted); one of fifty times the last fee read had it sign a cap the
chain accepts (the operator agrees to pay that much a gas if the chain's fee goes there).

Now a read fee above ``MAX_BASE_FEE``, or past EIP-1559's bounds (an eighth a block) of the
last one read and not confirmed by a read again, is not signed with: the match waits unsent
and settles once the chain's answers are sound; /health's ``chainMirror.baseFee`` counts them
and says why. Real Hardhat, a real node, a loopback proxy that rewrites the latest block's
fee (and records the fee caps of the transactions sent through it)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import rlp

from sdex.chain.headsignal import HeadSignal
from sdex.chain.rpc import quantity
from sdex.chain.tx import MAX_BASE_FEE
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy, forwarded, raw_sends
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid


@dataclass
class Lying:
    """The proxy's state: ``lie`` (the real fee, the answers so far: the fee answered), on
    while set; the base fees the sent transactions were signed with."""

    lie: Callable[[int, int], int] | None = None
    lies: int = 0
    signed: list[int] = field(default_factory=list)


def signed_base_fee(raw: str) -> int:
    """The base fee a type-2 transaction was signed with: its cap less the tip, halved."""
    body = bytes.fromhex(raw[2:])
    assert body[0] == 2, body[:1]
    fields = rlp.decode(body[1:])
    tip, cap = (int.from_bytes(fields[i], "big") for i in (2, 3))
    return (cap - tip) // 2


Edit = Callable[[list[dict[str, object]], list[Any]], None]


def relaying(upstream: str, signed: list[int], edit: Edit) -> Callable[[object], Answer]:
    """A ``_proxy`` intercept: each request forwarded to ``upstream``, the base fee every raw
    transaction it sends was signed with appended to ``signed``; ``edit`` rewrites the answers
    in place (given the calls they answer) before they go back."""

    def intercept(req: object) -> Answer:
        calls, raws = raw_sends(req)
        signed.extend(signed_base_fee(r) for r in raws)
        out = forwarded(upstream, req)
        edit(calls, out if isinstance(out, list) else [out])
        return 200, json.dumps(out).encode()

    return intercept


@contextmanager
def fee_lying(
    upstream: str, state: Lying, number: str | None = None, marker: str | None = None
) -> Iterator[str]:
    """A proxy to ``upstream`` whose answers to ``eth_getBlockByNumber("latest", ...)`` carry
    ``state.lie``'s fee while it is set (``number``: said to be that block's too; ``marker``:
    only in a batch that also asks that method); the base fees of the transactions sent
    through it kept (``state.signed``)."""

    def intercept(req: object) -> Answer:
        calls, raws = raw_sends(req)
        state.signed += [signed_base_fee(r) for r in raws]
        headers = {"Content-Type": "application/json"}
        fwd = urllib.request.Request(upstream, json.dumps(req).encode(), headers, method="POST")
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            out = json.loads(resp.read())
        answers = out if isinstance(out, list) else [out]
        if marker is not None and not any(q.get("method") == marker for q in calls):
            return 200, json.dumps(out).encode()
        for q, r in zip(calls, answers, strict=False):
            lie = state.lie
            got = r.get("result") if isinstance(r, dict) else None
            if (
                lie is not None
                and q.get("method") == "eth_getBlockByNumber"
                and (q.get("params") or [None])[0] == "latest"
                and isinstance(got, dict)
            ):
                got["baseFeePerGas"] = hex(lie(int(got["baseFeePerGas"], 16), state.lies))
                if number is not None:
                    got["number"] = number
                state.lies += 1
        return 200, json.dumps(out).encode()

    with _proxy(upstream, intercept) as url:
        yield url


@contextmanager
def signing_recorded(
    upstream: str,
    signed: list[int],
    rewrite: Callable[[dict[str, Any], dict[str, Any]], None] = lambda call, answer: None,
) -> Iterator[str]:
    """A proxy to ``upstream`` keeping in ``signed`` the base fee each transaction sent
    through it was signed with (``signed_base_fee``); each call's answer (a dict) passed with
    the call to ``rewrite``, which may change it, before it is sent back."""

    def intercept(req: object) -> Answer:
        calls, raws = raw_sends(req)
        signed.extend(signed_base_fee(r) for r in raws)
        out = forwarded(upstream, req)
        for q, r in zip(calls, out if isinstance(out, list) else [out], strict=False):
            if isinstance(r, dict):
                rewrite(q, r)
        return 200, json.dumps(out).encode()

    with _proxy(upstream, intercept) as url:
        yield url


@asynccontextmanager
async def pair_posted(c: Chain, db: Path, rpc: str) -> AsyncIterator[Node]:
    """A node on ``db`` reaching the chain at ``rpc`` (a proxy's URL) with no newHeads feed
    (each head polled, each fee read), a crossing pair of a hundredth of an ETH posted at
    this run's own price (2000 to 2999 by the chain's height): a settlement to sign."""
    price = 2000 + int(c.rpc.call("eth_blockNumber"), 16) % 1000
    cfg = replace(node_config(c, db), rpc=rpc, new_heads=False)
    async with running_node(cfg) as (node, api):
        pair = (
            ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
            bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
        )
        for o in pair:
            code, body = await api.post_order(o)
            assert code == 201, body
        yield node


@asynccontextmanager
async def polled_node(c: Chain, tmp_path: Path, rpc: str) -> AsyncIterator[tuple[Node, Api]]:
    """A node whose chain is reached at ``rpc`` (a lying proxy's URL) with no newHeads feed
    (each head polled, each fee read), once its watcher is ok."""
    cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc, new_heads=False)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.status == "ok", 60)
        yield node, api


def own_pair(c: Chain) -> tuple[SignedOrder, SignedOrder]:
    """A crossing ask and bid of a hundredth of a WETH at this run's own price (from the
    chain's block number: no other run's orders cross it), the price their salt."""
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    return (
        ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
        bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
    )


async def posted_pair(c: Chain, api: Api) -> tuple[SignedOrder, SignedOrder]:
    """``own_pair``, each posted (answered 201: the first answer, the subject a lie)."""
    pair = own_pair(c)
    for o in pair:
        code, body = await api.post_order(o)
        assert code == 201, body
    return pair


LIES: dict[str, Callable[[int, int], int]] = {
    # past any funds: the send refused, for as long as it lies
    "2^200": lambda fee, n: 2**200,
    "2^256-1": lambda fee, n: 2**256 - 1,
    "just above the ceiling": lambda fee, n: MAX_BASE_FEE + 1,
    # within the ceiling, fifty times the chain's and more each answer (never confirmed)
    "a jump": lambda fee, n: max(fee, 10**9) * 50 << n,
}


@pytest.mark.parametrize("name", list(LIES))
async def test_an_odd_base_fee_is_not_signed_with(chain: Chain, tmp_path: Path, name: str) -> None:
    """Before: the settlement signed with the lie (failed 4 of 4)."""
    c = chain
    state = Lying()
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    with fee_lying(c.deployment.rpc, state) as rpc:
        async with polled_node(c, tmp_path, rpc) as (node, api):
            state.lie = LIES[name]
            sell = ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price)
            buy = bid(c, BOB, E18 // 100, price * E6 // 100, salt=price)
            for o in (sell, buy):
                code, body = await api.post_order(o)
                assert code == 201, body
            await wait_for(lambda: state.lies >= 12, 60)  # (the settler's reads among them)
            state.lie = None
            await wait_for(lambda: node.settler.settled >= 1, 90)
            highest = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
            assert state.signed, "nothing sent"
            assert max(state.signed) <= max(highest, 10**9) * 4, (state.signed, highest)
            code, health = await api.get("/health")
            fees = health["chainMirror"]["baseFee"]
            assert fees["readUntrusted"] >= 1, fees
            assert "baseFeePerGas" in fees["lastUntrusted"], fees


GWEI = 10**9
READS = [  # (reads: (block, fee) in turn; whether each is believed)
    ("within an eighth", [(10, GWEI), (11, GWEI * 9 // 8)], [True, True]),
    ("above the ceiling", [(10, GWEI), (11, MAX_BASE_FEE + 1)], [True, False]),
    ("the ceiling at the first read", [(10, 2**200)], [False]),
    # (fee93: a rise past the bounds is never confirmed by a read again; a fall is)
    ("a jump, read again", [(10, GWEI), (11, 50 * GWEI), (11, 50 * GWEI)], [True, False, False]),
    ("a fall, read again", [(10, 50 * GWEI), (11, GWEI), (11, GWEI)], [True, False, True]),
    ("a jump each read", [(10, GWEI), (11, 50 * GWEI), (11, 100 * GWEI)], [True, False, False]),
    ("a lie between truths", [(10, GWEI), (11, 50 * GWEI), (11, GWEI)], [True, False, True]),
    # (fee86: past the head this node knows, its number unplaced: tests/test_fee86_fee_number.py)
    ("far past the last read", [(10, GWEI), (20, 50 * GWEI)], [True, False]),
]


@pytest.mark.parametrize(("name", "reads", "believed"), READS, ids=[r[0] for r in READS])
def test_a_read_fee_is_believed_within_the_bounds(
    name: str, reads: list[tuple[int, int]], believed: list[bool]
) -> None:
    heads = HeadSignal()
    got = [heads.read(n, fee) is None for n, fee in reads]
    assert got == believed, name
    assert heads.untrusted == believed.count(False)


def test_an_announced_head_confirms_a_fall_read_once_never_a_jump() -> None:
    """A devnet's fee set by ``hardhat_setNextBlockBaseFeePerGas``: a fall read once past the
    bounds (not believed), then announced on from it: believed, and the bound of the next.
    fee93: a jump so read and announced is not (a lie answered twice was believed: review92);
    the mirror's reads of the blocks by number bring it within reach (9/8 a block)."""
    heads = HeadSignal()
    assert heads.read(10, 8 * GWEI) is None
    assert heads.read(11, GWEI) is not None
    heads.announce("0x" + "ab" * 32, GWEI * 105 // 100, 12)
    assert heads.base_fee is not None and heads.base_fee[0] == GWEI * 105 // 100
    assert heads.refused == 0 and heads.read_fee == (11, GWEI)
    jumped = HeadSignal()
    assert jumped.read(10, GWEI) is None
    assert jumped.read(11, 8 * GWEI) is not None
    jumped.announce("0x" + "ab" * 32, 8 * GWEI * 105 // 100, 12)
    assert jumped.base_fee is None and jumped.refused == 1 and jumped.read_fee == (10, GWEI)
    fee = GWEI
    for n in range(11, 40):  # (the mirror's walk: each block at most 9/8 its parent's)
        fee = min(8 * GWEI, fee + fee // 8)
        assert jumped.read(n, fee, placed=True) is None, n
    assert jumped.read(40, 8 * GWEI) is None  # (within reach of the blocks walked)
