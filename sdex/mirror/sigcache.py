"""EIP-1271 verdicts: the chain's word on contract makers' signatures, kept in the mirror.

An ECDSA signature is checked off-chain, once. A contract maker's (EIP-1271) signature can
only be judged by the chain (``isValidSignature``, through the Exchange's
``getOrderStates``), and its verdict may change later: the wallet's code may change
(``SELFDESTRUCT`` + ``CREATE2``, ``hardhat_setCode``, an EIP-7702 delegation), and so may
its storage (an owner or signer rotated, a proxy pointed elsewhere). This cache keeps the
verdicts, keyed by (maker, order hash, signature bytes), under these rules:

- **code**: the code hash of every maker with a cached valid verdict is kept; on every new
  block the node reads the code of all of them in one JSON-RPC batch (``eth_getCode`` at
  that block, ``sdex.ingest.verify``); a maker whose code hash changed loses its verdicts,
  and the orders of it that the node holds are judged again by the chain.
- **storage**: isValidSignature may read storage, which no event need announce, so a
  verdict expires ``ttl`` blocks after it was read (default ``VERDICT_BLOCKS``): the
  orders it covered are judged again then. Until then a signer rotated in storage is not
  seen; settlement is never at risk (the Exchange checks the signature again when it
  settles), only the book may show such an order for up to ``ttl`` blocks.
- **reorgs and resets**: the mirror's reorg and reset handling clears the cache
  (``clear``); makers it tracked are judged again from the new branch.
- **negatives** are cached too (same key), so a peer re-sending an order with a bad
  contract signature costs one chain call per (maker, hash, signature) and block, not one
  per copy; but only until the next block (``INVALID_BLOCKS``): a negative may be read
  where the maker had no code yet (a Safe whose address was used before its deployment),
  and no event tells when the code arrives. A negative read where the maker has code is
  its contract's own answer (``by_contract``): a wallet's answer may change from one block
  to the next (an owner rotated, or a view that reads the block), so a peer that passed the
  order on may have seen it valid, and is not blamed for it (review78).
- **reads ahead of the head**: verdicts are read at the chain's latest block, which may be
  past the head the node follows; a code hash read at an older head than a maker's newest
  valid verdict does not void it (the wallet may have been deployed in between).

Bounded: ``max_valid`` valid and ``max_invalid`` invalid verdicts (separate, so a flood of
bad signatures cannot push out good ones), ``max_makers`` tracked makers (the per-block
code batch has at most that many calls). The oldest verdict goes first (it is the next to
expire anyway); the least recently used maker goes first, with its verdicts: its orders are
judged again when the node next needs a verdict for them.
"""

from __future__ import annotations

from collections import OrderedDict

from sdex.order import SignedOrder

VERDICT_BLOCKS = 64
"""Blocks a verdict is trusted (isValidSignature may depend on storage)."""
INVALID_BLOCKS = 1
"""Blocks a negative verdict is trusted: the block it was read at (the maker may be deployed
in the next one)."""
MAX_VALID = 8192
MAX_INVALID = 4096
MAX_MAKERS = 256
"""Contract makers whose code is read on every block (one JSON-RPC batch)."""

Key = tuple[str, bytes, bytes]
"""(maker, order hash, signature bytes)."""


def key_of(signed: SignedOrder) -> Key:
    return (signed.order.maker, signed.hash, signed.signature)


