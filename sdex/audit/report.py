"""The audit's verdict: a rich table for people, one JSON object for machines."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from sdex.audit.checks import run_checks
from sdex.audit.facts import Facts
from sdex.audit.findings import CheckResult, Discrepancy
from sdex.order import to_checksum


@dataclass(frozen=True, slots=True)
class NodeSummary:
    """What one node showed: its chain checkpoint, open orders and claimed fills."""

    url: str
    block: int | None
    open_orders: int
    fills: int
    error: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "block": self.block,
            "openOrders": self.open_orders,
            "fills": self.fills,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The checks' results over one reading of the chain and the nodes."""

    chain_id: int
    exchange: str
    from_block: int
    to_block: int
    counts: dict[str, int]  # what was read: events, settlement txs, orders, nodes
    checks: tuple[CheckResult, ...]
    nodes: tuple[NodeSummary, ...] = ()

    @classmethod
    def of(cls, facts: Facts) -> AuditReport:
        """Run every check over ``facts``."""
        chain = facts.chain
        counts = {
            "fills": len(chain.fills),
            "cancels": len(chain.cancels),
            "cancelsUpTo": len(chain.salt_cancels),
            "matchesSkipped": chain.skipped,
            "settlementTxs": len({e.tx_hash for e in chain.fills}),
            "calldataDecoded": len(chain.decoded),  # settlement txs whose orders were read
            "orders": len({c.signed.hash for c in facts.orders}),
            "nodes": len(facts.nodes),
        }
        return cls(
            chain_id=chain.domain.chain_id,
            exchange=chain.domain.verifying_contract,
            from_block=chain.from_block,
            to_block=chain.head,
            counts=counts,
            checks=tuple(run_checks(facts)),
            nodes=tuple(
                NodeSummary(n.url, n.block, len(n.book), len(n.fills), n.error) for n in facts.nodes
            ),
        )

    @property
    def discrepancies(self) -> list[Discrepancy]:
        return [d for c in self.checks for d in c.discrepancies]

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def kinds(self) -> set[str]:
        """The kinds of discrepancy found (handy in tests and scripts)."""
        return {d.kind for d in self.discrepancies}

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "chainId": self.chain_id,
            "exchange": self.exchange,
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "read": self.counts,
            "nodes": [n.to_json() for n in self.nodes],
            "checked": {c.name: c.checked for c in self.checks},
            "failed": {c.name: c.failed for c in self.checks if c.failed},
            "discrepancies": [d.to_json() for d in self.discrepancies],
        }

    def print(self, out: Console) -> None:
        """The checks with their passed and failed counts, then every discrepancy."""
        n = self.counts
        header = (  # (short lines: it was one of ~190 columns piped, user38)
            f"[bold]audit[/] of Exchange {to_checksum(self.exchange)}",
            f"  on chain {self.chain_id}, blocks {self.from_block}..{self.to_block}:",
            f"  {_count(n['fills'], 'fill')} in {_count(n['settlementTxs'], 'settlement tx')}, "
            f"{_count(n['cancels'] + n['cancelsUpTo'], 'cancel')},",
            f"  {_count(n['orders'], 'signed order')} (calldata of {n['calldataDecoded']} of "
            f"{n['settlementTxs']} settlement txs decoded), {_count(n['nodes'], 'node')}",
        )
        for line in header:
            out.print(line, highlight=False, soft_wrap=True)
        for node in self.nodes:
            seen = (
                f"[red]{escape(node.error)}[/]"
                if node.error
                else f"{_count(node.open_orders, 'open order')}, "
                f"{_count(node.fills, 'claimed fill')}"
                + (f", at block {node.block}" if node.block is not None else "")
            )
            # (wrapped at the width when piped: a node's error ran to ~140 columns, user44)
            out.print(f"  node {escape(node.url)}: {seen}", highlight=False)
        table = Table(title="checks", title_justify="left")
        table.add_column("check")
        table.add_column("compares")
        table.add_column("checked", justify="right")
        table.add_column("passed", justify="right", style="green")
        table.add_column("failed", justify="right")
        for c in self.checks:
            failed = f"[bold red]{c.failed}[/]" if c.failed else "0"
            table.add_row(c.name, c.title, str(c.checked), str(c.passed), failed)
        out.print(table)
        if self.ok:
            out.print("[bold green]clean:[/] every check passed")
            return
        # A list, not a table: each place on its own line, its hash whole (to copy and paste:
        # a tx hash and its log index fit 80 columns), the detail wrapped at the width (it was
        # one line of up to ~300 columns piped).
        out.print(f"[bold]discrepancies[/] ({len(self.discrepancies)})")
        for d in self.discrepancies:
            out.print(f"[red]✗ {d.kind}[/]", soft_wrap=True, highlight=False)
            for place in d.places:
                out.print(f"    {escape(place)}", soft_wrap=True, highlight=False)
            out.print(Padding(Text(d.detail), (0, 0, 0, 4)), soft_wrap=False, highlight=False)
        n_found = len(self.discrepancies)
        out.print(f"[bold red]{n_found} discrepanc{'y' if n_found == 1 else 'ies'}[/]")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
