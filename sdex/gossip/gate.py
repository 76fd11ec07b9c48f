"""Who may ask a node's ``/p2p/`` routes (``sdex.gossip.routes``): the checks every request
passes before its body is read, and the answer to one refused.

A request must be signed for this node (``X-SDEX-To``; a hello may name none or another and
is then taken as a stranger's), fresh (not a replay: ``sdex.gossip.replay``, told before
anything is charged to its signer), from an id not banned, not on a cut link, within its
rate limit (per admitted id; ids not in the peer table share one budget, ``STRANGERS``,
but for their hellos: a budget per client address, ``HELLOS``; an admitted peer's request
pays for the loop time it took besides: ``spent``, ``sdex.gossip.metered``). A request
refused before its sender was proved and admitted (``Refused``) is charged to its client
address (``sdex.gossip.refusals``); one from an address whose budget of refusals is spent
is answered 429 before any header is parsed or key recovered (``Gated``), and one on a
connection whose admitted peer is in debt, claiming that peer's URL, before its key is
recovered (``_owner_over``: flood79). A push is paid at its orders' intake's price
(``metered.push_tokens``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from sdex.gossip.gossip import Gossip
from sdex.gossip.identity import (
    HEADER_STARTED,
    HEADER_URL,
    AuthError,
    SignedRequest,
    verify_request,
)
from sdex.gossip.metered import cpu, intake_tokens, push_tokens, tokens
from sdex.gossip.peers import normalize
from sdex.gossip.replay import ReplayGuard
from sdex.httpkit import ApiError, NetworkLimiter, RateLimit, RateLimiter, client_group

STRANGERS = "strangers"
"""The rate-limit bucket shared by every id that is not in the peer table."""
HELLOS = RateLimit(rate=64.0, burst=256)
"""Hellos from ids not in the peer table, per client address (``client_group``): their own
budget, not the strangers' (gossip74: one stranger spending the strangers' shared budget on
other requests kept every new node's hello away, so its admission: the node is dialled
back, and admitted, only once its hello is heard). A devnet's nodes on one address say a
first hello each to each other, and dial each other back: 256 at once, 64 a second (a hello
costs its claimed and shared URLs' introductions, bounded per host group). An IPv6 client's
/56 and /48 hold ``WIDER_CLIENTS`` clients' of it in all (``NetworkLimiter``; review75: a
site's 65,536 /64s each had all of it, every hello answered in full)."""

GOSSIP_KEY = web.AppKey("gossip", Gossip)
PEER_LIMITER_KEY = web.AppKey("peer-limiter", RateLimiter)
STRANGER_LIMITER_KEY = web.AppKey("stranger-limiter", RateLimiter)
HELLO_LIMITER_KEY = web.AppKey("hello-limiter", NetworkLimiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


REPLAY_KEY = web.AppKey("replay", ReplayGuard)
REPLAYED = "this signed request was seen before (replay)"
SIGNED_BEFORE_START = "this signed request was signed before this node started (sign it anew)"


class Refused(ApiError):
    """A request refused before its sender was proved and admitted: charged to its client
    address's budget of refusals (``sdex.gossip.refusals``), its connection closed."""


class Gated(Refused):
    """A request from an address whose budget of refusals is spent: closed, not charged."""


def admit(
    app: web.Application,
    gossip: Gossip,
    node_id: str,
    url: str,
    charge: bool = True,
    stranger: bool = False,
    hello: str | None = None,
) -> None:
    """What every peer request passes, whether HTTP or a stream frame: not banned, not on a
    cut link, within its rate limit (per admitted id; strangers share one budget, but their
    hellos: ``hello``, the client group one came from, has its own, ``HELLOS``; a stream
    frame was charged before its JSON was read: ``charge=False``)."""
    peers = gossip.peers
    if peers.is_banned(node_id):
        raise ApiError(403, 100, "banned: this peer sent invalid data")
    known = peers.get(node_id)
    if normalize(url) in gossip.links_blocked or (
        known is not None and known.url in gossip.links_blocked
    ):
        raise ApiError(503, 100, "this link is cut by the operator")
    if not charge:
        return
    if known is not None and not stranger:
        ok, headers = app[PEER_LIMITER_KEY].take(node_id)
    elif hello is not None:
        ok, headers = app[HELLO_LIMITER_KEY].take(hello)
    else:
        ok, headers = app[STRANGER_LIMITER_KEY].take(STRANGERS)
    if not ok:
        if known is not None and not stranger:
            gossip.peer_costs.throttled += 1
        raise ApiError(429, 103, "Throttled: too many requests", headers=headers)


def charge(
    app: web.Application, gossip: Gossip, node_id: str, addressed: bool, tokens: float
) -> None:
    """Take ``tokens`` more from the budget ``admit`` charged a request to (its sender's if
    it is an admitted id and the request was addressed here, else the strangers'): a request
    whose answer cost more than one (``sdex.gossip.listing``). The budget may go below zero:
    the next requests wait for its refill."""
    if tokens <= 0:
        return
    if addressed and gossip.peers.get(node_id) is not None:
        app[PEER_LIMITER_KEY].charge(node_id, tokens)
    else:
        app[STRANGER_LIMITER_KEY].charge(STRANGERS, tokens)


def spent(
    app: web.Application, gossip: Gossip, node_id: str, seconds: float, push: bool = False
) -> None:
    """An admitted peer's request (addressed here) took ``seconds`` of the loop: its budget
    pays what that costs (``sdex.gossip.metered.tokens``) beyond the token ``admit`` took;
    a ``push`` (``POST /orders``) at its orders' intake's price (``metered.push_tokens``:
    the loop's wall time, flood79)."""
    limiter = app[PEER_LIMITER_KEY]
    crowded = gossip.peer_costs.crowding.now()
    if push:
        cost = push_tokens(seconds, limiter.rate, crowded)
        seconds = cpu(seconds, crowded)
    else:
        seconds = cpu(seconds, crowded)  # (steps' wall: ``metered.clock``)
        cost = tokens(seconds, limiter.rate)
    gossip.peer_costs.charged(seconds, cost)
    limiter.charge(node_id, cost - 1.0)


def intake_spent(
    app: web.Application,
    gossip: Gossip,
    sender: str,
    seconds: float,
    orders: int,
    on_loop: int = 0,
    once: int | None = None,
) -> None:
    """A push's ``orders`` new orders took ``seconds`` of the loop thread's CPU in the intake
    (their share of a group's: ``sdex.gossip.checks``, ``metered.cpu_clock``; priced as the
    loop's wall time, times how crowded its core is: flake93, a preemption's wall time is
    the machine's, not the pusher's; ``once``: of them, those not charged before, all if
    None): its sender's budget pays for them
    (``metered.intake_tokens``), all strangers' the strangers' one (gossip78: the intake is
    the node's shared work, done free for any pusher, so one admitted peer's pushes of
    valid but worthless orders took the loop from every other peer's and the wallets'); an
    admitted pusher's charge is forgiven while it is alike the other pushers' (peers81:
    ``sdex.gossip.alike``, honest relays of a saturated node), those with standing (an order
    each delivered first traded lately, ``Peers.has_traded``) alone if enough (stand89)."""
    peers = app[PEER_LIMITER_KEY]
    crowded = gossip.peer_costs.crowding.now()
    seconds *= max(1.0, crowded)  # (CPU as the loop's wall: flake93)
    once = orders if once is None else once
    cost = intake_tokens(seconds, orders, peers.rate, crowded, on_loop, once)  # (flood80, peers83)
    gossip.peer_costs.intake(seconds, once, cost)
    if gossip.peers.get(sender) is not None:
        traded = gossip.peers.has_traded(sender)  # (standing: stand89)
        if not gossip.peer_costs.pushers.forgive(sender, cost, traded):  # (alike: peers81)
            peers.charge(sender, cost)
    else:
        app[STRANGER_LIMITER_KEY].charge(STRANGERS, cost)


def in_debt(app: web.Application, gossip: Gossip, sender: str) -> bool:
    """Whether ``sender``'s request budget (its own if admitted, else the strangers') is
    spent below nothing: its pushes' orders not in the intake yet wait no more for it
    (``sdex.gossip.checks``; gossip78: up to ``max_http_per_client`` pushes admitted at a
    token each before the first was paid for)."""
    if gossip.peers.get(sender) is not None:
        return not app[PEER_LIMITER_KEY].take(sender, 0.0)[0]
    return not app[STRANGER_LIMITER_KEY].take(STRANGERS, 0.0)[0]


def signed(request: web.Request, anyone: bool = False) -> SignedRequest:
    """The sender of a signed request for this node, not a replay, admitted (``admit``):
    a replay is refused before its signer's budget is charged (signer78: an eavesdropper
    replaying an honest peer's requests drained that peer's budget, a token each, and had
    its own requests answered 429). ``anyone`` (a hello): it may name no node or another,
    and is then taken as a stranger's (the strangers' budget; a replay elsewhere spends
    nothing of its signer's). From a client address whose budget of refusals is spent: 429
    before any header is read or key recovered (``sdex.gossip.refusals``)."""
    gossip = request.app[GOSSIP_KEY]
    gate = gossip.refusals
    client, conn = client_group(request.remote), request.transport
    if not gate.open(client, conn):
        retry = {"Retry-After": gate.retry_after(client)}
        raise Gated(429, 103, "Throttled: too many refused peer requests", headers=retry)
    if not anyone and conn is not None and (owned := gate.owners.get(conn)) is not None:
        _owner_over(request.app, gossip, owned, request.headers.get(HEADER_URL, ""))
    try:
        sender = verify_request(request.method, request.raw_path, dict(request.headers))
    except AuthError as e:
        raise Refused(401, 100, str(e)) from None
    addressed = sender.to == gossip.key.node_id
    if not (addressed or anyone):
        raise Refused(401, 100, "this signed request is for another node (X-SDEX-To)")
    known = addressed and gossip.peers.get(sender.node_id) is not None
    replays = request.app[REPLAY_KEY]
    if replays.seen(sender.signature):  # (before its signer pays: signer78)
        raise Refused(401, 100, REPLAYED)
    if replays.before_start(sender.time_ms):  # (the last run's memory is gone: attack95)
        started = {HEADER_STARTED: str(replays.since_ms)}  # (its signer signs anew after it)
        raise Refused(401, 100, SIGNED_BEFORE_START, headers=started)
    try:
        hello = client if anyone else None  # (a stranger's: its address's own budget)
        admit(request.app, gossip, sender.node_id, sender.url, stranger=not addressed, hello=hello)
    except ApiError as e:
        if known:
            raise  # (a proved peer over its own budget, banned or cut: not a refusal here)
        raise Refused(e.status, 100, str(e), headers=e.headers) from None
    owner = sender.node_id if known else STRANGERS
    if not replays.fresh(sender.signature, owner):
        raise Refused(401, 100, REPLAYED)
    if owner != STRANGERS and conn is not None:
        gate.proved.add(conn)  # (heard while its address is gated: ``sdex.gossip.refusals``)
        gate.owners[conn] = (owner, sender.url)
    return sender


def _owner_over(app: web.Application, gossip: Gossip, owned: tuple[str, str], url: str) -> None:
    """429 if the admitted peer whose proved request this connection last carried, claiming
    ``url`` again, has less than a token left (flood79: a peer in debt had each of its
    requests' signature recovered before ``admit`` refused it, ~0.1-0.2 ms of the loop free,
    as fast as it sent them). A connection is its client's: a request on it that claims its
    owner's URL is its owner's or a forgery its owner sent (another peer's client sharing
    the connection claims its own URL, and is checked as before)."""
    owner, owner_url = owned
    if url != owner_url or gossip.peers.get(owner) is None:
        return
    limiter = app[PEER_LIMITER_KEY]
    if limiter.left(owner) >= 1.0:
        return
    gossip.peer_costs.throttled += 1
    raise ApiError(429, 103, "Throttled: too many requests", headers=limiter.take(owner)[1])


DRAIN_MOST = 64 * 1024
"""The largest unread body of a refused request that is read through (and dropped) to keep
its connection: a larger one, or one of unknown length, closes the connection instead (a
new connection costs the node ~0.2 ms more than a kept one, reading 4 MiB far more)."""


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused peer request gets its error body here (the parent app adds metrics; none
    is logged). One refused before its sender was proved (``Refused``) is charged to its
    address (``sdex.gossip.refusals``); its connection is closed if reading the rest of its
    body through would cost more than a new connection (``DRAIN_MOST``)."""
    try:
        return await handler(request)
    except Refused as e:
        if not isinstance(e, Gated):
            request.app[GOSSIP_KEY].refusals.charge(client_group(request.remote), request.transport)
        response = e.response()
        size = request.content_length
        if not request.content.is_eof() and (size is None or size > DRAIN_MOST):
            # (``force_close`` on the answer alone still reads the body through first)
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            if request.protocol is not None:
                request.protocol.force_close()  # (what was written is still sent)
        return response
    except ApiError as e:
        return e.response()
