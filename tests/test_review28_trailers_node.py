"""review28: a node cuts a chunked order post whose trailer section passes the head bound
without an error logged (the handler waiting for the body is ended as a 431, not by a
``RuntimeError`` the node's guard logs with its traceback, one a connection)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack27_heads import send_trailers_to


async def test_trailers_past_the_bound_on_a_node_log_no_error(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sdex")
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        for _ in range(3):
            status, closed = await send_trailers_to(node.config.port, "/v1/orders", 100)
            assert status.startswith(b"HTTP/1.1 431"), status
            assert closed
        code, _ = await api.get("/health")
        assert code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
