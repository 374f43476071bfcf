#!/usr/bin/env python3
"""Golden JPEG decoding data: the RGB transformers' BLIP processor sees for a JPEG it gets as
`PIL.Image.open(path)` (its convert_to_rgb, which for JPEG's L/RGB/CMYK modes is Pillow's
convert("RGB")), with Pillow 13.0.0 and its libjpeg-turbo 3.2.0.

Writes Tests/Fixtures/jpeg/: Pillow's own files (qualities 1-100, subsampling 4:4:4/4:2:2/
4:2:0, progressive, optimised, restart markers, gray, CMYK, odd sizes), files from a small
writer (Tools/jpeg_writer.py: 4:4:0, 4:1:1 and other sampling factors, Adobe RGB and YCCK,
component ids, 16-bit tables, separate scans per component, no DHT, out-of-range
coefficients), progressive files with scans left out (block smoothing), damaged files
(premature EOI, garbage data, wrong restart markers, truncation, a missing EOI marker), scikit-image's sample
photographs, and expected.gguf holding per file the SHA-256 of those RGB bytes, the size,
the raw bytes for small files, or Pillow's error for files it refuses; plus one file's
processor output in make_image_fixtures' compact form.
  PY=$(bash Tools/ref_env.sh); $PY Tools/make_jpeg_fixtures.py
"""
import hashlib
import io
import re
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFValueType, GGUFWriter
from PIL import Image
from transformers.image_transforms import convert_to_rgb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jpeg_writer import LUMA_Q, Component, count_scans, encode, encode_progressive, keep_scans  # noqa: E402
from make_image_fixtures import add_expected  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "jpeg"
RAW_LIMIT = 24 * 24  # files up to this many pixels also store their RGB bytes
# Files Pillow decodes that we refuse on purpose (the tests check that we refuse them).
DIVERGENT = {
    # libjpeg-turbo decodes arithmetic coding; we do not (here: Huffman data under SOF9).
    "bad-sof-arithmetic": "arithmetic coding",
}
# Single-scan files with all their data but no EOI marker: Pillow decodes some and refuses
# others, by where libjpeg's refills fall (and Pillow's 64 KiB reads); at least one of each
# must be here.
NO_EOI = ("bad-no-eoi", "bad-no-eoi-noise", "bad-no-eoi-garbage", "bad-no-eoi-big-a", "bad-no-eoi-big-b")


def pattern(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Gradients, edges and noise: enough detail that every coefficient band is used."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 7 + y * 3) % 256, (x * 2 + y * 11 + (x // 5 + y // 4) % 2 * 90) % 256,
                     ((x - y) * 5) % 256], -1).astype(np.int64)
    return (base + rng.integers(-40, 41, base.shape)).clip(0, 255).astype(np.uint8)


def pillow_jpeg(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kw)
    return buf.getvalue()


