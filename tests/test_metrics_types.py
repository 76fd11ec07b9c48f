"""A node's ``/metrics`` (scraped from a real node): every count since the start is a
Prometheus counter (``# TYPE ... counter``, sample ``..._total``: ``rate()`` reads it as
one), every value that goes up and down a gauge.

Before (leftovers17), eight counts were gauges (``sdex_matches_settled``,
``sdex_http_connections_refused``, ...): ``rate()`` over them is wrong, and linters and
recording rules that key on the type treat them as levels."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

COUNTERS = (
    "sdex_http_requests",
    "sdex_orders_submitted",
    "sdex_settlement_txs_sent",
    "sdex_matches_settled",
    "sdex_matches_failed",
    "sdex_large_answers_refused",
    "sdex_large_answers_unread",
    "sdex_http_connections_reclaimed",
    "sdex_http_connections_refused",
    "sdex_http_connections_evicted",
    "sdex_http_connections_unread",
    "sdex_http_heads_refused",
    "sdex_signing_holds",
    "sdex_signing_held_seconds",
    "sdex_gossip_notices_refused",
    "sdex_gossip_notices_dropped",
    "sdex_gossip_notices_repeated",
    "sdex_store_gate_waits",
    "sdex_store_gate_wait_seconds",
    "sdex_store_checkpoint_gate_failures",
    "sdex_store_checkpoint_wake_failures",
    "sdex_store_checkpoint_failures",
    "sdex_gossip_cancels_unasked",
    "sdex_gossip_fetched_cancels_unstored",
    "sdex_gossip_fetched_cancels_retried",
    "sdex_gossip_fetched_cancels_unretried",
)
GAUGES = (
    "sdex_book_orders",
    "sdex_open_orders",
    "sdex_block_checkpoint",
    "sdex_ws_subscribers",
    "sdex_ws_connections",
    "sdex_large_answers",
    "sdex_http_connections",
)


async def test_counts_are_counters_and_levels_gauges(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        status, health = await api.get("/health")  # (one request counted)
        assert status == 200
        assert (health["gossip"]["noticesRefused"], health["gossip"]["noticesDropped"]) == (0, 0)
        node.settler.settled += 3  # (what a settled batch adds)
        assert node.gossip is not None
        node.gossip.core.notices_refused += 2  # (push91: two notices peers refused)
        node.gossip.core.notices_repeated_by["cancels"] = 3  # (gossip93: by kind)
        node.gossip.core.cancels_unasked += 4  # (gossip94: a fetch's cancels not asked for)
        node.gossip.fetched.unstored, node.gossip.fetched.retried = 5, 6  # (gossip93)
        writer = node.store._writer  # (review98b: counted, shown nowhere)
        writer.gate_failures, writer.checkpoint_failures = 7, 8
        assert writer.checkpointer is not None  # (store98: the thread's own, shown nowhere)
        writer.checkpointer.failures = 9
        async with api.session.get(api.base + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    types = {name: families[name].type for name in (*COUNTERS, *GAUGES) if name in families}
    assert types == {**dict.fromkeys(COUNTERS, "counter"), **dict.fromkeys(GAUGES, "gauge")}
    for name in COUNTERS:
        assert all(s.name == name + "_total" for s in families[name].samples), name
    settled = families["sdex_matches_settled"].samples
    assert [(s.name, s.value) for s in settled] == [("sdex_matches_settled_total", 3.0)]
    refused = families["sdex_gossip_notices_refused"].samples
    assert [(s.name, s.value) for s in refused] == [("sdex_gossip_notices_refused_total", 2.0)]
    repeated = families["sdex_gossip_notices_repeated"].samples
    assert [(s.name, s.labels, s.value) for s in repeated] == [
        ("sdex_gossip_notices_repeated_total", {"kind": "cancels"}, 3.0)
    ]
    got = {n: [(s.name, s.value) for s in families[n].samples] for n in COUNTERS[-4:]}
    assert (
        got
        == {  # (gossip95: /health's cancelsUnasked and fetchedCancels* on /metrics)
            n: [(n + "_total", v)] for n, v in zip(COUNTERS[-4:], (4.0, 5.0, 6.0, 0.0), strict=True)
        }
    )
    failures = [
        (s.name, s.value)
        for n in ("gate_failures", "wake_failures", "failures")
        for s in families["sdex_store_checkpoint_" + n].samples
    ]
    assert failures == [
        ("sdex_store_checkpoint_gate_failures_total", 7.0),
        ("sdex_store_checkpoint_wake_failures_total", 8.0),
        ("sdex_store_checkpoint_failures_total", 9.0),
    ]
    unknown = [f.name for f in families.values() if f.name.startswith("sdex_")]
    assert sorted(set(unknown) - set(COUNTERS) - set(GAUGES) - {"sdex_http_request_seconds"}) == []
