"""review38: an EOA maker's one-block sandwich through WETH9's ``withdraw`` and ``deposit``,
blamed on the honest contract wallet facing it.

The evidence path (``sdex.settlement.evidence``) reads the funds at the block before the
settlement's and moves them by the block's earlier ``Transfer`` and ``Approval`` logs. WETH9
(the most listed token there is) moves a balance by ``withdraw``/``deposit`` too, logged as
``Withdrawal(src, wad)``/``Deposit(dst, wad)``, no ``Transfer``: Bob's withdraw just before
the settlement in its block, and his deposit just after, left his funds read as there and
exact; nothing else found, the contract-signed side (the honest wallet's bid) was blamed
and removed. Any other log of the token naming the account now makes it not exact:
nobody is blamed, and the pair is barred after ``PAIR_TRIES`` (both orders stay).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from eth_hash.auto import keccak

from sdex.chain.exchange import Token, deploy, load_abi
from sdex.deployment import TokenInfo
from sdex.order import sign_order
from sdex.settlement.blame import PAIR_TRIES
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER
from tests.test_contract33_sandwich import GWEI, SANDWICHES, Hook, usdc_wallet
from tests.test_node import BOB, E6, E18

WETH9 = load_abi("WrappedEther")


def weth9(c: Chain) -> str:
    """A WETH9 holding 1 ether of BOB's, approved (unlimited) to the Exchange."""
    w = deploy(c.sender(0), "WrappedEther")
    bob = c.sender(BOB)
    bob.wait(bob.send(w, WETH9.fn("deposit").encode(), 100_000, value=E18))
    Token(c.rpc, w).approve(bob, c.exchange.address, 2**256 - 1)
    return w


def withdraw_sandwicher(c: Chain, w: str, maker: int, rounds: int) -> tuple[Hook, list[int]]:
    """At each of the first ``rounds`` sends of the operator: mining stops, ``maker``
    withdraws all its WETH9 with a high tip; once the settlement waits too, its deposit of
    the same amount is queued with no tip and one block is mined (out, settlement, back)."""
    lock = threading.Lock()
    done = [0]
    waiting: list[tuple[str, int]] = []  # (the settlement's hash, the amount to give back)

    def send(data: bytes, value: int, tip: int) -> None:
        base = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        signed = c.sender(maker).sign(w, data, 100_000, value, fees=(base, tip))
        c.rpc.call("eth_sendRawTransaction", signed.raw)

    def intercept(req: object) -> Answer | None:
        with lock:
            if waiting and c.rpc.call("eth_getTransactionByHash", waiting[0][0]) is not None:
                tx, amount = waiting.pop()
                send(WETH9.fn("deposit").encode(), amount, 0)
                c.rpc.call("evm_mine")
                c.rpc.call("evm_setAutomine", True)
                mined = c.rpc.call("eth_getBlockByNumber", "latest", False)["transactions"]
                done.append(mined.index(tx) if tx in mined else -1)
            reqs = req if isinstance(req, list) else [req]
            raws = [
                r["params"][0]
                for r in reqs
                if isinstance(r, dict) and r.get("method") == "eth_sendRawTransaction"
            ]
            if raws and done[0] < rounds and not waiting:
                done[0] += 1
                c.rpc.call("evm_setAutomine", False)
                amount = Token(c.rpc, w).balance_of(c.address(maker))
                send(WETH9.fn("withdraw").encode(amount), 0, 50 * GWEI)
                tx = "0x" + keccak(bytes.fromhex(raws[0][2:])).hex()
                waiting.append((tx, amount))
        return None

    return intercept, done


async def test_a_weth9_withdraw_sandwich_is_not_blamed_on_the_contract_maker(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    w = weth9(c)
    wallet = usdc_wallet(c)
    honest = sign_order(
        replace(c.order(BOB, c.usdc, 260 * E6, Token(c.rpc, w), E18 // 10), maker=wallet),
        c.domain,
        c.keys[OWNER],
    )
    ask = c.sign(c.order(BOB, Token(c.rpc, w), E18 // 10, c.usdc, 250 * E6))
    intercept, done = withdraw_sandwicher(c, w, BOB, 2 * SANDWICHES)
    with _proxy(c.rpc.url, intercept) as rpc:
        cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
        tokens = {"WETH": TokenInfo(w, 18), "USDC": cfg.tokens["USDC"]}
        async with running_node(replace(cfg, rpc=rpc, tokens=tokens)) as (node, api):
            await wait_for(node.mirror_ready)
            assert (await api.post_order(honest))[0] == 201
            assert (await api.post_order(ask))[0] == 201

            async def decided() -> bool:
                removed = "removed" in (await api.status(ask), await api.status(honest))
                return removed or node.barred_pairs.barred(honest.hash, ask.hash)

            await wait_for(decided, timeout=60.0)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
            meta = (await api.get(f"/v1/orders/{honest.hash_hex}"))[1]["metaData"]
            assert meta["status"] == "open", meta  # before: removed, blamed as the contract side
            assert await api.status(ask) == "open"
            assert set(done[1:]) == {1}, done  # (withdraw, settlement, deposit in one block)
            assert done[0] == PAIR_TRIES, done
