"""attack27's two defects, at a small scale, on a real node with real Hardhat.

1. Book-full denial of service: makers holding 1 wei (and an approval) filled the node's
   total bound with ``unfunded`` orders, then every honest wallet got BOOK_FULL.
2. Dust: orders of 10^9 wei WETH for 1 wei USDC were taken, and one honest buy settled
   a match with each (the operator's gas for nothing traded).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.deployment import TokenInfo
from sdex.devnet import free_port
from sdex.ingest import Limits
from sdex.ingest.minimums import minimums_for
from sdex.node.cliconfig import config_for
from sdex.order import SignedOrder, random_salt
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
ALICE, BOB = 1, 2
ATTACKERS = (10, 11, 12, 13)


def _limits(**kw: Any) -> Limits:
    """``Limits`` with these fields set (set after construction: the same test ran on the
    tree before the fix, where the new fields did not exist, to fail on behaviour)."""
    limits = Limits()
    for k, v in kw.items():
        setattr(limits, k, v)
    return limits


def _leave_one_wei(c: Chain, who: int) -> None:
    """``who`` keeps 1 wei of WETH (and its approval): the attack's makers."""
    balance = c.weth.balance_of(c.address(who))
    c.weth.transfer(c.sender(who), c.address(0), balance - 1)


def _ask(c: Chain, maker: int, weth: int = E18, usdc: int = 3000 * E6) -> SignedOrder:
    return c.sign(c.order(maker, c.weth, weth, c.usdc, usdc, salt=random_salt()))


async def _meta(api: Api, s: SignedOrder) -> dict[str, Any]:
    code, rec = await api.get(f"/v1/orders/{s.hash_hex}")
    assert code == 200, rec
    return dict(rec["metaData"])


async def test_unfunded_orders_do_not_fill_the_book(chain: Chain, tmp_path: Path) -> None:
    """The attack with no minimum configured: 4 makers of 1 wei, 3 orders each, against a
    bound of 4 tradable orders. An honest funded order is still accepted; the unfunded ones
    have their own bound, the longest unfunded evicted with a final status and reason."""
    c = chain
    limits = _limits(max_orders=4, max_orders_per_maker=3, max_unfunded=6)
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        for who in ATTACKERS:
            _leave_one_wei(c, who)
        posted: list[SignedOrder] = []
        for who in ATTACKERS:
            for _ in range(3):
                s = _ask(c, who)
                code, body = await api.post_order(s)
                if code == 201:
                    posted.append(s)
                    await wait_for(
                        lambda s=s: _status_in(api, s, ("unfunded", "removed")), timeout=20
                    )
        honest = _ask(c, ALICE)
        code, body = await api.post_taken(honest)
        assert code == 201, body
        assert await api.status(honest) == "open"
        assert len(posted) == 12  # none of them took a tradable order's room
        c.rpc.call("hardhat_mine", "0x1")  # (the node brings its counts to the book per block)

        async def evicted() -> bool:
            return sum([await _status_in(api, s, ("removed",)) for s in posted]) >= 6

        await wait_for(evicted)
        statuses = [await _meta(api, s) for s in posted]
        removed = [m for m in statuses if m["status"] == "removed"]
        assert len(removed) == 6 and all(m["reason"].startswith("evicted:") for m in removed)
        assert sum(m["status"] == "unfunded" for m in statuses) == 6
        assert node.registry.open_count(None) == 1  # the honest order alone is tradable


async def _status_in(api: Api, s: SignedOrder, statuses: tuple[str, ...]) -> bool:
    return (await api.status(s)) in statuses


async def test_unfunded_bound_evicts_with_a_websocket_event(chain: Chain, tmp_path: Path) -> None:
    c = chain
    limits = _limits(max_orders=10, max_unfunded=1)
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (_, api):
        _leave_one_wei(c, ATTACKERS[0])
        async with api.session.ws_connect(api.base + "/v1/ws") as ws:
            first, second = _ask(c, ATTACKERS[0]), _ask(c, ATTACKERS[0])
            assert (await api.post_taken(first))[0] == 201
            await wait_for(lambda: _status_in(api, first, ("unfunded",)))
            assert (await api.post_taken(second))[0] == 201
            await wait_for(lambda: _status_in(api, second, ("unfunded",)))
            c.rpc.call("hardhat_mine", "0x1")  # (both move to unfunded at this block)

            async def one_removed() -> bool:
                return sum([await _status_in(api, s, ("removed",)) for s in (first, second)]) == 1

            await wait_for(one_removed)
            gone, kept = (
                (first, second) if await _status_in(api, first, ("removed",)) else (second, first)
            )
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(10):
                while not any(
                    e.get("metaData", {}).get("orderHash") == gone.hash_hex
                    and e["metaData"]["status"] == "removed"
                    and e["metaData"]["reason"].startswith("evicted:")
                    for e in seen
                ):
                    msg = await ws.receive_json()
                    seen.extend(msg if isinstance(msg, list) else [msg])
        assert await api.status(kept) == "unfunded"


