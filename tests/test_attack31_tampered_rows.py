"""attack31: a node restarted on a SQLite file edited by another hand checks every row it
loads. A row that is not as the node writes it is refused alone (logged, closed), and
nothing it holds reaches a client's answer or a later write."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from sdex.keccak import keccak
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import reorg, settled
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def _strict(text: str) -> object:
    """``text`` as standard JSON: ``Infinity``/``NaN`` (or ``inf``) refused, as a browser's
    ``JSON.parse`` or any strict client does."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def _text(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


async def _a_filled_pair(c: Chain, api: Api) -> tuple[SignedOrder, SignedOrder]:
    """ALICE's ask and BOB's bid for 1 WETH at 3,000 posted, waited for until both are
    ``filled`` (settled): (ask, bid)."""
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    for s in (resting, incoming):
        code, body = await api.post_order(s)
        assert code == 201, body

    async def both_filled() -> bool:
        return {await api.status(resting), await api.status(incoming)} == {"filled"}

    await wait_for(both_filled)
    return resting, incoming


async def test_a_stored_order_created_at_infinity_never_reaches_an_answer(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    tampered = c.sign(ask(c, ALICE, E18, 3100 * E6))
    kept = c.sign(ask(c, BOB, E18, 3200 * E6))
    async with running_node(cfg) as (_, api):
        for s in (tampered, kept):
            code, body = await api.post_order(s)
            assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET created_at=? WHERE hash=?", (float("inf"), tampered.hash_hex))
    async with running_node(cfg) as (node, api):
        pair = f"baseToken={c.weth.address}&quoteToken={c.usdc.address}"
        for path in (
            f"/v1/orderbook?{pair}",
            "/v1/orders",
            f"/v1/orders/{tampered.hash_hex}",
            f"/v1/orders/{kept.hash_hex}",
        ):
            code, text = await _text(api.session, api.base + path)
            assert code in (200, 503), (path, code, text[:300])  # (503: damaged, bounds84)
            _strict(text)  # (before: "createdAt": inf, and every page of the book unreadable)
        assert await api.status(kept) == "open"
        assert tampered.hash not in node.book  # (refused at load: not booked)


async def test_a_stored_order_seq_past_the_bound_leaves_new_orders_storable(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    tampered = c.sign(ask(c, ALICE, E18, 3100 * E6))
    async with running_node(cfg) as (_, api):
        code, body = await api.post_order(tampered)
        assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET seq=? WHERE hash=?", (2**63 - 1, tampered.hash_hex))
    later = [c.sign(ask(c, BOB, E18, (3200 + i) * E6)) for i in range(3)]
    async with running_node(cfg) as (_, api):
        for s in later:
            code, body = await api.post_order(s)
            assert code == 201, body
    with sqlite3.connect(cfg.db) as db:
        stored = {h for (h,) in db.execute("SELECT hash FROM orders")}
    # acknowledged, so stored (before: "Python int too large to convert to SQLite INTEGER"
    # for each, the seq after the tampered one's being past SQLite's integers)
    assert {s.hash_hex for s in later} <= stored


_FILL_EDITS = [  # (column, value): each a value this node never writes
    ("maker_filled", "abc"),
    ("taker_filled", "9" * 300),
    ("fee", "-1"),
    ("block_number", "xyz"),
    ("log_index", -3),
    ("order_hash", "0xZZ"),
    ("maker", "not an address"),
    ("tx_hash", "0x12"),
    ("ours", 7),
]


@pytest.mark.parametrize(("column", "value"), _FILL_EDITS, ids=[c for c, _ in _FILL_EDITS])
async def test_a_stored_fill_not_as_written_is_left_out_of_the_fills(
    chain: Chain, tmp_path: Path, column: str, value: object
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (_, api):
        for s in (resting, incoming):
            code, body = await api.post_order(s)
            assert code == 201, body

        async def listed() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(listed)
        _, fills = await api.get(f"/v1/fills?orderHash={resting.hash_hex}")
        (as_written,) = fills["records"]
    with sqlite3.connect(cfg.db) as db:
        db.execute(f"UPDATE fills SET {column}=? WHERE order_hash=?", (value, resting.hash_hex))
    async with running_node(cfg) as (_, api):
        for path in ("/v1/fills", f"/v1/fills?orderHash={incoming.hash_hex}"):
            code, text = await _text(api.session, api.base + path)
            assert code == 200, (path, code, text[:300])  # (before: 500, every page with it)
            page = _strict(text)
            assert isinstance(page, dict)
            for f in page["records"]:  # only fills as the node writes them are listed
                if f["orderHash"] == resting.hash_hex:
                    # (a tampered key (tx_hash, log_index) is another row: a restart that
                    # replays the fill's block from the chain writes it again, as it was)
                    assert column in ("tx_hash", "log_index") and f == as_written, f
                    continue
                assert f["orderHash"] == incoming.hash_hex, f
                assert f["makerAmountFilled"] == str(3000 * E6)
        assert await api.status(incoming) == "filled"


async def test_a_reorg_of_a_block_whose_fill_row_was_edited_is_applied(
    chain: Chain, tmp_path: Path
) -> None:
    """The fill a reorg undoes is read back to be undone: one row not as written is left
    out of what is undone, and the block's removal goes on (before: the removal's job raised
    on the row, the watcher never reached the new head, the edited row stayed)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        for s in (resting, incoming):
            code, body = await api.post_order(s)
            assert code == 201, body
        await settled(c, node, api, resting)

        async def listed() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(listed)
        with sqlite3.connect(cfg.db) as db:
            db.execute(
                "UPDATE fills SET maker_filled='abc' WHERE order_hash=?", (resting.hash_hex,)
            )
        reorg(c, snap)  # (the settlement undone: the node sends it again, mined again)

        def rewritten() -> bool:  # (the edited row deleted; the settlement, sent again,
            with sqlite3.connect(cfg.db) as db:  # mined again: its fills written anew)
                rows = db.execute("SELECT maker_filled FROM fills").fetchall()
            return sorted(rows) == [(str(E18),), (str(3000 * E6),)]

        await wait_for(rewritten)
        assert node.watcher.reorgs >= 1
        _, fills = await api.get("/v1/fills")
        assert {f["orderHash"] for f in fills["records"]} == {resting.hash_hex, incoming.hash_hex}


@pytest.mark.parametrize("where", ["meta", "row"])
async def test_a_stored_fill_seq_past_the_bound_leaves_new_fills_storable(
    chain: Chain, tmp_path: Path, where: str
) -> None:
    """The fills' counter (``meta`` ``fills_seq``, or a row's ``seq``) edited to SQLite's
    largest integer: the next fill's seq was past it, so no fill could be written again
    ("Python int too large to convert to SQLite INTEGER"), the block never applied."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    first = [c.sign(ask(c, ALICE, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))]
    later = [c.sign(ask(c, ALICE, E18, 3100 * E6)), c.sign(bid(c, BOB, E18, 3100 * E6))]

    async def fills_listed(api: Api, n: int) -> None:
        async def listed() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == n

        await wait_for(listed)

    async with running_node(cfg) as (_, api):
        for s in first:
            code, body = await api.post_order(s)
            assert code == 201, body
        await fills_listed(api, 2)
    with sqlite3.connect(cfg.db) as db:
        if where == "meta":
            db.execute("UPDATE meta SET value=? WHERE key='fills_seq'", (str(2**63 - 1),))
        else:
            db.execute("UPDATE fills SET seq=? WHERE order_hash=?", (2**63 - 1, first[0].hash_hex))
    async with running_node(cfg) as (_, api):
        for s in later:
            code, body = await api.post_order(s)
            assert code == 201, body
        await fills_listed(api, 4)


@pytest.mark.parametrize("filled", ["-5", "9" * 100, "1e18", " 7"])
async def test_a_closed_stored_order_filled_not_as_written_is_not_listed(
    chain: Chain, tmp_path: Path, filled: str
) -> None:
    """A closed order is listed from its row (``sdex.node.pages.stored_text``): its filled
    amount a uint within the order's makerAmount, else the row is left out (before: "-5" or
    100 digits were listed as its filledMakerAmount, a remaining past its makerAmount)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (_, api):
        resting, incoming = await _a_filled_pair(c, api)
    with sqlite3.connect(cfg.db) as db:
        db.execute("UPDATE orders SET filled=? WHERE hash=?", (filled, resting.hash_hex))
    async with running_node(cfg) as (_, api):
        code, text = await _text(api.session, api.base + "/v1/orders")
        assert code == 200, text[:300]
        page = _strict(text)
        assert isinstance(page, dict)
        listed = {r["metaData"]["orderHash"]: r["metaData"] for r in page["records"]}
        assert listed[incoming.hash_hex]["filledMakerAmount"] == str(3000 * E6)
        assert resting.hash_hex not in listed, listed.get(resting.hash_hex)


_RAW = "0x" + "ab" * 120
"""A raw transaction's text (not one the chain takes) and its hash, as the node writes them."""
_RAW_HASH = "0x" + keccak(bytes.fromhex(_RAW[2:])).hex()
_PAIRS = json.dumps([["0x" + "11" * 32, "0x" + "22" * 32]])
_SETTLEMENT_EDITS = {  # (tx_hash, nonce, raw_tx, pairs, status): none as the node writes
    "sent, junk": ("junk", "x", "zz", "{{", "sent"),
    "sent, else as written": (_RAW_HASH, 5, _RAW, _PAIRS, "sent"),
    "pending, its hash not a hash": ("not a hash", 5, _RAW, _PAIRS, "pending"),
    "pending, its hash not its transaction's": ("0x" + "12" * 32, 5, _RAW, _PAIRS, "pending"),
    "pending, its nonce text": (_RAW_HASH, "abc", _RAW, _PAIRS, "pending"),
    "pending, its raw transaction not hex": (_RAW_HASH, 5, "0xzz", _PAIRS, "pending"),
    "pending, its pairs not pairs": (_RAW_HASH, 5, _RAW, '[["0x11"]]', "pending"),
    "a status of 300 characters": (_RAW_HASH, 5, _RAW, _PAIRS, "s" * 300),
}


@pytest.mark.parametrize("edit", sorted(_SETTLEMENT_EDITS))
async def test_a_settlement_row_not_as_written_is_refused_at_load_and_logged_once(
    chain: Chain, tmp_path: Path, edit: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``settlements`` row the node never writes (a status not its own, or a pending
    row whose hash, nonce, raw transaction or pairs are not as written, its hash not its
    transaction's): at the start that reads them, logged and marked ``refused`` (never read
    again, never logged again), the node serving and settling. Before: a row edited to
    ``sent`` stayed so, unlogged, for ever; a pending row's hash not a hash went to the
    chain (``eth_getTransactionReceipt``), whose refusal stopped the node's start."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass
    with sqlite3.connect(cfg.db) as db:
        db.execute("INSERT INTO settlements VALUES (?,?,?,?,?,0,0)", _SETTLEMENT_EDITS[edit])
    tx_hash = str(_SETTLEMENT_EDITS[edit][0])
    caplog.set_level("WARNING", logger="sdex.store")
    async with running_node(cfg) as (_, api):
        code, health = await api.get("/health")
        assert code == 200, health
        refused = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1 and tx_hash[:40] in refused[0].getMessage(), caplog.text
        await _a_filled_pair(c, api)  # (the settler is not wedged by the row)
    with sqlite3.connect(cfg.db) as db:
        (status,) = db.execute(
            "SELECT status FROM settlements WHERE tx_hash=?", (tx_hash,)
        ).fetchone()
    assert status == "refused"
    caplog.clear()
    async with running_node(cfg) as (_, api):
        code, _ = await api.get("/health")
        assert code == 200
    assert not [r for r in caplog.records if tx_hash[:40] in r.getMessage()], caplog.text


async def test_a_closed_stored_order_under_another_orders_hash_is_not_listed(
    chain: Chain, tmp_path: Path
) -> None:
    """A closed order is listed from its row (``sdex.node.pages.stored_text``): the row's
    hash must be its order's (the JSON's EIP-712 hash). Before, a row given another order's
    JSON (and taker) was listed as that order under the row's hash: a client shown an order
    the node never held under that hash (``GET /v1/orders/{hash}`` already refused it)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    other = c.sign(ask(c, ALICE, E18, 3500 * E6))  # (signed, never sent)
    async with running_node(cfg) as (_, api):
        resting, incoming = await _a_filled_pair(c, api)
    with sqlite3.connect(cfg.db) as db:
        db.execute(
            "UPDATE orders SET order_json=? WHERE hash=?",
            (json.dumps(other.to_json()), resting.hash_hex),
        )
    async with running_node(cfg) as (_, api):
        for path in ("/v1/orders", f"/v1/orders?makerAddress={c.address(ALICE)}"):
            code, text = await _text(api.session, api.base + path)
            assert code == 200, text[:300]
            page = _strict(text)
            assert isinstance(page, dict)
            listed = {r["metaData"]["orderHash"]: r["order"] for r in page["records"]}
            assert listed.get(incoming.hash_hex) == incoming.to_json(), path
            assert resting.hash_hex not in listed, (path, listed.get(resting.hash_hex))
        code, _ = await api.get(f"/v1/orders/{resting.hash_hex}")
        assert code == 503  # (its row damaged: named, bounds84; was 404)
