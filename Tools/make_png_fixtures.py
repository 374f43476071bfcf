#!/usr/bin/env python3
"""Golden PNG decoding data: the RGB transformers' BLIP processor sees for a PNG it gets as
`PIL.Image.open(path)` (its convert_to_rgb: alpha or a tRNS colour composited over white).

Writes Tests/Fixtures/png/: small PNGs of every colour type and bit depth, plain and Adam7,
every filter type, palettes with and without tRNS, tRNS colours, stored, fixed-Huffman and
dynamic-Huffman deflate; and expected.gguf holding, per file, those RGB bytes (height x width
x 3), plus for two files the processor's full output in make_image_fixtures' compact form.
Pillow writes the modes it can write; a small encoder here writes the rest (16-bit RGB/LA/RGBA,
Adam7, chosen filters and deflate block types), and Pillow reads every file back.
  PY=$(bash Tools/ref_env.sh); $PY Tools/make_png_fixtures.py
"""
import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from gguf import GGUFValueType, GGUFWriter
from PIL import Image
from transformers.image_transforms import convert_to_rgb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_image_fixtures import add_expected, pixel_values  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "png"
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pack_row(samples: np.ndarray, depth: int) -> bytes:
    flat = samples.reshape(-1).astype(np.int64)
    if depth == 16:
        return flat.astype(">u2").tobytes()
    if depth == 8:
        return flat.astype(np.uint8).tobytes()
    bits = np.unpackbits(flat.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:].reshape(-1)
    return np.packbits(bits).tobytes()


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_row(kind: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][kind]
        out.append((x - pred) & 255)
    return bytes([kind]) + bytes(out)


