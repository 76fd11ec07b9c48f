"""EIP-1271 makers on real Hardhat: verdicts cached per (maker, order hash, signature),
misses batched, invalidated when the wallet's code changes, expired after ``ttl`` blocks
(a signer rotated in storage), cleared by a reorg or a chain reset; bad signatures cost one
call, not one per copy. Chain calls are counted on the node's own JSON-RPC client."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.chainnode import Engine
from sdex.gossip.client import ANSWER_ROOM
from sdex.mirror.sigcache import SigCache
from sdex.model import MAX_SIGNATURE_BYTES
from sdex.node.core import Node
from sdex.order import Order, SignedOrder, sign_order
from tests.conftest import Chain, chain_of
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_chain_outage import OwnChain
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, E6, E18, ask

OWNER, OTHER = 5, 6
PEER = "http://127.0.0.1:9"


def wallet(c: Chain, kind: str = "ERC1271Wallet", fund: bool = True, owner: int = OWNER) -> str:
    """A contract wallet owned by ``owner``'s key, holding WETH approved to the Exchange."""
    w = deploy(c.sender(0), kind, c.address(owner))
    if fund:
        c.weth.transfer(c.sender(OWNER), w, 10 * E18)
        approve = (
            load_abi(kind).fn("approve").encode(c.weth.address, c.deployment.exchange, 2**256 - 1)
        )
        c.sender(owner).transact(w, approve)
    return w


