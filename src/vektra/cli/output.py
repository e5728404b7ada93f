"""What the `vektra` command line prints: tables, JSON documents and a
progress bar. Pure formatting, no calls, so it is tested without a server.

On a terminal, tables and the progress bar are drawn by `rich`: bold
headers, coloured node states, tables fitted to the window (a cell too wide
is cut with "…", so a row stays one line), a bar with rate and ETA. rich is
imported only then: it adds about 30 ms to a start-up of about 300 ms, which
`--help`, `--version`, `--json`, errors and scripts would otherwise pay.
Anywhere else (a pipe, a file, TERM=dumb) a table is plain text in the same
layout, as wide as it needs, with no trailing blanks, so `grep`, `cut` and
`awk` work on it; a few lines here write it, 20 times faster than rich, for
whom 10,000 rows take 3 s. `--json` never goes through rich: it is
`json.dump`, nothing else. rich's own rules apply on a terminal (NO_COLOR
turns colours off; FORCE_COLOR draws styled output into a pipe).

Numbers: integers get thousands separators in every table and message
("1,234"), never in JSON; floats show 4 decimals; None is "-" and an
unknown count "?".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import io
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from vektra.client.models import Coverage

__all__ = [
    "MAX_CELL",
    "RICH_MAX_ROWS",
    "UNKNOWN",
    "ProgressBar",
    "Styled",
    "cell_text",
    "counted",
    "coverage_text",
    "dump_json",
    "format_table",
    "is_terminal",
    "print_table",
    "rate_text",
    "to_jsonable",
]

MAX_CELL = 60
# Longer tables are printed as plain text even on a terminal (see format_table).
RICH_MAX_ROWS = 2_000
# Off a terminal nothing is cut to a window: a table is as wide as its cells.
_UNLIMITED_WIDTH = 100_000


class _Unknown:
    """A number nobody could tell (a down node's object count): "?" in a
    table, aligned with the numbers of its column."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclasses.dataclass(frozen=True, slots=True)
class Styled:
    """A table cell with a rich style (e.g. "green"), used only on a terminal."""

    value: Any
    style: str


def counted(n: int, noun: str) -> str:
    """ "1 object", "1,234 objects" (the plural is the noun with an s)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def coverage_text(coverage: Coverage) -> str | None:
    """What a partial answer missed, for a warning: "partial: 120/192 ranges
    answered; failed: node-2". None when the answer is complete. Servers
    that count no ranges (a single node) are reported by nodes."""
    if coverage.complete:
        return None
    if coverage.ranges_asked:
        done, asked, what = coverage.ranges_answered, coverage.ranges_asked, "ranges"
    else:
        done, asked, what = coverage.answered, coverage.asked, "nodes"
    failed = ", ".join(coverage.failed) or "none named"
    return f"partial: {done:,}/{asked:,} {what} answered; failed: {failed}"


def cell_text(value: Any, max_width: int = MAX_CELL) -> str:
    """One table cell: None as "-", UNKNOWN as "?", integers with thousands separators, floats
    to 4 decimals, containers as compact JSON, anything longer than
    `max_width` cut with an ellipsis, and newlines flattened so a row stays
    one line."""
    if isinstance(value, Styled):
        value = value.value
    if value is None:
        text = "-"
    elif value is UNKNOWN:
        text = "?"
    elif isinstance(value, bool | np.bool_):
        text = "true" if value else "false"
    elif isinstance(value, int | np.integer):
        text = f"{int(value):,}"
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.4f}"
        if text == "-0.0000":  # a query's distance to itself, rounded
            text = "0.0000"
    elif isinstance(value, Mapping | list | tuple | np.ndarray):
        text = json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    text = " ".join(text.split()) if "\n" in text or "\t" in text else text
    if max_width > 0 and len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def _numeric(value: Any) -> bool:
    if isinstance(value, Styled):
        value = value.value
    if value is UNKNOWN:
        return True
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` gets terminal output (colour, fitted to the window).
    rich decides (so FORCE_COLOR, NO_COLOR and TERM=dumb are honoured), but a
    stream that is no terminal is told apart without importing rich."""
    if not (_isatty(stream) or os.environ.get("FORCE_COLOR")):
        return False
    return bool(_console(stream).is_terminal)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _console(stream: TextIO, terminal: bool | None = None) -> Any:
    """A rich console on `stream`; `terminal` None lets rich decide."""
    from rich.console import Console

    console = Console(
        file=stream,
        force_terminal=terminal,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
    )
    if not console.is_terminal:
        console.width = _UNLIMITED_WIDTH
    return console


def _cells(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], max_cell: int
) -> tuple[list[list[str]], list[bool]]:
    """Each cell's text, and which columns are right-aligned: the numeric
    ones, so digits line up."""
    texts = [[cell_text(v, max_cell) for v in row] for row in rows]
    for i, row in enumerate(texts):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} columns")
    # A column of nothing but "-" (no object has properties) stays left.
    right = [
        any(_numeric(row[c]) for row in rows)
        and all(_numeric(row[c]) or row[c] is None for row in rows)
        for c in range(len(headers))
    ]
    return texts, right