def cases(rng: np.random.Generator):
    rgb = lambda w, h: Image.fromarray(pattern(w, h, rng), "RGB")  # noqa: E731

    # Pillow's writer.
    for q in (1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 100):
        yield f"pil-q{q}-40x30", pillow_jpeg(rgb(40, 30), quality=q)
    for w, h in ((1, 1), (2, 2), (3, 5), (4, 4), (5, 3), (17, 9), (33, 31), (67, 45), (1, 23), (23, 1), (33, 17),
                 (17, 400)):
        for ss in (0, 1, 2):
            yield f"pil-ss{ss}-{w}x{h}", pillow_jpeg(rgb(w, h), subsampling=ss, quality=80)
        yield f"pil-prog-{w}x{h}", pillow_jpeg(rgb(w, h), progressive=True, quality=80)
        yield f"pil-gray-{w}x{h}", pillow_jpeg(rgb(w, h).convert("L"), quality=80)
        yield f"pil-cmyk-{w}x{h}", pillow_jpeg(rgb(w, h).convert("CMYK"), quality=80)
    for ss in (0, 1, 2):
        yield f"pil-prog-ss{ss}-q95-48x40", pillow_jpeg(rgb(48, 40), subsampling=ss, progressive=True, quality=95)
        yield f"pil-optimize-ss{ss}-48x40", pillow_jpeg(rgb(48, 40), subsampling=ss, optimize=True)
        yield f"pil-prog-optimize-ss{ss}-48x40", pillow_jpeg(rgb(48, 40), subsampling=ss, optimize=True, progressive=True)
    yield "pil-rst-blocks3-64x48", pillow_jpeg(rgb(64, 48), restart_marker_blocks=3)
    yield "pil-rst-rows1-64x48", pillow_jpeg(rgb(64, 48), restart_marker_rows=1)
    yield "pil-rst-prog-blocks2-64x48", pillow_jpeg(rgb(64, 48), restart_marker_blocks=2, progressive=True)
    yield "pil-gray-prog-31x29", pillow_jpeg(rgb(31, 29).convert("L"), progressive=True)
    yield "pil-cmyk-prog-31x29", pillow_jpeg(rgb(31, 29).convert("CMYK"), progressive=True)
    yield "pil-keep-rgb-24x16", pillow_jpeg(rgb(24, 16), keep_rgb=True)
    yield "pil-keep-rgb-prog-24x16", pillow_jpeg(rgb(24, 16), keep_rgb=True, progressive=True)
    flat = Image.new("RGB", (40, 24), (200, 30, 90))
    yield "pil-flat-40x24", pillow_jpeg(flat)

    # Progressive files with scans left out: coefficients 1...9 not fully refined, so
    # libjpeg smooths; keeping only the first scan leaves no AC data (DC interpolation).
    for name, image, kw in (("rgb420", rgb(45, 37), {}), ("rgb444", rgb(45, 37), {"subsampling": 0}),
                            ("gray", rgb(45, 37).convert("L"), {}), ("rgb420-tall", rgb(9, 70), {}),
                            ("rgb420-wide", rgb(70, 9), {})):
        full = pillow_jpeg(image, progressive=True, quality=90, **kw)
        n = count_scans(full)
        for k in range(1, n):
            yield f"smooth-{name}-first{k}of{n}", keep_scans(full, lambda i, k=k: i < k)
        # All but the DC refinement: AC fully known, DC not; no smoothing.
        yield f"smooth-{name}-no-dc-refine", keep_scans(full, lambda i, n=n, f=full: not _is_dc_refine(f, i))
        # Only the first and last scans.
        yield f"smooth-{name}-ends", keep_scans(full, lambda i, n=n: i in (0, n - 1))

    # The small writer: sampling factors Pillow cannot write.
    def ycc_planes(w, h):
        ycc = np.asarray(Image.fromarray(pattern(w, h, rng), "RGB").convert("YCbCr")).astype(np.float64)
        return [ycc[:, :, i] for i in range(3)]

    chroma_q = [min(255, v * 2) for v in LUMA_Q]
    samplings = {"440": [(1, 2), (1, 1), (1, 1)], "411": [(4, 1), (1, 1), (1, 1)], "410": [(4, 2), (1, 1), (1, 1)],
                 "h3": [(3, 1), (1, 1), (1, 1)], "v3": [(1, 3), (1, 1), (1, 1)], "h2v4": [(2, 4), (1, 2), (1, 2)],
                 "chroma-larger": [(1, 1), (2, 2), (1, 1)], "mixed": [(2, 2), (1, 1), (2, 1)],
                 "422v": [(2, 2), (2, 1), (2, 1)], "h4v1-h2": [(4, 1), (2, 1), (1, 1)]}
    for label, factors in samplings.items():
        for w, h in ((1, 1), (2, 3), (3, 2), (5, 7), (19, 13), (40, 33)):
            planes = ycc_planes(w, h)
            comps = [Component(i + 1, fh, fv, 0 if i == 0 else 1, planes[i], td=min(i, 1), ta=min(i, 1))
                     for i, (fh, fv) in enumerate(factors)]
            yield f"hand-{label}-{w}x{h}", encode(w, h, comps, {0: LUMA_Q, 1: chroma_q}, jfif=True)
    planes = ycc_planes(29, 21)
    base = [Component(i + 1, 2 if i == 0 else 1, 2 if i == 0 else 1, min(i, 1), planes[i], min(i, 1), min(i, 1))
            for i in range(3)]
    yield "hand-420-restart5-29x21", encode(29, 21, base, {0: LUMA_Q, 1: chroma_q}, jfif=True, restart=5)
    yield "hand-420-separate-scans-29x21", encode(29, 21, base, {0: LUMA_Q, 1: chroma_q}, jfif=True, interleaved=False)
    yield "hand-420-separate-scans-restart2-29x21", encode(29, 21, base, {0: LUMA_Q, 1: chroma_q}, interleaved=False, restart=2)
    yield "hand-420-no-dht-29x21", encode(29, 21, base, {0: LUMA_Q, 1: chroma_q}, jfif=True, dht=False)
    yield "hand-420-wide-dqt-29x21", encode(29, 21, base, {0: [v * 3 for v in LUMA_Q], 1: chroma_q}, jfif=True, wide_q=(0, 1))
    yield "hand-420-no-marker-29x21", encode(29, 21, base, {0: LUMA_Q, 1: chroma_q})

    # Progressive scan scripts Pillow does not write (each complete one checked equal to its
    # baseline twin when written): separate DC scans per component as mozjpeg writes them,
    # refinements of separate DC scans, restarts inside EOB runs, and incomplete scripts that
    # leave coefficients 1...9 unrefined or absent (smoothing, with uncoded padding blocks).
    scripts = {
        "libjpeg": [([0, 1, 2], 0, 0, 0, 1), ([0], 1, 5, 0, 2), ([2], 1, 63, 0, 1), ([1], 1, 63, 0, 1), ([0], 6, 63, 0, 2),
                    ([0], 1, 63, 2, 1), ([0, 1, 2], 0, 0, 1, 0), ([2], 1, 63, 1, 0), ([1], 1, 63, 1, 0), ([0], 1, 63, 1, 0)],
        "separate-dc": [([0], 0, 0, 0, 0), ([1], 0, 0, 0, 0), ([2], 0, 0, 0, 0), ([0], 1, 2, 0, 0), ([0], 3, 63, 0, 0),
                        ([1], 1, 63, 0, 0), ([2], 1, 63, 0, 0)],
        "separate-dc-refined": [([0], 0, 0, 0, 2), ([1], 0, 0, 0, 1), ([2], 0, 0, 0, 1), ([0], 0, 0, 2, 1), ([0], 0, 0, 1, 0),
                                ([1], 0, 0, 1, 0), ([2], 0, 0, 1, 0), ([0], 1, 63, 0, 1), ([1], 1, 63, 0, 0),
                                ([2], 1, 63, 0, 0), ([0], 1, 63, 1, 0)],
        "unrefined-al": [([0, 1, 2], 0, 0, 0, 1), ([0], 1, 9, 0, 2), ([1], 1, 63, 0, 1), ([2], 1, 63, 0, 1)],
        "separate-dc-partial-ac": [([0], 0, 0, 0, 0), ([1], 0, 0, 0, 0), ([2], 0, 0, 0, 0), ([0], 1, 3, 0, 1)],
        "separate-dc-only": [([0], 0, 0, 0, 0), ([1], 0, 0, 0, 0), ([2], 0, 0, 0, 0)],
    }
    for label, factors in (("420", [(2, 2), (1, 1), (1, 1)]), ("444", [(1, 1), (1, 1), (1, 1)])):
        for w, h in ((23, 19), (9, 42)):
            planes = ycc_planes(w, h)
            comps = [Component(i + 1, fh, fv, 0 if i == 0 else 1, planes[i]) for i, (fh, fv) in enumerate(factors)]
            for name, script in scripts.items():
                for restart in (0, 3):
                    if (w, h) == (9, 42) and (restart or label == "444"):
                        continue
                    blob = encode_progressive(w, h, comps, {0: LUMA_Q, 1: chroma_q}, script, restart=restart)
                    yield f"hand-prog-{name}-{label}{f'-rst{restart}' if restart else ''}-{w}x{h}", blob

    # Colour spaces: libjpeg's choice from JFIF, Adobe and the component ids.
    pix = pattern(21, 14, rng).astype(np.float64)
    rgb_comps = lambda ids: [Component(ids[i], 1, 1, 0, pix[:, :, i]) for i in range(3)]  # noqa: E731
    yield "hand-rgb-adobe0-21x14", encode(21, 14, rgb_comps([1, 2, 3]), {0: LUMA_Q}, adobe=0)
    yield "hand-rgb-ids-RGB-21x14", encode(21, 14, rgb_comps([82, 71, 66]), {0: LUMA_Q})
    yield "hand-rgb-ids-RGB-jfif-21x14", encode(21, 14, rgb_comps([82, 71, 66]), {0: LUMA_Q}, jfif=True)
    yield "hand-rgb-adobe0-jfif-21x14", encode(21, 14, rgb_comps([1, 2, 3]), {0: LUMA_Q}, adobe=0, jfif=True)
    yield "hand-ycc-adobe1-21x14", encode(21, 14, rgb_comps([1, 2, 3]), {0: LUMA_Q}, adobe=1)
    yield "hand-ycc-adobe7-21x14", encode(21, 14, rgb_comps([1, 2, 3]), {0: LUMA_Q}, adobe=7)
    yield "hand-ycc-ids-abc-21x14", encode(21, 14, rgb_comps([97, 98, 99]), {0: LUMA_Q})
    k = rng.integers(0, 256, (14, 21)).astype(np.float64)
    four = lambda: [Component(i + 1, 1, 1, 0, pix[:, :, i]) for i in range(3)] + [Component(4, 1, 1, 0, k)]  # noqa: E731
    yield "hand-cmyk-adobe0-21x14", encode(21, 14, four(), {0: LUMA_Q}, adobe=0)
    yield "hand-cmyk-no-adobe-21x14", encode(21, 14, four(), {0: LUMA_Q})
    yield "hand-ycck-adobe2-21x14", encode(21, 14, four(), {0: LUMA_Q}, adobe=2)
    yield "hand-ycck-adobe1-21x14", encode(21, 14, four(), {0: LUMA_Q}, adobe=1)
    ycck = four()
    ycck[0].h = ycck[0].v = ycck[3].h = ycck[3].v = 2
    yield "hand-ycck-adobe2-420-21x14", encode(21, 14, ycck, {0: LUMA_Q}, adobe=2)

    # Coefficients no encoder makes: IDCT results far outside 0...255 (Pillow's SIMD
    # IDCT saturates where libjpeg's C code would wrap).
    gray = [Component(1, 1, 1, 0, pix[:, :, 0])]

    def extreme(ci, blocks):
        blocks = blocks.copy()
        blocks[0, 0, :] = 0
        blocks[0, 0, 0] = 40
        blocks[0, 1, :] = 0
        blocks[0, 1, 0] = -40
        blocks[1, 0, 1] = 30
        blocks[1, 1, 9] = -30
        return blocks
    yield "hand-extreme-coefficients-21x14", encode(21, 14, gray, {0: [255] * 64}, coefficients=extreme)

    # Damaged files, which Pillow decodes (libjpeg warns) or refuses.
    good = pillow_jpeg(rgb(48, 40), quality=85)
    sos = good.index(b"\xff\xda")
    data_start = sos + 2 + int.from_bytes(good[sos + 2:sos + 4], "big")
    for frac in (0.2, 0.5, 0.9):
        cut = data_start + int((len(good) - 2 - data_start) * frac)
        yield f"bad-premature-eoi-{int(frac * 100)}", good[:cut] + b"\xff\xd9"
        yield f"bad-truncated-{int(frac * 100)}", good[:cut]
    yield "bad-no-eoi", good[:-2]
    noise = pillow_jpeg(Image.fromarray(rng.integers(0, 256, (40, 48, 3)).astype(np.uint8)), quality=85)
    yield "bad-no-eoi-noise", noise[:-2]
    yield "bad-no-eoi-garbage", noise[:-2] + b"\x12\x34\x56\x78\x9a"
    # Larger than Pillow's 64 KiB reads: the first crops (by size) that Pillow decodes and
    # refuses without their EOI (with a few bytes of garbage after the data, or none).
    import skimage
    hubble = Image.open(Path(skimage.__file__).parent / "data" / "hubble_deep_field.jpg")
    found = {}
    for w, h in ((w, h) for h in (200, 230, 260, 290) for w in range(300, 1000, 7)):
        plain = pillow_jpeg(hubble.crop((0, 0, w, h)), quality=95, subsampling=0)[:-2]
        if len(plain) <= 65536:
            continue
        for blob in (plain, plain + bytes(range(1, 13))):
            try:
                Image.open(io.BytesIO(blob)).load()
                found.setdefault("decoded", blob)
            except OSError:
                found.setdefault("refused", blob)
        if len(found) == 2:
            break
    yield "bad-no-eoi-big-a", found["decoded"]
    yield "bad-no-eoi-big-b", found["refused"]
    garbled = bytearray(good)
    for i in range(data_start + 40, data_start + 60):
        garbled[i] = (garbled[i] * 37 + 11) % 255
    yield "bad-garbled-data", bytes(garbled)
    zeros = bytearray(good)
    zeros[data_start + 30:data_start + 120] = bytes(90)
    yield "bad-zeroed-data", bytes(zeros)
    ones = bytearray(good)
    ones[data_start + 30:data_start + 50] = b"\xfe" * 20
    yield "bad-all-ones-data", bytes(ones)
    rst = pillow_jpeg(rgb(64, 48), restart_marker_blocks=2)
    markers = [i for i in range(len(rst) - 1) if rst[i] == 0xFF and 0xD0 <= rst[i + 1] <= 0xD7]
    for label, edit in (("swapped", lambda b, m: b.__setitem__(m[3] + 1, 0xD0 + (b[m[3] + 1] + 3) % 8)),
                        ("skipped-ahead", lambda b, m: b.__setitem__(m[3] + 1, 0xD0 + (b[m[3] + 1] + 1) % 8)),
                        ("behind", lambda b, m: b.__setitem__(m[3] + 1, 0xD0 + (b[m[3] + 1] - 1) % 8))):
        b = bytearray(rst)
        edit(b, markers)
        yield f"bad-rst-{label}", bytes(b)
    b = bytearray(rst)
    del b[markers[2]:markers[2] + 2]
    yield "bad-rst-missing", bytes(b)
    yield "bad-trailing-garbage", good + b"garbage after EOI"
    b = bytearray(good)
    yield "bad-garbage-before-eoi", good[:-2] + b"\x12\x34\x56\xff\xd9"
    prog = pillow_jpeg(rgb(48, 40), progressive=True)
    for frac in (0.3, 0.7):
        cut = int(len(prog) * frac)
        yield f"bad-prog-premature-eoi-{int(frac * 100)}", prog[:cut] + b"\xff\xd9"
        yield f"bad-prog-truncated-{int(frac * 100)}", prog[:cut]
    twelve = bytearray(good)
    sof = twelve.index(b"\xff\xc0")
    twelve[sof + 4] = 12
    yield "bad-12-bit", bytes(twelve)
    for marker, label in ((0xC3, "lossless"), (0xC9, "arithmetic"), (0xC5, "hierarchical")):
        b = bytearray(good)
        b[sof + 1] = marker
        yield f"bad-sof-{label}", bytes(b)
    b = bytearray(good)
    b[sof + 5:sof + 7] = b"\0\0"
    yield "bad-height-zero", bytes(b)

    # An MPO (two frames, a camera's stereo pair): Pillow decodes the first frame.
    frames = [Image.fromarray(pattern(40, 30, np.random.default_rng(i)), "RGB") for i in (1, 2)]
    buf = io.BytesIO()
    frames[0].save(buf, "MPO", save_all=True, append_images=frames[1:])
    yield "pil-mpo-2-frames-40x30", buf.getvalue()

    # Photographs that ship inside scikit-image.
    import skimage
    data = Path(skimage.__file__).parent / "data"
    for f in ("rocket.jpg", "retina.jpg"):
        yield f"photo-{f[:-4]}", (data / f).read_bytes()


