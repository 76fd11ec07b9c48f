"""attack38: what a node takes from a peer's ``/p2p/cancelled`` page (``take_cancelled``).

A bootstrapping node holds a peer's soft-cancelled order as ``cancelled`` only if the order
and its cancel are both signed by the order's maker; anything else is refused and the peer
pays for it (a real node on the test's Hardhat, the entries as a peer's page carries them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.order import SignedOrder, sign_order
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask

PEER = "0x" + "ab" * 20
"""The key of the peer whose page the entries came on."""

Entry = Callable[[Chain], object]


def entry(c: Chain, signed: SignedOrder, canceller: int = ALICE) -> dict[str, str]:
    sig = sign_cancel(c.domain, signed.hash, c.keys[canceller])
    return {**signed.to_json(), "cancelSignature": "0x" + sig.hex()}


def cancelled_by_bob(c: Chain) -> object:
    return entry(c, c.sign(ask(c, ALICE, E18, 1000 * E6)), canceller=BOB)


def order_signed_by_bob(c: Chain) -> object:
    forged = sign_order(ask(c, ALICE, E18, 1000 * E6), c.domain, c.keys[BOB])
    return entry(c, forged)


def no_cancel_signature(c: Chain) -> object:
    return c.sign(ask(c, ALICE, E18, 1000 * E6)).to_json()


def cancel_signature_not_hex(c: Chain) -> object:
    return {**c.sign(ask(c, ALICE, E18, 1000 * E6)).to_json(), "cancelSignature": "0xzz"}


def not_an_object(c: Chain) -> object:
    return ["0x" + "00" * 65]


BAD: list[tuple[str, Entry, bool]] = [
    # (case, entry, whether the peer pays for it)
    ("cancel signed by another", cancelled_by_bob, True),
    ("order signed by another", order_signed_by_bob, True),
    ("no cancel signature", no_cancel_signature, True),
    ("cancel signature not hex", cancel_signature_not_hex, True),
    ("not an object", not_an_object, True),
]


@pytest.mark.parametrize(("case", "make", "charged"), BAD, ids=[b[0] for b in BAD])
async def test_a_bad_entry_is_not_held_and_costs_the_peer(
    chain: Chain, tmp_path: Path, case: str, make: Entry, charged: bool
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        notice = make(c)
        assert await node.take_cancelled(notice, PEER) is False, case
        assert node.gossip is not None
        assert (node.gossip.peers.standing(PEER).invalid > 0) is charged
        if isinstance(notice, dict) and "maker" in notice:
            h = SignedOrder.from_json(
                {k: v for k, v in notice.items() if k != "cancelSignature"}, c.domain
            ).hash_hex
            assert (await api.get(f"/v1/orders/{h}"))[0] == 404


async def test_an_expired_entry_is_not_held(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        old = c.sign(ask(c, ALICE, E18, 1000 * E6, expiry=c.now() - 1))
        assert await node.take_cancelled(entry(c, old), PEER) is False
        assert (await api.get(f"/v1/orders/{old.hash_hex}"))[0] == 404


async def test_a_good_entry_is_held_cancelled_and_shown_to_the_next_node(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        assert await node.take_cancelled(entry(c, withdrawn), PEER) is True
        assert await node.take_cancelled(entry(c, withdrawn), PEER) is True  # (again: a notice)
        code, rec = await api.post_order(withdrawn)  # re-posted by anyone
        assert (code, rec["metaData"]["status"]) == (200, "cancelled"), rec
        assert node.gossip is not None and node.gossip.peers.standing(PEER).invalid == 0

        async def shown() -> bool:  # (its row is written lazily, as a peer's order's)
            return (await node.cancelled_page(0, 10, 1 << 20))[0] == [entry(c, withdrawn)]

        await wait_for(shown, timeout=10)