def _plain(headers: Sequence[str], texts: list[list[str]], right: list[bool]) -> str:
    widths = [len(h) for h in headers]
    for row in texts:
        widths = [max(w, len(t)) for w, t in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in texts)])


def _rich_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], texts: list[list[str]], right: list[bool]
) -> Any:
    from rich.table import Table
    from rich.text import Text

    # Two blanks between columns and none at the edges, as in the plain text.
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=False,
        show_edge=False,
        header_style="bold",
    )
    for header, r in zip(headers, right, strict=True):
        table.add_column(
            header, justify="right" if r else "left", no_wrap=True, overflow="ellipsis"
        )
    for raw, row in zip(rows, texts, strict=True):
        table.add_row(
            *(
                Text(t, style=v.style) if isinstance(v, Styled) else Text(t)
                for v, t in zip(raw, row, strict=True)
            )
        )
    return table


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_cell: int = MAX_CELL,
    terminal: bool = False,
    width: int | None = None,
) -> str:
    """Rows under a header, columns two blanks apart; numbers right-aligned,
    everything else left-aligned. An empty table still prints its header, so
    scripts can tell "none" from an error.

    `terminal`: drawn by rich, styled and fitted to `width` columns (default:
    the terminal's). Otherwise, and for a table too long for rich to draw
    quickly, plain text as wide as it needs, without trailing blanks, from
    the few lines below: rich takes about 0.3 ms a row, 3 s for the 10,000
    rows of `vektra query --limit 10000`, against 0.15 s here."""
    texts, right = _cells(headers, rows, max_cell)
    if not terminal or len(rows) > RICH_MAX_ROWS:
        return _plain(headers, texts, right)
    console = _console(io.StringIO(), terminal=True)
    if width is not None:
        console.width = width
    with console.capture() as captured:
        console.print(_rich_table(headers, rows, texts, right))
    return str(captured.get()).rstrip("\n")


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_cell: int = MAX_CELL,
    file: TextIO | None = None,
) -> None:
    """A table on `file` (stdout): styled and fitted to the window only if it
    is a terminal, plain text otherwise."""
    out = file or sys.stdout
    terminal = is_terminal(out)
    width = _console(out).width if terminal else None
    out.write(format_table(headers, rows, max_cell=max_cell, terminal=terminal, width=width) + "\n")


def to_jsonable(value: Any) -> Any:
    """Plain JSON values for SDK results: dataclasses become objects, numpy
    arrays lists, datetimes ISO 8601 strings, enums their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def dump_json(value: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout (for `--json`): no colour, no separators."""
    out = stream or sys.stdout
    json.dump(to_jsonable(value), out, ensure_ascii=False, indent=2)
    out.write("\n")


# ---------------------------------------------------------------- progress


def rate_text(done: int, elapsed_s: float, unit: str = "objects") -> str:
    """ "1,234 objects/s" (nothing measured yet: "- objects/s")."""
    if elapsed_s <= 0 or done <= 0:
        return f"- {unit}/s"
    return f"{done / elapsed_s:,.0f} {unit}/s"


def _rich_progress(label: str, console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            total = "?" if task.total is None else f"{int(task.total):,}"
            return Text(f"{int(task.completed):,}/{total}", style="progress.download")

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            # rich's speed is over the last 30 s; the overall rate until then.
            speed = task.speed
            if speed is None:
                return Text(rate_text(int(task.completed), task.elapsed or 0.0))
            return Text(f"{speed:,.0f} objects/s", style="progress.data.speed")

    return Progress(
        TextColumn(label) if label else TextColumn(""),
        BarColumn(),
        TaskProgressColumn(),
        CountColumn(),
        RateColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        # The bar is on stderr; stdout may be a file that must get no bar.
        redirect_stdout=False,
        redirect_stderr=False,
    )


class ProgressBar:
    """A progress bar with rate and ETA, redrawn in place on `stream`
    (stderr) only when that stream is a terminal: logs and pipes get no
    control-sequence noise. `enabled=True` forces drawing (tests)."""

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.total = total
        self.done = 0
        out = stream or sys.stderr
        self._enabled = is_terminal(out) if enabled is None else enabled
        self._started = time.monotonic()
        self._progress: Any = None
        if self._enabled:
            self._progress = _rich_progress(label, _console(out, terminal=True))
            self._task = self._progress.add_task(label, total=total or None)
            self._progress.start()

    def update(self, n: int) -> None:
        self.done += n
        if self._progress is not None:
            self._progress.update(self._task, advance=n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()  # draws the final state and ends the line
            self._progress = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started
