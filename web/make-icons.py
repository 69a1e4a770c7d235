"""Draw Cairn's app icons (a cairn of three stones) as PNG files, with only the standard library.

Run once when the icon changes: `python3 make-icons.py`; the PNGs in public/icons are checked in.
"""
import struct
import zlib
from pathlib import Path

TEAL = (31, 95, 91)
SAND = (246, 243, 238)


def stones(size, padding):
    """Three stacked ellipses (centre x, centre y, half width, half height), largest at the bottom."""
    inner = size - 2 * padding
    cx = size / 2
    return [
        (cx, padding + inner * 0.78, inner * 0.36, inner * 0.13),
        (cx, padding + inner * 0.55, inner * 0.27, inner * 0.11),
        (cx, padding + inner * 0.35, inner * 0.17, inner * 0.09),
    ]


def draw(size, padding):
    shapes = stones(size, padding)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            colour = TEAL
            for cx, cy, rx, ry in shapes:
                if ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1:
                    colour = SAND
            row.extend(colour)
        rows.append(bytes(row))
    return b"".join(rows)


def png(size, pixels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 9)) + chunk(b"IEND", b"")


out = Path(__file__).parent / "public" / "icons"
out.mkdir(parents=True, exist_ok=True)
for name, size, padding in [("icon-192.png", 192, 16), ("icon-512.png", 512, 40), ("icon-maskable-512.png", 512, 110)]:
    (out / name).write_bytes(png(size, draw(size, padding)))
