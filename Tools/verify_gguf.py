#!/usr/bin/env python3
"""Check a blip2-quantize output against the `gguf` Python package, our reference for bytes.

For every tensor in MODEL.gguf: GGUFReader must read it, its shape must match the
checkpoint's, and its bytes must equal what gguf.quants.quantize makes from the checkpoint's
weights (F32/F16/Q8_0/Q4_0). The dequantized values must equal gguf.quants.dequantize of
those bytes (trivially, once the bytes match; it proves the reader's view, too).
A file made with --interleave (metadata blip2.i8_tensors_are_q4_0x8) holds the language model's
Q4_0 Linear weights as I8 bytes, 8 rows interleaved (CKernels/include/ck_blocks.h); those are put
back in row order here and must then be gguf's Q4_0 bytes exactly.
Run with the light reference venv: Tools/ref_env.sh --light.

usage: verify_gguf.py MODEL.gguf CHECKPOINT_DIR [--every K]
  --every K checks every K-th tensor only (the full-size model has 1,247; numpy's
  quantizer takes minutes per GB).
"""
import argparse
import json
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import quantize, dequantize

PREFIXES = [("vision_model.", "v."), ("qformer.", "qf."),
            ("language_model.model.decoder.", "t."), ("language_projection.", "proj."), ("embeddings.", "qemb.")]


# FlanT5 files (blip2.text.architecture "t5"): the language model's prefix is shorter, and block 0's
# relative_attention_bias, whose name is over GGUF's 63 bytes, is stored per stack as relative_bias.
T5_PREFIXES = [("language_model.", "t.")]
T5_RELATIVE_BIAS = ("block.0.layer.0.SelfAttention.relative_attention_bias.", "relative_bias.")


def hf_name(gguf_name, family="opt"):
    if family == "t5":
        for stack in ("encoder.", "decoder."):
            short = "t." + stack + T5_RELATIVE_BIAS[1]
            if gguf_name.startswith(short):
                return "language_model." + stack + T5_RELATIVE_BIAS[0] + gguf_name[len(short):]
    for hf, short in (T5_PREFIXES if family == "t5" else []) + PREFIXES:
        if gguf_name.startswith(short):
            return hf + gguf_name[len(short):]
    return gguf_name


class Checkpoint:
    """Tensors of a safetensors checkpoint, read lazily through a memory map (numpy cannot
    hold bfloat16, so those are widened by bit shifts)."""

    def __init__(self, directory):
        index = os.path.join(directory, "model.safetensors.index.json")
        files = (sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index)
                 else ["model.safetensors"])
        self.entries = {}
        for f in files:
            path = os.path.join(directory, f)
            with open(path, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(n))
            data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
            for name, e in header.items():
                if name != "__metadata__":
                    self.entries[name] = (data, e)

    def get(self, name):
        if name not in self.entries:
            return None
        data, e = self.entries[name]
        b, end = e["data_offsets"]
        raw = np.frombuffer(data[b:end], dtype={"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[e["dtype"]])
        if e["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(np.float32).reshape(e["shape"])


def deinterleave_q4_0x8(raw):
    """I8 [m / 8, nb * 144] (ck_block_q4_0x8) -> Q4_0 bytes [m, nb * 18] in row order."""
    groups, width = raw.shape
    nb = width // 144
    blocks = raw.view(np.uint8).reshape(groups, nb, 144)
    d = blocks[:, :, :16].reshape(groups, nb, 8, 2).transpose(0, 2, 1, 3)
    qs = blocks[:, :, 16:].reshape(groups, nb, 4, 8, 4).transpose(0, 3, 1, 2, 4).reshape(groups, 8, nb, 16)
    return np.concatenate([d, qs], axis=3).reshape(groups * 8, nb * 18)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("checkpoint")
    ap.add_argument("--every", type=int, default=1)
    args = ap.parse_args()
    reader = GGUFReader(args.model)
    weights = Checkpoint(args.checkpoint)
    field = reader.get_field("blip2.text.architecture")
    family = field.contents() if field is not None else "opt"
    field = reader.get_field("blip2.i8_tensors_are_q4_0x8")
    interleaved = field is not None and bool(field.contents())
    failures = 0
    checked = 0
    for i, t in enumerate(reader.tensors):
        if i % args.every:
            continue
        name = hf_name(t.name, family)
        src = weights.get(name)
        if src is None:
            print(f"FAIL {t.name}: no tensor {name} in the checkpoint")
            failures += 1
            continue
        qtype = GGMLQuantizationType(t.tensor_type)
        got = np.asarray(t.data)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        if interleaved and qtype == GGMLQuantizationType.I8:
            qtype = GGMLQuantizationType.Q4_0
            got = deinterleave_q4_0x8(got)
            shape = (shape[0] * 8, shape[1] // 144 * 32)
        expected = quantize(src, qtype)
        ok = got.tobytes() == np.ascontiguousarray(expected).tobytes()
        shape_ok = shape == src.shape
        deq_ok = np.array_equal(dequantize(got, qtype).reshape(src.shape), dequantize(expected, qtype).reshape(src.shape))
        if not (ok and shape_ok and deq_ok):
            print(f"FAIL {t.name} ({qtype.name}): bytes {'ok' if ok else 'DIFFER'}, "
                  f"shape {'ok' if shape_ok else 'DIFFERS'}, dequantized {'ok' if deq_ok else 'DIFFERS'}")
            failures += 1
        checked += 1
    arch = reader.fields["general.architecture"]
    if bytes(arch.parts[arch.data[0]]).decode() != "blip2":
        print("FAIL general.architecture is not blip2")
        failures += 1
    print(f"verify_gguf: {checked} tensors checked against gguf {failures and 'with failures' or 'OK'}")
    print(f"{checked - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
