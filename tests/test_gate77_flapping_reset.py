"""gate77: while a flapping endpoint keeps a real reset unproven, nothing is matched or signed.

A devnet replaced (its Hardhat node stopped and started again on the same port, everything
deployed again: the same Exchange address and domain, another chain) behind an endpoint
whose one backend stays on the old chain (``tests/flapper.py``: lone block reads and every
other "latest" answered from it). The two-read rules (``sdex.watch.fork``) prove no reset
while it flaps: the watcher says ``behind`` and ``ok`` in turn, the book keeps the old
chain's fills. The node matched a crossing pair posted then and signed its settlement
against a chain that may be gone. Now the pair rests unmatched, an IOC is refused 503, and
``/health`` says ``unproven``; once the endpoint stops flapping the reset is proven and
made, matching resumes and the pair settles on the new chain. Real Hardhat (the suite's
engine), a real node and SQLite store, a real proxy on loopback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sdex.chainnode import Engine
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain, chain_of
from tests.flapper import old_backend_proxy
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import lagging_proxy
from tests.test_chain_outage import OwnChain
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def _accepted(api: Api, signed: SignedOrder, tif: str | None = None) -> tuple[int, Any]:
    """``signed`` posted until the node judges it (201, or a refusal that is not the
    watcher's ``behind`` at that moment: the mirror answers only while it says ``ok``)."""
    answer: tuple[int, Any] = (0, None)

    async def judged() -> bool:
        nonlocal answer
        answer = await api.post_order(signed, tif)
        detail = answer[1].get("detail") if isinstance(answer[1], dict) else None
        return not (answer[0] == 503 and (detail or {}).get("chainStatus") == "behind")

    await wait_for(judged, timeout=30)
    return answer


async def _pair_rests(
    c: Chain, node: Node, api: Api, price: int
) -> tuple[SignedOrder, SignedOrder]:
    """ALICE's ask and BOB's bid of 1 WETH at ``price`` USDC posted (each judged:
    ``_accepted``) while matching is held: both rest, nothing of them matched, queued or sent.
    The pair, ask first."""
    sent = node.settler.sent
    pair = c.sign(ask(c, ALICE, E18, price * E6)), c.sign(bid(c, BOB, E18, price * E6))
    for signed in pair:
        assert (await _accepted(api, signed))[0] == 201
    for h in (pair[0].hash, pair[1].hash):  # rested, nothing of them matched
        st = node.book.get(h)
        assert st is not None and st.resting and st.pending == 0, st
    assert node.settler.queued() == [] and node.settler.sent == sent
    return pair


async def test_a_flapping_endpoint_holds_matching_until_the_reset_is_proven(
    tmp_path: Path, engine: Engine
) -> None:
    net = OwnChain("gate77-flap", engine)
    try:
        dep = net.deploy()
        c = chain_of(net.rpc, dep)
        upstream = c.rpc.url
        with old_backend_proxy(upstream) as (url, old):
            cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                # the old chain: a trade (its fill), then blocks above the new chain's head
                first = c.sign(ask(c, ALICE, E18, 3000 * E6))
                assert (await api.post_order(first))[0] == 201
                assert (await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6))))[0] == 201
                await wait_for(lambda: node.settler.settled >= 1, timeout=30)
                c.rpc.call("hardhat_mine", hex(30))
                top = int(c.rpc.call("eth_blockNumber"), 16)
                await wait_for(lambda: node.watcher.applied is not None
                               and node.watcher.applied.number == top)  # fmt: skip
                old.record(c.rpc)
                old.flapping.set()
                net.stop()
                c = chain_of(net.start_again(), net.deploy())  # (another chain, same domain)
                assert c.deployment.exchange == dep.exchange
                assert int(c.rpc.call("eth_blockNumber"), 16) < top - 4
                flaps = old.latest_new
                await wait_for(lambda: old.latest_new >= flaps + 3, timeout=60)
                assert node.watcher.resets_begun == 0  # (unproven: no reset)

                sent, settled = node.settler.sent, node.settler.settled
                ask2, _ = await _pair_rests(c, node, api, 2900)
                ioc = c.sign(bid(c, BOB, E18, 3100 * E6))
                code, body = await _accepted(api, ioc, "ioc")
                assert code == 503 and body["detail"]["chainStatus"] == "unproven", body
                _, health = await api.get("/health")
                identity = health["chainMirror"]["identity"]
                assert identity["proven"] is False and identity["held"], health
                assert health["chain"] != "ok", health
                assert node.settler.sent == sent and node.settler.settled == settled

                old.flapping.clear()  # the stale backend gone: the reset proven, made
                await wait_for(lambda: node.watcher.resets >= 1, timeout=60)
                await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
                await wait_for(
                    lambda: node.settler.settled >= settled + 1, timeout=30
                )  # (matched once proven, settled on the new chain)
                assert c.exchange.order_info(ask2.order).filled == E18
                _, health = await api.get("/health")
                assert health["chainMirror"]["identity"]["proven"] is True, health
    finally:
        net.stop()


async def test_matching_resumes_once_two_polls_prove_the_chain_ours(
    chain: Chain, tmp_path: Path
) -> None:
    """The other way: an endpoint whose lagging backend says another deployment block once a
    poll in two (review74a's lie, over and over) keeps the chain unproven; matching is held
    meanwhile, and resumes once two polls in a row get through on our blocks."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    every = lagging_proxy(  # (the head: a poll in two; the deployment block: each time)
        c.rpc.url, cfg.deploy_block, "hash", lambda kind, n: kind == "hash" or n % 2 == 0
    )
    with every as (url, armed, lies):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            armed.set()
            await wait_for(lambda: lies["hash"] >= 2, timeout=30)
            sell, _ = await _pair_rests(c, node, api, 3000)
            assert node.watcher.resets_begun == 0

            armed.clear()  # two polls on our blocks: proven ours, matched, settled
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=30)
            await wait_for(lambda: node.settler.settled >= 1, timeout=30)
            assert c.exchange.order_info(sell.order).filled == E18
            assert node.watcher.resets_begun == 0
