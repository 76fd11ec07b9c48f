"""Anti-entropy fetches whose answer is too large to carry (``frames.TOO_LARGE``): real
gossip drivers on loopback, their streams, in-memory nodes (``tests.p2putil``). The batch
is asked again in halves, down to single hashes; a single order too large is skipped, and
the peer that said so is not failed (review, Low: it was, and each anti-entropy round asked
the same oversized batch again)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sdex.gossip import GossipConfig
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.flows import halves
from sdex.gossip.peers import Peer
from tests.p2putil import gossip_net, order
from tests.test_stream import open_link, until

FAST = GossipConfig(dial_interval=0.1, ae_interval=0.3)


async def test_a_fetch_too_large_is_asked_again_in_halves() -> None:
    """``b`` holds nine orders of 1 MiB (together over what a frame carries) and one of
    9 MiB (over it alone); ``a`` lacks them all. Anti-entropy brings ``a`` the nine, in
    halves; the huge one is that order's failure: skipped, ``b`` is not failed for it."""
    async with gossip_net(2, [FAST] * 2) as (a, b):
        await open_link(a, b)
        big = [{**order(i), "pad": "x" * 2**20} for i in range(MAX_ANSWER // 2**20 + 1)]
        huge = {**order(99), "pad": "x" * (MAX_ANSWER + 2**20)}
        for o in [*big, huge]:
            b.node.add(o)
        failed: list[str] = []
        peers = a.gossip.peers
        real = peers.failed

        def noted(peer: Peer) -> None:  # (the real one, its calls noted)
            failed.append(peer.key)
            real(peer)

        peers.failed = noted  # type: ignore[method-assign]
        await until(lambda: all(o["hash"] in a.node.orders for o in big), 30)
        assert huge["hash"] not in a.node.orders
        assert b.gossip.node_id not in failed


@given(st.integers(0, 40), st.integers(0, 40))
def test_halves_split_a_fetch_in_two_nonempty_parts_down_to_one(n: int, m: int) -> None:
    """Halves keep every hash once, in order, each half non-empty (two or more hashes),
    so halving down to single hashes ends, in at most 2k - 1 asks for k hashes."""
    want, why = [f"w{i}" for i in range(n)], [f"y{i}" for i in range(m)]
    if n + m >= 2:
        (w1, y1), (w2, y2) = halves(want, why)
        assert (w1 + w2, y1 + y2) == (want, why)
        assert w1 + y1 and w2 + y2
    asks, calls = [(want, why)], 0
    while asks:
        w, y = asks.pop()
        calls += 1
        if len(w) + len(y) > 1:  # every ask too large: the worst case
            asks.extend(halves(w, y))
    assert calls <= max(1, 2 * (n + m) - 1)
