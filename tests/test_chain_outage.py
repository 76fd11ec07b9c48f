"""A node whose chain goes away (RPC stopped) and comes back as another chain (the suite's
engine restarted on the same port, everything deployed again): quiet backoff, /health 503,
reset."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import pytest

from sdex.chain import Exchange, Rpc, Sender, Token
from sdex.chainnode import ChainNode, Engine, chain_node
from sdex.deployment import Deployment
from sdex.devnet import deploy_devnet
from sdex.node.config import NodeConfig
from sdex.order import ZERO_ADDRESS, Order, SignedOrder, sign_order
from tests.conftest import LOG_DIR
from tests.nodeutil import free_port, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18

ACCOUNTS = 20


class OwnChain:
    """A chain of a test's own, of the suite's engine (``--engine``), on a free port (its log
    in ``LOG_DIR``); ``start_again`` after ``stop``: on the same port, another chain (another
    genesis time: other hashes)."""

    def __init__(self, name: str, engine: Engine) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.log = LOG_DIR / f"{name}-{engine}-{os.getpid()}.log"
        self.node: ChainNode = chain_node(engine, None, self.log, ACCOUNTS)  # (port: retried)
        self.rpc = self.node.start()
        self.port = self.node.port

    def deploy(self) -> Deployment:
        return deploy_devnet(self.rpc, self.node.url, ACCOUNTS)

    def stop(self) -> None:
        self.rpc.close()
        self.node.stop()

    def start_again(self) -> Rpc:
        self.node = chain_node(self.engine, self.port, self.log, ACCOUNTS)
        self.rpc = self.node.start()
        return self.rpc


class OwnOrders:
    """On an own chain's deployment ``dep``: a node's config (the last dev account's key,
    its store at ``db``) and wallets' orders signed for it, valid two hours from its head."""

    def __init__(self, own: OwnChain, dep: Deployment, db: Path) -> None:
        self.dep = dep
        self.keys = [bytes.fromhex(a.key[2:]) for a in dep.accounts]
        self.cfg = NodeConfig.from_deployment(dep, self.keys[19], db, port=free_port())
        self.domain = Exchange(own.rpc, dep.exchange).domain()
        self.weth, self.usdc = dep.token("WETH").address, dep.token("USDC").address
        head = own.rpc.call("eth_getBlockByNumber", "latest", False)
        self.expiry = int(head["timestamp"], 16) + 7200
        self._salts = itertools.count(1000)

    def sign(
        self, maker: int, sell: str, sell_amount: int, buy: str, buy_amount: int
    ) -> SignedOrder:
        order = Order(
            maker=self.dep.accounts[maker].address, taker=ZERO_ADDRESS, maker_token=sell,
            taker_token=buy, maker_amount=sell_amount, taker_amount=buy_amount,
            fee_recipient=ZERO_ADDRESS, fee_amount=0, expiry=self.expiry,
            salt=next(self._salts),
        )  # fmt: skip
        return sign_order(order, self.domain, self.keys[maker])

    def ask(self, maker: int, usdc: int = 3000 * E6) -> SignedOrder:
        """``maker`` sells 1 WETH for ``usdc``."""
        return self.sign(maker, self.weth, E18, self.usdc, usdc)


async def test_chain_down_backs_off_quietly_then_a_reset_rebuilds_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, engine: Engine
) -> None:
    net = OwnChain("outage", engine)
    rpc = net.rpc
    try:
        dep = net.deploy()
        keys = [bytes.fromhex(a.key[2:]) for a in dep.accounts]
        cfg = NodeConfig.from_deployment(dep, keys[19], tmp_path / "n.db", port=free_port())
        ex = Exchange(rpc, dep.exchange)
        domain = ex.domain()
        weth, usdc = dep.token("WETH").address, dep.token("USDC").address
        now = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        from sdex.order import ZERO_ADDRESS, Order

        order = Order(
            maker=dep.accounts[ALICE].address, taker=ZERO_ADDRESS, maker_token=weth,
            taker_token=usdc, maker_amount=E18, taker_amount=3000 * E6,
            fee_recipient=ZERO_ADDRESS, fee_amount=0, expiry=now + 7200, salt=12345,
        )  # fmt: skip
        signed = sign_order(order, domain, keys[ALICE])
        async with running_node(cfg) as (node, api):
            assert (await api.post_order(signed))[0] == 201
            ex.fill_order(Sender(rpc, keys[BOB], dep.chain_id), signed, 3000 * E6)

            async def status(want: str) -> bool:
                return await api.status(signed) == want

            await wait_for(lambda: status("filled"))

            async def listed(n: int) -> bool:  # (listings read what is committed: the fill's
                # row may commit a moment after the status changed in memory, on a busy machine)
                return bool((await api.get("/v1/fills"))[1]["total"] == n)

            await wait_for(lambda: listed(1))
            # The watcher that applied the fill's block says it is caught up once a poll
            # finds nothing newer (on a busy machine its first poll may have read every
            # block up to the fill's, and the next is still to come): waited for.
            seen: list[object] = []

            async def caught_up() -> bool:
                code, health = await api.get("/health")
                seen[:] = [code, health["chain"], health["chainLag"], health["caughtUp"]]
                return seen == [200, "ok", 0, True]

            try:
                await wait_for(caught_up)
            except AssertionError:
                raise AssertionError(f"/health (code, chain, lag, caughtUp): {seen}") from None

            # The chain goes away: one line, backoff, 503 with the lag.
            caplog.clear()
            caplog.set_level(logging.INFO)
            net.stop()
            failures = node.watcher.failures
            await wait_for(lambda: node.watcher.failures >= failures + 4, timeout=20)
            code, health = await api.get("/health")
            assert code == 503 and health["chain"] == "unreachable", health
            assert isinstance(health["chainLag"], int)
            chain_lines = [r for r in caplog.records if r.name.startswith("sdex")]
            assert len(chain_lines) == 1, [r.getMessage() for r in chain_lines]
            assert "unreachable" in chain_lines[0].getMessage()
            assert all(r.exc_info is None for r in caplog.records)

            # The chain again on the same port, everything deployed again: another chain.
            rpc = net.start_again()
            dep2 = net.deploy()
            assert dep2.exchange == dep.exchange and dep2.deploy_block == dep.deploy_block

            async def rebuilt() -> bool:
                code, health = await api.get("/health")
                return code == 200 and node.watcher.resets == 1 and health["chain"] == "ok"

            await wait_for(rebuilt, timeout=30)
            await wait_for(lambda: status("open"), timeout=20)  # its fill was the old chain's
            assert (await api.get("/v1/fills"))[1]["total"] == 0
            assert node.store.fills()[0] == 0
            ex2 = Exchange(rpc, dep2.exchange)
            assert ex2.order_info(signed.order).filled == 0
            state = node.mirror.state(signed)
            assert state is not None and state == ex2.order_states([signed])[0]
            messages = [r.getMessage() for r in caplog.records if r.name == "sdex.watch"]
            assert any("reachable again" in m for m in messages)
            assert any("chain reset" in m for m in messages)
            # and the order trades on the new chain
            Token(rpc, weth)  # (the same token address on the new chain)
            ex2.fill_order(Sender(rpc, keys[BOB], dep2.chain_id), signed, 1500 * E6)
            await wait_for(lambda: status("partially_filled"), timeout=20)
    finally:
        net.stop()