def wallet_order(c: Chain, w: str, key: int = OWNER, **kw: object) -> SignedOrder:
    order: Order = replace(ask(c, ALICE, E18 // 10, 300 * E6, **kw), maker=w)
    return sign_order(order, c.domain, c.keys[key])  # the owner signs the order hash


async def post_cached(node: Node, api: Api, signed: SignedOrder) -> None:
    """Post a contract-signed order once the mirror is ready; its verdict is then cached."""
    await wait_for(node.mirror_ready)
    assert (await api.post_taken(signed))[0] == 201
    assert node.mirror.sigs.verdict(signed) is True


async def removed(api: Api, signed: SignedOrder, timeout: float = 15.0) -> None:
    """Wait until the node shows ``signed`` removed."""

    async def shown() -> bool:
        return await api.status(signed) == "removed"

    await wait_for(shown, timeout=timeout)


def chain_calls(node: Node) -> int:
    """Calls that judge signatures or read state (not the watcher's block polling)."""
    calls = node.rpc.calls + node.contract_rpc.calls  # (verdicts: a client of their own)
    return calls["eth_call"] + calls["eth_getCode"]


def test_cache_bounds_expiry_code_and_clear(chain: Chain) -> None:
    """The cache alone: caps (valid and invalid apart), expiry, code change, clear."""
    c = chain
    w = wallet(c, fund=False)
    orders = [wallet_order(c, w) for _ in range(6)]
    cache = SigCache(ttl=10, max_valid=3, max_invalid=2, max_makers=4)
    for i, so in enumerate(orders[:4]):
        cache.put(so, True, b"code-a", block=100 + i)
    assert len(cache.valid) == 3 and cache.verdict(orders[0]) is None  # oldest went first
    assert all(cache.verdict(so) is True for so in orders[1:4])
    for so in orders[4:6]:
        cache.put(so, False, None, block=104)
    cache.put(replace(orders[0], signature=b"\x01" * 70), False, None, block=104)
    assert len(cache.invalid) == 2 and len(cache.valid) == 3  # invalid ones never evict valid
    assert cache.tracks(w) and cache.makers() == [w]
    assert cache.expire(112) == {orders[1].hash, orders[2].hash}  # read at 101, 102: old
    assert cache.verdict(orders[3]) is True and cache.take_rejudge() == (
        set(),
        {orders[1].hash, orders[2].hash},
    )
    assert cache.apply_codes({w: b"code-a"}) == set()
    assert cache.apply_codes({w: b"code-b"}) == {w}  # new code: its verdicts are void
    assert cache.verdict(orders[3]) is None and not cache.tracks(w)
    assert cache.take_rejudge() == ({w}, {orders[3].hash})
    cache.put(orders[3], True, b"code-b", block=120)
    cache.put(orders[4], True, None, block=120)  # valid but no code: nothing to track it by
    assert cache.verdict(orders[4]) is None
    cache.clear()
    assert len(cache) == 0 and cache.take_rejudge() == ({w}, {orders[3].hash})


async def test_second_copy_costs_no_chain_call(chain: Chain, tmp_path: Path) -> None:
    """The first copy of a contract-signed order costs one getOrderStates and, valid, the
    wallet's code;
    later copies, while the order is not held here (refused for funds), cost none; once
    funds arrive (a block the mirror follows), a copy is accepted with no call either."""
    c = chain
    w = wallet(c, fund=False)
    signed = wallet_order(c, w)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        before = chain_calls(node)
        code, body = await api.post_order(signed)
        assert code == 400 and "fund" in str(body).lower(), body
        assert chain_calls(node) - before == 2  # eth_call, then eth_getCode (a valid verdict)
        assert node.contract_sigs.batches == 1
        before = chain_calls(node)
        for _ in range(5):
            code, body = await api.post_order(signed)
            assert code == 400 and "fund" in str(body).lower(), body
            assert await node.submit_from_peer(signed.to_json(), PEER) == "rejected"
        assert chain_calls(node) - before == 0
        # the wallet is funded: the mirror follows the transfer and the approval
        c.weth.transfer(c.sender(OWNER), w, 10 * E18)
        approve = load_abi("ERC1271Wallet").fn("approve")
        c.sender(OWNER).transact(w, approve.encode(c.weth.address, c.exchange.address, 2**256 - 1))
        await synced(node, c)
        assert node.contract_sigs.code_batches >= 1  # the wallet's code, read at new blocks
        before = chain_calls(node)
        assert await node.submit_from_peer(signed.to_json(), PEER) == "accepted"
        assert chain_calls(node) - before == 0
        assert await api.status(signed) == "open"


async def test_bad_signatures_cost_one_call_each(chain: Chain, tmp_path: Path) -> None:
    """A peer re-sending orders signed by the wrong key: one call for all of them (they
    arrived together) and the wallet's code (an invalid verdict's too: review78), and no
    call for every copy after that; each copy is ``rejected``, the wallet's own answer (no
    peer's bad faith: it may change the next block). An EOA maker's signature that does not
    recover to it is ``forged``: no wallet could take it."""
    c = chain
    w = wallet(c)
    bad = [wallet_order(c, w, key=OTHER) for _ in range(8)]
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        before, batches = chain_calls(node), node.contract_sigs.batches
        verdicts = await asyncio.gather(*(node.submit_from_peer(so.to_json(), PEER) for so in bad))
        assert verdicts == ["rejected"] * 8
        assert node.contract_sigs.batches - batches == 1  # one window: one getOrderStates
        assert chain_calls(node) - before == 2  # (and the wallet's code, at that block)
        before = chain_calls(node)
        for _ in range(3):
            for so in bad:
                assert await node.submit_from_peer(so.to_json(), PEER) == "rejected"
        assert chain_calls(node) - before == 0
        assert len(node.mirror.sigs.invalid) == 8 and not node.mirror.sigs.tracks(w)
        _, health = await api.get("/health")
        sigs = health["chainMirror"]["mirror"]["eip1271"]
        assert sigs["invalid"] == 8 and sigs["hits"] >= 24 and sigs["trackedMakers"] == 0
        eoa = sign_order(ask(c, ALICE, E18 // 10, 301 * E6), c.domain, c.keys[OTHER])
        # (no code at its maker: charged once it still has none later, signer78)
        assert await node.submit_from_peer(eoa.to_json(), PEER) == "rejected"
        assert len(node.unproven) == 1
        code, body = await api.post_order(bad[0])  # (a wallet is told whose answer it is)
        assert code == 400 and body["detail"] == {"signer": "contract"}, body


async def test_code_change_rejudges_booked_orders(chain: Chain, tmp_path: Path) -> None:
    """hardhat_setCode gives the wallet another owner (the owner is in its code): at the
    next block the node sees the code hash change, asks the chain again, and removes the
    order the old owner signed; the new owner's orders are accepted."""
    c = chain
    w = wallet(c)
    signed = wallet_order(c, w)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        code, body = await api.post_taken(signed)
        assert code == 201, body
        other = deploy(c.sender(0), "ERC1271Wallet", c.address(OTHER))
        await synced(node, c)
        assert await api.status(signed) == "open"  # a block with no code change: kept
        new_code = c.rpc.call("eth_getCode", other, "latest")
        c.rpc.call("hardhat_setCode", w, new_code)
        c.rpc.call("evm_mine")
        await synced(node, c)
        await wait_for(lambda: node.mirror.sigs.code_changes == 1)
        assert await api.status(signed) == "removed"
        assert node.mirror.sigs.verdict(signed) is False
        assert await node.submit_from_peer(signed.to_json(), PEER) == "known"  # held, closed
        # the new owner's signature is good now, judged by the chain with the new code
        fresh = wallet_order(c, w, key=OTHER)
        code, body = await api.post_taken(fresh)
        assert code == 201, body


async def test_signer_rotated_in_storage_is_rechecked_after_ttl(
    chain: Chain, tmp_path: Path
) -> None:
    """setOwner changes the wallet's storage, not its code: the cached verdict holds until
    it is ``ttl`` blocks old, then the chain judges the booked order again (removed)."""
    c = chain
    w = wallet(c, "ERC1271OwnedWallet")
    signed = wallet_order(c, w)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        node.mirror.sigs.ttl = 3
        await synced(node, c)  # the verdict is read at the chain's head
        code, body = await api.post_taken(signed)
        assert code == 201, body
        read_at = node.mirror.sigs.valid[(w, signed.hash, signed.signature)]
        set_owner = load_abi("ERC1271OwnedWallet").fn("setOwner").encode(c.address(OTHER))
        c.sender(OWNER).transact(w, set_owner)
        await synced(node, c)
        head = node.mirror.head
        assert head is not None and head.number < read_at + 3
        assert await api.status(signed) == "open"  # storage moved unseen: within the rule
        while head.number < read_at + 3:
            c.rpc.call("evm_mine")
            await synced(node, c)
            head = node.mirror.head
            assert head is not None
        await wait_for(lambda: node.mirror.sigs.expired >= 1)

        await removed(api, signed)


async def test_reorg_clears_the_cache(chain: Chain, tmp_path: Path) -> None:
    """A reorg clears every verdict; the booked contract-signed order is judged again by
    the chain on the new branch (still valid there: it stays open)."""
    c = chain
    w = wallet(c)
    signed = wallet_order(c, w)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await post_cached(node, api, signed)
        verdicts, clears = node.contract_sigs.verdicts, node.mirror.sigs.clears
        snap = c.rpc.call("evm_snapshot")
        c.weth.transfer(c.sender(OWNER), c.address(ALICE), E18)
        await synced(node, c)
        revert(c, snap)
        for _ in range(3):
            c.rpc.call("evm_mine")
        await synced(node, c)
        assert node.watcher.reorgs >= 1
        assert node.mirror.sigs.clears > clears
        await wait_for(lambda: node.contract_sigs.verdicts > verdicts)  # asked again
        assert node.mirror.sigs.verdict(signed) is True
        assert await api.status(signed) == "open"


async def test_chain_reset_clears_the_cache(tmp_path: Path, engine: Engine) -> None:
    """A chain reset (the chain restarted on the same port, everything deployed again) clears
    every verdict: the wallet at the same address has another owner on the new chain, so the
    order the old chain judged valid is judged again and removed."""
    net = OwnChain("reset-1271", engine)
    try:
        c = chain_of(net.rpc, net.deploy())
        w = wallet(c)
        signed = wallet_order(c, w)
        async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
            await post_cached(node, api, signed)
            clears = node.mirror.sigs.clears
            net.stop()
            c2 = chain_of(net.start_again(), net.deploy())
            assert wallet(c2, owner=OTHER) == w  # same address, another owner
            await wait_for(lambda: node.watcher.resets == 1, timeout=30)
            assert node.mirror.sigs.clears > clears

            await removed(api, signed, timeout=30)
            assert node.mirror.sigs.verdict(signed) is not True
    finally:
        net.stop()


async def test_restart_tracks_stored_contract_orders(chain: Chain, tmp_path: Path) -> None:
    """At restart the stored contract-signed orders are judged through the EIP-1271
    batcher: their verdicts are cached and their maker tracked, so blocks keep watching
    the wallet's code (not judging its orders valid by default)."""
    c = chain
    w = wallet(c)
    signed = wallet_order(c, w)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_taken(signed))[0] == 201
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        assert node.mirror.sigs.verdict(signed) is True and node.mirror.sigs.tracks(w)
        assert await api.status(signed) == "open"
        c.rpc.call("hardhat_setCode", w, "0x00")  # the wallet now rejects every signature
        c.rpc.call("evm_mine")
        await synced(node, c)

        await removed(api, signed)


ALWAYS_VALID = "0x631626ba7e60e01b60005260206000f3"
"""Runtime code answering every call with ``isValidSignature``'s magic value (EIP-1271)."""


async def test_a_stored_order_signed_over_the_bound_rests_but_is_never_offered(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding (bounds9): peers refuse an order whose signature is over
    ``MAX_SIGNATURE_BYTES`` as forged, but a row stored before the bound (an older
    version's) was read back at a restart, judged by the chain, booked and offered to peers
    (digest, hashes, snapshot pages): every anti-entropy round of every upgraded peer cost
    this honest node, till it was banned (and, rejected rather than forged since, a fetch
    each round). It rests and trades here; peers never see it."""
    c = chain
    w = wallet(c)
    c.rpc.call("hardhat_setCode", w, ALWAYS_VALID)  # (funds and allowance: the token's)
    long = replace(wallet_order(c, w), signature=b"\x01" * (MAX_SIGNATURE_BYTES + 1))
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):  # the row as an older version stored it
        node.store.add_order(long, node.store.next_seq(), "open", "api")
    async with running_node(cfg) as (node, api):
        await wait_for(node.mirror_ready)
        assert await api.status(long) == "open"  # kept, and in the book
        assert long.hash in node.book
        assert node.hashes_in(range(256)) == []
        assert node.snapshot_page(0, 100, ANSWER_ROOM) == ([], 0)
        assert node.open_orders_by_hash([long.hash_hex], ANSWER_ROOM) == []
