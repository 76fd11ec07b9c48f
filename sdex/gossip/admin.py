"""The operator's ``/admin/links`` route (loopback only): cut or restore gossip links with
peers, both ways (a network partition, on purpose: the tests' and the demo's tool)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from sdex.gossip.gossip import Gossip
from sdex.gossip.peers import normalize
from sdex.httpkit import ApiError, read_json


def links_route(gossip: Gossip) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /admin/links`` for ``gossip``'s node."""

    async def post_admin_links(request: web.Request) -> web.Response:
        """``{"block": [url...], "unblock": [url...]}``: cut or restore gossip links with
        peers, both ways. Loopback clients only."""
        if request.remote not in ("127.0.0.1", "::1"):
            raise ApiError(403, 100, "admin routes answer loopback clients only")
        body = await read_json(request, 64 * 1024)
        for key in ("block", "unblock"):
            urls = body.get(key, [])
            if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                raise ApiError(400, 100, f"{key} must be a list of peer URLs")
        for url in body.get("block", []):
            gossip.links_blocked.add(normalize(url))
        for url in body.get("unblock", []):
            gossip.links_blocked.discard(normalize(url))
            peer = gossip.peers.by_url(url)
            if peer is not None:
                gossip.peers.ok(peer)  # no backoff left over from the cut
        return web.json_response({"blocked": sorted(gossip.links_blocked)})

    return post_admin_links
