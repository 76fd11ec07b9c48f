"""nonce75: a settlement signed while a reorg is undone takes the chain's count after it.

A reorg that undoes a block holding one of the node's settlements frees that settlement's
nonce (``evm_revert``: the transaction is gone with its block). The node forgot the lane's
nonce only once the reorg was applied (``NodeChainState._apply_block``), after the store's
removal, the new branch's read and the funds' refresh: a match signed in between took the
old branch's next nonce, past the chain's count (Hardhat: "Nonce too high", the settlement
counted lost and the wallet's IOC never traded; anvil: pooled behind a gap nothing fills).
Real Hardhat, a real node and SQLite store, a real proxy on loopback holding the watcher's
read of the new branch (``tests/rpcfault.py``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.rpcfault import NOT_HUNG, Calls, Gate, gated_proxy, head_polls
from tests.test_mirror import head, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


async def test_a_match_signed_while_a_reorg_is_undone_takes_the_chains_count(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    top = [0]  # (the old branch's head: the new branch's read starts at or below it)

    def rereads(calls: Calls) -> bool:  # (the undone blocks read again: past the undo)
        logs = [call.get("params") for call in calls if call.get("method") == "eth_getLogs"]
        return any(
            isinstance(p, list) and int(str(p[0].get("fromBlock")), 16) <= top[0] for p in logs
        )

    branch = Gate(rereads)
    poll = Gate(head_polls)  # (no poll between the revert and the mining: a head "behind" ours
    # left the watcher's status behind while the new branch's read is held: intake's 503)
    # flake78b: the poll held before the revert (not only armed): a poll whose head read had
    # passed the gate, answered after the revert, read that head "behind" under load
    with gated_proxy(c.rpc.url, [branch, poll]) as url:
        async with running_node(cfg) as (node, api):
            node.watch_rpc.url = url  # (the watcher's reads alone through the proxy: its polls)
            node.watcher.stall = NOT_HUNG  # (the new branch's read held: slow, not hung)
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            assert (await api.post_order(maker))[0] == 201
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await settled(c, node, api, taker)
            operator = node.sender.address
            c.rpc.call("hardhat_mine", hex(2))
            await synced(node, c)
            top[0] = head(c)[0]
            poll.armed.set()
            await wait_for(poll.held.is_set, timeout=60)  # (the watcher's next poll, held)
            revert(c, snap)  # (the settlement's block undone: its nonce free again)
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))  # (longer than the branch undone: a reorg)
            poll.release.set()
            branch.armed.set()
            await wait_for(branch.held.is_set, timeout=60)  # (the reorg found, being undone)
            assert node.watcher.resets == 0
            count = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
            ended = node.settler.settled + node.settler.lost + node.settler.failed
            again = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=7))
            other = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8))
            assert (await api.post_order(again))[0] == 201
            code, body = await api.post_order(other, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            s = node.settler

            def signed() -> bool:  # (sent, or already ended: landed, lost or failed)
                return bool(s.in_flight) or s.settled + s.lost + s.failed > ended

            await wait_for(signed, timeout=20)
            branch.release.set()

            async def landed() -> bool:
                return await api.status(again) == "filled"

            await wait_for(landed, timeout=30)  # (was lost: "Nonce too high", not filled)
            mined = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
            assert mined > count and s.lost == 0 and s.nonce_refusals == 0
            assert node.watcher.reorgs >= 1 and node.watcher.resets == 0
