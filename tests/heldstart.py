"""A start held in a chain doubt (doubt83) on what the last run left (doubt83's held start,
review85's held tests): a first run saving a head, a crossing pair stored with the operator's
settlement of it pending, and the proxies that put the next start in doubt.

The doubt: two real ``flapping_proxy`` on loopback answering the saved head's block with two
other hashes (the start's check of the saved head, asked twice), in front of a proxy of the
test's that refuses what it chooses (reads by block hash: a provider without EIP-1898)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sdex.chain.states import OrderStatus as ChainStatus
from sdex.chain.tx import SignedTx
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.rpcfault import Answer, _forward, _proxy, flapping_proxy
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review66_adopt_landed import FEES, OPERATOR
from tests.test_review74a_flapped_head import _saved_head


async def first_run(c: Chain, cfg: NodeConfig, salt: int) -> int:
    """A first run of ``cfg``'s node (CAROL's ask posted, salt ``salt``), stopped: the head
    it saved."""
    other = c.sign(ask(c, CAROL, E18, 9000 * E6, salt=salt))
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(other))[0] == 201
    return _saved_head(cfg.db)


async def left_row(
    c: Chain, cfg: NodeConfig, size: int, salt: int, bid_size: int | None = None
) -> tuple[SignedOrder, SignedOrder, SignedTx]:
    """ALICE's ask of ``size`` WETH and BOB's bid of ``bid_size`` (None: ``size``) at 3,000
    USDC each (salts ``salt`` and the next) stored open in ``cfg``'s store, and the operator's
    settlement of one WETH of them signed and stored ``pending`` (not sent): both orders and
    the transaction."""
    taken = size if bid_size is None else bid_size
    resting = c.sign(ask(c, ALICE, size * E18, size * 3000 * E6, salt=salt))
    incoming = c.sign(bid(c, BOB, taken * E18, taken * 3000 * E6, salt=salt + 1))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1001, "open", "api")
    store.add_order(incoming, 1002, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, E18)])
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    return resting, incoming, tx


def by_hash(req: object) -> bool:
    """Whether ``req`` is an ``eth_call`` named by a block hash (EIP-1898)."""
    if not isinstance(req, dict) or req.get("method") != "eth_call":
        return False
    params = req.get("params") or []
    return len(params) > 1 and isinstance(params[1], dict)


def header_not_found(req: object) -> Answer:
    """``req``'s answer as a provider's that does not know the block it names."""
    rid = req.get("id") if isinstance(req, dict) else None
    error = {"code": -32000, "message": "header not found"}
    return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "error": error}).encode()


@contextmanager
def held_reads(
    upstream: str, head: int, selector: str
) -> Iterator[tuple[str, threading.Event, tuple[list[int], list[int]]]]:
    """The URL of ``in_doubt``'s proxies before ``gated_reads_proxy``'s to ``upstream``; the
    event; ``in_doubt``'s counts."""
    with (
        gated_reads_proxy(upstream, selector) as (surl, gate),
        in_doubt(surl, head) as (url, first, second),
    ):
        yield url, gate, (first, second)


@contextmanager
def gated_reads_proxy(upstream: str, selector: str) -> Iterator[tuple[str, threading.Event]]:
    """The URL of a proxy to ``upstream`` refusing every ``eth_call`` named by a block hash
    (a provider without EIP-1898) and every ``eth_call`` of ``selector`` (the orders' states)
    till its event is set; the event."""
    gate = threading.Event()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_call":
            return None
        params = req.get("params") or []
        data = str(params[0].get("data", "")) if params and isinstance(params[0], dict) else ""
        if not by_hash(req) and (gate.is_set() or not data.startswith(selector)):
            return None
        return header_not_found(req)

    with _proxy(upstream, intercept) as url:
        yield url, gate


@contextmanager
def mining_paused(c: Chain) -> Iterator[None]:
    """The chain's mining on each send turned off; on again (a block mined) after."""
    c.rpc.call("evm_setAutomine", False)
    try:
        yield
    finally:
        c.rpc.call("evm_setAutomine", True)
        c.rpc.call("evm_mine")


def states_selector(c: Chain, order: SignedOrder) -> str:
    """The 4-byte selector (hex) of the Exchange's read of orders' states."""
    return "0x" + c.exchange.encode_order_states([order])[:4].hex()


@contextmanager
def in_doubt(upstream: str, head: int) -> Iterator[tuple[str, list[int], list[int]]]:
    """The URL of two ``flapping_proxy`` before ``upstream`` answering block ``head`` with
    another hash each (the start's check of its saved head, asked twice: in doubt); the
    counts of their flapped answers (the outer's, then the inner's: ``[1]`` each once the
    node started)."""
    with (
        flapping_proxy(upstream, head, "0x" + "ee" * 32, at=2) as (inner, second),
        flapping_proxy(inner, head, "0x" + "ef" * 32) as (url, first),
    ):
        yield url, first, second


def cancelled_states(upstream: str, req: object, balance: int | None = None) -> Answer:
    """``req`` (an ``eth_call`` of the Exchange's read of one order's state) forwarded to
    ``upstream``, its answer as another chain's where the order was cancelled (its maker's
    balance ``balance``, if given)."""
    status, body = _forward(upstream, req)
    answer = json.loads(body)
    raw = bytes.fromhex(answer["result"][2:])
    words = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    # (offset, length, then the row: hash, status, filled, valid, balance, allowance)
    words[3] = int(ChainStatus.CANCELLED).to_bytes(32)
    if balance is not None:
        words[6] = balance.to_bytes(32)
    answer["result"] = "0x" + b"".join(words).hex()
    return status, json.dumps(answer).encode()
