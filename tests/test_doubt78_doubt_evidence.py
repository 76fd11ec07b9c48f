"""doubt78: a doubt is lifted by evidence of our chain, not by polls that read our head.

The chain's identity comes in doubt when an answer says another hash at a block of ours and
a second read does not repeat it (``sdex.mirror.doubt``: matching and settlement held). It
ended after ``AGREE`` polls that got through, and a poll that read the chain's latest block
as our head, unchanged, got through with nothing else read: a backend stuck at our head (a
replaced chain's, behind a balancer) lifted the doubt while another went on answering
another hash at the block in question. Now a poll counts only with evidence: blocks applied
on top of ours, or, our head unchanged, the doubt's block read again with our hash (a
request of its own; another hash says the doubt again). Real Hardhat, a real node and
SQLite store, a real proxy on loopback answering our saved head's number with another hash
at every other ask while armed."""

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


@dataclass
class Flap:
    """While ``armed``: every other lone ask of block ``number`` answered ``WRONG`` for its
    hash (the first of them so); ``told`` such answers given, ``heads`` polls of "latest"."""

    number: int
    armed: threading.Event = field(default_factory=threading.Event)
    asked: int = 0
    told: int = 0
    heads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def flapping_at(upstream: str, number: int) -> Iterator[tuple[str, Flap]]:
    f = Flap(number)

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_getBlockByNumber":
            return None
        which = (req.get("params") or [None])[0]
        with f.lock:
            f.heads += which == "latest"
            lie = which == hex(f.number) and f.armed.is_set()
            if lie:
                f.asked += 1
                lie = f.asked % 2 == 1
                f.told += lie
        if not lie:
            return None
        status, answer = _forward(upstream, req)
        assert isinstance(answer, dict) and isinstance(answer.get("result"), dict)
        answer["result"]["hash"] = WRONG
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, f


async def test_polls_reading_our_head_alone_do_not_lift_a_doubt(
    chain: Chain, tmp_path: Path
) -> None:
    """In doubt from the start (the saved head read with another hash, then ours); the
    chain idle, every poll reads its latest block as our head while the endpoint still
    answers another hash there at every other ask. Before: lifted after two polls, matching
    and settlement resumed (failed 3 of 3). Now each such poll reads the block again: held
    while the endpoint flaps; lifted once it answers ours twice."""
    c = chain
    cfg = replace(node_config(c, tmp_path / "n.db"), new_heads=False)
    async with running_node(cfg) as (node, _):
        await synced(node, c)
    head = _saved_head(cfg.db)
    with flapping_at(c.rpc.url, head) as (url, f):
        f.armed.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            assert f.told >= 1 and node.mirror.doubt.doubts >= 1  # (in doubt from the start)
            heads = f.heads
            await wait_for(lambda: f.heads >= heads + 8, timeout=60)  # (polls of our head)
            assert node.watcher.block == head  # (the chain idle: nothing applied)
            assert node.mirror.doubt.held != "", f  # (before: lifted by the first two)
            assert f.told >= 3 and node.engine.held
            f.armed.clear()  # (ours at every ask: two polls read it so)
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=60)
            assert not node.engine.held
