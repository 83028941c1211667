"""`board projections status`: the projections' progress as a table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.read_model.projection_status import StatusReport


def render_status(report: StatusReport, console: Console) -> None:
    table = Table(title=f"Projections (outbox head: position {report.head})")
    table.add_column("projection")
    table.add_column("watermark", justify="right")
    table.add_column("lag", justify="right")
    table.add_column("parked", justify="right")
    for status in report.projections:
        table.add_row(
            escape(status.projection),
            str(status.watermark),
            str(status.lag),
            f"[red]{status.parked}[/]" if status.parked else "0",
        )
    console.print(table)
