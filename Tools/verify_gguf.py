#!/usr/bin/env python3
"""Check a blip2-quantize output against the `gguf` Python package, our reference for bytes.

For every tensor in MODEL.gguf: GGUFReader must read it, its shape must match the
checkpoint's, and its bytes must equal what gguf.quants.quantize makes from the checkpoint's
weights (F32/F16/Q8_0/Q4_0). The dequantized values must equal gguf.quants.dequantize of
those bytes (trivially, once the bytes match; it proves the reader's view, too).
Run with the light reference venv: Tools/ref_env.sh --light.

usage: verify_gguf.py MODEL.gguf CHECKPOINT_DIR
"""
import argparse
import json
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import quantize, dequantize
from safetensors.numpy import load_file

PREFIXES = [("vision_model.", "v."), ("qformer.", "qf."),
            ("language_model.model.decoder.", "t."), ("language_projection.", "proj.")]


def hf_name(gguf_name):
    for hf, short in PREFIXES:
        if gguf_name.startswith(short):
            return hf + gguf_name[len(short):]
    return gguf_name


def load_checkpoint(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index)
             else ["model.safetensors"])
    tensors = {}
    for f in files:
        # safetensors.numpy cannot hold bfloat16: read those through torch-free bit tricks.
        tensors.update(load_any(os.path.join(directory, f)))
    return tensors


def load_any(path):
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = np.frombuffer(data[b:end], dtype={"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[e["dtype"]])
        if e["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.astype(np.float32).reshape(e["shape"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("checkpoint")
    args = ap.parse_args()
    reader = GGUFReader(args.model)
    weights = load_checkpoint(args.checkpoint)
    failures = 0
    checked = 0
    for t in reader.tensors:
        name = hf_name(t.name)
        src = weights.get(name)
        if src is None:
            print(f"FAIL {t.name}: no tensor {name} in the checkpoint")
            failures += 1
            continue
        qtype = GGMLQuantizationType(t.tensor_type)
        expected = quantize(src, qtype)
        got = np.asarray(t.data)
        ok = got.tobytes() == np.ascontiguousarray(expected).tobytes()
        shape_ok = tuple(int(d) for d in reversed(t.shape.tolist())) == src.shape
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
