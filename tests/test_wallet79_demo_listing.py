"""wallet79: ``sdex demo`` signed its wallets' orders with whatever node-1's ``order_config``
listed (tokens, decimals, Exchange), unchecked, where ``sdex order``, ``sdex book`` and
``sdex balance`` check a node's listing against the deployment file and the chain (trust77,
wallet78): a node saying USDC has 18 decimals had the demo print "buy 10 WETH @ 10 USDC" and
sign 100·10^18 USDC units. Now the demo checks each node's listing, as it starts, against
the deployment it made and the chain, and fails in one line naming the difference, before
anything is signed.

A real ``sdex node`` process (the demo's own ``Story.start_node``) on Hardhat, node-1's
answers passed through trust77's real loopback proxy rewriting its ``order_config``. Before
the fix: the story signed and posted alice's buy to node-1 (its record at the node), and went
on (failed 2 of 2 cases)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from sdex.chain import deploy
from sdex.client import NodeClient
from sdex.demo import DemoFailed, Node, Story
from sdex.demorun import kept_text
from sdex.order import to_checksum
from tests.conftest import Chain
from tests.test_trust77_listing import Rewrite, _token, orders_of, rewriting_proxy


@dataclass(frozen=True)
class Case:
    name: str
    rewrite: Rewrite
    said: str


def _story(c: Chain, log_dir: Path, rewrite: Rewrite) -> tuple[Story, contextlib.ExitStack]:
    """The demo's story on the test chain, node-1 answering through a proxy that rewrites its
    ``order_config``."""
    log_dir.mkdir()
    c.deployment.save(log_dir / "devnet.json")
    proxies = contextlib.ExitStack()

    class Hostile(Story):
        def start_node(self, name: str, index: int, peers: list[str]) -> Node:
            node = super().start_node(name, index, peers)
            if name == "node-1":
                proxy = proxies.enter_context(rewriting_proxy(node.proc.url))
                proxy.rewrite = rewrite
                node.client.close()
                node.client = NodeClient(proxy.url)
            return node

    console = Console(record=True, width=200, force_terminal=False)
    return Hostile(console, c.deployment, log_dir), proxies


@contextlib.contextmanager
def _told(story: Story, proxies: contextlib.ExitStack) -> Iterator[Story]:
    try:
        yield story
    finally:
        story.stop()
        proxies.close()


def test_the_demo_refuses_a_node_misstating_its_listing(chain: Chain, tmp_path: Path) -> None:
    c = chain
    copycat = deploy(c.sender(3), "TestToken", "USD Coin", "USDC", 6)
    usdc = to_checksum(c.usdc.address)
    cases = [
        Case("decimals", _token("USDC", decimals=18),
             "tokens.USDC.decimals is 18 at the node, 6 in the demo's deployment"),
        Case("a copycat token", _token("USDC", address=copycat.lower()),
             f"tokens.USDC.address is {to_checksum(copycat)} at the node, {usdc} in the demo's"),
    ]  # fmt: skip
    alice = c.deployment.accounts[1].address
    for i, case in enumerate(cases):
        story, proxies = _story(c, tmp_path / f"demo-{i}", case.rewrite)
        with _told(story, proxies), pytest.raises(DemoFailed) as failed:
            try:
                story.run()
            finally:  # (what node-1 holds of alice, read before the story stops it)
                n1 = story.nodes["node-1"].proc.url
                held = orders_of(n1, alice)
        said = " ".join(str(failed.value).split())
        assert said.startswith(f"node-1 at {n1}: refusing to sign"), (case.name, said)
        assert case.said in said and "nothing was signed or sent" in said, (case.name, said)
        assert "misstates its listing" in said, said
        assert held == [], (case.name, held)
        assert "alice" not in story.out.export_text(), case.name  # (no order said posted)
        assert "node-3" not in story.nodes, case.name  # (refused before it went on)


def test_the_kept_panel_gives_the_deployment_to_every_wallet_command() -> None:
    """``make demo KEEP=1``'s panel said ``--deployment`` "for balance, cancel --onchain,
    audit" only: ``sdex order``, ``book``, ``cancel`` and the console given none check the
    node's listing against nothing and warn so (trust77), or refuse a default file of another
    network. It now names it for each, and why (failed 1 of 1 before)."""
    said = " ".join(kept_text([("node-1", "http://127.0.0.1:8001")]).split())
    assert "--deployment FILE for book, each of these, and audit:" in said
    assert "order, book, cancel and console check the node's listing against it" in said
