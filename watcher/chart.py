"""Bar charts of counts per month: unicode bars for the terminal, and a small PNG written in plain Python.

The PNG needs no plotting library: one bar chart does not justify matplotlib (with numpy, Pillow and
fonts, tens of megabytes) as a dependency. It is an RGB image, zlib-compressed, with month labels and
counts drawn in a 3x5 pixel font.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def text_bars(series: Sequence[tuple[str, int]], width: int = 40) -> str:
    """One line per label: the label, a bar in eighths of a character, the count."""
    if not series:
        return ""
    top = max(count for _, count in series) or 1
    label_width = max(len(label) for label, _ in series)
    lines = []
    for label, count in series:
        eighths = round(count / top * width * 8)
        bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
        if count and not bar:
            bar = "▏"
        lines.append(f"{label.ljust(label_width)} {bar.ljust(width)} {count}".rstrip())
    return "\n".join(lines) + "\n"


# A 3x5 pixel font: each glyph is five rows of three bits.
_FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    "-": ("000", "000", "111", "000", "000"),
    " ": ("000", "000", "000", "000", "000"),
}
BACKGROUND = (255, 255, 255)
BAR = (66, 103, 178)
INK = (60, 60, 60)
AXIS = (180, 180, 180)
SCALE = 2  # pixels per font pixel


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = [bytearray(bytes(BACKGROUND) * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        for y in range(max(0, y0), min(self.height, y1)):
            self.pixels[y][x0 * 3 : x1 * 3] = bytes(color) * max(0, x1 - x0)

    def text(self, x: int, y: int, text: str, color: tuple[int, int, int] = INK) -> None:
        for i, char in enumerate(text):
            glyph = _FONT.get(char, _FONT[" "])
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        px = x + (i * 4 + col) * SCALE
                        py = y + row * SCALE
                        self.rect(px, py, px + SCALE, py + SCALE, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.pixels)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def text_width(text: str) -> int:
    return (len(text) * 4 - 1) * SCALE


def png_bars(series: Sequence[tuple[str, int]], plot_height: int = 160) -> bytes:
    """A bar chart as PNG bytes: one bar per label, the count above it, the label below."""
    series = list(series) or [("", 0)]
    top = max(count for _, count in series) or 1
    slot = max(text_width(max((label for label, _ in series), key=len)) + 8, 24)
    margin = 12
    glyph_height = 5 * SCALE
    width = margin * 2 + slot * len(series)
    baseline = margin + glyph_height + 6 + plot_height
    height = baseline + 6 + glyph_height + margin
    canvas = Canvas(width, height)
    for i, (label, count) in enumerate(series):
        x = margin + i * slot
        bar_height = round(count / top * plot_height)
        canvas.rect(x + 4, baseline - bar_height, x + slot - 4, baseline, BAR)
        number = str(count)
        canvas.text(x + (slot - text_width(number)) // 2, baseline - bar_height - glyph_height - 4, number)
        canvas.text(x + (slot - text_width(label)) // 2, baseline + 6, label)
    canvas.rect(margin, baseline, width - margin, baseline + 1, AXIS)
    return canvas.png()


def write_png(series: Sequence[tuple[str, int]], path: Path) -> None:
    """Write the chart atomically (a temporary file renamed into place)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(png_bars(series))
    os.replace(tmp, path)