def encode(samples: np.ndarray, color: int, depth: int, interlace: bool = False, plte: bytes = b"",
           trns: bytes | None = None, deflate: str = "dynamic", extra: bytes = b"") -> bytes:
    """A PNG of samples (height x width x channels), each row's filter cycling 0..4."""
    h, w = samples.shape[:2]
    bpp = max(1, CHANNELS[color] * depth // 8)
    raw = bytearray()
    row_number = 0
    for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        prev = bytes(len(pack_row(sub[0], depth)))
        for r in sub:
            row = pack_row(r, depth)
            raw += filter_row(row_number % 5, row, prev, bpp)
            prev = row
            row_number += 1
    if deflate == "stored":
        data = zlib.compress(bytes(raw), 0)
    elif deflate == "fixed":
        c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_FIXED)
        data = c.compress(bytes(raw)) + c.flush()
    else:
        data = zlib.compress(bytes(raw), 9)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    if plte:
        out += chunk(b"PLTE", plte)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    # Split the data over three IDAT chunks: readers must join them.
    third = max(1, len(data) // 3)
    for part in (data[:third], data[third:2 * third], data[2 * third:]):
        out += chunk(b"IDAT", part)
    return out + chunk(b"IEND", b"")


def pillow_png(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **kw)
    return buf.getvalue()


def cases(rng: np.random.Generator):
    def rand(h, w, c, top):
        return rng.integers(0, top + 1, (h, w, c))

    # What Pillow writes itself.
    yield "pil-1-9x7", pillow_png(Image.fromarray(rand(7, 9, 1, 1)[:, :, 0].astype(bool)))
    yield "pil-L-13x11", pillow_png(Image.fromarray(rand(11, 13, 1, 255)[:, :, 0].astype(np.uint8), "L"))
    yield "pil-LA-13x11", pillow_png(Image.fromarray(rand(11, 13, 2, 255).astype(np.uint8), "LA"))
    yield "pil-RGB-17x9", pillow_png(Image.fromarray(rand(9, 17, 3, 255).astype(np.uint8), "RGB"))
    yield "pil-RGBA-17x9", pillow_png(Image.fromarray(rand(9, 17, 4, 255).astype(np.uint8), "RGBA"))
    i16 = Image.fromarray(rand(6, 8, 1, 65535)[:, :, 0].astype(np.uint16))
    yield "pil-I16-8x6", pillow_png(i16)
    low = rand(6, 8, 1, 300)[:, :, 0].astype(np.uint16)
    yield "pil-I16-low-8x6", pillow_png(Image.fromarray(low))
    for bits in (1, 2, 4, 8):
        p = Image.fromarray(rand(5, 11, 1, (1 << bits) - 1)[:, :, 0].astype(np.uint8), "P")
        p.putpalette(rng.integers(0, 256, 3 * (1 << bits)).astype(np.uint8).tobytes())
        yield f"pil-P{bits}-11x5", pillow_png(p, bits=bits)
    p = Image.fromarray(rand(7, 10, 1, 15)[:, :, 0].astype(np.uint8), "P")
    p.putpalette(rng.integers(0, 256, 48).astype(np.uint8).tobytes())
    yield "pil-P-trns-index-10x7", pillow_png(p, transparency=3)
    yield "pil-P-trns-alphas-10x7", pillow_png(p, transparency=bytes(rng.integers(0, 256, 16).astype(np.uint8)))
    g = Image.fromarray(rand(7, 10, 1, 3)[:, :, 0].astype(np.uint8) * 80, "L")
    yield "pil-L-trns-10x7", pillow_png(g, transparency=80)
    rgb = Image.fromarray(rand(7, 10, 3, 1).astype(np.uint8) * 200, "RGB")
    yield "pil-RGB-trns-10x7", pillow_png(rgb, transparency=(200, 0, 200))
    yield "pil-RGB-optimize-24x31", pillow_png(Image.fromarray(
        (np.add.outer(np.arange(24), np.arange(31))[:, :, None] * [3, 5, 7] % 256).astype(np.uint8)), optimize=True)

    # What only a hand encoder writes: every colour type and depth, plain and Adam7.
    for color, depths in ((0, (1, 2, 4, 8, 16)), (2, (8, 16)), (3, (1, 2, 4, 8)), (4, (8, 16)), (6, (8, 16))):
        for depth in depths:
            for interlace in (False, True):
                h, w = (11, 13) if interlace else (5, 7)
                top = (1 << depth) - 1
                samples = rand(h, w, CHANNELS[color], top)
                plte = b""
                if color == 3:
                    plte = rng.integers(0, 256, 3 * (1 << depth)).astype(np.uint8).tobytes()
                name = f"c{color}-d{depth}{'-adam7' if interlace else ''}-{w}x{h}"
                yield name, encode(samples, color, depth, interlace, plte)
    # Adam7 at sizes where some passes are empty.
    for w, h in ((1, 1), (1, 9), (9, 1), (2, 3), (5, 5)):
        yield f"adam7-rgb-{w}x{h}", encode(rand(h, w, 3, 255), 2, 8, True)
    # tRNS colours at every gray depth and for 16-bit RGB, with pixels that hit them.
    for depth in (1, 2, 4, 8, 16):
        top = (1 << depth) - 1
        samples = rand(6, 9, 1, top)
        samples[0, :3] = 1
        samples[1, :3] = 0
        samples[2, :3] = top
        yield f"trns-gray{depth}-val1-9x6", encode(samples, 0, depth, trns=struct.pack(">H", 1))
        yield f"trns-gray{depth}-val0-9x6", encode(samples, 0, depth, trns=struct.pack(">H", 0))
    rgb16 = rand(6, 9, 3, 65535)
    rgb16[0, :2] = (0x0102, 0x0304, 0x0506)
    rgb16[1, :2] = (0x0012, 0x0034, 0x0056)
    yield "trns-rgb16-hit-9x6", encode(rgb16, 2, 16, trns=struct.pack(">HHH", 0x0102, 0x0304, 0x0506))
    yield "trns-rgb16-low-9x6", encode(rgb16, 2, 16, trns=struct.pack(">HHH", 0x00, 0x00, 0x00))
    g16 = rand(6, 9, 1, 65535)
    g16[0, :3] = 4000
    yield "trns-gray16-hit-9x6", encode(g16, 0, 16, trns=struct.pack(">H", 4000))
    # Palettes: a short tRNS, indices past a short PLTE.
    idx = rand(6, 9, 1, 15)
    yield "plte-short-trns-9x6", encode(idx, 3, 4, plte=rng.integers(0, 256, 48).astype(np.uint8).tobytes(),
                                       trns=bytes([0, 128, 255, 7]))
    yield "plte-shorter-than-indices-9x6", encode(idx, 3, 4, plte=rng.integers(0, 256, 15).astype(np.uint8).tobytes())
    # Deflate block types, and ancillary chunks that change nothing.
    big = rand(40, 50, 3, 255) // 32 * 32
    yield "deflate-stored-50x40", encode(big, 2, 8, deflate="stored")
    yield "deflate-fixed-50x40", encode(big, 2, 8, deflate="fixed")
    yield "ancillary-gama-text-7x5", encode(rand(5, 7, 3, 255), 2, 8,
                                            extra=chunk(b"gAMA", struct.pack(">I", 100000)) + chunk(b"tEXt", b"k\0v"))
    # Keys past 8 bits: Pillow compares the 8-bit pixel (gray 16 clipped at 255, RGB 16 as its
    # high bytes, low-depth gray scaled) with the key's low byte, so these pixels are hit.
    g16[1, :3] = 4000 & 0xff
    g16[2, :3] = 4000 >> 8
    yield "trns-gray16-lowbyte-9x6", encode(g16, 0, 16, trns=struct.pack(">H", 4000))
    g8 = rand(6, 9, 1, 255)
    g8[0, :3] = 300 & 0xff
    g8[1, :3] = 300 >> 8
    yield "trns-gray8-lowbyte-9x6", encode(g8, 0, 8, trns=struct.pack(">H", 300))
    g2 = rand(6, 9, 1, 3)
    g2[0, :3] = 1  # scaled to 85 = 0x155 & 0xff
    yield "trns-gray2-lowbyte-9x6", encode(g2, 0, 2, trns=struct.pack(">H", 0x155))
    rgb16[2, :2] = (0x02ff, 0x0400, 0x06aa)
    rgb16[3, :2] = (0x0201, 0x0403, 0x0605)
    yield "trns-rgb16-lowbyte-9x6", encode(rgb16, 2, 16, trns=struct.pack(">HHH", 0x0102, 0x0304, 0x0506))
    rgb8 = rand(6, 9, 3, 255)
    rgb8[0, :2] = (2, 4, 6)
    rgb8[1, :2] = (1, 3, 5)
    yield "trns-rgb8-lowbyte-9x6", encode(rgb8, 2, 8, trns=struct.pack(">HHH", 0x0102, 0x0304, 0x0506))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    rng = np.random.default_rng(20261213)
    writer = GGUFWriter(str(OUT / "expected.gguf"), "blip2-png-fixtures")
    names = []
    for name, blob in cases(rng):
        (OUT / f"{name}.png").write_bytes(blob)
        image = Image.open(io.BytesIO(blob))
        rgb = convert_to_rgb(image, return_numpy=True)
        assert rgb.dtype == np.uint8 and rgb.shape == (image.height, image.width, 3), name
        writer.add_key_value(f"{name}.rgb", rgb.reshape(-1).tolist(), GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
        writer.add_uint32(f"{name}.image_width", image.width)
        writer.add_uint32(f"{name}.image_height", image.height)
        names.append(name)
        print(f"{name}: {image.mode} {image.size} {image.info.get('transparency', '')!r}"[:100])
    # The processor end to end, for an RGBA and a palette-with-alpha file.
    for name, w, h in (("pil-RGBA-17x9", 12, 8), ("pil-P-trns-alphas-10x7", 8, 8)):
        key = f"full-{name}"
        opened = Image.open(OUT / f"{name}.png")
        composited = Image.fromarray(convert_to_rgb(opened, return_numpy=True), "RGB")
        # add_expected resizes its image's convert("RGB"), which drops alpha; given the
        # composited image it records what the processor makes of the file itself.
        assert pixel_values(opened, w, h).tobytes() == pixel_values(composited, w, h).tobytes(), key
        add_expected(writer, key, composited, w, h)
        writer.add_uint32(f"{key}.width", w)
        writer.add_uint32(f"{key}.height", h)
        writer.add_string(f"{key}.file", f"{name}.png")
    writer.add_array("names", names)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(names)} files to {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
