"""kept77: a doubt that stands says so, and a wallet's IOC refused meanwhile leaves nothing.

An endpoint whose replica says another deployment block once a poll in two keeps the chain's
identity unproven for as long as it does (gate77: matching and settlement held). Before, the
log said so once, at its start, and ``/health`` said ``unproven`` and ``behind`` in turn (the
watcher's polls): nothing told an operator the node would hold for good, nor what to do. Now
a doubt that stands ``LONG`` is logged again with what an operator does, ``/health`` says
``unproven`` at every read, and its identity ``stuck`` with the advice. The IOC order refused
503 meanwhile is stored nowhere: posted again once the chain is proven ours, it trades.
Real Hardhat, a real node and SQLite store, a real proxy on loopback."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.mirror import doubt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_gate77_flapping_reset import _accepted
from tests.test_kept77_doubt_sends import doubting_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_standing_doubt_says_what_to_do_and_a_refused_ioc_leaves_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(doubt, "LONG", 1.0, raising=False)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    with doubting_proxy(c, cfg) as (url, d):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            d.armed.set()
            await wait_for(lambda: node.mirror.doubt.held != "", timeout=30)
            sell = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await _accepted(api, sell))[0] == 201  # (rests: nothing matched)
            ioc = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await _accepted(api, ioc, "ioc")
            assert code == 503 and body["detail"]["chainStatus"] == "unproven", body
            assert (await api.get(f"/v1/orders/{ioc.hash_hex}"))[0] == 404
            _, page = await api.get("/v1/orders", maker=ioc.order.maker)
            assert ioc.hash_hex not in str(page)

            async def stuck() -> bool:
                _, health = await api.get("/health")
                return bool(health["chainMirror"]["identity"].get("stuck"))

            await wait_for(stuck, timeout=30)
            _, health = await api.get("/health")
            identity = health["chainMirror"]["identity"]
            assert "--rpc" in identity["advice"] and identity["heldFor"] >= 1.0, identity

            def logged() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "in doubt for" in r.getMessage()]

            await wait_for(lambda: bool(logged()), timeout=30)  # (polls backed off: a while)
            said = logged()
            assert said and said[-1].levelno == logging.ERROR and "--rpc" in said[-1].getMessage()
            heads = d.heads
            chains = set()
            while d.heads < heads + 12:  # (polls behind and ok in turn: unproven at each)
                chains.add((await api.get("/health"))[1]["chain"])
            assert chains == {"unproven"}, chains

            d.armed.clear()  # two polls on our blocks: proven ours
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
            code, body = await api.post_order(ioc, "ioc")  # (the same order, again: trades)
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: node.settler.settled >= 1, timeout=30)
            assert c.exchange.order_info(sell.order).filled == E18
            _, health = await api.get("/health")
            assert "stuck" not in health["chainMirror"]["identity"], health


async def test_a_doubt_lifts_after_a_reorg_and_the_book_is_uncrossed(
    chain: Chain, tmp_path: Path
) -> None:
    """A reorg (not a reset) while the chain is in doubt: applied as a reorg (nothing reset),
    the doubt standing while the endpoint still flaps; once two polls get through on our
    blocks it lifts, the pair that crossed meanwhile is matched (the book uncrossed) and
    settled on the new branch (the settler woken). A check of gate77's end: passed before."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=8)
    with doubting_proxy(c, cfg) as (url, d):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            c.rpc.call("hardhat_mine", hex(12))
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("evm_mine")
            await synced(node, c)
            d.armed.set()
            await wait_for(lambda: node.mirror.doubt.held != "", timeout=30)
            sell = c.sign(ask(c, ALICE, E18, 3000 * E6))
            buy = c.sign(bid(c, BOB, E18, 3000 * E6))
            assert (await _accepted(api, sell))[0] == 201
            assert (await _accepted(api, buy))[0] == 201
            stamp = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
            revert(c, snap)  # (another branch: its blocks stamped apart from the undone one)
            c.rpc.call("evm_setNextBlockTimestamp", hex(stamp + 7))
            c.rpc.call("hardhat_mine", hex(2))
            await wait_for(lambda: node.watcher.reorgs >= 1, timeout=30)
            assert node.watcher.resets_begun == 0 and node.mirror.doubt.held != ""
            assert node.settler.queued() == [] and node.settler.sent == 0
            d.armed.clear()
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
            await wait_for(lambda: node.settler.settled >= 1, timeout=30)
            assert c.exchange.order_info(sell.order).filled == E18
            assert node.watcher.resets_begun == 0
