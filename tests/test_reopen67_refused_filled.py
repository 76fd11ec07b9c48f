"""reopen67 (chaos66's e): an order one peer refused as filled, reopened by a reorg, reaches
that peer by anti-entropy.

A node refuses a peer's copy of an order the chain says is filled in full, and keeps that
verdict (``sdex.node.refused``: not fetched again for ``REFUSED_SECONDS``, 600 s). A reorg
that undoes the fill reopens the order at the nodes that held it, back in their digests; the
peer that had refused it skipped its hash every anti-entropy round until the verdict aged
out (chaos66: it came only from the peer's next restart's sync, 94-96 s later). Now a reorg
or a reset drops the verdicts the chain gave (filled, cancelled, expired).

Real Hardhat (the reorg by ``evm_snapshot``/``evm_revert``, the fill a real ``fillOrder``),
two real ``sdex node`` processes with their link cut while the order is posted and filled,
and a signed client relaying the filled order to the peer (as a third node's push would)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey, PeerClient
from sdex.ingest.rejections import RejectionCode
from sdex.node.refused import Refused
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Cluster, wait_for
from tests.reorgutil import reorg
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_cancel63_cancel_before_order import _failing, _is, warm_then_cut
from tests.test_node import ALICE, DAVE, E6, E18, ask


async def test_an_order_refused_as_filled_then_reopened_by_a_reorg_reaches_the_peer(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[], [0]], GOSSIP_SCALE) as net:
        a, b = await warm_then_cut(net, c)
        # node 0 saw its link fail (node 1 in a backoff): its order is queued for no one
        await wait_for(lambda: _failing(a, net.urls[1]), timeout=60)
        snap = c.rpc.call("evm_snapshot")
        sells = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_taken(sells))[0] == 201
        c.exchange.fill_order(c.sender(DAVE), sells, 1000 * E6)  # an outsider takes it whole
        await wait_for(lambda: _is(a, sells, "filled"), timeout=60)
        # a third node's push of it reaches node 1 now: refused, the chain says filled
        async with aiohttp.ClientSession() as session:
            relay = PeerClient(session, NodeKey.generate(), "http://127.0.0.1:9")
            to = net.node_key(1).node_id
            body = {"orders": [sells.to_json()]}
            answer = await relay.call("POST", b.base, "/p2p/orders", body, to=to)
        assert answer.status == 200 and answer.body["rejected"] == 1, answer
        reorg(c, snap)  # the fill undone: node 0 reopens the order
        await wait_for(lambda: _is(a, sells, "open"), timeout=60)
        await net.cut([0], [1], heal=True)
        # before: never within the bound (node 1 kept its "filled" verdict for 600 s)
        await wait_for(lambda: _is(b, sells, "open"), timeout=30)
        assert await status_at(b, sells) == "open"


def test_a_reorg_forgets_only_the_verdicts_the_chain_gave() -> None:
    """``forget_chain`` drops filled, cancelled and expired verdicts; a signature's, a body's
    the chain did not give, and one noted again with another code stay."""
    r = Refused()
    codes = {
        "0x01": RejectionCode.FULLY_FILLED,
        "0x02": RejectionCode.CANCELLED,
        "0x03": RejectionCode.EXPIRED,
        "0x04": RejectionCode.TOKEN_NOT_SUPPORTED,
        "0x05": RejectionCode.INVALID_SIGNATURE,
    }
    for h, code in codes.items():
        assert r.note(code, "p", h, 0.0, since=r.chain_epoch)
    # (no longer the chain's)
    assert r.note(RejectionCode.TOKEN_NOT_SUPPORTED, "p", "0x01", 0.0, since=r.chain_epoch)
    r.forget_chain()
    assert [h for h in codes if r.holds("p", h, 1.0)] == ["0x01", "0x04", "0x05"]
    assert len(r) == 3 and r.charged("p") == 3


def test_a_chain_verdict_that_spared_another_peer_is_forgotten_at_a_reorg_too() -> None:
    """review69b: a body verdict noted from one peer's copy is charged to the next peer whose
    copy it spares (``holds``' move); the move lost its mark as the chain's, so a second
    holder of an order refused as filled skipped it for ``REFUSED_SECONDS`` after the reorg
    that reopened it (the first peer's copy was the one judged, the second's the one asked)."""
    r = Refused()
    codes = (RejectionCode.FULLY_FILLED, RejectionCode.CANCELLED, RejectionCode.EXPIRED)
    for i, code in enumerate(codes):
        h = f"0x{i:02x}"
        assert r.note(code, "a", h, 0.0, since=r.chain_epoch)
        assert r.holds("b", h, 1.0)  # (b's copy spared: the verdict charged to b now)
        assert r.charged("b") == 1 and r.charged("a") == 0
        r.forget_chain()
        assert not r.holds("b", h, 2.0) and not r.holds("a", h, 2.0), code
        assert len(r) == 0
