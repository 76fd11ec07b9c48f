"""A contract wallet deployed while the node runs (a Safe created today): its first order is
judged at a block that has the wallet, not at the node's older head, and a verdict read
before the wallet existed (no code: "invalid") does not outlive its deployment."""

from __future__ import annotations

from pathlib import Path

import rlp
from eth_hash.auto import keccak

from sdex.mirror.sigcache import SigCache
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_eip1271 import wallet, wallet_order
from tests.test_mirror import synced


def next_contract(c: Chain, deployer: int = 0) -> str:
    """The address ``deployer``'s next CREATE gets (its pending nonce)."""
    sender = c.address(deployer)
    nonce = int(c.rpc.call("eth_getTransactionCount", sender, "pending"), 16)
    return "0x" + keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:].hex()


async def test_wallet_deployed_past_the_nodes_head_is_judged_at_it(
    chain: Chain, tmp_path: Path
) -> None:
    """The node's head is older than the wallet (its watcher not caught up: here it polls
    rarely and takes no newHeads, which makes the race of a block or two certain): the
    wallet's first order is accepted, as the chain at its latest block judges it, as an
    ECDSA maker first seen is."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, poll_interval=3600.0)
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        head = node.mirror.head.number if node.mirror.head is not None else -1
        w = wallet(c)  # deployed, funded, approved: three blocks past the node's head
        assert c.rpc.call("eth_getCode", w, hex(head)) == "0x"
        signed = wallet_order(c, w)
        code, body = await api.post_order(signed)
        assert code == 201, body
        assert node.mirror.sigs.verdict(signed) is True


async def test_order_refused_before_deployment_is_accepted_after(
    chain: Chain, tmp_path: Path
) -> None:
    """An order of a wallet's address posted before the wallet exists is refused (no code,
    no ECDSA signer: INVALID_SIGNATURE); once the wallet is deployed and the node follows
    it, the same order is judged again by the chain and accepted: the refusal read where the
    maker had no code does not stand for ``VERDICT_BLOCKS`` blocks."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        w = next_contract(c)
        signed = wallet_order(c, w)
        code, body = await api.post_order(signed)
        assert code == 400 and body["code"] == 100 and "signature" in str(body).lower(), body
        assert wallet(c) == w
        await synced(node, c)
        code, body = await api.post_order(signed)
        assert code == 201, body


def test_cache_negatives_stand_one_block_and_codes_read_behind_keep_verdicts(
    chain: Chain,
) -> None:
    """The cache alone: a negative read at block 10 stands at head 10, not at 11 (the wallet
    may be deployed there); a maker's code read at a head older than its newest verdict
    (read at the chain's latest block, past the node's head) does not void the verdict."""
    c = chain
    w = next_contract(c)
    valid, bad = wallet_order(c, w), wallet_order(c, w, key=7)
    cache = SigCache()
    cache.put(bad, False, None, block=10)
    cache.put(valid, True, b"code", block=10)
    cache.expire(10)
    assert cache.verdict(bad) is False and cache.verdict(valid) is True
    assert cache.apply_codes({w: None}, head=9) == set()  # read before it was deployed
    assert cache.verdict(valid) is True and cache.tracks(w)
    cache.expire(11)
    assert cache.verdict(bad) is None and cache.verdict(valid) is True
    assert cache.apply_codes({w: None}, head=11) == {w}  # gone at a block past the verdict
    assert cache.verdict(valid) is None and not cache.tracks(w)
