"""left32: ``/health`` counts the settlement send client's JSON-RPC calls too (``Node.send_rpc``:
sends, receipts asked with them), labelled apart from the read clients' ``chainCalls`` (whose
meaning is unchanged: intake's and the watcher's). Before: a node that settled said nothing of
its sends' calls."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


async def test_health_counts_the_send_clients_calls_apart(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await post_all(api, [c.sign(ask(c, ALICE, E18, 3000 * E6))])
        await post_all(api, [c.sign(bid(c, BOB, E18, 3000 * E6))])
        await wait_for(lambda: node.settler.settled == 1 and node.settler.idle.is_set())
        code, health = await api.get("/health")
        assert code == 200, health
        m = health["chainMirror"]
        sends = node.send_rpc.calls
        assert sends.total() >= 1  # (the settlement's send went through it)
        assert m["sendChainCalls"] == sends.total() >= 1
        assert m["sendChainCallsByMethod"] == dict(sends)
        assert any(k.startswith("eth_sendRawTransaction") for k in m["sendChainCallsByMethod"])
        # the read clients' fields as documented before: the send client not in them
        # (the watcher may poll between the answer and this line: at most what they count now)
        reads = node.rpc.calls + node.watch_rpc.calls
        assert m["chainCalls"] == sum(m["chainCallsByMethod"].values()) <= reads.total()
        assert not any(k.startswith("eth_sendRaw") for k in m["chainCallsByMethod"])
