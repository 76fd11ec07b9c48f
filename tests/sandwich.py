"""Shared set-ups of the sandwich tests: a maker's (or another account's) funds moved out
around the operator's settlement (or pre-flight) and back, through a proxy hook on the
node's RPC; the node they run against, its token list, a pair's decision, a blacklisting
token, and an order unfunded and funded again."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from eth_hash.auto import keccak

from sdex.chain.exchange import Token, deploy, load_abi
from sdex.deployment import TokenInfo
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Answer, _forward, _proxy
from tests.test_attack30_gas_gated_wallet import OPERATOR
from tests.test_node import BOB, CAROL, E6

Hook = Callable[[object], Answer | None]
Tokens = Callable[[dict[str, TokenInfo]], dict[str, TokenInfo]]
GWEI = 10**9
SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")
"""The node's sends: anvil is sent to with EIP-7966's sync send, Hardhat with the plain one."""


def send_tx(c: Chain, who: int, to: str, data: bytes, gas: int, tip: int, value: int = 0) -> None:
    """``who``'s raw transaction to ``to`` with a priority fee of ``tip`` (not waited for)."""
    base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    signed = c.sender(who).sign(to, data, gas, value, fees=(base, tip))
    c.rpc.call("eth_sendRawTransaction", signed.raw)


def around(
    c: Chain,
    rounds: int,
    when: Callable[[object], bool],
    out: Callable[[], int],
    back: Callable[[int], None],
) -> tuple[Hook, list[int]]:
    """A proxy hook: each of the first ``rounds`` requests that ``when`` picks is sandwiched:
    ``out()`` moves the funds away (mined at once; it returns what ``back`` gives back), the
    hook forwards the request itself, and ``back(amount)`` runs once the chain has answered
    it, before the node has the answer. Returns the hook and its count of sandwiches.

    flake78: the funds came back at the next request the proxy took after the picked one,
    before forwarding it, but the proxy serves each request on its own thread: a request the
    node made meanwhile (the watcher polls the head every 0.05 s) that reached the hook
    after it let the picked one go and before that one reached the chain (its thread
    descheduled on a loaded machine) gave the funds back first. The settlement then settled,
    neither order was removed, and contract33 waited 60 s in vain (CI, 1 in 4,513; with the
    picked request held 1 s there: 3 of 3)."""
    lock = threading.Lock()
    done = [0]

    def intercept(req: object) -> Answer | None:
        if not when(req):
            return None
        with lock:  # (one sandwich at a time)
            if done[0] >= rounds:
                return None
            done[0] += 1
            amount = out()
            try:
                return _forward(c.rpc.url, req)
            finally:
                back(amount)

    return intercept, done


def usdc_to_carol(c: Chain, maker: int) -> tuple[Callable[[], int], Callable[[int], None]]:
    """``around``'s out and back: all of ``maker``'s USDC to CAROL (mined), and back."""

    def out() -> int:
        amount = c.usdc.balance_of(c.address(maker))
        c.usdc.transfer(c.sender(maker), c.address(CAROL), amount)
        return amount

    def back(amount: int) -> None:
        c.usdc.transfer(c.sender(CAROL), c.address(maker), amount)

    return out, back


def one_block(
    c: Chain, rounds: int, out: Callable[[], int], back: Callable[[int], None]
) -> tuple[Hook, list[int]]:
    """A proxy hook: at each of the first ``rounds`` sends of the operator, mining stops and
    ``out()`` sends the funds away with a high tip (it returns what ``back`` gives back);
    once the settlement waits too, ``back(amount)`` is queued with no tip and one block is
    mined (Hardhat orders a block by tip: out, settlement, back). Returns the hook and its
    counts: the sandwiches begun, then the settlement's index in each mined block."""
    lock = threading.Lock()
    done = [0]
    waiting: list[tuple[str, int]] = []  # (the settlement's hash, the amount to give back)

    def intercept(req: object) -> Answer | None:
        with lock:
            if waiting and c.rpc.call("eth_getTransactionByHash", waiting[0][0]) is not None:
                tx, amount = waiting.pop()
                back(amount)
                c.rpc.call("evm_mine")
                c.rpc.call("evm_setAutomine", True)
                mined = c.rpc.call("eth_getBlockByNumber", "latest", False)["transactions"]
                done.append(mined.index(tx) if tx in mined else -1)
            reqs = req if isinstance(req, list) else [req]
            raws = [
                r["params"][0] for r in reqs if isinstance(r, dict) and r.get("method") in SENDS
            ]
            if raws and done[0] < rounds and not waiting:
                done[0] += 1
                c.rpc.call("evm_setAutomine", False)
                amount = out()
                tx = "0x" + keccak(bytes.fromhex(raws[0][2:])).hex()
                waiting.append((tx, amount))
        return None

    return intercept, done