MIN_WETH = 10**15
MIN_USDC = 10**3
BAD = [
    # (name, maker amount, taker amount, rejection, field)
    ("maker amount below", MIN_WETH - 1, 3000 * E6, "BELOW_MINIMUM", "makerAmount"),
    ("taker amount below", E18, MIN_USDC - 1, "BELOW_MINIMUM", "takerAmount"),
    ("attack27's dust ask", 10**9, 1, "BELOW_MINIMUM", "makerAmount"),
    ("1 wei for a lot", 1, 10**12, "BELOW_MINIMUM", "makerAmount"),
]


async def test_minimums_refuse_dust_orders(chain: Chain, tmp_path: Path) -> None:
    c = chain
    limits = _limits(min_amounts={c.weth.address: MIN_WETH, c.usdc.address: MIN_USDC})
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        _, config = await api.get("/v1/order_config")
        assert config["tokens"]["WETH"]["minAmount"] == str(MIN_WETH)
        assert config["tokens"]["USDC"]["minAmount"] == str(MIN_USDC)
        for name, m, t, rejection, fld in BAD:
            code, body = await api.post_order(_ask(c, ALICE, m, t))
            assert (code, body.get("rejection")) == (400, rejection), name
            assert body["validationErrors"][0]["field"] == fld, name
        # a maker holding less than the minimum of what it sells: nothing it can trade
        _leave_one_wei(c, ATTACKERS[0])
        code, body = await api.post_order(_ask(c, ATTACKERS[0]))
        assert (code, body.get("rejection")) == (400, "UNFUNDED"), body
        # each open order needs the minimum in the maker's balance: 2.5 minimums, 2 orders
        who = ATTACKERS[1]
        balance = c.weth.balance_of(c.address(who))
        c.weth.transfer(c.sender(who), c.address(0), balance - 5 * MIN_WETH // 2)
        for _ in range(2):
            code, body = await api.post_taken(_ask(c, who, MIN_WETH, 3 * E6))
            assert code == 201, body
        code, body = await api.post_order(_ask(c, who, MIN_WETH, 3 * E6))
        assert (code, body.get("rejection")) == (400, "MAKER_LIMIT"), body
        assert len(node.records) == 2


async def test_no_dust_match_ahead_of_a_real_ask(chain: Chain, tmp_path: Path) -> None:
    """attack27's dust asks ahead of a real ask: refused, so an honest buy settles one
    match, with the real ask."""
    c = chain
    limits = _limits(min_amounts={c.weth.address: MIN_WETH, c.usdc.address: MIN_USDC})
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (_, api):
        for _ in range(5):
            dust = c.sign(c.order(ATTACKERS[0], c.weth, 10**9, c.usdc, 1, salt=random_salt()))
            assert (await api.post_order(dust))[0] == 400
        real = _ask(c, ALICE, E18, 3000 * E6)
        assert (await api.post_taken(real))[0] == 201
        buy = c.sign(c.order(BOB, c.usdc, 3000 * E6, c.weth, E18, salt=random_salt()))
        code, body = await api.post_taken(buy)
        assert code == 201, body
        await wait_for(lambda: _status_in(api, buy, ("filled",)))
        _, fills = await api.get("/v1/fills")
        assert {f["orderHash"] for f in fills["records"]} == {real.hash_hex, buy.hash_hex}
        assert len({f["transactionHash"] for f in fills["records"]}) == 1  # one match


TOKENS = {
    "WETH": TokenInfo("0x" + "aa" * 20, 18),
    "USDC": TokenInfo("0x" + "bb" * 20, 6),
}
BAD_MIN_AMOUNTS = [
    ("WETH", "no ="),
    ("DAI=1", "not listed"),
    ("WETH=abc", "not a number"),
    ("USDC=0.0000001", "finer than the decimals"),
    ("WETH=-1", "negative"),
    ("WETH=inf", "infinite"),
    ("WETH=1e80", "too large"),
]


def test_minimums_defaults_and_options() -> None:
    assert minimums_for(TOKENS) == {"0x" + "aa" * 20: 10**14, "0x" + "bb" * 20: 100}
    got = minimums_for(TOKENS, ["weth=0.01", "USDC=0"])
    assert got == {"0x" + "aa" * 20: 10**16}  # (0: no minimum)
    for item, why in BAD_MIN_AMOUNTS:
        with pytest.raises(ValueError, match="--min-amount"):
            minimums_for(TOKENS, [item])
            pytest.fail(why)


def test_sdex_node_sets_a_minimum_per_listed_token(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    chain.deployment.save(path)
    key = "0x" + chain.keys[19].hex()
    cfg = config_for(port=free_port(), key=key, deployment=path, db=tmp_path / "n.db")
    # (the devnet's per-token minimums, 0.1 USDC rather than 10^-4 of one: user28)
    assert cfg.limits.min_amounts == {chain.weth.address: 10**14, chain.usdc.address: 10**5}
    cfg = config_for(
        port=free_port(), key=key, deployment=path, db=tmp_path / "n.db", min_amounts=("WETH=1",)
    )
    assert cfg.limits.min_amounts[chain.weth.address] == 10**18
