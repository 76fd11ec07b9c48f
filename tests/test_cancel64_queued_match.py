"""cancel64: a match made but not yet signed when one of its orders is soft-cancelled is not
settled: dropped before signing, the other order's amount back on the book (open, no failure
counted against it), the cancelled order's record without a fill from it.

Before, the settler signed every queued match: one waiting for a settlement slot (all
``max_in_flight`` held by transactions not yet mined) was signed after the cancel, at a nonce
at or above ``cancelledAtNonce``, the wallet's cancel not honoured though nothing had been
sent, and ``sdex audit`` flagged the honest node (``node_settled_after_cancel``). Real
Hardhat mining only when told, a real node on loopback, the audit run against it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sdex.matching.match import Match
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import Outcome
from sdex.settlement.take import WITHDRAWN_WHY
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at
from tests.test_audit62_cancel_kept import audit, broken, meta_at
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs
from tests.test_settlement_fallback import OPERATOR as FALLBACK_OPERATOR
from tests.test_settlement_fallback import pair, running_settler
from tests.test_settlement_pipeline import post_all

__all__ = ["held_chain"]  # (the fixture, used by name)


async def queued_match(
    c: Chain, node: Node, api: Api
) -> tuple[list[SignedOrder], SignedOrder, SignedOrder]:
    """Every settlement slot of ``node`` held by a transaction pooled, unmined (their asks),
    then Alice's ask of 2 WETH at 1000 matched with Bob's bid of 1 WETH, queued for a slot:
    (the held asks, her ask, his bid)."""
    asks = [c.sign(ask(c, CAROL, E18 // 10, 100 * E6)) for _ in range(node.settler.max_in_flight)]
    for k, a in enumerate(asks, 1):
        await post_all(api, [a, c.sign(bid(c, DAVE, E18 // 10, 100 * E6))])
        await wait_for(lambda k=k: pending_txs(c) >= k, timeout=60)  # type: ignore[misc]
    half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))
    other = c.sign(bid(c, BOB, E18, 1000 * E6))
    await post_all(api, [half, other])

    async def matched() -> bool:  # made, queued for a slot: not signed
        return (await meta_at(api, half.hash_hex))["pendingMakerAmount"] == str(E18)

    await wait_for(matched, timeout=30)
    return asks, half, other


async def dropped_and_trades_on(
    c: Chain, node: Node, api: Api, half: SignedOrder, other: SignedOrder
) -> None:
    """``queued_match``'s match dropped: Alice's ask cancelled with no fill of it, Bob's bid
    open with nothing counted against it, and a new ask crossing it settled."""
    meta = await meta_at(api, half.hash_hex)
    got = {k: meta[k] for k in ("status", "filledMakerAmount", "pendingMakerAmount")}
    assert got == {"status": "cancelled", "filledMakerAmount": "0", "pendingMakerAmount": "0"}
    meta = await meta_at(api, other.hash_hex)  # innocent: open, nothing counted against it
    got = {k: meta[k] for k in ("status", "filledMakerAmount", "pendingMakerAmount")}
    assert got == {"status": "open", "filledMakerAmount": "0", "pendingMakerAmount": "0"}
    rec = node.records.get(other.hash)
    assert rec is not None and rec.failures == 0
    await post_all(api, [c.sign(ask(c, CAROL, E18, 1000 * E6))])
    await wait_for(lambda: pending_txs(c) > 0, timeout=30)
    c.rpc.call("evm_mine")
    await wait_for(lambda: c.exchange.order_info(other.order).filled == 1000 * E6, 30)


async def test_a_match_queued_at_the_cancel_is_dropped_its_other_side_trades_on(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        asks, half, other = await queued_match(c, node, api)
        held = len(asks)
        assert pending_txs(c) == held
        await cancel_at(api, c, half, ALICE)
        nonce = int(c.rpc.call("eth_getTransactionCount", node.sender.address, "pending"), 16)
        assert (await meta_at(api, half.hash_hex))["cancelledAtNonce"] == nonce
        c.rpc.call("evm_mine")  # the slots free: the queued match is taken now
        await wait_for(lambda: all(c.exchange.order_info(a.order).filled for a in asks), 30)

        async def settled_or_back() -> bool:  # signed and sent (before), or given back
            if pending_txs(c) > 0:
                return True
            meta = await meta_at(api, other.hash_hex)
            return meta["pendingMakerAmount"] == "0"

        await wait_for(settled_or_back, timeout=30)
        c.rpc.call("evm_mine")  # (a settlement signed after the cancel lands here)
        await synced(node, c)
        report = await audit(c, api)
        assert broken(report) == [], report.to_json()  # before: its settlement, flagged
        assert c.exchange.order_info(half.order).filled == 0
        await dropped_and_trades_on(c, node, api, half, other)


async def test_a_match_withdrawn_between_its_batch_and_the_signature_is_left_out(
    chain: Chain, tmp_path: Path
) -> None:
    """The settler looks again right at the signature (after its fee and nonce reads): a
    match withdrawn after its batch formed is left out, the batch signed again without it,
    one transaction; its orders untouched on chain, reported unsent and withdrawn."""
    c = chain
    kept, late = pair(c, 0), pair(c, 1)
    looks: dict[int, int] = {}

    def withdrawn(batch: Sequence[Match]) -> dict[int, str]:  # (the node's lookup:
        out: dict[int, str] = {}  # cancelled after one look; with why, as settle69's)
        for i, m in enumerate(batch):
            looks[id(m)] = looks.get(id(m), 0) + 1
            if m is late and looks[id(m)] > 1:  # (first as the batch forms, then at signing)
                out[i] = WITHDRAWN_WHY
        return out

    operator = c.address(FALLBACK_OPERATOR)
    nonce = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
    async with running_settler(c, tmp_path) as (settler, results):
        settler.withdrawn = withdrawn
        settler.submit([kept, late])
        await wait_for(lambda: settler.idle.is_set() and len(results) == 2, timeout=30.0)
    by = {id(r.match): r for r in results}
    assert by[id(kept)].outcome is Outcome.SETTLED
    gone = by[id(late)]
    assert (gone.outcome, gone.unsent, gone.withdrawn, gone.tx_hash) == (
        Outcome.FAILED, True, True, None,
    )  # fmt: skip
    assert c.exchange.order_info(late.resting.order).filled == 0
    assert c.exchange.order_info(late.incoming.order).filled == 0
    assert int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16) == nonce + 1
    assert (settler.withdrawn_matches, settler.failed) == (1, 0)