@contextlib.asynccontextmanager
async def node_on(
    c: Chain,
    tmp_path: Path,
    intercept: Hook | None = None,
    tokens: Tokens | None = None,
    operator: int = OPERATOR,
) -> AsyncIterator[tuple[Node, Api]]:
    """A node (through a proxy with ``intercept`` when given; its token list changed by
    ``tokens`` when given), once its mirror is ready."""
    cfg = node_config(c, tmp_path / "n.db", operator=operator)
    if tokens is not None:
        cfg = replace(cfg, tokens=tokens(cfg.tokens))
    with contextlib.ExitStack() as stack:
        if intercept is not None:
            cfg = replace(cfg, rpc=stack.enter_context(_proxy(c.rpc.url, intercept)))
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready)
            yield node, api


async def pair_decided(node: Node, api: Api, a: SignedOrder, b: SignedOrder) -> None:
    """Until one of ``a`` and ``b`` is removed or the pair is barred, then the settler idle."""

    async def decided() -> bool:
        removed = "removed" in (await api.status(a), await api.status(b))
        return removed or node.barred_pairs.barred(a.hash, b.hash)

    await wait_for(decided, timeout=60.0)
    await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)


def blacklist_token(c: Chain, allowance: int = 2**256 - 1) -> Token:
    """A ``BlacklistToken`` with 1000 of BOB's, ``allowance`` of it approved to the Exchange."""
    blt = Token(c.rpc, deploy(c.sender(0), "BlacklistToken"))
    blt.mint(c.sender(BOB), c.address(BOB), 1000 * E6)
    blt.approve(c.sender(BOB), c.exchange.address, allowance)
    return blt


def minted_token(c: Chain, contract: str, holder: int) -> Token:
    """A test token ``contract`` (contracts/test/, with ``mint``) with 1000 (6 decimals) of
    ``holder``'s, approved to the Exchange without limit."""
    token = Token(c.rpc, deploy(c.sender(0), contract))
    token.abi = load_abi(contract)
    token.send(c.sender(0), "mint", c.address(holder), 1000 * E6)
    token.approve(c.sender(holder), c.exchange.address, 2**256 - 1)
    return token


def listing(spec: dict[str, TokenInfo | None]) -> Tokens:
    """The node's token list as ``spec``: a symbol to ``None`` keeps the listed one."""
    return lambda listed: {k: listed[k] if v is None else v for k, v in spec.items()}


def block(c: Chain, blt: Token, who: int) -> None:
    """``blt`` refuses ``who``'s transfers from now on."""
    data = load_abi("BlacklistToken").fn("setBlocked").encode(c.address(who), True)
    c.sender(0).transact(blt.address, data)


async def unfunded_and_back(
    c: Chain,
    tmp_path: Path,
    ask: SignedOrder,
    tokens: Tokens,
    out: Callable[[], object],
    back: Callable[[], object],
) -> None:
    """``ask`` posted (open), then ``out()`` makes it unfunded and ``back()`` open again."""
    async with node_on(c, tmp_path, tokens=tokens, operator=19) as (_, api):
        assert (await api.post_order(ask))[0] == 201
        assert await api.status(ask) == "open"

        async def status_is(want: str) -> bool:
            return await api.status(ask) == want

        out()
        await wait_for(lambda: status_is("unfunded"), timeout=20.0)  # before: open
        back()
        await wait_for(lambda: status_is("open"), timeout=20.0)
