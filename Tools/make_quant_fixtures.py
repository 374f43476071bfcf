"""Writes Tests/Fixtures/quant/gguf-quants.gguf: reference quantizations made by the `gguf` package.

Why: our Q8_0/Q4_0 quantizer must be bit-identical to `gguf.quants.quantize`, our dequantizer must
equal `gguf.quants.dequantize`, and our float -> half conversion must round as numpy's astype does.
For every named case `<case>` the file holds (written with gguf.GGUFWriter, read back and checked
with gguf.GGUFReader before the script finishes):

  <case>.f32        the input (F32)
  <case>.q8_0       gguf.quants.quantize(input, Q8_0), stored as a Q8_0 tensor (raw block bytes)
  <case>.q4_0       gguf.quants.quantize(input, Q4_0), stored as a Q4_0 tensor
  <case>.f16        gguf.quants.quantize(input, F16) (numpy astype float16)
  <case>.q8_0.deq   gguf.quants.dequantize of the Q8_0 bytes (F32)
  <case>.q4_0.deq   gguf.quants.dequantize of the Q4_0 bytes (F32)

plus halfconv.f32 / halfconv.f16: float32 bit patterns (specials, boundaries, exact halfway cases,
random) and numpy's float16 conversion of them. Every NaN in halfconv.f32 is quiet, because numpy
may convert with the CPU's instruction (which quiets signalling NaNs) or in software (which does
not), so only quiet NaNs give the same bits everywhere.

Shapes: a numpy array of shape (r, c) is stored with GGUF dims [c, r] (innermost first);
GGUFReader gives `tensor.shape` in that stored order and `tensor.data` in numpy order (for Q8_0 and
Q4_0, uint8 of shape (r, c / 32 * block_bytes)). The metadata key `fixture.cases` lists the cases.

Run with the reference environment (Tools/ref_env.sh):  python Tools/make_quant_fixtures.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "quant" / "gguf-quants.gguf"


def exact_ties_q8_0(rng: np.random.Generator) -> np.ndarray:
    """Blocks whose scale d is a power of two and whose other values are (k + 0.5) d: x/d is a tie."""
    blocks = []
    for d, sign in ((1.0, 1), (0.25, -1), (8.0, 1), (2.0 ** -6, -1)):
        block = (rng.integers(-127, 127, 32) + 0.5) * d
        block[rng.integers(32)] = sign * 127 * d
        blocks.append(block)
    return np.concatenate(blocks)


def exact_ties_q4_0(rng: np.random.Generator) -> np.ndarray:
    """Blocks with d = max / -8 a power of two, so x/d + 8.5 lands exactly on integers."""
    blocks = []
    for m in (-8.0, 8.0, -4.0, 0.5):
        block = (rng.integers(-8, 8, 32) + 0.5) * (m / -8)
        block[3] = m
        blocks.append(block)
    blocks[0][20] = 8.0  # -max after max: x/d + 8.5 = 16.5, clipped to 15
    return np.concatenate(blocks)


def abs_ties(rng: np.random.Generator) -> np.ndarray:
    """+m and -m in the same block: the first occurrence decides Q4_0's sign (argmax)."""
    blocks = rng.standard_normal((4, 32))
    blocks[0, 2], blocks[0, 9] = 3.0, -3.0
    blocks[1, 1], blocks[1, 30] = -3.0, 3.0
    blocks[2] = np.where(np.arange(32) % 2 == 0, 1.5, -1.5)
    blocks[3, 31] = -5.0
    return blocks.ravel()


def q4_0_rounding_traps(rng: np.random.Generator, count: int = 64) -> np.ndarray:
    """Blocks where x * id + 8.5 lands so close to an integer that the order and precision
    of the arithmetic decide the nibble: gguf 0.19 multiplies and adds in float32 (as ggml's
    C does); a fused multiply-add, or float64 as newer gguf releases use, gives another
    nibble for these. Found by search among random normal blocks."""
    found = []
    while len(found) < count:
        blocks = rng.standard_normal((4096, 32)).astype(np.float32)
        imax = np.abs(blocks).argmax(axis=-1)
        d = blocks[np.arange(len(blocks)), imax] / np.float32(-8)
        ident = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)[:, None]
        separate = np.trunc(blocks * ident + np.float32(8.5))
        fused = np.trunc((blocks.astype(np.float64) * ident.astype(np.float64) + 8.5).astype(np.float32))
        found.extend(blocks[(separate != fused).any(axis=1)])
    return np.concatenate(found[:count])


def cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    normal = rng.standard_normal
    huge = normal(64)
    huge[5], huge[40] = 1e4, -1e4
    zero_block = normal(96)
    zero_block[32:64] = 0
    one_hot = np.zeros(64)
    one_hot[7], one_hot[50] = -0.3, 2.0
    return {name: np.asarray(x, dtype=np.float32) for name, x in {
        "randn_32": normal(32),
        "randn_64": normal(64),
        "randn_4096": normal(4096),
        "randn_7x96": normal((7, 96)),
        "zeros_64": np.zeros(64),
        "zero_block_96": zero_block,
        "const_64": np.where(np.arange(64) < 32, 0.7, -0.7),
        "one_hot_64": one_hot,
        "huge_1e4": huge,
        "tiny_1e-4": normal(64) * 1e-4,
        "tiny_1e-6": normal(64) * 1e-6,
        "tiny_1e-8": normal(64) * 1e-8,
        "big_1e6": normal(64) * 1e6,
        "big_1e7": normal(64) * 1e7,
        "wide_range": normal(256) * 10.0 ** rng.uniform(-8, 6, 256),
        "ties_q8_0": exact_ties_q8_0(rng),
        "ties_q4_0": exact_ties_q4_0(rng),
        "abs_ties": abs_ties(rng),
        "q4_0_rounding_traps": q4_0_rounding_traps(rng),
    }.items()}


