"""settle89 (left41, "Settlement"): while the chain's fee is refused the settler logs "not
signed: fees not read" once, not at every try, and its end with the tries counted; /health's
``settlementsNotSigned`` says why nothing is signed while it lasts.

Before, each try (one each ``REFUSED_PAUSE``, 0.2 s) logged the same warning. Real Hardhat
(``hardhat_setNextBlockBaseFeePerGas``: its fee above the node's default ceiling, fee86's
set-up), a real node in this process, a crossing pair posted to it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid
from tests.test_fee86_ceiling import HIGH


def said(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [m for r in caplog.records if words in (m := r.getMessage())]


async def test_a_refused_fee_is_logged_once_while_it_lasts(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    caplog.set_level(logging.WARNING, logger="sdex.settlement")
    price = 5000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.status == "ok", 60)
        was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        heads = node.mirror.announced
        settled = node.settler.settled
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(HIGH))
        c.rpc.call("hardhat_mine", "0x1")
        try:
            await wait_for(lambda: heads.refusing, 60)
            for o in (
                ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
                bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
            ):
                code, body = await api.post_order(o)
                assert code == 201, body
            refused = heads.untrusted
            await wait_for(lambda: heads.untrusted >= refused + 8, 60)  # (tries of the settler)
            assert node.settler.settled == settled
            # before: one warning a try (8 and more by now)
            assert len(said(caplog, "not signed: fees not read")) == 1, caplog.text
            code, health = await api.get("/health")
            now = health["settlementsNotSigned"]
            assert "fees not read" in now["now"] and now["inARow"] >= 2, now
        finally:  # (the chain's fee back for the tests after)
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(was))
            c.rpc.call("hardhat_mine", "0x1")
        await wait_for(lambda: node.settler.settled > settled, 90)
        (ended,) = said(caplog, "signing again")  # (the state's end, its tries counted)
        assert "not signed" in ended and "NotSigned: fees not read" in ended, ended
        code, health = await api.get("/health")
        now = health["settlementsNotSigned"]
        assert now["now"] is None and now["total"] >= 2, now
