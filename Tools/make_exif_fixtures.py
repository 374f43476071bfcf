#!/usr/bin/env python3
"""Golden data for --exif-orientation: what transformers' `load_image` (PIL's exif_transpose, then RGB)
makes of files carrying each EXIF Orientation value.

Writes Tests/Fixtures/exif/:
  o{1..8}.jpg      a 7x4 photo crop (4:4:4, quality 95) whose EXIF says Orientation = n (little-endian TIFF)
  o6-mm.jpg        Orientation 6 in a big-endian (MM) TIFF block, beside other IFD0 tags
  o8.png           a PNG with an eXIf chunk saying 8
  expected.json    per file: the orientation Pillow reads, and load_image's width, height and RGB (hex)
  PY=$(bash Tools/ref_env.sh); $PY Tools/make_exif_fixtures.py
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from transformers.image_utils import load_image

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "exif"


def big_endian_exif(orientation: int) -> bytes:
    """A TIFF block written by hand in Motorola order: ImageWidth, Orientation, Software."""
    entries = [(0x0100, 4, 1, struct.pack(">I", 7)), (0x0112, 3, 1, struct.pack(">HH", orientation, 0)),
               (0x0131, 2, 4, b"ab\0\0")]
    ifd = struct.pack(">H", len(entries)) + b"".join(struct.pack(">HHI", t, ty, n) + v for t, ty, n, v in entries)
    return b"MM\0*" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    crop = Image.fromarray(np.ascontiguousarray(data.astronaut()[100:104, 200:207]))
    expected = {}

    def record(name: str) -> None:
        path = OUT / name
        img = load_image(str(path))
        with Image.open(path) as raw:
            orientation = raw.getexif().get(0x0112)
        expected[name] = {"orientation": orientation, "width": img.width, "height": img.height,
                          "rgb": np.asarray(img.convert("RGB")).tobytes().hex()}

    for n in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = n
        crop.save(OUT / f"o{n}.jpg", quality=95, subsampling=0, exif=exif.tobytes())
        record(f"o{n}.jpg")
    crop.save(OUT / "o6-mm.jpg", quality=95, subsampling=0, exif=b"Exif\0\0" + big_endian_exif(6))
    record("o6-mm.jpg")
    exif = Image.Exif()
    exif[0x0112] = 8
    crop.save(OUT / "o8.png", exif=exif.tobytes())
    record("o8.png")
    for name, e in expected.items():
        print(name, e["orientation"], f'{e["width"]}x{e["height"]}')
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
