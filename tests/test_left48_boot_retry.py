"""left48: a bootstrap whose soft-cancelled page failed no longer opens the node's gate.

Before, ``flows.snapshot`` walked its seed's ``/p2p/cancelled`` pages and set
``cancels_loaded`` whatever came of them: a page not answered (a 500, a timeout) ended the
walk, the gate opened at once with none of the seed's soft cancels, and an order its maker
had withdrawn (cancelled at the seed) was taken here from a wallet, open, to be traded. Now
only a walk to the seed's last page opens the gate; a failed one is tried again (the next
seed, or this one), a few times, and at worst the gate waits its bound (``CANCELS_WAIT``).

A real node on the test's Hardhat; its one seed a real aiohttp server on loopback that signs
its answers (``HostilePeer``) and fails its first ``/p2p/cancelled`` page.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_cancel45_hostile_seed import status
from tests.test_hostile import HostilePeer, hello_answer
from tests.test_node import ALICE, E6, E18, ask


def withdrawn_entry(c: Chain) -> tuple[SignedOrder, dict[str, object]]:
    """Alice's ask and its ``/p2p/cancelled`` entry (the order with her signed cancel)."""
    withdrawn = c.sign(ask(c, ALICE, E18, 3000 * E6))
    proof = sign_cancel(c.domain, withdrawn.hash, c.keys[ALICE])
    return withdrawn, {**withdrawn.to_json(), "cancelSignature": "0x" + proof.hex()}


async def test_a_failed_cancelled_page_is_asked_again_before_wallets_are_served(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    withdrawn, entry = withdrawn_entry(c)
    seed = HostilePeer({})
    pages = {"asked": 0}

    def cancelled(r: web.Request) -> object:
        pages["asked"] += 1
        if pages["asked"] == 1:
            raise web.HTTPInternalServerError(text="busy")  # the first page fails
        after = int(r.query.get("after", "0"))
        return {"orders": [entry] if after == 0 else [], "next": 1 if after == 0 else after}

    seed.answers = {
        "/p2p/hello": hello_answer(seed),
        "/p2p/cancelled": cancelled,
        "/p2p/snapshot": lambda _r: {"orders": [], "next": 0},
    }
    cfg = node_config(c, tmp_path / "n.db", peers=(seed.url,))
    async with seed.serving(), running_node(cfg) as (node, api):
        assert node.gossip is not None
        core = node.gossip.core  # (the gate's own bound, CANCELS_WAIT, is 3 s: a loaded
        await wait_for(lambda: core.cancels_loaded, timeout=30)  # machine may take longer)
        code, body = await api.post_order(withdrawn)  # a wallet posts the withdrawn order
        assert await status(api, withdrawn.hash_hex) == "cancelled", (code, body)
        assert code == 200, body  # (known, closed: not accepted as new)
        assert pages["asked"] >= 2
