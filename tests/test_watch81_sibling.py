"""watch81: a same-height sibling of our head answered as the chain's latest block (a
backend of a load balancer on a stale branch, or a lie) that the chain does not hold.

Before: the poll walked back to the fork point, found our head itself (the chain, read by
number, still has it), undid nothing, counted a reorg of depth 0 and raised ``Reorg`` out
of ``poll_once``: the poll said ``failing`` with a traceback ("applying the chain's changes
failed"). Now nothing is undone or counted: the answers disagreed (``Inconsistent``, read
again with the next poll), and the next poll finds our head the chain's.

Real Hardhat; a real node in-process behind a real loopback proxy (``tests.headsproxy``)
that answers the sibling for one read of the latest block."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_sign79_feed import WAIT, head, pay, proxied_node


def sibling(block: dict[str, Any]) -> dict[str, Any]:
    """Another block at ``block``'s height on the same parent (one the chain does not hold)."""
    return {
        **block,
        "hash": "0x" + secrets.token_hex(32),
        "transactionsRoot": "0x" + secrets.token_hex(32),
    }


@pytest.mark.parametrize("below", [0, 1])
async def test_a_sibling_answered_as_the_latest_is_no_reorg_and_no_failure(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, below: int
) -> None:
    """``below``: the sibling is of our head (0), or of the block under it (1: nothing
    above it undone either)."""
    c = chain
    async with proxied_node(c, tmp_path) as (proxy, node):
        w = node.watcher
        pay(c, 1)
        top = pay(c, 1)  # (two blocks of ours at least: the one below is kept too)
        await wait_for(lambda: w.applied is not None and w.applied.hash == top["hash"],
                       timeout=WAIT)  # fmt: skip
        at = c.rpc.call("eth_getBlockByNumber", hex(int(top["number"], 16) - below), False)
        failures, reorgs, processed = w.failures, w.reorgs, w.blocks_processed
        reads = proxy.latest_reads
        proxy.latest = [sibling(at)]
        # (the sibling's poll, then one that reads the chain's latest: our head)
        await wait_for(lambda: proxy.latest_reads >= reads + 2 and not proxy.latest,
                       timeout=WAIT)  # fmt: skip
        await wait_for(lambda: proxy.latest_reads >= reads + 3, timeout=WAIT)
        assert head(c)["hash"] == top["hash"]  # (nothing mined meanwhile)
        # before: failures + 1 (a traceback, ``failing``), reorgs + 1
        assert (w.failures, w.reorgs) == (failures, reorgs)
        assert w.blocks_processed == processed  # (nothing undone and read again)
        assert w.applied is not None and w.applied.hash == top["hash"]
        assert w.status == "ok", w.problem
        assert "applying the chain's changes failed" not in caplog.text
