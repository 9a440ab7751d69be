"""Plain-text tables for the terminal: fixed columns, long cells cut with an ellipsis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def cut(value: object, width: int) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(items: Sequence[dict[str, Any]], columns: Sequence[tuple[str, int]]) -> str:
    """`columns` are (key, maximum width); each column is as wide as its widest cell."""
    rows = [[cut(item.get(key), width) for key, width in columns] for item in items]
    widths = [max([len(key)] + [len(row[i]) for row in rows]) for i, (key, _w) in enumerate(columns)]
    lines = ["  ".join(key.ljust(w) for (key, _), w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