def _is_dc_refine(jpeg: bytes, index: int) -> bool:
    from jpeg_writer import split_segments
    scans = [piece for m, piece in split_segments(jpeg) if m == 0xDA]
    s = scans[index]
    n = s[4]
    ss, ah = s[5 + 2 * n], s[7 + 2 * n] >> 4
    return ss == 0 and ah > 0


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jpg"):
        old.unlink()
    rng = np.random.default_rng(20261301)
    writer = GGUFWriter(str(OUT / "expected.gguf"), "blip2-jpeg-fixtures")
    names, refused, divergent, seen = [], [], [], set()
    for name, blob in cases(rng):
        assert name not in seen, name
        seen.add(name)
        (OUT / f"{name}.jpg").write_bytes(blob)
        if name in DIVERGENT:
            Image.open(io.BytesIO(blob)).convert("RGB")  # Pillow does decode it
            writer.add_string(f"{name}.divergence", DIVERGENT[name])
            divergent.append(name)
            continue
        try:
            image = Image.open(io.BytesIO(blob))
            mode = image.mode
            rgb = convert_to_rgb(image, return_numpy=True)
        except Exception as e:  # noqa: BLE001 - every refusal is recorded as one
            message = re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")  # no addresses: reproducible
            writer.add_string(f"{name}.error", message)
            refused.append(name)
            print(f"{name}: refused: {type(e).__name__}: {e}"[:110])
            continue
        assert rgb.dtype == np.uint8 and rgb.shape == (image.height, image.width, 3), name
        if mode in ("L", "RGB", "CMYK"):
            assert rgb.tobytes() == np.asarray(image.convert("RGB")).tobytes(), name
        writer.add_string(f"{name}.sha256", hashlib.sha256(rgb.tobytes()).hexdigest())
        writer.add_uint32(f"{name}.image_width", image.width)
        writer.add_uint32(f"{name}.image_height", image.height)
        if image.width * image.height <= RAW_LIMIT:
            writer.add_key_value(f"{name}.rgb", rgb.reshape(-1).tolist(), GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
        names.append(name)
        print(f"{name}: {mode} {image.size}")
    assert any(n in refused for n in NO_EOI) and any(n in names for n in NO_EOI), "no-EOI files of one outcome only"
    # The processor end to end, for a 4:2:0 file.
    key, source, w, h = "full-pil-ss2-67x45", "pil-ss2-67x45", 24, 16
    add_expected(writer, key, Image.open(OUT / f"{source}.jpg"), w, h)
    writer.add_uint32(f"{key}.width", w)
    writer.add_uint32(f"{key}.height", h)
    writer.add_string(f"{key}.file", f"{source}.jpg")
    writer.add_array("names", names)
    writer.add_array("refused", refused)
    writer.add_array("divergent", divergent)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(names)} decodable, {len(refused)} refused and {len(divergent)} divergent files to {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
