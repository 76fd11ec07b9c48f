"""review78b: a poll whose answers disagree breaks the row of polls that end a doubt.

A doubt (``sdex.mirror.doubt``: matching and settlement held) ends after ``AGREE`` polls
with evidence of our chain in a row, a poll that failed between counting them from none
again (review78's rule, combined by hand with doubt78's at the merge). A failed poll breaks
the row through the status it sets; a poll that failed as ``Inconsistent`` (answers that
disagree within the poll: a head from one backend, its block from another, "chain
moving") set none unless it was the fifth in a row. So an endpoint whose two backends
answered in turn, one with our head (each poll read our doubted block again: evidence) and
one with a head our reads found another block for, lifted the doubt with the second of
ours, the other's between ignored. Real Hardhat, a real node and SQLite store, a real proxy
on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced
from tests.test_review74a_flapped_head import _saved_head
from tests.test_review74a_lagging_flap import _forward

WRONG = "0x" + "ef" * 32
ANNOUNCED = "0x" + "a1" * 32  # (the other backend's head, one past ours)
READ = "0x" + "b2" * 32  # (what the same poll's read of that block answers)


@dataclass
class Turns:
    """The endpoint: the first lone ask of our saved head (``number``) answers ``WRONG``
    (the start's check: in doubt, ``said``); then, while ``flapping``, the poll after each
    read of our head (evidence) is the other backend's: "latest" one past ours, its block's
    read another hash. ``ours`` reads of our head answered ours, ``theirs`` polls served
    by the other."""

    number: int
    flapping: threading.Event = field(default_factory=threading.Event)
    lied: bool = False
    theirs_next: bool = True
    serving: bool = False
    ours: int = 0
    theirs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _block(upstream: str, number: int, block_hash: str, parent: str) -> dict[str, object]:
    """Our head's block as the chain has it, renumbered ``number`` with these hashes."""
    _, answer = _forward(
        upstream,
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]},
    )
    assert isinstance(answer, dict) and isinstance(answer.get("result"), dict)
    return {**answer["result"], "number": hex(number), "hash": block_hash, "parentHash": parent}


@contextmanager
def two_backends(upstream: str, number: int, ours: str) -> Iterator[tuple[str, Turns]]:
    t = Turns(number)
    ask_head, ask_next = hex(number), hex(number + 1)

    def answer(req: dict[str, object], block: dict[str, object]) -> object:
        params = req.get("params") or []
        assert isinstance(params, list)
        if req.get("method") == "eth_getBlockByNumber" and params[:1] == [ask_next]:
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": {**block, "hash": READ}}
        if req.get("method") == "eth_getLogs":
            return {"jsonrpc": "2.0", "id": req.get("id"), "result": []}
        return _forward(upstream, req)[1]

    def intercept(req: object) -> Answer | None:
        with t.lock:
            if isinstance(req, list) and t.serving:  # (the range read of the other's head)
                t.serving, t.theirs_next = False, False
                t.theirs += 1
                block = _block(upstream, number + 1, ANNOUNCED, ours)
                return 200, json.dumps([answer(r, block) for r in req]).encode()
            if not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
                return None
            which = (req.get("params") or [None])[0]
            if which == ask_head and not t.lied:
                t.lied = True
                status, got = _forward(upstream, req)
                assert isinstance(got, dict) and isinstance(got.get("result"), dict)
                got["result"]["hash"] = WRONG
                return status, json.dumps(got).encode()
            if which == ask_head:  # (our head read again: ours)
                t.ours += 1
                t.theirs_next = True
                return None
            if which == "latest" and t.flapping.is_set() and t.theirs_next:
                t.serving = True
                head = _block(upstream, number + 1, ANNOUNCED, ours)
                return 200, json.dumps(
                    {"jsonrpc": "2.0", "id": req.get("id"), "result": head}
                ).encode()
        return None

    with _proxy(upstream, intercept) as url:
        yield url, t


async def test_a_poll_of_another_backend_between_two_of_ours_breaks_the_row(
    chain: Chain, tmp_path: Path
) -> None:
    """In doubt from the start; the chain idle; each poll of our backend reads the doubted
    block again as ours (evidence), and between two of them a poll of the other backend
    fails as ``Inconsistent`` (its head's block read with another hash). Before: lifted by
    the second of ours (failed 3 of 3). Now held while the other backend answers between;
    lifted once two polls of ours come in a row."""
    c = chain
    cfg = replace(node_config(c, tmp_path / "n.db"), new_heads=False)
    async with running_node(cfg) as (node, _):
        await synced(node, c)
        assert node.watcher.applied is not None
        ours = node.watcher.applied.hash
    head = _saved_head(cfg.db)
    with two_backends(c.rpc.url, head, ours) as (url, t):
        t.flapping.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            assert t.lied and node.mirror.doubt.doubts >= 1  # (in doubt from the start)
            doubt = node.mirror.doubt
            await wait_for(lambda: (t.theirs >= 6 and t.ours >= 6) or not doubt.held, 60)
            assert node.watcher.block == head  # (nothing applied: the other's head failed)
            assert doubt.held != "", t  # (before: lifted by our second, one of theirs between)
            assert node.engine.held
            t.flapping.clear()  # (ours alone: two polls in a row)
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=60)
            assert not node.engine.held
