"""SDEX: a blockchain-settled, 0x-style relayer network."""
