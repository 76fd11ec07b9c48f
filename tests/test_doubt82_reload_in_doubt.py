"""doubt82: a start in a chain doubt reads its stored orders at the mirror's head, by hash.

A start whose check of the saved head met two other hashes (in doubt: not proven, not
resumed) reads every stored open order from the chain (``_reload_orders``). It read them at
"latest": another chain's answer ("cancelled", its maker's funds) closed an acknowledged
order for good, and the mirror learned that chain's funds. Now in a doubt they are read at
the mirror's head named by its hash (EIP-1898), which another chain does not hold: its
backend answers an error, asked again till ours answers. Real chain of the suite's engine,
a real node on its SQLite store stopped and started again in this process behind real
proxies on loopback: two ``flapping_proxy`` answering the saved head's block with two other
hashes (the start's check: in doubt), and one answering the orders' read as another chain
where the maker cancelled it (its "latest"; by our head's hash, an error first)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from sdex.chain.states import OrderStatus as ChainStatus
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy, flapping_proxy
from tests.storedpair import stored_pair
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review66_adopt_landed import FEES, OPERATOR
from tests.test_review74a_flapped_head import _saved_head

FOREIGN_BALANCE = 7
"""The maker's balance the other chain answers (the mirror must not learn it)."""


@contextmanager
def foreign_states_proxy(upstream: str, data: str) -> Iterator[tuple[str, dict[str, int]]]:
    """The URL of a proxy to ``upstream`` answering the ``getOrderStates`` call of ``data``
    (one order's) as another chain where its maker cancelled it (status ``CANCELLED``, its
    balance ``FOREIGN_BALANCE``) when asked at a block by number or tag, and with an error
    the first time it is asked at a block by hash (that chain's backend does not hold it;
    then the balancer's other, ours); and the counts of each kind of answer given."""
    told = {"foreign": 0, "unknown": 0, "ours": 0}
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_call":
            return None
        params = req.get("params") or []
        if not params or not isinstance(params[0], dict) or params[0].get("data") != data:
            return None
        if isinstance(params[1], dict) and "blockHash" in params[1]:
            with lock:
                first = told["unknown"] == 0
                told["unknown" if first else "ours"] += 1
            if first:
                error = {"code": -32000, "message": "header not found"}
                answer = {"jsonrpc": "2.0", "id": req.get("id"), "error": error}
                return 200, json.dumps(answer).encode()
            return None
        fwd = urllib.request.Request(
            upstream, json.dumps(req).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
        raw = bytes.fromhex(answer["result"][2:])
        words = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        # (offset, length, then the row: hash, status, filled, valid, balance, allowance)
        assert len(words) == 8 and int.from_bytes(words[3]) == ChainStatus.FILLABLE, words
        words[3] = int(ChainStatus.CANCELLED).to_bytes(32)
        words[6] = FOREIGN_BALANCE.to_bytes(32)
        answer["result"] = "0x" + b"".join(words).hex()
        with lock:
            told["foreign"] += 1
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, told


async def test_a_start_in_doubt_closes_no_order_on_another_chains_word(
    chain: Chain, tmp_path: Path
) -> None:
    """An open ask stored, the node stopped; the restart's check of the saved head meets two
    other hashes (in doubt, not resumed) and the orders' read at "latest" meets another
    chain where the maker cancelled the ask. The ask stays open, in the book, its maker's
    funds ours (before: ``cancelled`` for good, the other chain's balance learned); the
    doubt ends (our head read again), and a crossing bid fills it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(maker))[0] == 201
        assert await api.status(maker) == "open"
    head = _saved_head(cfg.db)
    data = "0x" + c.exchange.encode_order_states([maker]).hex()
    with (
        foreign_states_proxy(c.rpc.url, data) as (surl, told),
        flapping_proxy(surl, head, "0x" + "ee" * 32, at=2) as (inner, second),
        flapping_proxy(inner, head, "0x" + "ef" * 32) as (url, first),
    ):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert first == [1] and second == [1]  # (two other hashes: in doubt)
            assert node.mirror.doubt.doubts >= 1 and not node.watcher.resumed
            at_start = await api.status(maker)
            account = (maker.order.maker, maker.order.maker_token)
            learned = node.mirror.funds.get(account)
            in_book = maker.hash in node.book
            await wait_for(lambda: node.mirror.doubt.held == "", timeout=60)
            assert node.watcher.resets == 0
            assert at_start == "open", (at_start, told)  # (before: "cancelled" for good)
            assert in_book and told["ours"] >= 1, told
            assert learned is not None and FOREIGN_BALANCE not in learned, learned
            assert await api.status(maker) == "open"
            code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6)), "ioc")
            assert code == 201 and len(body["matches"]) == 1, body

            async def filled() -> bool:
                return await api.status(maker) == "filled"

            await wait_for(filled, timeout=60)


async def test_a_row_landed_past_the_saved_head_before_a_start_in_doubt_counts_once(
    chain: Chain, tmp_path: Path
) -> None:
    """A store with a saved head; a pending settlement of half of two stored orders, mined
    above that head before the start; the start's check of the saved head meets two other
    hashes (in doubt, not resumed). The row is adopted unread, its bound the saved head; the
    orders are read at that head too (before: at "latest", with the row's fill in them, and
    its receipt, above the bound, applied it again: both "filled" at the node, half on
    chain, their remainders never matched). Once proven, the remainders are matched again
    and settled: both filled in full on chain, one settlement sent."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    other = c.sign(ask(c, CAROL, E18, 9000 * E6))  # (a first run: a head saved)
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(other))[0] == 201
    head = _saved_head(cfg.db)
    resting, incoming, store = stored_pair(c, cfg, seq=1001)
    data = c.exchange.encode_settlement([(resting, incoming, E18)])  # (half of each)
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined before the start, above the head)
    landed = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
    assert landed["status"] == "0x1" and int(landed["blockNumber"], 16) > head
    with (
        flapping_proxy(c.rpc.url, head, "0x" + "ee" * 32, at=2) as (inner, second),
        flapping_proxy(inner, head, "0x" + "ef" * 32) as (url, first),
    ):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            s = node.settler
            assert first == [1] and second == [1] and not node.watcher.resumed
            assert s.adopted == 1  # (adopted unread: in doubt)
            seen: list[tuple[str, int]] = []  # (each change of the resting order's word)

            async def watch() -> None:  # (before: "filled" with half on chain, a while)
                while True:
                    rec = node.records.get(resting.hash)
                    now = (str(rec.status), rec.filled) if rec is not None else ("", -1)
                    if not seen or seen[-1] != now:
                        seen.append(now)
                    await asyncio.sleep(0)

            watching = asyncio.ensure_future(watch())

            async def filled() -> bool:  # (the remainders matched again and settled)
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and s.idle.is_set() and not s.in_flight

            try:
                await wait_for(filled, timeout=60)
            finally:
                watching.cancel()
            assert seen.count(("filled", 2 * E18)) <= 1, seen  # (filled once: by the second)
            assert node.watcher.resets == 0
            # (the chain filled both in full: the node's "filled" is the chain's)
            assert c.exchange.order_info(resting.order).filled == 2 * E18
            assert c.exchange.order_info(incoming.order).filled == 6000 * E6
            assert s.sent == 1
