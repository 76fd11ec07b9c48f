"""left33: an order read while the watcher replays the deployment's blocks (before
``caughtUp``) teaches the mirror its maker's funds once the replay passes the block it was
read at: the account's next order costs no chain read. A block after the read that touches
the account (a later log) wins: the read is then dropped, never trusted over it. (A wallet's
order waits for the replay first, bounded (replay79, ``sdex.node.replayhold``): one past the
hold's bounds, or a peer's copy, is read so; here the hold takes none.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Log, OrderState, OrderStatus
from sdex.chainnode import Engine
from sdex.mirror import Mirror
from sdex.mirror.blocks import Header
from sdex.mirror.noted import TRANSFER
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_chain_outage import OwnChain, OwnOrders
from tests.test_node import ALICE, BOB, E6, E18, ask

REPLAYED = 300_000
"""Empty blocks mined before the node starts: a replay of some seconds (150 ranges)."""


async def test_a_read_during_the_replay_is_learned_once_passed(
    tmp_path: Path, engine: Engine
) -> None:
    if engine != "hardhat":
        pytest.skip(
            "the replay is 300,000 empty blocks: Hardhat mines them in one call, anvil (1.7) "
            "mined 30,000 in 239 s here (the replay's own behaviour is engine-neutral)"
        )
    net = OwnChain("replay33", engine)
    rpc = net.rpc
    try:
        dep = net.deploy()
        rpc.call("hardhat_mine", hex(REPLAYED))
        own = OwnOrders(net, dep, tmp_path / "n.db")
        async with running_node(own.cfg) as (node, api):
            node.replay_hold.most = 0  # (past its bound: read at once, as a peer's copy is)
            assert not node.watcher.caught_up.is_set(), "replayed before the test could post"
            code, body = await api.post_order(own.ask(ALICE))
            assert code == 201, body
            assert not node.watcher.caught_up.is_set(), "replayed before the read was made"
            assert node.intake.read == 1
            await wait_for(node.mirror_ready, timeout=120)
            account = (dep.accounts[ALICE].address.lower(), own.weth.lower())
            assert node.mirror.spendable(account) is not None, "the read was not learned"
            code, body = await api.post_order(own.ask(ALICE))
            assert code == 201, body
            assert node.intake.read == 1  # (the mirror judged it: no second read)
    finally:
        net.stop()


def _transfer(token: str, frm: str, to: str) -> Log:
    pad = bytes(12)
    topics = [TRANSFER, pad + bytes.fromhex(frm[2:]), pad + bytes.fromhex(to[2:])]
    return Log(token, topics, (1).to_bytes(32, "big"), 0, "0x" + "ee" * 32, 0)


def test_a_later_log_wins_over_a_read_of_the_replay(chain: Chain) -> None:
    """A read made at block 10 (the replay below it): learned when the replay reaches 10,
    even through a touch at a block up to 10 (the read saw it); dropped when a block above
    10 touches the account first."""
    c = chain
    weth = c.weth.address
    funded = OrderState(b"\0" * 32, OrderStatus.FILLABLE, 0, True, 5 * E18, 7 * E18)

    def mirror_at(n: int) -> Mirror:
        m = Mirror(c.exchange, [weth])
        m.apply(None, [], Header(n, "0x" + "11" * 32, "0x" + "00" * 32, 1))
        return m

    def header(n: int) -> Header:
        return Header(n, "0x" + f"{n:064x}", "0x" + f"{n - 1:064x}", n)

    for maker in (ALICE, BOB):
        signed = c.sign(ask(c, maker, E18, 3000 * E6))
        account = (c.address(maker), weth)
        touch = [_transfer(weth, c.address(maker), c.address(3))]
        # a touch at a block the read saw, then the replay reaches it: learned
        m = mirror_at(5)
        m.learn_later(signed, funded, 10)
        m.apply(header(9), touch, header(9))
        assert m.spendable(account) is None
        m.apply(header(10), [], header(10))
        assert m.funds[account] == (5 * E18, 7 * E18) and account in m.unsure
        # a block above the read touches it first (a run from 6 to 12): dropped for good
        m = mirror_at(5)
        m.learn_later(signed, funded, 10)
        m.apply(None, touch, header(12))
        assert m.spendable(account) is None
        m.apply(header(13), [], header(13))
        assert m.spendable(account) is None
