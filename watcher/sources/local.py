"""Local exports for backfill: an mbox file (e.g. Google Takeout) or a Maildir."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from ..messages import RawMessage

LOCAL_ACCOUNT = "local"


class LocalSourceError(Exception):
    """The export cannot be read."""


def _folder(path: Path) -> str:
    return str(path.expanduser().resolve())


def iter_mbox(path: Path, start: int = 1) -> Iterator[RawMessage]:
    """Messages of an mbox, numbered from 1 in file order; starts at `start` to resume."""
    path = Path(path)
    if not path.is_file():
        raise LocalSourceError(f"{path}: no such mbox file")
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.iterkeys(), 1):
            if index < start:
                continue
            try:
                data = box.get_bytes(key)
            except (OSError, KeyError) as exc:
                raise LocalSourceError(f"{path}: cannot read message {index}: {exc}") from None
            yield RawMessage(LOCAL_ACCOUNT, _folder(path), 0, index, data)
    finally:
        box.close()


def iter_maildir(path: Path, start: int = 1) -> Iterator[RawMessage]:
    """Messages of a Maildir (new/ and cur/), in a stable order of their keys."""
    path = Path(path)
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        raise LocalSourceError(f"{path}: not a Maildir (no cur/ or new/ folder)")
    box = mailbox.Maildir(str(path), factory=None, create=False)
    for index, key in enumerate(sorted(box.iterkeys()), 1):
        if index < start:
            continue
        try:
            data = box.get_bytes(key)
        except (OSError, KeyError):
            continue  # moved or deleted by a mail client while we read; the next run sees it again
        yield RawMessage(LOCAL_ACCOUNT, _folder(path), 0, index, data)


def iter_eml(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """(source label, bytes) for .eml files, directories of them, and mbox files."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*.eml")):
                yield str(child), child.read_bytes()
        elif path.is_file():
            with path.open("rb") as fh:
                is_mbox = fh.read(5) == b"From "
            if is_mbox:
                for raw in iter_mbox(path):
                    yield f"{path}:{raw.uid}", raw.data
            else:
                yield str(path), path.read_bytes()
        else:
            raise LocalSourceError(f"{path}: no such file or directory")
