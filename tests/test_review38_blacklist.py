"""review38: an EOA that a listed token refuses (USDC's and USDT's blacklist) got the honest
contract wallet facing it blamed for every failed settlement.

Bob (an EOA) bids with a token that blocks him: his balance and allowance read as usual, a
transfer of his reverts. Every settlement against an honest contract wallet's ask failed,
and nothing read explained it (funds there, Bob's ECDSA signature fine, the wallet's valid
alone): the evidence path's last rule blamed the contract-signed side. Its second blame
marked the wallet's maker hostile and removed its ask; each later order of that wallet went
at its first failure. Now the contract side is blamed only if the match settles with the
wallet's code replaced by one that answers every signature valid (``eth_call`` with a state
override): here it still reverts, so the wallet is not blamed (blame39: the token's
refusal of Bob's transfer, probed alone, blames his buy: tests/test_blame39_blocked_eoa.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import deploy, load_abi
from sdex.deployment import TokenInfo
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.sandwich import blacklist_token, block, listing, node_on, pair_decided
from tests.test_attack30_gas_gated_wallet import OPERATOR, OWNER, gas_gated_wallet
from tests.test_node import ALICE, BOB, E6, E18
from tests.test_review32_untracked_contract_maker import ALWAYS


async def test_a_blocked_eoa_does_not_get_the_contract_maker_blamed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    blt = blacklist_token(c)
    wallet = gas_gated_wallet(c, gate=ALWAYS)  # (honest: valid at any gas)
    honest = sign_order(
        replace(c.order(ALICE, c.weth, E18 // 10, blt, 250 * E6), maker=wallet),
        c.domain,
        c.keys[OWNER],
    )
    buy = c.sign(c.order(BOB, blt, 260 * E6, c.weth, E18 // 10))
    async with node_on(
        c, tmp_path, tokens=listing({"WETH": None, "BLT": TokenInfo(blt.address, 6)})
    ) as (node, api):
        assert (await api.post_taken(honest))[0] == 201
        block(c, blt, BOB)
        assert (await api.post_taken(buy))[0] == 201
        await pair_decided(node, api, honest, buy)
        meta = (await api.get(f"/v1/orders/{honest.hash_hex}"))[1]["metaData"]
        assert meta["status"] == "open", meta  # before: removed, its maker marked hostile
        assert await api.status(buy) == "removed"  # (blame39: the token refuses Bob)
        assert not node.blamed_makers.hostile(wallet)


async def test_a_wallet_that_refuses_the_operator_alone_is_still_blamed(
    chain: Chain, tmp_path: Path
) -> None:
    """The rule the stub check narrows still holds: a wallet valid to reads and alone but
    invalid inside the operator's settlements (by ``tx.origin``) is blamed as the
    contract-signed side (its match settles with its code stubbed), and removed; the
    EOA's buy stays."""
    c = chain
    w = deploy(c.sender(0), "ERC1271OriginWallet", c.address(OWNER), c.address(OPERATOR))
    c.weth.transfer(c.sender(OWNER), w, E18)
    approve = load_abi("ERC1271OriginWallet").fn("approve")
    c.sender(OWNER).transact(w, approve.encode(c.weth.address, c.exchange.address, 2**256 - 1))
    hostile = sign_order(
        replace(c.order(ALICE, c.weth, E18 // 10, c.usdc, 250 * E6), maker=w),
        c.domain,
        c.keys[OWNER],
    )
    buy = c.sign(c.order(BOB, c.usdc, 260 * E6, c.weth, E18 // 10))
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await wait_for(node.mirror_ready)
        assert (await api.post_taken(buy))[0] == 201  # (resting: the pre-flight's check of
        assert (await api.post_taken(hostile))[0] == 201  # the incoming names no order)

        async def decided() -> bool:
            return "removed" in (await api.status(buy), await api.status(hostile))

        await wait_for(decided, timeout=60.0)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30.0)
        assert await api.status(hostile) == "removed"
        assert await api.status(buy) == "open"
        assert node.blamed_makers.score(w) >= 1.0
