"""review68: gossip66 lets a hello from an admitted peer in a backoff end its wait (a
restarted peer dials its peers first). Each hello ended it: a peer whose URL fails (its DNS
pointed at another's server, say) and that signs hellos from elsewhere had its held pushes
sent to that URL at the pace of its hellos, up to its rate limit (2,000 a second), not its
backoff's. Now a hello ends a wait once until the peer answers again."""

from __future__ import annotations

from sdex.gossip.actions import Call
from tests.test_gossip_core import make, only, order, peer_id, run_due, url


def test_a_hello_ends_a_backoff_once_until_the_peer_answers() -> None:
    core, clock = make(peers=1, mesh=1)
    core.accepted(order(1))
    push = only(run_due(core, clock), "push")
    core.answered(push.id, None)
    peer = core.peers.get(peer_id(1))
    assert peer is not None and peer.retry_at > clock.t
    core.hello(peer_id(1), url(1), {})  # (back from a restart: its wait ends)
    again = only(core.tick(), "push")
    core.answered(again.id, None)  # (it failed again)
    assert peer.failures == 2 and peer.retry_at > clock.t
    for _ in range(3):  # (more hellos: the backoff holds)
        core.hello(peer_id(1), url(1), {})
        assert peer.retry_at > clock.t and core.next_timer() > clock.t
        assert [a for a in core.tick() if isinstance(a, Call) and a.kind == "push"] == []
    core.peers.ok(peer)  # (it answered)
    core.peers.failed(peer)  # (and failed again: a new streak)
    core.hello(peer_id(1), url(1), {})
    assert peer.reachable(clock.t)
