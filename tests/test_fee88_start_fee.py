"""fee88 (users87's trial, review87's /health): at each start of a node on a chain some
blocks past its deploy block, the watcher's first read of the latest block came before the
mirror had a head: its fee was bounded by the deploy block's with ``FEE_STEPS`` blocks
allowed, past EIP-1559's bounds of it on any chain whose fee moved since, and the honest
read was logged as "a base fee read from the chain is not signed with: ... past the head
this node knows", counted in /health's ``readUntrusted`` and ``refusing`` (and every
settler read too till the mirror came that far). Now while the node catches up (its start,
a reset's replay: ``HeadSignal.syncing``) a read past the head it knows is not signed with
and not judged: no warning, no count; the settler waits for the catch-up (bounded).

Real Hardhat, a real node in-process on a fresh store, blocks mined first."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdex.chain.headsignal import FEE_STEPS, HeadSignal, reaches
from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid

GWEI = 10**9


def _block(c: Chain, number: int | str) -> tuple[int, int]:
    tag = number if isinstance(number, str) else hex(number)
    raw = c.rpc.call("eth_getBlockByNumber", tag, False)
    return int(raw["number"], 16), int(raw["baseFeePerGas"], 16)


async def test_an_honest_chain_at_a_start_gives_no_warning(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """(main: "past the head this node knows" logged at the start, ``readUntrusted`` 1 or
    more: failed 3 of 3 before the fix.)"""
    c = chain
    deploy = _block(c, c.deployment.deploy_block)
    c.rpc.call("hardhat_mine", hex(64))  # (empty blocks: the fee falls an eighth each)
    latest = _block(c, "latest")
    assert not reaches(deploy, deploy[0] + FEE_STEPS, latest[1]), (deploy, latest)  # (the case)
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    caplog.set_level(logging.WARNING, logger="sdex.chain")
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        for o in (
            ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
            bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
        ):
            code, body = await api.post_order(o)
            assert code == 201, body
        await wait_for(lambda: node.settler.settled >= 1, 90)  # (the settler's fee reads)
        top = _block(c, "latest")[0]
        await wait_for(lambda: (h := node.mirror.head) is not None and h.number >= top, 60)
        code, health = await api.get("/health")
        fees = health["chainMirror"]["baseFee"]
    said = [r.getMessage() for r in caplog.records if "base fee" in r.getMessage()]
    assert said == [], said
    assert fees["readUntrusted"] == 0 and fees["refusing"] is False, fees


CASES = [  # (name, how the catch-up starts; the reads after it: (block, fee, placed))
    ("a start", "start", [(500, 7, False), (500, 7, True), (501, 7, False)]),
    ("a reset's replay", "reset", [(500, 7, False), (300, GWEI, True), (500, 7, False),
                                   (500, 7, True), (500, 7, False)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "how", "reads"), CASES, ids=[c[0] for c in CASES])
def test_reads_past_the_head_while_catching_up_are_not_judged(
    name: str, how: str, reads: list[tuple[int, int, bool]]
) -> None:
    """The deploy block's fee 1 gwei at block 10; the chain at block 500, 7 wei: each read
    of the latest block while the mirror catches up is not signed with, and not counted;
    once the mirror's reads came that far, the next read is believed (main: counted, failed
    2 of 2)."""
    head: list[int | None] = [None]
    heads = HeadSignal(lambda: head[0])
    assert heads.read(10, GWEI, placed=True) is None
    heads.syncing = True  # (``sdex.node.core``'s start)
    if how == "reset":
        heads.syncing = False
        assert heads.read(12, GWEI) is None
        heads.rewound(reset=True)
    for n, fee, placed in reads:
        why = heads.read(n, fee, placed=placed)
        if placed:
            head[0] = n
            assert why is None, name
    assert heads.untrusted == 0 and not heads.refusing, name
    assert not heads.syncing and heads.read_fee == reads[-1][:2], name
    assert heads.read(2_000, 50_000 * GWEI) is not None and heads.untrusted == 1, name


@pytest.mark.parametrize("reset", [True, False], ids=["a reset follows", "no reset: a lie"])
def test_the_new_chain_read_before_a_reset_is_seen_is_not_counted(
    reset: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A devnet started again on the port: the watcher's read of the new chain's latest
    block (block 0, 1 gwei) comes before it finds the reset, "below block N read before":
    not believed, and no longer counted once the reset is taken (``rewound``). Without a
    reset it is a lie ("block 1", review86a's), counted, logged from the second read. (main:
    counted 2 after the reset, failed 3 of 3; logged at the first.)"""
    caplog.set_level(logging.WARNING, logger="sdex.chain")
    heads = HeadSignal(lambda: 755)
    assert heads.read(755, 4_815, placed=True) is None
    assert heads.read(0, GWEI) is not None
    assert caplog.records == []  # (the first: a reset's, or a lagging backend's)
    assert heads.read(755, 4_815) is None  # (the new chain as far, its fee the same: a devnet's)
    if reset:
        heads.rewound(reset=True)
        assert heads.read(2, GWEI * 7 // 8) is not None  # (unjudged: catching up)
    else:
        assert heads.read(2, GWEI * 7 // 8) is not None
        assert [r.getMessage() for r in caplog.records if "below block 755" in r.getMessage()]
    assert caplog.records == [] or not reset
    assert heads.untrusted == (0 if reset else 2)
    assert heads.refusing is not reset and (heads.untrusted_why is None) is reset


def test_a_chain_without_base_fees_ends_the_catch_up() -> None:
    """A chain before London (no ``baseFeePerGas``): its reads end the catch-up as well, so
    the settler's fee reads are judged, not held as the catch-up's (/health's ``waiting``)."""
    head: list[int | None] = [None]
    heads = HeadSignal(lambda: head[0])
    heads.syncing = True
    assert heads.read(500, None) is None and heads.syncing and heads.waiting()
    assert heads.read(500, None, placed=True) is None
    head[0] = 500
    assert not heads.syncing and heads.waiting() is None
