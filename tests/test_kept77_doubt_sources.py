"""kept77: only the node's own chain reads put the chain's identity in doubt (gate77).

A doubt holds matching and settlement for every wallet: were a peer's message, a wallet's
order or a settlement's receipt able to raise one, any of them could stop the node. The
doubt is said (``ChainDoubt.said``) only by the watcher's two-read rules over its own reads
of the chain (``sdex.watch.fork``), and ``wrong-chain`` only by the watcher's status
(``sdex.watch.loop``); each answer it takes is one of the node's RPC's. Checked on the
source: every call of those two methods, found by the syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

import sdex

ROOT = Path(sdex.__file__).parent
ALLOWED = {"said": {"watch/fork.py"}, "wrong_chain": {"watch/loop.py"}}


def _callers() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {name: set() for name in ALLOWED}
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            named = isinstance(owner, ast.Attribute) and owner.attr == "doubt"
            if node.func.attr in found and (named or path.name == "doubt.py"):
                found[node.func.attr].add(path.relative_to(ROOT).as_posix())
    return found


def test_only_the_watchers_chain_reads_raise_a_doubt() -> None:
    assert _callers() == ALLOWED


def test_the_doubt_is_reached_from_no_peer_or_wallet_module() -> None:
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("gossip/", "ingest/", "settlement/", "book/", "matching/")):
            assert ".doubt." not in path.read_text(), rel
