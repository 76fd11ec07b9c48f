"""A devnet's chain is up once its own process says it listens on its port, not when
whatever answers there does.

``free_port`` picks a port that is free now; Hardhat binds it seconds later (node's start).
Another process (another xdist worker's or checkout's chain) that bound it first answered
``eth_chainId`` for ours, which exited ("address already in use"): the test session's
deployment landed on the other chain. Here the race is forced: another chain takes the port
between the pick (and ``check_port_free``) and the engine's bind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chain.rpc import quantity
from sdex.chainnode import AnvilNode, ChainNode, HardhatNode, free_port
from sdex.errors import DevnetError

MARK = 7
"""Blocks the other chain mines: its head tells it from a fresh chain (head 0)."""


def racing(engine: type[ChainNode], others: list[ChainNode], tmp: Path) -> type[ChainNode]:
    """``engine`` whose first start finds its port taken by another chain (``others``)
    started after the port was checked free, just before the engine binds it."""

    class Racing(engine):  # type: ignore[valid-type,misc]
        def command(self) -> list[str]:
            if not others:
                other = AnvilNode(self.port, tmp / "other.log")
                others.append(other)
                rpc = other.start()
                rpc.call("anvil_mine", hex(MARK))
                rpc.close()
            return super().command()  # type: ignore[no-any-return]

    return Racing


def head(rpc: Rpc) -> int:
    return quantity(rpc.call("eth_blockNumber"))


@pytest.mark.parametrize("engine", [HardhatNode, AnvilNode])
def test_a_chain_whose_picked_port_another_took_first_starts_on_another(
    engine: type[ChainNode], tmp_path: Path
) -> None:
    others: list[ChainNode] = []
    node = racing(engine, others, tmp_path)(None, tmp_path / "chain.log")
    taken = node.port
    try:
        rpc = node.start()
        try:
            assert head(rpc) == 0  # its own chain (before: the other's, at head 7)
            assert node.port != taken and node.url == f"http://127.0.0.1:{node.port}"
            assert node.proc is not None and node.proc.poll() is None
            assert "already in use" in (tmp_path / "chain.log").read_text(errors="replace")
        finally:
            rpc.close()
    finally:
        node.stop()
        for other in others:
            other.stop()


def test_a_chain_on_a_given_port_another_took_first_fails_naming_it(tmp_path: Path) -> None:
    others: list[ChainNode] = []
    # a port given (as ``--port N`` gives it): not the node's to move
    node = racing(HardhatNode, others, tmp_path)(free_port(), tmp_path / "chain.log")
    try:
        with pytest.raises(DevnetError, match=f"port {node.port} on 127.0.0.1 is already in use"):
            node.start()  # before: returned the other chain's endpoint as its own
        assert node.proc is not None and node.proc.poll() is not None
        (other,) = others
        assert other.proc is not None and other.proc.poll() is None  # (serves on)
    finally:
        node.stop()
        for other in others:
            other.stop()
