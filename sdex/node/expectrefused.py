"""What a request refused 417 costs (``sdex.node.headlimit``: an ``Expect`` other than
``100-continue``, answered before any route or middleware): the app's ``EXPECT_REFUSED_KEY``.

A request for the API is charged to its client's request budget (a 429 past it, as
``guard``'s) and counted (route ``expect_refused``; attack95: 30k such answers in 5 s,
uncounted, free). A ``/p2p/`` one is a peer request refused before its sender was proved:
charged to its client address's budget of refusals (``sdex.gossip.refusals``; a 429 from the
address alone once it is spent), never to the client's request budget, which ``guard`` skips
for ``/p2p/`` (gossip98: a peer's, or a flooder's on a peer's address, 417s spent the wallet
budget of every client of that address). A ``/p2p/`` request no route takes (a path none
has, a method its path has not: 404, 405) is one too (``unrouted_take``, ``guard``'s).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.web_request import BaseRequest

from sdex.httpkit import FORWARDED_FOR, ApiError, NetworkLimiter, TrustedProxies, client_group
from sdex.node.appstate import Metrics
from sdex.node.core import Node
from sdex.node.headlimit import Refusing

EXPECT_ROUTE = "expect_refused"
"""The ``route`` label of a request refused 417 (``sdex.node.headlimit``: before any route)."""


def expect_refused_for(node: Node, metrics: Metrics, limiter: NetworkLimiter) -> Refusing:
    """The app's ``EXPECT_REFUSED_KEY``: a 417 taken from its client's request budget (a 429
    past it, as ``guard``'s), with its ``X-RateLimit-*`` headers, and counted; a ``/p2p/``
    one from its address's budget of refusals (``sdex.gossip.refusals``). (Before any
    middleware: the client a trusted proxy forwards is found here.)"""
    take, done = limiter.take, metrics.request_done
    proxies = TrustedProxies(node.config.trusted_proxies)

    async def refused(request: BaseRequest, resp: web.Response) -> web.StreamResponse:
        gossip = node.gossip
        if gossip is not None and request.path.startswith("/p2p/"):
            gate, client = gossip.refusals, client_group(request.remote)
            if gate.open(client, request.transport):
                gate.charge(client, request.transport)
            else:  # (as ``sdex.gossip.gate.signed``'s: spent, not charged)
                retry = {"Retry-After": gate.retry_after(client)}
                resp = ApiError(429, 103, "Throttled: too many refused peer requests",
                                headers=retry).response()  # fmt: skip
            resp.force_close()  # (as a refused peer request's: ``sdex.gossip.gate``)
            done(EXPECT_ROUTE, resp.status, 0.0)
            return resp
        forwarded = proxies.client(request.remote, request.headers.getall(FORWARDED_FOR, []))
        ok, headers = take(client_group(forwarded))
        if not ok:
            resp = ApiError(429, 103, "Throttled: too many requests", headers=headers).response()
        resp.headers.update(headers)
        done(EXPECT_ROUTE, resp.status, 0.0)
        return resp

    return refused


def unrouted_take(
    node: Node, request: web.Request, take: Callable[[str], tuple[bool, dict[str, str]]]
) -> tuple[bool, dict[str, str]]:
    """``guard``'s budget of a ``/p2p/`` request: none if a route takes it (a peer's limits
    are taken once it is proved: ``sdex.gossip.gate``); else (answered 404 or 405) one
    refusal from its address's budget of refused peer requests, as a ``/p2p/`` 417's (no
    ``/p2p/`` routes: the client's request budget, ``take``), with ``Retry-After`` once it
    is spent. review100c: such requests were answered free of every budget, in a loop."""
    if request.match_info.http_exception is None:
        return True, {}
    client = client_group(request.remote)
    gossip = node.gossip
    if gossip is None:
        return take(client)
    gate = gossip.refusals
    if not gate.open(client, request.transport):
        return False, {"Retry-After": gate.retry_after(client)}
    gate.charge(client, request.transport)
    return True, {}
