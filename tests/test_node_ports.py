"""An in-process test node (``running_node``) whose port another process took first.

``node_config`` picks a free port (``free_port``); the node binds it only once it has
checked the chain and opened its store (``serve``: ``Node.prepare``, a second or more on a
busy machine). Another process that bound the port meanwhile made the node's start fail
("address already in use"). Here the race is forced: the port is taken during ``prepare``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import sdex.node.main
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node


async def test_a_node_whose_port_another_took_first_serves_on_another(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[socket.socket] = []

    class Racing(Node):
        async def prepare(self) -> None:
            if not taken:  # (its first start: after the port check, before the bind)
                s = socket.socket()
                s.bind(("127.0.0.1", self.config.port))
                s.listen()
                taken.append(s)
            await super().prepare()

    monkeypatch.setattr(sdex.node.main, "Node", Racing)
    cfg = node_config(chain, tmp_path / "n.db")
    try:
        async with running_node(cfg) as (node, api):  # before: OSError, address in use
            (held,) = taken
            assert node.config.port != cfg.port == held.getsockname()[1]
            assert api.base == f"http://127.0.0.1:{node.config.port}"
            code, body = await api.get("/health")
            assert code == 200, body
    finally:
        for s in taken:
            s.close()
