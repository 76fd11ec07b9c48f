"""SDEX: a blockchain-settled, 0x-style relayer network."""

# First: decides whether the mypyc build runs (``sdex.book.native``) before any module it
# compiles can be imported, ``sdex.order`` included.
from sdex.book import native as _native  # noqa: F401
