"""A settlement notice after the node's gossip stopped (chaos52). Found by the chaos run
(``tests/chaosrun.py``): a node sent SIGTERM while a settlement was in flight stops its
gossip first (``Node.stop``), then the settler; the settler's receipt came in between, its
notice to the peers spawned a call on the closed HTTP session, and the log had an ERROR
"peer call to ... /p2p/settlements failed" with a traceback (``RuntimeError: Session is
closed``) for each peer, at every such stop. A stopped gossip now sends nothing."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for


async def test_a_notice_after_the_gossip_stopped_is_not_sent(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "a.db", operator=19)) as (a, _):
        cfg = node_config(c, tmp_path / "b.db", operator=18)
        async with running_node(replace(cfg, peers=(f"http://127.0.0.1:{a.config.port}",))) as (
            b,
            _,
        ):
            gossip = b.gossip
            assert gossip is not None
            await wait_for(lambda: len(gossip.core.peers) >= 1, timeout=30)
            await gossip.stop()  # (as ``Node.stop`` does first)
            caplog.set_level(logging.DEBUG, logger="sdex.gossip")
            gossip.notify("settlements", {"txHash": "0x" + "11" * 32})
            await wait_for(lambda: not gossip._tasks, timeout=10)
            failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert not failed, failed[0].getMessage()  # before: "peer call ... failed"
