#!/usr/bin/env python3
"""Golden image-preprocessing data: what transformers' PIL-based BLIP image processor makes.

Writes Tests/Fixtures/images/: sample PPM/PGM files in every flavour the reader must take
(P6, P5, P3, P2; maxval 255, below 255 and above it; comments; odd whitespace; odd sizes;
1x1; gray; a real photograph from scikit-image's wheel), and expected.gguf holding, for each,
the pixel_values transformers' BlipImageProcessorPil produces after PIL opens the file (stored
exactly but compactly, see add_expected), at a target size stated per case (224x224 for the photograph as blip2-opt-2.7b uses; smaller,
non-square sizes elsewhere to keep the fixture small). One large image (3000x2000) is not
stored: both sides generate it from the formula in `generated_pixels`.

Gray images with maxval > 255: PIL opens them in 32-bit mode "I" and its RGB conversion
clips each sample to 255 (a white image). We scale them as PIL scales RGB samples instead
(round_half_even(v / maxval * 255)); for that case the reference is the processor run on the
8-bit image that rule gives, and the file records it (`<name>.rule = "scaled"`).
  .venv-ref/bin/python Tools/make_image_fixtures.py
"""
import io
from pathlib import Path

import numpy as np
from gguf import GGUFValueType, GGUFWriter
from PIL import Image
from skimage import data as skdata
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "images"
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def generated_pixels(width: int, height: int) -> np.ndarray:
    """A deterministic RGB test pattern: edges, gradients and texture, from integer math only."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    r = (x * 7 + y * 3 + (x * y) // 97) % 256
    g = (x * 2 + y * 11 + ((x // 50 + y // 40) % 2) * 120) % 256
    b = ((x - y) * 5 % 256 + 256) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def ppm(magic: str, width: int, height: int, maxval: int, samples: np.ndarray, header_extra: str = "") -> tuple[bytes, np.ndarray, int]:
    head = f"{magic}\n{header_extra}{width} {height}\n{maxval}\n".encode()
    flat = samples.reshape(-1).astype(np.int64)
    if magic in ("P5", "P6"):
        raw = flat.astype(">u2").tobytes() if maxval > 255 else flat.astype(np.uint8).tobytes()
        return head + raw, samples, maxval
    lines, line = [], []
    for i, v in enumerate(flat):
        line.append(str(int(v)))
        if len(line) == 7 or i == len(flat) - 1:
            lines.append(("  " if i % 3 else "\t").join(line))
            line = []
    text = "\n# a comment inside the raster\n".join(lines[:2]) + "\n" + "\n".join(lines[2:]) + "\n"
    return head + text.encode(), samples, maxval


def processor(width: int, height: int) -> BlipImageProcessorPil:
    return BlipImageProcessorPil(size={"height": height, "width": width}, resample=3, image_mean=list(MEAN),
                                 image_std=list(STD), do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                                 do_convert_rgb=True)


def pixel_values(image: Image.Image, width: int, height: int) -> np.ndarray:
    out = processor(width, height)(images=image, return_tensors="np")["pixel_values"][0]
    assert out.dtype == np.float32 and out.shape == (3, height, width)
    return out


def add_expected(writer: GGUFWriter, name: str, image: Image.Image, width: int, height: int) -> None:
    """Stores the processor's output compactly and exactly: the 8-bit image Pillow's resize
    makes (uint8, height x width x 3) and, per channel, the float each 8-bit value becomes
    (rescale then normalize). Checked here: table[rgb8] equals the processor's output bit for
    bit, so a test comparing with it compares with transformers."""
    values = pixel_values(image, width, height)
    rgb = image.convert("RGB")
    rgb8 = np.asarray(rgb if rgb.size == (width, height) else rgb.resize((width, height), Image.BICUBIC), dtype=np.uint8)
    # Every 8-bit value through the processor at its own size (no resize): the table.
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    table = processor(256, 1)(images=Image.fromarray(ramp), return_tensors="np")["pixel_values"][0][:, 0, :]
    rebuilt = np.stack([table[c][rgb8[:, :, c]] for c in range(3)])
    assert rebuilt.tobytes() == values.tobytes(), f"{name}: the compact form is not exact"
    writer.add_key_value(f"{name}.rgb8", rgb8.reshape(-1).tolist(), GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT8)
    writer.add_tensor(f"{name}.table", table.astype(np.float32))


def cases(rng: np.random.Generator):
    photo = skdata.chelsea()                          # 451x300 RGB photograph of a cat
    crop = photo[40:227, 60:381]                      # 321x187
    gray = skdata.camera()[100:200, 150:300]          # 150x100 gray photograph
    yield "photo-321x187", "ppm", ppm("P6", 321, 187, 255, crop), 224, 224
    yield "pattern-17x400", "ppm", ppm("P6", 17, 400, 255, generated_pixels(17, 400)), 40, 24
    yield "pixel-1x1", "ppm", ppm("P6", 1, 1, 255, np.array([[[200, 10, 99]]])), 8, 8
    yield "gray-150x100", "pgm", ppm("P5", 150, 100, 255, gray), 48, 32
    yield "plain-rgb-7x5", "ppm", ppm("P3", 7, 5, 255, rng.integers(0, 256, (5, 7, 3)), "# made by make_image_fixtures\n"), 16, 16
    yield "plain-gray-9x6-maxval1000", "pgm", ppm("P2", 9, 6, 1000, rng.integers(0, 1001, (6, 9))), 12, 12
    yield "rgb16-40x30", "ppm", ppm("P6", 40, 30, 65535, rng.integers(0, 65536, (30, 40, 3))), 32, 24
    yield "rgb-maxval100-20x10", "ppm", ppm("P6", 20, 10, 100, rng.integers(0, 101, (10, 20, 3))), 24, 24
    # Pillow 13 resizes vertically first when the height loses more than twice the pixels the
    # width loses: 100x100 -> 52x4 is the last size done horizontally first, 53x4 the first not.
    yield "order-tie-100x100", "ppm", ppm("P6", 100, 100, 255, generated_pixels(100, 100)), 52, 4
    yield "order-vertical-100x100", "ppm", ppm("P6", 100, 100, 255, generated_pixels(100, 100)[::-1]), 53, 4
    yield "gray16-30x20-maxval4095", "pgm", ppm("P5", 30, 20, 4095, rng.integers(0, 4096, (20, 30))), 16, 16


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261129)
    writer = GGUFWriter(str(OUT / "expected.gguf"), "blip2-image-fixtures")
    names = []
    for name, ext, (blob, samples, maxval), width, height in cases(rng):
        (OUT / f"{name}.{ext}").write_bytes(blob)
        image = Image.open(io.BytesIO(blob))
        rule = "pil"
        if image.mode == "I":
            # np.round is round-half-even, as Python's round() PIL uses for RGB samples.
            scaled = np.round(samples.astype(np.float64) / maxval * 255).astype(np.uint8)
            image = Image.fromarray(scaled, mode="L")
            rule = "scaled"
        add_expected(writer, name, image, width, height)
        writer.add_uint32(f"{name}.width", width)
        writer.add_uint32(f"{name}.height", height)
        writer.add_string(f"{name}.file", f"{name}.{ext}")
        writer.add_string(f"{name}.rule", rule)
        names.append(name)
        print(f"{name}: {image.size} -> {width}x{height} ({rule})")
    big = Image.fromarray(generated_pixels(3000, 2000), mode="RGB")
    add_expected(writer, "generated-3000x2000", big, 224, 224)
    writer.add_uint32("generated-3000x2000.width", 224)
    writer.add_uint32("generated-3000x2000.height", 224)
    names.append("generated-3000x2000")
    writer.add_array("names", names)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
