"""The page's funds line with an injected EIP-1193 wallet (user63: only a dev account's read,
which the page sends to the devnet's RPC itself, had a test; an injected wallet's goes through
the wallet's own ``eth_call``, and no test answered one). The test wallet here is the one
``tests/test_web.py`` injects, with its ``eth_call`` answered by the session's real Hardhat
through a connection of its own, outside the page, as an extension's RPC is: the page's
Content-Security-Policy never lets it reach the chain. A real node (no dev wallets), Chromium."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from sdex.chain import Rpc
from sdex.order import to_checksum
from sdex.wallet import fmt_amount
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_user62_web_funds import shows
from tests.test_web import (
    INJECTED,
    Watched,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

ACCOUNT = 13
SWITCHED = 15
MAKER = 14
E6 = 10**6
E18 = 10**18
UINT256_MAX = 2**256 - 1

CHAIN_LINE = 'if (method === "eth_chainId") return CHAIN;'
assert CHAIN_LINE in INJECTED
WALLET = INJECTED.replace(
    CHAIN_LINE,
    CHAIN_LINE + '\n      if (method === "eth_call") return window.__walletRpc(method, params);',
)
"""tests/test_web.py's injected wallet, its ``eth_call`` answered by ``__walletRpc``, its
listeners (EIP-1193 ``on``) kept in ``__walletOn`` for a test to call as a wallet's events."""
ON = "isTestWallet: true,"
assert ON in WALLET
WALLET = WALLET.replace(
    ON, ON + "\n    on(ev, fn) { ((window.__walletOn ??= {})[ev] ??= []).push(fn); },"
)