class SigCache:
    """Bounded EIP-1271 verdicts with code-hash tracking and block expiry."""

    def __init__(
        self,
        ttl: int = VERDICT_BLOCKS,
        invalid_ttl: int = INVALID_BLOCKS,
        max_valid: int = MAX_VALID,
        max_invalid: int = MAX_INVALID,
        max_makers: int = MAX_MAKERS,
    ) -> None:
        self.ttl = ttl
        self.invalid_ttl = invalid_ttl
        self.max_valid = max_valid
        self.max_invalid = max_invalid
        self.max_makers = max_makers
        self.valid: OrderedDict[Key, int] = OrderedDict()
        """Valid verdicts -> the block they were read at, oldest first."""
        self.invalid: OrderedDict[Key, int] = OrderedDict()
        self.contract_said: set[Key] = set()
        """The invalid verdicts read where the maker had code (``by_contract``)."""
        self.code: OrderedDict[str, bytes] = OrderedDict()
        """Tracked makers -> keccak of their code, least recently used first."""
        self._keys: dict[str, set[Key]] = {}
        """A tracked maker's valid verdicts."""
        self._rejudge_makers: set[str] = set()
        self._rejudge_orders: set[bytes] = set()
        self.hits = 0
        self.misses = 0
        self.code_changes = 0
        self.expired = 0
        self.clears = 0

    def __len__(self) -> int:
        return len(self.valid) + len(self.invalid)

    # -- reading ---------------------------------------------------------------------------

    def tracks(self, maker: str) -> bool:
        """Is ``maker`` a contract maker with valid verdicts here (code read every block)?"""
        return maker in self.code

    def verdict(self, signed: SignedOrder) -> bool | None:
        """The cached verdict on ``signed``'s signature, or None (ask the chain)."""
        k = key_of(signed)
        if k in self.valid:
            self.hits += 1
            self.code.move_to_end(k[0])
            return True
        if k in self.invalid:
            self.hits += 1
            return False
        self.misses += 1
        return None

    def by_contract(self, signed: SignedOrder) -> bool:
        """Is the cached invalid verdict on ``signed`` its maker's contract's answer (the
        maker had code where it was read), not a signature no wallet could take?"""
        return key_of(signed) in self.contract_said

    def read_at(self, signed: SignedOrder) -> int | None:
        """The block the cached invalid verdict on ``signed`` was read at (None: none)."""
        return self.invalid.get(key_of(signed))

    def makers(self) -> list[str]:
        return list(self.code)

    def stats(self) -> dict[str, int]:
        """For ``/health``."""
        return {
            "valid": len(self.valid),
            "invalid": len(self.invalid),
            "trackedMakers": len(self.code),
            "hits": self.hits,
            "misses": self.misses,
            "codeChanges": self.code_changes,
            "expired": self.expired,
            "clears": self.clears,
        }

    # -- writing ---------------------------------------------------------------------------

    def put(self, signed: SignedOrder, valid: bool, code_hash: bytes | None, block: int) -> None:
        """The chain's verdict on ``signed`` read at ``block``; ``code_hash``: the maker's
        code hash at that block (None: no code, or not read; a valid verdict is then not
        kept, as nothing would tell when it changes; an invalid one with code is its
        contract's answer: ``by_contract``)."""
        k = key_of(signed)
        self._drop(k)
        if not valid:
            self.invalid[k] = block
            if code_hash is not None:
                self.contract_said.add(k)
            while len(self.invalid) > self.max_invalid:
                self.contract_said.discard(self.invalid.popitem(last=False)[0])
            return
        if code_hash is None:
            return
        maker = k[0]
        if self.code.get(maker, code_hash) != code_hash:
            self._forget_maker(maker, rejudge=True)  # other code now: old verdicts are void
        self.code[maker] = code_hash
        self.code.move_to_end(maker)
        self.valid[k] = block
        self._keys.setdefault(maker, set()).add(k)
        while len(self.code) > self.max_makers:
            self._forget_maker(next(iter(self.code)), rejudge=False)
        while len(self.valid) > self.max_valid:
            old, _ = self.valid.popitem(last=False)
            self._unindex(old)

    def apply_codes(self, codes: dict[str, bytes | None], head: int | None = None) -> set[str]:
        """Code hashes read at a new block ``head`` (None: no code). Makers whose code
        changed lose their verdicts and are returned; the node judges their orders again.
        A maker with a verdict read past ``head`` keeps it (its code was read there)."""
        changed = {
            m
            for m, h in codes.items()
            if m in self.code and self.code[m] != h and (head is None or self._newest(m) <= head)
        }
        for m in changed:
            self._forget_maker(m, rejudge=True)
            self.code_changes += 1
        self._rejudge_makers |= changed
        return changed

    def expire(self, head: int) -> set[bytes]:
        """Drop verdicts read ``ttl`` or more blocks before ``head``; the order hashes of
        the valid ones are returned (and kept for ``take_rejudge``)."""
        cutoff, invalid_cutoff = head - self.ttl, head - self.invalid_ttl
        out: set[bytes] = set()
        while self.valid:
            k, block = next(iter(self.valid.items()))
            if block > cutoff:
                break
            self.valid.popitem(last=False)
            self._unindex(k)
            out.add(k[1])
            self.expired += 1
        while self.invalid:
            block = next(iter(self.invalid.values()))
            if block > invalid_cutoff:
                break
            self.contract_said.discard(self.invalid.popitem(last=False)[0])
            self.expired += 1
        self._rejudge_orders |= out
        return out

    def clear(self) -> None:
        """Forget every verdict (a reorg or a chain reset): the tracked makers' orders are
        judged again (``take_rejudge``)."""
        self._rejudge_makers |= set(self.code)
        self._rejudge_orders |= {k[1] for k in self.valid}
        self.valid.clear()
        self.invalid.clear()
        self.contract_said.clear()
        self.code.clear()
        self._keys.clear()
        self.clears += 1

    def take_rejudge(self) -> tuple[set[str], set[bytes]]:
        """Makers and order hashes whose verdicts were dropped since the last call."""
        out = (self._rejudge_makers, self._rejudge_orders)
        self._rejudge_makers, self._rejudge_orders = set(), set()
        return out

    def _newest(self, maker: str) -> int:
        """The block ``maker``'s newest valid verdict (and code hash) was read at."""
        return max((self.valid[k] for k in self._keys.get(maker, ())), default=-1)

    def _drop(self, k: Key) -> None:
        self.invalid.pop(k, None)
        self.contract_said.discard(k)
        if self.valid.pop(k, None) is not None:
            self._unindex(k)

    def _unindex(self, k: Key) -> None:
        keys = self._keys.get(k[0])
        if keys is not None:
            keys.discard(k)
            if not keys:  # no valid verdict left: its code need not be read any more
                del self._keys[k[0]]
                self.code.pop(k[0], None)

    def _forget_maker(self, maker: str, rejudge: bool) -> None:
        for k in self._keys.pop(maker, set()):
            self.valid.pop(k, None)
            if rejudge:
                self._rejudge_orders.add(k[1])
        self.code.pop(maker, None)
