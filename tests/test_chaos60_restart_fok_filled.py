"""chaos60: a FOK order whose match was in flight when its node restarted (closed
``removed``, "not resting after restart") is ``filled`` once that settlement lands and
fills it in full. Before, the landed fill counted in its filled amount (chaos52's given-up
settlements) but it stayed ``removed``, the chain ``FILLED`` (chaos55 seed 5:
``state_mismatch``, a FOK ``removed`` with its full amount filled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chaos52_given_up import pooled_at_stop
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_fok_whose_settlement_lands_after_the_restart_is_filled(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)  # (suite89: 10 s; unmined anyway)
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    fok = c.sign(bid(c, BOB, E18 // 2, 500 * E6))  # all of it
    await pooled_at_stop(c, cfg, resting, fok, "fok")
    try:  # restarted while the chain still holds it unmined: given up
        async with running_node(cfg) as (node, api):
            assert (await meta(api, fok))["status"] == "removed"
            c.rpc.call("evm_setAutomine", True)
            c.rpc.call("evm_mine")
            await synced(node, c)
            assert c.exchange.order_info(fok.order).filled == 500 * E6

            async def filled() -> bool:
                got = await meta(api, fok)
                return bool((got["status"], got["filledMakerAmount"]) == ("filled", str(500 * E6)))

            await wait_for(filled, timeout=10)  # before: "removed", all of it filled
    finally:
        c.rpc.call("evm_setAutomine", True)
