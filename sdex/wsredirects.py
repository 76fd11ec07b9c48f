"""WebSocket upgrades never follow a redirect (gossip70, found by wallet69).

aiohttp's ``ws_connect`` takes no ``allow_redirects``: its upgrade request follows up to 10
redirects, wherever the answer's ``Location`` says. A peer's stream URL
(``sdex.gossip.stream.dial``) could then have this node send its upgrade request, and its
signed headers, to any host it names (a bounded SSRF), and a hostile RPC URL move the chain's
head subscription (``sdex.watch.heads``) elsewhere. ``refuse_ws_redirects``, a client
middleware of the sessions that open them, turns a redirect answer to an upgrade into
``WsRedirected`` (an ``aiohttp.ClientError``: the dial fails, as any refused upgrade does);
``max_redirects=0`` would not do (aiohttp reads 0 as no limit). Other requests are not
touched (the peers' calls ask ``allow_redirects=False`` themselves: ``sdex.gossip.client``)."""

from __future__ import annotations

import aiohttp
from aiohttp import hdrs

from sdex.redirects import REDIRECTS as REDIRECTS


class WsRedirected(aiohttp.ClientResponseError):
    """A WebSocket upgrade answered with a redirect: refused, never followed."""


async def refuse_ws_redirects(
    req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """A session's client middleware: a redirect answer to a WebSocket upgrade raises
    ``WsRedirected`` (the answer closed, its ``Location`` never asked)."""
    resp = await handler(req)
    if resp.status in REDIRECTS and req.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        where = resp.headers.get(hdrs.LOCATION, "")[:200]
        resp.close()
        raise WsRedirected(
            resp.request_info,
            (resp,),
            status=resp.status,
            message=f"a WebSocket upgrade answered with a redirect (to {where!r}): refused",
        )
    return resp