def halfconv_input(rng: np.random.Generator) -> np.ndarray:
    """float32 values that probe float -> half rounding: specials, limits, halfway cases, random bits."""
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 65504, -65504, 65519, 65519.996, 65520,
                         -65520, 65536, 1e10, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 2.0 ** -26,
                         -(2.0 ** -25), 3 * 2.0 ** -25, 2.0 ** -24 * 1.5, 2.0 ** -24 * 2.5, 6.1e-5, 1.0, -1.0,
                         1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -11 + 2.0 ** -23, 0.1, 1 / 3,
                         2048 + 1, 2048 + 3, 4096 + 2, 1e-45, np.float32(1.17549435e-38)], dtype=np.float32)
    # In the half range: random exponent, mantissa low 13 bits = 0x1000 (exactly halfway) or random.
    exponent = rng.integers(127 - 26, 127 + 16, 4096, dtype=np.uint32)
    mantissa = rng.integers(0, 1 << 23, 4096, dtype=np.uint32)
    mantissa[::2] = (mantissa[::2] & ~np.uint32(0x1FFF)) | np.uint32(0x1000)
    sign = rng.integers(0, 2, 4096, dtype=np.uint32) << np.uint32(31)
    in_range = (sign | (exponent << np.uint32(23)) | mantissa).view(np.float32)
    # Any bit pattern; NaNs made quiet (see the module docstring).
    bits = rng.integers(0, 1 << 32, 4096, dtype=np.uint64).astype(np.uint32)
    is_nan = (bits & np.uint32(0x7F800000)) == np.uint32(0x7F800000)
    is_nan &= (bits & np.uint32(0x007FFFFF)) != 0
    bits[is_nan] |= np.uint32(0x00400000)
    return np.concatenate([specials, in_range, bits.view(np.float32)])


def write(path: Path, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    all_cases = cases(rng)
    writer = gguf.GGUFWriter(str(path), arch="blip2-quant-fixtures")
    writer.add_string("fixture.generator", "Tools/make_quant_fixtures.py")
    writer.add_string("fixture.gguf_version", _version("gguf"))
    writer.add_string("fixture.numpy_version", np.__version__)
    writer.add_uint32("fixture.seed", seed)
    writer.add_array("fixture.cases", list(all_cases))
    expected = {}
    for name, x in all_cases.items():
        with np.errstate(over="ignore"):  # big_* cases: the fp16 scale overflows to inf, by design
            q8 = gguf.quants.quantize(x, Q.Q8_0)
            q4 = gguf.quants.quantize(x, Q.Q4_0)
            f16 = gguf.quants.quantize(x, Q.F16)
        expected[f"{name}.f32"] = (x, Q.F32)
        expected[f"{name}.q8_0"] = (q8, Q.Q8_0)
        expected[f"{name}.q4_0"] = (q4, Q.Q4_0)
        expected[f"{name}.f16"] = (f16, Q.F16)
        with np.errstate(invalid="ignore"):  # inf scale times a zero quant is NaN, by design
            expected[f"{name}.q8_0.deq"] = (gguf.quants.dequantize(q8, Q.Q8_0), Q.F32)
            expected[f"{name}.q4_0.deq"] = (gguf.quants.dequantize(q4, Q.Q4_0), Q.F32)
    halves = halfconv_input(rng)
    with np.errstate(over="ignore"):
        expected["halfconv.f32"] = (halves, Q.F32)
        expected["halfconv.f16"] = (halves.astype(np.float16), Q.F16)
    for name, (data, qtype) in expected.items():
        raw = qtype if qtype in (Q.Q8_0, Q.Q4_0) else None
        writer.add_tensor(name, data, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    verify(path, expected, all_cases)
    return list(all_cases)


def verify(path: Path, expected: dict[str, tuple[np.ndarray, Q]], all_cases: dict[str, np.ndarray]) -> None:
    """Read the file back: same names, types, shapes (numpy order) and bytes; deq = gguf's dequantize."""
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: t for t in reader.tensors}
    if list(tensors) != list(expected):
        raise AssertionError("tensor list differs")
    for name, (data, qtype) in expected.items():
        t = tensors[name]
        if t.tensor_type != qtype or not np.array_equal(np.asarray(t.data).view(np.uint8), data.view(np.uint8)):
            raise AssertionError(f"{name}: stored {t.tensor_type.name} data differs")
        case = name.split(".")[0]
        logical = all_cases[case].shape if case in all_cases else data.shape
        if tuple(int(d) for d in reversed(t.shape)) != logical:
            raise AssertionError(f"{name}: dims {list(t.shape)} for numpy shape {logical}")
        if qtype in (Q.Q8_0, Q.Q4_0):
            with np.errstate(invalid="ignore"):
                deq = gguf.quants.dequantize(np.asarray(t.data), qtype)
            if not np.array_equal(deq, expected[name + ".deq"][0], equal_nan=True):
                raise AssertionError(f"{name}: dequantize after reading differs")


def _version(package: str) -> str:
    from importlib.metadata import version
    return version(package)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="output file (default Tests/Fixtures/quant/gguf-quants.gguf)")
    parser.add_argument("--seed", type=int, default=20240229)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    names = write(args.out, args.seed)
    print(f"{args.out}: {len(names)} cases, {args.out.stat().st_size / 1024:.0f} KiB, read back and verified")


if __name__ == "__main__":
    main()
