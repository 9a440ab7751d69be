"""The rejection log: list it (table or JSON lines) and export it as CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from . import tables
from .store import Store

KINDS = ("job", "pitch", "investor", "client", "academic", "program")
FIELDS = ("id", "company", "role", "kind", "stage", "date", "sender", "subject", "score", "account",
          "folder", "uidvalidity", "uid", "message_id", "draft_note")


class LogError(Exception):
    """The log cannot be listed or exported as asked."""


def entries(store: Store, since: date | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """The log, oldest first, each entry with the link back to its message."""
    if kind is not None and kind not in KINDS:
        raise LogError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    rows = store.rejection_log(since.isoformat() if since else None, kind)
    return [{field: row[field] for field in FIELDS} for row in rows]


def json_lines(items: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def table(items: Sequence[dict[str, Any]]) -> str:
    """A compact terminal table of the log."""
    if not items:
        return "no rejections logged yet\n"
    rows = [dict(item, date=(item["date"] or "")[:10],
                 score=f"{item['score']:.2f}" if item["score"] is not None else "") for item in items]
    columns = [("id", 6), ("date", 10), ("company", 22), ("role", 24), ("kind", 8), ("stage", 11),
               ("score", 5), ("subject", 40)]
    return tables.table(rows, columns) + f"{len(items)} rejection(s)\n"


def export_csv(store: Store, path: Path, since: date | None = None, kind: str | None = None) -> int:
    """Write the log as CSV (a header row, then one row per rejection); returns the number of rows."""
    items = entries(store, since, kind)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(items)
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, path)
    except OSError as exc:
        raise LogError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(items)
