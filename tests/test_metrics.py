"""The node's Prometheus exposition: the per-request counters kept as plain numbers on the
event loop come out as the same families prometheus_client's labelled metrics gave."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sdex.node.appstate import LATENCY_BUCKETS, Metrics


def _node() -> Any:
    """What ``Metrics``' gauges read of a node (read only at scrape time)."""
    return SimpleNamespace(
        book=[1, 2, 3],
        open_orders=2,
        watcher=SimpleNamespace(block=7, unapplied=SimpleNamespace(holds=3, held_seconds=0.5)),
        settler=SimpleNamespace(sent=1, settled=4, failed=0),
        events=[],
        gossip=None,  # (no gossip core yet: its notice counts read 0, push91)
        store=SimpleNamespace(  # (store95's gate counters, review98b's failures)
            gate_waits=lambda: (0, 0.0), checkpoint_failures=lambda: (0, 0, 0)
        ),
    )


def _samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_latency_and_orders_are_exposed() -> None:
    m = Metrics(cast(Any, _node()))
    m.request_done("/v1/orders", 201, 0.0007)
    m.request_done("/v1/orders", 201, 0.001)  # on a bucket's bound: counted in it (le)
    m.request_done("/v1/orders", 400, 0.2)
    m.request_done("/health", 200, 3.0)  # past the last bound: +Inf only
    m.order_submitted("accepted")
    m.order_submitted("accepted")
    m.order_submitted("unfunded")
    s = _samples(m)
    req = "sdex_http_requests_total"
    assert s[(req, (("route", "/v1/orders"), ("status", "201")))] == 2
    assert s[(req, (("route", "/v1/orders"), ("status", "400")))] == 1
    assert s[(req, (("route", "/health"), ("status", "200")))] == 1
    bucket = "sdex_http_request_seconds_bucket"
    orders = (("route", "/v1/orders"),)
    expected = {"0.0005": 0, "0.001": 2, "0.0025": 2, "0.1": 2, "0.25": 3, "1.0": 3, "+Inf": 3}
    for le, count in expected.items():
        assert s[(bucket, (("le", le), *orders))] == count, le
    assert len([k for k in s if k[0] == bucket and k[1][1:] == orders]) == len(LATENCY_BUCKETS) + 1
    assert s[("sdex_http_request_seconds_count", orders)] == 3
    assert abs(s[("sdex_http_request_seconds_sum", orders)] - 0.2017) < 1e-9
    assert s[(bucket, (("le", "1.0"), ("route", "/health")))] == 0
    assert s[(bucket, (("le", "+Inf"), ("route", "/health")))] == 1
    assert s[("sdex_orders_submitted_total", (("result", "accepted"),))] == 2
    assert s[("sdex_orders_submitted_total", (("result", "unfunded"),))] == 1
    assert s[("sdex_book_orders", ())] == 3
    assert s[("sdex_matches_settled_total", ())] == 4
