"""A node key file that holds no key is refused in one line naming the file and what is
wrong (user28's trial: an address said only "must hold 32 bytes of hex", a zero key the
curve library's "Secret scalar must be greater than 0", binary junk a UTF-8 decode error,
none naming the file). A good file, with ``0x`` or not and a trailing newline, loads; an
absent one is created (mode 0600) and loads the same key again."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sdex.gossip import NodeKey
from sdex.gossip.identity import KEY_FILE_MAX

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

BAD = {
    "an address": (b"0x" + b"ab" * 20 + b"\n", "it holds an address"),
    "a zero key": (b"0x" + b"00" * 32, "holds 0 or a number past the curve's order"),
    "past the order": (b"ff" * 32, "holds 0 or a number past the curve's order"),
    "binary junk": (bytes(range(256)), "must hold a private key: 64 hex digits"),
    "31 bytes": (b"ab" * 31, "must hold a private key: 64 hex digits"),
    "not hex": (b"zz" * 32, "must hold a private key: 64 hex digits"),
    "empty": (b"", "must hold a private key: 64 hex digits"),
    "huge": (KEY.encode() + b" " * (KEY_FILE_MAX * 4), f"it is over {KEY_FILE_MAX} bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_file_that_holds_no_key_is_named_with_what_is_wrong(tmp_path: Path, case: str) -> None:
    content, said = BAD[case]
    path = tmp_path / "node.key"
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        NodeKey.load_or_create(path)
    assert str(path) in str(e.value) and said in str(e.value), e.value
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", [KEY, "0x" + KEY + "\n", "  0x" + KEY.upper() + " \n"])
def test_a_key_file_loads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "node.key"
    path.write_text(text)
    assert NodeKey.load_or_create(path).private_key.hex() == KEY


def test_an_absent_file_is_created_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    made = NodeKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert NodeKey.load_or_create(path).node_id == made.node_id
