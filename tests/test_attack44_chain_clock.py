"""attack44: a chain whose clock runs ahead of the node's wall clock settles expired orders.

Found from outside (three `sdex node` processes on `sdex devnet`): Hardhat stamps each new
block at least one second after the last, so a burst of blocks (the devnet's own deployment,
or a busy minute of settlements) leaves its clock ahead of the wall clock, and it stays ahead
(81 s on the attacked devnet: its pending block said wall + 81). The node judged expiry by
``max(latest block's timestamp, wall clock)``: while the chain idles, the latest block's
stamp stays where it was and the wall clock is behind, so an ask expiring a few seconds past
that stamp was taken, rested, and later matched with a crossing bid; the chain's next block,
stamped past the expiry, refused it (``OrderExpired``) and the operator paid the failed
settlement's gas (72,376 gas for one batch there). Any maker can repeat it with every order.

Real Hardhat; the node served in-process (``running_node``: the subject is its expiry
judgement, not its process; suite97), on the chain's clock and the machine's wall clock.
"""

from __future__ import annotations

from pathlib import Path

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

LEAD = 120
"""Seconds the chain's clock is put ahead of the wall clock (a burst of blocks does it too)."""


def pending_time(c: Chain) -> int:
    """The timestamp the chain's next block would carry now."""
    return int(c.rpc.call("eth_getBlockByNumber", "pending", False)["timestamp"], 16)


def run_ahead(c: Chain) -> int:
    """The chain's clock put LEAD s ahead, shown by a block: that block's number."""
    c.rpc.call("evm_increaseTime", LEAD)
    c.rpc.call("evm_mine")
    return int(c.rpc.call("eth_blockNumber"), 16)


TRIES = 5
"""Asks ``taken_expiring_soon`` signs at most."""


async def taken_expiring_soon(c: Chain, api: Api) -> SignedOrder:
    """An ask the node took ``open`` with a few seconds left on the chain's clock. Its post
    may take longer than those seconds on a loaded machine (then refused: not after the
    chain's time and the margin, ``RejectionCode.EXPIRED``): signed again with a new expiry,
    at most ``TRIES`` times."""
    for _ in range(TRIES):
        expiry = pending_time(c) + 4  # taken now: past the latest block's stamp and the margin
        doomed = c.sign(ask(c, ALICE, E18, 2000 * E6, expiry=expiry))
        code, body = await api.post_order(doomed)
        if code == 201:
            assert body["status"] == "open", body
            return doomed
        assert code == 400 and "is not after" in str(body), body  # (too late: again)
    raise AssertionError(f"no ask with 4 s left was taken in {TRIES} tries")


async def expired_is_not_settled(c: Chain, api: Api) -> None:
    """An ask taken a few seconds before the chain's clock reaches its expiry; the chain
    idles past it; a crossing bid must not match it (nor the operator send a settlement)."""
    operator = c.address(19)
    doomed = await taken_expiring_soon(c, api)
    expiry = doomed.order.expiry
    await wait_for(lambda: pending_time(c) > expiry, timeout=30)  # the chain idles past it
    sent = c.rpc.call("eth_getTransactionCount", operator, "latest")
    taker = c.sign(bid(c, BOB, E18, 2100 * E6))
    code, body = await api.post_order(taker, "ioc")
    assert code == 201, body
    assert body["matches"] == [], body  # no match with an order the chain finds expired
    assert await api.status(doomed) == "expired"
    # and no settlement sent for it: the operator paid no gas for a refused match
    assert c.rpc.call("eth_getTransactionCount", operator, "latest") == sent


async def test_an_order_the_next_block_finds_expired_is_not_settled(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_, api):
        head = run_ahead(chain)  # the node sees a head stamped LEAD s past its wall clock

        async def seen() -> bool:
            return int((await api.get("/health"))[1]["block"]) >= head

        await wait_for(seen, timeout=30)
        await expired_is_not_settled(chain, api)


async def test_a_node_started_on_an_idle_chain_ahead_judges_by_its_clock(
    chain: Chain, tmp_path: Path
) -> None:
    """The same when the chain ran ahead before the node started and has mined nothing
    since: its latest block is stale, its pending block says its clock (failed before: a
    node restarted on the attacked devnet matched such an ask at once)."""
    run_ahead(chain)
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_, api):
        await expired_is_not_settled(chain, api)
