"""review74a: a settlement signed while a reset replays the new chain.

The watcher's reset moves the send path's view at its start (``resets_begun``), before the
store's reset, the replay from the deployment block and the node's apply, which forgets the
lane's nonce (the old chain's count). A match signed in between took the old chain's next
nonce under the new view: sent to the new chain past its count, it waited in the pool for a
gap nothing fills. Real Hardhat (``evm_revert`` below every kept block), a real node and
SQLite store, a real proxy on loopback holding the reset's replay (``tests/rpcfault.py``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.rpcfault import NOT_HUNG, Gate, gated_proxy, head_polls, replays_from
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


async def test_a_match_signed_while_a_reset_replays_takes_the_new_chains_nonce(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    replay = Gate(replays_from(cfg.deploy_block))  # (the reset's first read)
    poll = Gate(head_polls)  # (no poll between the revert and the mining: a head "behind" ours
    # left the watcher's status behind while the replay is held, and intake refused: 503)
    # flake78b: the poll held before the revert (not only armed): a poll whose head read had
    # passed the gate, answered after the revert, read that head "behind" under load
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    with gated_proxy(c.rpc.url, [replay, poll]) as url:
        async with running_node(cfg) as (node, api):
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy: its polls)
            node.watcher.stall = NOT_HUNG  # (the replay held: slow, not hung)
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await settled(c, node, api, taker)
            operator = node.sender.address
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            poll.armed.set()
            await wait_for(poll.held.is_set, timeout=60)  # (the watcher's next poll, held)
            revert(c, snap)  # the settlement undone, no kept block left: a reset
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))
            poll.release.set()
            replay.armed.set()
            await wait_for(replay.held.is_set, timeout=60)  # (the reset began: view moved)
            count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
            ended = node.settler.settled + node.settler.lost + node.settler.failed
            again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
            other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
            code, body = await api.post_order(again)
            assert code == 201, body
            code, body = await api.post_order(other, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            s = node.settler

            def signed() -> bool:  # (sent, or already ended: landed, lost or failed)
                return bool(s.in_flight) or s.settled + s.lost + s.failed > ended

            await wait_for(signed, timeout=20)
            replay.release.set()

            async def landed() -> bool:
                return await api.status(again) == "filled"

            await wait_for(landed, timeout=30)  # (was lost: "Nonce too high", not filled)
            mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            assert mined > count and node.settler.lost == 0
