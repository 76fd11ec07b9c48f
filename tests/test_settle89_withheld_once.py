"""settle89 (left41, "Settlement"): a settlement withheld and cancelled at its nonce (a
transfer of nothing of the node's took it: /health's ``settlementsWithheldCancelled``) is
counted there once, not also in ``matchesFailed`` and ``sdex_matches_failed_total``.

Before, its matches came back failed ("not sent again (...): cancelled at its nonce") and
the settler counted them failed too: one withheld cancel said twice, as if the chain had
refused a match. Real Hardhat mining only when told; a real ``sdex node`` killed by its PID
with the settlement pooled; the restart in this process behind a proxy that answers the
row's call as a revert once (a lagging backend: the start replaces the pooled row by a
transfer of nothing, forwarded); the transfer mined, the row's nonce taken without it
(settle83's ``taken`` case)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering, pooled_row
from tests.test_reconcile77_too_high import pooling
from tests.test_settle80_withdrawn_restart import health
from tests.test_settle83_replaced_kept import the_transfer_counted
from tests.test_settle84_replaced_judged import settled_down

__all__ = ["pooling"]

REVERT = {"code": 3, "message": "execution reverted", "data": "0x"}


async def test_a_withheld_cancel_is_counted_once(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    maker, count, tx, got = await pooled_row(c, db)
    data = str(got["input"]).lower()
    lied: list[str] = []

    def lagging(call: object) -> dict[str, object] | None:  # (the row's call, once)
        if lied or not isinstance(call, dict) or call.get("method") != "eth_call":
            return None
        asked = (call.get("params") or [None])[0]
        if not isinstance(asked, dict) or str(asked.get("data", "")).lower() != data:
            return None
        lied.append(tx)
        return {"jsonrpc": "2.0", "id": call.get("id"), "error": REVERT}

    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    with answering(c, lagging) as url:
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            assert lied == [tx], lied
            s = node.settler
            await wait_for(lambda: s.adopted == 1 and not s.sends, timeout=30)
            await the_transfer_counted(c, node, api, maker, count)  # (counted withheld: 1)
            said = await health(api)
            assert said["settlementsWithheldCancelled"] == 1, said
            # before: 1, the withheld row's match counted failed too
            assert said["matchesFailed"] == 0 and s.failed == 0, (said["matchesFailed"], s.failed)
            # settle90: before, 1, the withheld row counted lost too (README: no loss)
            assert said["settlementsLost"] == 0 and s.lost == 0, (said["settlementsLost"], s.lost)
            async with api.session.get(api.base + "/metrics") as r:
                text = await r.text()
            assert "sdex_matches_failed_total 0.0" in text, text
            await settled_down(c, node)
