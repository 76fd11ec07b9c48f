"""review90: the settler's read of the chain's latest block, not ``placed`` (its number the
answer's word), is kept as the bound of the next reads when it is at most ``FEE_STEPS`` past
the head this node knows (``HeadSignal.doubt``'s ``kept``, review87). review87 anchored the
furthest block to the head known, so one answer far ahead is not kept; but an answer at the
head known plus ``FEE_STEPS`` with the highest fee EIP-1559 allows there from the last kept
read is kept, and the next such answer is bounded by it: each block the mirror moves on, the
lie may rise an eighth again, a ratchet with the honest chain behind it at a steady fee.

An endpoint (a balancer's lying backend) that answers only the settler's ``latest`` reads so
takes the signed fee from 1 gwei to the 100,000 gwei ceiling in ~100 blocks (a fee cap of
twice that a gas), while every honest read of the mirror's is refused ("below block N read
before": the lie stays ``FEE_STEPS`` ahead).

Real Hardhat (its blocks mined one by one), a loopback proxy lying on the settler's read
(``Fees`` through it), the watcher's reads of each new head by its number (``placed``)
straight from the chain, the node's own ``HeadSignal`` as a running node has it (caught up)."""

from __future__ import annotations

from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import FEE_STEPS, HeadSignal, base_fee_of, highest
from sdex.errors import ChainError
from sdex.settlement.gas import Fees
from tests.conftest import Chain
from tests.rpcfault import Answer, _answering, _proxy

BLOCKS = 40
"""Blocks the mirror moves on under the lie (1.125 ** 40: ~110 times the honest fee)."""


def _head(c: Chain) -> tuple[int, int]:
    raw = c.rpc.call("eth_getBlockByNumber", "latest", False)
    fee = base_fee_of(raw)
    assert fee is not None
    return int(raw["number"], 16), fee


async def test_a_lie_kept_at_the_edge_of_the_head_known_does_not_ratchet(chain: Chain) -> None:
    """(main: 39 of 40 blocks signed over the chain's most, by the 40th 17,318 times it, Hardhat's
    empty blocks' fee falling; every honest read after the first lie refused. The one-line fix
    in the xfail's reason passed 3 of 3, and broke five tests that assert the old keep.)"""
    c = chain
    number, honest = _head(c)
    head: list[int] = [number]
    heads = HeadSignal(lambda: head[0])  # (the mirror's head)
    assert heads.read(number, honest, placed=True) is None  # (the watcher's range end)
    assert not heads.syncing  # (a running node, caught up)
    lie: list[int] = [number, honest]  # (the liar's last answer)

    def answer(call: object) -> dict[str, Any] | None:
        if not isinstance(call, dict) or call.get("method") != "eth_getBlockByNumber":
            return None
        if (call.get("params") or [None])[0] != "latest":
            return None
        at = head[0] + FEE_STEPS  # (as far as a read is kept: review87's anchor)
        bound = heads.read_fee  # (what the liar knows too: the chain's, then its own last)
        assert bound is not None
        lie[:] = [at, min(heads.ceiling, highest(bound, at))]
        block: dict[str, Any] = dict(c.rpc.call("eth_getBlockByNumber", "latest", False))
        block.update(number=hex(lie[0]), baseFeePerGas=hex(lie[1]))
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": block}

    def intercept(req: object) -> Answer | None:
        return _answering(c.rpc.url, req, answer)

    fees = Fees(heads)
    refused: list[str] = []
    over: list[tuple[int, int, int]] = []  # (block, fee signed with, the most the chain may have)
    with _proxy(c.rpc.url, intercept) as url:
        rpc = AsyncRpc(url)
        try:
            for _ in range(BLOCKS):
                c.rpc.call("hardhat_mine", hex(1))
                number, fee = _head(c)  # (empty blocks: the honest fee falls or stays)
                head[0] = number
                if (why := heads.read(number, fee, placed=True)) is not None:
                    refused.append(why)  # (the watcher's honest read)
                fees.forget()
                try:
                    signed = (await fees.current(rpc))[0]
                except ChainError:
                    continue  # (not signed with: fine)
                # the most the chain may have FEE_STEPS past the head known, from its own fee
                most = highest((number, fee), number + FEE_STEPS)
                if signed > most:
                    over.append((number, signed, most))
        finally:
            await rpc.close()
    if over:
        n, signed, most = max(over, key=lambda o: o[1] / o[2])
        pytest.fail(
            f"{len(over)} of {BLOCKS} signed over the chain's most; at block {n}: {signed}"
            f" wei, the most {most} (x{signed / most:.0f})"
        )
    assert not refused, f"{len(refused)} honest reads refused: {refused[0]}"


GWEI = 10**9
JUMP = 50_000 * GWEI


def test_lies_at_the_edge_bound_no_later_read_and_refuse_no_honest_one() -> None:
    """The same without a chain: each block the mirror reads its head (placed, 1 gwei), and a
    lie says that head plus ``FEE_STEPS`` at EIP-1559's highest from the last read (the liar's
    own before). A lie is believed only under the highest from the mirror's read; no honest
    read is refused. (main: the fee an eighth higher each block, 40 of 40 believed.)"""
    head = [100]
    heads = HeadSignal(lambda: head[0])
    assert heads.read(100, GWEI, placed=True) is None
    for _ in range(40):
        head[0] += 1
        assert heads.read(head[0], GWEI, placed=True) is None, heads.untrusted_why
        assert heads.read_fee is not None
        lie = highest(heads.read_fee, head[0] + FEE_STEPS)
        if heads.read(head[0] + FEE_STEPS, lie) is None:
            assert lie <= highest((head[0], GWEI), head[0] + FEE_STEPS), head[0]
    assert heads.read(head[0] + 1, GWEI) is None


@pytest.mark.parametrize("honest", [True, False], ids=["a jump", "a lie twice"])
def test_a_jump_read_twice_past_the_head_is_believed_only_once_the_mirror_walked_to_it(
    honest: bool,
) -> None:
    """A fee read twice past the head known, past EIP-1559's bounds of the mirror's read: not
    believed, the second read neither (fee93: bounds84's confirmation believed a lie answered
    twice, review92); the mirror's reads of the blocks by number, each within 9/8 of its
    parent's, bring a true jump within reach. Were it a lie, the mirror's honest reads of the
    blocks below and at it are believed, never refused."""
    head = [100]
    heads = HeadSignal(lambda: head[0])
    assert heads.read(100, GWEI, placed=True) is None
    assert heads.read(101, JUMP) is not None  # (once: not believed)
    assert heads.read(101, JUMP) is not None  # (read again: not believed either)
    assert heads.read_fee == (100, GWEI)
    if honest:  # (the chain's fee an eighth higher each block till the jump's: the walk)
        fee, n = GWEI, 100
        while fee < JUMP:
            n, fee = n + 1, min(JUMP, fee + fee // 8)
            head[0] = n
            assert heads.read(n, fee, placed=True) is None, heads.untrusted_why
        assert heads.read(n + 1, JUMP) is None, heads.untrusted_why
        assert heads.untrusted == 2
        return
    for n in (101, 102):  # (the chain's fee 1 gwei all along: the jump a lie twice)
        head[0] = n
        assert heads.read(n, GWEI, placed=True) is None, heads.untrusted_why
    assert heads.read(103, GWEI) is None, heads.untrusted_why
    assert heads.untrusted == 2 and heads.read_fee == (103, GWEI)
