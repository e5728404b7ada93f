"""What the `vektra` command line prints: aligned tables, JSON documents and a
progress bar. Pure formatting, no calls, so it is tested without a server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np

__all__ = [
    "ProgressBar",
    "cell_text",
    "dump_json",
    "format_table",
    "render_progress",
    "to_jsonable",
]

MAX_CELL = 60


def cell_text(value: Any, max_width: int = MAX_CELL) -> str:
    """One table cell: None as "-", floats to 4 decimals, containers as
    compact JSON, anything longer than `max_width` cut with an ellipsis, and
    newlines flattened so a row stays one line."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "true" if value else "false"
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
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_cell: int = MAX_CELL
) -> str:
    """Rows under a header, columns separated by two spaces; numbers are
    right-aligned (so digits line up), everything else left-aligned. An empty
    table still prints its header, so scripts can tell "none" from an error."""
    texts = [[cell_text(v, max_cell) for v in row] for row in rows]
    for i, row in enumerate(texts):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} columns")
    widths = [len(h) for h in headers]
    for row in texts:
        widths = [max(w, len(t)) for w, t in zip(widths, row, strict=True)]
    right = [
        bool(rows) and all(_numeric(row[c]) or row[c] is None for row in rows)
        for c in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in texts)])


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
    """One JSON document on stdout (for `--json`)."""
    out = stream or sys.stdout
    json.dump(to_jsonable(value), out, ensure_ascii=False, indent=2)
    out.write("\n")


def render_progress(
    done: int, total: int, elapsed_s: float, *, width: int = 30, label: str = ""
) -> str:
    """`label [#########.........]  45%  4,500/10,000  1,234/s` (no total:
    just the count and rate)."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    tail = f"{done:,}/{total:,}  {rate:,.0f}/s" if total else f"{done:,}  {rate:,.0f}/s"
    if not total:
        return f"{label} {tail}".strip()
    share = min(1.0, done / total)
    filled = int(share * width)
    bar = "#" * filled + "." * (width - filled)
    return f"{label} [{bar}] {share:4.0%}  {tail}".strip()


class ProgressBar:
    """A one-line progress bar redrawn in place on `stream` (stderr), only when
    that stream is a terminal: logs and pipes get no carriage-return noise."""

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval_s: float = 0.1,
    ) -> None:
        self.total = total
        self.done = 0
        self._label = label
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._min_interval_s = min_interval_s

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        # Redrawing on every batch would cost more than the import itself.
        if self._enabled and (now - self._drawn_at >= self._min_interval_s or self._finished):
            self._draw(now)

    @property
    def _finished(self) -> bool:
        return bool(self.total) and self.done >= self.total

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        text = render_progress(self.done, self.total, now - self._started, label=self._label)
        self._stream.write("\r" + text)
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started