@in_module_loop
async def test_an_injected_wallets_funds_are_read_through_its_own_eth_call(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    me = c.address(ACCOUNT)
    ex = c.exchange.address
    wallet_rpc = Rpc(c.deployment.rpc)  # (the wallet's own connection to the chain)
    calls: list[dict[str, Any]] = []

    async def answer(method: str, params: list[Any]) -> Any:
        assert method == "eth_call"
        calls.append(params[0])
        return await asyncio.to_thread(wallet_rpc.call, method, *params)

    script = WALLET % {
        "key": "0x" + c.keys[ACCOUNT].hex(),
        "address": me,
        "chain": hex(c.deployment.chain_id),
    }
    cfg = node_config(c, tmp_path / "n.db", operator=19)  # (no dev wallets: no devnet RPC)
    try:
        async with running_node(cfg) as (_node, api), browser(chromium) as b:
            ctx = await b.new_context(viewport={"width": 1440, "height": 860})
            await ctx.expose_function("__walletRpc", answer)
            await ctx.add_init_script(script)
            w = await Watched(await ctx.new_page(), api.base).open()
            await w.page.click("#connect")
            await w.page.wait_for_function(
                "a => document.getElementById('account').textContent.includes(a)",
                arg=to_checksum(me),  # (as every command says it: users89)
            )
            weth, usdc = c.weth.balance_of(me), c.usdc.balance_of(me)
            await shows(w, "WETH", balance=weth, allowance=UINT256_MAX, held=0, free=weth)
            await shows(w, "USDC", balance=usdc, allowance=UINT256_MAX, held=0, free=usdc)
            line = await w.page.text_content("#funds [data-token='WETH']") or ""
            assert f"WETH: {fmt_amount(weth, 18)} in the wallet" in line, line
            # the reads were the wallet's eth_calls of the pair's tokens, for this account
            tokens = {c.weth.address.lower(), c.usdc.address.lower()}
            assert calls and {str(x["to"]).lower() for x in calls} == tokens, calls
            assert all(me[2:].lower() in str(x["data"]).lower() for x in calls), calls

            # an order signed by the wallet rests: its WETH is held, no longer free
            await place(w, "sell", "99999", "1")
            await shows(w, "WETH", balance=weth, held=E18, free=weth - E18)
            # a smaller approval (a new block): read again through the wallet
            c.weth.approve(c.sender(ACCOUNT), ex, 3 * E18)
            await shows(w, "WETH", allowance=3 * E18, held=E18, free=2 * E18)
            assert w.errors == [] and w.foreign_requests() == []
    finally:
        c.weth.approve(c.sender(ACCOUNT), ex, UINT256_MAX)
        wallet_rpc.close()


@in_module_loop
async def test_an_open_order_older_than_my_newest_100_is_held(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """The funds line counted the open orders among the maker's newest 100 (what "My
    orders" lists): a resting sell followed by 100 IOC attempts that met nothing was counted
    as free, so the page said 1 WETH more was free than the book would back, and ``sdex
    balance`` disagreed with it."""
    c = chain
    me = c.address(MAKER)
    weth = c.weth.balance_of(me)
    cfg = dev_config(c, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        rest = c.sign(c.order(MAKER, c.weth, E18, c.usdc, 99_999 * E6))
        code, body = await api.post_order(rest)
        assert code == 201 and body["status"] == "open", body
        for i in range(100):  # (no bid: each is dropped, and is one of the newest 100)
            ioc = c.sign(c.order(MAKER, c.weth, E18 // 100, c.usdc, (99_000 + i) * E6 // 100))
            code, body = await api.post_order(ioc, "ioc")
            assert code == 201 and body["status"] == "removed", body
        w = await new_page(b, api.base)
        await choose_dev_account(w, me)
        await shows(w, "WETH", balance=weth, held=E18, free=weth - E18)
        # the old order stays out of "My orders" (its newest 100), as the README says
        assert await w.page.locator("#my-orders tbody tr[data-hash]").count() == 100
        assert await w.page.locator(f'#my-orders tr[data-hash="{rest.hash_hex}"]').count() == 0
        assert w.errors == [] and w.foreign_requests() == []


async def _connected(b: Browser, api_base: str, c: Chain, answer: Any) -> Watched:
    """A page whose injected wallet (account ``ACCOUNT``) is connected."""
    ctx = await b.new_context(viewport={"width": 1440, "height": 860})
    await ctx.expose_function("__walletRpc", answer)
    await ctx.add_init_script(
        WALLET
        % {
            "key": "0x" + c.keys[ACCOUNT].hex(),
            "address": c.address(ACCOUNT),
            "chain": hex(c.deployment.chain_id),
        }
    )
    w = await Watched(await ctx.new_page(), api_base).open()
    await w.page.click("#connect")
    await account_is(w, c.address(ACCOUNT))
    return w


async def account_is(w: Watched, address: str) -> None:
    await w.page.wait_for_function(
        "a => document.getElementById('account').textContent.includes(a)",
        arg=to_checksum(address),  # (as every command says it: users89)
    )


async def emit(w: Watched, event: str, value: object) -> None:
    """The wallet's ``event`` (EIP-1193) with ``value``, to every listener the page added."""
    await w.page.evaluate(
        "([ev, v]) => (window.__walletOn?.[ev] ?? []).forEach((fn) => fn(v))", [event, value]
    )


@in_module_loop
async def test_the_page_follows_the_wallets_account_and_network_switches(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """user63: a wallet switched to another account (or network) after connecting: the page
    went on showing the first account's funds and orders, and signing as it (a wallet then
    refuses, or signs on a chain the node does not settle on). It follows
    ``accountsChanged`` and lets the account go at a ``chainChanged`` to another chain."""
    c = chain
    wallet_rpc = Rpc(c.deployment.rpc)

    async def answer(method: str, params: list[Any]) -> Any:
        return await asyncio.to_thread(wallet_rpc.call, method, *params)

    other = c.address(SWITCHED)
    cfg = node_config(c, tmp_path / "n.db", operator=19)
    try:
        async with running_node(cfg) as (_node, api), browser(chromium) as b:
            w = await _connected(b, api.base, c, answer)
            await shows(w, "WETH", balance=c.weth.balance_of(c.address(ACCOUNT)))
            # another account of the wallet: its funds, read through the wallet
            c.weth.transfer(c.sender(SWITCHED), c.address(0), E18 // 7)  # (another balance)
            await emit(w, "accountsChanged", [other])
            await account_is(w, other)
            await shows(w, "WETH", balance=c.weth.balance_of(other), held=0)
            # the same account again changes nothing; none at all lets it go
            await emit(w, "accountsChanged", [other])
            await emit(w, "accountsChanged", [])
            await w.page.wait_for_function(
                "() => document.getElementById('account').textContent === 'no account'"
            )
            assert await w.page.is_hidden("#funds")
            said = await w.page.text_content("#err-account") or ""
            assert "the wallet gave no account: connect it again" in said, said
            assert await w.page.is_disabled("#submit")
            # connected again, then another network: the account goes, said why
            await w.page.click("#connect")
            await account_is(w, c.address(ACCOUNT))
            await emit(w, "chainChanged", "0x1")
            await w.page.wait_for_function(
                "() => document.getElementById('account').textContent === 'no account'"
            )
            said = await w.page.text_content("#err-account") or ""
            want = f"the wallet is on chain 1, this node settles on chain {c.deployment.chain_id}"
            assert want in said, said
            assert w.errors == [] and w.foreign_requests() == []
    finally:
        wallet_rpc.close()
