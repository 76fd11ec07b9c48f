"""attack38: a soft-cancelled order must not trade through a node that missed the cancel.

Found from outside (three `sdex node` processes on a devnet): a maker soft-cancels an open
order at node A; every node then holds it `cancelled`. A node that joins the network after
that bootstraps from a peer's snapshot, which held open orders only: it never heard of the
order nor of its cancel. Anyone holding the signed order (it sat in every book) posts it to
the new node (201 `open`), then a crossing order of their own: the new node matches the two
and the match settles on chain at the price the maker withdrew. The maker's cancel was lost.
"""

from __future__ import annotations

from pathlib import Path

from sdex.chain import OrderStatus as ChainStatus
from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Api, Cluster, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


async def status_at(api: Api, signed: SignedOrder) -> str | None:
    code, rec = await api.get(f"/v1/orders/{signed.hash_hex}")
    return str(rec["metaData"]["status"]) if code == 200 else None


async def cancel_at(api: Api, c: Chain, signed: SignedOrder, maker: int) -> None:
    code, body = await api.post(
        f"/v1/orders/{signed.hash_hex}/cancel",
        {"signature": "0x" + sign_cancel(c.domain, signed.hash, c.keys[maker]).hex()},
    )
    assert (code, body["status"]) == (200, "cancelled"), body


async def taken_at(api: Api, c: Chain, withdrawn: SignedOrder) -> None:
    """Bob's crossing bid at ``api``: it must not trade Alice's withdrawn ask."""
    taker = c.sign(bid(c, BOB, E18, 1000 * E6))
    code, body = await api.post_order(taker)
    assert code in (201, 400), body
    assert withdrawn.hash_hex not in {m["restingOrderHash"] for m in body.get("matches", [])}
    info = c.exchange.order_info(withdrawn.order)
    assert (info.status, info.filled) == (ChainStatus.FILLABLE, 0)
    assert await status_at(api, withdrawn) == "cancelled"


async def test_a_late_node_learns_soft_cancels_and_never_trades_the_cancelled_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[]], gossip_scale=GOSSIP_SCALE) as net:
        a = net.api(0)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))  # a price Alice took back
        assert (await a.post_order(withdrawn))[0] == 201
        await cancel_at(a, c, withdrawn, ALICE)
        still_open = c.sign(ask(c, CAROL, E18, 5000 * E6))  # shows the bootstrap is done
        assert (await a.post_order(still_open))[0] == 201

        late = net.add_node(peer_urls=[net.urls[0]])  # joins after the cancel
        await net.wait_healthy(late)
        b = net.api(late)

        async def booted() -> bool:
            return await status_at(b, still_open) == "open"

        await wait_for(booted, timeout=60)

        # anyone re-posts the signed order to the late node, then takes it
        code, body = await b.post_order(withdrawn)  # before: 201 open, never heard of
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        await taken_at(b, c, withdrawn)


async def test_a_node_down_during_a_soft_cancel_never_trades_the_cancelled_order(
    chain: Chain, tmp_path: Path
) -> None:
    """Node 1 holds Alice's ask open, stops; she soft-cancels at node 0; node 1 starts again
    from its database and a wallet's crossing bid arrives as soon as it is healthy. Before,
    node 1 served the ask open until an anti-entropy round asked node 0 why it lacked it,
    and matched the bid with it meanwhile (settled on chain); now it takes its bootstrap
    peer's soft cancels before it takes wallets' orders (``Node.load``)."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        a, b = net.api(0), net.api(1)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_order(withdrawn))[0] == 201

        async def both_hold_it() -> bool:
            return await status_at(b, withdrawn) == "open"

        await wait_for(both_hold_it, timeout=60)
        proc = net.procs[1]
        assert proc is not None
        proc.terminate()  # (SIGTERM: its peer's order stored; SIGKILL may lose it, by design)
        proc.wait(timeout=10)
        await cancel_at(a, c, withdrawn, ALICE)
        net.spawn(1)
        await net.wait_healthy(1)
        assert await status_at(b, withdrawn) == "cancelled"  # before: open
        await taken_at(b, c, withdrawn)
